"""Fitting the sharpness of the smooth DSL to a reference loss (Algorithm 2 of the paper)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._validation import as_real_array, check_choice, check_finite, check_positive
from ..errors import InvalidInputError, InvalidOptionError
from ._prepare import _CALLABLE, _call_sign, _denominator, _resolve_axes, _resolve_sign

__all__ = ["SharpnessFit", "find_sharpness"]


@dataclass(frozen=True)
class SharpnessFit:
    """Result of :func:`find_sharpness`.

    Attributes
    ----------
    sharpness : float
        The fitted sharpness ``s`` (from the last step).
    gap : float
        ``dsl - reference`` on the batch of the last step (signed; the objective is its square).
    steps : int
        Number of optimisation steps taken.
    converged : bool
        True when the stopping criterion was met (``|gap| <= rtol * reference`` or
        ``gap ** 2 < tol``) before ``max_steps``.
    history : ndarray, shape (steps, 4)
        One row per step, the columns :attr:`HISTORY_COLUMNS`: the sharpness used,
        the DSL, the reference loss and the objective ``(dsl - reference) ** 2``.
    reference : str
        Name of the reference loss ("mse", "mae", or the callable's name).
    """

    sharpness: float
    gap: float
    steps: int
    converged: bool
    history: np.ndarray = field(repr=False, compare=False)
    reference: str = "mse"

    HISTORY_COLUMNS = ("sharpness", "dsl", "reference", "objective")


def _reference_loss(reference: Any) -> tuple[Callable[[np.ndarray, np.ndarray], float], str]:
    if callable(reference):
        def ref(a, b):
            try:
                v = float(reference(a, b))
            except Exception as exc:  # noqa: BLE001 - user code: re-raise with context
                raise InvalidOptionError(
                    f"the reference callable failed ({type(exc).__name__}: {exc}); it must take two "
                    "arrays of shape (batch, *sample_shape) and return a number"
                ) from exc
            if not math.isfinite(v):
                raise InvalidOptionError("the reference callable returned NaN or inf; it must be finite")
            return v

        return ref, getattr(reference, "__name__", "callable")
    check_choice(reference, "reference", ("mse", "mae"))
    if reference == "mse":
        return (lambda a, b: float(np.mean(np.square(a - b)))), "mse"
    return (lambda a, b: float(np.mean(np.abs(a - b)))), "mae"


def find_sharpness(
    samples: Any,
    *,
    reference: Any = "mse",
    sign: Any = "tanh",
    weights: Any = None,
    normalize: bool = True,
    initial: float = 1.0,
    batch_size: int = 16,
    learning_rate: float = 0.1,
    max_steps: int = 500,
    rtol: float | None = 1e-2,
    tol: float | None = None,
    seed: Any = None,
) -> SharpnessFit:
    """Fit the sharpness so that DSL between random samples matches a reference loss (Algorithm 2).

    Every step draws ``2 * m`` distinct samples (``m = min(batch_size, N // 2)``) along the
    first axis, splits them into two halves ``B1``, ``B2``, evaluates the reference loss
    ``L_ref(B1, B2)`` and ``dsl(B1, B2, sharpness=s, batch_axis=0)`` (mean over the pairs),
    and takes one Adam step on ``log s`` for the objective ``(dsl - L_ref) ** 2`` with the
    analytic derivative with respect to ``s``.  It stops when the gap is small on the
    current batch -- relative to the reference (``rtol``) or, as the paper's threshold
    epsilon, absolute on the objective (``tol``) -- or after ``max_steps`` steps.

    Parameters
    ----------
    samples : array_like, shape (N, *sample_shape)
        At least 2 samples along the first axis, each with at least one axis of length >= 2.
    reference : {"mse", "mae"} or callable, default "mse"
        The reference loss, mean over all values of the pairs, or ``f(B1, B2) -> float``
        taking two float64 arrays of shape (m, *sample_shape).
    sign : {"tanh", "softsign"} or (callable, callable), default "tanh"
        As in :func:`dsl_gradient` (a user function needs its derivative).
    weights, normalize
        As in :func:`dsl` (per sample axis).  With ``normalize=True`` the DSL lies in
        [0, 1): a reference loss outside that range cannot be matched (``converged`` stays
        False and ``s`` drifts to the end of its range); scale the data first.
    initial : float, default 1.0
        Starting sharpness.
    batch_size : int, default 16
        Number of pairs per step (at most N // 2).
    learning_rate : float, default 0.1
        Adam step size on ``log s``.
    max_steps : int, default 500
        Maximum number of steps.
    rtol : float or None, default 1e-2
        Stop when ``|dsl - L_ref| <= rtol * L_ref`` on a batch (scale-free; the default).
    tol : float or None, default None
        Stop when ``(dsl - L_ref) ** 2 < tol`` (the paper's absolute threshold epsilon).
    seed : int or numpy.random.Generator, optional
        Seed of the random pairs; the same seed gives the same fit.

    Returns
    -------
    SharpnessFit

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> rng = np.random.default_rng(1)
    >>> walks = np.cumsum(rng.normal(scale=0.05, size=(64, 100)), axis=1)
    >>> fit = te.find_sharpness(walks, seed=0)
    >>> fit.converged, 1.0 < fit.sharpness < 100.0
    (True, True)
    >>> fit.history.shape == (fit.steps, 4)
    True
    """
    arr = as_real_array(samples, "samples", min_ndim=2)
    check_finite(arr, "samples")
    n = arr.shape[0]
    if n < 2:
        raise InvalidInputError(
            f"samples has {n} sample(s) along its first axis; pass at least 2 so random pairs can be drawn"
        )
    ref_fn, ref_name = _reference_loss(reference)
    kind, f, fprime = _resolve_sign(sign, derivative=True)
    s0 = check_positive(initial, "initial")
    lr = check_positive(learning_rate, "learning_rate")
    rtol = None if rtol is None else check_positive(rtol, "rtol", strict=False)
    tol = None if tol is None else check_positive(tol, "tol", strict=False)
    if rtol is None and tol is None:
        raise InvalidOptionError("rtol and tol are both None; give at least one stopping threshold")
    for name, v in (("batch_size", batch_size), ("max_steps", max_steps)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InvalidOptionError(f"{name}={v!r} is not valid; pass a positive integer")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    m = int(min(batch_size, n // 2))
    batch, axes, w = _resolve_axes(arr.ndim, 0, weights)
    denom = _denominator(arr.shape[:0] + (2 * m,) + arr.shape[1:], batch, axes, w, bool(normalize))
    data = arr.astype(np.float64, copy=False)

    theta = math.log(s0)
    m1 = v1 = 0.0
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    rows = []
    converged = False
    gap = math.nan
    for t in range(1, int(max_steps) + 1):
        idx = rng.choice(n, size=2 * m, replace=False)
        b1 = np.ascontiguousarray(data[idx[:m]])
        b2 = np.ascontiguousarray(data[idx[m:]])
        s = math.exp(theta)
        ref = ref_fn(b1, b2)
        val, dval_ds = _dsl_and_ds(b1, b2, kind, f, fprime, s, axes, w, denom)
        gap = val - ref
        obj = gap * gap
        rows.append((s, val, ref, obj))
        if (tol is not None and obj < tol) or (rtol is not None and abs(gap) <= rtol * abs(ref)):
            converged = True
            break
        g = 2.0 * gap * dval_ds * s  # d obj / d log s
        m1 = beta1 * m1 + (1 - beta1) * g
        v1 = beta2 * v1 + (1 - beta2) * g * g
        mh = m1 / (1 - beta1**t)
        vh = v1 / (1 - beta2**t)
        theta -= lr * mh / (math.sqrt(vh) + eps)
        theta = min(max(theta, -700.0), 700.0)  # keep exp(theta) finite
    history = np.array(rows, dtype=np.float64).reshape(-1, 4)
    history.setflags(write=False)
    return SharpnessFit(
        sharpness=float(history[-1, 0]), gap=float(gap), steps=len(rows), converged=converged,
        history=history, reference=ref_name,
    )


def _dsl_and_ds(b1, b2, kind, f, fprime, s, axes, w, denom):
    """Mean over the samples (axis 0) of the DSL and its derivative with respect to s."""
    m = b1.shape[0]
    if kind == _CALLABLE:
        val = ds = 0.0
        for j, a in enumerate(axes):
            if w[j] == 0.0 or b1.shape[a] < 2:
                continue
            dx = np.diff(b1, axis=a)
            dy = np.diff(b2, axis=a)
            fa = _call_sign(f, s * dx)
            fb = _call_sign(f, s * dy)
            sg = np.sign(fa - fb)
            val += w[j] * np.abs(fa - fb).sum()
            ds += w[j] * (sg * (_call_sign(fprime, s * dx) * dx - _call_sign(fprime, s * dy) * dy)).sum()
        return 0.5 * val / denom / m, 0.5 * ds / denom / m
    from .._kernels._dsl import smooth_sums_ds

    d = b1.ndim
    active = np.zeros(d, dtype=np.int8)
    for j, a in enumerate(axes):
        if w[j] != 0.0:
            active[a] = 1
    out = np.zeros(d)
    out_ds = np.zeros(d)
    shape = np.array(b1.shape, dtype=np.int64)
    smooth_sums_ds(b1.reshape(-1), b2.reshape(-1), shape, active, kind, s, out, out_ds)
    wfull = np.zeros(d)
    for j, a in enumerate(axes):
        wfull[a] = w[j]
    val = 0.5 * float(np.dot(wfull, out)) / denom / m
    ds = 0.5 * float(np.dot(wfull, out_ds)) / denom / m
    return val, ds

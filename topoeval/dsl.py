"""Directional sign loss (DSL) of Dam, Agarwal & Gopalakrishnan (arXiv 2504.04202).

The DSL compares the *directions* of two arrays rather than their values: for
every axis ``i`` it takes the finite differences ``D_X = diff(x, axis=i)`` and
``D_Y = diff(y, axis=i)`` and counts how often their signs disagree,

.. math::

    \\mathrm{DSL}(x, y) = \\sum_i w_i \\sum \\frac{|\\sigma(s D_X) - \\sigma(s D_Y)|}{2},

with ``sigma = sign`` for the exact (non-differentiable) loss -- opposite
directions count 1, a flat step against a rising or falling one 1/2 -- and a
smooth sign-like ``sigma`` (``tanh``, softsign ``z / (1 + |z|)``) of sharpness
``s`` for the differentiable loss of the paper's Algorithm 1.

Argument order
--------------
Every function takes ``(x, y)`` with **x the reconstruction / prediction** (the
``input`` of a PyTorch loss) and **y the original / target**.  The value is
symmetric in ``x`` and ``y``; :func:`dsl_gradient` differentiates with respect
to ``x``.

Conventions (docs/architecture.md, "DSL")
-----------------------------------------
- ``weights``: one non-negative weight per non-batch axis (length ``x.ndim``,
  or ``x.ndim - 1`` with a ``batch_axis``), default 1; a weight of 0 switches an
  axis off (e.g. the component axis of a vector field).
- ``normalize=True`` divides by the weighted number of comparisons
  ``sum_i w_i * (number of differences along axis i per sample)``, so the value
  lies in [0, 1] next to an MSE; ``normalize=False`` keeps count units (the
  exact loss is then the number of sign mismatches).
- ``batch_axis``: the axis holding independent samples; no differences are
  taken along it, every sample gets its own value and ``reduction`` ("mean",
  "sum" or "none") combines them as in PyTorch losses.  Without a batch axis
  the whole array is one sample and a Python float is returned.
- Values are accumulated and returned in float64 whatever the input dtype; the
  exact loss is counted in integers (no rounding at all).  Gradients and
  mismatch maps are float32 for float16/float32 inputs, float64 otherwise.

Implementation: one fused Numba pass over the array (topoeval/_kernels/_dsl.py)
reads each input about once for all axes together, without temporaries of the
input's size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ._validation import (
    as_real_array,
    check_choice,
    check_finite,
    check_positive,
    check_same_shape,
    normalize_axis,
)
from .errors import InvalidInputError, InvalidOptionError

__all__ = [
    "dsl",
    "exact_dsl",
    "dsl_gradient",
    "dsl_per_axis",
    "mismatch_map",
    "find_sharpness",
    "SharpnessFit",
]

#: Default sharpness of :func:`dsl`.  See the ``sharpness`` parameter of :func:`dsl`.
DEFAULT_SHARPNESS = 16.0

_SIGN_NAMES = ("tanh", "softsign", "sign")
_REDUCTIONS = ("mean", "sum", "none")
_KIND = {"sign": 0, "tanh": 1, "softsign": 2}
_CALLABLE = -1


# ----------------------------------------------------------------------------- preparation


_FINITE_HINT = " (e.g. np.nan_to_num) or compare only the finite part; the DSL needs finite values"


def _prepare_pair(x: Any, y: Any, *, finite: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Real arrays of the same shape; finite too unless ``finite=False`` (the caller checks)."""
    x = as_real_array(x, "x")
    y = as_real_array(y, "y")
    check_same_shape(x, y, ("x", "y"))
    if finite:
        _check_finite_pair(x, y)
    return x, y


def _check_finite_pair(x: np.ndarray, y: np.ndarray) -> None:
    check_finite(x, "x", hint=_FINITE_HINT)
    check_finite(y, "y", hint=_FINITE_HINT)


def _flat_c(x: np.ndarray, y: np.ndarray, batch: int | None = None, *, smooth: bool = False):
    """Flat C-order views of both inputs for the kernels + C-order shape + axis map.

    ``pos[a]`` is the position of original axis ``a`` in the C-order shape
    (Fortran-ordered inputs are handled through their transpose, without a copy).
    The kernels want the batch axis anywhere but last: when it would be last, the
    arrays are copied into the opposite order.  Dtypes are unified (see
    :func:`_kernel_dtypes`), so few kernel specialisations are ever compiled.
    """
    x, y = _kernel_dtypes(x, y, smooth)
    ndim = x.ndim
    rev = [ndim - 1 - a for a in range(ndim)]
    if x.flags.c_contiguous and y.flags.c_contiguous:
        pos = list(range(ndim))
    elif x.flags.f_contiguous and y.flags.f_contiguous:
        x, y = x.T, y.T
        pos = rev
    else:
        x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
        pos = list(range(ndim))
    if batch is not None and ndim > 1 and pos[batch] == ndim - 1:
        x, y = np.ascontiguousarray(x.T), np.ascontiguousarray(y.T)
        pos = [ndim - 1 - p for p in pos]
    return x.reshape(-1), y.reshape(-1), np.array(x.shape, dtype=np.int64), pos


def _kernel_dtypes(x: np.ndarray, y: np.ndarray, smooth: bool) -> tuple[np.ndarray, np.ndarray]:
    """The dtypes the kernels see (copies only for the uncommon dtypes).

    Smooth kernels compute in float64 anyway: float32 pairs stay float32, everything
    else becomes float64.  Exact kernels compare values, so any real dtype works
    exactly: both inputs get one common dtype (float16 -> float32, long double ->
    float64, bool -> uint8 view; mixed dtypes -> their NumPy common type).
    """
    if smooth:
        if x.dtype == np.float32 and y.dtype == np.float32:
            return x, y
        return x.astype(np.float64, copy=False), y.astype(np.float64, copy=False)
    if x.dtype != y.dtype:
        common = np.result_type(x.dtype, y.dtype)
        x, y = x.astype(common, copy=False), y.astype(common, copy=False)
    if x.dtype == np.bool_:
        return x.view(np.uint8), y.view(np.uint8)
    if x.dtype.kind == "f" and x.dtype.itemsize == 2:
        return x.astype(np.float32), y.astype(np.float32)
    if x.dtype.kind == "f" and x.dtype.itemsize > 8:
        return x.astype(np.float64), y.astype(np.float64)
    return x, y


def _float_dtype(x: np.ndarray, y: np.ndarray) -> np.dtype:
    """float32 when both inputs are float16/float32 (float32 stays float32), else float64."""
    small = all(a.dtype.kind == "f" and a.dtype.itemsize <= 4 for a in (x, y))
    return np.dtype(np.float32) if small else np.dtype(np.float64)


def _resolve_sign(sign: Any, *, derivative: bool = False):
    """Return (kind, f, fprime) for a sign option."""
    if isinstance(sign, str):
        check_choice(sign, "sign", _SIGN_NAMES)
        if derivative and sign == "sign":
            raise InvalidOptionError(
                "sign='sign' (the exact loss) has a zero gradient almost everywhere; use "
                "sign='tanh' or 'softsign' for a gradient"
            )
        return _KIND[sign], None, None
    if isinstance(sign, tuple):
        if len(sign) != 2 or not all(callable(f) for f in sign):
            raise InvalidOptionError(
                "sign as a tuple must be a pair (f, fprime) of vectorised callables: the sign-like "
                "function and its derivative"
            )
        return _CALLABLE, sign[0], sign[1]
    if callable(sign):
        if derivative:
            raise InvalidOptionError(
                "a callable sign is value-only; for a gradient pass sign=(f, fprime) with the "
                "derivative fprime as a second vectorised callable"
            )
        return _CALLABLE, sign, None
    raise InvalidOptionError(
        f"sign={sign!r} is not valid; use 'tanh', 'softsign', 'sign' (exact), a vectorised "
        "callable f, or a pair (f, fprime)"
    )


def _resolve_axes(ndim: int, batch_axis: Any, weights: Any):
    """Return (batch, axes, w): batch axis or None, the non-batch axes, their float64 weights."""
    if batch_axis is None:
        batch = None
    else:
        batch = normalize_axis(batch_axis, ndim, "batch_axis")
        if ndim == 1:
            raise InvalidInputError(
                "x is 1-dimensional, so with batch_axis=0 every sample is a single value and "
                "there are no differences to compare; pass batch_axis=None or add a sample axis"
            )
    axes = [a for a in range(ndim) if a != batch]
    if weights is None:
        w = np.ones(len(axes))
    else:
        try:
            w = np.asarray(weights, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidOptionError(
                f"weights={weights!r} is not a sequence of numbers; pass one non-negative weight "
                "per non-batch axis"
            ) from None
        if w.ndim != 1 or w.shape[0] != len(axes):
            raise InvalidOptionError(
                f"weights has shape {w.shape} but the input has {len(axes)} non-batch axis(es) "
                f"({ndim} dimension(s), batch_axis={batch_axis}); pass one weight per non-batch axis"
            )
        if not np.isfinite(w).all() or (w < 0).any():
            raise InvalidOptionError(
                f"weights={w.tolist()} must be finite and non-negative (0 switches an axis off)"
            )
    return batch, axes, w


def _check_sharpness(sharpness: Any) -> float:
    return check_positive(sharpness, "sharpness")


# ----------------------------------------------------------------------------- evaluation


def _axis_sums(x, y, kind, s, f, batch, axes, w):
    """Sum of |sigma(s D_X) - sigma(s D_Y)| / 2 per non-batch axis and sample: float64 (len(axes), B)."""
    nb = 1 if batch is None else x.shape[batch]
    sums = np.zeros((len(axes), nb))
    on = [j for j, a in enumerate(axes) if w[j] != 0.0 and x.shape[a] > 1]
    if not on or kind == _CALLABLE:
        _check_finite_pair(x, y)
    if not on:
        return sums
    if kind == _CALLABLE:
        for j in on:
            a = axes[j]
            dx = np.diff(x.astype(np.float64, copy=False), axis=a) * s
            dy = np.diff(y.astype(np.float64, copy=False), axis=a) * s
            delta = np.abs(_call_sign(f, dx) - _call_sign(f, dy)) * 0.5
            if batch is None:
                sums[j, 0] = delta.sum()
            else:
                other = tuple(i for i in range(x.ndim) if i != batch)
                sums[j] = delta.sum(axis=other)
        return sums
    xf, yf, cshape, pos = _flat_c(x, y, batch, smooth=kind != 0)
    d = x.ndim
    active = np.zeros(d, dtype=np.int8)
    for j in on:
        active[pos[axes[j]]] = 1
    cb = -1 if batch is None else pos[batch]
    # the kernels check finiteness block by block while the data are in cache (no extra pass)
    check = xf.dtype.kind == "f" or yf.dtype.kind == "f"
    if kind == 0:
        out = np.zeros((d, nb), dtype=np.int64)
        from ._kernels._dsl import exact_counts

        finite = exact_counts(xf, yf, cshape, active, cb, check, out)
    else:
        out = np.zeros((d, nb))
        from ._kernels._dsl import smooth_sums

        finite = smooth_sums(xf, yf, cshape, active, cb, kind, s, check, out)
    if not finite:
        _check_finite_pair(x, y)  # raises NonFiniteError naming the first bad value
    for j in on:
        sums[j] = out[pos[axes[j]]] * 0.5
    return sums


def _call_sign(f, z):
    try:
        r = np.asarray(f(z), dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - user code: re-raise with context
        raise InvalidOptionError(
            f"the sign callable failed on an array of shape {z.shape} ({type(exc).__name__}: {exc}); "
            "it must be vectorised like a NumPy ufunc"
        ) from exc
    if r.shape != z.shape:
        raise InvalidOptionError(
            f"the sign callable returned shape {r.shape} for an input of shape {z.shape}; it must "
            "be elementwise (vectorised like a NumPy ufunc)"
        )
    if not np.isfinite(r).all():
        raise InvalidOptionError("the sign callable returned NaN or inf; it must be finite for finite input")
    return r


def _comparisons(shape, batch, axes):
    """Number of differences along each non-batch axis per sample: float64 (len(axes),)."""
    per_sample = math.prod(shape[a] for a in axes)
    return np.array([per_sample // shape[a] * (shape[a] - 1) for a in axes], dtype=np.float64)


def _denominator(shape, batch, axes, w, normalize):
    if not normalize:
        return 1.0
    denom = float(np.dot(w, _comparisons(shape, batch, axes)))
    if denom == 0.0:
        raise InvalidInputError(
            f"there is nothing to compare: every non-batch axis with a non-zero weight has length 1 "
            f"(shape {tuple(shape)}, weights {w.tolist()}); normalize=True would divide by zero - give "
            "an axis of length >= 2 a non-zero weight, or pass normalize=False"
        )
    return denom


def _reduce(values: np.ndarray, batch, reduction: str):
    """values: float64 (B, ...) per sample."""
    if batch is None:
        v = values[0]
        return float(v) if v.ndim == 0 else v
    if reduction == "mean":
        v = values.mean(axis=0)
    elif reduction == "sum":
        v = values.sum(axis=0)
    else:
        return values
    return float(v) if v.ndim == 0 else v


def _evaluate(x, y, *, kind, f, sharpness, weights, batch_axis, reduction, normalize, per_axis):
    x, y = _prepare_pair(x, y, finite=False)  # finiteness: checked in _axis_sums
    check_choice(reduction, "reduction", _REDUCTIONS)
    batch, axes, w = _resolve_axes(x.ndim, batch_axis, weights)
    denom = _denominator(x.shape, batch, axes, w, normalize)
    sums = _axis_sums(x, y, kind, sharpness, f, batch, axes, w)  # (n_axes, B)
    contrib = (sums * w[:, None]).T / denom  # (B, n_axes)
    values = contrib if per_axis else contrib.sum(axis=1)
    return _reduce(values, batch, reduction)


# ----------------------------------------------------------------------------- public API


def dsl(
    x: Any,
    y: Any,
    *,
    sharpness: float = DEFAULT_SHARPNESS,
    sign: Any = "tanh",
    weights: Any = None,
    batch_axis: int | None = None,
    reduction: str = "mean",
    normalize: bool = True,
):
    """Differentiable directional sign loss (Algorithm 1 of the paper).

    For every non-batch axis ``i``: ``D_X = diff(x, axis=i)``, ``D_Y = diff(y, axis=i)``,
    ``Delta = |sigma(s D_X) - sigma(s D_Y)| / 2``; the loss is ``sum_i w_i sum(Delta)``,
    divided by the weighted number of comparisons when ``normalize`` is true.

    Parameters
    ----------
    x : array_like, shape (n_1, ..., n_d)
        The reconstruction / prediction.  Real (bool, integer or float), finite, not empty.
    y : array_like, shape (n_1, ..., n_d)
        The original / target, exactly the shape of ``x`` (no broadcasting).  The value
        is symmetric in ``x`` and ``y``.
    sharpness : float, default 16.0
        The factor ``s`` multiplying the finite differences before ``sigma``; larger is
        closer to the exact sign but gives vanishing gradients.  It is in units of
        1 / (data units): the default 16 is the value the paper used for its stock-price
        and shallow-water experiments (data of order 1, Table 4); for other scales fit it
        with :func:`find_sharpness` (Algorithm 2) or scale it with 1 / (typical |difference|).
    sign : {"tanh", "softsign", "sign"} or callable or (callable, callable), default "tanh"
        ``sigma``: ``tanh``, softsign ``z / (1 + |z|)``, ``"sign"`` (the exact loss, like
        :func:`exact_dsl`; ``sharpness`` is then irrelevant), or a vectorised callable
        (NumPy-ufunc-like, evaluated in float64; a pair ``(f, fprime)`` is also accepted).
    weights : sequence of float, optional
        One non-negative weight per non-batch axis (default all 1); 0 switches an axis off.
    batch_axis : int, optional
        Axis of independent samples: no differences along it, one value per sample.
    reduction : {"mean", "sum", "none"}, default "mean"
        How per-sample values are combined when ``batch_axis`` is given (as in PyTorch).
    normalize : bool, default True
        Divide by the weighted number of comparisons (value in [0, 1]); False keeps
        count units.

    Returns
    -------
    float or ndarray of shape (B,)
        The loss; a float64 array of per-sample values for ``reduction="none"`` with a
        ``batch_axis`` of length B.

    Raises
    ------
    ShapeMismatchError
        ``x`` and ``y`` differ in shape.
    NonFiniteError, InvalidDTypeError, InvalidInputError
        NaN/inf values, complex/object dtypes, empty inputs, nothing to compare.
    InvalidOptionError
        An invalid option value.

    See Also
    --------
    exact_dsl : the exact (sign) version, in count units by default.
    dsl_gradient : the analytic gradient with respect to ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> y = np.array([0.0, 1.0, 0.0, 1.0])
    >>> x = np.array([0.0, 1.0, 1.0, 0.0])
    >>> round(te.dsl(x, y, sharpness=100.0), 6)   # close to the exact 1.5 / 3 comparisons
    0.5
    >>> round(te.dsl(x, y, sharpness=1.0), 4)
    0.3808
    >>> te.dsl(x, x)
    0.0

    A batch of 2-D samples along axis 0, one value per sample:

    >>> rng = np.random.default_rng(0)
    >>> a = rng.random((3, 8, 8))
    >>> te.dsl(a, a + 0.1 * rng.random((3, 8, 8)), batch_axis=0, reduction="none").shape
    (3,)
    """
    kind, f, _ = _resolve_sign(sign)
    s = _check_sharpness(sharpness) if kind != 0 else 1.0
    return _evaluate(
        x, y, kind=kind, f=f, sharpness=s, weights=weights, batch_axis=batch_axis,
        reduction=reduction, normalize=bool(normalize), per_axis=False,
    )


def exact_dsl(
    x: Any,
    y: Any,
    *,
    weights: Any = None,
    batch_axis: int | None = None,
    reduction: str = "mean",
    normalize: bool = False,
):
    """Exact directional sign loss: the (weighted) number of sign mismatches of finite differences.

    ``sum_i w_i sum |sign(D_X) - sign(D_Y)| / 2`` over the non-batch axes ``i``: a pair of
    neighbouring cells where ``x`` rises and ``y`` falls counts 1, where one of them is
    flat and the other not counts 1/2.  The paper's "Exact DSL"; not differentiable.

    Parameters
    ----------
    x, y : array_like, shape (n_1, ..., n_d)
        The reconstruction and the original (symmetric), same shape, real and finite.
        Any real dtype; the signs are found by comparisons, so integers never overflow
        and float32 data are not rounded.
    weights : sequence of float, optional
        One non-negative weight per non-batch axis (default all 1).
    batch_axis : int, optional
        Axis of independent samples (one value per sample).
    reduction : {"mean", "sum", "none"}, default "mean"
        Combination of the per-sample values when ``batch_axis`` is given.
    normalize : bool, default False
        Divide by the weighted number of comparisons (the fraction of mismatches in
        [0, 1]); by default the value is in count units.

    Returns
    -------
    float or ndarray of shape (B,)
        With unit weights and ``normalize=False``, a multiple of 0.5.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> y = np.array([0, 1, 0, 1])   # up, down, up
    >>> x = np.array([0, 1, 1, 0])   # up, flat, down
    >>> te.exact_dsl(x, y)            # 0 + 1/2 + 1
    1.5
    >>> te.exact_dsl(x, y, normalize=True)
    0.5
    >>> a = np.array([[0, 1], [3, 2]])
    >>> b = np.array([[0, 1], [2, 3]])
    >>> te.exact_dsl(a, b)            # axis 0: no mismatch; axis 1: the second row
    1.0
    """
    return _evaluate(
        x, y, kind=0, f=None, sharpness=1.0, weights=weights, batch_axis=batch_axis,
        reduction=reduction, normalize=bool(normalize), per_axis=False,
    )


def dsl_per_axis(
    x: Any,
    y: Any,
    *,
    sharpness: float = DEFAULT_SHARPNESS,
    sign: Any = "tanh",
    weights: Any = None,
    batch_axis: int | None = None,
    reduction: str = "mean",
    normalize: bool = True,
):
    """Per-axis breakdown of :func:`dsl`: each non-batch axis's weighted contribution.

    Same parameters as :func:`dsl` (``sign="sign"`` gives the breakdown of the exact
    loss; with ``normalize=True`` every contribution is divided by the same total
    number of weighted comparisons), so the contributions sum to :func:`dsl`.

    Returns
    -------
    ndarray, float64
        Shape (n_axes,) with ``n_axes = x.ndim`` (``x.ndim - 1`` with a batch axis), the
        non-batch axes in increasing order; shape (B, n_axes) for ``reduction="none"``.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> a = np.array([[0, 1], [3, 2]])
    >>> b = np.array([[0, 1], [2, 3]])
    >>> te.dsl_per_axis(a, b, sign="sign", normalize=False)
    array([0., 1.])
    >>> te.dsl_per_axis(a, b, sign="sign")   # 1 mismatch out of 4 comparisons
    array([0.  , 0.25])
    """
    kind, f, _ = _resolve_sign(sign)
    s = _check_sharpness(sharpness) if kind != 0 else 1.0
    return _evaluate(
        x, y, kind=kind, f=f, sharpness=s, weights=weights, batch_axis=batch_axis,
        reduction=reduction, normalize=bool(normalize), per_axis=True,
    )


def dsl_gradient(
    x: Any,
    y: Any,
    *,
    sharpness: float = DEFAULT_SHARPNESS,
    sign: Any = "tanh",
    weights: Any = None,
    batch_axis: int | None = None,
    reduction: str = "mean",
    normalize: bool = True,
) -> np.ndarray:
    """Analytic gradient of :func:`dsl` with respect to ``x`` (the reconstruction).

    With ``a = sigma(s D_X)``, ``b = sigma(s D_Y)`` along axis ``i`` the derivative of
    ``|a - b| / 2`` with respect to ``D_X`` is ``sign(a - b) * s * sigma'(s D_X) / 2``
    (0 where ``a == b``, the subgradient PyTorch's ``abs`` uses too); it is added to the
    upper cell and subtracted from the lower cell of every difference, times
    ``w_i / denominator``.

    Parameters
    ----------
    x : array_like, shape (n_1, ..., n_d)
        The reconstruction: the gradient is taken with respect to it.
    y : array_like, shape (n_1, ..., n_d)
        The original / target (held fixed).
    sharpness, weights, batch_axis, normalize
        As in :func:`dsl`.
    sign : {"tanh", "softsign"} or (callable, callable), default "tanh"
        A user sign function needs its derivative: pass the pair ``(f, fprime)``.
        ``"sign"`` is rejected (its gradient is zero almost everywhere).
    reduction : {"mean", "sum", "none"}, default "mean"
        With a ``batch_axis``: the gradient of the mean or sum of the per-sample values;
        for ``"none"`` every sample's slice holds the gradient of that sample's own value
        (which equals the gradient of their sum).

    Returns
    -------
    ndarray, shape of ``x``
        float32 for float16/float32 inputs, float64 otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> y = np.array([0.0, 1.0, 0.0])
    >>> x = np.array([0.0, 1.0, 2.0])
    >>> g = te.dsl_gradient(x, y, sharpness=1.0)
    >>> eps = 1e-6
    >>> fd = (te.dsl(x + [0, 0, eps], y, sharpness=1.0)
    ...       - te.dsl(x - [0, 0, eps], y, sharpness=1.0)) / (2 * eps)
    >>> bool(np.isclose(g[2], fd))
    True
    """
    kind, f, fprime = _resolve_sign(sign, derivative=True)
    s = _check_sharpness(sharpness)
    x, y = _prepare_pair(x, y)
    check_choice(reduction, "reduction", _REDUCTIONS)
    batch, axes, w = _resolve_axes(x.ndim, batch_axis, weights)
    denom = _denominator(x.shape, batch, axes, w, bool(normalize))
    scale = 0.5 / denom
    if batch is not None and reduction == "mean":
        scale /= x.shape[batch]
    out_dtype = _float_dtype(x, y)
    if kind == _CALLABLE:
        xd = x.astype(np.float64, copy=False)
        yd = y.astype(np.float64, copy=False)
        grad = np.zeros(x.shape)
        for j, a in enumerate(axes):
            if w[j] == 0.0 or x.shape[a] < 2:
                continue
            zx = np.diff(xd, axis=a) * s
            zy = np.diff(yd, axis=a) * s
            g = np.sign(_call_sign(f, zx) - _call_sign(f, zy)) * _call_sign(fprime, zx)
            g *= s * w[j] * scale
            hi = [slice(None)] * x.ndim
            lo = [slice(None)] * x.ndim
            hi[a] = slice(1, None)
            lo[a] = slice(None, -1)
            grad[tuple(hi)] += g
            grad[tuple(lo)] -= g
        return grad.astype(out_dtype, copy=False)
    xf, yf, cshape, pos = _flat_c(x, y, smooth=True)
    coef = np.zeros(x.ndim)
    for j, a in enumerate(axes):
        coef[pos[a]] = w[j] * scale
    from ._kernels._dsl import smooth_grad

    gflat = np.zeros(xf.shape[0])
    smooth_grad(xf, yf, cshape, coef, kind, s, gflat)
    grad = gflat.reshape(tuple(cshape))
    if pos[0] != 0:  # Fortran-ordered input was processed as its transpose
        grad = grad.T
    return grad.astype(out_dtype, copy=False)


def mismatch_map(
    x: Any,
    y: Any,
    *,
    axis: int | tuple[int, ...] | None = None,
    weights: Any = None,
    summed: bool = False,
) -> np.ndarray:
    """Where, and along which axis, the directions of ``x`` and ``y`` disagree (exact).

    The mismatch of the difference between cell ``k`` and cell ``k + e_i`` along axis
    ``i``, ``|sign(x[k + e_i] - x[k]) - sign(y[k + e_i] - y[k])| / 2`` (0, 1/2 or 1), is
    stored at cell ``k``; the last cell along axis ``i`` holds 0.

    Parameters
    ----------
    x, y : array_like, shape (n_1, ..., n_d)
        The reconstruction and the original, same shape, real and finite.
    axis : int or tuple of int, optional
        The axes to map (default all).  Leave a batch axis out to compare samples only
        within themselves.
    weights : sequence of float, optional
        One non-negative weight per axis of ``x`` (length ``x.ndim``) multiplying each
        axis's map (default all 1).
    summed : bool, default False
        Return the (weighted) sum over the selected axes, of shape ``x.shape``.

    Returns
    -------
    ndarray
        ``summed=False``: shape (len(axes), n_1, ..., n_d) for ``axis`` None or a tuple
        (one map per selected axis, in the given order), or ``x.shape`` for an int axis.
        ``summed=True``: shape ``x.shape``.  float32 for float16/float32 inputs, else
        float64.  Without weights, ``mismatch_map(x, y, summed=True).sum()`` equals
        ``exact_dsl(x, y)``.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> y = np.array([0, 1, 0, 1])
    >>> x = np.array([0, 1, 1, 0])
    >>> te.mismatch_map(x, y, axis=0)
    array([0. , 0.5, 1. , 0. ])
    >>> a = np.array([[0, 1], [3, 2]])
    >>> b = np.array([[0, 1], [2, 3]])
    >>> te.mismatch_map(a, b)        # (axis, row, column); the mismatch is along axis 1
    array([[[0., 0.],
            [0., 0.]],
    <BLANKLINE>
           [[0., 0.],
            [1., 0.]]])
    """
    x, y = _prepare_pair(x, y)
    ndim = x.ndim
    single = False
    if axis is None:
        sel = list(range(ndim))
    elif isinstance(axis, tuple):
        sel = [normalize_axis(a, ndim, "axis") for a in axis]
        if len(set(sel)) != len(sel) or not sel:
            raise InvalidOptionError(f"axis={axis!r} must name distinct axes (at least one)")
    else:
        sel = [normalize_axis(axis, ndim, "axis")]
        single = True
    _, _, w = _resolve_axes(ndim, None, weights)
    dtype = _float_dtype(x, y)
    xf, yf, cshape, pos = _flat_c(x, y)
    active = np.zeros(ndim, dtype=np.int8)
    for a in sel:
        active[pos[a]] = 1
    from ._kernels._dsl import exact_map

    out = np.zeros((ndim, xf.shape[0]), dtype=dtype)
    exact_map(xf, yf, cshape, active, out)
    maps = out.reshape((ndim, *cshape))
    if pos[0] != 0:  # Fortran order: undo the transpose of each map and the axis order
        maps = np.stack([maps[pos[a]].T for a in range(ndim)])
    result = maps[sel]
    if weights is not None:
        result = result * w[sel].astype(dtype).reshape((-1,) + (1,) * ndim)
    if summed:
        return result.sum(axis=0, dtype=dtype)
    if single:
        return result[0]
    return np.ascontiguousarray(result)


# ----------------------------------------------------------------------------- sharpness (Algorithm 2)


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
    from ._kernels._dsl import smooth_sums_ds

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

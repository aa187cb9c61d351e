"""Validation and preparation shared by the DSL functions (no kernels here).

The option checks (sign, axes and weights, sharpness), the unification of dtypes and
memory orders the kernels expect (:func:`_flat_c`), the number of comparisons that
``normalize=True`` divides by, and the reduction over samples.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import (
    as_real_array,
    check_choice,
    check_finite,
    check_positive,
    check_same_shape,
    normalize_axis,
)
from ..errors import InvalidInputError, InvalidOptionError

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

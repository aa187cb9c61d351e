"""The DSL sums of every axis and sample: the fused kernels, or NumPy for a user's sign callable.

:func:`_evaluate` is the common body of :func:`topoeval.dsl`, :func:`topoeval.exact_dsl` and
:func:`topoeval.dsl_per_axis`: prepare, sum per axis (:func:`_axis_sums`), weight, normalize, reduce.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_choice
from ._prepare import (
    _CALLABLE,
    _REDUCTIONS,
    _call_sign,
    _check_finite_pair,
    _denominator,
    _flat_c,
    _prepare_pair,
    _reduce,
    _resolve_axes,
)


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
        from .._kernels._dsl import exact_counts

        finite = exact_counts(xf, yf, cshape, active, cb, check, out)
    else:
        out = np.zeros((d, nb))
        from .._kernels._dsl import smooth_sums

        finite = smooth_sums(xf, yf, cshape, active, cb, kind, s, check, out)
    if not finite:
        _check_finite_pair(x, y)  # raises NonFiniteError naming the first bad value
    for j in on:
        sums[j] = out[pos[axes[j]]] * 0.5
    return sums


def _evaluate(x, y, *, kind, f, sharpness, weights, batch_axis, reduction, normalize, per_axis):
    x, y = _prepare_pair(x, y, finite=False)  # finiteness: checked in _axis_sums
    check_choice(reduction, "reduction", _REDUCTIONS)
    batch, axes, w = _resolve_axes(x.ndim, batch_axis, weights)
    denom = _denominator(x.shape, batch, axes, w, normalize)
    sums = _axis_sums(x, y, kind, sharpness, f, batch, axes, w)  # (n_axes, B)
    contrib = (sums * w[:, None]).T / denom  # (B, n_axes)
    values = contrib if per_axis else contrib.sum(axis=1)
    return _reduce(values, batch, reduction)

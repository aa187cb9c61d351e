"""The analytic gradient of the smooth DSL with respect to the reconstruction."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, named_axes
from ._prepare import (
    _CALLABLE,
    _REDUCTIONS,
    DEFAULT_SHARPNESS,
    _call_sign,
    _check_sharpness,
    _denominator,
    _flat_c,
    _float_dtype,
    _prepare_pair,
    _resolve_axes,
    _resolve_sign,
)

__all__ = ["dsl_gradient"]


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
        float32 for float16/float32 inputs, float64 otherwise (computed in float64 for
        every dtype, unlike the float32 tanh terms of :func:`dsl`).

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
    batch_axis, weights = named_axes(x, batch_axis, weights)  # xarray dimension names -> axis numbers
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
    from .._kernels._dsl import smooth_grad

    gflat = np.zeros(xf.shape[0])
    smooth_grad(xf, yf, cshape, coef, kind, s, gflat)
    grad = gflat.reshape(tuple(cshape))
    if pos[0] != 0:  # Fortran-ordered input was processed as its transpose
        grad = grad.T
    return grad.astype(out_dtype, copy=False)

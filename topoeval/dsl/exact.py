"""The exact (sign) DSL: the number of sign mismatches, and where they are."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import dim_axis, dims_of, named_axes
from ..errors import InvalidOptionError
from ._evaluate import _evaluate
from ._prepare import _flat_c, _float_dtype, _prepare_pair, _resolve_axes

__all__ = ["exact_dsl", "mismatch_map"]


def exact_dsl(
    x: Any,
    y: Any,
    *,
    weights: Any = None,
    batch_axis: int | None = None,
    reduction: str = "mean",
    normalize: bool = False,
    jobs: int | None = None,
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
    jobs : int, optional
        Threads (default: the cores this process may use); arrays of fewer than 2**20 cells
        use one.  Counts are the same for every ``jobs``, float sums equal to rounding.

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
        reduction=reduction, normalize=bool(normalize), per_axis=False, jobs=jobs,
    )


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
    _, weights = named_axes(x, None, weights)  # xarray dimension names -> axis numbers
    dims = dims_of(x)
    x, y = _prepare_pair(x, y)
    ndim = x.ndim
    single = False
    if axis is None:
        sel = list(range(ndim))
    elif isinstance(axis, tuple):
        sel = [dim_axis(a, dims, ndim, "axis") for a in axis]
        if len(set(sel)) != len(sel) or not sel:
            raise InvalidOptionError(f"axis={axis!r} must name distinct axes (at least one)")
    else:
        sel = [dim_axis(axis, dims, ndim, "axis")]
        single = True
    _, _, w = _resolve_axes(ndim, None, weights)
    dtype = _float_dtype(x, y)
    xf, yf, cshape, pos = _flat_c(x, y)
    active = np.zeros(ndim, dtype=np.int8)
    for a in sel:
        active[pos[a]] = 1
    from .._kernels._dsl import exact_map

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

"""Fused Numba kernels of the directional sign loss (topoeval.dsl).

All kernels take the two inputs as flat 1-D views of C-ordered arrays together
with the C-order ``shape`` (int64, (d,)).  They walk the array once, row by row
along the last (contiguous) axis; for every active axis ``i`` a row is compared
with the row one step further along ``i`` (``strides[i]`` elements away, still
in cache), so each input is read from memory about once in total, whatever the
number of axes, and no temporary of the input's size is created.

``active`` (int8, (d,)) switches axes on (1) or off (0): the batch axis and
axes of weight 0 are off.  ``batch`` is the C-order position of the batch axis
or -1; per-sample results go to column ``coord[batch]`` of ``out``.

Sign functions (``kind``): 1 = tanh, 2 = softsign z / (1 + |z|).  The exact
kernels count *half* mismatches as integers: |sign a - sign b| is 0, 1 or 2, so
the exact loss is ``count / 2`` without rounding error.
"""

from __future__ import annotations

import numpy as np
from numba import njit

TANH = 1
SOFTSIGN = 2


@njit(cache=True, nogil=True)
def _c_strides(shape):
    d = shape.shape[0]
    strides = np.empty(d, np.int64)
    s = 1
    for i in range(d - 1, -1, -1):
        strides[i] = s
        s *= shape[i]
    return strides, s


@njit(cache=True, nogil=True)
def _next_row(coord, shape):
    """Advance the multi-index ``coord`` of the leading d-1 axes in C order."""
    j = shape.shape[0] - 2
    while j >= 0:
        coord[j] += 1
        if coord[j] < shape[j]:
            return
        coord[j] = 0
        j -= 1


@njit(cache=True, nogil=True)
def _half(x0, x1, y0, y1):
    """|sign(x1 - x0) - sign(y1 - y0)| in {0, 1, 2}, by comparisons (no overflow, exact)."""
    sa = np.int64(x1 > x0) - np.int64(x1 < x0)
    sb = np.int64(y1 > y0) - np.int64(y1 < y0)
    return abs(sa - sb)


@njit(cache=True, nogil=True)
def _sig(kind, z):
    if kind == TANH:
        return np.tanh(z)
    return z / (1.0 + abs(z))


@njit(cache=True, nogil=True)
def _dsig(kind, z, sz):
    """Derivative of the sign function at ``z`` given ``sz = sig(z)``."""
    if kind == TANH:
        return 1.0 - sz * sz
    a = 1.0 + abs(z)
    return 1.0 / (a * a)


@njit(cache=True, nogil=True)
def exact_counts(x, y, shape, active, batch, out):
    """Add the numbers of half mismatches per axis and sample to ``out`` (int64, (d, nb))."""
    d = shape.shape[0]
    strides, total = _c_strides(shape)
    n = shape[d - 1]
    nrows = total // n
    coord = np.zeros(d, np.int64)
    last = d - 1
    for r in range(nrows):
        base = r * n
        b = 0
        if batch >= 0 and batch < last:
            b = coord[batch]
        if active[last] and n > 1:
            acc = 0
            for k in range(base, base + n - 1):
                acc += _half(x[k], x[k + 1], y[k], y[k + 1])
            out[last, b] += acc
        for i in range(last):
            if not active[i] or coord[i] == shape[i] - 1:
                continue
            st = strides[i]
            if batch == last:
                for k in range(n):
                    j = base + k
                    out[i, k] += _half(x[j], x[j + st], y[j], y[j + st])
            else:
                acc = 0
                for j in range(base, base + n):
                    acc += _half(x[j], x[j + st], y[j], y[j + st])
                out[i, b] += acc
        _next_row(coord, shape)


@njit(cache=True, nogil=True)
def _pair(kind, s, x0, x1, y0, y1):
    dx = s * (np.float64(x1) - np.float64(x0))
    dy = s * (np.float64(y1) - np.float64(y0))
    return abs(_sig(kind, dx) - _sig(kind, dy))


@njit(cache=True, nogil=True)
def _pair_ds(kind, s, x0, x1, y0, y1):
    """(|sig(s dx) - sig(s dy)|, its derivative with respect to s)."""
    dx = np.float64(x1) - np.float64(x0)
    dy = np.float64(y1) - np.float64(y0)
    zx = s * dx
    zy = s * dy
    a = _sig(kind, zx)
    b = _sig(kind, zy)
    diff = a - b
    if diff > 0.0:
        return diff, _dsig(kind, zx, a) * dx - _dsig(kind, zy, b) * dy
    elif diff < 0.0:
        return -diff, _dsig(kind, zy, b) * dy - _dsig(kind, zx, a) * dx
    return 0.0, 0.0


@njit(cache=True, nogil=True)
def smooth_sums(x, y, shape, active, batch, kind, s, out):
    """Add sum |sig(s dX) - sig(s dY)| per axis and sample to ``out`` (float64, (d, nb))."""
    d = shape.shape[0]
    strides, total = _c_strides(shape)
    n = shape[d - 1]
    nrows = total // n
    coord = np.zeros(d, np.int64)
    last = d - 1
    for r in range(nrows):
        base = r * n
        b = 0
        if batch >= 0 and batch < last:
            b = coord[batch]
        if active[last] and n > 1:
            acc = 0.0
            for k in range(base, base + n - 1):
                acc += _pair(kind, s, x[k], x[k + 1], y[k], y[k + 1])
            out[last, b] += acc
        for i in range(last):
            if not active[i] or coord[i] == shape[i] - 1:
                continue
            st = strides[i]
            if batch == last:
                for k in range(n):
                    j = base + k
                    out[i, k] += _pair(kind, s, x[j], x[j + st], y[j], y[j + st])
            else:
                acc = 0.0
                for j in range(base, base + n):
                    acc += _pair(kind, s, x[j], x[j + st], y[j], y[j + st])
                out[i, b] += acc
        _next_row(coord, shape)


@njit(cache=True, nogil=True)
def smooth_sums_ds(x, y, shape, active, batch, kind, s, out, out_ds):
    """As smooth_sums, and add the derivatives with respect to s to ``out_ds``."""
    d = shape.shape[0]
    strides, total = _c_strides(shape)
    n = shape[d - 1]
    nrows = total // n
    coord = np.zeros(d, np.int64)
    last = d - 1
    for r in range(nrows):
        base = r * n
        b = 0
        if batch >= 0 and batch < last:
            b = coord[batch]
        if active[last] and n > 1:
            acc = 0.0
            accd = 0.0
            for k in range(base, base + n - 1):
                v, g = _pair_ds(kind, s, x[k], x[k + 1], y[k], y[k + 1])
                acc += v
                accd += g
            out[last, b] += acc
            out_ds[last, b] += accd
        for i in range(last):
            if not active[i] or coord[i] == shape[i] - 1:
                continue
            st = strides[i]
            acc = 0.0
            accd = 0.0
            for k in range(n):
                j = base + k
                v, g = _pair_ds(kind, s, x[j], x[j + st], y[j], y[j + st])
                if batch == last:
                    out[i, k] += v
                    out_ds[i, k] += g
                else:
                    acc += v
                    accd += g
            if batch != last:
                out[i, b] += acc
                out_ds[i, b] += accd
        _next_row(coord, shape)


@njit(cache=True, nogil=True)
def _grad_pair(kind, s, x0, x1, y0, y1):
    """d |sig(s dx) - sig(s dy)| / d dx (subgradient 0 where the two signs are equal)."""
    zx = s * (np.float64(x1) - np.float64(x0))
    zy = s * (np.float64(y1) - np.float64(y0))
    a = _sig(kind, zx)
    b = _sig(kind, zy)
    if a > b:
        return s * _dsig(kind, zx, a)
    elif a < b:
        return -s * _dsig(kind, zx, a)
    return 0.0


@njit(cache=True, nogil=True)
def smooth_grad(x, y, shape, coef, kind, s, grad):
    """Add coef[i] * d sum_i |sig(s dX_i) - sig(s dY_i)| / dx to ``grad`` (flat, float64).

    ``coef`` (float64, (d,)) is 0 for inactive axes.
    """
    d = shape.shape[0]
    strides, total = _c_strides(shape)
    n = shape[d - 1]
    nrows = total // n
    coord = np.zeros(d, np.int64)
    last = d - 1
    for r in range(nrows):
        base = r * n
        c = coef[last]
        if c != 0.0 and n > 1:
            for k in range(base, base + n - 1):
                g = c * _grad_pair(kind, s, x[k], x[k + 1], y[k], y[k + 1])
                grad[k + 1] += g
                grad[k] -= g
        for i in range(last):
            c = coef[i]
            if c == 0.0 or coord[i] == shape[i] - 1:
                continue
            st = strides[i]
            for j in range(base, base + n):
                g = c * _grad_pair(kind, s, x[j], x[j + st], y[j], y[j + st])
                grad[j + st] += g
                grad[j] -= g
        _next_row(coord, shape)


@njit(cache=True, nogil=True)
def exact_map(x, y, shape, active, out):
    """Write |sign dX - sign dY| / 2 of axis i at cell k into out[i, k] (out zeroed, (d, size))."""
    d = shape.shape[0]
    strides, total = _c_strides(shape)
    n = shape[d - 1]
    nrows = total // n
    coord = np.zeros(d, np.int64)
    last = d - 1
    for r in range(nrows):
        base = r * n
        if active[last] and n > 1:
            for k in range(base, base + n - 1):
                out[last, k] = 0.5 * _half(x[k], x[k + 1], y[k], y[k + 1])
        for i in range(last):
            if not active[i] or coord[i] == shape[i] - 1:
                continue
            st = strides[i]
            for j in range(base, base + n):
                out[i, j] = 0.5 * _half(x[j], x[j + st], y[j], y[j + st])
        _next_row(coord, shape)

"""Fused Numba kernels of the directional sign loss (topoeval.dsl).

All kernels take the two inputs as flat 1-D views of C-ordered arrays together
with the C-order ``shape`` (int64, (d,)).  They walk the array once, row by row
along the last (contiguous) axis; for every active axis ``i`` a row is compared
with the row one step further along ``i`` (``strides[i]`` elements away, still
in cache), so each input is read from memory about once in total, whatever the
number of axes, and no temporary of the input's size is created (smooth kernels
use one buffer of at most ``BLOCK`` values).

``active`` (int8, (d,)) switches axes on (1) or off (0): the batch axis and
axes of weight 0 are off.  ``batch`` is the C-order position of the batch axis
or -1; per-sample results go to column ``coord[batch]`` of ``out``.

Sign functions (``kind``): 1 = tanh, 2 = softsign z / (1 + |z|).  The exact
kernels count *half* mismatches as integers: |sign a - sign b| is 0, 1 or 2, so
the exact loss is ``count / 2`` without rounding error; signs are found by
comparisons (no subtraction), exact for every dtype.  Smooth kernels compute
differences and sign functions in float64.

Speed notes: inner loops run over contiguous slices (non-negative indices, so
LLVM vectorises them); ``error_model="numpy"`` removes Python's division-by-zero
checks, which would block vectorisation (this changes no finite result and keeps
IEEE inf/NaN semantics -- it is not fastmath).  ``_tanh`` is a branch-free
float64 tanh (<= 2 ulp from NumPy's) that vectorises, unlike the libm call.
Floating-point sums are taken in a fixed order (8 interleaved partial sums), so
results are deterministic.
"""

from __future__ import annotations

import llvmlite.ir as llvm_ir
import numpy as np
from numba import njit, types
from numba.extending import intrinsic

TANH = 1
SOFTSIGN = 2
#: Elements per chunk of the smooth kernels' buffer.
BLOCK = 2048

_JIT = dict(cache=True, nogil=True, error_model="numpy")


@intrinsic
def _f64_from_bits(typingctx, bits):
    """Reinterpret the bits of an int64 as a float64 (used to build 2**k)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.DoubleType())

    return sig, codegen


# tanh(x) = x + x^3 P(x^2) / Q(x^2) for |x| < 0.625 (Cephes), else 1 - 2 / (exp(2|x|) + 1)
_P0 = -9.64399179425052238628e-1
_P1 = -9.92877231001918586564e1
_P2 = -1.61468768441708447952e3
_Q0 = 1.12811678491632931402e2
_Q1 = 2.23548839060100448583e3
_Q2 = 4.84406305325125486048e3
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # Cody-Waite split of ln 2 (fdlibm)
_LN2_LO = 1.90821492927058770002e-10


@njit(**_JIT)
def _tanh(z):
    a = abs(z)
    z2 = z * z
    small = z + z * z2 * (((_P0 * z2 + _P1) * z2 + _P2) / (((z2 + _Q0) * z2 + _Q1) * z2 + _Q2))
    w = 2.0 * (a if a < 20.0 else 20.0)  # tanh(20) rounds to 1
    ki = np.int32(w * _LOG2E + 0.5)  # w >= 0: truncation rounds to nearest
    k = np.float64(ki)
    r = (w - k * _LN2_HI) - k * _LN2_LO  # |r| <= ln2 / 2
    p = 1.0 / 6227020800.0  # exp(r): Taylor polynomial of degree 13, error < 1e-17
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    e = p * _f64_from_bits((np.int64(ki) + 1023) << 52)
    big = 1.0 - 2.0 / (e + 1.0)
    big = -big if z < 0.0 else big
    return small if a < 0.625 else big


@njit(**_JIT)
def tanh_array(z, out):
    """out[k] = tanh(z[k]) with the kernels' tanh (for tests)."""
    for k in range(z.shape[0]):
        out[k] = _tanh(z[k])


@njit(**_JIT)
def _sig(kind, z):
    if kind == TANH:
        return _tanh(z)
    return z / (1.0 + abs(z))


@njit(**_JIT)
def _dsig(kind, z, sz):
    """Derivative of the sign function at ``z`` given ``sz = sig(z)``."""
    if kind == TANH:
        return 1.0 - sz * sz
    a = 1.0 + abs(z)
    return 1.0 / (a * a)


@njit(**_JIT)
def _sum8(b, m):
    """Sum of b[:m] with 8 interleaved partial sums (fixed order: deterministic)."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    k = 0
    while k + 8 <= m:
        s0 += b[k]
        s1 += b[k + 1]
        s2 += b[k + 2]
        s3 += b[k + 3]
        s4 += b[k + 4]
        s5 += b[k + 5]
        s6 += b[k + 6]
        s7 += b[k + 7]
        k += 8
    while k < m:
        s0 += b[k]
        k += 1
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@njit(**_JIT)
def _c_strides(shape):
    d = shape.shape[0]
    strides = np.empty(d, np.int64)
    s = 1
    for i in range(d - 1, -1, -1):
        strides[i] = s
        s *= shape[i]
    return strides, s


@njit(**_JIT)
def _next_row(coord, shape):
    """Advance the multi-index ``coord`` of the leading d-1 axes in C order."""
    j = shape.shape[0] - 2
    while j >= 0:
        coord[j] += 1
        if coord[j] < shape[j]:
            return
        coord[j] = 0
        j -= 1


# ----------------------------------------------------------------------------- exact


@njit(**_JIT)
def _half(x0, x1, y0, y1):
    """|sign(x1 - x0) - sign(y1 - y0)| in {0, 1, 2}, by comparisons (no overflow, exact)."""
    sa = np.int64(x1 > x0) - np.int64(x1 < x0)
    sb = np.int64(y1 > y0) - np.int64(y1 < y0)
    return abs(sa - sb)


@njit(**_JIT)
def _exact_run(x, y, lo, hi, m):
    """sum_k |sign(x[hi+k] - x[lo+k]) - sign(y[hi+k] - y[lo+k])| for k < m."""
    x0 = x[lo:lo + m]
    x1 = x[hi:hi + m]
    y0 = y[lo:lo + m]
    y1 = y[hi:hi + m]
    acc = 0
    for k in range(m):
        acc += _half(x0[k], x1[k], y0[k], y1[k])
    return acc


@njit(**_JIT)
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
            out[last, b] += _exact_run(x, y, base, base + 1, n - 1)
        for i in range(last):
            if not active[i] or coord[i] == shape[i] - 1:
                continue
            st = strides[i]
            if batch == last:
                for k in range(n):
                    j = base + k
                    out[i, k] += _half(x[j], x[j + st], y[j], y[j + st])
            else:
                out[i, b] += _exact_run(x, y, base, base + st, n)
        _next_row(coord, shape)


@njit(**_JIT)
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
        for i in range(d):
            if not active[i]:
                continue
            if i == last:
                m = n - 1
                st = 1
            else:
                if coord[i] == shape[i] - 1:
                    continue
                m = n
                st = strides[i]
            x0 = x[base:base + m]
            x1 = x[base + st:base + st + m]
            y0 = y[base:base + m]
            y1 = y[base + st:base + st + m]
            o = out[i, base:base + m]
            for k in range(m):
                o[k] = 0.5 * _half(x0[k], x1[k], y0[k], y1[k])
        _next_row(coord, shape)


# ----------------------------------------------------------------------------- smooth


@njit(**_JIT)
def _smooth_run(x, y, lo, hi, m, kind, s, buf):
    """sum_k |sig(s (x[hi+k] - x[lo+k])) - sig(s (y[hi+k] - y[lo+k]))| for k < m."""
    total = 0.0
    for c in range(0, m, BLOCK):
        mc = min(BLOCK, m - c)
        x0 = x[lo + c:lo + c + mc]
        x1 = x[hi + c:hi + c + mc]
        y0 = y[lo + c:lo + c + mc]
        y1 = y[hi + c:hi + c + mc]
        if kind == TANH:
            for k in range(mc):
                dx = s * (np.float64(x1[k]) - np.float64(x0[k]))
                dy = s * (np.float64(y1[k]) - np.float64(y0[k]))
                buf[k] = abs(_tanh(dx) - _tanh(dy))
        else:
            for k in range(mc):
                dx = s * (np.float64(x1[k]) - np.float64(x0[k]))
                dy = s * (np.float64(y1[k]) - np.float64(y0[k]))
                buf[k] = abs(dx / (1.0 + abs(dx)) - dy / (1.0 + abs(dy)))
        total += _sum8(buf, mc)
    return total


@njit(**_JIT)
def _pair(kind, s, x0, x1, y0, y1):
    dx = s * (np.float64(x1) - np.float64(x0))
    dy = s * (np.float64(y1) - np.float64(y0))
    return abs(_sig(kind, dx) - _sig(kind, dy))


@njit(**_JIT)
def smooth_sums(x, y, shape, active, batch, kind, s, out):
    """Add sum |sig(s dX) - sig(s dY)| per axis and sample to ``out`` (float64, (d, nb))."""
    d = shape.shape[0]
    strides, total = _c_strides(shape)
    n = shape[d - 1]
    nrows = total // n
    coord = np.zeros(d, np.int64)
    last = d - 1
    buf = np.empty(min(n, BLOCK), np.float64)
    for r in range(nrows):
        base = r * n
        b = 0
        if batch >= 0 and batch < last:
            b = coord[batch]
        if active[last] and n > 1:
            out[last, b] += _smooth_run(x, y, base, base + 1, n - 1, kind, s, buf)
        for i in range(last):
            if not active[i] or coord[i] == shape[i] - 1:
                continue
            st = strides[i]
            if batch == last:
                for k in range(n):
                    j = base + k
                    out[i, k] += _pair(kind, s, x[j], x[j + st], y[j], y[j + st])
            else:
                out[i, b] += _smooth_run(x, y, base, base + st, n, kind, s, buf)
        _next_row(coord, shape)


@njit(**_JIT)
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


@njit(**_JIT)
def smooth_sums_ds(x, y, shape, active, kind, s, out, out_ds):
    """Add sum |sig(s dX) - sig(s dY)| and its derivative in s per axis to out, out_ds ((d,))."""
    d = shape.shape[0]
    strides, total = _c_strides(shape)
    n = shape[d - 1]
    nrows = total // n
    coord = np.zeros(d, np.int64)
    for r in range(nrows):
        base = r * n
        for i in range(d):
            if not active[i]:
                continue
            if i == d - 1:
                m = n - 1
                st = 1
            else:
                if coord[i] == shape[i] - 1:
                    continue
                m = n
                st = strides[i]
            acc = 0.0
            accd = 0.0
            for j in range(base, base + m):
                v, g = _pair_ds(kind, s, x[j], x[j + st], y[j], y[j + st])
                acc += v
                accd += g
            out[i] += acc
            out_ds[i] += accd
        _next_row(coord, shape)


@njit(**_JIT)
def _grad_run(x, y, lo, hi, m, kind, s, c, grad, buf):
    """Add c * d|sig(s dx) - sig(s dy)|/d dx at hi, subtract it at lo, for k < m."""
    for c0 in range(0, m, BLOCK):
        mc = min(BLOCK, m - c0)
        x0 = x[lo + c0:lo + c0 + mc]
        x1 = x[hi + c0:hi + c0 + mc]
        y0 = y[lo + c0:lo + c0 + mc]
        y1 = y[hi + c0:hi + c0 + mc]
        for k in range(mc):
            zx = s * (np.float64(x1[k]) - np.float64(x0[k]))
            zy = s * (np.float64(y1[k]) - np.float64(y0[k]))
            if kind == TANH:
                a = _tanh(zx)
                b = _tanh(zy)
                da = 1.0 - a * a
            else:
                a = zx / (1.0 + abs(zx))
                b = zy / (1.0 + abs(zy))
                t = 1.0 + abs(zx)
                da = 1.0 / (t * t)
            # sign(a - b) * s * sig'(zx); 0 where a == b (subgradient)
            sg = np.float64(a > b) - np.float64(a < b)
            buf[k] = c * s * sg * da
        g_hi = grad[hi + c0:hi + c0 + mc]
        g_lo = grad[lo + c0:lo + c0 + mc]
        for k in range(mc):
            g_hi[k] += buf[k]
            g_lo[k] -= buf[k]


@njit(**_JIT)
def smooth_grad(x, y, shape, coef, kind, s, grad):
    """Add sum_i coef[i] * d sum |sig(s dX_i) - sig(s dY_i)| / dx to ``grad`` (flat, float64).

    ``coef`` (float64, (d,)) is 0 for inactive axes.
    """
    d = shape.shape[0]
    strides, total = _c_strides(shape)
    n = shape[d - 1]
    nrows = total // n
    coord = np.zeros(d, np.int64)
    last = d - 1
    buf = np.empty(min(n, BLOCK), np.float64)
    for r in range(nrows):
        base = r * n
        if coef[last] != 0.0 and n > 1:
            _grad_run(x, y, base, base + 1, n - 1, kind, s, coef[last], grad, buf)
        for i in range(last):
            if coef[i] == 0.0 or coord[i] == shape[i] - 1:
                continue
            _grad_run(x, y, base, base + strides[i], n, kind, s, coef[i], grad, buf)
        _next_row(coord, shape)

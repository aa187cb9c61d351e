"""Fused Numba kernels of the directional sign loss (topoeval.dsl).

All kernels take the two inputs as flat 1-D views of C-ordered arrays together
with the C-order ``shape`` (int64, (d,)).  They walk the array once, in cache
blocks of its trailing axes (see "iteration plan" below): every axis is handled
while a block of both inputs is in cache, so each input is read from memory
about once in total, whatever the number of axes, and no temporary of the
input's size is created (the smooth kernels use one buffer of at most ``BLOCK``
values).  The inner loops are long runs of contiguous comparisons.

``active`` (int8, (d,)) switches axes on (1) or off (0): the batch axis and
axes of weight 0 are off.  ``batch`` is the C-order position of the batch axis
(never the last one; the caller reorders) or -1; per-sample results go to column
``coord[batch]`` of ``out``.

Sign functions (``kind``): 1 = tanh, 2 = softsign z / (1 + |z|).  The exact
kernels count *half* mismatches as integers: |sign a - sign b| is 0, 1 or 2, so
the exact loss is ``count / 2`` without rounding error; signs are found by
comparisons (no subtraction), exact for every dtype.  The smooth tanh sums
(:func:`smooth_sums`, kind 1) compute in the inputs' precision, as NumPy's formula does:
float32 pairs in float32 (differences, sharpness product, tanh, per-term |difference|; 16
float32 lanes of the vector unit instead of 8 float64 ones, LLVM picks the width) with the
terms summed in float64; every other dtype in float64 (bit for bit as before).  The float32
error of a term is a few float32 ulps of its two tanh values (<= 2 ulp per tanh), so a sum is
within about 2**-21 * sum(|tanh a| + |tanh b|) of the float64 one (relative ~1e-6 unless the
two inputs nearly agree everywhere); cast to float64 for float64 accuracy.  The softsign sums,
the derivative in s (:func:`smooth_sums_ds`) and the gradient (:func:`smooth_grad`) stay in
float64 for every dtype.

Speed notes: inner loops run over contiguous slices (non-negative indices, so
LLVM vectorises them); ``error_model="numpy"`` removes Python's division-by-zero
checks, which would block vectorisation (this changes no finite result and keeps
IEEE inf/NaN semantics -- it is not fastmath).  ``_tanh_half_nd`` is a branch-free
float64 tanh (<= 4 ulp from NumPy's over the whole range; ``_tanh_half_nd32`` its float32
twin, <= 2 ulp) that vectorises, unlike the libm call, uses FMAs where the CPU has them (``_fmuladd``), and returns a fraction so that
|tanh a - tanh b| needs one division.  Each kernel calls its run loop from one place
(:func:`_axis_runs` describes every axis alike) and the small helpers are inlined, so Numba
compiles one signature per kernel and no separate helper module (first-run compile time).
Floating-point sums are taken in a fixed order (8 interleaved partial sums), so
results are deterministic.
"""

from __future__ import annotations

import math

import llvmlite.ir as llvm_ir
import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

TANH = 1
SOFTSIGN = 2
#: Elements per chunk of the smooth kernels' buffer (a multiple of 32: see _tanh_chunk32).
BLOCK = 2048
#: Length of smooth_sums' scratch buffer: a chunk and the fold's padding to 8.
BUF = BLOCK + 8
#: Target number of elements per cache block of the iteration plan.
LBLOCK = 1 << 16

_JIT = dict(cache=True, nogil=True, error_model="numpy")
# helpers are inlined at Numba IR level: element-wise ones so that the loops calling them
# vectorise, the others so that Numba does not compile (and cache) each on its own first --
# a separate dispatcher costs 0.1-0.5 s of first-run compile time even for a few lines
_INLINE = dict(_JIT, inline="always")


@intrinsic
def _f64_from_bits(typingctx, bits):
    """Reinterpret the bits of an int64 as a float64 (used to build 2**k)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.DoubleType())

    return sig, codegen


@intrinsic
def _bits_of(typingctx, x):
    """The bits of a float64 as an int64."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.IntType(64))

    return sig, codegen


@intrinsic
def _fmuladd(typingctx, a, b, c):
    """a * b + c, fused into one FMA where the CPU has one (LLVM's fmuladd), else mul + add.

    Not fastmath: each call is either exactly rounded once or twice, never reassociated, and
    inf/NaN keep their IEEE meaning.  The choice is fixed per machine (Numba compiles for the
    host), so results are deterministic on a machine and may differ in the last bit across CPUs.
    """
    if a not in (types.float32, types.float64) or b != a or c != a:
        return None  # float32 or float64, all three alike (constants typed as np.float32 globals)
    sig = a(a, a, a)

    def codegen(context, builder, signature, args):
        d = context.get_value_type(a)
        fn = builder.module.declare_intrinsic("llvm.fmuladd", [d], llvm_ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)

    return sig, codegen


@intrinsic
def _pow2_f32(typingctx, t):
    """2**k as a float32 from t = 1.5 * 2**23 + k (k in the low mantissa bits): int32 bit arithmetic."""
    sig = types.float32(types.float32)

    def codegen(context, builder, signature, args):
        i32 = llvm_ir.IntType(32)
        bits = builder.bitcast(args[0], i32)
        e = builder.shl(builder.add(bits, llvm_ir.Constant(i32, 127)), llvm_ir.Constant(i32, 23))
        return builder.bitcast(e, llvm_ir.FloatType())

    return sig, codegen


_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453  # one constant is enough: see _tanh_half_nd
_SHIFT = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer held in the low mantissa bits
# [6/6] Pade approximant of e**r = (E + O) / (E - O), both scaled by 2 (exact) so that O starts with r
_E6, _E4, _E2 = 2.0 / 665280.0, 2.0 / 792.0, 10.0 / 44.0
_O5, _O3 = 2.0 / 15840.0, 2.0 / 66.0


@njit(**_INLINE)
def _tanh_half_nd(z):
    """tanh(z / 2) as a fraction (num, den) with den > 0, so that callers can share one division.

    The kernels pass z = 2 s d (the factor 2 folded into the sharpness, exact).  One branch-free
    path for every z (LLVM vectorises it; libm's tanh is a call per value): with
    w = min(|z|, 40) (tanh(20) rounds to 1; NaN stays NaN), w = k ln 2 + r, |r| <= ln 2 / 2,
    k = round(w / ln 2) found by the 1.5 * 2**52 shifter (no float -> int conversion, which AVX2
    lacks for int64), e**r = P / Q with P = E + O, Q = E - O the [6/6] Pade approximant
    (relative error < 2e-19 on that range; E even, O odd, by Horner's scheme in r**2: fewest
    operations), and tanh(w / 2) = (2**k P - Q) / (2**k P + Q) with the numerator written as
    (2**k - 1) P + 2 O: for k = 0 it is 2 O exactly, so tiny and subnormal z come out exact
    (no cancellation near 0); the sign is copied from z (tanh(-0.0) = -0.0).  ln 2 is one
    constant (no Cody-Waite pair): its error k * 2.3e-17 in r moves tanh by at most
    k * 2.3e-17 * 2 e**-w, far below an ulp.  Error against np.tanh: <= 4 ulp over the whole
    range (tests/test_dsl.py measures it).  Speed: this, not memory, bounds the smooth DSL, and
    its loop is limited by the operations in flight more than by the FMA units, so every
    operation counts.
    """
    a = abs(z)
    w = 40.0 if a > 40.0 else a
    t = _fmuladd(w, _LOG2E, _SHIFT)
    r = _fmuladd(t - _SHIFT, -_LN2, w)  # t - _SHIFT = k exactly
    u = r * r
    # Horner in u: one multiply fewer than Estrin (r**4); measured no slower (the loop keeps
    # several iterations in flight, so the longer chain is hidden)
    e = _fmuladd(u, _fmuladd(u, _fmuladd(u, _E6, _E4), _E2), 2.0)
    o = _fmuladd(r * u, _fmuladd(u, _O5, _O3), r)
    pk = _f64_from_bits((_bits_of(t) + 1023) << 52)  # 2**k: k sits in the low bits of t
    p = e + o
    return math.copysign(_fmuladd(pk - 1.0, p, o + o), z), _fmuladd(pk, p, e - o)


# float32 constants: np.float32 globals (a Python float would promote the arithmetic to float64)
_F32 = np.float32
_W32 = _F32(20.0)  # tanh(10) rounds to 1 in float32
_LOG2E32 = _F32(1.4426950408889634)
_LN232 = _F32(0.6931471805599453)  # one constant: see _tanh_half_nd32
_SHIFT32 = _F32(12582912.0)  # 1.5 * 2**23
# [4/4] Pade approximant of e**r = (E + O) / (E - O), scaled by 2: E = 2 + 3 r**2 / 14 + r**4 / 840,
# O = r + r**3 / 42
_E2_32 = _F32(3.0 / 14.0)
_E4_32 = _F32(1.0 / 840.0)
_O3_32 = _F32(1.0 / 42.0)
_HALF32 = _F32(0.5)
_ONE32 = _F32(1.0)
_TWO32 = _F32(2.0)


@njit(**_INLINE)
def _tanh_half_nd32(z):
    """float32 twin of :func:`_tanh_half_nd`: tanh(z / 2) as (num, den), den > 0, all in float32.

    Same scheme with w = min(|z|, 20), but k = floor(w / ln 2) (so r = w - k ln 2 is in
    [0, ln 2) and every term of the numerator (2**k - 1) P + 2 O is >= 0: no cancellation,
    which cost 3 ulp with k = round(.)) and the [4/4] Pade approximant of e**r (relative error
    < 2e-12 on [0, ln 2)).  ln 2 is one float32 constant: its error 1.9e-9 * k in r moves
    tanh(w / 2) by at most 1.9e-9 * k * (1 - tanh**2) / 2, under 0.05 ulp for every k.
    den = num + 2 Q (adds instead of an FMA: the loop is bound by the FMA ports).  Error against
    float64 tanh rounded to float32: <= 2 ulp over the whole range (tests/test_dsl.py measures
    it; NumPy's float32 tanh: 1 ulp).  Every operand is float32, so LLVM uses 16 lanes per zmm.
    """
    a = abs(z)
    w = _W32 if a > _W32 else a
    t = _fmuladd(w, _LOG2E32, -_HALF32) + _SHIFT32  # k = floor(w / ln 2): r >= 0, so O >= 0
    k = t - _SHIFT32
    r = _fmuladd(k, -_LN232, w)
    u = r * r
    e = _fmuladd(u, _fmuladd(u, _E4_32, _E2_32), _TWO32)
    o = _fmuladd(r * u, _O3_32, r)
    pk = _pow2_f32(t)
    p = e + o
    num = _fmuladd(pk - _ONE32, p, o + o)
    q = e - o
    return math.copysign(num, z), num + (q + q)  # den = 2**k P + Q = num + 2 Q: adds, not FMAs


@njit(**_INLINE)
def _tanh32(z):
    num, den = _tanh_half_nd32(_TWO32 * z)
    return num / den


@njit(**_JIT)
def tanh_array32(z, out):
    """out[k] = tanh(z[k]) with the kernels' float32 tanh (float32 arrays; for tests)."""
    for k in range(z.shape[0]):
        out[k] = _tanh32(z[k])


@njit(**_INLINE)
def _tanh(z):
    num, den = _tanh_half_nd(2.0 * z)
    return num / den


@njit(**_JIT)
def tanh_array(z, out):
    """out[k] = tanh(z[k]) with the kernels' tanh (for tests)."""
    for k in range(z.shape[0]):
        out[k] = _tanh(z[k])


@njit(**_INLINE)
def _sig(kind, z):
    if kind == TANH:
        return _tanh(z)
    return z / (1.0 + abs(z))


@njit(**_INLINE)
def _dsig(kind, z, sz):
    """Derivative of the sign function at ``z`` given ``sz = sig(z)``."""
    if kind == TANH:
        return 1.0 - sz * sz
    a = 1.0 + abs(z)
    return 1.0 / (a * a)


@njit(**_INLINE)
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



@njit(**_INLINE)
def _fold_sum(b, m):
    """Sum of b[:m] by folding halves (fixed order: deterministic); overwrites b[:m + 7].

    Each fold adds the upper part into the lower one element by element, which LLVM vectorises
    (an ordered sum like :func:`_sum8` stays scalar: no reassociation without fastmath); the
    order is pairwise, so it is also more accurate.  ``b`` must hold ``m`` rounded up to 8.
    """
    w = (m + 7) & ~7
    for k in range(m, w):
        b[k] = 0.0
    while w > 8:
        h = ((w + 15) >> 4) << 3  # a multiple of 8, at least w - h: the parts do not overlap
        lo = b[:w - h]
        hi = b[h:w]
        for j in range(w - h):
            lo[j] += hi[j]
        w = h
    return ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]))


@njit(**_INLINE)
def _c_strides(shape):
    d = shape.shape[0]
    strides = np.empty(d, np.int64)
    s = 1
    for i in range(d - 1, -1, -1):
        strides[i] = s
        s *= shape[i]
    return strides, s


@njit(**_INLINE)
def _layout(shape, work):
    """C strides into ``work[:d]``, a zeroed block index in ``work[d:2d]``: (strides, coord, size).

    The caller's int64 scratch array instead of np.empty/np.zeros in the kernel: each such
    call makes Numba compile its allocation helpers again for that kernel (about 0.2 s of the
    first run per kernel).
    """
    d = shape.shape[0]
    strides = work[:d]
    coord = work[d:2 * d]
    s = 1
    for i in range(d - 1, -1, -1):
        strides[i] = s
        coord[i] = 0
        s *= shape[i]
    return strides, coord, s


# ----------------------------------------------------------------------------- iteration plan
#
# The array (C order, shape (n_0, ..., n_{d-1})) is cut into blocks of the trailing axes q..d-1
# (B = n_q * ... * n_{d-1} elements, at most about LBLOCK unless the last axis alone is longer)
# so that a block of both inputs stays in cache while every axis is processed:
#   - an axis i < q compares the block with the block one step further along i: one run of B;
#   - an inner axis q <= i < d-1 with stride st: runs of (n_i - 1) * st contiguous pairs;
#   - the last axis: one run of B - 1 pairs, minus the pairs that straddle two rows.
# The batch axis is always < q, so a block belongs to one sample.


@njit(**_INLINE)
def _plan(shape, batch):
    """Return (q, B): blocks are the trailing axes q..d-1, B elements each."""
    d = shape.shape[0]
    q = d - 1
    size = shape[d - 1]
    while q > 0 and size * shape[q - 1] <= LBLOCK:
        q -= 1
        size *= shape[q]
    if batch >= q:
        q = batch + 1
        size = 1
        for i in range(q, d):
            size *= shape[i]
    return q, size


@njit(**_INLINE)
def _next_block(coord, shape, q):
    """Advance the multi-index ``coord`` of the axes 0..q-1 in C order."""
    j = q - 1
    while j >= 0:
        coord[j] += 1
        if coord[j] < shape[j]:
            return
        coord[j] = 0
        j -= 1


@njit(**_INLINE)
def _finite_pair(x, y, lo, m):
    """True when x[lo:lo+m] and y[lo:lo+m] hold no NaN and no +-inf (integers: always).

    One loop for both inputs (one loop copy to compile per kernel).
    """
    v = x[lo:lo + m]
    u = y[lo:lo + m]
    bad = 0
    for k in range(m):  # inf - inf and NaN - NaN are NaN
        bad |= np.int64((v[k] - v[k]) != 0) | np.int64((u[k] - u[k]) != 0)
    return bad == 0


# ----------------------------------------------------------------------------- exact


@njit(**_INLINE)
def _half(x0, x1, y0, y1):
    """|sign(x1 - x0) - sign(y1 - y0)| in {0, 1, 2}, by comparisons (no overflow, exact)."""
    return np.int64((x1 > x0) != (y1 > y0)) + np.int64((x1 < x0) != (y1 < y0))


@njit(**_INLINE)
def _exact_run(x, y, lo, hi, m):
    """sum_k |sign(x[hi+k] - x[lo+k]) - sign(y[hi+k] - y[lo+k])| for k < m (int64)."""
    x0 = x[lo:lo + m]
    x1 = x[hi:hi + m]
    y0 = y[lo:lo + m]
    y1 = y[hi:hi + m]
    acc = 0
    for k in range(m):
        # |sign a - sign b| = [a > 0 differs] + [a < 0 differs]
        acc += np.int64((x1[k] > x0[k]) != (y1[k] > y0[k])) + np.int64((x1[k] < x0[k]) != (y1[k] < y0[k]))
    return acc


@njit(**_INLINE)
def _exact_last(x, y, base, size, n, check):
    """Pairs along the last axis (row length n) inside the block [base, base + size).

    Returns (count, finite): the finiteness of the whole block is tested in the same loop
    (x0, y0 cover all cells but the last, which is tested on its own); ``finite`` is True
    when ``check`` is false.  One loop whatever ``check``: for integers the test folds away
    (v - v is 0), and floats are always checked, so a second, unchecked copy would only add
    compile time.
    """
    m = size - 1
    x0 = x[base:base + m]
    x1 = x[base + 1:base + size]
    y0 = y[base:base + m]
    y1 = y[base + 1:base + size]
    acc = 0
    bad = 0
    for k in range(m):
        acc += np.int64((x1[k] > x0[k]) != (y1[k] > y0[k])) + np.int64((x1[k] < x0[k]) != (y1[k] < y0[k]))
        bad |= np.int64((x0[k] - x0[k]) != 0) | np.int64((y0[k] - y0[k]) != 0)
    j = base + m
    bad |= np.int64((x[j] - x[j]) != 0) | np.int64((y[j] - y[j]) != 0)
    for k in range(base + n - 1, base + size - 1, n):  # pairs straddling two rows
        acc -= _half(x[k], x[k + 1], y[k], y[k + 1])
    return acc, bad == 0 or not check


@njit(**_JIT)
def exact_counts(x, y, shape, active, batch, check, out, work):
    """Add the numbers of half mismatches per axis and sample to ``out`` (int64, (d, nb)).

    ``batch`` must not be the last axis (the caller moves it).  With ``check`` true every
    block is first checked for NaN/inf while it is in cache; returns False (and stops)
    at the first non-finite value, True otherwise.  ``work``: int64 scratch, (2 d,).
    """
    d = shape.shape[0]
    strides, coord, total = _layout(shape, work)
    q, size = _plan(shape, batch)
    n = shape[d - 1]
    for blk in range(total // size):
        base = blk * size
        b = coord[batch] if batch >= 0 else 0
        if active[d - 1] and n > 1:  # first, so that its loop also does the finiteness check
            c, ok = _exact_last(x, y, base, size, n, check)
            if not ok:
                return False
            out[d - 1, b] += c
        elif check and not _finite_pair(x, y, base, size):
            return False
        for i in range(d - 1):
            st, seg, m, _ = _axis_runs(i, q, d, coord, shape, strides, size)
            if active[i] and m > 0:
                for p in range(base, base + size, seg):
                    out[i, b] += _exact_run(x, y, p, p + st, m)
        _next_block(coord, shape, q)
    return True


@njit(**_JIT)
def _map_run(x, y, lo, hi, m, o):
    x0 = x[lo:lo + m]
    x1 = x[hi:hi + m]
    y0 = y[lo:lo + m]
    y1 = y[hi:hi + m]
    for k in range(m):
        o[k] = 0.5 * (np.int64((x1[k] > x0[k]) != (y1[k] > y0[k]))
                      + np.int64((x1[k] < x0[k]) != (y1[k] < y0[k])))


@njit(**_JIT)
def exact_map(x, y, shape, active, out):
    """Write |sign dX - sign dY| / 2 of axis i at cell k into out[i, k] (out zeroed, (d, size))."""
    d = shape.shape[0]
    strides, total = _c_strides(shape)
    q, size = _plan(shape, -1)
    n = shape[d - 1]
    coord = np.zeros(d, np.int64)
    for blk in range(total // size):
        base = blk * size
        for i in range(q):
            if active[i] and coord[i] < shape[i] - 1:
                _map_run(x, y, base, base + strides[i], size, out[i, base:base + size])
        for i in range(q, d - 1):
            if active[i] and shape[i] > 1:
                st = strides[i]
                seg = shape[i] * st
                for p in range(base, base + size, seg):
                    _map_run(x, y, p, p + st, seg - st, out[i, p:p + seg - st])
        if active[d - 1] and n > 1:
            _map_run(x, y, base, base + 1, size - 1, out[d - 1, base:base + size - 1])
            for k in range(base + n - 1, base + size, n):  # last cell of each row: 0
                out[d - 1, k] = 0.0
        _next_block(coord, shape, q)


# ----------------------------------------------------------------------------- smooth


@njit(**_INLINE)
def _axis_runs(i, q, d, coord, shape, strides, size):
    """How axis ``i`` is walked inside the block: (step, segment, length, row); length 0: no pair.

    The pairs are the runs [p, p + length) against [p + step, ...) for p = base, base +
    segment, ... < base + size; ``row > 0`` marks the last axis, whose pairs straddling two
    rows (every row-th) are dropped.  One description for all axes, so each kernel has a
    single call site of its run loop (one copy to compile).
    """
    if i < q:  # the block against the block one step further along i
        return strides[i], size, size if coord[i] < shape[i] - 1 else 0, 0
    if i < d - 1:  # runs of (n_i - 1) * stride contiguous pairs
        seg = shape[i] * strides[i]
        return strides[i], seg, seg - strides[i], 0
    return 1, size, size - 1, shape[d - 1]


def _tanh_chunk(x0, x1, y0, y1, s2, buf, buf32, c, mc, row):
    """sum_k |tanh(s (x1[k] - x0[k])) - tanh(s (y1[k] - y0[k]))| for k < mc, s2 = 2 s (float64).

    Typed per dtype at compile time (:func:`_tanh_chunk_typed`; one overload, so one extra
    compile unit, not one per helper): float32 pairs in float32 (like NumPy's formula on
    float32 data; :func:`_tanh_chunk32`), everything else in float64 (:func:`_tanh_chunk64`,
    the float64 kernel as before, bit for bit).  ``row > 0``: the pairs with
    (c + k + 1) % row == 0 straddle two rows and are dropped.  Sums in float64, fixed order.
    """
    raise NotImplementedError  # only called from jitted code


def _tanh_chunk64(x0, x1, y0, y1, s2, buf, buf32, c, mc, row):
    # |nx / dx - ny / dy| with one division (dx, dy > 0); copysign(., 1) is an abs() that LLVM
    # vectorises.  One term per iteration: splitting the chunk into two interleaved halves ran
    # 6 % (idle) to 15 % (loaded) faster but doubled this kernel's first-run compile time
    for k in range(mc):
        nx, dx = _tanh_half_nd(s2 * (np.float64(x1[k]) - np.float64(x0[k])))
        ny, dy = _tanh_half_nd(s2 * (np.float64(y1[k]) - np.float64(y0[k])))
        buf[k] = math.copysign(nx * dy - ny * dx, 1.0) / (dx * dy)
    if row > 0:
        for k in range((c // row + 1) * row - 1 - c, mc, row):
            buf[k] = 0.0
    return _fold_sum(buf, mc)


@njit(**_JIT)
def _tanh_chunk32(x0, x1, y0, y1, s2, buf, buf32, c, mc, row):
    # the terms go to the float32 buffer: a float64 store in the same loop makes LLVM pick 8
    # lanes (the widest type decides), float32 alone gives 16 per zmm register.  The sum widens
    # and adds the four quarters of buf32 (padded with zeros to a multiple of 32; BLOCK is one)
    # in one pass, buf[j] = (t[j] + t[j + h]) + (t[j + 2h] + t[j + 3h]), then folds those h
    # values: the plain widen-then-fold was a third of the kernel's time (7.4 -> 6.0 ms at
    # 64x8x64x64)
    s2f = np.float32(s2)  # as NumPy's float32 s * dx (2 s is exact in float32 too)
    for k in range(mc):
        nx, dx = _tanh_half_nd32(s2f * (x1[k] - x0[k]))
        ny, dy = _tanh_half_nd32(s2f * (y1[k] - y0[k]))
        buf32[k] = math.copysign(nx * dy - ny * dx, _ONE32) / (dx * dy)
    if row > 0:
        for k in range((c // row + 1) * row - 1 - c, mc, row):
            buf32[k] = 0.0
    w = (mc + 31) & ~31
    for k in range(mc, w):
        buf32[k] = 0.0
    h = w >> 2
    t0 = buf32[:h]
    t1 = buf32[h:2 * h]
    t2 = buf32[2 * h:3 * h]
    t3 = buf32[3 * h:w]
    for j in range(h):
        buf[j] = (np.float64(t0[j]) + np.float64(t1[j])) + (np.float64(t2[j]) + np.float64(t3[j]))
    return _fold_sum(buf, h)


@overload(_tanh_chunk, inline="always")
def _tanh_chunk_typed(x0, x1, y0, y1, s2, buf, buf32, c, mc, row):
    if x0.dtype == types.float32 and y0.dtype == types.float32:
        # a call, not inlined: compiled once (its own cached function) instead of once for the
        # overload's typing and again inside smooth_sums (first-run compile time); one call per
        # chunk of BLOCK terms costs nothing measurable
        def call32(x0, x1, y0, y1, s2, buf, buf32, c, mc, row):
            return _tanh_chunk32(x0, x1, y0, y1, s2, buf, buf32, c, mc, row)
        return call32
    return _tanh_chunk64


@njit(**_INLINE)
def _smooth_run(x, y, lo, hi, m, kind, s, buf, buf32, row):
    """sum_k |sig(s (x[hi+k] - x[lo+k])) - sig(s (y[hi+k] - y[lo+k]))| for k < m.

    ``row > 0``: skip the pairs with (k + 1) % row == 0 (they straddle two rows).  Inlined at
    its one call site (smooth_sums); each chunk of ``BLOCK`` terms is summed in float64 in a
    fixed order (:func:`_fold_sum`; tanh: :func:`_tanh_chunk`).
    """
    total = 0.0
    s2 = 2.0 * s  # _tanh_half_nd(2 s d) = tanh(s d); the doubling is exact
    for c in range(0, m, BLOCK):
        mc = BLOCK if m - c > BLOCK else m - c  # (min() is one more Numba helper)
        x0 = x[lo + c:lo + c + mc]
        x1 = x[hi + c:hi + c + mc]
        y0 = y[lo + c:lo + c + mc]
        y1 = y[hi + c:hi + c + mc]
        if kind == TANH:
            total += _tanh_chunk(x0, x1, y0, y1, s2, buf, buf32, c, mc, row)
        else:
            for k in range(mc):
                dx = s * (np.float64(x1[k]) - np.float64(x0[k]))
                dy = s * (np.float64(y1[k]) - np.float64(y0[k]))
                buf[k] = abs(dx / (1.0 + abs(dx)) - dy / (1.0 + abs(dy)))
            if row > 0:
                for k in range((c // row + 1) * row - 1 - c, mc, row):
                    buf[k] = 0.0
            total += _fold_sum(buf, mc)
    return total


@njit(**_JIT)
def smooth_sums(x, y, shape, active, batch, kind, s, check, out, work, buf, buf32):
    """Add sum |sig(s dX) - sig(s dY)| per axis and sample to ``out`` (float64, (d, nb)).

    ``batch`` must not be the last axis (the caller moves it).  ``check`` and the
    returned flag as in :func:`exact_counts`.  Scratch: ``work`` int64 (2 d,), ``buf``
    float64 (BUF,), ``buf32`` float32 (BLOCK,) (the tanh terms of float32 pairs).
    """
    d = shape.shape[0]
    strides, coord, total = _layout(shape, work)
    q, size = _plan(shape, batch)
    for blk in range(total // size):
        base = blk * size
        if check and not _finite_pair(x, y, base, size):
            return False
        b = coord[batch] if batch >= 0 else 0
        for i in range(d):
            st, seg, m, row = _axis_runs(i, q, d, coord, shape, strides, size)
            if active[i] and m > 0:
                for p in range(base, base + size, seg):
                    out[i, b] += _smooth_run(x, y, p, p + st, m, kind, s, buf, buf32, row)
        _next_block(coord, shape, q)
    return True


@njit(**_JIT)
def _smooth_ds_run(x, y, lo, hi, m, kind, s, buf, bufd, row):
    """(sum_k |sig(s dx_k) - sig(s dy_k)|, its derivative in s), as _smooth_run."""
    total = 0.0
    total_d = 0.0
    for c in range(0, m, BLOCK):
        mc = min(BLOCK, m - c)
        x0 = x[lo + c:lo + c + mc]
        x1 = x[hi + c:hi + c + mc]
        y0 = y[lo + c:lo + c + mc]
        y1 = y[hi + c:hi + c + mc]
        for k in range(mc):
            dx = np.float64(x1[k]) - np.float64(x0[k])
            dy = np.float64(y1[k]) - np.float64(y0[k])
            zx = s * dx
            zy = s * dy
            a = _sig(kind, zx)
            bb = _sig(kind, zy)
            sg = np.float64(a > bb) - np.float64(a < bb)
            buf[k] = abs(a - bb)
            bufd[k] = sg * (_dsig(kind, zx, a) * dx - _dsig(kind, zy, bb) * dy)
        if row > 0:
            for k in range((c // row + 1) * row - 1 - c, mc, row):
                buf[k] = 0.0
                bufd[k] = 0.0
        total += _sum8(buf, mc)
        total_d += _sum8(bufd, mc)
    return total, total_d


@njit(**_JIT)
def smooth_sums_ds(x, y, shape, active, kind, s, out, out_ds):
    """Add sum |sig(s dX) - sig(s dY)| and its derivative in s per axis to out, out_ds ((d,))."""
    d = shape.shape[0]
    strides, total = _c_strides(shape)
    q, size = _plan(shape, -1)
    n = shape[d - 1]
    coord = np.zeros(d, np.int64)
    buf = np.empty(min(size, BLOCK), np.float64)
    bufd = np.empty(min(size, BLOCK), np.float64)
    for blk in range(total // size):
        base = blk * size
        for i in range(d):
            if not active[i]:
                continue
            if i < q:
                if coord[i] < shape[i] - 1:
                    v, g = _smooth_ds_run(x, y, base, base + strides[i], size, kind, s, buf, bufd, 0)
                    out[i] += v
                    out_ds[i] += g
            elif i < d - 1:
                st = strides[i]
                seg = shape[i] * st
                for p in range(base, base + size, seg):
                    v, g = _smooth_ds_run(x, y, p, p + st, seg - st, kind, s, buf, bufd, 0)
                    out[i] += v
                    out_ds[i] += g
            elif n > 1:
                v, g = _smooth_ds_run(x, y, base, base + 1, size - 1, kind, s, buf, bufd, n)
                out[i] += v
                out_ds[i] += g
        _next_block(coord, shape, q)


@njit(**_JIT)
def _grad_run(x, y, lo, hi, m, kind, s, c, grad, buf, row):
    """Add c * d|sig(s dx) - sig(s dy)|/d dx at hi + k, subtract it at lo + k, for k < m.

    ``row > 0``: skip the pairs with (k + 1) % row == 0 (they straddle two rows).
    """
    for c0 in range(0, m, BLOCK):
        mc = min(BLOCK, m - c0)
        x0 = x[lo + c0:lo + c0 + mc]
        x1 = x[hi + c0:hi + c0 + mc]
        y0 = y[lo + c0:lo + c0 + mc]
        y1 = y[hi + c0:hi + c0 + mc]
        if kind == TANH:
            s2 = 2.0 * s  # _tanh_half_nd(2 s d) = tanh(s d)
            for k in range(mc):
                nx, dx = _tanh_half_nd(s2 * (np.float64(x1[k]) - np.float64(x0[k])))
                ny, dy = _tanh_half_nd(s2 * (np.float64(y1[k]) - np.float64(y0[k])))
                # sign(a - b) * s * (1 - a^2) with a = nx / dx, b = ny / dy (dx, dy > 0);
                # 0 where a == b (subgradient)
                t = nx * dy - ny * dx
                buf[k] = c * s * (np.float64(t > 0.0) - np.float64(t < 0.0)) * ((dx - nx) * (dx + nx) / (dx * dx))
        else:
            for k in range(mc):
                zx = s * (np.float64(x1[k]) - np.float64(x0[k]))
                zy = s * (np.float64(y1[k]) - np.float64(y0[k]))
                a = zx / (1.0 + abs(zx))
                b = zy / (1.0 + abs(zy))
                t = 1.0 + abs(zx)
                buf[k] = c * s * (np.float64(a > b) - np.float64(a < b)) / (t * t)
        if row > 0:
            for k in range((c0 // row + 1) * row - 1 - c0, mc, row):
                buf[k] = 0.0
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
    q, size = _plan(shape, -1)
    n = shape[d - 1]
    coord = np.zeros(d, np.int64)
    buf = np.empty(min(size, BLOCK), np.float64)
    for blk in range(total // size):
        base = blk * size
        for i in range(q):
            if coef[i] != 0.0 and coord[i] < shape[i] - 1:
                _grad_run(x, y, base, base + strides[i], size, kind, s, coef[i], grad, buf, 0)
        for i in range(q, d - 1):
            if coef[i] != 0.0 and shape[i] > 1:
                st = strides[i]
                seg = shape[i] * st
                for p in range(base, base + size, seg):
                    _grad_run(x, y, p, p + st, seg - st, kind, s, coef[i], grad, buf, 0)
        if coef[d - 1] != 0.0 and n > 1:
            _grad_run(x, y, base, base + 1, size - 1, kind, s, coef[d - 1], grad, buf, n)
        _next_block(coord, shape, q)

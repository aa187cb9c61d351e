"""Numba kernels of the 0-D persistence engine (private).

Two steps:

1. :func:`radix_sort_cells` orders the cells by (value, C-order flat index) with a radix
   sort (one out-of-cache pass into buckets, each finished in cache) and returns their
   *storage indices*.
2. :func:`union_find_padded` walks the cells in that order with a union-find (elder rule)
   and returns the critical cells of every class.

Storage layout (built by ``topoeval.persistence._Layout``): the array with a one-cell
frame around it on every (non-singleton) axis, so the neighbours of a cell are a table of
offsets and no bounds checks are needed; in 2-D and 3-D the cells are stored in bricks of
16 (4x4, 2x2x4 = one 64-byte line of int32), so the offset to a neighbour depends on the
position inside the brick (``storage & lmask``).  Frame cells are never active.

Union-find conventions (``parent`` is an int32 or int64 array over the storage):

* ``parent[p] == -1``      cell ``p`` is not (yet) in the filtration (frame, omitted, later);
* ``parent[p] <= -2``      ``p`` is a root; its component was the ``(-parent[p] - 2)``-th born,
  i.e. it stores ``-(birth slot + 2)``; slots increase with the birth rank, so the elder rule
  compares slots;
* ``parent[p] >= 0``       ``p`` is linked to ``parent[p]``.

The root of a component is always its birth cell (the younger root is linked under the
older one), so the birth cell of a dying component is its root.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


# Small helpers are inlined into their callers at Numba's IR level (inline="always"): a
# separately compiled helper costs its own typing, LLVM module and cache file on a first
# run (about 0.1-0.5 s each), and LLVM inlines them anyway.
@njit(cache=True, nogil=True, inline="always")
def _find(parent, p):
    """Root of ``p`` with path halving."""
    q = parent[p]
    while q >= 0:
        r = parent[q]
        if r < 0:
            return q
        parent[p] = r
        p = r
        q = parent[p]
    return p


@njit(cache=True, nogil=True, inline="always")
def _grow(buf, size):
    """``buf`` copied into a new array of at least ``size`` (twice its length) entries.

    A loop, not ``out[:n] = buf``: a slice assignment makes Numba compile its shape-mismatch
    error path (string formatting, about 1.5 s on a first run) into the caller.
    """
    out = np.empty(max(2 * buf.shape[0], size), dtype=buf.dtype)
    for i in range(buf.shape[0]):
        out[i] = buf[i]
    return out


_PREFETCH_AHEAD = 8  # prefetch the neighbourhood of the cell this many steps ahead


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Software prefetch (``llvm.prefetch``, read, high locality) of ``arr[idx]``."""
    if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
        return None
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(
            context, builder, aryty, ary, [args[1]], wraparound=False, boundscheck=False
        )
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def prefetch_neighbourhood(parent, pa, lmask, pf_offsets, P):
    """Prefetch the cache lines of the neighbourhood of storage index ``pa``."""
    la = pa & lmask
    for j in range(pf_offsets.shape[1]):
        t = pa + pf_offsets[la, j]
        if t >= 0 and t < P:
            _prefetch(parent, t)


@njit(cache=True, nogil=True)
def union_find_padded(order, n_active, parent, offsets, lmask, pf_offsets):
    """0-D persistence pairs by union-find over the cells in filtration order.

    A cell with no active neighbour is born (it gets the next birth slot; slots are
    handed out in filtration order, so classes come out in birth order and the
    never-dying ones need no separate scan); otherwise it joins the component of its
    first active neighbour and every other neighbouring component dies at it, younger
    root linked under the elder (path halving; the find is skipped when the neighbour
    is the current root or points at it).

    Parameters
    ----------
    order : (m,) int array
        Storage indices in filtration order; only the first ``n_active`` are used.
    n_active : int
        Number of cells in the filtration.
    parent : (P,) int array
        The storage, every entry ``-1`` on entry (overwritten).
    offsets : (m, k) int64 array
        Storage offsets of the ``k`` neighbours of a cell whose storage index ``p`` has
        ``p & lmask == l`` in row ``l`` (one row, ``lmask == 0``, for a plain padded grid;
        16 rows for the bricked layout).
    lmask : int
        Mask of the position inside a brick (0 without bricks).
    pf_offsets : (m, j) int64 array
        Offsets to prefetch around the cell ``_PREFETCH_AHEAD`` steps ahead (one per
        cache line its neighbourhood touches, roughly); may have no columns.

    Returns
    -------
    birth_cells, death_cells : (n_births,) int64 arrays
        Storage indices of the creating and killing cell of every class, in birth
        order; ``death_cells`` is ``-1`` for classes that never die.
    """
    k = offsets.shape[1]
    npf = pf_offsets.shape[1]
    cap = np.int64(1024)
    births = np.empty(cap, dtype=np.int64)
    deaths = np.empty(cap, dtype=np.int64)
    nb = 0
    P = parent.shape[0]
    act = np.empty(k, dtype=np.int64)
    for r in range(n_active):
        if npf > 0 and r + _PREFETCH_AHEAD < n_active:
            prefetch_neighbourhood(parent, np.int64(order[r + _PREFETCH_AHEAD]), lmask, pf_offsets, P)
        p = np.int64(order[r])
        lp = p & lmask
        root = np.int64(-1)
        # the active neighbours first, without branches (activity is unpredictable in
        # noise; it does not change while the cell is processed: roots store <= -2)
        na = 0
        for j in range(k):
            q = p + offsets[lp, j]
            act[na] = q
            na += np.int64(parent[q] != -1)
        for t in range(na):
            q = act[t]
            v = parent[q]
            if root >= 0 and (q == root or v == root):
                continue
            rq = q if v < 0 else _find(parent, q)
            if root < 0:
                root = rq
            elif rq != root:
                # elder rule: the component with the larger birth slot dies here
                if parent[rq] < parent[root]:
                    # rq stores -(slot+2) with the larger slot: rq is younger
                    deaths[-parent[rq] - 2] = p
                    parent[rq] = root
                else:
                    deaths[-parent[root] - 2] = p
                    parent[root] = rq
                    root = rq
        if root < 0:
            if nb == births.shape[0]:
                births = _grow(births, nb + 1)
                deaths = _grow(deaths, nb + 1)
            births[nb] = p
            deaths[nb] = -1
            parent[p] = -(nb + 2)
            nb += 1
        else:
            parent[p] = root
    return births[:nb].copy(), deaths[:nb].copy()


# ---------------------------------------------------------------- radix sort of the cells
_FINE_BITS = 16  # the first (out-of-cache) pass splits the key range into 2**16 equal bins
_BUCKET = 16384  # ... merged into buckets of about this many keys (12 B each: L2-resident)
_SUB_BITS = 14  # in-cache splits: up to 2**14 sub-ranges, about one key each
_SMALL = 16  # ranges (and sub-ranges) up to this size are finished by insertion sort
_NONFINITE_KEY = np.uint64(0xFFFFFFFFFFFFFFFF)


@intrinsic
def _f64_bits(typingctx, x):
    """The bit pattern of a float64 as a uint64 (a register bitcast)."""
    if not isinstance(x, types.Float) or x.bitwidth != 64:
        return None
    sig = types.uint64(x)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def _key(x, superlevel):
    """Order-preserving uint64 key of a value (non-finite values -> the largest key)."""
    v = np.float64(x)
    if superlevel:
        v = -v
    v = v + 0.0  # -0.0 -> 0.0: equal values get equal keys
    u = _f64_bits(v)
    if (u & np.uint64(0x7FF0000000000000)) == np.uint64(0x7FF0000000000000):
        return _NONFINITE_KEY
    # negative: flip every bit; positive: set the sign bit (branch-free)
    return u ^ ((np.uint64(0) - (u >> np.uint64(63))) | np.uint64(0x8000000000000000))


@njit(cache=True, nogil=True, inline="always")
def _row_start(ctr, tables):
    """Storage index of the first cell of the row at outer coordinates ``ctr``."""
    d = tables.shape[0]
    p = tables[d - 1, 0]
    for i in range(d - 1):
        p += tables[i, ctr[i]]
    return p


@njit(cache=True, nogil=True, inline="always")
def _next_row(ctr, core):
    """Advance the odometer over the outer axes (C order)."""
    i = core.shape[0] - 2
    while i >= 0:
        ctr[i] += 1
        if ctr[i] < core[i]:
            return
        ctr[i] = 0
        i -= 1


@njit(cache=True, nogil=True, inline="always")
def _insertion_sort(keys, pay, lo, hi):
    """Stable insertion sort of ``keys[lo:hi]`` (with ``pay``); linear on nearly sorted data."""
    for i in range(lo + 1, hi):
        k = keys[i]
        if keys[i - 1] <= k:
            continue
        p = pay[i]
        j = i - 1
        while j >= lo and keys[j] > k:
            keys[j + 1] = keys[j]
            pay[j + 1] = pay[j]
            j -= 1
        keys[j + 1] = k
        pay[j + 1] = p


@njit(cache=True, nogil=True, inline="always")
def _sort_range(keys, pay, kb, pb, lo0, hi0, stack, hist):
    """Stable sort of ``keys[lo0:hi0]`` (with ``pay``) in place, MSD radix on the key range.

    A range of ``m`` keys is split into about ``m`` sub-ranges of equal key width (up to
    ``2**_SUB_BITS``; the digit adapts to the range's own minimum and maximum, so no pass
    is spent on shared bits) by a scatter into the scratch ``kb``/``pb``.  If no sub-range
    holds more than ``_SMALL`` keys the scratch is then nearly sorted and one insertion
    sort pass finishes it; otherwise the sub-ranges are pushed on ``stack`` and finished
    the same way.  Called on buckets that fit in cache, so all of this is cache-resident.
    Inlined into :func:`radix_sort_cells`, with one insertion sort (one copy of its code).

    Returns the (possibly grown) stack.
    """
    stack[0, 0] = lo0
    stack[0, 1] = hi0
    sp = 1
    while sp > 0:
        sp -= 1
        lo = stack[sp, 0]
        hi = stack[sp, 1]
        m = hi - lo
        # what the insertion sort below finishes: the range itself, or its scatter
        ks, ps, a, e = keys, pay, lo, hi
        scattered = m > _SMALL
        if scattered:
            kmin = keys[lo]
            kmax = kmin
            for i in range(lo + 1, hi):
                k = keys[i]
                kmin = min(kmin, k)
                kmax = max(kmax, k)
            if kmin == kmax:
                continue  # all equal: already in (stable) order
            bits = 4
            while bits < _SUB_BITS and (np.int64(1) << bits) < m:
                bits += 1
            span = kmax - kmin
            shift = np.uint64(0)
            while (span >> shift) >= np.uint64(1 << bits):
                shift += np.uint64(1)
            nsub = np.int64(span >> shift) + 1
            for b in range(nsub + 1):
                hist[b] = 0
            for i in range(lo, hi):
                hist[np.int64((keys[i] - kmin) >> shift) + 1] += 1
            fat = 0
            for b in range(nsub):
                fat = max(fat, hist[b + 1])
                hist[b + 1] += hist[b]
            for i in range(lo, hi):
                k = keys[i]
                b = np.int64((k - kmin) >> shift)
                pos = hist[b]
                hist[b] = pos + 1
                kb[pos] = k
                pb[pos] = pay[i]
            if fat > _SMALL:
                for i in range(m):
                    keys[lo + i] = kb[i]
                    pay[lo + i] = pb[i]
                s = 0  # hist[b] is now the end of sub-range b
                for b in range(nsub):
                    e = hist[b]
                    if e - s > 1:
                        if sp == stack.shape[0]:  # grown by a loop (see _grow)
                            grown = np.empty((2 * sp, np.int64(2)), dtype=np.int64)
                            for t in range(sp):
                                grown[t, 0] = stack[t, 0]
                                grown[t, 1] = stack[t, 1]
                            stack = grown
                        stack[sp, 0] = lo + s
                        stack[sp, 1] = lo + e
                        sp += 1
                    s = e
                continue
            ks, ps, a, e = kb, pb, 0, m  # nearly sorted: finish the scatter
        _insertion_sort(ks, ps, a, e)
        if scattered:  # the keys of a finished range are not needed any more
            for i in range(m):
                pay[lo + i] = pb[i]
    return stack


@njit(cache=True, nogil=True)
def radix_sort_cells(src, superlevel, core, tables, bucket=_BUCKET):
    """Storage indices of the cells of ``src`` in filtration order (value, flat index).

    A radix sort of order-preserving uint64 keys (sign-adjusted float64 bit patterns) with
    the storage index as payload, MSD first so that the work after one pass is in cache:

    1. one read of the values for the key range, one for a histogram of 2**16 equal-width
       bins of that range; adjacent bins are merged into buckets of about ``bucket`` keys;
    2. one pass (in C order, so stable) scatters keys and payloads into their buckets;
    3. every bucket is finished in cache by :func:`_sort_range`.

    Stable and fed in C order, so ties keep the C order.  Non-finite values (key
    ``_NONFINITE_KEY``) form the last bucket, unsorted.

    Parameters
    ----------
    src : (n,) array
        The values in C order (any real dtype numba reads).
    superlevel : bool
        Sort by ``-value``.
    core : (d,) int64
        Shape of the array (size-1 axes removed).
    tables : (d, max(core)) int64
        Storage layout: the storage index of the cell at coordinates ``x`` is
        ``sum(tables[i, x[i]])`` (see ``topoeval.persistence._Layout``).
    bucket : int
        Target bucket size (tests pass small ones to exercise many buckets).

    Returns
    -------
    order : (n,) uint32
        Storage indices in filtration order; the first ``n_active`` are finite cells.
    n_active : int
        Number of finite cells.
    spare : (n,) uint64
        The keys' buffer (free for reuse by the caller).
    """
    n = src.shape[0]
    d = core.shape[0]
    L = core[d - 1]
    kmin = _NONFINITE_KEY
    kmax = np.uint64(0)
    n_bad = 0
    for i in range(n):
        k = _key(src[i], superlevel)
        if k == _NONFINITE_KEY:
            n_bad += 1
        else:
            kmin = min(kmin, k)
            kmax = max(kmax, k)
    if n_bad == n:
        kmin = np.uint64(0)
        kmax = np.uint64(0)
    span = kmax - kmin
    shift = np.uint64(0)
    while (span >> shift) >= np.uint64(1 << _FINE_BITS):
        shift += np.uint64(1)
    F = np.int64(span >> shift) + 1  # finite bins; bin F holds the non-finite keys
    fine = np.zeros(F + 1, dtype=np.int32)
    for i in range(n):
        k = _key(src[i], superlevel)
        f = F if k == _NONFINITE_KEY else np.int64((k - kmin) >> shift)
        fine[f] += 1
    lut = np.empty(F + 1, dtype=np.int32)  # bin -> bucket
    starts = np.empty(F + 2, dtype=np.int64)
    nc = 0
    cur = 0
    s = 0
    for f in range(F):
        c = fine[f]
        if cur > 0 and cur + c > bucket:
            nc += 1
            cur = 0
        if cur == 0:
            starts[nc] = s
        lut[f] = nc
        cur += c
        s += c
    nc += 1
    lut[F] = nc
    starts[nc] = s
    starts[nc + 1] = n
    keys = np.empty(n, dtype=np.uint64)
    pay = np.empty(n, dtype=np.uint32)
    off = starts[: nc + 1].copy()
    ctr = np.empty(d, dtype=np.int64)
    for i in range(d):
        ctr[i] = 0
    last_t = tables[d - 1]
    i = 0
    for row in range(n // L):
        p_row = _row_start(ctr, tables) - last_t[0]
        for j in range(L):
            k = _key(src[i], superlevel)
            f = F if k == _NONFINITE_KEY else np.int64((k - kmin) >> shift)
            b = lut[f]
            pos = off[b]
            off[b] = pos + 1
            keys[pos] = k
            pay[pos] = p_row + last_t[j]
            i += 1
        _next_row(ctr, core)
    big = 0
    for c in range(nc):
        big = max(big, starts[c + 1] - starts[c])
    kb = np.empty(big, dtype=np.uint64)
    pb = np.empty(big, dtype=np.uint32)
    # int64 sizes everywhere (no literal ones): each (dtype, size type) of np.empty is one more
    # Numba helper to compile on a first run
    stack = np.empty((np.int64(64), np.int64(2)), dtype=np.int64)
    hist = np.empty(np.int64((1 << _SUB_BITS) + 1), dtype=np.int64)
    for c in range(nc):
        if starts[c + 1] - starts[c] > 1:
            stack = _sort_range(keys, pay, kb, pb, starts[c], starts[c + 1], stack, hist)
    return pay, n - n_bad, keys


# ---------------------------------------------------------------- output
_GATHER_AHEAD = 16  # prefetch distance of the value gather in cells_to_pairs


@njit(cache=True, nogil=True, inline="always")
def storage_coords(s, bsize, bdims, nbricks, x):
    """Core coordinates of the storage index ``s`` into ``x`` (d,) (the frame is at -1).

    ``bsize``: cells per brick; ``bdims``/``nbricks``: brick shape and bricks per axis (the
    inverse of ``_Layout.tables``; shared with the block engine's ``storage_to_global``).
    """
    brick = s // bsize
    loc = s - brick * bsize
    for i in range(x.shape[0] - 1, -1, -1):
        bq = brick // nbricks[i]
        bc = brick - bq * nbricks[i]
        brick = bq
        lq = loc // bdims[i]
        lc = loc - lq * bdims[i]
        loc = lq
        x[i] = bc * bdims[i] + lc - 1


@njit(cache=True, nogil=True)
def cells_to_pairs(bcells, dcells, src, core, bdims, nbricks, superlevel):
    """Multi-indices and values of the critical cells.

    Parameters
    ----------
    bcells, dcells : (m,) int64
        Storage indices of the birth and death cells (``dcells`` -1: never dies).
    src : (n,) array
        The values in C order.
    core, bdims, nbricks : (d,) int64
        Array shape (size-1 axes removed), brick shape and number of bricks per axis.
    superlevel : bool
        Never-dying classes get death ``-inf`` instead of ``+inf``.

    Returns
    -------
    births, deaths : (m,) float64
    birth_index, death_index : (m, d) int64
        Core coordinates; ``death_index`` rows are -1 for never-dying classes.
    """
    m = bcells.shape[0]
    d = core.shape[0]
    bsize = np.int64(1)
    for i in range(d):
        bsize *= bdims[i]
    births = np.empty(m, dtype=np.float64)
    deaths = np.empty(m, dtype=np.float64)
    bidx = np.empty((m, d), dtype=np.int64)
    didx = np.empty((m, d), dtype=np.int64)
    inf = -np.inf if superlevel else np.inf
    flats = np.empty(m, dtype=np.int64)
    for t in range(2):
        cells = bcells if t == 0 else dcells
        idx = bidx if t == 0 else didx
        vals = births if t == 0 else deaths
        for j in range(m):
            s = cells[j]
            if s < 0:
                for i in range(d):
                    idx[j, i] = -1
                vals[j] = inf
                flats[j] = -1
                continue
            storage_coords(s, bsize, bdims, nbricks, idx[j])
            flat = np.int64(0)
            for i in range(d):
                flat = flat * core[i] + idx[j, i]
            flats[j] = flat
        # the values in a separate gather loop (random reads, birth cells in value order):
        # with nothing else in the loop the memory accesses overlap
        for j in range(m):
            if j + _GATHER_AHEAD < m:
                f = flats[j + _GATHER_AHEAD]
                if f >= 0:
                    _prefetch(src, f)
            f = flats[j]
            if f >= 0:
                vals[j] = np.float64(src[f])
    return births, deaths, bidx, didx

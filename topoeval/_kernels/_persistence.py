"""Numba kernels of the 0-D persistence engine (private).

Two steps:

1. :func:`radix_sort_cells` orders the cells by (value, C-order flat index) with an LSD
   radix sort and returns their *storage indices*.
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def _grow(buf, size):
    out = np.empty(max(2 * buf.shape[0], size), dtype=buf.dtype)
    out[: buf.shape[0]] = buf
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
    cap = 1024
    births = np.empty(cap, dtype=np.int64)
    deaths = np.empty(cap, dtype=np.int64)
    nb = 0
    P = parent.shape[0]
    act = np.empty(k, dtype=np.int64)
    for r in range(n_active):
        if npf > 0 and r + _PREFETCH_AHEAD < n_active:
            pa = np.int64(order[r + _PREFETCH_AHEAD])
            la = pa & lmask
            for j in range(npf):
                t = pa + pf_offsets[la, j]
                if t >= 0 and t < P:
                    _prefetch(parent, t)
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
_DIGIT_BITS = 8
_N_DIGITS = 8  # 8 * 8 == 64; 8-bit digits scatter faster than 11-bit ones (fit L1)
_NONFINITE_KEY = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, nogil=True)
def _key(x, superlevel, fbuf, ubuf):
    """Order-preserving uint64 key of a value (non-finite values -> the largest key)."""
    v = np.float64(x)
    if superlevel:
        v = -v
    v = v + 0.0  # -0.0 -> 0.0: equal values get equal keys
    if not np.isfinite(v):
        return _NONFINITE_KEY
    fbuf[0] = v
    u = ubuf[0]
    if u >> np.uint64(63):
        return ~u
    return u | np.uint64(0x8000000000000000)


@njit(cache=True, nogil=True)
def _row_start(ctr, tables):
    """Storage index of the first cell of the row at outer coordinates ``ctr``."""
    d = tables.shape[0]
    p = tables[d - 1, 0]
    for i in range(d - 1):
        p += tables[i, ctr[i]]
    return p


@njit(cache=True, nogil=True)
def _next_row(ctr, core):
    """Advance the odometer over the outer axes (C order)."""
    i = core.shape[0] - 2
    while i >= 0:
        ctr[i] += 1
        if ctr[i] < core[i]:
            return
        ctr[i] = 0
        i -= 1


@njit(cache=True, nogil=True)
def radix_sort_cells(src, superlevel, core, tables):
    """Storage indices of the cells of ``src`` in filtration order (value, flat index).

    LSD radix sort (8-bit digits) of order-preserving uint64 keys (sign-adjusted float64
    bit patterns) with the storage index as payload; all digit histograms come from one
    streaming pass, and passes whose digit is the same for every key are skipped.  The
    first pass reads the values directly.  Stable and fed in C order, so ties keep the
    C order.

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

    Returns
    -------
    order : (n,) uint32 or int64
        Storage indices in filtration order; the first ``n_active`` are finite cells.
    n_active : int
        Number of finite cells.
    spare : (n,) uint64
        The sort's spare buffer (free for reuse by the caller).
    """
    n = src.shape[0]
    d = core.shape[0]
    L = core[d - 1]
    fbuf = np.empty(1, dtype=np.float64)
    ubuf = fbuf.view(np.uint64)
    nb = 1 << _DIGIT_BITS
    mask = np.uint64(nb - 1)
    hist = np.zeros((_N_DIGITS, nb), dtype=np.int64)
    n_bad = 0
    for i in range(n):
        k = _key(src[i], superlevel, fbuf, ubuf)
        if k == _NONFINITE_KEY:
            n_bad += 1
        for j in range(_N_DIGITS):
            hist[j, (k >> np.uint64(j * _DIGIT_BITS)) & mask] += 1
    passes = np.zeros(_N_DIGITS, dtype=np.bool_)
    n_passes = 0
    for j in range(_N_DIGITS):
        full = False
        for b in range(nb):
            if hist[j, b] == n:
                full = True
                break
        if not full:
            passes[j] = True
            n_passes += 1
    keys_a = np.empty(n, dtype=np.uint64)
    keys_b = np.empty(n, dtype=np.uint64)
    pay_a = np.empty(n, dtype=np.uint32)
    pay_b = np.empty(n, dtype=np.uint32)
    ctr = np.zeros(d, dtype=np.int64)
    last_t = tables[d - 1]
    if n_passes == 0:
        # every key equal: C order already is the filtration order
        i = 0
        for row in range(n // L):
            p_row = _row_start(ctr, tables) - last_t[0]
            for j in range(L):
                pay_a[i] = p_row + last_t[j]
                i += 1
            _next_row(ctr, core)
        return pay_a, n - n_bad, keys_b
    off = np.empty(nb, dtype=np.int64)
    first = True
    done = 0
    src_is_a = True
    for j in range(_N_DIGITS):
        if not passes[j]:
            continue
        done += 1
        last = done == n_passes
        shift = np.uint64(j * _DIGIT_BITS)
        s = 0
        for b in range(nb):
            c = hist[j, b]
            off[b] = s
            s += c
        if first:
            i = 0
            for row in range(n // L):
                p_row = _row_start(ctr, tables) - last_t[0]
                for jj in range(L):
                    k = _key(src[i], superlevel, fbuf, ubuf)
                    b = (k >> shift) & mask
                    pos = off[b]
                    off[b] = pos + 1
                    keys_a[pos] = k
                    pay_a[pos] = p_row + last_t[jj]
                    i += 1
                _next_row(ctr, core)
            first = False
            src_is_a = True
        else:
            if src_is_a:
                ki, pi, ko, po = keys_a, pay_a, keys_b, pay_b
            else:
                ki, pi, ko, po = keys_b, pay_b, keys_a, pay_a
            if last:
                for i in range(n):
                    k = ki[i]
                    b = (k >> shift) & mask
                    pos = off[b]
                    off[b] = pos + 1
                    po[pos] = pi[i]
            else:
                for i in range(n):
                    k = ki[i]
                    b = (k >> shift) & mask
                    pos = off[b]
                    off[b] = pos + 1
                    ko[pos] = k
                    po[pos] = pi[i]
            src_is_a = not src_is_a
    if src_is_a:
        return pay_a, n - n_bad, keys_b
    return pay_b, n - n_bad, keys_a


# ---------------------------------------------------------------- output
_GATHER_AHEAD = 16  # prefetch distance of the value gather in cells_to_pairs


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
            brick = s // bsize
            loc = s - brick * bsize
            flat = np.int64(0)
            for i in range(d - 1, -1, -1):
                bq = brick // nbricks[i]
                bc = brick - bq * nbricks[i]
                brick = bq
                lq = loc // bdims[i]
                lc = loc - lq * bdims[i]
                loc = lq
                x = bc * bdims[i] + lc - 1
                idx[j, i] = x
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

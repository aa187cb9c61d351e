"""Drivers of the Numba kernels (topoeval/_kernels/_critical.py): link tables, classification,
the simulation-of-simplicity order and the per-cell persistence."""

from __future__ import annotations

import functools
import itertools

import numpy as np

from ._codes import _core_shape

# --------------------------------------------------------------------------- neighbourhoods


@functools.cache
def _link(ndim: int, connectivity: str):
    """Neighbour offsets (n_nb, d) and the link graph (adjacency bit masks / lists)."""
    if connectivity == "full":
        offs = [o for o in itertools.product((-1, 0, 1), repeat=ndim) if any(o)]
    else:
        pos = [o for o in itertools.product((0, 1), repeat=ndim) if any(o)]
        offs = sorted(pos + [tuple(-x for x in o) for o in pos])
    offs = np.array(offs, dtype=np.int64).reshape(-1, ndim)
    n_nb = offs.shape[0]
    diff = offs[:, None, :] - offs[None, :, :]
    if connectivity == "full":
        adj = np.abs(diff).max(axis=2) <= 1
    else:  # Kuhn triangulation: joined iff the difference is a non-zero 0/1 or 0/-1 vector
        adj = np.all((diff >= 0) & (diff <= 1), axis=2) | np.all((diff <= 0) & (diff >= -1), axis=2)
    np.fill_diagonal(adj, False)
    deg = adj.sum(axis=1).astype(np.int64)
    lists = np.full((n_nb, max(1, int(deg.max(initial=0)))), -1, dtype=np.int64)
    for k in range(n_nb):
        nz = np.flatnonzero(adj[k])
        lists[k, : nz.size] = nz
    lut = np.empty(0, dtype=np.int8)
    dil = np.zeros((1, 256), dtype=np.int64)
    if n_nb <= 62:
        n_bytes = (n_nb + 7) // 8
        masks = np.array([sum(1 << int(j) for j in np.flatnonzero(adj[k])) for k in range(n_nb)], dtype=np.int64)
        dil = np.zeros((n_bytes, 256), dtype=np.int64)
        for b in range(n_bytes):
            for byte in range(256):
                m = 0
                for i in range(8):
                    k = 8 * b + i
                    if k < n_nb and (byte >> i) & 1:
                        m |= int(masks[k])
                dil[b, byte] = m
        if n_nb <= 16:
            from .._kernels._critical import build_lut

            lut = build_lut(n_nb, dil)
    return offs, adj, lists, deg, lut, dil


def _classify(arr: np.ndarray, connectivity: str, bad: np.ndarray | None):
    """Run the kernel; returns (types, c-, c+) shaped like ``arr``."""
    from .._kernels import _critical as K

    shape = arr.shape
    core = _core_shape(shape)
    v = np.ascontiguousarray(arr).reshape(-1)
    ndim = len(core)
    offs, _adj, lists, deg, lut, dil = _link(ndim, connectivity)
    cstr = np.ones(ndim, dtype=np.int64)
    for i in range(ndim - 2, -1, -1):
        cstr[i] = cstr[i + 1] * core[i + 1]
    fo = offs @ cstr
    ok = np.ones(1, dtype=np.bool_) if bad is None else ~bad.reshape(-1)
    use_ok = bad is not None
    n = v.size
    types = np.empty(n, dtype=np.int8)
    cm = np.empty(n, dtype=np.uint8)
    cp = np.empty(n, dtype=np.uint8)
    sh = np.array(core, dtype=np.int64)
    inner2d = ndim == 2 and not use_ok and min(core) >= 3
    if inner2d:
        # unrolled kernels for the interior of 2-D arrays (the offsets order is fixed in _link)
        kern = K.classify_2d_full_inner if connectivity == "full" else K.classify_2d_freudenthal_inner
        ttab = K.type_table(2)
        kern(v.reshape(core), lut, ttab, types.reshape(core), cm.reshape(core), cp.reshape(core))
    inner3d = ndim == 3 and connectivity == "full" and not use_ok and min(core) >= 3
    if inner3d:
        K.classify_3d_full_inner(
            v.reshape(core), K.type_table(3), types.reshape(core), cm.reshape(core), cp.reshape(core)
        )
    if offs.shape[0] <= 62:
        K.classify_bits(v, sh, offs, fo, ok, use_ok, lut, dil, types, cm, cp, inner2d or inner3d)
    else:
        K.classify_bfs(v, sh, offs, fo, ok, use_ok, lists, deg, types, cm, cp)
    return types.reshape(shape), cm.reshape(shape), cp.reshape(shape), ndim


def _sos_order(v: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
    """Flat indices of the cells (all, or ``idx``) sorted by (value, flat index).

    float32 and narrow-range integers: one sort of uint64 keys (order-preserving 32-bit value
    pattern, flat index) - about 3x faster than a stable argsort; otherwise a stable argsort.
    """
    vals = v if idx is None else v[idx]
    n = v.size
    key = None
    if n < 2**32 and vals.size:
        if vals.dtype == np.float32:
            w = (vals + np.float32(0.0)).view(np.uint32)  # -0.0 -> +0.0: equal values tie
            key = np.where(w >> np.uint32(31), ~w, w | np.uint32(0x80000000)).astype(np.uint64)
        elif vals.dtype.kind in "iu":
            lo, hi = int(vals.min()), int(vals.max())
            if hi - lo < 2**32:
                key = (vals - vals.dtype.type(lo)).astype(np.uint64)
    if key is None:
        order = np.argsort(vals, kind="stable")
        return order if idx is None else idx[order]
    flat = np.arange(n, dtype=np.uint64) if idx is None else idx.astype(np.uint64)
    key = (key << np.uint64(32)) | flat
    key.sort()
    return (key & np.uint64(0xFFFFFFFF)).astype(np.int64)


def _persistence(arr: np.ndarray, connectivity: str, bad: np.ndarray | None, types: np.ndarray) -> np.ndarray:
    """Per-cell persistence (see CriticalPoints.persistence), two union-find passes."""
    from .._kernels import _critical as K

    shape = arr.shape
    core = _core_shape(shape)
    v = np.ascontiguousarray(arr).reshape(-1)
    ndim = len(core)
    offs = _link(ndim, connectivity)[0]
    pshape = tuple(s + 2 for s in core)
    pstr = np.ones(ndim, dtype=np.int64)
    for i in range(ndim - 2, -1, -1):
        pstr[i] = pstr[i + 1] * pshape[i + 1]
    pfo = offs @ pstr
    psize = int(np.prod(pshape))
    idx = None if bad is None else np.flatnonzero(~bad.reshape(-1))
    order = _sos_order(v, idx)
    porder = K.padded_index(order, np.array(core, dtype=np.int64))
    vals = v[order].astype(np.float64)
    inner = tuple(slice(1, -1) for _ in core)

    itype = np.int32 if psize < 2**31 - 2 else np.int64

    def run(po, vv):
        b = np.zeros(psize)
        d = np.zeros(psize)
        K.cell_persistence(vv, po, pfo, np.full(psize, -1, dtype=itype), b, d)
        return b.reshape(pshape)[inner].reshape(-1), d.reshape(pshape)[inner].reshape(-1)

    b_sub, d_sub = run(porder, vals)
    b_sup, d_sup = run(porder[::-1].copy(), vals[::-1].copy())
    t = types.reshape(-1)
    out = np.maximum(d_sub, d_sup)
    out[t == 1] = b_sub[t == 1]
    out[t == 5] = b_sup[t == 5]
    out[t <= 0] = 0.0
    return out.reshape(shape)


#: arrays smaller than this are classified in one thread; tests lower it
_THREAD_MIN_CELLS = 1 << 20


def _classify_jobs(arr: np.ndarray, connectivity: str, bad: np.ndarray | None, jobs: int):
    """:func:`_classify` in ``jobs`` threads: slabs of the first axis longer than 1, with halos.

    A cell's type depends only on its link, i.e. on the cells one step away, so every slab is
    classified with one halo row on each side and only its own rows are kept.  The slabs keep
    the array's effective dimension (each has at least 2 rows with its halo) and their local
    C-order flat indices are the global ones minus an offset, so simulation of simplicity breaks
    every tie as in the whole array: the result is identical to one :func:`_classify`.
    """
    from concurrent.futures import ThreadPoolExecutor

    long_axes = [i for i, s in enumerate(arr.shape) if s > 1]
    if jobs <= 1 or not long_axes or arr.size < max(_THREAD_MIN_CELLS, 2):
        return _classify(arr, connectivity, bad)
    ax = long_axes[0]
    n = arr.shape[ax]
    n_slabs = min(n, 2 * jobs)
    cuts = [n * i // n_slabs for i in range(n_slabs + 1)]
    types = np.empty(arr.shape, dtype=np.int8)
    cm = np.empty(arr.shape, dtype=np.uint8)
    cp = np.empty(arr.shape, dtype=np.uint8)

    def take(a, lo, hi):
        return None if a is None else a[(slice(None),) * ax + (slice(lo, hi),)]

    def slab(i):
        a, b = cuts[i], cuts[i + 1]
        lo, hi = max(a - 1, 0), min(b + 1, n)
        t, m, p, nd = _classify(np.ascontiguousarray(take(arr, lo, hi)), connectivity,
                                None if bad is None else np.ascontiguousarray(take(bad, lo, hi)))
        keep = (slice(None),) * ax + (slice(a - lo, b - lo),)
        take(types, a, b)[...] = t[keep]
        take(cm, a, b)[...] = m[keep]
        take(cp, a, b)[...] = p[keep]
        return nd

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        ndims = list(pool.map(slab, range(n_slabs)))
    return types, cm, cp, ndims[0]

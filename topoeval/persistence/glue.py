"""The pieces of the block engine: one block's pass, the merge of two regions, the assembly.

Everything here works in *working coordinates*: the squeezed array (size-1 axes removed),
flipped on every axis for the superlevel filtration, so that the filtration order is always
(``sign * value``, flat index) ascending with ``sign = -1`` for superlevel (the monolithic
engine's convention, see :mod:`topoeval.persistence`).  The functions take and return plain
NumPy arrays (picklable: Dask ships them between workers).

A region's state is a :class:`Graph` (its reduced graph and box); final pairs are 4-tuples of
arrays ``(birth values, birth flats, death values, death flats)`` (death flat -1: essential).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .layout import _layout

__all__: list[str] = []

_MARK32 = np.int32(np.iinfo(np.int32).min)  # frame cells that are array cells outside the block


@dataclass
class Graph:
    """Reduced graph of a region ``[lo, hi)`` of the working array.

    Nodes: ``flat``/``val`` (n,) int64/float64 and ``born`` (n,) uint8; edges: ends ``ea``,
    ``eb`` (e,) int64 and the key cell of each, ``eflat``/``eval`` (e,).
    """

    lo: tuple
    hi: tuple
    flat: np.ndarray
    val: np.ndarray
    born: np.ndarray
    ea: np.ndarray
    eb: np.ndarray
    eflat: np.ndarray
    eval: np.ndarray

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, k).nbytes for k in ("flat", "val", "born", "ea", "eb", "eflat", "eval"))


def block_bytes(bshape, itemsize: int, connectivity: str) -> int:
    """Peak working memory of one block pass (values, sort keys and payload, union-find)."""
    cells = int(np.prod(bshape, dtype=np.int64))
    storage = _layout(tuple(int(s) for s in bshape), connectivity, True).size
    # the read (input dtype) and its C-order copy, 8 B keys + 4 B payload, the parent array
    # reuses the keys unless the padded storage is larger; about 2 % for the outputs
    return int(cells * (2 * itemsize + 12) + max(0, 4 * storage - 8 * cells) + cells // 50 + (1 << 16))


def block_pass(values: np.ndarray, lo, gshape, connectivity: str, superlevel: bool):
    """Union-find of one block: its final pairs and its reduced graph.

    Parameters
    ----------
    values : ndarray, shape = the block's shape (d axes of the working array), C-contiguous,
        a dtype Numba reads (no float16 / bool).
    lo : (d,) first cell of the block in the working array of shape ``gshape``.

    Returns
    -------
    pairs : 4-tuple of arrays, graph : Graph, n_active : int
    """
    from .._kernels._persistence import radix_sort_cells
    from .grid import _parent_storage
    from ._block_kernels import block_union_find, storage_to_global

    bshape = tuple(int(s) for s in values.shape)
    lo = tuple(int(x) for x in lo)
    hi = tuple(a + b for a, b in zip(lo, bshape))
    gsh = np.array(gshape, dtype=np.int64)
    lay = _layout(bshape, connectivity, True)
    src = values.reshape(-1)
    order, n_active, spare = radix_sort_cells(src, superlevel, np.array(bshape, dtype=np.int64), lay.tables)
    parent = _parent_storage(spare, lay.size)
    del spare
    for s in _frame_slabs(lay, bshape, lo, hi, gshape):
        parent[s] = _MARK32
    fb, fd, ncell, nborn, ea, eb, ec = block_union_find(
        order, n_active, parent, lay.offsets, lay.lmask, lay.pf, _MARK32
    )
    del order, parent
    conv = (np.array(lay.B, dtype=np.int64), np.array(lay.NB, dtype=np.int64),
            np.array(bshape, dtype=np.int64), np.array(lo, dtype=np.int64), gsh)
    bflat, bval = storage_to_global(fb, src, *conv)
    dflat, dval = storage_to_global(fd, src, *conv)
    nflat, nval = storage_to_global(ncell, src, *conv)
    eflat, evals = storage_to_global(ec, src, *conv)
    graph = Graph(lo, hi, nflat, nval, nborn, ea, eb, eflat, evals)
    return (bval, bflat, dval, dflat), graph, int(n_active)


def _frame_slabs(lay, bshape, lo, hi, gshape):
    """Storage indices of the frame faces that lie inside the array (the marked cells)."""
    d = len(bshape)
    padded = [lay._tpad(i, np.arange(bshape[i] + 2)) for i in range(d)]
    for i in range(d):
        for side, inside in ((0, lo[i] > 0), (bshape[i] + 1, hi[i] < gshape[i])):
            if not inside:
                continue
            parts = [padded[j] if j != i else padded[i][side : side + 1] for j in range(d)]
            idx = parts[0]
            for p in parts[1:]:
                idx = np.add.outer(idx, p)
            yield np.asarray(idx).reshape(-1)


def _later(va, fa, vb, fb, sign):
    """Mask: is cell a later than cell b in the filtration?"""
    ka, kb = sign * va + 0.0, sign * vb + 0.0
    return (ka > kb) | ((ka == kb) & (fa > fb))


def merge(left: Graph, right: Graph, axis: int, gshape, connectivity: str, superlevel: bool):
    """Glue two regions that together form a box (``left`` below ``right`` along ``axis``).

    Kruskal over both reduced graphs plus the edges between adjacent boundary cells across
    the interface (all ``3**(d-1)`` offsets with full connectivity, inside the common extent);
    the nodes on the merged box's outer faces stay.  Returns the pairs that became final and
    the merged region's reduced graph (empty at the root).
    """
    from ._block_kernels import reduce_graph

    sign = -1.0 if superlevel else 1.0
    lo = tuple(min(a, b) for a, b in zip(left.lo, right.lo))
    hi = tuple(max(a, b) for a, b in zip(left.hi, right.hi))
    c = right.lo[axis]
    nl = left.flat.shape[0]
    flat = np.concatenate([left.flat, right.flat])
    val = np.concatenate([left.val, right.val])
    born = np.concatenate([left.born, right.born])
    xa, xb = _cross_edges(left, right, axis, c, gshape, connectivity)
    xb = xb + nl
    later = _later(val[xa], flat[xa], val[xb], flat[xb], sign)
    kc = np.where(later, xa, xb)
    ea = np.concatenate([left.ea, right.ea + nl, xa])
    eb = np.concatenate([left.eb, right.eb + nl, xb])
    eflat = np.concatenate([left.eflat, right.eflat, flat[kc]])
    evals = np.concatenate([left.eval, right.eval, val[kc]])
    srt = _birth_order(evals, eflat, superlevel)  # the edges in key order
    ea, eb, eflat, evals = ea[srt], eb[srt], eflat[srt], evals[srt]
    outer = _outer(flat, lo, hi, gshape)
    fbn, fe, keep, na, nb, ne = reduce_graph(sign * val + 0.0, flat, born, outer, ea, eb)
    has = fe >= 0
    dflat = np.full(fe.shape[0], -1, dtype=np.int64)
    dval = np.full(fe.shape[0], np.nan)
    dflat[has] = eflat[fe[has]]
    dval[has] = evals[fe[has]]
    pairs = (val[fbn], flat[fbn], dval, dflat)
    graph = Graph(lo, hi, flat[keep], val[keep], born[keep], na, nb, eflat[ne], evals[ne])
    return pairs, graph


def _cross_edges(left: Graph, right: Graph, axis, c, gshape, connectivity):
    """Node pairs (left id, right id) of adjacent cells across the plane ``x[axis] = c``."""
    gshape = tuple(int(s) for s in gshape)
    li = np.flatnonzero(_coord(left.flat, axis, gshape) == c - 1)
    ri = np.flatnonzero(_coord(right.flat, axis, gshape) == c)
    if li.size == 0 or ri.size == 0:
        z = np.empty(0, dtype=np.int64)
        return z, z
    d = len(gshape)
    # the right side's interface as a dense plane (positions over the other axes of its box)
    ext = [right.hi[j] - right.lo[j] if j != axis else 1 for j in range(d)]
    rc = np.stack(np.unravel_index(right.flat[ri], gshape), axis=1) - np.array(right.lo, dtype=np.int64)
    rc[:, axis] = 0
    plane = np.full(int(np.prod(ext, dtype=np.int64)), -1, dtype=np.int64)
    plane[np.ravel_multi_index(tuple(rc.T), ext)] = ri
    lcoords = np.stack(np.unravel_index(left.flat[li], gshape), axis=1) - np.array(right.lo, dtype=np.int64)
    lcoords[:, axis] = 0
    others = [(-1, 0, 1) if (connectivity == "full" and j != axis) else (0,) for j in range(d)]
    outs_a, outs_b = [], []
    for delta in itertools.product(*others):
        q = lcoords + np.array(delta, dtype=np.int64)
        ok = np.ones(q.shape[0], dtype=bool)
        for j in range(d):
            ok &= (q[:, j] >= 0) & (q[:, j] < ext[j])
        if not ok.any():
            continue
        hit = plane[np.ravel_multi_index(tuple(q[ok].T), ext)]
        found = hit >= 0
        outs_a.append(li[ok][found])
        outs_b.append(hit[found])
    if not outs_a:
        z = np.empty(0, dtype=np.int64)
        return z, z
    return np.concatenate(outs_a).astype(np.int64), np.concatenate(outs_b).astype(np.int64)


def _coord(flat, axis, gshape):
    stride = int(np.prod(gshape[axis + 1 :], dtype=np.int64))
    return (flat // stride) % gshape[axis]


def _outer(flat, lo, hi, gshape):
    """uint8 mask of the cells on the faces of ``[lo, hi)`` that lie inside the array."""
    out = np.zeros(flat.shape[0], dtype=bool)
    for i, n in enumerate(gshape):
        if lo[i] == 0 and hi[i] == n:
            continue
        x = _coord(flat, i, gshape)
        if lo[i] > 0:
            out |= x == lo[i]
        if hi[i] < n:
            out |= x == hi[i] - 1
    return out.view(np.uint8)


def _birth_order(bval, bflat, superlevel):
    """Permutation sorting pairs by birth key: flat index first, then the engine's stable
    radix sort of the values (ties keep the flat order)."""
    from .._kernels._persistence import radix_sort_cells

    m = bval.shape[0]
    if m == 0:
        return np.empty(0, dtype=np.int64)
    by_flat = np.argsort(bflat)
    tables = np.arange(m, dtype=np.int64).reshape(1, m)
    pos, _, _ = radix_sort_cells(bval[by_flat], superlevel, np.array([m], dtype=np.int64), tables)
    return by_flat[pos]


def assemble(pair_lists, core, shape, superlevel: bool, keep_zero: bool):
    """The Diagram (working coordinates) from every final pair, in the monolithic pair order."""
    from .diagram import Diagram

    sign = -1.0 if superlevel else 1.0
    parts = [p for p in pair_lists if p is not None and p[0].shape[0]]
    if parts:
        bval, bflat, dval, dflat = (np.concatenate([p[k] for p in parts]) for k in range(4))
    else:
        bval = dval = np.empty(0)
        bflat = dflat = np.empty(0, dtype=np.int64)
    # a boundary cell born in its block while a neighbour outside entered earlier is no
    # minimum: the glue kills it at its own cell; the monolithic engine never sees it born
    real = np.flatnonzero(bflat != dflat)
    srt = real[_birth_order(bval[real], bflat[real], superlevel)]
    bval, bflat, dval, dflat = bval[srt], bflat[srt], dval[srt], dflat[srt]
    ess = dflat < 0
    dval = np.where(ess, -np.inf if superlevel else np.inf, dval)
    if not keep_zero:
        sel = bval != dval
        if not sel.all():
            bval, bflat, dval, dflat, ess = bval[sel], bflat[sel], dval[sel], dflat[sel], ess[sel]
    bcore = np.stack(np.unravel_index(bflat, core), axis=1).astype(np.int64)
    dcore = np.stack(np.unravel_index(np.where(ess, 0, dflat), core), axis=1).astype(np.int64)
    dcore[ess] = -1
    if len(shape) == len(core):
        bidx, didx = bcore, dcore
    else:  # put the size-1 axes back
        keep_axes = [i for i, s in enumerate(shape) if s > 1]
        bidx = np.zeros((bval.shape[0], len(shape)), dtype=np.int64)
        didx = np.zeros((bval.shape[0], len(shape)), dtype=np.int64)
        didx[ess] = -1
        for j, ax in enumerate(keep_axes):
            bidx[:, ax] = bcore[:, j]
            didx[:, ax] = dcore[:, j]
    return Diagram._new(bval.astype(np.float64), dval.astype(np.float64), bidx, didx,
                        "superlevel" if superlevel else "sublevel", tuple(shape))

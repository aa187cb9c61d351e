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


def block_pass(values: np.ndarray, lo, gshape, connectivity: str, superlevel: bool, outside: bool = False):
    """Union-find of one block: its final pairs and its reduced graph.

    Parameters
    ----------
    values : ndarray, shape = the block's shape (d axes of the working array), C-contiguous,
        a dtype Numba reads (no float16 / bool).
    lo : (d,) first cell of the block in the working array of shape ``gshape``.
    superlevel : bool
        The cells enter by descending value (ties: ascending flat index).
    outside : bool
        Dimension d-1 by duality (:mod:`.duality`): one virtual cell outside the array, older
        than all and adjacent to every cell on the array's boundary, is node 0 of the graph
        (flat index -1, value -inf in the filtration order); its pairs are dropped at the end.

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
    virtual = -1
    if outside:  # as duality.union_find_outside: past the storage, no grid cell its neighbour
        gap = int(np.abs(lay.offsets).max()) + 1
        parent = _parent_storage(spare, lay.size + 2 * gap + 1)
        virtual = lay.size + gap
        parent[: lay.size] = virtual  # the frame outside the array (marks come next) ...
        parent[order] = -1  # ... but not the block's cells
    else:
        parent = _parent_storage(spare, lay.size)
    del spare
    frame = 0
    for s in _frame_slabs(lay, bshape, lo, hi, gshape):
        parent[s] = _MARK32
        frame += s.shape[0]
    fb, fd, ncell, nborn, ea, eb, ec = block_union_find(
        order, n_active, parent, lay.offsets, lay.lmask, lay.pf, _MARK32, virtual, frame + 1
    )
    del order, parent
    conv = (np.array(lay.B, dtype=np.int64), np.array(lay.NB, dtype=np.int64),
            np.array(bshape, dtype=np.int64), np.array(lo, dtype=np.int64), gsh)
    bflat, bval = storage_to_global(fb, src, *conv)
    dflat, dval = storage_to_global(fd, src, *conv)
    nflat, nval = storage_to_global(ncell, src, *conv)
    if outside:
        nval[0] = np.inf if superlevel else -np.inf  # first in the order: key -inf
    eflat, evals = storage_to_global(ec, src, *conv)
    graph = Graph(lo, hi, nflat, nval, nborn, ea, eb, eflat, evals)
    return (bval, bflat, dval, dflat), graph, int(n_active)


def _frame_slabs(lay, bshape, lo, hi, gshape):
    """Storage indices of the frame cells that are cells of the array (the marked cells):
    the faces towards other blocks, without the parts of them outside the array."""
    d = len(bshape)
    inside = []  # per axis: the frame positions 0 .. bshape+1 whose cell is in the array
    for j in range(d):
        a = 0 if lo[j] > 0 else 1
        b = bshape[j] + 2 if hi[j] < gshape[j] else bshape[j] + 1
        inside.append(lay._tpad(j, np.arange(a, b)))
    for i in range(d):
        for side, ok in ((0, lo[i] > 0), (bshape[i] + 1, hi[i] < gshape[i])):
            if not ok:
                continue
            parts = [inside[j] if j != i else lay._tpad(i, np.array([side])) for j in range(d)]
            idx = parts[0]
            for p in parts[1:]:
                idx = np.add.outer(idx, p)
            yield np.asarray(idx).reshape(-1)


def merge(left: Graph, right: Graph, axis: int, gshape, connectivity: str, superlevel: bool):
    """Glue two regions that together form a box (``left`` below ``right`` along ``axis``).

    Kruskal over both reduced graphs plus the edges between adjacent boundary cells across
    the interface (all ``3**(d-1)`` offsets with full connectivity, inside the common extent);
    the nodes on the merged box's outer faces stay.  Returns the pairs that became final and
    the merged region's reduced graph (empty at the root).

    One nogil kernel (:func:`~._block_kernels.merge_graphs`) does it all: both graphs' edges
    are already in key order and the cross edges are produced in key order, so the three
    lists are merged, never sorted; merges of a tree level run in parallel threads.
    """
    from ._block_kernels import merge_graphs

    sign = -1.0 if superlevel else 1.0
    lo = tuple(min(a, b) for a, b in zip(left.lo, right.lo))
    hi = tuple(max(a, b) for a, b in zip(left.hi, right.hi))
    pairs, g = merge_graphs(_arrays(left), _arrays(right), int(axis), int(right.lo[axis]),
                            np.array(lo, dtype=np.int64), np.array(hi, dtype=np.int64),
                            np.array(gshape, dtype=np.int64), connectivity == "full", sign)
    return pairs, Graph(lo, hi, *g)


def _arrays(g: Graph):
    return (g.flat, g.val, g.born, g.ea, g.eb, g.eflat, g.eval)


def assembly_bytes(m: int, ndim: int) -> int:
    """Peak memory of :func:`assemble` for ``m`` final pairs of an ``ndim``-axis array.

    By stage, per pair: the records and birth values 40 B + the radix sort's keys, payload and
    identity table 20 B; the gather 32 + 4 + 32 B; the multi-indices 32 + 16 * ndim B.
    Measured (5e6 pairs, 3-D, RSS): 96 B/pair against the model's 80, the allocator's share:
    ``48 + 16 * ndim`` is what is counted.
    """
    return int(m) * max(76, 48 + 16 * max(1, int(ndim))) + (1 << 20)


class PairStore:
    """The final pairs of the tasks as they come, within ``budget`` bytes of memory.

    Beyond the budget the held parts are written to an anonymous temporary file (deleted when
    closed, also if the process dies) and read back one part at a time by :meth:`take`, so the
    pairs of a diagram of 10^7-10^8 pairs do not crowd out the blocks being processed.
    """

    def __init__(self, budget: float = float("inf")) -> None:
        self.budget = budget
        self.parts: list = []  # a pair 4-tuple in memory, or ("file", offset, n, dtypes)
        self.held = 0
        self.count = 0
        self.spilled = 0
        self._file = None

    def add(self, pairs) -> None:
        n = pairs[0].shape[0]
        if not n:
            return
        self.parts.append(pairs)
        self.count += n
        self.held += sum(x.nbytes for x in pairs)
        if self.held > self.budget:
            self._spill()

    def _spill(self) -> None:
        import tempfile

        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="topoeval-pairs-")
        f = self._file
        f.seek(0, 2)
        for i, p in enumerate(self.parts):
            if isinstance(p[0], str):
                continue
            off = f.tell()
            for x in p:
                np.ascontiguousarray(x).tofile(f)
            f.flush()
            self.parts[i] = ("file", off, p[0].shape[0], tuple(x.dtype for x in p))
            self.spilled += p[0].shape[0]
        self.held = 0

    def take(self):
        """Every part in task order, each dropped from the store as it is handed out."""
        for i in range(len(self.parts)):
            p, self.parts[i] = self.parts[i], None
            if isinstance(p[0], str):
                _, off, n, dtypes = p
                self._file.seek(off)
                p = tuple(np.fromfile(self._file, dtype=dt, count=n) for dt in dtypes)
            yield p
        self.parts, self.held = [], 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def assemble(pairs, core, shape, superlevel: bool, keep_zero: bool, flip: bool = False):
    """The Diagram from every final pair, in the monolithic pair order (birth key: value, then
    flat index).

    ``pairs``: a :class:`PairStore` (emptied here, part by part, into preallocated records) or
    a list of pair 4-tuples.  ``flip``: the working array is the input flipped on every axis;
    the cells are given in the input's coordinates.  The peak is :func:`assembly_bytes`.
    """
    from .._kernels._persistence import radix_sort_cells
    from ._block_kernels import gather_pairs, unravel_pairs
    from .diagram import Diagram

    store = pairs if isinstance(pairs, PairStore) else _store_of(pairs)
    ess_value = -np.inf if superlevel else np.inf
    m_max = store.count
    vals = np.empty(2 * m_max, dtype=np.float64)  # (birth, death) records, see gather_pairs
    flats = np.empty(2 * m_max, dtype=np.int64)
    bval = np.empty(m_max, dtype=np.float64)
    m = 0
    for bv, bf, dv, df in store.take():
        # a boundary cell born in its block while a neighbour outside entered earlier is no
        # minimum: the glue kills it at its own cell; the monolithic engine never sees it born
        # (dimension d-1: the virtual cell, flat -1, is the essential class left out of the diagram)
        sel = (bf != df) & (bf >= 0)
        if not keep_zero:
            sel &= bv != np.where(df < 0, ess_value, dv)
        k = int(np.count_nonzero(sel))
        if k < bf.shape[0]:
            bv, bf, dv, df = bv[sel], bf[sel], dv[sel], df[sel]
        bval[m : m + k] = bv
        vals[2 * m : 2 * (m + k) : 2] = bv
        vals[2 * m + 1 : 2 * (m + k) : 2] = dv
        flats[2 * m : 2 * (m + k) : 2] = bf
        flats[2 * m + 1 : 2 * (m + k) : 2] = df
        m += k
        del bv, bf, dv, df, sel
    store.close()
    vals, flats, bval = vals[: 2 * m], flats[: 2 * m], bval[:m]
    pos = np.empty(0, dtype=np.uint32)
    if m:  # the engine's stable radix sort by value; gather_pairs orders the ties by flat index
        ident = np.arange(m, dtype=np.int64).reshape(1, m)
        pos, _, _ = radix_sort_cells(bval, superlevel, np.array([m], dtype=np.int64), ident)
        del ident
    del bval
    births, deaths, bf, df = gather_pairs(pos, vals, flats)
    del pos, vals, flats
    keep_axes = [i for i, s in enumerate(shape) if s > 1] if len(shape) != len(core) else list(range(len(core)))
    bidx, didx = unravel_pairs(bf, df, deaths, ess_value, np.array(core, dtype=np.int64),
                               np.array(keep_axes or [len(shape) - 1], dtype=np.int64), len(shape), bool(flip))
    return Diagram._new(births, deaths, bidx, didx, "superlevel" if superlevel else "sublevel", tuple(shape))


def _store_of(parts):
    store = PairStore()
    for p in parts:
        if p is not None:
            store.add(p)
    parts[:] = []  # the store holds them now (and drops each once copied)
    return store


def by_birth_death(dgm, in_place=False):
    """``dgm`` with its pairs by (birth, death), ascending (sublevel) or descending (superlevel),
    ties in their current order: the order of a stable lexsort (``tests/naive.py``
    ``naive_by_birth_death``) by two stable radix sorts of the values, deaths then births.

    ``in_place``: permute the pairs of ``dgm`` in place (its arrays must be its own, as they are
    fresh from :func:`assemble`): one pair of extra memory instead of a second copy of the
    diagram, for a budget that cannot hold two; about twice as slow for scattered orders, so
    a copy otherwise."""
    from .._kernels._persistence import radix_sort_cells
    from ._block_kernels import permute_pairs, take_pairs
    from .diagram import Diagram

    m = len(dgm)
    if m < 2:
        return dgm
    down = dgm.filtration == "superlevel"
    ident = np.arange(m, dtype=np.int64).reshape(1, m)
    size = np.array([m], dtype=np.int64)
    by_death, _, _ = radix_sort_cells(dgm.deaths, down, size, ident)
    births = dgm.births[by_death]
    by_birth, _, _ = radix_sort_cells(births, down, size, ident)
    del births, ident
    perm = by_death[by_birth].astype(np.int64)
    del by_death, by_birth
    if not in_place:
        out = take_pairs(perm, dgm.births, dgm.deaths, dgm.birth_index, dgm.death_index)
        return Diagram._new(*out, dgm.filtration, dgm.shape, dgm.dim)
    permute_pairs(perm, dgm.births, dgm.deaths, dgm.birth_index, dgm.death_index)
    return dgm

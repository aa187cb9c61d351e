"""persistence_diagrams: cubical persistence in every dimension 0..d-1.

Two cubical complexes can be built on a d-dimensional array ``a``; ``connectivity``
picks one, as for dimension 0:

* ``"full"`` - the **T-construction**, gudhi's ``CubicalComplex(top_dimensional_cells=a)``
  and ``cripser.computePH_T``: every array element is a d-cube with its value; a lower cell
  takes the smallest value of the d-cubes around it.  Its components are the
  ``3**d - 1``-connected components of the array.
* ``"face"`` - the **V-construction**, gudhi's ``CubicalComplex(vertices=a)`` and
  ``cripser.computePH``: every array element is a vertex; a cube takes the largest value of
  its vertices.  Its components are the ``2*d``-connected ones.

How each dimension is computed:

* **0**: the union-find of :func:`topoeval.persistence_diagram`.
* **d-1, by Alexander duality**: the voids of ``{a <= t}`` are the components of its
  complement, ``{a > t}`` plus the outside of the array.  So it is the same 0-D union-find
  walking the cells by *descending* value with the complementary connectivity (T: face,
  V: full) and one virtual cell outside the array, older than all, that touches every
  boundary cell (:mod:`topoeval.persistence.duality`; cripser's ``top_dim``, Bleile et al.,
  arXiv 2102.11397).  A class born at the cell ``c`` that merges at ``m`` is the void
  ``(a[m], a[c])``.
* **1..d-2** (the middle dimensions: tunnels of 3-D fields): a Z/2 reduction of the
  boundary matrix of the (k+1)-cells of the complex in filtration order, with *clearing*:
  the (k+1)-cells that create a (k+1)-class, known from dimension k+1 (for k+1 = d-1 from a
  union-find over the dual graph in reverse order), are skipped, so every column reduced
  kills a class (:mod:`topoeval._kernels._cubical`).  For 3-D arrays (dimension 1) the
  *discrete Morse sandwich* runs instead (:mod:`topoeval._kernels._gradient`): a lower-star
  gradient, then only its critical 1- and 2-cells are reduced (about 2 bytes per Khalimsky
  cell instead of ~20); ``keep_zero=True`` and 4-D/5-D keep the full reduction (gradient
  pairs hide the zero-persistence pairs).

The complex of a box is contractible: the only never-dying class is the one component of
dimension 0.  Axes of length 1 are dropped first (the complex of a ``1 x n x m`` array is
that of the ``n x m`` array, thickened), so an array with ``d'`` axes longer than 1 has
empty diagrams in the dimensions ``d' .. d-1``.

The **cell of a pair** (``birth_index``/``death_index``) is the array element whose value
the birth (death) cell takes: in the T-construction the d-cube of its star with the
smallest value, in the V-construction the vertex of its closure with the largest value
(cripser reports the same).  In the middle dimensions ties go to the first such element in
C order; in dimension d-1 to the cell where the union-find merged / was born.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_real_array, check_choice, check_finite
from ..errors import InvalidOptionError
from .diagram import FILTRATIONS, Diagram
from .layout import _squeezed_shape

__all__ = ["persistence_diagrams"]


def persistence_diagrams(
    array: Any,
    dims: Any = None,
    *,
    filtration: str = "sublevel",
    connectivity: str = "full",
    keep_zero: bool = False,
    jobs: int | None = None,
    block_shape: tuple[int, ...] | None = None,
    memory_limit: int | str | None = None,
) -> dict[int, Diagram]:
    """Persistence diagrams of several homology dimensions of a grid array at once.

    Parameters
    ----------
    array : array_like, shape (n_0, ..., n_{d-1}), d >= 1
        Real finite values (compared as float64).
    dims : int, iterable of int or "all", optional
        Homology dimensions, each in ``0 .. d-1``.  Default (None or ``"all"``): all of them.
    filtration : {"sublevel", "superlevel"}, default "sublevel"
        ``"superlevel"``: the diagrams of ``-a`` with both coordinates negated (birth above
        death), as for dimension 0.
    connectivity : {"full", "face"}, default "full"
        ``"full"``: gudhi's ``CubicalComplex(top_dimensional_cells=a)`` (T-construction);
        ``"face"``: ``CubicalComplex(vertices=a)`` (V-construction); see the module
        docstring.
    keep_zero : bool, default False
        Keep pairs with zero persistence.
    jobs, block_shape, memory_limit : optional
        As for :func:`topoeval.persistence_diagram`.  Where dimension 0 takes the block engine
        (lazy and dask inputs, ``block_shape`` or ``memory_limit`` given, arrays of a million
        cells or more with several jobs), dimension d-1 does too (the same union-find with the
        virtual outside cell, block by block); the middle dimensions ``1 .. d-2`` need the whole
        complex: an in-memory array is reduced in one piece, a lazy input is refused before any
        read.  Every diagram equals the one ``persistence_diagram(array, dim=k, ...)`` gives
        with the same options.  ``jobs`` (None: the cores this process may use) is also the
        number of threads of dimension 1 of a 3-D array (the discrete Morse sandwich), which
        with several jobs runs beside dimensions 0 and 2 (one job; without ``memory_limit``); with
        several jobs the union-finds of dimensions 0 and d-1 of an in-memory array (from 2**17
        cells, without ``block_shape`` / ``memory_limit``) also run side by side, half of the
        jobs each.  The diagrams do not depend on it.

    Returns
    -------
    dict of int to Diagram
        One diagram per requested dimension (``Diagram.dim``), in ascending order of the
        dimension.  Dimension 0 is :func:`topoeval.persistence_diagram`'s diagram; in the
        other dimensions the pairs are sorted by (birth, death), ascending (sublevel) or
        descending (superlevel), and none is essential.

    Raises
    ------
    InvalidOptionError
        A dimension outside ``0 .. d-1`` or another invalid keyword.
    InvalidInputError
        A middle dimension (``1 .. d-2``) of a lazy input (an h5py Dataset, a memmap, a dask
        array ...): load it with ``np.asarray`` if it fits, or ask for dimensions 0 and d-1.
    NonFiniteError
        NaN or +-inf values (``nan_policy="omit"`` exists for dimension 0 only).

    Notes
    -----
    Dimensions 0 and d-1 are one union-find each over a radix sort of the cells (about
    12 bytes per cell).  Dimension 1 of a 3-D array (the sandwich) takes a 2-byte gradient
    code per cell of the Khalimsky grid (16 bytes per array element) plus the centers'
    ranks and the critical cells.  The middle dimensions of 4-D and 5-D arrays (and of
    ``keep_zero=True``) share one build of the whole complex: the values of its
    ``~(2n)**d`` cells (8 bytes each), their dimension (1 byte) and ranks (8 bytes), plus
    the stored reduced columns.

    Examples
    --------
    A high centre inside a ring: one loop, born when its last face neighbour enters
    (5, at (1, 2)) and filled by the centre (9, at (1, 1)):

    >>> import numpy as np
    >>> import topoeval as te
    >>> a = np.array([[1, 2, 3],
    ...               [4, 9, 5],
    ...               [0, 1, 2]])
    >>> dgms = te.persistence_diagrams(a)
    >>> sorted(dgms)
    [0, 1]
    >>> np.asarray(dgms[1]).tolist()
    [[5.0, 9.0]]
    >>> dgms[1].birth_index.tolist(), dgms[1].death_index.tolist()
    ([[1, 2]], [[1, 1]])
    """
    check_choice(filtration, "filtration", FILTRATIONS)
    check_choice(connectivity, "connectivity", ("full", "face"))
    if not isinstance(keep_zero, (bool, np.bool_)):
        raise InvalidOptionError(f"keep_zero={keep_zero!r} is not valid; pass True or False")
    apart = _sandwich_apart(array, dims, connectivity, bool(keep_zero), jobs, memory_limit)
    if apart is not None:  # dimension 1 of a 3-D array; the union-finds beside it, in one thread
        arr, rest, threads = apart
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as ex:
            # one job: the sandwich's serial stages (ranks, Kruskals, reduction) leave a core to them
            others = ex.submit(persistence_diagrams, arr, rest, filtration=filtration, connectivity=connectivity,
                               keep_zero=keep_zero, jobs=1 if block_shape is None else jobs,
                               block_shape=block_shape) if rest else None
            out = {1: _sandwich(arr, filtration, connectivity, arr.shape, threads)}
            if others is not None:
                out.update(others.result())
        return {k: out[k] for k in sorted(out)}
    apart = _union_finds_apart(array, dims, connectivity, jobs, block_shape, memory_limit)
    if apart is not None:  # dimensions 0 and d-1 at the same time, in two threads
        return _run_apart(*apart, filtration, connectivity, bool(keep_zero))
    from .duality import several_dimensions

    blocked = several_dimensions(array, dims, filtration, connectivity, bool(keep_zero), jobs, block_shape,
                                 memory_limit)
    if blocked is not None:  # dimensions 0 and d-1 on the block engine
        return blocked
    arr = as_real_array(array, "array")
    wanted = _check_dims(dims, arr.ndim)
    from .grid import DIM_NAN_HINT

    # before dimension 0 runs: its own message would point to a nan_policy this function lacks
    check_finite(arr, "array", hint=DIM_NAN_HINT)
    out = {}
    if 0 in wanted:
        from .grid import persistence_diagram

        out[0] = persistence_diagram(
            arr, filtration=filtration, connectivity=connectivity, keep_zero=bool(keep_zero), jobs=jobs
        )
    higher = [k for k in wanted if k > 0]
    if higher:
        out.update(_higher(arr, higher, filtration, connectivity, bool(keep_zero), jobs))
    return {k: out[k] for k in sorted(out)}


def _sandwich_apart(array, dims, connectivity, keep_zero, jobs, memory_limit):
    """``(arr, other dims, threads)`` where dimension 1 of a 3-D array can run beside the rest.

    The sandwich (dimension 1) and the union-finds of dimensions 0 and 2 share nothing, so
    with several jobs the union-finds run beside the sandwich, one after the other in one
    thread: the sandwich's serial stages (center ranks, Kruskals, reduction) leave them a core
    (the same diagrams: every stage is deterministic).  Only for an in-memory array with
    three axes longer than 1, without ``keep_zero`` (the full reduction) and without
    ``memory_limit`` (whose budget counts one stage at a time); None otherwise.
    """
    from .blocks import check_jobs

    njobs = check_jobs(jobs)
    if njobs < 2 or keep_zero or memory_limit is not None:
        return None
    if not isinstance(array, np.ndarray) or isinstance(array, np.memmap):
        return None
    arr = as_real_array(array, "array")
    if arr.ndim != 3 or min(arr.shape) < 2:
        return None
    wanted = _check_dims(dims, 3)
    if 1 not in wanted:
        return None
    from .grid import DIM_NAN_HINT

    check_finite(arr, "array", hint=DIM_NAN_HINT)  # before any thread starts
    return arr, [k for k in wanted if k != 1], _threads(arr.size, njobs)


#: Below this many cells the two union-finds run one after the other (a thread costs more).
_APART_MIN_CELLS = 1 << 17


def _union_finds_apart(array, dims, connectivity, jobs, block_shape, memory_limit):
    """``(arr, wanted, top, jobs_0, jobs_top)`` where dimensions 0 and d-1 can run side by side.

    The two union-finds (dimension 0 and the dual one of d-1) share nothing but the read-only
    array, so with several jobs they run at the same time, each with half of the jobs (one
    job: the monolithic engine, more: the block engine; the diagrams do not depend on it).  On
    a 2-core machine this beats running the block engine twice (its glue and pair assembly
    are serial).  Only for an in-memory array of at least ``_APART_MIN_CELLS`` cells with both
    dimensions asked, without ``block_shape`` / ``memory_limit`` (whose budget counts one pass
    at a time) and where two whole-array passes fit in half of the available memory; None
    otherwise.
    """
    from .blocks import available_memory, check_jobs
    from .glue import block_bytes

    njobs = check_jobs(jobs)
    if njobs < 2 or block_shape is not None or memory_limit is not None:
        return None
    if not isinstance(array, np.ndarray) or isinstance(array, np.memmap) or array.size < _APART_MIN_CELLS:
        return None
    # the shape decides first: the array is converted (a copy for big-endian data) only when the
    # path is taken, as the callers below convert it again otherwise
    core = _squeezed_shape(array.shape)
    top = len(core) - 1 if any(s > 1 for s in array.shape) else 0
    wanted = _check_dims(dims, array.ndim)
    if top < 1 or 0 not in wanted or top not in wanted:
        return None
    if 2 * block_bytes(core, array.dtype.itemsize, connectivity) > available_memory() // 2:
        return None
    arr = as_real_array(array, "array")
    from .grid import DIM_NAN_HINT

    check_finite(arr, "array", hint=DIM_NAN_HINT)  # before any thread starts
    return arr, wanted, top, njobs // 2, njobs - njobs // 2


def _run_apart(arr, wanted, top, jobs_0, jobs_top, filtration, connectivity, keep_zero) -> dict[int, Diagram]:
    """Dimension d-1 in a thread beside dimension 0, then any other asked dimension."""
    from concurrent.futures import ThreadPoolExecutor

    from .grid import persistence_diagram

    with ThreadPoolExecutor(1) as ex:
        voids = ex.submit(persistence_diagrams, arr, [top], filtration=filtration, connectivity=connectivity,
                          keep_zero=keep_zero, jobs=jobs_top)
        out = {0: persistence_diagram(arr, filtration=filtration, connectivity=connectivity, keep_zero=keep_zero,
                                      jobs=jobs_0)}
        out.update(voids.result())
    rest = [k for k in wanted if k not in out]
    if rest:  # middle dimensions (4-D, 5-D, keep_zero) and the empty ones
        out.update(_higher(arr, rest, filtration, connectivity, keep_zero, jobs_0 + jobs_top))
    return {k: out[k] for k in sorted(out)}


def _check_dims(dims: Any, ndim: int) -> list[int]:
    """The sorted distinct dimensions asked for (all of 0..ndim-1 for None or "all")."""
    if dims is None or (isinstance(dims, str) and dims == "all"):
        return list(range(ndim))
    if isinstance(dims, (int, np.integer)) and not isinstance(dims, (bool, np.bool_)):
        dims = [dims]
    try:
        items = list(dims)
    except TypeError:
        items = [dims]
    good = []
    for k in items:
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or not 0 <= k < ndim:
            raise InvalidOptionError(
                f"dims contains {k!r}; a {ndim}-D array has homology dimensions 0..{ndim - 1}"
            )
        good.append(int(k))
    if not good:
        raise InvalidOptionError("dims is empty; pass at least one homology dimension, e.g. dims=0")
    return sorted(set(good))


def _empty(filtration: str, shape: tuple[int, ...], dim: int) -> Diagram:
    z = np.empty(0)
    zi = np.empty((0, len(shape)), dtype=np.int64)
    return Diagram._new(z, z.copy(), zi, zi.copy(), filtration, shape, dim)


def _higher(arr, dims, filtration, connectivity, keep_zero, jobs=None) -> dict[int, Diagram]:
    """Diagrams of the dimensions ``dims`` (all >= 1) of a finite array (``jobs``: the
    sandwich's threads, None: the cores this process may use)."""
    from .duality import top_dimension

    shape = tuple(int(s) for s in arr.shape)
    core = _squeezed_shape(shape)
    dcore = len(core) if any(s > 1 for s in shape) else 0
    out = {k: _empty(filtration, shape, k) for k in dims if k >= dcore}
    top = dcore - 1
    if top >= 1 and top in dims:
        dgm = top_dimension(arr.reshape(core), filtration, connectivity, keep_zero)
        from .glue import by_birth_death  # a stable lexsort's order by two radix sorts (a third of its time)

        out[top] = by_birth_death(_unsqueeze(dgm, shape))
    middle = [k for k in dims if 1 <= k < top]
    if middle and dcore == 3 and not keep_zero:
        out[1] = _sandwich(arr.reshape(core), filtration, connectivity, shape, _threads(arr.size, jobs))
    elif middle:
        out.update(_middle(arr, middle, filtration, connectivity, keep_zero))
    return out


def _sandwich(arr, filtration, connectivity, shape, threads=None) -> Diagram:
    """Dimension 1 of a 3-D array (no axis of length 1) by the discrete Morse sandwich.

    The lower-star gradient of :mod:`topoeval._kernels._gradient`, its critical 1- and
    2-cells, the positive 2-cells cleared by a Kruskal over the Morse dual graph, and a
    reduction of the Morse boundaries of the others.  Zero-persistence pairs are not
    found this way (gradient pairs hide them): ``keep_zero=True`` takes :func:`_middle`.
    ``threads``: for the gradient and the boundaries (None: :func:`_threads`' default).
    """
    from .._kernels._cubical import valued_element
    from .._kernels._gradient import (
        _run_parts,
        boundary_matrix,
        clear_positive,
        critical_cells,
        negative_saddles,
        reduce_columns,
    )

    sign = -1.0 if filtration == "superlevel" else 1.0
    g = np.ascontiguousarray(arr, dtype=np.float64)  # only read: no copy of a float64 array
    if sign < 0:
        g = -g
    pad = connectivity == "full"  # T: the gradient lives on the dual complex
    threads = _threads(g.size) if threads is None else threads
    code, rank, kshape, complete = _sandwich_gradient(g, pad, threads)
    gshape = np.array(g.shape, dtype=np.int64)

    def saddles(dim):  # rows (critical 1-cells, negative ones) or columns (2-cells, positive ones)
        cells, keys = critical_cells(code, rank, kshape, pad, dim)
        if dim == 1:
            return cells, keys, negative_saddles(cells, code, kshape, pad)
        return cells, keys, clear_positive(cells, code, rank, kshape, pad, complete)

    (cells1, keys1, negative), (cells2, _, positive) = _run_parts(lambda i: saddles(i + 1), min(2, threads), 2)
    pool, start, length = boundary_matrix(code, rank, kshape, pad, cells2, keys1, positive, negative, threads)
    del code, rank
    rows, cols = reduce_columns(pool, start, length, keys1.shape[0])
    del pool, start, length
    # L-pairs (1-cell, 2-cell); in the dual (T) the L-2-cell is the real birth 1-cell
    bcells, dcells = (cells2[cols], cells1[rows]) if pad else (cells1[rows], cells2[cols])
    kstrides = np.array([kshape[1] * kshape[2], kshape[2], 1], dtype=np.int64)
    flat = g.reshape(-1)
    bidx, didx = _run_parts(lambda i: valued_element((bcells, dcells)[i], flat, gshape, kstrides, not pad),
                            min(2, threads), 2)
    gstrides = np.array([g.shape[1] * g.shape[2], g.shape[2], 1], dtype=np.int64)
    births, deaths = flat[bidx @ gstrides], flat[didx @ gstrides]
    sel = births != deaths
    if not sel.all():
        births, deaths, bidx, didx = births[sel], deaths[sel], bidx[sel], didx[sel]
    dgm = Diagram._new(births * sign + 0.0, deaths * sign + 0.0, bidx, didx, filtration, tuple(g.shape), 1)
    from .glue import by_birth_death  # the order of a stable lexsort by (birth, death), by radix sorts

    return by_birth_death(_unsqueeze(dgm, shape))


def _threads(n: int, jobs: int | None = None) -> int:
    """Threads for the sandwich's local stages (gradient, boundaries): ``jobs`` (None: the
    cores this process may use), 1 below 2**18 cells (a thread pool costs more than it saves
    there).  The result does not depend on it (disjoint writes, pairs from one serial
    reduction)."""
    from .blocks import default_jobs

    return 1 if n < 2**18 else max(1, default_jobs() if jobs is None else int(jobs))


def gradient(g: np.ndarray, pad: bool, threads: int = 1, classify: bool = False):
    """The lower-star gradient of the 3-D sublevel field ``g`` (:mod:`topoeval._kernels._gradient`).

    Returns ``code`` ((|K|,) uint16), ``rank`` (the center order, shape of ``g``) and
    ``kshape`` ((3,) int64).  ``pad``: T-construction (the dual complex).  ``threads``:
    slabs of the first axis computed in parallel (every cell is in one lower star, so the
    code is the same).  ``classify``: regular centers get only their own code, the rest
    of their lower stars is written when the sandwich's kernels reach it (most of a smooth
    field is never reached).
    """
    from .._kernels._gradient import gradient_threads

    code, rank, kshape = _unset_gradient(g, pad)
    gradient_threads(rank, pad, code, threads, classify)
    return code, rank, kshape


def _unset_gradient(g, pad):
    rank = _center_rank(g, descending=pad)
    kshape = 2 * np.array(g.shape, dtype=np.int64) + (1 if pad else -1)
    return np.full(int(np.prod(kshape)), 7, dtype=np.uint16), rank, kshape


#: The sandwich completes regular lower stars on demand when at most this fraction of the
#: sampled centers is not regular (a smooth field: about 0.3 %; uniform noise: 55 %, where
#: the one pass over every star is cheaper than the kernels' lazy look-ups).
LAZY_STARS_MAX = 0.2


def _sandwich_gradient(g, pad, threads, lazy=None):
    """:func:`gradient` for the sandwich: ``code, rank, kshape, complete``.

    Four planes of centers are classified first (:func:`~topoeval._kernels._gradient._stars`);
    when few of them are not regular (``LAZY_STARS_MAX``), only the centers' codes and the
    irregular stars are written and ``complete`` is False.  ``lazy``: force the choice
    (tests).  The pairs do not depend on it.
    """
    from .._kernels._gradient import gradient_threads, lower_star_gradient, star_table

    code, rank, kshape = _unset_gradient(g, pad)
    if lazy is None:
        n0, plane = g.shape[0], g.shape[1] * g.shape[2]
        planes = sorted({int(i) for i in np.linspace(0, n0 - 1, min(4, n0))})
        full = sum(lower_star_gradient(rank, pad, code, i, i + 1, star_table()) for i in planes)
        lazy = full <= LAZY_STARS_MAX * len(planes) * plane
    gradient_threads(rank, pad, code, threads, bool(lazy))
    return code, rank, kshape, not lazy


def _center_rank(g: np.ndarray, descending: bool) -> np.ndarray:
    """Rank of every element of ``g`` in the order (value, flat index), or (-value, index)."""
    from .._kernels._persistence import radix_sort_cells

    n = g.size
    dtype = np.int32 if n < 2**31 else np.int64
    if n < 2**32:
        ident = np.arange(n, dtype=np.int64).reshape(1, n)
        order, _, _ = radix_sort_cells(g.reshape(-1), descending, np.array([n], dtype=np.int64), ident)
        del ident
    else:
        order = np.argsort(-g.reshape(-1) if descending else g.reshape(-1), kind="stable")
    rank = np.empty(n, dtype=dtype)
    rank[order] = np.arange(n, dtype=dtype)
    return rank.reshape(g.shape)


def _middle(arr, dims, filtration, connectivity, keep_zero) -> dict[int, Diagram]:
    """Diagrams of the middle dimensions by boundary-matrix reduction with clearing."""
    from .._kernels._cubical import reduce_boundary, top_pairs

    shape = tuple(int(s) for s in arr.shape)
    sign = -1.0 if filtration == "superlevel" else 1.0
    f = np.asarray(arr, dtype=np.float64).reshape(_squeezed_shape(shape)) * sign
    cx = CubicalGrid(f, connectivity)
    top = cx.d - 1
    # dimension top: the exact positive (d-1)-cells, to clear the columns of d-1
    faces = cx.cells(top)
    cx.cells(cx.d)  # sets the ranks of the d-cells
    fr, _ = top_pairs(faces, cx.rank, cx.kshape, cx.kstrides)
    cleared = np.zeros(faces.shape[0], dtype=bool)
    cleared[fr] = True
    out = {}
    for k in range(top - 1, min(dims) - 1, -1):
        rows = cx.cells(k)
        if k == min(dims):
            cx.drop()  # every list needed is made
        pr, pc, is_pivot = reduce_boundary(cx.cells(k + 1), cleared, cx.rank, cx.kstrides, rows.shape[0])
        cx.drop(k + 2)
        if k in dims:
            out[k] = cx.diagram(k, pr, pc, filtration, shape, sign, keep_zero)
        cleared = is_pivot
    return out


class CubicalGrid:
    """The cubical complex of an array on its Khalimsky grid: cells by dimension, ranks.

    ``K`` has ``2n - 1`` (V-construction) or ``2n + 1`` (T-construction) points along an
    axis of length ``n``; the point ``x`` of ``K`` is a cell of dimension "number of odd
    coordinates".  V: the vertex ``i`` of the array is ``x = 2i``; T: the top cell ``i`` is
    ``x = 2i + 1``.  Cells are listed per dimension in filtration order (value, flat ``K``
    index) on demand; ``rank`` holds every listed cell's position in its list.

    Parameters
    ----------
    f : (n_0, ..., n_{d-1}) float64 ndarray
        The field (sublevel filtration).
    connectivity : {"full", "face"}
        T- or V-construction.
    """

    def __init__(self, f: np.ndarray, connectivity: str) -> None:
        self.vertices = connectivity == "face"
        self.f = np.ascontiguousarray(f, dtype=np.float64).reshape(-1)
        self.gshape = np.array(f.shape, dtype=np.int64)
        self.d = f.ndim
        self.kshape = 2 * self.gshape + (-1 if self.vertices else 1)
        strides = np.ones(self.d, dtype=np.int64)
        for i in range(self.d - 2, -1, -1):
            strides[i] = strides[i + 1] * self.kshape[i + 1]
        self.kstrides = strides
        size = int(np.prod(self.kshape))
        self.rank = np.zeros(size, dtype=np.int32 if size < 2**31 else np.int64)
        self._cells: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._kval = None  # the values of all cells (8 bytes per cell of K), while needed

    def cells(self, k: int) -> np.ndarray:
        """(m,) int64 flat ``K`` indices of the k-cells in filtration order (value, index)."""
        if k not in self._cells:
            from .._kernels._cubical import gather_cells
            from .._kernels._persistence import radix_sort_cells

            if self._kval is None:  # all cell values at once (separable min / max)
                kval = self.f.reshape(tuple(self.gshape))
                for i in range(self.d):
                    kval = _expand(kval, i, self.vertices)
                self._kval = kval.reshape(-1)
            kflat, vals = gather_cells(self._kval, self.kshape, k)
            m = kflat.shape[0]
            ident = np.arange(m, dtype=np.int64).reshape(1, m)
            order, _, _ = radix_sort_cells(vals, False, np.array([m], dtype=np.int64), ident)
            del ident
            kflat, vals = kflat[order], vals[order]
            self.rank[kflat] = np.arange(m, dtype=self.rank.dtype)
            self._cells[k] = (kflat, vals)
        return self._cells[k][0]

    def values(self, k: int) -> np.ndarray:
        """(m,) float64 values of the k-cells in filtration order."""
        self.cells(k)
        return self._cells[k][1]

    def drop(self, k: int | None = None) -> None:
        """Forget the list of the k-cells (None: the value grid), to free memory."""
        if k is None:
            self._kval = None
        else:
            self._cells.pop(k, None)

    def diagram(self, k, rows, cols, filtration, shape, sign, keep_zero) -> Diagram:
        """Diagram of dimension ``k`` from the ranks of the k- and (k+1)-cells of its pairs."""
        from .._kernels._cubical import valued_element

        births = self.values(k)[rows] * sign
        deaths = self.values(k + 1)[cols] * sign
        bcells, dcells = self.cells(k)[rows], self.cells(k + 1)[cols]
        if not keep_zero:
            sel = births != deaths
            births, deaths, bcells, dcells = births[sel], deaths[sel], bcells[sel], dcells[sel]
        bidx = valued_element(bcells, self.f, self.gshape, self.kstrides, self.vertices)
        didx = valued_element(dcells, self.f, self.gshape, self.kstrides, self.vertices)
        dgm = Diagram._new(births + 0.0, deaths + 0.0, bidx, didx, filtration, tuple(shape), k)
        from .glue import by_birth_death

        return by_birth_death(_unsqueeze(dgm, shape))


def _expand(x: np.ndarray, axis: int, vertices: bool) -> np.ndarray:
    """Values of the cells along one axis: V: max of the two vertices, T: min of the cubes."""
    n = x.shape[axis]
    m = 2 * n - 1 if vertices else 2 * n + 1
    out = np.empty(x.shape[:axis] + (m,) + x.shape[axis + 1 :], dtype=np.float64)
    sl = [slice(None)] * x.ndim

    def at(s):
        sl[axis] = s
        return tuple(sl)

    lo, hi = x[at(slice(None, -1))], x[at(slice(1, None))]
    if vertices:
        out[at(slice(0, None, 2))] = x
        out[at(slice(1, None, 2))] = np.maximum(lo, hi)
    else:
        out[at(slice(1, None, 2))] = x
        out[at(slice(2, -2, 2))] = np.minimum(lo, hi)
        out[at(slice(0, 1))] = x[at(slice(0, 1))]
        out[at(slice(m - 1, m))] = x[at(slice(n - 1, n))]
    return out


def _unsqueeze(dgm: Diagram, shape: tuple[int, ...]) -> Diagram:
    """Put the size-1 axes of ``shape`` back into the index arrays."""
    if dgm.birth_index.shape[1] == len(shape):
        return dgm
    keep = [i for i, s in enumerate(shape) if s > 1]
    n = len(dgm)
    bidx = np.zeros((n, len(shape)), dtype=np.int64)
    didx = np.zeros((n, len(shape)), dtype=np.int64)
    bidx[:, keep] = dgm.birth_index
    didx[:, keep] = dgm.death_index
    return Diagram._new(dgm.births, dgm.deaths, bidx, didx, dgm.filtration, shape, dgm.dim)


def one_dimension(array, dim, filtration, connectivity, nan_policy, keep_zero, jobs=None) -> Diagram:
    """``persistence_diagram(array, dim=dim, ...)`` for ``dim != 0`` (validates everything).

    ``jobs`` is passed on (``jobs=1``: one thread, as the caller asked)."""
    check_choice(nan_policy, "nan_policy", ("raise", "omit"))
    if nan_policy != "raise" and not (type(dim) is int and dim == 0):
        raise InvalidOptionError(
            f"nan_policy={nan_policy!r} is only available with dim=0; remove it or replace the "
            "non-finite values (e.g. np.nan_to_num) for dim >= 1"
        )
    arr = as_real_array(array, "array")
    k = _check_dims(dim, arr.ndim)
    if len(k) != 1 or isinstance(dim, (list, tuple, str)):
        raise InvalidOptionError(f"dim={dim!r} is not valid; pass one integer (persistence_diagrams takes several)")
    return persistence_diagrams(
        arr, k, filtration=filtration, connectivity=connectivity, keep_zero=keep_zero, jobs=jobs
    )[k[0]]

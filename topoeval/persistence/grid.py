"""persistence_diagram: the monolithic engine (radix sort + one union-find over the whole grid).

The conventions (filtration order, elder rule, pair order) are in the docstring of
:mod:`topoeval.persistence`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_real_array, check_choice, check_finite, nonfinite_mask
from ..errors import InvalidOptionError, NonFiniteError
from .diagram import FILTRATIONS, Diagram
from .layout import _MAX_INT32_CELLS, _layout, _squeezed_shape

__all__ = ["persistence_diagram"]

CONNECTIVITIES = ("full", "face")
_NAN_POLICIES = ("raise", "omit")
_NAN_HINT = (
    ", or pass nan_policy='omit' to leave the non-finite cells out of the domain "
    "(the remaining cells may then form several components)"
)
# dimensions >= 1 (and persistence_diagrams, which has no nan_policy): NaN cells cannot be omitted there
DIM_NAN_HINT = " (only dimension 0 takes nan_policy='omit': persistence_diagram(a, nan_policy='omit'))"


def persistence_diagram(
    array: Any,
    *,
    dim: int = 0,
    filtration: str = "sublevel",
    connectivity: str = "full",
    nan_policy: str = "raise",
    keep_zero: bool = False,
    jobs: int | None = None,
    block_shape: tuple[int, ...] | None = None,
    memory_limit: int | str | None = None,
) -> Diagram:
    """0-D persistence diagram of the sublevel (or superlevel) sets of a grid array.

    ``dim=k`` gives the diagram of another homology dimension instead (see
    :func:`topoeval.persistence_diagrams` for the cubical complexes and the cells).

    Parameters
    ----------
    array : array_like, shape (n_0, ..., n_{d-1}), d >= 1
        Real values (bool, integers, float16/32/64; any memory layout or byte order).
        Values are compared as float64.
    dim : int, default 0
        Homology dimension, ``0 .. d-1``: 0 components, 1 loops, ..., d-1 voids.  For
        ``dim >= 1`` the keywords below keep their meaning except ``nan_policy``
        (``"raise"`` only); ``connectivity`` picks gudhi's T- (``"full"``) or
        V-construction (``"face"``).
    filtration : {"sublevel", "superlevel"}, default "sublevel"
        ``"sublevel"``: components of ``{a <= t}`` (born at minima).  ``"superlevel"``:
        components of ``{a >= t}`` (born at maxima), stored in the original values
        (birth above death, never-dying death ``-inf``).
    connectivity : {"full", "face"}, default "full"
        ``"full"``: ``3**d - 1`` neighbours (cells sharing any face; matches gudhi's
        ``CubicalComplex(top_dimensional_cells=a)`` and ``cripser.computePH_T``).
        ``"face"``: the ``2*d`` axis neighbours.
    nan_policy : {"raise", "omit"}, default "raise"
        What to do with NaN and +-inf cells: raise :class:`~topoeval.errors.NonFiniteError`,
        or leave them out of the domain (the rest may fall apart into several components,
        each with its own never-dying class).
    keep_zero : bool, default False
        Keep pairs with zero persistence (a minimum that merges at its own value).
    jobs : int, optional
        Threads (default: the cores this process may use).  Arrays of a million cells or
        more then go to the block engine (:mod:`topoeval.persistence.blocks`), whose
        result is identical.
    block_shape : tuple of int, optional
        Cut the grid into blocks of this shape (the block engine; exact for any shape).
        Default: chosen from ``memory_limit`` (dask arrays: their chunks).
    memory_limit : int or str, optional
        Bytes (or ``"3GB"``, ``"512MB"``) the block engine may use; default half of the
        available memory.  Inputs that are not in memory (np.memmap, h5py Dataset, zarr
        Array, dask array, :func:`topoeval.io.open_array`) are read a block at a time.

    Returns
    -------
    Diagram
        ``n`` pairs with ``births``/``deaths`` (n,) and ``birth_index``/``death_index``
        (n, d); pairs in the order their birth cells enter the filtration (see the
        module docstring for the exact tie-breaking rule).

    Raises
    ------
    InvalidDTypeError
        Complex, object, string or structured input.
    InvalidInputError
        0-d or empty input.
    NonFiniteError
        NaN or +-inf values with ``nan_policy="raise"``.
    InvalidOptionError
        A keyword with an invalid value.

    Notes
    -----
    The cells are sorted by a radix sort of their float64 bit patterns (one pass into
    cache-sized buckets, each finished in cache), then merged by a union-find over a padded
    (and, in 2-D/3-D, cache-line-bricked) copy of the grid; see
    :mod:`topoeval._kernels._persistence`.  Extra memory is about 12 bytes per cell (plus a
    C-order copy of the input if it is not C-contiguous).  Kernels release the GIL.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> a = np.array([[0, 5, 1],
    ...               [6, 6, 6],
    ...               [2, 6, 3]])
    >>> dgm = te.persistence_diagram(a)
    >>> np.asarray(dgm)
    array([[ 0., inf],
           [ 1.,  5.],
           [ 2.,  6.],
           [ 3.,  6.]])
    >>> dgm.birth_index.tolist()
    [[0, 0], [0, 2], [2, 0], [2, 2]]
    >>> dgm.death_index.tolist()
    [[-1, -1], [0, 1], [1, 0], [1, 1]]

    With full connectivity the diagonal neighbours touch; with face connectivity
    the two low corners stay apart until a 9 enters:

    >>> b = np.array([[0, 9], [9, 1]])
    >>> np.asarray(te.persistence_diagram(b)).tolist()
    [[0.0, inf]]
    >>> np.asarray(te.persistence_diagram(b, connectivity="face")).tolist()
    [[0.0, inf], [1.0, 9.0]]

    Superlevel diagrams keep the original values (birth above death):

    >>> np.asarray(te.persistence_diagram([3.0, 1.0, 2.0], filtration="superlevel"))
    array([[ 3., -inf],
           [ 2.,  1.]])

    Blocks (any shape) and threads give the identical diagram, critical cells included:

    >>> f = np.random.default_rng(0).integers(0, 9, size=(40, 30))
    >>> blocked = te.persistence_diagram(f, block_shape=(8, 7), jobs=2)
    >>> whole = te.persistence_diagram(f, jobs=1)
    >>> all(np.array_equal(getattr(blocked, k), getattr(whole, k))
    ...     for k in ("births", "deaths", "birth_index", "death_index"))
    True

    Dimension 1: the loop around a high centre, born when its last face neighbour
    enters (5) and filled by the centre (9):

    >>> ring = np.array([[1, 2, 3], [4, 9, 5], [0, 1, 2]])
    >>> np.asarray(te.persistence_diagram(ring, dim=1)).tolist()
    [[5.0, 9.0]]
    """
    if not (type(dim) is int and dim == 0):  # another homology dimension (checked there)
        from .duality import other_dimension

        return other_dimension(array, dim, filtration, connectivity, nan_policy, keep_zero, jobs,
                               block_shape, memory_limit)
    check_choice(filtration, "filtration", FILTRATIONS)
    check_choice(connectivity, "connectivity", CONNECTIVITIES)
    check_choice(nan_policy, "nan_policy", _NAN_POLICIES)
    if not isinstance(keep_zero, (bool, np.bool_)):
        raise InvalidOptionError(f"keep_zero={keep_zero!r} is not valid; pass True or False")
    from .blocks import block_diagram, check_jobs, use_blocks

    check_jobs(jobs)
    if use_blocks(array, jobs, block_shape, memory_limit):
        return block_diagram(array, filtration, connectivity, nan_policy, bool(keep_zero), jobs=jobs,
                             block_shape=block_shape, memory_limit=memory_limit)
    arr = as_real_array(array, "array")
    if filtration == "sublevel":
        return _compute(arr, filtration, connectivity, nan_policy, bool(keep_zero))
    # Equal values enter the superlevel filtration by descending flat index: simulation of
    # simplicity on -a, the convention of topoeval.critical_points (and TTK), so the maxima are
    # exactly the superlevel birth cells.  Flipping every axis reverses the flat index (and maps
    # the neighbourhood onto itself), so the kernel's ascending tie order does it.
    flipped = arr[(slice(None, None, -1),) * arr.ndim]
    try:
        dgm = _compute(flipped, filtration, connectivity, nan_policy, bool(keep_zero))
    except NonFiniteError:
        check_finite(arr, "array", hint=_NAN_HINT)  # the first position in the caller's array
        raise
    last = np.array(arr.shape, dtype=np.int64) - 1
    birth_index = last - dgm.birth_index
    death_index = np.where(dgm.death_index < 0, -1, last - dgm.death_index)
    return Diagram._new(dgm.births, dgm.deaths, birth_index, death_index, filtration, dgm.shape)


def _compute(
    arr: np.ndarray, filtration: str, connectivity: str, nan_policy: str, keep_zero: bool
) -> Diagram:
    from .._kernels._persistence import radix_sort_cells, union_find_padded

    shape = tuple(int(s) for s in arr.shape)
    core = _squeezed_shape(shape)
    n = arr.size
    lay = _layout(core, connectivity, True)
    if lay.size >= _MAX_INT32_CELLS:
        lay = _layout(core, connectivity, False)

    if lay.size < _MAX_INT32_CELLS:
        src = _numba_values(arr)
        order, n_active, spare = radix_sort_cells(
            src, filtration == "superlevel", np.array(core, dtype=np.int64), lay.tables
        )
        if n_active < n and nan_policy == "raise":  # the sort counted the non-finite cells
            del order, spare
            check_finite(arr, "array", hint=_NAN_HINT)
        parent = buf = _parent_storage(spare, lay.size)
        del spare
    else:  # more than 2**31 cells: argsort and int64 indices
        if nan_policy == "raise":
            check_finite(arr, "array", hint=_NAN_HINT)
        src = flat = np.asarray(arr, dtype=np.float64).reshape(-1)
        key = -flat if filtration == "superlevel" else flat
        mask = nonfinite_mask(flat)
        if mask is None:
            order = np.argsort(key, kind="stable")
        else:
            idx = np.flatnonzero(~mask)
            order = idx[np.argsort(key[idx], kind="stable")]
        del key, mask
        multi = np.unravel_index(order, core)
        order = np.zeros(order.shape[0], dtype=np.int64)
        for i in range(len(core)):
            order += lay.tables[i][multi[i]]
        del multi
        n_active = order.shape[0]
        parent = buf = np.full(lay.size, -1, dtype=np.int64)
    bcells, dcells = union_find_padded(order, n_active, parent, lay.offsets, lay.lmask, lay.pf)
    del order, parent, buf
    return _make_diagram(src, shape, lay, bcells, dcells, filtration, keep_zero)


def _numba_values(arr: np.ndarray) -> np.ndarray:
    """(n,) the values in C order as a dtype numba reads; a copy only for other layouts."""
    src = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
    if src.dtype == np.float16:
        src = src.astype(np.float32)
    elif src.dtype == np.bool_:
        src = src.view(np.uint8)
    return src.reshape(-1)


def _parent_storage(spare: np.ndarray, size: int) -> np.ndarray:
    """The union-find array (all -1): the sort's spare buffer when it is large enough,
    64-byte aligned so that a brick of 16 int32 is exactly one cache line."""
    buf = spare.view(np.int32)
    if size + 16 > buf.shape[0]:
        buf = np.empty(size + 16, dtype=np.int32)
    start = (-buf.ctypes.data % 64) // 4
    parent = buf[start : start + size]
    parent.fill(-1)
    return parent


def _make_diagram(src, shape, lay, bcells, dcells, filtration, keep_zero) -> Diagram:
    """Diagram from the storage indices of the critical cells (``src``: values in C order)."""
    from .._kernels._persistence import cells_to_pairs

    births, deaths, bcore, dcore = cells_to_pairs(
        bcells,
        dcells,
        src,
        np.array(lay.core, dtype=np.int64),
        np.array(lay.B, dtype=np.int64),
        np.array(lay.NB, dtype=np.int64),
        filtration == "superlevel",
    )
    if not keep_zero:
        sel = births != deaths
        if not sel.all():
            births, deaths, bcore, dcore = births[sel], deaths[sel], bcore[sel], dcore[sel]
    if len(shape) == bcore.shape[1]:
        bidx, didx = bcore, dcore
    else:  # put the size-1 axes back
        keep_axes = [i for i, s in enumerate(shape) if s > 1]
        bidx = np.zeros((births.shape[0], len(shape)), dtype=np.int64)
        didx = np.zeros((births.shape[0], len(shape)), dtype=np.int64)
        didx[dcore[:, 0] < 0] = -1
        for j, ax in enumerate(keep_axes):
            bidx[:, ax] = bcore[:, j]
            didx[:, ax] = dcore[:, j]
    return Diagram._new(births, deaths, bidx, didx, filtration, shape)

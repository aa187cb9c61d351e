"""Dimension d-1 by Alexander duality: a 0-D union-find with one virtual cell outside.

The voids of the sublevel set ``{a <= t}`` of the cubical complex of a box are the
components of its complement, the cells with ``a > t`` plus the outside of the array,
minus the outside's own component.  The complement of the T-construction is joined
through (d-1)-faces (face connectivity), that of the V-construction through the open
cubes (full connectivity).  So the (d-1)-diagram is the 0-D union-find of
:mod:`topoeval._kernels._persistence` walking the cells by *descending* value with the
complementary connectivity and one virtual cell, older than every other, adjacent to every
boundary cell; a class born at ``c`` that merges at ``m`` is the void ``(a[m], a[c])``
(Bleile et al., arXiv 2102.11397; cripser's ``top_dim``).

The virtual cell costs no padded copy: the union-find storage already has a frame of
cells around the grid; the frame is pre-linked to one extra root placed past the end of
the storage, which the walk meets first, so it takes the oldest birth slot.

The block engine (:func:`topoeval.persistence.blocks.block_diagram` with ``top=True``) runs
the same walk block by block: the virtual cell is node 0 of every block's reduced graph (the
frame outside the array linked to it), and the glue identifies the two sides' nodes, so
lazy, dask and larger-than-memory inputs get the identical diagram (:func:`other_dimension`;
several dimensions at once: :func:`several_dimensions`).
"""

from __future__ import annotations

import numpy as np

from .diagram import Diagram
from .layout import _MAX_INT32_CELLS, _layout

__all__: list[str] = []


def top_dimension(arr: np.ndarray, filtration: str, connectivity: str, keep_zero: bool) -> Diagram:
    """The (d-1)-diagram of a finite array with no axis of length 1 (d >= 2).

    Parameters
    ----------
    arr : (n_0, ..., n_{d-1}) real ndarray, every ``n_i >= 2``
    filtration : {"sublevel", "superlevel"}
    connectivity : {"full", "face"}
        The complex (T / V construction); the union-find runs with the other one.
    keep_zero : bool

    Returns
    -------
    Diagram
        ``dim = d - 1``; ``birth_index`` is the cell where the two complement components
        merged (whose value the void's birth face takes), ``death_index`` the cell that
        was born (the cube / vertex that fills it).  Pairs in the union-find's birth order.
    """
    from .grid import _make_diagram

    dual = "face" if connectivity == "full" else "full"
    # sublevel voids: the complement grows as t falls, so the walk is by descending value
    bcells, dcells, src, lay = union_find_outside(arr, filtration == "sublevel", dual)
    shape = tuple(int(s) for s in arr.shape)
    uf = _make_diagram(src, shape, lay, bcells, dcells, filtration, keep_zero)
    return Diagram._new(uf.deaths, uf.births, uf.death_index, uf.birth_index, filtration, shape, len(shape) - 1)


def union_find_outside(arr: np.ndarray, descending: bool, connectivity: str):
    """0-D union-find of ``arr`` with a virtual cell touching the boundary.

    Parameters
    ----------
    arr : real ndarray with no axis of length 1
    descending : bool
        Walk the cells by descending value (ties: ascending C-order flat index).
    connectivity : {"full", "face"}

    Returns
    -------
    birth_cells, death_cells : (m,) int64
        Storage indices of the creating and killing cell of every class except the
        virtual one (all of them die: everything merges with the outside).
    src : (n,) ndarray
        The values in C order.
    lay : _Layout
    """
    from .._kernels._persistence import radix_sort_cells, union_find_padded
    from .grid import _numba_values

    core = tuple(int(s) for s in arr.shape)
    n = arr.size
    lay = _layout(core, connectivity, True)
    gap = int(np.abs(lay.offsets).max()) + 1  # no neighbour of the virtual cell is a grid cell
    if lay.size + 2 * gap + 1 >= _MAX_INT32_CELLS:
        lay = _layout(core, connectivity, False)
        gap = int(np.abs(lay.offsets).max()) + 1
    src = _numba_values(arr)
    size = lay.size + 2 * gap + 1
    virtual = lay.size + gap
    if size < _MAX_INT32_CELLS:
        order, _, spare = radix_sort_cells(src, descending, np.array(core, dtype=np.int64), lay.tables)
        del spare
        walk = np.empty(n + 1, dtype=np.uint32)
        parent = np.full(size, virtual, dtype=np.int32)
    else:  # more than 2**31 cells: argsort and int64 storage indices
        flat = np.asarray(src, dtype=np.float64)
        order_c = np.argsort(-flat if descending else flat, kind="stable")
        multi = np.unravel_index(order_c, core)
        del order_c
        order = np.zeros(n, dtype=np.int64)
        for i in range(len(core)):
            order += lay.tables[i][multi[i]]
        del multi
        walk = np.empty(n + 1, dtype=np.int64)
        parent = np.full(size, virtual, dtype=np.int64)
    # frame (and unused brick slots) -> linked to the virtual root; grid cells and the
    # space around the virtual cell -> not yet in the filtration
    parent[lay.size :] = -1
    parent[order] = -1
    walk[0] = virtual
    walk[1:] = order
    del order
    bcells, dcells = union_find_padded(walk, n + 1, parent, lay.offsets, lay.lmask, lay.pf)
    assert bcells[0] == virtual and dcells[0] == -1
    return bcells[1:], dcells[1:], src, lay


def other_dimension(array, dim, filtration, connectivity, nan_policy, keep_zero, jobs, block_shape, memory_limit):
    """``persistence_diagram(array, dim=dim, ...)`` for ``dim != 0``: where each dimension runs.

    Dimension d-1 (d: the axes longer than 1) goes to the block engine whenever dimension 0
    would (lazy and dask inputs, ``block_shape``/``memory_limit`` given, big arrays with
    several jobs): the same 0-D union-find with the virtual cell, block by block.  The middle
    dimensions need the whole complex: an in-memory array is reduced in one piece (``jobs``
    and the block options are then not used); a lazy input is refused, never loaded whole.
    """
    from .._validation import check_choice
    from ..errors import InvalidOptionError
    from .blocks import block_diagram, check_jobs, use_blocks
    from .cubical import _check_dims, _empty, one_dimension
    from .diagram import FILTRATIONS
    from .lazy import check_lazy

    check_jobs(jobs)
    if isinstance(dim, (int, np.integer)) and not isinstance(dim, (bool, np.bool_)) and dim == 0:
        from .grid import persistence_diagram  # dim=np.int64(0): dimension 0 itself

        return persistence_diagram(array, filtration=filtration, connectivity=connectivity, nan_policy=nan_policy,
                                   keep_zero=keep_zero, jobs=jobs, block_shape=block_shape, memory_limit=memory_limit)
    if not use_blocks(array, jobs, block_shape, memory_limit):
        return one_dimension(array, dim, filtration, connectivity, nan_policy, keep_zero, jobs)
    check_choice(filtration, "filtration", FILTRATIONS)
    check_choice(connectivity, "connectivity", ("full", "face"))
    check_choice(nan_policy, "nan_policy", ("raise", "omit"))
    if nan_policy != "raise":
        raise InvalidOptionError(
            f"nan_policy={nan_policy!r} is only available with dim=0; remove it or replace the "
            "non-finite values (e.g. np.nan_to_num) for dim >= 1"
        )
    if not isinstance(keep_zero, (bool, np.bool_)):
        raise InvalidOptionError(f"keep_zero={keep_zero!r} is not valid; pass True or False")
    in_memory = isinstance(array, np.ndarray) and not isinstance(array, np.memmap)
    shape = tuple(int(s) for s in (np.shape(array) if in_memory else check_lazy(array)[0]))
    if isinstance(dim, (list, tuple, str)) or len(_check_dims(dim, len(shape))) != 1:
        raise InvalidOptionError(f"dim={dim!r} is not valid; pass one integer (persistence_diagrams takes several)")
    k = int(dim)
    top = sum(s > 1 for s in shape) - 1
    if k > top:  # no k-cells beyond the axes longer than 1
        return _empty(filtration, shape, k)
    if k == top:
        return block_diagram(array, filtration, connectivity, "raise", bool(keep_zero), jobs=jobs,
                             block_shape=block_shape, memory_limit=memory_limit, top=True)
    if in_memory:
        return one_dimension(array, dim, filtration, connectivity, nan_policy, keep_zero, jobs)
    refuse_middle([k], shape, f"lazy input ({type(array).__name__})", keep=f"dim=0 or dim={top}")


def plan_dimensions(shape, dims, lazy: bool, what: str = "array") -> dict[str, list[int]]:
    """Where each asked dimension of an array of ``shape`` runs, checked before any read.

    Returns ``{"blocks": [...], "middle": [...], "empty": [...]}``: 0 and the top dimension
    (d-1, d the axes longer than 1) can run on the block engine, the middle ones need the
    whole complex, those above the top have no cells (empty diagrams).  ``dims``: what
    :func:`~topoeval.persistence.cubical._check_dims` accepts (None / "all": every one).
    A ``lazy`` input with middle dimensions is refused (InvalidInputError naming the way out).
    """
    from .cubical import _check_dims

    shape = tuple(int(s) for s in shape)
    wanted = _check_dims(dims, len(shape))
    top = sum(s > 1 for s in shape) - 1
    plan = {"blocks": [k for k in wanted if k == 0 or k == top],
            "middle": [k for k in wanted if 0 < k < top],
            "empty": [k for k in wanted if k > max(top, 0)]}
    if lazy and plan["middle"]:
        refuse_middle(plan["middle"], shape, what)
    return plan


def complex_bytes(shape) -> int:
    """About the bytes the middle dimensions of an array of ``shape`` take: ~17 per cell of its
    complex (``2**d'`` cells per element, d' the axes longer than 1)."""
    long_axes = sum(s > 1 for s in shape)
    return int(np.prod(shape, dtype=np.int64)) * 2**long_axes * 17


def refuse_middle(middle, shape, what="array", how=None, keep=None):
    """InvalidInputError: the middle dimensions ``middle`` of a lazy / streamed input of ``shape``."""
    from ..errors import InvalidInputError
    from .blocks import format_size

    top = sum(s > 1 for s in shape) - 1
    names = ("dimension " if len(middle) == 1 else "dimensions ") + ", ".join(map(str, middle))
    keep = keep or f"dims=(0, {top})"
    raise InvalidInputError(
        f"{names} of a {len(shape)}-D {what} of shape {shape} {'needs' if len(middle) == 1 else 'need'} the "
        f"whole cubical complex in "
        f"memory (about {format_size(complex_bytes(shape))}); only dimensions 0 and {top} run a block "
        f"at a time - {how or 'load it with np.asarray(...) if it fits'}, or ask for {keep}"
    )


def several_dimensions(array, dims, filtration, connectivity, keep_zero, jobs, block_shape, memory_limit):
    """:func:`~topoeval.persistence.persistence_diagrams` where dimension 0 would take the block
    engine (lazy and dask inputs, ``block_shape`` / ``memory_limit``, big arrays with several
    jobs); None otherwise (the caller computes in memory as before).

    Dimensions 0 and d-1 run block by block (each the diagram ``persistence_diagram(dim=k)``
    gives for the same options); the middle ones of an in-memory array in one piece, of a lazy
    input refused before any read; those above the axes longer than 1 are empty.
    """
    from .blocks import block_diagram, use_blocks
    from .cubical import _empty, _higher
    from .lazy import check_lazy

    if not use_blocks(array, jobs, block_shape, memory_limit):
        return None
    in_memory = isinstance(array, np.ndarray) and not isinstance(array, np.memmap)
    if in_memory:
        from .._validation import as_real_array

        array = as_real_array(array, "array")
        shape = array.shape
    else:
        shape = check_lazy(array)[0]
    shape = tuple(int(s) for s in shape)
    plan = plan_dimensions(shape, dims, not in_memory, f"lazy input ({type(array).__name__})")
    out = {k: _empty(filtration, shape, k) for k in plan["empty"]}
    if plan["middle"]:  # in memory (checked above): first, so non-finite values fail before any block
        from .._validation import check_finite

        from .grid import DIM_NAN_HINT

        check_finite(array, "array", hint=DIM_NAN_HINT)
        out.update(_higher(array, plan["middle"], filtration, connectivity, keep_zero, jobs))
    for k in plan["blocks"]:
        out[k] = block_diagram(array, filtration, connectivity, "raise", keep_zero, jobs=jobs,
                               block_shape=block_shape, memory_limit=memory_limit, top=k > 0)
    return {k: out[k] for k in sorted(out)}

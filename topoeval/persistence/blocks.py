"""Block-decomposed exact 0-D persistence: threads, inputs larger than memory, Dask.

The grid is cut into boxes.  Each block runs the monolithic engine's union-find over its
cells in the *global* filtration order (value, then the flat index of the whole array: a
stable sort of a block in its own C order gives exactly that, since C order restricted to a
box is the global C order), and keeps what the rest of the array can still change:

* View 0-D persistence as Kruskal on a graph whose vertices carry birth keys (minima) or none
  (pure connectors) and whose edges carry the key of the cell that joins them.  Processing
  edges by key, a merge of two components with minima kills the younger at that edge's cell
  (elder rule); that is the monolithic engine's multiset of (birth cell, death cell).
* A dying component that touches no block boundary is a whole component of the global
  filtration, and the other side's global minimum is at most its local one: its pair is
  final in the block.  Otherwise its minimum becomes a node of the block's *reduced graph*,
  as do the boundary cells and the surviving minimum; the edges between them (a forest: at
  most ``#nodes - 1``) keep the minimax connection key, which is all the elder rule needs.
  Its size follows the boundary, not the volume.
* Two neighbouring regions are glued by Kruskal over both reduced graphs plus the edges
  between adjacent boundary cells across the interface; the same rules give the pairs that
  became final and the reduced graph of the merged region's outer boundary.  Regions merge
  in a binary tree (split along the axis with the most blocks); at the root all is final.
  Sorting the final pairs by birth key gives the monolithic pair order.

This is the distributed merge-tree scheme of Morozov & Weber ("Distributed merge trees",
PPoPP 2013: local trees restricted to the block boundary plus the minima that can still
change, glued pairwise in a reduction) in the form of a Kruskal reduction: the "local-global"
edges of Reeber's merge trees correspond to our reduced edges (both keep, for the boundary
vertices, only the minimax path keys).  Exactness is tested bit for bit against the
monolithic engine in ``tests/test_blocks.py``.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from ..errors import InvalidOptionError, NonFiniteError
from .glue import PairStore, assemble, assembly_bytes, block_bytes
from .lazy import BlockReader, check_lazy, is_dask_array, kernel_dtype
from .layout import _squeezed_shape

__all__: list[str] = []

_THREAD_MIN_CELLS = 1 << 20  # below: one core does it faster than blocks and threads
_BLOCK_MAX_CELLS = 1 << 28  # storage indices stay int32 with the padding
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def default_jobs() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def available_memory() -> int:
    """Bytes of memory available now (Linux: MemAvailable; else physical free pages)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))  # pragma: no cover


def parse_size(value: Any, name: str = "memory_limit") -> int:
    """Bytes from an int or a string such as ``"3GB"``, ``"512MB"``, ``"1.5GiB"``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
        return int(value)
    if isinstance(value, float) and value > 0 and np.isfinite(value):
        return int(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?i?)b?\s*", value.lower())
        if m and float(m.group(1)) > 0:
            return int(float(m.group(1)) * _UNITS[m.group(2)])
    raise InvalidOptionError(
        f"{name}={value!r} is not a size; pass a positive number of bytes or a string like '3GB' or '512MB'"
    )


def format_size(n: int) -> str:
    for unit, f in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= f:
            return f"{n / f:.3g} {unit}"
    return f"{n} B"


def check_jobs(jobs: Any) -> int:
    if jobs is None:
        return default_jobs()
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise InvalidOptionError(f"jobs={jobs!r} is not valid; pass a positive number of threads (or None: all cores)")
    return int(jobs)


def use_blocks(array: Any, jobs: Any, block_shape: Any, memory_limit: Any) -> bool:
    """Does ``persistence_diagram`` take the block engine for these arguments?"""
    if block_shape is not None or memory_limit is not None or is_dask_array(array):
        return True
    if isinstance(array, np.memmap) or (not isinstance(array, np.ndarray) and _lazy_like(array)):
        return True
    size = int(np.size(array)) if isinstance(array, np.ndarray) else 0
    return check_jobs(jobs) > 1 and size >= _THREAD_MIN_CELLS


def _lazy_like(a):
    from .lazy import is_lazy

    return is_lazy(a) and type(a).__module__.split(".")[0] in ("h5py", "zarr", "topoeval", "xarray", "netCDF4")


# ---------------------------------------------------------------- block grid
def _cuts(n: int, size: int) -> list[int]:
    return list(range(0, n, size)) + [n]


def choose_block_shape(core, itemsize, connectivity, jobs, limit, chunks=None):
    """The largest slab-like block (cut along the first axes) whose pass fits the budget.

    ``jobs`` blocks run at a time and share ``limit`` with the reduced graphs and the final
    pairs held in memory (:func:`pair_budget`); with several jobs there are at least
    ``2 * jobs`` blocks so that the threads stay busy.  ``chunks`` (of an HDF5/zarr input):
    the cuts are whole chunks where they can be (an axis is cut no finer than one chunk, the
    next axis is cut instead), so that every chunk of the file is read once.
    """
    d = len(core)
    budget = (limit - _glue_bytes(core, jobs) - pair_budget(limit)) // max(1, jobs)
    total = int(np.prod(core, dtype=np.int64))
    want = min(max(1, total // (2 * jobs)) if jobs > 1 else total, _BLOCK_MAX_CELLS)

    def fits(b):
        return block_bytes(b, itemsize, connectivity) <= budget

    bs = list(core)
    for ax in range(d):
        if int(np.prod(bs, dtype=np.int64)) <= want and fits(bs):
            break
        rest = int(np.prod(bs[ax + 1 :], dtype=np.int64))
        t = max(1, min(core[ax], want // max(rest, 1)))
        c = chunks[ax] if chunks is not None and chunks[ax] and chunks[ax] < core[ax] else 1
        # whole chunks of the file; not below one chunk while another axis can be cut instead
        step = c if t >= c and ax < d - 1 else 1
        t -= t % step
        while t > step and not fits(bs[:ax] + [t] + bs[ax + 1 :]):
            t = max(step, (t // 2) - (t // 2) % step)
        bs[ax] = t
    if block_bytes(bs, itemsize, connectivity) > budget:
        need = smallest_limit(core, itemsize, connectivity, jobs)
        raise InvalidOptionError(
            f"memory_limit={format_size(limit)} is too small for one block of this {tuple(core)} "
            f"array with {jobs} job(s); the smallest workable limit is about {format_size(need)} "
            "- pass a larger memory_limit (or fewer jobs)"
        )
    return tuple(bs)


def pair_budget(limit: int) -> int:
    """Bytes of final pairs held in memory while the blocks run (beyond: a temporary file)."""
    return int(limit) // 8


def _glue_bytes(core, jobs=1) -> int:
    """The reduced graphs held while gluing: a region's graph is about two cut planes of
    nodes and edges (49 B per node: 17 B of node, 32 B of edge); about ``jobs + 4`` of them
    are pending at a time (one per tree level on the current path, the running tasks), and a
    merge holds its two inputs plus about as much again while it runs."""
    d = len(core)
    plane = int(np.prod(core[1:], dtype=np.int64)) if d > 1 else 1
    return (jobs + 4) * 2 * plane * 56 + (8 << 20)


def smallest_limit(core, itemsize, connectivity, jobs) -> int:
    d = len(core)
    row = (1,) * (d - 1) + (min(core[-1], 4096),)
    need = jobs * block_bytes(row, itemsize, connectivity) + _glue_bytes(core, jobs)
    return need * 8 // 7 + 1  # and the pairs' share, pair_budget


def merge_tree(cuts):
    """Post-order task list over the block grid (see :mod:`.executors`)."""
    tree: list[tuple] = []

    def build(blo, bhi):
        ext = [h - l for l, h in zip(blo, bhi)]
        ax = int(np.argmax(ext))
        if ext[ax] == 1:
            lo = tuple(cuts[i][blo[i]] for i in range(len(cuts)))
            hi = tuple(cuts[i][bhi[i]] for i in range(len(cuts)))
            tree.append(("leaf", lo, hi))
            return len(tree) - 1
        mid = blo[ax] + ext[ax] // 2
        left = build(blo, tuple(mid if i == ax else h for i, h in enumerate(bhi)))
        right = build(tuple(mid if i == ax else l for i, l in enumerate(blo)), bhi)
        tree.append(("merge", left, right, ax))
        return len(tree) - 1

    build(tuple(0 for _ in cuts), tuple(len(c) - 1 for c in cuts))
    return tree


def _core_block_shape(block_shape, shape, core):
    """A user's block shape (per axis of the input, or of its squeezed shape) on the core axes."""
    try:
        bs = tuple(int(b) for b in block_shape)
    except (TypeError, ValueError):
        raise InvalidOptionError(f"block_shape={block_shape!r} is not a tuple of positive integers") from None
    if len(bs) == len(shape) and len(bs) != len(core):
        bs = tuple(b for b, s in zip(bs, shape) if s > 1) or (bs[-1],)
    if len(bs) != len(core) or any(b < 1 for b in bs):
        raise InvalidOptionError(
            f"block_shape={block_shape!r} does not fit an array of shape {shape}; pass one positive "
            f"size per axis, e.g. {tuple(max(1, s // 2) for s in shape)}"
        )
    bs = tuple(min(b, n) for b, n in zip(bs, core))
    if int(np.prod(bs, dtype=np.int64)) > _BLOCK_MAX_CELLS:
        raise InvalidOptionError(
            f"block_shape={tuple(block_shape)} has {int(np.prod(bs, dtype=np.int64))} cells; a block may have "
            f"at most {_BLOCK_MAX_CELLS} (2**28) - pass a smaller block_shape"
        )
    return bs


def _dask_cuts(array, shape, core, flip):
    chunks = [c for c, s in zip(array.chunks, shape) if s > 1] or [array.chunks[-1]]
    cuts = []
    for c, n in zip(chunks, core):
        edges = np.concatenate([[0], np.cumsum(c)]).astype(int)
        cuts.append(sorted(int(n - e) for e in edges) if flip else [int(e) for e in edges])
    return cuts


# ---------------------------------------------------------------- driver
def block_diagram(array, filtration, connectivity, nan_policy, keep_zero, *, jobs=None, block_shape=None,
                  memory_limit=None, scheduler=None, progress=None, name="array", top=False):
    """The block engine behind :func:`~topoeval.persistence.persistence_diagram` (validated options).

    ``scheduler``: a ``distributed.Client`` (or a Dask scheduler name) to run the tasks with
    Dask; dask arrays use Dask by default.  ``progress``: called as ``progress(done, total)``
    after each task (thread runner only).  ``top``: the diagram of dimension d-1 (d = the axes
    longer than 1, at least 2) by duality instead of dimension 0: the 0-D engine walking the
    cells by the opposite order with the complementary connectivity and one virtual cell
    outside the array (see :mod:`.duality`).  Returns the Diagram in the caller's coordinates.
    """
    superlevel = filtration == "superlevel"
    if top:  # sublevel voids: by descending value, ties by ascending flat index, not flipped
        flip, descending, conn = False, not superlevel, ("face" if connectivity == "full" else "full")
    else:  # superlevel ties by descending flat index: flip every axis, then ascending
        flip, descending, conn = superlevel, superlevel, connectivity
    dask_in = is_dask_array(array)
    if isinstance(array, np.ndarray) and not isinstance(array, np.memmap):
        from .._validation import as_real_array

        array = as_real_array(array, name)
        shape, dt = array.shape, array.dtype
    else:
        shape, dt = check_lazy(array, name)
    core = _squeezed_shape(shape)
    njobs = check_jobs(jobs)
    limit = available_memory() // 2 if memory_limit is None else parse_size(memory_limit)
    itemsize = kernel_dtype(dt).itemsize
    reader = BlockReader(array, shape, flip)
    if block_shape is not None:
        bs = _core_block_shape(block_shape, shape, core)
        if dask_in:  # the chunks are the blocks
            it = iter(bs)
            full = tuple(next(it) if s > 1 else 1 for s in shape) if max(shape) > 1 else (1,) * len(shape)
            array = array.rechunk(full)
        need = (njobs * block_bytes(bs, itemsize, conn) + _glue_bytes(core, njobs)) * 8 // 7 + 1
        if memory_limit is not None and need > limit:
            raise InvalidOptionError(
                f"memory_limit={format_size(limit)} is too small for block_shape={tuple(block_shape)} "
                f"with {njobs} job(s): about {format_size(need)} is needed; pass a smaller block_shape "
                f"or memory_limit >= {format_size(need)}"
            )
        cuts = [_cuts(n, b) for n, b in zip(core, bs)]
        if dask_in:
            reader = BlockReader(array, shape, flip)
            cuts = _dask_cuts(array, shape, core, flip)
    elif dask_in:
        cuts = _dask_cuts(array, shape, core, flip)
    else:
        chunks = _source_chunks(array, shape)
        bs = choose_block_shape(core, itemsize, conn, njobs, limit, chunks)
        cuts = [_cuts(n, b) for n, b in zip(core, bs)]
    tree = merge_tree(cuts)
    mode = (conn, descending, bool(top))
    if dask_in or scheduler is not None:
        from .executors import run_dask

        chunks = _dask_chunks(array, tree, reader, shape) if dask_in else None
        parts, n_active = run_dask(tree, reader, core, mode, chunks, scheduler)
        pairs = PairStore(pair_budget(limit))
        for p in parts:
            pairs.add(p)
        del parts
    else:
        from .executors import run_threads

        pairs, n_active = run_threads(tree, reader, core, mode, njobs, progress, PairStore(pair_budget(limit)))
    try:
        if n_active < int(np.prod(core, dtype=np.int64)) and (nan_policy == "raise" or top):
            _raise_nonfinite(reader, tree, name, top)
        _check_assembly(pairs.count, shape, limit, memory_limit)
        dgm = assemble(pairs, core, shape, descending, keep_zero, flip=superlevel and not top)
    finally:
        pairs.close()
    from .diagram import Diagram

    if top:  # a class born at c that merges at m is the void (a[m], a[c])
        out = Diagram._new(dgm.deaths, dgm.births, dgm.death_index, dgm.birth_index, filtration, dgm.shape,
                           len(core) - 1)
        from .glue import by_birth_death

        # a second copy of the pairs only where the budget holds it beside the first
        return by_birth_death(out, in_place=2 * assembly_bytes(len(out), len(shape)) > limit)
    return dgm


def _check_assembly(count, shape, limit, memory_limit):
    """An explicit ``memory_limit`` too small for the diagram itself: say so, with the way out."""
    need = assembly_bytes(count, len(shape))
    if memory_limit is not None and need > limit:
        raise InvalidOptionError(
            f"memory_limit={format_size(limit)} is too small for this diagram: it has {count} pairs, "
            f"and assembling them in order takes about {format_size(need)}; the smallest workable "
            f"limit is about {format_size(need)} - pass memory_limit >= {format_size(need)}"
        )


def _source_chunks(array, shape):
    ch = getattr(array, "chunks", None)
    if not isinstance(ch, tuple) or len(ch) != len(shape) or not all(isinstance(c, (int, np.integer)) for c in ch):
        return None
    core = [int(c) for c, s in zip(ch, shape) if s > 1] or [int(ch[-1])]
    return core


def _dask_chunks(array, tree, reader, shape):
    """``{leaf task: delayed chunk}`` of a dask array (the chunk grid is the block grid)."""
    delayed = array.to_delayed()
    out = {}
    for t, task in enumerate(tree):
        if task[0] != "leaf":
            continue
        sl = reader.slices(task[1], task[2])
        idx = []
        for ax, s in enumerate(sl):
            edges = np.concatenate([[0], np.cumsum(array.chunks[ax])])
            idx.append(int(np.searchsorted(edges, s.start, side="right") - 1))
        out[t] = delayed[tuple(idx)]
    return out


def _raise_nonfinite(reader, tree, name, top=False):
    from .._validation import check_finite
    from .grid import _NAN_HINT, DIM_NAN_HINT

    NAN_HINT = DIM_NAN_HINT if top else _NAN_HINT
    if isinstance(reader.source, np.ndarray):
        check_finite(reader.source, name, hint=NAN_HINT)
    first, count = None, 0
    for task in tree:
        if task[0] == "leaf":
            hit = reader.first_nonfinite(task[1], task[2])
            if hit is not None:
                count += hit[2]
                if first is None or hit[0] < first[0]:
                    first = hit
    raise NonFiniteError(
        f"{name} holds {count} non-finite value(s) (NaN or +-inf), the first {first[1]} at index "
        f"{first[0]}; clean the data{NAN_HINT}"
    )

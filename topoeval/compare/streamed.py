"""The streamed :func:`topoeval.compare`: fields larger than memory, read a slab at a time.

The fields are cut into slabs along their first axis longer than 1 and read one slab (with one
halo row on each side) at a time, so at most a few slabs are in memory, whatever the size:

* pointwise metrics: the slabs' cells are fed, in C order and in the blocks of 2**20 values the
  in-memory pass uses, to the same one-pass accumulators (:func:`topoeval.metrics._accumulate_blocks`):
  for C-ordered inputs the values are the in-memory ones bit for bit;
* exact and smooth DSL: every slab on its own (all axes), plus the differences along the cut axis
  that straddle two slabs from the two rows around each cut (that axis only): every difference
  is counted once; counts exact, sums to rounding (added in slab order);
* critical points: each slab is classified with its halo rows (a type depends only on the
  neighbours one step away) and only its own rows are counted: identical counts;
* persistence diagrams: the block engine of :mod:`topoeval.persistence` reads the inputs itself,
  a block at a time within ``memory_limit`` (``dims``: dimension 0, and d-1 by duality; the middle
  dimensions are refused by :func:`topoeval.compare`); the distances are computed on the diagrams
  as in memory.

``progress(stage, done, total)`` is called after every slab (``stage="blocks"``) and every
persistence block (``stage="persistence <key> orig|recon"``, the key ``sublevel``, ``sublevel_dim2`` ...); the CLI turns it into a
progress bar.  Not streamed (they raise InvalidOptionError with the way out): ``batch_axis``,
``nan_policy="omit"``, and critical points with ``min_persistence > 0`` (the per-cell
persistence is a global union-find).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from ..errors import InvalidOptionError
from .result import _scalar

#: bytes per cell of one slab in flight: both fields as float64, their contiguous copies, the
#: critical-point kernels' outputs, DSL and metric temporaries (measured peak, rounded up)
_BYTES_PER_CELL = 64
_RATES = {
    "cp_fn_rate": ("cp_false_negatives", "cp_n_critical_orig"),
    "cp_fp_rate": ("cp_false_positives", "cp_n_critical_recon"),
    "cp_ft_rate": ("cp_false_types", "cp_n_critical_orig"),
}


class _Cast:
    """A lazy view of ``base`` converted to ``dtype`` slice by slice (for ``dtype=`` of compare)."""

    def __init__(self, base: Any, dtype: np.dtype):
        self.base, self.dtype = base, np.dtype(dtype)
        self.shape = tuple(int(s) for s in base.shape)
        self.ndim = len(self.shape)
        self.chunks = getattr(base, "chunks", None)

    def __getitem__(self, idx):
        return np.asarray(self.base[idx], dtype=self.dtype)


def _cast(a, dt):
    if type(a).__module__.startswith("dask."):
        return a.astype(dt)  # stays a dask array: its chunks remain the blocks
    return _Cast(a, dt)


def for_workers(a: Any, name: str) -> Any:
    """An input Dask workers can read themselves: a dask array, a file specification (opened on
    each worker), or any other picklable lazy array; never data pickled through the client."""
    import os

    from ..errors import InvalidInputError
    from ..persistence.lazy import FileOpener, is_dask_array

    if isinstance(a, (str, os.PathLike)):
        return FileOpener(os.fspath(a))
    if is_dask_array(a) or isinstance(a, FileOpener):
        return a
    if is_dask_array(getattr(a, "data", None)) and hasattr(a, "dims"):  # a dask-backed xarray DataArray
        return a.data
    kind = type(a).__module__.split(".")[0]
    if isinstance(a, np.ndarray) or kind in ("h5py", "topoeval", "netCDF4", "xarray"):
        raise InvalidInputError(
            f"{name} ({type(a).__name__}) cannot be read by Dask workers (its data or an open file handle "
            "would be pickled); pass the file specification instead ('file.h5:/dataset', 'field.npy'), "
            "or a dask array (dask.array.from_zarr / from_array with a chunk size)"
        )
    return a


def needs_streaming(orig: Any, recon: Any, limit: int | None) -> bool:
    """Lazy inputs that are not in-memory NumPy arrays, or fields larger than ``limit`` bytes."""
    from ..persistence.lazy import is_lazy

    if any(is_lazy(a) and not isinstance(a, np.ndarray) for a in (orig, recon)):
        return True
    if limit is None:
        return False
    cells = math.prod(int(s) for s in np.shape(orig))
    return 2 * 8 * cells > limit


def _check_streamable(opts: dict[str, Any]) -> None:
    why = None
    if opts["batch_axis"] is not None:
        why = "batch_axis (compare the samples one by one: compare(orig[i], recon[i], ...))"
    elif opts["nan_policy"] != "raise":
        why = "nan_policy='omit'"
    elif "critical_points" in opts["metrics"] and opts["min_persistence"] > 0:
        why = "min_persistence > 0 for critical points (the per-cell persistence is global)"
    if why is not None:
        raise InvalidOptionError(
            f"the fields are compared streamed (lazy inputs or larger than memory_limit), which does not "
            f"support {why}; raise memory_limit and pass in-memory arrays (np.asarray), or leave the option out"
        )


def _slab_rows(shape: tuple[int, ...], ax: int, limit: int) -> int:
    row_cells = math.prod(shape) // shape[ax]
    rows = limit // (_BYTES_PER_CELL * row_cells) - 2  # two halo rows
    if rows < 1:
        need = 3 * _BYTES_PER_CELL * row_cells
        raise InvalidOptionError(
            f"memory_limit={limit} bytes is too small for one slab of the streamed compare (3 rows of "
            f"{row_cells} cells, {_BYTES_PER_CELL} bytes each); pass memory_limit >= {need}"
        )
    return int(rows)


def streamed_compare(orig, recon, opts, *, jobs, limit, block_shape=None, progress: Callable | None = None,
                     weights_used=None, scheduler=None):
    """The parts of :func:`topoeval.compare` block by block; returns the Comparison's fields.

    ``scheduler``: a ``distributed.Client`` (or a ``dask.compute`` scheduler name): the slab
    tasks and both diagrams' block tasks run there, reading their own rows.
    """
    from ..persistence.blocks import available_memory
    from ..persistence.lazy import check_lazy

    _check_streamable(opts)
    if scheduler is not None:  # (compare() has converted file specifications already)
        orig, recon = for_workers(orig, "orig"), for_workers(recon, "recon")
    sx, dtx = check_lazy(orig, "orig")
    sy, dty = check_lazy(recon, "recon")
    if sx != sy:
        from ..errors import ShapeMismatchError

        raise ShapeMismatchError(f"orig has shape {sx} but recon has shape {sy}; pass arrays of the same shape")
    if opts["dtype"] != "input":
        dt = np.dtype(opts["dtype"])
        orig = orig if dtx == dt else _cast(orig, dt)
        recon = recon if dty == dt else _cast(recon, dt)
    limit = int(limit if limit is not None else available_memory() // 2)
    long_axes = [i for i, s in enumerate(sx) if s > 1]
    ax = long_axes[0] if long_axes else 0
    if block_shape is not None:
        block_shape = tuple(int(b) for b in block_shape)
        if len(block_shape) != len(sx) or min(block_shape, default=1) < 1:
            raise InvalidOptionError(
                f"block_shape={block_shape!r} is not valid for a {len(sx)}-D field; pass {len(sx)} positive ints"
            )
    rows = block_shape[ax] if block_shape is not None else _slab_rows(sx, ax, limit)
    parts = opts["metrics"]
    elapsed: dict[str, float] = {}
    result: dict[str, Any] = {}
    if {"pointwise", "dsl", "critical_points"} & set(parts):
        t = time.perf_counter()
        result.update(_slab_parts(orig, recon, sx, ax, rows, opts, jobs, progress, weights_used, scheduler))
        elapsed["slabs"] = time.perf_counter() - t
    if "persistence" in parts:
        t = time.perf_counter()
        result.update(_persistence(orig, recon, opts, jobs, None if block_shape else limit, block_shape, progress,
                                   scheduler))
        elapsed["persistence"] = time.perf_counter() - t
    return result, elapsed, (str(dtx), str(dty)), sx


def _read(a, ax, lo, hi):
    return np.ascontiguousarray(a[(slice(None),) * ax + (slice(lo, hi),)])


def _read_rows(shape, ax, a, b, pointwise):
    """Rows ``[lo, hi)`` a slab ``[a, b)`` reads: a halo row on each side and, for the pointwise
    metrics, the rest of the last 2**20-value block that starts in the slab (blocks are cut at the
    global flat offsets k * 2**20, as the in-memory pass cuts them)."""
    from ..metrics import _BLOCK

    n = shape[ax]
    rc = math.prod(shape) // n
    lo, hi = max(a - 1, 0), min(b + 1, n)
    first = -(-a * rc // _BLOCK) * _BLOCK
    last = (b * rc - 1) // _BLOCK * _BLOCK
    if pointwise and last >= first:
        hi = max(hi, -(-min(last + _BLOCK, n * rc) // rc))
    return lo, hi


def slab_task(x, y, off, a, b, ax, shape, opts, w, jobs):
    """Everything the slab parts need from the rows ``[a, b)`` along ``ax`` (a Dask task too).

    ``x``, ``y``: the inputs (or, for dask arrays, the rows this slab reads, starting at row
    ``off``).  Returns small results only: the DSL terms in the order they are added, the
    slab's ``cp_`` row, and the ``_block_stats`` of the 2**20-value blocks starting in it.
    """
    parts = opts["metrics"]
    n = shape[ax]
    lo, hi = max(a - 1, 0), min(b + 1, n)
    xs, ys = _read(x, ax, lo - off, hi - off), _read(y, ax, lo - off, hi - off)
    _check_finite(xs, ys, ax, lo)
    own = (slice(None),) * ax + (slice(a - lo, b - lo),)
    out: dict[str, Any] = {"dsl": [], "cp": None, "stats": []}
    if "dsl" in parts:
        out["dsl"] = _dsl_slab(xs, ys, own, ax, a - lo, b < n, opts, w, jobs)
    if "critical_points" in parts:
        out["cp"], out["cp_at"] = _cp_slab(xs, ys, own, opts, jobs, a * (math.prod(shape) // n))
    if "pointwise" in parts:
        out["stats"] = _block_stats_of_slab(x, y, off, xs, ys, lo, hi, a, b, ax, shape, jobs)
    return out


def _block_stats_of_slab(x, y, off, xs, ys, lo, hi, a, b, ax, shape, jobs):
    """``_block_stats`` of the 2**20-value blocks that start in the slab's own rows; the last
    one may end in the next slab's rows, which are read in pieces no larger than a slab."""
    from ..metrics import _BLOCK, _block_stats, _ordered_map

    rc = math.prod(shape) // shape[ax]
    r1 = _read_rows(shape, ax, a, b, True)[1]
    base = lo * rc
    starts = list(range(-(-a * rc // _BLOCK) * _BLOCK, b * rc, _BLOCK))
    xf, yf = xs.reshape(-1), ys.reshape(-1)
    pieces = [(xf[s - base : s - base + _BLOCK], yf[s - base : s - base + _BLOCK]) for s in starts]
    if r1 > hi:  # the rest of the last block, a slab's rows at a time (only the block's tail is copied)
        step = max(1, b - a)
        ex, ey = [pieces[-1][0]], [pieces[-1][1]]
        for r in range(hi, r1, step):
            px, py = _read(x, ax, r - off, min(r1, r + step) - off), _read(y, ax, r - off, min(r1, r + step) - off)
            _check_finite(px, py, ax, r)
            ex.append(px.reshape(-1))
            ey.append(py.reshape(-1))
        need = min(starts[-1] + _BLOCK, math.prod(shape)) - starts[-1]
        pieces[-1] = (np.concatenate(ex)[:need], np.concatenate(ey)[:need])
    blocks = ((np.asarray(px, dtype=np.float64), np.asarray(py, dtype=np.float64)) for px, py in pieces)
    return list(_ordered_map(_block_stats, blocks, jobs))


def _slab_parts(orig, recon, shape, ax, rows, opts, jobs, progress, weights_used, scheduler=None):
    from ..metrics import _accumulate_blocks, _summary

    n = shape[ax]
    cuts = list(range(0, n, rows)) + [n]
    slabs = list(zip(cuts[:-1], cuts[1:]))
    parts = opts["metrics"]
    if scheduler is None:
        results = []
        for i, (a, b) in enumerate(slabs):
            results.append(slab_task(orig, recon, 0, a, b, ax, shape, opts, weights_used, jobs))
            if progress is not None:
                progress("blocks", i + 1, len(slabs))
    else:
        results = _slabs_on_dask(orig, recon, slabs, ax, shape, opts, weights_used, scheduler, progress)
    out: dict[str, Any] = {}
    if "pointwise" in parts:
        stats = (st for r in results for st in r["stats"])
        out["pointwise"] = _summary(_accumulate_blocks((), stats=stats), opts["data_range"])
    if "dsl" in parts:
        acc = {"exact": 0.0, "smooth": 0.0}
        for r in results:  # added in slab order, as one pass over the slabs would
            for exact, smooth in r["dsl"]:
                acc["exact"] += exact
                acc["smooth"] += smooth
        out["dsl"] = _dsl_row(acc, shape, weights_used, opts["sharpness"])
    if "critical_points" in parts:
        out["critical_points"] = _merge_cp_rows([r["cp"] for r in results])
        out["cp_errors"] = StreamedErrorPositions(shape, out["critical_points"], [r["cp_at"] for r in results])
    return out


def _slabs_on_dask(orig, recon, slabs, ax, shape, opts, w, scheduler, progress):
    """One task per slab on the cluster; each reads its own rows (a file opener or dask array
    slices travel, never the data); results gathered in slab order."""
    import dask

    from ..persistence.lazy import is_dask_array

    tasks = []
    for a, b in slabs:
        r0, r1 = _read_rows(shape, ax, a, b, "pointwise" in opts["metrics"])
        if is_dask_array(orig):
            sl = (slice(None),) * ax + (slice(r0, r1),)
            args = (orig[sl], recon[sl], r0)
        else:
            args = (orig, recon, 0)
        tasks.append(dask.delayed(slab_task, pure=False)(*args, a, b, ax, shape, opts, w, 1))
    return dask_results(tasks, scheduler, "the slab parts (pointwise, DSL, critical points)",
                        None if progress is None else lambda d, t: progress("blocks", d, t))


def dask_results(tasks, scheduler, what, tick=None):
    """Compute delayed ``tasks`` on ``scheduler`` (a distributed Client: as futures, with
    ``tick(done, total)``; else ``dask.compute``); a worker that keeps dying is a TopoevalIOError."""
    import dask

    from ..errors import TopoevalIOError

    try:
        if not (hasattr(scheduler, "compute") and hasattr(scheduler, "gather")):
            return list(dask.compute(*tasks, scheduler=scheduler))
        import distributed

        futures = scheduler.compute(tasks)
        try:
            for done, _ in enumerate(distributed.as_completed(futures), 1):
                if tick is not None:
                    tick(done, len(futures))
            return [f.result() for f in futures]  # the first error in slab order is raised
        finally:
            scheduler.cancel(futures)
    except Exception as exc:
        if type(exc).__name__ == "KilledWorker":
            raise TopoevalIOError(
                f"a Dask worker died while computing {what} ({exc}); the task kept killing its workers - "
                "check the workers' memory limit (a slab needs about --memory-limit) and their logs"
            ) from None
        raise


def _check_finite(xs, ys, ax, lo):
    """NonFiniteError naming the first bad cell by its index in the whole field."""
    from .._validation import nonfinite_mask
    from ..errors import NonFiniteError

    for arr, name in ((xs, "orig"), (ys, "recon")):
        mask = nonfinite_mask(arr)
        if mask is not None:
            first = [int(i) for i in np.argwhere(mask)[0]]
            value = arr[tuple(first)]
            first[ax] += lo
            raise NonFiniteError(
                f"{name} holds a non-finite value (NaN or +-inf), the first {value} at index {tuple(first)}; "
                "clean the data, or pass in-memory arrays with nan_policy='omit'"
            )


def _dsl_slab(xs, ys, own, ax, start, more, opts, w, jobs):
    """The slab's (exact, smooth) DSL sums: its own rows, then the differences across its upper cut."""
    from ..dsl import dsl as smooth_dsl
    from ..dsl import exact_dsl

    kw = {"sharpness": opts["sharpness"], "sign": opts["sign"], "normalize": False, "jobs": jobs}
    xo, yo = xs[own], ys[own]
    terms = [(exact_dsl(yo, xo, weights=w, normalize=False, jobs=jobs), smooth_dsl(yo, xo, weights=w, **kw))]
    if more and w[ax] != 0:  # the pairs (last own row, first row of the next slab)
        k = start + xo.shape[ax] - 1
        pair = (slice(None),) * ax + (slice(k, k + 2),)
        w_edge = [w[ax] if i == ax else 0.0 for i in range(len(w))]
        terms.append((exact_dsl(ys[pair], xs[pair], weights=w_edge, normalize=False, jobs=jobs),
                      smooth_dsl(ys[pair], xs[pair], weights=w_edge, **kw)))
    return terms


def _dsl_row(acc, shape, w, sharpness):
    per = math.prod(shape)
    denom = float(sum(wi * (per // s) * (s - 1) for wi, s in zip(w, shape)))
    exact, total = acc["exact"], acc["smooth"]
    return {"exact_dsl": float(exact), "exact_dsl_rate": float(exact / denom if denom else 0.0),
            "dsl": float(total / denom if denom else 0.0), "sharpness": float(sharpness)}


def _cp_slab(xs, ys, own, opts, jobs, start):
    """The cp_ row of the slab's own rows, classified with the halo rows around them, and the
    C-order flat indices (in the whole field: the own rows begin at ``start``) of its errors by
    error code (1 false negative, 2 false positive, 3 false type)."""
    from ..critical_points import CriticalPointErrors, CriticalPoints, critical_point_errors

    e = critical_point_errors(xs, ys, connectivity=opts["cp_connectivity"], jobs=jobs)
    to, tr, emap = e.orig.types[own], e.recon.types[own], e.error_map[own]

    def cls(c):
        return CriticalPoints(c.types[own], c.lower_components[own], c.upper_components[own],
                              c.connectivity, c.ndim)

    crit_o, crit_r = to > 0, tr > 0
    part = CriticalPointErrors(
        cls(e.orig), cls(e.recon), emap, e.connectivity, 0.0, int(np.count_nonzero(crit_o)),
        int(np.count_nonzero(crit_r)), int(np.count_nonzero(crit_o & (to == tr))),
    )
    flat = emap.reshape(-1)
    at = np.flatnonzero(flat)
    return part.to_row(), {c: at[flat[at] == c] + start for c in (1, 2, 3)}


class StreamedErrorPositions:
    """The critical-point errors of a streamed compare (``Comparison.cp_errors``): the counts
    (:meth:`to_row`) and the positions of every error kind, equal to the in-memory
    :class:`~topoeval.CriticalPointErrors`' :meth:`positions`.  The per-cell maps are not kept
    (they are the size of the field): 8 bytes per error cell.
    """

    def __init__(self, shape, row, slabs):
        self.shape = tuple(int(s) for s in shape)
        self._row = dict(row)
        cat = (lambda c: np.concatenate([sl[c] for sl in slabs]) if slabs else np.empty(0, dtype=np.int64))
        self._flat = {c: cat(c).astype(np.int64, copy=False) for c in (1, 2, 3)}  # C order: slab order

    def positions(self, kind: str = "all") -> np.ndarray:
        """(k, d) int64 multi-indices of the cells with an error of ``kind`` (``"false_negatives"``,
        ``"false_positives"``, ``"false_types"`` or ``"all"``), in C order."""
        from ..critical_points._codes import _resolve_kind
        from ..critical_points.preservation import _ERROR_KINDS

        name = _resolve_kind(kind, (*_ERROR_KINDS, "all"))
        flat = np.sort(np.concatenate(list(self._flat.values()))) if name == "all" else self._flat[_ERROR_KINDS[name]]
        return np.stack(np.unravel_index(flat, self.shape), axis=1).astype(np.int64).reshape(-1, len(self.shape))

    def to_row(self) -> dict[str, Any]:
        """The ``cp_`` row (the Comparison's ``critical_points``)."""
        return dict(self._row)

    def __repr__(self) -> str:
        n = sum(len(v) for v in self._flat.values())
        return f"StreamedErrorPositions(shape={self.shape}, errors={n})"


def _merge_cp_rows(rows):
    """Counts summed over the slabs; the rates recomputed from the sums as CriticalPointErrors does."""
    out: dict[str, Any] = {}
    for k, v in rows[0].items():
        if isinstance(v, str) or k == "cp_min_persistence" or k.endswith("_rate"):
            out[k] = v
        else:
            out[k] = int(sum(r[k] for r in rows))

    def ratio(a, b):
        return float(a) / b if b else 0.0

    for k, (a, b) in _RATES.items():
        out[k] = ratio(out[a], out[b])
    out["cp_error_rate"] = ratio(out["cp_total_errors"], out["cp_n_critical_orig"] + out["cp_false_positives"])
    return {k: _scalar(v) for k, v in out.items()}


def _persistence(orig, recon, opts, jobs, limit, block_shape, progress, scheduler=None):
    """Both diagrams of every filtration and dimension by the block engine (reading the inputs
    itself: dimension 0, and d-1 by duality), then the distances as the in-memory part has them."""
    from ..persistence.blocks import block_diagram
    from ..persistence.cubical import _empty
    from .parts import _distances
    from .result import persistence_key

    dims = tuple(opts.get("dims", (0,)))
    shape = tuple(int(s) for s in orig.shape)
    top = sum(s > 1 for s in shape) - 1
    pers, diagrams, matchings = {}, {}, {}
    for filt in opts["filtration"]:
        for k in dims:
            key = persistence_key(filt, k)
            dg = []
            for arr, name in ((orig, "orig"), (recon, "recon")):
                def tick(done, total, stage=f"persistence {key} {name}"):
                    if progress is not None:
                        progress(stage, done, total)

                if k > max(top, 0):  # no k-cells: the in-memory part's empty diagram
                    dg.append(_empty(filt, shape, k))
                    continue
                dg.append(block_diagram(arr, filt, opts["connectivity"], "raise", False, jobs=jobs,
                                        block_shape=block_shape, memory_limit=limit, progress=tick, name=name,
                                        scheduler=scheduler, top=k > 0))
                if scheduler is not None:  # the Dask runner has no per-task callback
                    tick(1, 1)
            pers[key], match = _distances([dg[0]], [dg[1]], order=opts["order"], internal_p=opts["internal_p"],
                                          distance_tolerance=opts.get("distance_tolerance"))
            diagrams[key] = (dg[0], dg[1])
            matchings[key] = match[0]
    keys = [persistence_key(f, k) for k in dims for f in opts["filtration"]]  # the in-memory order
    return {"persistence": {k: pers[k] for k in keys}, "diagrams": {k: diagrams[k] for k in keys},
            "matchings": {k: matchings[k] for k in keys}}

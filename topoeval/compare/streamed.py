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
  a block at a time within ``memory_limit``; the distances are computed on the diagrams.

``progress(stage, done, total)`` is called after every slab (``stage="blocks"``) and every
persistence block (``stage="persistence <filtration> orig|recon"``); the CLI turns it into a
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
                     weights_used=None):
    """The parts of :func:`topoeval.compare` block by block; returns the Comparison's fields."""
    from ..persistence.blocks import available_memory
    from ..persistence.lazy import check_lazy

    _check_streamable(opts)
    sx, dtx = check_lazy(orig, "orig")
    sy, dty = check_lazy(recon, "recon")
    if sx != sy:
        from ..errors import ShapeMismatchError

        raise ShapeMismatchError(f"orig has shape {sx} but recon has shape {sy}; pass arrays of the same shape")
    if opts["dtype"] != "input":
        dt = np.dtype(opts["dtype"])
        orig = orig if dtx == dt else _Cast(orig, dt)
        recon = recon if dty == dt else _Cast(recon, dt)
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
        result.update(_slab_parts(orig, recon, sx, ax, rows, opts, jobs, progress, weights_used))
        elapsed["slabs"] = time.perf_counter() - t
    if "persistence" in parts:
        t = time.perf_counter()
        result.update(_persistence(orig, recon, opts, jobs, None if block_shape else limit, block_shape, progress))
        elapsed["persistence"] = time.perf_counter() - t
    return result, elapsed, (str(dtx), str(dty)), sx


def _read(a, ax, lo, hi):
    return np.ascontiguousarray(a[(slice(None),) * ax + (slice(lo, hi),)])


def _slab_parts(orig, recon, shape, ax, rows, opts, jobs, progress, weights_used):
    from ..metrics import _accumulate_blocks, _summary

    n = shape[ax]
    cuts = list(range(0, n, rows)) + [n]
    parts = opts["metrics"]
    acc = {"exact": 0.0, "smooth": 0.0, "cp": []}

    def slabs():
        for i in range(len(cuts) - 1):
            a, b = cuts[i], cuts[i + 1]
            lo, hi = max(a - 1, 0), min(b + 1, n)
            xs, ys = _read(orig, ax, lo, hi), _read(recon, ax, lo, hi)
            _check_finite(xs, ys, ax, lo)
            own = (slice(None),) * ax + (slice(a - lo, b - lo),)
            if "dsl" in parts:
                _dsl_slab(xs, ys, own, ax, a - lo, b < n, opts, weights_used, jobs, acc)
            if "critical_points" in parts:
                acc["cp"].append(_cp_slab(xs, ys, own, opts, jobs))
            if "pointwise" in parts:
                yield xs[own], ys[own]
            if progress is not None:
                progress("blocks", i + 1, len(cuts) - 1)

    out: dict[str, Any] = {}
    blocks = _flat_blocks(slabs(), ax)
    if "pointwise" in parts:
        out["pointwise"] = _summary(_accumulate_blocks(blocks, jobs), opts["data_range"])
    else:
        for _ in blocks:
            pass
    if "dsl" in parts:
        out["dsl"] = _dsl_row(acc, shape, weights_used, opts["sharpness"])
    if "critical_points" in parts:
        out["critical_points"] = _merge_cp_rows(acc["cp"])
        out["cp_errors"] = None
    return out


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


def _flat_blocks(slabs, ax):
    """float64 1-D block pairs cut at the global flat offsets k * 2**20 (as the in-memory pass).

    Slabs along the first long axis are consecutive runs of the C-order flat array, so their
    cells are concatenated and re-cut; a pending remainder is at most one block.
    """
    from ..metrics import _BLOCK

    bx, by = [], []
    held = 0
    for xs, ys in slabs:
        xf = np.asarray(xs, dtype=np.float64).reshape(-1)
        yf = np.asarray(ys, dtype=np.float64).reshape(-1)
        bx.append(xf)
        by.append(yf)
        held += xf.size
        while held >= _BLOCK:
            cx, cy = np.concatenate(bx), np.concatenate(by)
            yield cx[:_BLOCK], cy[:_BLOCK]
            bx, by = [cx[_BLOCK:]], [cy[_BLOCK:]]
            held -= _BLOCK
    if held:
        yield np.concatenate(bx), np.concatenate(by)


def _dsl_slab(xs, ys, own, ax, start, more, opts, w, jobs, acc):
    """Add the slab's DSL sums (its own rows) and the differences across its lower cut."""
    from ..dsl import dsl as smooth_dsl
    from ..dsl import exact_dsl

    kw = {"sharpness": opts["sharpness"], "sign": opts["sign"], "normalize": False, "jobs": jobs}
    xo, yo = xs[own], ys[own]
    acc["exact"] += exact_dsl(yo, xo, weights=w, normalize=False, jobs=jobs)
    acc["smooth"] += smooth_dsl(yo, xo, weights=w, **kw)
    if more and w[ax] != 0:  # the pairs (last own row, first row of the next slab)
        k = start + xo.shape[ax] - 1
        pair = (slice(None),) * ax + (slice(k, k + 2),)
        w_edge = [w[ax] if i == ax else 0.0 for i in range(len(w))]
        acc["exact"] += exact_dsl(ys[pair], xs[pair], weights=w_edge, normalize=False, jobs=jobs)
        acc["smooth"] += smooth_dsl(ys[pair], xs[pair], weights=w_edge, **kw)


def _dsl_row(acc, shape, w, sharpness):
    per = math.prod(shape)
    denom = float(sum(wi * (per // s) * (s - 1) for wi, s in zip(w, shape)))
    exact, total = acc["exact"], acc["smooth"]
    return {"exact_dsl": float(exact), "exact_dsl_rate": float(exact / denom if denom else 0.0),
            "dsl": float(total / denom if denom else 0.0), "sharpness": float(sharpness)}


def _cp_slab(xs, ys, own, opts, jobs):
    """The cp_ row of the slab's own rows, classified with the halo rows around them."""
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
    return part.to_row()


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


def _persistence(orig, recon, opts, jobs, limit, block_shape, progress):
    """Both diagrams by the block engine (reading the inputs itself), then the distances."""
    from ..distances import bottleneck_distance, wasserstein_distance
    from ..persistence.blocks import block_diagram

    pers, diagrams, matchings = {}, {}, {}
    for filt in opts["filtration"]:
        dg = []
        for arr, name in ((orig, "orig"), (recon, "recon")):
            def tick(done, total, stage=f"persistence {filt} {name}"):
                if progress is not None:
                    progress(stage, done, total)

            dg.append(block_diagram(arr, filt, opts["connectivity"], "raise", False, jobs=jobs,
                                    block_shape=block_shape, memory_limit=limit, progress=tick, name=name))
        a, b = dg
        tol = opts.get("distance_tolerance")
        kw = {} if tol is None else {"tolerance": tol}
        r = wasserstein_distance(a, b, order=opts["order"], internal_p=opts["internal_p"], matching=True, **kw)
        w, m = r if tol is None else (r.value, r.matching)
        wp = w ** opts["order"] if math.isfinite(w) else math.inf  # as the in-memory part does
        pers[filt] = {
            "wasserstein": float(wp ** (1.0 / opts["order"]) if math.isfinite(wp) else math.inf),
            "bottleneck": float(max(0.0, bottleneck_distance(a, b))),
            "n_points_orig": len(a), "n_points_recon": len(b),
            "n_essential_orig": int(np.isinf(a.deaths).sum()), "n_essential_recon": int(np.isinf(b.deaths).sum()),
        }
        if tol is not None:  # as the in-memory part: the certified lower bound and the relative gap
            lower, wass = float(r.lower), pers[filt]["wasserstein"]
            pers[filt]["wasserstein_lower"] = lower
            pers[filt]["wasserstein_gap"] = float(
                0.0 if lower >= wass else (wass - lower) / lower if lower > 0 else math.inf)
        diagrams[filt] = (a, b)
        matchings[filt] = m
    return {"persistence": pers, "diagrams": diagrams, "matchings": matchings}

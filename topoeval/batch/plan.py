"""The plan of a batch: (reconstruction, sample) pairs grouped into chunk-aligned tasks, and
the work of one task (which runs in the workers).

A task is ``(lo, hi, parts)``: the samples ``lo..hi-1`` of the original, read once, and for
each reconstruction (``parts``: ``[(source, [samples])]``) the samples still to compute.  A
task reads whole HDF5 chunks where it can, holds at most ``_BLOCK_BYTES`` of one input, and
groups small samples (below ``_TASK_BYTES``) so that the per-task overhead stays small;
there are at least about four tasks per worker.  :func:`make_task` turns a task into what a
worker receives (payloads instead of sources); :func:`run_task` computes its rows.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .inputs import Source, error_text, load_block
from .stores import RESERVED, scalar

_BLOCK_BYTES = 16 * 2**20  # at most this many bytes of one input per task
_TASK_BYTES = 256 * 2**10  # samples smaller than this are grouped into one task


def compare_row(orig: np.ndarray, recon: np.ndarray, **options) -> dict[str, Any]:
    """The default per-sample function: ``compare(orig, recon, **options).to_row()``."""
    from ..compare import compare

    return compare(orig, recon, **options).to_row()


def effective_options(sample_fn: Callable | None, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options of the per-sample function with its keyword defaults filled in (those of
    :func:`topoeval.compare` for the default), as recorded with the results."""
    target = sample_fn
    if sample_fn is None:
        from ..compare import compare as target
    try:
        params = inspect.signature(target).parameters.values()
        defaults = {p.name: p.default for p in params
                    if p.kind is p.KEYWORD_ONLY and p.default is not p.empty}
    except (TypeError, ValueError):
        defaults = {}
    merged = {**defaults, **options}
    if sample_fn is None:
        # homology dimension 0 alone, as before compare() had dims, and no Dask scheduler of
        # the streamed compare: recorded as before (no opt_dims / opt_scheduler column), so
        # outputs are unchanged and earlier runs resume
        if _default_dims(merged.get("dims", 0)):
            merged.pop("dims", None)
        if merged.get("scheduler", 0) is None:
            merged.pop("scheduler")
    return {k: [scalar(x) for x in v] if isinstance(v, (list, tuple, np.ndarray)) else scalar(v)
            for k, v in merged.items()}


def _default_dims(dims: Any) -> bool:
    """Whether ``dims`` asks for dimension 0 only (0, (0,), [0], "0")."""
    from ..compare.options import _parse_dims
    from ..errors import InvalidOptionError

    try:
        return _parse_dims(dims) == (0,)
    except InvalidOptionError:  # an invalid value is recorded as given; compare() reports it
        return False


def plan_tasks(orig: Source, recons: list[Source], todo: set[tuple[str, int]], jobs: int):
    """Chunk-aligned blocks of samples: [(start, stop, [(source, [samples])])]."""
    n = orig.shape[0]
    sample_bytes = max(1, int(np.prod(orig.shape[1:], dtype=np.int64)) * np.dtype(orig.dtype).itemsize)
    chunk = max([s.chunk0 for s in (orig, *recons)] + [1])
    limit = max(1, _BLOCK_BYTES // sample_bytes)
    per_worker = max(1, -(-n // (4 * max(1, jobs))))  # at least ~4 tasks per worker
    if chunk > 1:  # read whole chunks (or even parts of one, when needed for parallelism)
        block = max(1, min(chunk, limit, per_worker))
        if block < chunk:
            block = max(1, chunk // -(-chunk // block))
    else:  # one sample per chunk (or contiguous): group small samples to amortise task overhead
        block = max(1, min(limit, per_worker, _TASK_BYTES // sample_bytes))
    tasks = []
    for start in range(0, n, block):
        stop = min(n, start + block)
        parts = []
        for src in recons:
            samples = [s for s in range(start, stop) if (src.label, s) in todo]
            if samples:
                parts.append((src, samples))
        if parts:
            lo = min(s for _, ss in parts for s in ss)
            hi = max(s for _, ss in parts for s in ss) + 1
            tasks.append((lo, hi, parts))
    return tasks


def split_task(t) -> list:
    """The task's (reconstruction, sample) pairs as one-row tasks (to isolate a sample that
    kills its worker)."""
    _lo, _hi, parts = t
    return [(s, s + 1, [(src, [s])]) for src, samples in parts for s in samples]


def make_task(orig: Source, t, fn, options):
    """What a worker receives for task ``t``: (lo, hi, orig payload, [(label, payload, samples)],
    fn, options)."""
    lo, hi, parts = t
    return (lo, hi, orig.payload(lo, hi),
            [(src.label, src.payload(lo, hi), samples) for src, samples in parts], fn, options)


def failed_rows(t, message: str) -> list[dict[str, Any]]:
    """The rows of task ``t`` recorded as failed with ``message`` (a dead worker, a lost task)."""
    _lo, _hi, parts = t
    return [{"recon": src.label, "sample": s, "status": "failed", "error": message}
            for src, samples in parts for s in samples]


def run_task(task) -> list[dict[str, Any]]:
    """Compute the rows of one block (see :func:`make_task`); a sample's error is its row's."""
    start, stop, orig_payload, recons, fn, options = task
    rows = []
    orig = load_block(orig_payload, start, stop, "the original")
    for label, payload, samples in recons:
        recon = load_block(payload, start, stop, "the reconstruction")
        for s in samples:
            row: dict[str, Any] = {"recon": label, "sample": int(s)}
            a, b = orig[s - start], recon[s - start]
            error = a if isinstance(a, str) else b if isinstance(b, str) else None
            if error is None:
                try:
                    values = fn(a, b, **options)
                    row.update({k: scalar(v) for k, v in values.items() if k not in RESERVED})
                    row["status"], row["error"] = "ok", ""
                except Exception as exc:
                    row["status"], row["error"] = "failed", error_text(exc)
            else:
                row["status"], row["error"] = "failed", error
            rows.append(row)
    return rows

"""``batch()``: compare every sample of an original batch with every reconstruction.

The steps, each a function of its own: check the arguments; resolve the inputs
(:mod:`~topoeval.batch.inputs`); fill in the options' defaults; check the output and read
back what a previous run finished (:mod:`~topoeval.batch.stores`); compute the first row here
(a bad option is a usage error before any other work, and forked workers start with the
kernels loaded); plan the rest into tasks (:mod:`~topoeval.batch.plan`) and run them
(:mod:`~topoeval.batch.executors`), each row journaled as it arrives; write the output
(:mod:`~topoeval.batch.files`).
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidOptionError, TopoevalError
from .executors import cluster_threads, execute, stop_on_signals
from .files import output_kind, read_batch, summary_path, write_batch
from .inputs import Source, close_inputs, error_text, resolve_inputs
from .plan import (
    compare_row,
    effective_options,
    failed_rows,
    make_task,
    plan_tasks,
    run_task,
    split_task,
)
from .result import FORMAT, BatchResult
from .stores import Journal, journal_path, json_safe, prepare_output

__all__ = ["batch"]


def batch(
    orig: Any,
    recon: Any,
    *,
    file: str | os.PathLike | None = None,
    output: str | os.PathLike | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    resume: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    sample_fn: Callable[..., Mapping[str, Any]] | None = None,
    **options: Any,
) -> BatchResult:
    """Compare every sample of an original batch with every reconstruction.

    Parameters
    ----------
    orig : str or array_like, shape (n_samples, ...)
        The originals, first axis = sample: a dataset path in ``file`` (``"/orig"``), a
        ``"file.h5:/dataset"`` spec, or an array.
    recon : str, array_like, list of those, or dict
        The reconstructions, each of the same shape as ``orig``: dataset paths (glob patterns
        such as ``"/sz3/*"`` expand to every matching dataset), ``"file.h5:/dataset"`` specs,
        arrays, or a dict ``{name: array_or_spec}``.
    file : path, optional
        The HDF5 file that bare dataset paths refer to.
    output : path, optional
        Write the rows and the summary to this ``.h5``, ``.csv`` (plus ``<stem>.summary.csv``)
        or ``.json`` file.  Rows are appended to ``<output>.partial`` as they complete.
    jobs : int, optional
        Worker processes; default all cores (``os.cpu_count()``); 1 runs in this process.  On an
        existing Dask cluster (``scheduler`` an address) at least all its worker threads are used.
    scheduler : str, optional
        ``"local"`` runs on a new Dask ``LocalCluster`` with ``jobs`` workers; an address such
        as ``"tcp://host:port"`` runs on that existing cluster (its workers must see the files).
        Needs the ``dask`` extra.
    force : bool
        Replace an existing output (and discard a partial run).
    resume : bool
        Continue from ``output`` / ``<output>.partial``: finished rows are kept, only the missing
        ones are computed; refuses when the options differ.
    on_progress : callable, optional
        ``on_progress(done, total)`` after every finished block (rows done / total rows).
    sample_fn : callable, optional
        ``sample_fn(orig_i, recon_i, **options) -> flat dict of scalars``; default
        ``topoeval.compare(orig_i, recon_i, **options).to_row()``.  It must be picklable
        (a module-level function) for ``jobs > 1`` and Dask.
    **options
        Passed to ``sample_fn`` for every sample (the options of :func:`topoeval.compare`).

    Returns
    -------
    BatchResult
        Rows ordered by reconstruction then sample, summary per reconstruction.

    Raises
    ------
    ShapeMismatchError
        Some reconstruction's shape differs from the original's (all mismatches are listed).
    OutputExistsError
        ``output`` (or a partial run of it) exists and neither ``force`` nor ``resume`` is set.
    InvalidOptionError
        Bad ``jobs``/``scheduler``/options, or ``resume`` with different options.
    KeyboardInterrupt
        Ctrl-C, or SIGTERM (as :class:`topoeval.batch.executors.Interrupted`, ``signum`` set)
        while the batch runs in the main thread: raised once the workers (or the local Dask
        cluster) are stopped and the journal is closed; ``resume=True`` continues.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> from topoeval.metrics import pointwise_metrics
    >>> orig = np.zeros((3, 4, 4))
    >>> res = te.batch(orig, [orig + 0.5, orig - 1.0], jobs=1, sample_fn=pointwise_metrics)
    >>> res.recons
    ['recon0', 'recon1']
    >>> res.columns["max_abs_error"]
    array([0.5, 0.5, 0.5, 1. , 1. , 1. ])
    """
    t0 = time.perf_counter()
    fn, jobs = _check_arguments(sample_fn, jobs, scheduler)
    orig_src, recon_srcs = resolve_inputs(orig, recon, file)
    eff_options = effective_options(sample_fn, options)
    keys = [(s.label, i) for s in recon_srcs for i in range(orig_src.shape[0])]
    out = _Output.prepare(output, force=force, resume=resume, options=eff_options,
                          orig=orig_src, recons=recon_srcs, keys=keys)
    rows = out.finished
    total = len(keys)

    def sink(new_rows: list[dict[str, Any]]) -> None:
        for r in new_rows:
            rows[(r["recon"], r["sample"])] = r
        out.journal.append(new_rows)
        if on_progress is not None:
            on_progress(len(rows), total)

    if on_progress is not None:
        on_progress(len(rows), total)
    todo = [k for k in keys if k not in rows]
    try:
        with stop_on_signals():
            if todo:
                out.start()
                sink([_probe(fn, options, orig_src, recon_srcs, todo[0])])
                close_inputs()  # no open HDF5 handles across fork
                _run(fn, options, orig_src, recon_srcs, set(todo[1:]), jobs, scheduler, sink)
    finally:
        close_inputs()
        out.journal.close()
    result = BatchResult(rows=[rows[k] for k in keys], recons=[s.label for s in recon_srcs],
                         options=eff_options, orig=orig_src.label, output=out.name)
    out.finish(result, force=force or resume)
    result.elapsed = time.perf_counter() - t0
    return result


def _check_arguments(sample_fn, jobs, scheduler) -> tuple[Callable, int]:
    """The per-sample function and the number of processes, checked."""
    fn = compare_row if sample_fn is None else sample_fn
    if not callable(fn):
        raise InvalidOptionError(f"sample_fn={sample_fn!r} is not callable")
    if jobs is None:
        jobs = os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise InvalidOptionError(f"jobs={jobs!r} is not valid; pass a positive number of processes")
    if scheduler is not None and not isinstance(scheduler, str):
        raise InvalidOptionError(f"scheduler={scheduler!r}; pass 'local' or an address 'tcp://host:port'")
    return fn, int(jobs)


@dataclass
class _Output:
    """The output of a batch: its journal, and the rows a previous run finished (by key)."""

    path: Path | None
    journal: Journal
    header: dict[str, Any]
    finished: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    append: bool = False

    @property
    def name(self) -> str | None:
        return None if self.path is None else str(self.path)

    @classmethod
    def prepare(cls, output, *, force, resume, options, orig: Source, recons: list[Source], keys):
        """Check the output before any work (see :func:`~topoeval.batch.stores.prepare_output`)."""
        header = {"orig": orig.label, "recons": [s.label for s in recons], "options": json_safe(options)}
        if output is None:  # a journal that writes nothing
            return cls(None, Journal(Path(os.devnull), FORMAT + "-journal"), header)
        path = Path(output)
        output_kind(path)
        journal = Journal(journal_path(path), FORMAT + "-journal")
        summary = summary_path(path)
        previous = prepare_output(
            path, journal, force=force, resume=resume, read_output=read_batch, options=options,
            orig=orig.label, also=[] if summary is None else [(summary, "the summary of the CSV output")])
        wanted = set(keys)
        finished = {}
        for r in previous:
            key = (r.get("recon"), int(r.get("sample", -1)))
            if key in wanted:
                finished[key] = r
        return cls(path, journal, header, finished, append=resume and journal.path.exists())

    def start(self) -> None:
        """Open the journal: continue it, or start it with the rows carried over."""
        if self.path is not None:
            self.journal.open(self.header, self.finished.values(), append=self.append)

    def finish(self, result: BatchResult, *, force: bool) -> None:
        """Write the output file (atomically) and remove the journal."""
        if self.path is not None:
            write_batch(result, self.path, force=force)
            self.journal.remove()


def _probe(fn, options, orig: Source, recons: list[Source], key) -> dict[str, Any]:
    """The first row, computed in this process: an invalid option is a usage error, found on
    it before any other work (this also loads the kernels here, so forked workers start warm)."""
    label, i = key
    src = next(s for s in recons if s.label == label)
    row = run_task((i, i + 1, orig.payload(i, i + 1), [(label, src.payload(i, i + 1), [i])], fn, options))[0]
    err = row["error"]
    if row["status"] == "failed" and (
            err.startswith(("InvalidOptionError", "MissingDependencyError"))
            or (err.startswith("TypeError") and "keyword argument" in err)):
        _raise_usage(err)
    return row


def _run(fn, options, orig: Source, recons: list[Source], todo: set, jobs: int, scheduler, sink) -> None:
    """Plan the rows still to compute into tasks and run them (serially, pool or Dask)."""
    if not todo:
        return
    if scheduler is not None or jobs > 1:
        try:
            pickle.dumps((fn, options))
        except Exception as exc:
            raise InvalidOptionError(
                f"sample_fn and the options must be picklable to run in worker processes "
                f"({error_text(exc)}); use a module-level function, or jobs=1"
            ) from None
    if scheduler not in (None, "local"):
        # an existing cluster: size the tasks and the number in flight for all its workers
        jobs = max(jobs, cluster_threads(scheduler))
    tasks = plan_tasks(orig, recons, todo, jobs)
    execute(tasks, run=run_task, make=lambda t: make_task(orig, t, fn, options), fail=failed_rows,
            split=split_task, sink=sink, jobs=jobs, scheduler=scheduler)


def _raise_usage(error: str) -> None:
    from .. import errors

    name, _, msg = error.partition(": ")
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, TopoevalError):
        raise cls(msg)
    raise InvalidOptionError(f"the per-sample function rejected the options: {error}")

"""Evaluate every sample of HDF5 batches of reconstructions, in parallel, resumably.

:func:`batch` takes an original batch (first axis = sample) and one or more
reconstructions of it, runs a per-sample comparison (by default
``topoeval.compare(orig[i], recon[i], **options).to_row()``) for every
(reconstruction, sample) pair, and returns a :class:`BatchResult` with one row
per pair plus a summary per reconstruction.

Inputs are read one chunk-aligned block of samples at a time (each worker opens
the HDF5 files itself, read-only), so memory stays bounded by a few samples per
worker whatever the file size.  Work runs serially (``jobs=1``), on a local
process pool (``jobs=N``, default all cores), or on a Dask distributed cluster
(``scheduler="local"`` for a ``LocalCluster``, or ``"tcp://host:port"``); the
rows are identical whichever way it ran.

Nothing is lost: a sample that fails is recorded with ``status="failed"`` and
its error message and the batch goes on; when an ``output`` is given, finished
rows are appended to ``<output>.partial`` (JSON lines) as they complete, the
final file (``.h5``, ``.csv`` or ``.json``) is written atomically at the end,
and ``resume=True`` continues an interrupted run without recomputing finished
rows (refusing when the options differ).  A worker process that dies costs exactly the
rows that kill it (recorded as ``WorkerDied``; ``resume`` computes them again); SIGTERM
and Ctrl-C stop the workers (or the Dask cluster) before the run ends, leaving the
journal complete for ``resume``.

The package, one concern per module:

- :mod:`~topoeval.batch.run` - :func:`batch` itself, a few named steps;
- :mod:`~topoeval.batch.inputs` - the HDF5 datasets / arrays, read a block at a time;
- :mod:`~topoeval.batch.plan` - (reconstruction, sample) pairs as chunk-aligned tasks, and
  the work of one task;
- :mod:`~topoeval.batch.executors` - serial, process pool, Dask (shared with the sweep),
  dying workers and signals;
- :mod:`~topoeval.batch.stores` - the ``.partial`` journal, resume, the encoding of rows;
- :mod:`~topoeval.batch.files` - the final .csv / .json / .h5 files of batches and sweeps;
- :mod:`~topoeval.batch.result`, :mod:`~topoeval.batch.summary` - :class:`BatchResult`
  and its per-reconstruction summary;
- :mod:`~topoeval.batch.sweep` (with ``sweep_runs``, ``sweep_result``) - the compressor
  sweep on the same executors and stores (public as :mod:`topoeval.sweep`).

The row columns are listed in :mod:`~topoeval.batch.result`.
"""

from .result import BatchResult
from .run import batch

__all__ = ["BatchResult", "batch"]

"""The topology-aware rate-distortion sweep of lossy compressors.

:func:`sweep` compresses every field with every compressor at every error bound
(or bit rate), decompresses it, checks that the bound held, and records the
compression ratio, the bit rate, the (de)compression times and every metric of
:func:`topoeval.compare` - pointwise errors, exact DSL and DSL, the Wasserstein
distances W1 and W2 and the bottleneck distance of the sublevel and superlevel
diagrams, critical-point false positives / negatives / types.  One row per
(field, compressor, bound).

Compressors follow the small protocol of :mod:`topoeval.compressors`
(``compress(array, bound) -> bytes``, ``decompress(data, shape, dtype) ->
array``), so a user's own compressor or trained autoencoder plugs in from Python.

Runs are independent tasks executed by the batch engine (serially, on a local
process pool, or on a Dask cluster) with identical results whichever way; a
failing run is recorded (``status="failed"``, ``error``) and the sweep goes on;
with an ``output`` the rows are appended to ``<output>.partial`` (JSON lines) as
they complete and the final file is written atomically at the end.

Row columns
-----------
``field``, ``compressor``, ``bound`` (as given), ``mode`` (``abs``/``rel``/``rate``),
``abs_bound`` (the absolute bound applied; NaN for rate compressors), ``n_values``,
``original_bytes``, ``compressed_bytes``, ``ratio`` (original / compressed bytes),
``bit_rate`` (bits per value = 8 * compressed_bytes / n_values), ``compress_time``
and ``decompress_time`` (seconds, wall), ``max_error`` (max |recon - orig|),
``bound_ok`` (1.0 when ``max_error <= abs_bound`` up to one unit of float rounding, 0.0
on a violation, NaN for rate compressors), every key of
:meth:`topoeval.Comparison.to_row` (``wasserstein_<f>`` is the Wasserstein distance of
order ``order``, default 1: W1), ``wasserstein2_<f>`` (the order-2 distance W2 of the same
diagrams, same ground metric ``internal_p``) for each filtration ``f``, ``status`` and
``error``.  With ``dims=(0, 1, ...)`` every persistence column of a dimension ``k >= 1``
comes again suffixed ``_dim<k>`` (``wasserstein_sublevel_dim1``,
``wasserstein2_superlevel_dim2`` ...).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidOptionError
from .executors import execute
from .files import output_kind, read_sweep, write_sweep
from .stores import Journal, journal_path, option_value, options_diff, prepare_output, same_options
from .sweep_result import SweepResult
from .sweep_runs import compressor, compressor_name, failed_rows, run_task

__all__ = ["BoundViolationWarning", "SweepResult", "sweep"]

DEFAULT_BOUNDS = (1e-1, 1e-2, 1e-3, 1e-4)
DEFAULT_RATES = (1.0, 2.0, 4.0, 8.0, 16.0)
_MODES = ("abs", "rel")
_KEYS = ("field", "compressor", "bound")


class BoundViolationWarning(UserWarning):
    """A compressor exceeded the error bound it was asked to respect."""


def _as_fields(fields: Any, load_kwargs: Mapping[str, Any]) -> list[tuple[str, Any]]:
    if isinstance(fields, Mapping):
        items = list(fields.items())
    elif isinstance(fields, (str, os.PathLike, np.ndarray)):
        items = [(None, fields)]
    else:
        items = [(None, f) for f in fields]
    if not items:
        raise InvalidOptionError("no fields to sweep; pass at least one array or file")
    out = []
    for i, (name, f) in enumerate(items):
        if isinstance(f, (str, os.PathLike)):
            spec = os.fspath(f)
            out.append((name or Path(spec.split(":", 1)[0] if not os.path.exists(spec) else spec).stem,
                        (spec, dict(load_kwargs))))
        else:
            from .._validation import as_real_array

            out.append((name or f"field{i}", as_real_array(f, f"field {name or i}")))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        # files with the same stem (a/u.npy, b/u.npy; f.h5:/x, f.h5:/y): name them by their spec
        dup = {n for n in names if names.count(n) > 1}
        out = [((payload[0] if n in dup and isinstance(payload, tuple) else n), payload)
               for n, payload in out]
        names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise InvalidOptionError(f"field names must be unique, got {names}; pass a dict name -> field")
    return out


def _as_bounds(values: Any, what: str) -> list[float]:
    if values is None:
        return []
    if isinstance(values, str) or np.ndim(values) == 0:
        values = [values]
    out = []
    for v in values:
        try:
            b = float(v)
        except (TypeError, ValueError):
            raise InvalidOptionError(f"{what} {v!r} is not a number") from None
        if not (b > 0 and math.isfinite(b)):
            raise InvalidOptionError(f"{what} {v!r} must be a positive finite number")
        if b not in out:  # a repeated value would be the same run twice
            out.append(b)
    return out


def sweep(
    fields: Any,
    compressors: Sequence[Any] = ("sz3", "zfp"),
    bounds: Any = None,
    *,
    rates: Any = None,
    mode: str = "abs",
    output: str | os.PathLike | None = None,
    force: bool = False,
    resume: bool = False,
    jobs: int | None = 1,
    scheduler: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    warn: bool = True,
    load_kwargs: Mapping[str, Any] | None = None,
    **compare_options: Any,
) -> SweepResult:
    """Compress, decompress and compare every field with every compressor at every bound.

    Parameters
    ----------
    fields : array_like, path, or sequence / dict of them
        The fields: arrays (named ``field0``, ``field1`` ... or by the dict keys) or file
        specs understood by :func:`topoeval.load_array` (named by the file's stem), which
        each worker reads itself.
    compressors : sequence of str or Compressor, default ("sz3", "zfp")
        Names known to :func:`topoeval.get_compressor` (``"sz3"``, ``"zfp"``,
        ``"zfp-rate"``, ``"quantize"``, ``"bitround"``) or objects with ``name``,
        ``bound_kind`` ("abs" or "rate"), ``compress(array, bound) -> bytes`` and
        ``decompress(data, shape, dtype) -> ndarray`` (picklable when ``jobs > 1``).
    bounds : float or sequence of float, optional
        Error bounds for the ``"abs"`` compressors: absolute, or relative to each field's
        value range (max - min) with ``mode="rel"``; default (1e-1, 1e-2, 1e-3, 1e-4).
    rates : float or sequence of float, optional
        Bit rates (bits per value) for the ``"rate"`` compressors (``zfp-rate``, or a user
        compressor with ``bound_kind = "rate"``); default (1, 2, 4, 8, 16).  ZFP's fixed
        rate needs at least 9 / 4**d bits per value for d-D float32 data (12 / 4**d for
        float64); a smaller rate is a failed run with a message saying so.
    mode : {"abs", "rel"}, default "abs"
        How ``bounds`` are read.
    output : path, optional
        ``.csv``, ``.json`` or ``.h5`` file for the rows, written atomically at the end;
        finished rows go to ``<output>.partial`` (JSON lines) as they complete.
    force : bool, default False
        Replace an existing output (and discard an interrupted run's journal).
    resume : bool, default False
        Continue from ``output`` / ``<output>.partial``: finished runs are kept, only the
        missing ones run; refuses when the options differ (a ``.csv`` output does not record
        them: it is taken as is).
    jobs : int or None, default 1
        Worker processes (None: all cores).
    scheduler : str, optional
        ``"local"`` for a Dask ``LocalCluster`` of ``jobs`` workers, or the address of a
        running Dask scheduler (``tcp://host:port``); needs the ``dask`` extra.
    on_progress : callable(done, total), optional
        Called with ``(0, total)`` before the first run and after each finished run.
    warn : bool, default True
        Emit a :class:`BoundViolationWarning` for each run that exceeded its bound.
    load_kwargs : mapping, optional
        Extra arguments of :func:`topoeval.load_array` for file fields (``shape``, ``dtype``).
    **compare_options
        Options of :func:`topoeval.compare`; default here: ``filtration="both"`` (the
        sublevel and superlevel distances).  ``order`` sets the order of the
        ``wasserstein_<f>`` columns (default 1); ``wasserstein2_<f>`` is always order 2.

    Returns
    -------
    SweepResult
        One row per (field, compressor, bound) in input order.

    Raises
    ------
    InvalidOptionError
        Unknown compressor, mode or compare option; no fields; bad bounds.
    MissingDependencyError
        A compressor's package (``pysz``, ``zfpy``) or Dask is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> x = np.linspace(0, 4 * np.pi, 200)
    >>> field = np.sin(x)[:, None] * np.cos(x)[None, :]
    >>> res = te.sweep({"wave": field}, compressors=["quantize"], bounds=[1e-1, 1e-3])
    >>> [r["bound_ok"] for r in res.rows]
    [1.0, 1.0]
    >>> res.rows[0]["bit_rate"] < res.rows[1]["bit_rate"]
    True
    """
    from .._validation import check_choice

    check_choice(mode, "mode", _MODES)
    abs_bounds = _as_bounds(DEFAULT_BOUNDS if bounds is None else bounds, "error bound")
    rate_values = _as_bounds(DEFAULT_RATES if rates is None else rates, "bit rate")
    field_items = _as_fields(fields, load_kwargs or {})
    comps, kinds = _as_compressors(compressors)
    options = {"filtration": "both", **compare_options}
    _validate_compare_options(options)
    _check_dims(field_items, options)
    jobs = (os.cpu_count() or 1) if jobs is None else jobs
    if not isinstance(jobs, int) or jobs < 1:
        raise InvalidOptionError(f"jobs={jobs!r} must be a positive integer")

    tasks = _plan(field_items, comps, kinds, abs_bounds, rate_values, mode, options)
    record = {"mode": mode, **_plain(options)}  # SweepResult.options, checked on resume
    order = {_key(t[0], t[2], t[3]): i for i, t in enumerate(tasks)}
    journal, results = _open_journal(output, force, resume, record, order)
    todo = [t for i, t in enumerate(tasks) if i not in results]
    t_start = time.perf_counter()

    def sink(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            results[order[(r["field"], r["compressor"], r["bound"])]] = r
            if warn and r.get("status") == "ok" and r.get("bound_ok") == 0.0:
                warnings.warn(
                    f"{r['compressor']} exceeded its error bound on {r['field']!r}: max error "
                    f"{r['max_error']:.6g} > bound {r['abs_bound']:.6g}", BoundViolationWarning,
                    stacklevel=4)
        if journal is not None:
            journal.append([{**r, "_options": record} for r in rows])
        if on_progress is not None:
            on_progress(len(results), len(tasks))

    try:
        if on_progress is not None:
            on_progress(len(results), len(tasks))
        execute(todo, run=run_task, fail=failed_rows, sink=sink, jobs=jobs, scheduler=scheduler)
    finally:
        if journal is not None:
            journal.close()
            if not results:  # nothing ran (e.g. no Dask): leave no empty journal behind
                journal.remove()
    result = SweepResult(rows=[results[i] for i in range(len(tasks))],
                         options=record,
                         output=None if output is None else str(output),
                         elapsed=time.perf_counter() - t_start)
    if output is not None:
        write_sweep(result, Path(output), force or resume)
        journal.remove()
    return result


def _key(field_name, comp_spec, bound) -> tuple[str, str, float]:
    return field_name, compressor_name(comp_spec), float(bound)


def _open_journal(output, force: bool, resume: bool, record, order) -> tuple[Journal | None, dict]:
    """Check the output before any work, read back the runs a previous sweep finished (by task
    index) and start the journal: rows only, each tagged with the options (``_options``)."""
    if output is None:
        return None, {}
    out_path = Path(output)
    output_kind(out_path)
    journal = Journal(journal_path(out_path))
    previous = prepare_output(out_path, journal, force=force, resume=resume, read_output=read_sweep,
                              options=record)
    results = {}
    for r in previous:
        tagged = r.pop("_options", None)
        if tagged is not None and not same_options(tagged, record):
            raise InvalidOptionError(
                f"cannot resume {str(out_path)!r}: the options differ ({options_diff(tagged, record)}); "
                "rerun with the same options, or pass --force to start over")
        i = order.get((r.get("field"), r.get("compressor"), float(r.get("bound", math.nan))))
        if i is not None:
            results[i] = r
    append = resume and journal.path.exists()
    journal.open(None, [] if append else [{**r, "_options": record} for r in results.values()],
                 append=append)
    return journal, results


def _as_compressors(compressors: Any) -> tuple[list[Any], dict[str, str]]:
    """The compressors (names resolved, optional packages checked up front) and the bound
    kind of each ("abs" or "rate") by name."""
    if isinstance(compressors, (str, bytes)) or not isinstance(compressors, Iterable):
        compressors = [compressors]
    comps = list(compressors)
    if not comps:
        raise InvalidOptionError("no compressors given; pass e.g. compressors=['sz3', 'zfp']")
    kinds = {}
    for c in comps:
        obj = compressor(c)  # validates names and optional packages up front
        for attr in ("compress", "decompress"):
            if not callable(getattr(obj, attr, None)):
                raise InvalidOptionError(
                    f"compressor {c!r} has no {attr}() method; see topoeval.compressors.Compressor")
        kinds[compressor_name(c)] = getattr(obj, "bound_kind", "abs")
        if kinds[compressor_name(c)] not in ("abs", "rate"):
            raise InvalidOptionError(
                f"compressor {compressor_name(c)!r} has bound_kind={kinds[compressor_name(c)]!r}; use 'abs' (bound is an "
                "absolute error bound) or 'rate' (bound is a bit rate in bits per value)")
    names = [compressor_name(c) for c in comps]
    if len(set(names)) != len(names):
        raise InvalidOptionError(f"compressor names must be unique, got {names}")
    return comps, kinds


def _plan(field_items, comps, kinds, abs_bounds, rate_values, mode, options) -> list[tuple]:
    """One task per (field, compressor, bound), in the order of the inputs (see sweep_runs)."""
    tasks = []
    for fname, payload in field_items:
        for c in comps:
            values = rate_values if kinds[compressor_name(c)] == "rate" else abs_bounds
            if not values:
                raise InvalidOptionError(f"no bounds given for compressor {compressor_name(c)!r}")
            for b in values:
                tasks.append((fname, payload, c, b, mode, options))
    return tasks


def _plain(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: option_value(v) for k, v in options.items()}


def _check_dims(field_items, options: Mapping[str, Any]) -> None:
    """``dims`` within ``0 .. d-1`` of every field (files opened lazily for their shape only),
    before any compression: a dimension out of range would otherwise fail every run."""
    if "dims" not in options:
        return
    from ..compare.options import _parse_dims, check_dims_range

    dims = _parse_dims(options["dims"])
    for name, payload in field_items:
        if isinstance(payload, tuple):
            from ..io import open_array

            spec, load_kwargs = payload
            with open_array(spec, **load_kwargs) as lazy:
                ndim = len(lazy.shape)
        else:
            ndim = payload.ndim
        sample = options.get("batch_axis") is not None
        try:
            check_dims_range(dims, ndim - sample, "sample" if sample else "field")
        except InvalidOptionError as exc:
            raise InvalidOptionError(f"{exc} (field {name!r})") from None


def _validate_compare_options(options: Mapping[str, Any]) -> None:
    """Check the compare() options before any compression (unknown names and bad values)."""
    import inspect

    from ..compare import check_options

    params = inspect.signature(check_options).parameters
    unknown = [k for k in options if k not in params]
    if unknown:
        raise InvalidOptionError(f"unknown option(s) {unknown}; sweep accepts the options of topoeval.compare")
    check_options(**options)

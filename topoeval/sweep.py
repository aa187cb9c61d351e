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
``error``.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidInputError, InvalidOptionError

__all__ = ["BoundViolationWarning", "SweepResult", "sweep"]

FORMAT = "topoeval-sweep"
FORMAT_VERSION = 1
DEFAULT_BOUNDS = (1e-1, 1e-2, 1e-3, 1e-4)
DEFAULT_RATES = (1.0, 2.0, 4.0, 8.0, 16.0)
_MODES = ("abs", "rel")
_KEYS = ("field", "compressor", "bound")


class BoundViolationWarning(UserWarning):
    """A compressor exceeded the error bound it was asked to respect."""


# --------------------------------------------------------------------------------------------
# the work of one (field, compressor, bound) run; runs in workers
# --------------------------------------------------------------------------------------------
def _load_field(payload: Any) -> np.ndarray:
    if isinstance(payload, np.ndarray):
        return payload
    from .io import load_array

    spec, load_kwargs = payload
    return np.asarray(load_array(spec, **load_kwargs))


def _compressor(spec: Any):
    if isinstance(spec, str):
        from .compressors import get_compressor

        return get_compressor(spec)
    return spec


def _error_text(exc: BaseException) -> str:
    msg = str(exc).strip().replace("\n", " ")
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def _run_one(field_name: str, payload: Any, comp_spec: Any, bound: float, mode: str,
             options: Mapping[str, Any]) -> dict[str, Any]:
    from .compare import compare

    comp = _compressor(comp_spec)
    kind = getattr(comp, "bound_kind", "abs")
    orig = _load_field(payload)
    if orig.dtype not in (np.float32, np.float64):
        orig = orig.astype(np.float64)
    orig = np.ascontiguousarray(orig)
    if kind == "rate":
        abs_bound, row_mode = math.nan, "rate"
    elif mode == "rel":
        value_range = float(orig.max()) - float(orig.min())
        abs_bound, row_mode = bound * value_range, "rel"
        if abs_bound <= 0:
            raise InvalidInputError(
                f"field {field_name!r} is constant, so a relative bound is 0; use --mode abs")
    else:
        abs_bound, row_mode = bound, "abs"
    t0 = time.perf_counter()
    data = comp.compress(orig, abs_bound if kind != "rate" else bound)
    t1 = time.perf_counter()
    recon = np.asarray(comp.decompress(data, orig.shape, orig.dtype))
    t2 = time.perf_counter()
    if recon.shape != orig.shape:
        raise InvalidInputError(
            f"compressor {_name(comp_spec)!r} returned shape {recon.shape} for an input of shape "
            f"{orig.shape}; its decompress() must return the original shape")
    n_values = int(orig.size)
    nbytes = len(data)
    max_error = float(np.max(np.abs(recon.astype(np.float64) - orig.astype(np.float64))))
    if kind == "rate":
        bound_ok = math.nan
    else:
        # one unit of rounding in the data's precision: the bound is on real numbers
        slack = float(np.finfo(orig.dtype).eps) * float(np.max(np.abs(orig)))
        bound_ok = 1.0 if max_error <= abs_bound + slack else 0.0
    row: dict[str, Any] = {
        "mode": row_mode,
        "abs_bound": abs_bound,
        "n_values": n_values,
        "original_bytes": int(orig.nbytes),
        "compressed_bytes": nbytes,
        "ratio": orig.nbytes / nbytes if nbytes else math.inf,
        "bit_rate": 8.0 * nbytes / n_values,
        "compress_time": t1 - t0,
        "decompress_time": t2 - t1,
        "max_error": max_error,
        "bound_ok": bound_ok,
    }
    comparison = compare(orig, recon, **options)
    row.update(comparison.to_row())
    row.update(_wasserstein2(comparison))
    return row


def _wasserstein2(comparison) -> dict[str, float]:
    """W2 of the comparison's diagrams (per filtration), next to compare's own order (W1 by default).

    With a batch axis the per-sample distances combine as compare combines them:
    ``(sum_s W2_s**2) ** 0.5``.
    """
    from .distances import wasserstein_distance

    if comparison.persistence is None:
        return {}
    order = float(comparison.options["order"])
    internal_p = comparison.options["internal_p"]
    out = {}
    for filt, (d_orig, d_recon) in comparison.diagrams.items():
        if order == 2.0:
            out[f"wasserstein2_{filt}"] = float(comparison.persistence[filt]["wasserstein"])
            continue
        if comparison.options.get("batch_axis") is None:
            d_orig, d_recon = (d_orig,), (d_recon,)
        total = 0.0
        for a, b in zip(d_orig, d_recon):
            w = wasserstein_distance(a, b, order=2.0, internal_p=internal_p)
            total += w * w
        out[f"wasserstein2_{filt}"] = math.sqrt(total)
    return out


def _run_task(task) -> list[dict[str, Any]]:
    field_name, payload, comp_spec, bound, mode, options = task
    row: dict[str, Any] = {"field": field_name, "compressor": _name(comp_spec), "bound": float(bound)}
    try:
        row.update(_run_one(field_name, payload, comp_spec, bound, mode, options))
        row["status"], row["error"] = "ok", ""
    except Exception as exc:  # noqa: BLE001 - one failing run is recorded, the sweep goes on
        row["status"], row["error"] = "failed", _error_text(exc)
    return [row]


def _failed_rows(task, message: str) -> list[dict[str, Any]]:
    field_name, _payload, comp_spec, bound, _mode, _options = task
    return [{"field": field_name, "compressor": _name(comp_spec), "bound": float(bound),
             "status": "failed", "error": message}]


def _name(comp_spec: Any) -> str:
    return comp_spec if isinstance(comp_spec, str) else str(getattr(comp_spec, "name", type(comp_spec).__name__))


# --------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """Rows of a sweep, one per (field, compressor, bound), in the order of the inputs.

    Attributes
    ----------
    rows : list of dict
        Flat rows (see the module docstring for the columns).
    options : dict
        The :func:`topoeval.compare` options and the sweep's mode.
    output : str or None
        The file the rows were written to.
    elapsed : float
        Wall time of the sweep in seconds.
    """

    rows: list[dict[str, Any]]
    options: dict[str, Any] = field(default_factory=dict)
    output: str | None = None
    elapsed: float = 0.0

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return (f"SweepResult({len(self.rows)} runs, {self.n_failed} failed, "
                f"{len(self.violations)} bound violation(s))")

    @property
    def n_failed(self) -> int:
        """Number of runs with ``status == "failed"``."""
        return sum(r.get("status") != "ok" for r in self.rows)

    @property
    def violations(self) -> list[dict[str, Any]]:
        """The rows whose compressor exceeded its error bound."""
        return [r for r in self.rows if r.get("status") == "ok" and r.get("bound_ok") == 0.0]

    @property
    def column_names(self) -> list[str]:
        """Every column, in first-seen order with status and error last."""
        seen: dict[str, None] = {}
        for r in self.rows:
            for k in r:
                if k not in ("status", "error"):
                    seen.setdefault(k, None)
        return [*seen, "status", "error"]

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """The rows as a dict of NumPy columns (float64 with NaN where missing, or str)."""
        out: dict[str, np.ndarray] = {}
        for name in self.column_names:
            values = [r.get(name) for r in self.rows]
            if any(isinstance(v, str) for v in values) or name in ("field", "compressor", "mode",
                                                                   "status", "error"):
                out[name] = np.array(["" if v is None else str(v) for v in values], dtype=str)
            else:
                out[name] = np.array([np.nan if v is None else float(v) for v in values])
        return out

    def to_numpy(self) -> np.ndarray:
        """The rows as a structured NumPy array, shape (n_runs,)."""
        cols = self.columns
        arr = np.empty(len(self.rows), dtype=[(k, v.dtype) for k, v in cols.items()])
        for k, v in cols.items():
            arr[k] = v
        return arr

    def to_pandas(self):
        """The rows as a pandas DataFrame (needs the ``pandas`` extra)."""
        from .errors import missing_dependency

        try:
            import pandas as pd
        except ImportError:
            raise missing_dependency("pandas", "pandas", "SweepResult.to_pandas()") from None
        return pd.DataFrame(self.columns)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (inf as "inf"/"-inf", NaN as None)."""
        from . import __version__
        from .batch import _json_safe

        return _json_safe({"format": FORMAT, "format_version": FORMAT_VERSION,
                           "topoeval_version": __version__, "options": self.options,
                           "columns": self.column_names, "rows": self.rows})


# --------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------
def _output_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".json"):
        return suffix[1:]
    if suffix in (".h5", ".hdf5"):
        return "h5"
    raise InvalidOptionError(f"output {str(path)!r} has an unknown extension; use .csv, .json or .h5")


def _write_output(result: SweepResult, path: Path, force: bool) -> None:
    from .io import atomic_output

    kind = _output_kind(path)
    with atomic_output(path, force=force) as tmp:
        if kind == "json":
            Path(tmp).write_text(json.dumps(result.to_dict(), indent=1) + "\n")
        elif kind == "csv":
            import csv

            with open(tmp, "w", newline="") as fh:
                writer = csv.writer(fh)
                names = result.column_names
                writer.writerow(names)
                for r in result.rows:
                    writer.writerow([_csv_cell(r.get(k)) for k in names])
        else:
            import h5py

            with h5py.File(tmp, "w") as f:
                f.attrs["format"] = FORMAT
                f.attrs["format_version"] = FORMAT_VERSION
                f.attrs["options"] = json.dumps(result.to_dict()["options"])
                f.attrs["columns"] = json.dumps(result.column_names)
                g = f.create_group("rows")
                for k, v in result.columns.items():
                    if v.dtype.kind == "U":  # UTF-8 strings (names and messages may be non-ASCII)
                        v = np.array([s.encode() for s in v.tolist()], dtype=object)
                        g.create_dataset(k, data=v, dtype=h5py.string_dtype("utf-8"))
                    else:
                        g.create_dataset(k, data=v)


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return repr(v)
    return str(v)


# --------------------------------------------------------------------------------------------
# the public function
# --------------------------------------------------------------------------------------------
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
            from ._validation import as_real_array

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
        Replace an existing output.
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
    from ._validation import check_choice

    check_choice(mode, "mode", _MODES)
    abs_bounds = _as_bounds(DEFAULT_BOUNDS if bounds is None else bounds, "error bound")
    rate_values = _as_bounds(DEFAULT_RATES if rates is None else rates, "bit rate")
    field_items = _as_fields(fields, load_kwargs or {})
    if isinstance(compressors, (str, bytes)) or not isinstance(compressors, Iterable):
        compressors = [compressors]
    comps = list(compressors)
    if not comps:
        raise InvalidOptionError("no compressors given; pass e.g. compressors=['sz3', 'zfp']")
    kinds = {}
    for c in comps:
        obj = _compressor(c)  # validates names and optional packages up front
        for attr in ("compress", "decompress"):
            if not callable(getattr(obj, attr, None)):
                raise InvalidOptionError(
                    f"compressor {c!r} has no {attr}() method; see topoeval.compressors.Compressor")
        kinds[_name(c)] = getattr(obj, "bound_kind", "abs")
        if kinds[_name(c)] not in ("abs", "rate"):
            raise InvalidOptionError(
                f"compressor {_name(c)!r} has bound_kind={kinds[_name(c)]!r}; use 'abs' (bound is an "
                "absolute error bound) or 'rate' (bound is a bit rate in bits per value)")
    names = [_name(c) for c in comps]
    if len(set(names)) != len(names):
        raise InvalidOptionError(f"compressor names must be unique, got {names}")
    options = {"filtration": "both", **compare_options}
    _validate_compare_options(options)
    if jobs is None:
        jobs = os.cpu_count() or 1
    if not isinstance(jobs, int) or jobs < 1:
        raise InvalidOptionError(f"jobs={jobs!r} must be a positive integer")

    tasks = []
    for fname, payload in field_items:
        for c in comps:
            values = rate_values if kinds[_name(c)] == "rate" else abs_bounds
            if not values:
                raise InvalidOptionError(f"no bounds given for compressor {_name(c)!r}")
            for b in values:
                tasks.append((fname, payload, c, b, mode, options))

    out_path = Path(output) if output is not None else None
    journal = None
    if out_path is not None:
        from .io import check_output_path

        _output_kind(out_path)
        check_output_path(out_path, force=force)  # exists without force, missing folder ...
        journal = open(out_path.with_name(out_path.name + ".partial"), "w")  # noqa: SIM115 (closed below)

    order = {(t[0], _name(t[2]), float(t[3])): i for i, t in enumerate(tasks)}
    results: dict[int, dict[str, Any]] = {}
    t_start = time.perf_counter()

    def sink(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            results[order[(r["field"], r["compressor"], r["bound"])]] = r
            if journal is not None:
                from .batch import _json_safe

                journal.write(json.dumps(_json_safe(r)) + "\n")
                journal.flush()
            if warn and r.get("status") == "ok" and r.get("bound_ok") == 0.0:
                warnings.warn(
                    f"{r['compressor']} exceeded its error bound on {r['field']!r}: max error "
                    f"{r['max_error']:.6g} > bound {r['abs_bound']:.6g}", BoundViolationWarning,
                    stacklevel=3)
        if on_progress is not None:
            on_progress(len(results), len(tasks))

    try:
        if on_progress is not None:
            on_progress(0, len(tasks))
        _execute(tasks, jobs, scheduler, sink)
    finally:
        if journal is not None:
            journal.close()
            if not results:  # nothing ran (e.g. no Dask): leave no empty journal behind
                Path(journal.name).unlink(missing_ok=True)
    rows = [results[i] for i in range(len(tasks))]
    result = SweepResult(rows=rows, options={"mode": mode, **_plain(options)},
                         output=None if out_path is None else str(out_path),
                         elapsed=time.perf_counter() - t_start)
    if out_path is not None:
        _write_output(result, out_path, force)
        out_path.with_name(out_path.name + ".partial").unlink(missing_ok=True)
    return result


def _plain(options: Mapping[str, Any]) -> dict[str, Any]:
    from .batch import _option_value

    return {k: _option_value(v) for k, v in options.items()}


def _validate_compare_options(options: Mapping[str, Any]) -> None:
    """Check the compare() options before any compression (unknown names and bad values)."""
    import inspect

    from .compare import check_options

    params = inspect.signature(check_options).parameters
    unknown = [k for k in options if k not in params]
    if unknown:
        raise InvalidOptionError(f"unknown option(s) {unknown}; sweep accepts the options of topoeval.compare")
    check_options(**options)


def _execute(tasks, jobs: int, scheduler: str | None, sink) -> None:
    if scheduler is not None:
        from .batch import _run_dask

        _run_dask(tasks, lambda t: t, jobs, scheduler, sink, max_in_flight=2 * jobs,
                  run=_run_task, fail=_failed_rows)
    elif jobs > 1 and len(tasks) > 1:
        from .batch import _run_pool

        _run_pool(tasks, lambda t: t, jobs, sink, max_in_flight=2 * jobs,
                  run=_run_task, fail=_failed_rows)
    else:
        for t in tasks:
            sink(_run_task(t))

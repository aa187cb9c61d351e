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
rows (refusing when the options differ).

Row columns
-----------
``recon`` (str, the reconstruction's name), ``sample`` (int64), every key of the
per-sample row (float64, NaN in failed rows; text values stay str), ``opt_<name>``
for every option of the per-sample function (its defaults filled in), ``status``
(``"ok"`` / ``"failed"``) and ``error`` (the message, ``""`` when ok).
"""

from __future__ import annotations

import csv
import fnmatch
import inspect
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import (
    DatasetNotFoundError,
    FileFormatError,
    InvalidInputError,
    InvalidOptionError,
    OutputExistsError,
    ShapeMismatchError,
    TopoevalError,
    TopoevalIOError,
    missing_dependency,
)

__all__ = ["batch", "BatchResult"]

FORMAT = "topoeval-batch"
FORMAT_VERSION = 1
_BASE = ("recon", "sample")
_TAIL = ("status", "error")
_RESERVED = frozenset(_BASE + _TAIL)
_BLOCK_BYTES = 16 * 2**20  # at most this many bytes of one input per task
_TASK_BYTES = 256 * 2**10  # samples smaller than this are grouped into one task
_WORST = 5  # samples listed per "worst" ranking
_DASK_CONNECT_TIMEOUT = 30  # seconds to reach an existing Dask scheduler
_WORKER_DIED = ("WorkerDied: a worker process died while this sample was in flight (killed, or out "
                "of memory); --resume computes it again")


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Source:
    """One input batch: an HDF5 dataset (path, dataset) or an in-memory array."""

    label: str
    path: str | None
    dataset: str | None
    shape: tuple[int, ...]
    dtype: str
    chunk0: int  # samples per chunk along axis 0 (1 for arrays)
    array: Any = field(default=None, repr=False, compare=False)

    def payload(self, start: int, stop: int):
        if self.path is None:
            return ("array", np.ascontiguousarray(self.array[start:stop]), start)
        return ("h5", self.path, self.dataset)


def _split_spec(spec: str) -> tuple[str | None, str]:
    """'file.h5:/ds' -> ('file.h5', '/ds'); '/ds' -> (None, '/ds')."""
    if ":" in spec:
        path, ds = spec.rsplit(":", 1)
        if path and ds:
            return path, ds if ds.startswith("/") else "/" + ds
    return None, spec if spec.startswith("/") else "/" + spec


def _open_h5(path: str):
    import h5py

    p = Path(path)
    if not p.exists():
        raise TopoevalIOError(f"input file {path!r} does not exist; check the path")
    try:
        return h5py.File(p, "r")  # inputs are only ever opened read-only
    except OSError as exc:
        raise FileFormatError(
            f"cannot open {path!r} as an HDF5 file ({exc}); batch reads HDF5 files "
            "(first axis = sample)"
        ) from None


def _datasets(f) -> list[str]:
    import h5py

    names: list[str] = []
    f.visititems(lambda n, o: names.append("/" + n) if isinstance(o, h5py.Dataset) else None)
    return names


def _resolve(spec: Any, default_file: str | None, what: str, *, many: bool) -> list[_Source]:
    """Turn a spec (dataset path / 'file:/path' / glob / array) into sources."""
    if not isinstance(spec, (str, os.PathLike)):
        arr = np.asarray(spec)
        if arr.dtype.kind not in "biuf":
            raise InvalidInputError(f"{what} has dtype {arr.dtype}; pass a real-valued array")
        return [_Source(what, None, None, tuple(arr.shape), str(arr.dtype), 1, arr)]
    spec = os.fspath(spec)
    path, ds = _split_spec(spec)
    from_default = path is None
    if path is None:
        if default_file is None:
            raise InvalidOptionError(
                f"{what} {spec!r} names a dataset but no file; give the file (the FILE argument of "
                "`topoeval batch`, file=... in Python) or write it as 'file.h5:/dataset'"
            )
        path = os.fspath(default_file)
    with _open_h5(path) as f:
        if any(ch in ds for ch in "*?["):
            names = [n for n in _datasets(f) if fnmatch.fnmatchcase(n, ds)]
            if not names:
                raise DatasetNotFoundError(
                    f"the pattern {ds!r} matches no dataset in {path!r}; datasets there: "
                    f"{', '.join(_datasets(f)) or '(none)'}"
                )
            if not many:
                raise InvalidOptionError(f"{what} must name one dataset, not the pattern {ds!r}")
        else:
            names = [ds]
        out = []
        for name in names:
            import h5py

            obj = f.get(name)
            if not isinstance(obj, h5py.Dataset):
                kind = "a group" if obj is not None else "missing"
                raise DatasetNotFoundError(
                    f"{name!r} in {path!r} is {kind}, not a dataset; datasets there: "
                    f"{', '.join(_datasets(f)) or '(none)'}"
                )
            if obj.dtype.kind not in "biuf":
                raise InvalidInputError(
                    f"{path}:{name} has dtype {obj.dtype}, not real numbers; batch needs numeric data"
                )
            chunk0 = obj.chunks[0] if obj.chunks else 0
            label = name if from_default else f"{path}:{name}"
            out.append(_Source(label, os.path.abspath(path), name, tuple(obj.shape),
                               str(obj.dtype), int(chunk0)))
    return out


# per-process cache of open input files (workers open the files themselves, read-only)
_OPEN: dict[str, Any] = {}


def _read(payload, start: int, stop: int) -> np.ndarray:
    if payload[0] == "array":  # ("array", the block's samples, index of its first sample)
        return payload[1][start - payload[2]:stop - payload[2]]
    _, path, ds = payload
    try:
        st = os.stat(path)
        key = (path, st.st_ino, st.st_mtime_ns)  # a file replaced on disk is opened afresh
    except OSError:
        key = (path, 0, 0)
    f = _OPEN.get(key)
    if f is None or not f.id.valid:
        for old in [k for k in _OPEN if k[0] == path]:
            _OPEN.pop(old).close()
        f = _OPEN[key] = _open_h5(path)
    return f[ds][start:stop]


def _close_inputs() -> None:
    """Close this process's cached input files (before forking workers)."""
    while _OPEN:
        _, f = _OPEN.popitem()
        try:
            f.close()
        except Exception:  # pragma: no cover
            pass


# --------------------------------------------------------------------------------------------
# the per-sample work (runs in workers)
# --------------------------------------------------------------------------------------------
def _compare_row(orig: np.ndarray, recon: np.ndarray, **options) -> dict[str, Any]:
    from .compare import compare

    return compare(orig, recon, **options).to_row()


def _scalar(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    return v


def _option_value(v: Any) -> Any:
    """An option as a scalar for the opt_ columns (sequences become comma-separated text)."""
    if isinstance(v, str) or v is None:
        return v
    v = _scalar(v)
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    if isinstance(v, (list, tuple, np.ndarray)):
        return ",".join(str(_scalar(x)) for x in v)
    return str(v)


def _error_text(exc: BaseException) -> str:
    msg = str(exc).strip().replace("\n", " ")
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def _run_task(task) -> list[dict[str, Any]]:
    """Compute the rows of one block: (start, stop, orig payload, [(label, payload, samples)], fn, options)."""
    start, stop, orig_payload, recons, fn, options = task
    rows = []
    orig = _load(orig_payload, start, stop, "the original")
    for label, payload, samples in recons:
        recon = _load(payload, start, stop, "the reconstruction")
        for s in samples:
            row: dict[str, Any] = {"recon": label, "sample": int(s)}
            a, b = orig[s - start], recon[s - start]
            error = a if isinstance(a, str) else b if isinstance(b, str) else None
            if error is None:
                try:
                    values = fn(a, b, **options)
                    row.update({k: _scalar(v) for k, v in values.items() if k not in _RESERVED})
                    row["status"], row["error"] = "ok", ""
                except Exception as exc:
                    row["status"], row["error"] = "failed", _error_text(exc)
            else:
                row["status"], row["error"] = "failed", error
            rows.append(row)
    return rows


def _load(payload, start: int, stop: int, what: str) -> list[Any]:
    """The samples start..stop-1 of one input; a sample that cannot be read is its error message
    (a failed block read is retried sample by sample, so one corrupt chunk fails one sample)."""
    try:
        return list(_read(payload, start, stop))
    except Exception as exc:
        if stop - start == 1:
            return [f"reading {what} failed: {_error_text(exc)}"]
    return [_load(payload, i, i + 1, what)[0] for i in range(start, stop)]


# --------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------
def _column_kind(values: Iterable[Any]) -> str:
    kinds = {type(v) for v in values if v is not None and v != ""}
    if kinds and all(k is str for k in kinds):
        return "str"
    return "float"


@dataclass
class BatchResult:
    """Rows of a batch (one per (reconstruction, sample)) and a summary per reconstruction.

    Attributes
    ----------
    rows : list of dict
        One flat dict per (reconstruction, sample), ordered by reconstruction (in the order
        given) then sample; keys as in :attr:`columns`.
    recons : list of str
        The reconstructions' names.
    options : dict
        The options of the per-sample function (defaults filled in).
    orig : str
        The original's name.
    output : str or None
        The file the results were written to.
    elapsed : float
        Wall time of the batch in seconds.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> from topoeval.metrics import pointwise_metrics
    >>> orig = np.random.default_rng(0).random((4, 8, 8))
    >>> res = te.batch(orig, {"noisy": orig + 0.01}, jobs=1, sample_fn=pointwise_metrics)
    >>> len(res), res.n_failed
    (4, 0)
    >>> res.to_numpy()["max_abs_error"].round(6)
    array([0.01, 0.01, 0.01, 0.01])
    >>> round(res.summary["noisy"]["metrics"]["mae"]["mean"], 6)
    0.01
    """

    rows: list[dict[str, Any]]
    recons: list[str]
    options: dict[str, Any]
    orig: str = "orig"
    output: str | None = None
    elapsed: float = 0.0

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return (f"BatchResult({len(self.rows)} rows, {len(self.recons)} reconstruction(s), "
                f"{self.n_failed} failed)")

    @property
    def n_failed(self) -> int:
        """Number of rows with ``status == "failed"``."""
        return sum(r.get("status") != "ok" for r in self.rows)

    @property
    def n_ok(self) -> int:
        """Number of rows with ``status == "ok"``."""
        return len(self.rows) - self.n_failed

    @property
    def metric_names(self) -> list[str]:
        """Keys produced by the per-sample function, in first-seen order."""
        seen: dict[str, None] = {}
        for r in self.rows:
            for k in r:
                if k not in _BASE and k not in _TAIL and not k.startswith("opt_"):
                    seen.setdefault(k, None)
        return list(seen)

    @property
    def column_names(self) -> list[str]:
        """All columns: recon, sample, metrics, opt_<option>..., status, error."""
        return [*_BASE, *self.metric_names, *(f"opt_{k}" for k in self.options), *_TAIL]

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """The rows as a dict of NumPy columns (float64 with NaN where missing, or str)."""
        out: dict[str, np.ndarray] = {}
        for name in self.column_names:
            if name.startswith("opt_"):
                v = _option_value(self.options[name[4:]])
                values = [v] * len(self.rows)
            else:
                values = [r.get(name) for r in self.rows]
            if name == "sample":
                out[name] = np.array(values, dtype=np.int64)
            elif name in ("recon", "status", "error") or _column_kind(values) == "str":
                out[name] = np.array(["" if v is None else str(v) for v in values], dtype=str)
            else:
                out[name] = np.array([np.nan if v is None or v == "" else float(v) for v in values],
                                     dtype=np.float64)
        return out

    def to_numpy(self) -> np.ndarray:
        """The rows as a structured NumPy array, shape (n_rows,)."""
        cols = self.columns
        dtype = [(k, v.dtype if v.dtype.kind != "U" else f"U{max(1, v.dtype.itemsize // 4)}")
                 for k, v in cols.items()]
        arr = np.empty(len(self.rows), dtype=dtype)
        for k, v in cols.items():
            arr[k] = v
        return arr

    def to_pandas(self):
        """The rows as a pandas DataFrame (needs the ``pandas`` extra)."""
        try:
            import pandas as pd
        except ImportError:
            raise missing_dependency("pandas", "pandas", "BatchResult.to_pandas()") from None
        return pd.DataFrame(self.columns)

    @property
    def summary(self) -> dict[str, dict[str, Any]]:
        """Per reconstruction: n, n_ok, n_failed, mean/std/min/max of every numeric metric
        over the ok rows, and the worst samples by each ``wasserstein*`` column and by ``exact_dsl``."""
        cols = self.columns
        out: dict[str, dict[str, Any]] = {}
        for name in self.recons:
            sel = cols["recon"] == name
            ok = sel & (cols["status"] == "ok")
            entry: dict[str, Any] = {"n": int(sel.sum()), "n_ok": int(ok.sum()),
                                     "n_failed": int(sel.sum() - ok.sum()), "metrics": {}, "worst": {}}
            for m in self.metric_names:
                v = cols[m]
                if v.dtype.kind != "f":
                    continue
                x = v[ok]
                x = x[~np.isnan(x)]
                if x.size == 0:
                    stats = dict(mean=math.nan, std=math.nan, min=math.nan, max=math.nan)
                else:
                    with np.errstate(invalid="ignore", over="ignore"):
                        stats = dict(mean=float(x.mean()), std=float(x.std()),
                                     min=float(x.min()), max=float(x.max()))
                entry["metrics"][m] = stats
                if m.startswith("wasserstein") or m == "exact_dsl":
                    idx = np.flatnonzero(ok)
                    vals = v[idx]
                    keep = ~np.isnan(vals)
                    idx, vals = idx[keep], vals[keep]
                    order = np.lexsort((cols["sample"][idx], -vals))[:_WORST]
                    entry["worst"][m] = [[int(cols["sample"][idx[i]]), float(vals[i])] for i in order]
            out[name] = entry
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: format, inputs, options, columns, rows (each with every column, the
        ``opt_`` values included) and summary (inf as "inf", NaN as None)."""
        from . import __version__

        return _json_safe({
            "format": FORMAT, "format_version": FORMAT_VERSION, "topoeval_version": __version__,
            "orig": self.orig, "recons": self.recons, "options": self.options,
            "columns": self.column_names, "rows": self._full_rows(), "summary": self.summary,
        })

    def _full_rows(self) -> list[dict[str, Any]]:
        """The rows with every column in order (the ``opt_`` values included; a metric a row
        lacks, as in failed rows, is None)."""
        metrics = self.metric_names
        opts = {f"opt_{k}": _option_value(v) for k, v in self.options.items()}
        return [{**{k: r[k] for k in _BASE}, **{m: r.get(m) for m in metrics}, **opts,
                 **{k: r[k] for k in _TAIL}} for r in self.rows]


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    obj = _scalar(obj)
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
    return obj


def _from_json(v: Any) -> Any:
    if v is None:  # NaN is written as null
        return math.nan
    if v == "inf":
        return math.inf
    if v == "-inf":
        return -math.inf
    return v


# --------------------------------------------------------------------------------------------
# output: journal while running, final file atomically at the end
# --------------------------------------------------------------------------------------------
def _journal_path(output: Path) -> Path:
    return output.with_name(output.name + ".partial")


def _output_kind(output: Path) -> str:
    suffix = output.suffix.lower()
    if suffix in (".h5", ".hdf5", ".he5"):
        return "h5"
    if suffix in (".csv", ".json"):
        return suffix[1:]
    raise InvalidOptionError(
        f"output {str(output)!r} has an unknown extension; use .h5, .csv or .json"
    )


def _atomic(path: Path, force: bool):
    from .io import atomic_output

    return atomic_output(path, force=force)


def _write_csv(result: BatchResult, path: Path) -> None:
    cols = result.column_names
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in result.rows:
            w.writerow([_csv_cell(_option_value(result.options[c[4:]]) if c.startswith("opt_") else r.get(c))
                        for c in cols])


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)  # full precision; inf/nan as 'inf'/'nan'
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _summary_csv(result: BatchResult, path: Path) -> None:
    summary = result.summary
    metrics = [m for m in result.metric_names if any(m in s["metrics"] for s in summary.values())]
    worst = sorted({w for s in summary.values() for w in s["worst"]})
    header = ["recon", "n", "n_ok", "n_failed"]
    header += [f"{m}_{s}" for m in metrics for s in ("mean", "std", "min", "max")]
    header += [f"worst_samples_by_{w}" for w in worst]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for name, s in summary.items():
            row = [name, s["n"], s["n_ok"], s["n_failed"]]
            for m in metrics:
                st = s["metrics"].get(m, {})
                row += [_csv_cell(st.get(k)) for k in ("mean", "std", "min", "max")]
            row += [" ".join(str(i) for i, _ in s["worst"].get(x, [])) for x in worst]
            w.writerow(row)


def _h5_group_names(result: BatchResult) -> dict[str, str]:
    names: dict[str, str] = {}
    used = set()
    for label in result.recons:
        _, ds = _split_spec(label)
        g = ds.strip("/") or "recon"
        base, k = g, 1
        while g in used:
            k += 1
            g = f"{base}_{k}"
        used.add(g)
        names[label] = g
    return names


def _write_h5(result: BatchResult, path: Path) -> None:
    import h5py

    from . import __version__

    cols = result.columns
    summary = result.summary
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["topoeval_version"] = __version__
        f.attrs["orig"] = result.orig
        f.attrs["recons"] = json.dumps(result.recons)
        f.attrs["options"] = json.dumps(_json_safe(result.options))
        for label, gname in _h5_group_names(result).items():
            g = f.require_group(gname)
            g.attrs["source"] = label
            sel = cols["recon"] == label
            for name in result.column_names:
                if name == "recon" or name.startswith("opt_"):
                    continue
                v = cols[name][sel]
                if v.dtype.kind == "U":
                    g.create_dataset(name, data=v.astype(object), dtype=h5py.string_dtype())
                else:
                    g.create_dataset(name, data=v)
            s = g.create_group("summary")
            s.attrs["n"], s.attrs["n_ok"], s.attrs["n_failed"] = (
                summary[label]["n"], summary[label]["n_ok"], summary[label]["n_failed"])
            for m, st in summary[label]["metrics"].items():
                s.create_dataset(m, data=np.array([st["mean"], st["std"], st["min"], st["max"]]))
                s[m].attrs["fields"] = "mean, std, min, max"
            for m, lst in summary[label]["worst"].items():
                s.create_dataset(f"worst_{m}", data=np.array(lst, dtype=np.float64).reshape(-1, 2))
                s[f"worst_{m}"].attrs["fields"] = "sample, value"


def _summary_path(output: Path) -> Path | None:
    """The summary file written beside a CSV output (None for other kinds)."""
    if _output_kind(output) != "csv":
        return None
    return output.with_name(output.stem + ".summary.csv")


def _write_output(result: BatchResult, output: Path, force: bool) -> None:
    kind = _output_kind(output)
    if kind == "csv":
        summary_path = _summary_path(output)
        with _atomic(output, force) as tmp:
            _write_csv(result, Path(tmp))
        with _atomic(summary_path, True) as tmp:
            _summary_csv(result, Path(tmp))
    elif kind == "json":
        with _atomic(output, force) as tmp:
            Path(tmp).write_text(json.dumps(result.to_dict(), indent=1) + "\n", encoding="utf-8")
    else:
        with _atomic(output, force) as tmp:
            _write_h5(result, Path(tmp))


def _read_output(output: Path) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    """Read (options, orig, rows) back from a finished output file (for resume)."""
    kind = _output_kind(output)
    try:
        if kind == "json":
            d = json.loads(output.read_text(encoding="utf-8"))
            if d.get("format") != FORMAT:
                raise ValueError("not a topoeval batch result")
            rows = [{k: _from_json(v) for k, v in r.items() if not k.startswith("opt_")
                     and not (v is None and r.get("status") != "ok")}  # failed: no metrics
                    for r in d["rows"]]
            return dict(d["options"]), d["orig"], rows
        if kind == "h5":
            import h5py

            with h5py.File(output, "r") as f:
                if f.attrs.get("format") != FORMAT:
                    raise ValueError("not a topoeval batch result")
                options = dict(json.loads(f.attrs["options"]))
                rows = []
                for gname in f:
                    g = f[gname] if isinstance(f[gname], h5py.Group) else None
                    stack = [g] if g is not None else []
                    while stack:
                        g = stack.pop()
                        if "source" not in g.attrs:
                            stack.extend(v for v in g.values() if isinstance(v, h5py.Group))
                            continue
                        data = {k: g[k][()] for k in g if isinstance(g[k], h5py.Dataset)}
                        for i in range(len(data["sample"])):
                            r = {"recon": str(g.attrs["source"])}
                            for k, v in data.items():
                                x = v[i]
                                r[k] = x.decode() if isinstance(x, bytes) else _scalar(x)
                            if r.get("status") != "ok":  # failed rows hold no metrics
                                r = {k: x for k, x in r.items() if k in _BASE or k in _TAIL
                                     or not (x == "" or (isinstance(x, float) and math.isnan(x)))}
                            rows.append(r)
                return options, str(f.attrs["orig"]), rows
        # csv: options are the opt_ columns
        with open(output, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows, options = [], {}
            for rec in reader:
                r: dict[str, Any] = {}
                for k, v in rec.items():
                    if k.startswith("opt_"):
                        options[k[4:]] = None if v == "" else _parse_cell(v)
                    elif k in ("recon", "status", "error"):
                        r[k] = v
                    elif k == "sample":
                        r[k] = int(v)
                    elif v != "":
                        r[k] = _parse_cell(v)
                rows.append(r)
            return options, "", rows
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FileFormatError(
            f"cannot resume from {str(output)!r}: it is not a readable topoeval batch result ({exc}); "
            "pass --force to start over"
        ) from None


def _parse_cell(v: str) -> Any:
    if v == "true":
        return True
    if v == "false":
        return False
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v


def _read_journal(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    header, rows = None, []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except ValueError:  # a line cut short by a kill: that row was in flight
                continue
            if header is None:
                header = rec
            else:
                rows.append({k: _from_json(v) for k, v in rec.items()})
    if not header or header.get("format") != FORMAT + "-journal":
        raise FileFormatError(
            f"{str(path)!r} is not a topoeval batch journal; remove it or pass --force"
        )
    return header, rows


def _same_options(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    norm = lambda d: json.dumps(  # noqa: E731
        _json_safe({k: _option_value(v) for k, v in d.items()}), sort_keys=True, default=str)
    return norm(a) == norm(b)


def _options_diff(before: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    parts = []
    for k in dict.fromkeys([*before, *now]):
        a = _option_value(before[k]) if k in before else "(unset)"
        b = _option_value(now[k]) if k in now else "(unset)"
        if json.dumps(_json_safe(a), default=str) != json.dumps(_json_safe(b), default=str):
            parts.append(f"{k}={a!r} in the output, {b!r} now")
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------
# running the tasks
# --------------------------------------------------------------------------------------------
def _plan(orig: _Source, recons: list[_Source], todo: set[tuple[str, int]], jobs: int):
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


def _make_task(orig: _Source, t, fn, options):
    lo, hi, parts = t
    return (lo, hi, orig.payload(lo, hi),
            [(src.label, src.payload(lo, hi), samples) for src, samples in parts], fn, options)


def _failed_rows(t, message: str) -> list[dict[str, Any]]:
    lo, hi, parts = t
    return [{"recon": src.label, "sample": s, "status": "failed", "error": message}
            for src, samples in parts for s in samples]


def _mp_context():
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    # fork: workers inherit the parent's compiled Numba kernels (warm) and imported modules
    return mp.get_context("fork" if "fork" in methods and sys.platform != "darwin" else "spawn")


def _init_worker() -> None:
    """Pool worker start-up: one BLAS thread per process (as Dask's workers), when threadpoolctl
    is installed - the processes are the parallelism."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1)


def _new_pool(jobs: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context(), initializer=_init_worker)


def _run_pool(tasks, make, jobs, sink, max_in_flight, run=None, fail=None):
    """Run ``run(make(t))`` for every task on a process pool, passing each result to ``sink``.

    ``fail(t, message)`` builds the rows of a task whose worker died; the defaults are the
    batch's own (the sweep passes its task functions).
    """
    run = _run_task if run is None else run
    fail = _failed_rows if fail is None else fail
    from concurrent.futures.process import BrokenProcessPool

    pending = list(reversed(tasks))
    pool = _new_pool(jobs)
    in_flight: dict[Any, Any] = {}
    try:
        while pending or in_flight:
            while pending and len(in_flight) < max_in_flight:
                t = pending.pop()
                try:
                    in_flight[pool.submit(run, make(t))] = t
                except BrokenProcessPool:
                    pending.append(t)
                    break
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                t = in_flight.pop(fut)
                try:
                    sink(fut.result())
                except BrokenProcessPool:
                    broken = True
                    sink(fail(t, _WORKER_DIED))
                except Exception as exc:  # e.g. a result that cannot be pickled
                    sink(fail(t, f"the worker failed: {_error_text(exc)}"))
            if broken:
                for fut, t in list(in_flight.items()):
                    in_flight.pop(fut)
                    sink(fail(t, _WORKER_DIED))
                pool.shutdown(wait=False, cancel_futures=True)
                pool = _new_pool(jobs)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


# Dask worker settings for the clusters batch starts itself (--dask local).  By default the
# statistical profiler samples every thread's stack every 10 ms, the event loop ticks every
# 20 ms and the memory monitor runs every 100 ms, all competing for the GIL with the task
# thread (idle workers: 4 % CPU each, 0.6 % with the settings below); and the nanny starts
# the workers with MALLOC_TRIM_THRESHOLD_=65536, which also freezes glibc's mmap threshold at
# 128 KiB, so every temporary array of a sample is mmap'ed, page-faulted and unmapped again
# (5x the system time of a pool worker).  A batch's tasks are long and uniform: profiler
# off, slower housekeeping, glibc's default allocator behaviour (one BLAS thread, as before).
_LOCAL_DASK_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.nanny.pre-spawn-environ": {
        "OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1},
}


def _local_cluster(jobs: int):
    """A Dask ``LocalCluster`` with ``jobs`` one-thread worker processes, as ``--dask local`` uses."""
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set(_LOCAL_DASK_CONFIG):
        # dashboard on a free port: None means Dask's default 8787, taken by any other cluster
        return LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                            dashboard_address=":0")


def _connect(scheduler: str):
    from dask.distributed import Client

    try:
        return Client(scheduler, timeout=_DASK_CONNECT_TIMEOUT)
    except OSError as exc:
        raise TopoevalIOError(
            f"cannot connect to the Dask scheduler at {scheduler!r} ({exc}); check the address "
            "(tcp://host:port) and that the scheduler is running"
        ) from None


def _cluster_threads(scheduler: str) -> int:
    """Worker threads of the Dask cluster at ``scheduler`` (at least 1)."""
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        raise missing_dependency("distributed", "dask", "running on Dask (--dask/--scheduler)") from None
    client = _connect(scheduler)
    try:
        return max(1, sum(client.nthreads().values()))
    finally:
        client.close()


def _run_dask(tasks, make, jobs, scheduler, sink, max_in_flight, run=None, fail=None):
    """As :func:`_run_pool`, on a Dask cluster."""
    run = _run_task if run is None else run
    fail = _failed_rows if fail is None else fail
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise missing_dependency("distributed", "dask", "running on Dask (--dask/--scheduler)") from None
    cluster = None
    if scheduler == "local":
        cluster = _local_cluster(jobs)
        client = Client(cluster)
    else:
        client = _connect(scheduler)
        # keep every worker thread of the cluster busy, however many cores this machine has
        max_in_flight = max(max_in_flight, 2 * sum(client.nthreads().values()))
    try:
        pending = list(reversed(tasks))
        futures = {}
        ac = as_completed()
        while pending and len(futures) < max_in_flight:
            t = pending.pop()
            fut = client.submit(run, make(t), pure=False)
            futures[fut.key] = t
            ac.add(fut)
        for fut in ac:
            t = futures.pop(fut.key)
            try:
                sink(fut.result())
            except Exception as exc:
                sink(fail(t, f"the Dask task failed: {_error_text(exc)}"))
            if pending:
                t = pending.pop()
                nf = client.submit(run, make(t), pure=False)
                futures[nf.key] = t
                ac.add(nf)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------------------------
# the public function
# --------------------------------------------------------------------------------------------
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
    fn = _compare_row if sample_fn is None else sample_fn
    if not callable(fn):
        raise InvalidOptionError(f"sample_fn={sample_fn!r} is not callable")
    if jobs is None:
        jobs = os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise InvalidOptionError(f"jobs={jobs!r} is not valid; pass a positive number of processes")
    jobs = int(jobs)
    if scheduler is not None and not isinstance(scheduler, str):
        raise InvalidOptionError(f"scheduler={scheduler!r}; pass 'local' or an address 'tcp://host:port'")

    # ---- inputs, resolved and checked up front
    default_file = None if file is None else os.fspath(file)
    orig_src = _resolve(orig, default_file, "orig", many=False)[0]
    if isinstance(recon, Mapping):
        recon_srcs = []
        for name, spec in recon.items():
            for s in _resolve(spec, default_file, str(name), many=True):
                recon_srcs.append(s if s.path is not None else _Source(
                    str(name), None, None, s.shape, s.dtype, 1, s.array))
    else:
        specs = [recon] if isinstance(recon, (str, os.PathLike, np.ndarray)) else list(recon)
        if not specs:
            raise InvalidOptionError("no reconstruction given; pass at least one recon")
        recon_srcs = []
        for k, spec in enumerate(specs):
            for s in _resolve(spec, default_file, f"recon{k}", many=True):
                recon_srcs.append(s)
    seen_labels: dict[str, _Source] = {}
    for s in recon_srcs:
        seen_labels.setdefault(s.label, s)
    recon_srcs = list(seen_labels.values())
    if len(orig_src.shape) < 2:
        raise InvalidInputError(
            f"orig has shape {orig_src.shape}; a batch needs a first axis of samples and at least one "
            "more axis (n_samples, ...)"
        )
    bad = [f"{s.label} {s.shape}" for s in recon_srcs if s.shape != orig_src.shape]
    if bad:
        raise ShapeMismatchError(
            f"{len(bad)} reconstruction(s) do not have the original's shape {orig_src.shape} "
            f"({orig_src.label}): " + "; ".join(bad) + " - every reconstruction must have exactly "
            "the original's shape"
        )

    # ---- the options, defaults filled in (stored with the results, checked on resume)
    try:
        sig = inspect.signature(fn)
        bound_opts = {k: p.default for k, p in sig.parameters.items()
                      if p.kind is p.KEYWORD_ONLY and p.default is not p.empty}
    except (TypeError, ValueError):
        bound_opts = {}
    if sample_fn is None:
        try:
            from .compare import compare

            sig = inspect.signature(compare)
            bound_opts = {k: p.default for k, p in sig.parameters.items()
                          if p.kind is p.KEYWORD_ONLY and p.default is not p.empty}
        except ImportError:  # pragma: no cover
            pass
    eff_options = {**bound_opts, **options}
    eff_options = {k: [_scalar(x) for x in v] if isinstance(v, (list, tuple, np.ndarray)) else _scalar(v)
                   for k, v in eff_options.items()}

    # ---- output / resume bookkeeping
    n = orig_src.shape[0]
    all_keys = [(s.label, i) for s in recon_srcs for i in range(n)]
    finished: dict[tuple[str, int], dict[str, Any]] = {}
    out_path = journal = None
    if output is not None:
        out_path = Path(output)
        _output_kind(out_path)
        journal = _journal_path(out_path)
        from .io import check_output_path

        check_output_path(out_path, force=True)  # folder exists and is writable (existence below)
        if force and not resume:
            if journal.exists():
                journal.unlink()
        elif resume:
            prev = None
            if journal.exists():
                header, rows = _read_journal(journal)
                prev = (header.get("options", {}), header.get("orig", ""), rows)
            elif out_path.exists():
                prev = _read_output(out_path)
            if prev is not None:
                p_opts, p_orig, rows = prev
                if not _same_options(p_opts, eff_options):
                    raise InvalidOptionError(
                        f"cannot resume {str(out_path)!r}: the options differ ("
                        f"{_options_diff(p_opts, eff_options)}); rerun with the same options, or pass "
                        "--force to start over"
                    )
                if p_orig and p_orig != orig_src.label:
                    raise InvalidOptionError(
                        f"cannot resume {str(out_path)!r}: it compares against {p_orig!r}, this run "
                        f"against {orig_src.label!r}; pass --force to start over"
                    )
                wanted = set(all_keys)
                for r in rows:
                    key = (r.get("recon"), int(r.get("sample", -1)))
                    if str(r.get("error", "")).startswith("WorkerDied"):
                        continue  # not a property of the sample: compute it again
                    if key in wanted:
                        finished[key] = r
        else:
            if out_path.exists():
                raise OutputExistsError(
                    f"the output {str(out_path)!r} exists; pass --force (force=True) to replace it, "
                    "or --resume to continue it"
                )
            if journal.exists():
                raise OutputExistsError(
                    f"an interrupted run left {str(journal)!r}; pass --resume to continue it or "
                    "--force to start over"
                )
            summary_csv = _summary_path(out_path)
            if summary_csv is not None and summary_csv.exists():
                raise OutputExistsError(
                    f"{str(summary_csv)!r} (the summary of the CSV output) exists; pass --force to "
                    "replace it"
                )

    todo = {k for k in all_keys if k not in finished}
    total = len(all_keys)
    done = len(finished)
    if on_progress is not None:
        on_progress(done, total)

    # ---- the journal: a header line, then one JSON line per finished row
    jfh = None
    if journal is not None and todo:
        try:
            if journal.exists() and resume:
                jfh = open(journal, "a", encoding="utf-8")
            else:
                jfh = open(journal, "w", encoding="utf-8")
                header = {"format": FORMAT + "-journal", "orig": orig_src.label,
                          "recons": [s.label for s in recon_srcs], "options": _json_safe(eff_options)}
                jfh.write(json.dumps(header) + "\n")
                for r in finished.values():  # rows carried over from a finished output
                    jfh.write(json.dumps(_json_safe(r)) + "\n")
                jfh.flush()
        except OSError as exc:
            raise TopoevalIOError(
                f"cannot write next to the output {str(out_path)!r} ({exc.strerror or exc}); choose a "
                "writable folder"
            ) from None

    def sink(rows: list[dict[str, Any]]) -> None:
        nonlocal done
        for r in rows:
            finished[(r["recon"], r["sample"])] = r
            if jfh is not None:
                jfh.write(json.dumps(_json_safe(r)) + "\n")
        if jfh is not None:
            jfh.flush()
        done += len(rows)
        if on_progress is not None:
            on_progress(done, total)

    try:
        if todo:
            # an invalid option is a usage error: find it on the first row, before any other work
            # (this also loads the kernels here, so forked workers start warm)
            label, i = next(k for k in all_keys if k in todo)
            src = next(s for s in recon_srcs if s.label == label)
            probe = _run_task((i, i + 1, orig_src.payload(i, i + 1), [(label, src.payload(i, i + 1), [i])],
                               fn, options))[0]
            err = probe["error"]
            if probe["status"] == "failed" and (
                    err.startswith(("InvalidOptionError", "MissingDependencyError"))
                    or (err.startswith("TypeError") and "keyword argument" in err)):
                _raise_usage(err)
            todo.discard((label, i))
            sink([probe])
            _close_inputs()  # no open HDF5 handles across fork
        if todo and (scheduler is not None or jobs > 1):
            import pickle

            try:
                pickle.dumps((fn, options))
            except Exception as exc:
                raise InvalidOptionError(
                    f"sample_fn and the options must be picklable to run in worker processes "
                    f"({_error_text(exc)}); use a module-level function, or jobs=1"
                ) from None
        if todo and scheduler not in (None, "local"):
            # an existing cluster: size the tasks and the number in flight for all its workers
            jobs = max(jobs, _cluster_threads(scheduler))
        if todo:
            tasks = _plan(orig_src, recon_srcs, todo, jobs)
            make = lambda t: _make_task(orig_src, t, fn, options)  # noqa: E731
            if scheduler is not None:
                _run_dask(tasks, make, jobs, scheduler, sink, max_in_flight=2 * jobs)
            elif jobs == 1 or len(tasks) == 1:
                for t in tasks:
                    sink(_run_task(make(t)))
            else:
                _run_pool(tasks, make, jobs, sink, max_in_flight=2 * jobs)
    finally:
        _close_inputs()
        if jfh is not None:
            jfh.close()

    rows = [finished[k] for k in all_keys]
    result = BatchResult(rows=rows, recons=[s.label for s in recon_srcs], options=eff_options,
                         orig=orig_src.label, output=None if out_path is None else str(out_path))
    if out_path is not None:
        _write_output(result, out_path, force=force or resume)
        if journal.exists():
            journal.unlink()
    result.elapsed = time.perf_counter() - t0
    return result


def _raise_usage(error: str) -> None:
    from . import errors

    name, _, msg = error.partition(": ")
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, TopoevalError):
        raise cls(msg)
    raise InvalidOptionError(f"the per-sample function rejected the options: {error}")

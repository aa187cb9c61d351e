"""The final output files of batches and sweeps (.csv, .json, .h5), written atomically, and
read back for resume.

Batch (format ``topoeval-batch``): ``.csv`` one line per row (every column, the ``opt_``
options included) plus ``<stem>.summary.csv``; ``.json`` :meth:`BatchResult.to_dict`;
``.h5`` one group per reconstruction mirroring its dataset path (a dataset per column and a
``summary`` group), the options and the inputs as attributes.  Sweep (``topoeval-sweep``):
``.csv`` one line per run, ``.json`` :meth:`SweepResult.to_dict`, ``.h5`` a ``rows`` group
with one dataset per column.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FileFormatError, InvalidOptionError
from .inputs import split_spec
from .result import FORMAT, FORMAT_VERSION
from .stores import BASE, TAIL, csv_cell, from_json, json_safe, option_value, parse_cell, scalar
from .summary import write_summary_csv
from .sweep_result import FORMAT as SWEEP_FORMAT
from .sweep_result import FORMAT_VERSION as SWEEP_FORMAT_VERSION


def output_kind(output: Path) -> str:
    """"h5", "csv" or "json" by the suffix (an unknown suffix is a usage error, before any work)."""
    suffix = output.suffix.lower()
    if suffix in (".h5", ".hdf5", ".he5"):
        return "h5"
    if suffix in (".csv", ".json"):
        return suffix[1:]
    raise InvalidOptionError(
        f"output {str(output)!r} has an unknown extension; use .h5, .csv or .json"
    )


def summary_path(output: Path) -> Path | None:
    """The summary file written beside a CSV output (None for other kinds)."""
    if output_kind(output) != "csv":
        return None
    return output.with_name(output.stem + ".summary.csv")


def write_batch(result, output: Path, force: bool) -> None:
    """Write a :class:`~topoeval.BatchResult` to ``output`` (and the CSV summary beside it)."""
    from ..io import atomic_output

    kind = output_kind(output)
    if kind == "csv":
        summary = summary_path(output)
        with atomic_output(output, force=force) as tmp:
            _write_csv(result, Path(tmp))
        with atomic_output(summary, force=True) as tmp:
            write_summary_csv(result, Path(tmp))
    elif kind == "json":
        with atomic_output(output, force=force) as tmp:
            Path(tmp).write_text(json.dumps(result.to_dict(), indent=1) + "\n", encoding="utf-8")
    else:
        with atomic_output(output, force=force) as tmp:
            _write_h5(result, Path(tmp))


def _write_csv(result, path: Path) -> None:
    cols = result.column_names
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in result.rows:
            w.writerow([csv_cell(option_value(result.options[c[4:]]) if c.startswith("opt_") else r.get(c))
                        for c in cols])


def _h5_group_names(result) -> dict[str, str]:
    names: dict[str, str] = {}
    used = set()
    for label in result.recons:
        _, ds = split_spec(label)
        g = ds.strip("/") or "recon"
        base, k = g, 1
        while g in used:
            k += 1
            g = f"{base}_{k}"
        used.add(g)
        names[label] = g
    return names


def _write_h5(result, path: Path) -> None:
    import h5py

    from .. import __version__

    cols = result.columns
    summary = result.summary
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["topoeval_version"] = __version__
        f.attrs["orig"] = result.orig
        f.attrs["recons"] = json.dumps(result.recons)
        f.attrs["options"] = json.dumps(json_safe(result.options))
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


def read_batch(output: Path) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    """Read (options, orig, rows) back from a finished output file (for resume)."""
    kind = output_kind(output)
    try:
        if kind == "json":
            d = json.loads(output.read_text(encoding="utf-8"))
            if d.get("format") != FORMAT:
                raise ValueError("not a topoeval batch result")
            rows = [{k: from_json(v) for k, v in r.items() if not k.startswith("opt_")
                     and not (v is None and r.get("status") != "ok")}  # failed: no metrics
                    for r in d["rows"]]
            return dict(d["options"]), d["orig"], rows
        if kind == "h5":
            return _read_batch_h5(output)
        # csv: options are the opt_ columns
        with open(output, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows, options = [], {}
            for rec in reader:
                r: dict[str, Any] = {}
                for k, v in rec.items():
                    if k.startswith("opt_"):
                        options[k[4:]] = None if v == "" else parse_cell(v)
                    elif k in ("recon", "status", "error"):
                        r[k] = v
                    elif k == "sample":
                        r[k] = int(v)
                    elif v != "":
                        r[k] = parse_cell(v)
                rows.append(r)
            return options, "", rows
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FileFormatError(
            f"cannot resume from {str(output)!r}: it is not a readable topoeval batch result ({exc}); "
            "pass --force to start over"
        ) from None


def _read_batch_h5(output: Path) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    """(options, orig, rows) of an .h5 batch output: every group with a ``source`` attribute."""
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
                        r[k] = x.decode() if isinstance(x, bytes) else scalar(x)
                    if r.get("status") != "ok":  # failed rows hold no metrics
                        r = {k: x for k, x in r.items() if k in BASE or k in TAIL
                             or not (x == "" or (isinstance(x, float) and math.isnan(x)))}
                    rows.append(r)
        return options, str(f.attrs["orig"]), rows




def write_sweep(result, path: Path, force: bool) -> None:
    """Write a :class:`~topoeval.SweepResult` to ``path`` (.csv, .json or .h5)."""
    from ..io import atomic_output

    kind = output_kind(path)
    with atomic_output(path, force=force) as tmp:
        if kind == "json":
            Path(tmp).write_text(json.dumps(result.to_dict(), indent=1) + "\n")
        elif kind == "csv":
            with open(tmp, "w", newline="") as fh:
                writer = csv.writer(fh)
                names = result.column_names
                writer.writerow(names)
                for r in result.rows:
                    writer.writerow([csv_cell(r.get(k), nan="") for k in names])
        else:
            import h5py

            with h5py.File(tmp, "w") as f:
                f.attrs["format"] = SWEEP_FORMAT
                f.attrs["format_version"] = SWEEP_FORMAT_VERSION
                f.attrs["options"] = json.dumps(result.to_dict()["options"])
                f.attrs["columns"] = json.dumps(result.column_names)
                g = f.create_group("rows")
                for k, v in result.columns.items():
                    if v.dtype.kind == "U":  # UTF-8 strings (names and messages may be non-ASCII)
                        v = np.array([s.encode() for s in v.tolist()], dtype=object)
                        g.create_dataset(k, data=v, dtype=h5py.string_dtype("utf-8"))
                    else:
                        g.create_dataset(k, data=v)


def read_sweep(path: Path) -> tuple[dict[str, Any] | None, str, list[dict[str, Any]]]:
    """Read (options, "", rows) back from a finished sweep output (for resume); a ``.csv``
    records no options (None)."""
    kind = output_kind(path)
    try:
        if kind == "json":
            d = json.loads(path.read_text(encoding="utf-8"))
            if d.get("format") != SWEEP_FORMAT:
                raise ValueError("not a topoeval sweep result")
            return dict(d["options"]), "", [{k: from_json(v) for k, v in r.items()} for r in d["rows"]]
        if kind == "h5":
            import h5py

            with h5py.File(path, "r") as f:
                if f.attrs.get("format") != SWEEP_FORMAT:
                    raise ValueError("not a topoeval sweep result")
                cols = {k: f["rows"][k][()] for k in json.loads(f.attrs["columns"])}
                rows = [{k: v[i].decode() if isinstance(v[i], bytes) else scalar(v[i])
                         for k, v in cols.items()} for i in range(len(cols["field"]))]
                return dict(json.loads(f.attrs["options"])), "", rows
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [{k: v if k in ("field", "compressor", "mode", "status", "error") else parse_cell(v)
                     for k, v in rec.items() if v != "" or k == "error"} for rec in csv.DictReader(fh)]
        return None, "", rows
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FileFormatError(
            f"cannot resume from {str(path)!r}: it is not a readable topoeval sweep result ({exc}); "
            "pass --force to start over"
        ) from None

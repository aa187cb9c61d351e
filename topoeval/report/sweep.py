"""The report of a compressor sweep (:func:`write_sweep_report`) and its curves alone
(:func:`save_sweep_plot`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .figures import _sweep_figure
from .page import (
    _KEY_METRICS,
    _check_output,
    _esc,
    _fmt,
    _note,
    _options_section,
    _picture,
    _plotting,
    _save_image,
    _table,
    _write_page,
)

__all__ = ["save_sweep_plot", "write_sweep_report"]

_SWEEP_PANELS = (
    ("psnr", "PSNR (dB)", False),
    ("wasserstein_sublevel", "Wasserstein distance (sublevel)", True),
    ("exact_dsl", "exact DSL (sign mismatches)", True),
    ("cp_total_errors", "critical-point errors (FP + FN + FT)", True),
)
#: panels of the opt-in parts (``metrics="...,segmentation,pairs"``), drawn when their column is there
_EXTRA_PANELS = (
    ("seg_false_labels", "mislabeled cells (Morse segmentation)", True),
    ("pairs_false_negatives", "persistence pairs lost (false negatives)", True),
)


def _sweep_rows(result: Any) -> list[dict[str, Any]]:
    """Rows of a sweep: a list of dicts, a dict of columns, a structured array, a DataFrame,
    or an object with ``rows`` / ``to_rows()`` / ``columns``."""
    obj = result
    if hasattr(obj, "to_dict") and hasattr(obj, "iloc"):  # pandas DataFrame
        return list(obj.to_dict(orient="records"))
    if hasattr(obj, "rows") and not isinstance(obj, (Mapping, np.ndarray)):
        obj = obj.rows
    elif hasattr(obj, "to_rows"):
        obj = obj.to_rows()
    if isinstance(obj, np.ndarray) and obj.dtype.names:
        return [{k: obj[k][i].item() for k in obj.dtype.names} for i in range(obj.shape[0])]
    if isinstance(obj, Mapping):
        lens = {len(v) for v in obj.values()}
        if len(lens) > 1:
            raise InvalidInputError(
                "the sweep's columns have different lengths; pass columns of one length"
            )
        n = lens.pop() if lens else 0
        return [
            {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in obj.items()}
            for i in range(n)
        ]
    if isinstance(obj, Sequence) and all(isinstance(r, Mapping) for r in obj):
        return [dict(r) for r in obj]
    raise InvalidInputError(
        f"result is a {type(result).__name__}; pass the sweep's rows: a list of dicts, a dict of "
        "columns or a structured array with columns compressor, bound, bit_rate and the metrics"
    )


_SWEEP_COLUMNS = (
    "field",
    "compressor",
    "bound",
    "mode",
    "abs_bound",
    "ratio",
    "bit_rate",
    "max_error",
    "bound_ok",
    "psnr",
    "exact_dsl",
    "exact_dsl_rate",
    "wasserstein_sublevel",
    "bottleneck_sublevel",
    "wasserstein_superlevel",
    "cp_total_errors",
    "status",
    "error",
)


def _prepare_sweep(result: Any) -> tuple[list[dict[str, Any]], list[tuple[str, str, bool]]]:
    rows = _sweep_rows(result)
    if not rows:
        raise InvalidInputError("the sweep has no rows; nothing to report")
    columns = list(dict.fromkeys(k for r in rows for k in r))
    missing = [c for c in ("compressor", "bit_rate") if c not in columns]
    if missing:
        raise InvalidInputError(
            f"the sweep's rows lack the column(s) {', '.join(missing)}; each row needs compressor, "
            f"bit_rate and metrics (it has: {', '.join(map(str, columns))})"
        )
    return rows, [p for p in _SWEEP_PANELS + _dimension_panels(columns) + _EXTRA_PANELS if p[0] in columns]


def _dimension_panels(columns: Sequence[str]) -> tuple[tuple[str, str, bool], ...]:
    """A curve of the sublevel Wasserstein distance of every homology dimension k >= 1 the rows
    have (``wasserstein_sublevel_dim<k>``, a sweep with ``dims``)."""
    import re

    found = sorted(int(m.group(1)) for c in columns if (m := re.fullmatch(r"wasserstein_sublevel_dim(\d+)", c)))
    return tuple((f"wasserstein_sublevel_dim{k}", f"Wasserstein distance (sublevel, H{k})", True) for k in found)


def _ok(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("status", "ok") == "ok"]


def _head_section(rows: list[dict[str, Any]], ok: list[dict[str, Any]]) -> list[str]:
    """Title, counts and the note listing the runs that exceeded their error bound."""
    violations = [r for r in ok if r.get("bound_ok") == 0.0]
    fields = list(dict.fromkeys(str(r["field"]) for r in ok if "field" in r))
    body = [
        "<h1>topoeval compressor sweep</h1>",
        f'<p class="meta">{len(rows)} runs of {len({str(r["compressor"]) for r in rows})} '
        "compressor(s)"
        + (f" on {len(fields)} field(s)" if fields else "")
        + f"; {len(rows) - len(ok)} failed, {len(violations)} bound violation(s).</p>",
    ]
    if violations:
        body.append(
            _note(
                "Error bound exceeded (circled in red in the curves): "
                + "; ".join(
                    f"{r.get('field', '')} {r['compressor']} at bound {_fmt(r.get('bound'))}: "
                    f"max error {_fmt(r.get('max_error'))} > {_fmt(r.get('abs_bound'))}"
                    for r in violations
                )
            )
        )
    return body


def _curves_section(ok: list[dict[str, Any]], panels: list[tuple[str, str, bool]]) -> list[str]:
    if not panels:
        return [
            _note(
                "none of psnr, wasserstein_sublevel, exact_dsl, cp_total_errors is in the rows; "
                "no curve drawn"
            )
        ]
    if not ok:
        return []
    body = ["<h2>Rate-distortion curves</h2>"]
    cap = (
        "Each metric against the bit rate (bits per value; log axis), one line per compressor, "
        "points in order of bit rate; log (or symmetric-log, when a value is 0) metric axes. "
        "Failed runs are left out."
    )
    fields = list(dict.fromkeys(str(r["field"]) for r in ok if "field" in r))
    if len(fields) <= 1:
        return [*body, _picture(lambda: _sweep_figure(ok, panels), "rate-distortion curves", cap)]
    for fname in fields:
        sel = [r for r in ok if str(r.get("field")) == fname]
        body.append(f"<h3>{_esc(fname)}</h3>")
        body.append(
            _picture(
                lambda sel=sel: _sweep_figure(sel, panels),
                f"rate-distortion curves of {fname}",
                cap,
            )
        )
    return body


def _runs_section(rows: list[dict[str, Any]]) -> list[str]:
    """The key columns of every run, and every column in a collapsed table."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    shown = [c for c in _SWEEP_COLUMNS if c in columns]
    shown += [c for c in _KEY_METRICS if c in columns and c not in shown]
    if len(shown) < 4:
        shown += [c for c in columns if c not in shown]
    body = ["<h2>All runs</h2>", _table(shown, [[r.get(c) for c in shown] for r in rows])]
    if any(c not in shown for c in columns):
        body.append("<details><summary>Every column</summary>")
        body.append(_table(columns, [[r.get(c) for c in columns] for r in rows]))
        body.append("</details>")
    return body


def write_sweep_report(path: Any, result: Any, *, force: bool = False) -> Path:
    """Write a self-contained HTML report of a compressor sweep: rate-distortion curves.

    Four panels against the bit rate (log axis), one line per compressor: PSNR,
    the sublevel Wasserstein distance, the exact DSL and the critical-point errors
    (FP + FN + FT) (log axes; symlog when a column holds zeros), one figure per
    field when the rows have a ``field`` column with several values; followed by
    the table of all rows (every column in a collapsed table) and the options.
    With per-dimension columns (a sweep with ``dims``) a panel per homology dimension
    ``k >= 1`` follows (``wasserstein_sublevel_dim<k>``), as do the Morse-segmentation
    and persistence-pair panels when those columns are there.
    Panels whose column is absent are left out; failed rows (``status`` other than
    ``"ok"``) are listed but not drawn; runs whose compressor exceeded its bound
    (``bound_ok == 0``) are circled in red and listed in a note.

    Parameters
    ----------
    path : str or path-like
        The ``.html`` file to write.
    result : list of dict, dict of columns, structured array, DataFrame, or an object with ``rows``
        One row per (compressor, bound) with at least the columns ``compressor`` and
        ``bit_rate`` (bits per value), usually also ``bound``, ``psnr``,
        ``wasserstein_sublevel``, ``exact_dsl`` and ``cp_total_errors`` (as in
        ``Comparison.to_row()``).
    force : bool, default False
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os, tempfile
    >>> from topoeval.report import write_sweep_report
    >>> rows = [{"compressor": c, "bound": b, "bit_rate": r, "psnr": p, "wasserstein_sublevel": w,
    ...          "exact_dsl": d, "cp_total_errors": e}
    ...         for c, b, r, p, w, d, e in [("sz3", 1e-2, 2.1, 52.0, 0.8, 900, 40),
    ...                                     ("sz3", 1e-3, 4.9, 71.0, 0.1, 120, 3),
    ...                                     ("zfp", 1e-2, 3.2, 55.0, 0.5, 700, 25),
    ...                                     ("zfp", 1e-3, 6.0, 75.0, 0.05, 60, 0)]]
    >>> out = write_sweep_report(os.path.join(tempfile.mkdtemp(), "sweep.html"), rows)
    >>> out.read_text().count("data:image/png;base64,")
    1
    """
    _plotting()
    rows, panels = _prepare_sweep(result)
    _check_output(path, force)
    ok = _ok(rows)
    body = [*_head_section(rows, ok), *_curves_section(ok, panels), *_runs_section(rows)]
    options = getattr(result, "options", None)
    if isinstance(options, Mapping) and options:
        body += _options_section(options)
    return _write_page(path, "topoeval sweep report", body, force)


def save_sweep_plot(path: Any, result: Any, *, force: bool = False) -> Path:
    """Save the rate-distortion curves of a sweep as one image (PNG, SVG or PDF by suffix).

    The panels of :func:`write_sweep_report` (PSNR, Wasserstein distance, exact DSL and
    critical-point errors against the bit rate, one line per compressor, or per field and
    compressor when the sweep has several fields); no timestamp in the file.

    Parameters
    ----------
    path : str or path-like
        Output file, ``.png``, ``.svg`` or ``.pdf``.
    result : SweepResult, list of dict, dict of columns, structured array or DataFrame
        As for :func:`write_sweep_report`.
    force : bool, default False
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os, tempfile
    >>> from topoeval.report import save_sweep_plot
    >>> rows = [{"compressor": "sz3", "bit_rate": r, "psnr": p} for r, p in [(1.5, 40.0), (3.0, 60.0)]]
    >>> save_sweep_plot(os.path.join(tempfile.mkdtemp(), "rd.png"), rows).suffix
    '.png'
    """
    def prepare():
        rows, panels = _prepare_sweep(result)
        if not panels:
            raise InvalidInputError(
                "the sweep's rows need at least one of psnr, wasserstein_sublevel, exact_dsl, cp_total_errors"
            )
        return rows, panels

    return _save_image(path, force, prepare, lambda prepared: _sweep_figure(_ok(prepared[0]), prepared[1]))

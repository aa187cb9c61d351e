"""Self-contained HTML reports and summary figures of comparisons, batches and sweeps.

Every report is **one HTML file** that needs nothing else to be read: the
pictures are PNGs embedded as ``data:`` URIs, the CSS is inline, no script is
used, and a Content-Security-Policy forbids any network access, so the file can
be mailed, archived or opened offline.  Needs the optional extra ``plot``
(matplotlib, imported inside the functions).

Figures are drawn with matplotlib's Agg renderer into
:class:`matplotlib.figure.Figure` objects (pyplot is never used, whatever its
backend), in a fixed style independent of the user's rcParams, and saved
without timestamps or version strings: the same inputs give the same bytes.

Files are written atomically (a temporary file in the same folder, then
``os.replace``) and an existing file is only replaced with ``force=True``
(:class:`~topoeval.errors.OutputExistsError` otherwise).

=========================  ===============================================================
:func:`write_report`       one comparison: metrics, options, fields, diagrams, matchings,
                           mismatch map, critical points
:func:`save_summary_plot`  one comparison as a single PNG (or SVG / PDF) figure
:func:`write_batch_report` a :class:`~topoeval.BatchResult`: metric distributions per
                           reconstruction, worst samples (with pictures when the data is given)
:func:`write_sweep_report` rate-distortion curves of a compressor sweep
:func:`save_sweep_plot`    the rate-distortion curves as a single PNG (or SVG / PDF) figure
=========================  ===============================================================
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidInputError, InvalidOptionError, ShapeMismatchError, TopoevalError

__all__ = [
    "write_report",
    "save_summary_plot",
    "write_batch_report",
    "write_sweep_report",
    "save_sweep_plot",
]

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_CSS = """
:root { color-scheme: light; }
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif;
       margin: 0 auto; padding: 1.2em 2em 3em; max-width: 1180px; color: #1b1b1b;
       background: #ffffff; line-height: 1.4; }
h1 { font-size: 1.55em; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.2em; margin: 1.6em 0 0.5em; padding-bottom: 0.2em; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.02em; margin: 1.2em 0 0.4em; }
p.meta { color: #57606a; margin: 0 0 1em; }
table { border-collapse: collapse; margin: 0.4em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #d0d7de; padding: 0.22em 0.6em; vertical-align: top; }
th { background: #f3f5f7; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
tr.section th { background: #e8eef5; }
figure { margin: 0.6em 0 1.4em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; display: block; }
figcaption { color: #57606a; font-size: 0.88em; margin-top: 0.3em; max-width: 60em; }
div.note { background: #fff8e6; border: 1px solid #f0d58c; padding: 0.4em 0.8em; margin: 0.5em 0 1em; font-size: 0.92em; }
div.wide { overflow-x: auto; max-width: 100%; }
div.grid { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.92em; }
footer { margin-top: 2.5em; color: #57606a; font-size: 0.85em; border-top: 1px solid #d0d7de; padding-top: 0.6em; }
"""

#: metrics shown first (in this order) in distributions and sweep tables, when present
_KEY_METRICS = (
    "psnr",
    "rmse",
    "max_abs_error",
    "exact_dsl",
    "exact_dsl_rate",
    "dsl",
    "wasserstein_sublevel",
    "bottleneck_sublevel",
    "wasserstein_superlevel",
    "bottleneck_superlevel",
    "cp_total_errors",
    "cp_false_negatives",
    "cp_false_positives",
    "cp_false_types",
)


# ---------------------------------------------------------------------------- small helpers


def _plotting():
    from . import plotting

    plotting._require_matplotlib("topoeval's reports")
    return plotting


def _version() -> str:
    from . import __version__

    return __version__


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _fmt(v: Any) -> str:
    """Human-readable scalar: 6 significant digits, ∞ for inf, — for NaN / None."""
    if v is None:
        return "\u2014"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "\u2014"
        if math.isinf(f):
            return "\u221e" if f > 0 else "\u2212\u221e"
        return f"{f:.6g}"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return str(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def _td(v: Any) -> str:
    cls = ' class="num"' if _is_number(v) else ""
    return f"<td{cls}>{_esc(_fmt(v))}</td>"


def _table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], *, caption: str | None = None
) -> str:
    out = ['<div class="wide"><table>']
    if caption:
        out.append(f"<caption>{_esc(caption)}</caption>")
    out.append("<tr>" + "".join(f"<th>{_esc(h)}</th>" for h in header) + "</tr>")
    for r in rows:
        out.append("<tr>" + "".join(_td(v) for v in r) + "</tr>")
    out.append("</table></div>")
    return "\n".join(out)


def _note(text: str) -> str:
    return f'<div class="note">{_esc(text)}</div>'


def _img_tag(png: bytes, alt: str, caption: str | None = None) -> str:
    data = base64.b64encode(png).decode("ascii")
    width, height = _png_size(png)
    cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(alt)}" '
        f'width="{width}" height="{height}">{cap}</figure>'
    )


def _png_size(png: bytes) -> tuple[int, int]:
    # IHDR: 8-byte signature, 4-byte length, b"IHDR", then width and height (big-endian)
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _picture(build: Callable[[], Any], alt: str, caption: str | None = None) -> str:
    """Render ``build()`` (a Figure or Axes) in the report style, as an <img>; a note when the
    data cannot be drawn (a TopoevalError: unsupported dimension, non-finite values ...)."""
    plotting = _plotting()
    try:
        with plotting._style():
            fig = build()
            fig = getattr(fig, "figure", fig)
            png = plotting._figure_png(fig)
    except TopoevalError as exc:
        return _note(f"{alt}: not drawn ({exc})")
    return _img_tag(png, alt, caption)


def _document(title: str, body: Sequence[str]) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta name="generator" content="topoeval {_esc(_version())}">',
            f"<title>{_esc(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            *body,
            f"<footer>Written by topoeval {_esc(_version())}. Self-contained: images are embedded, "
            "no script, no network access.</footer>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _write_text(path: Any, text: str, force: bool) -> Path:
    from .io import atomic_output

    with atomic_output(path, force=force) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _check_output(path: Any, force: bool) -> None:
    """Fail before any work when ``path`` cannot be written."""
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidOptionError(f"path={path!r} is not a file name; pass a str or pathlib.Path")
    from .io import check_output_path

    check_output_path(path, force=force)


# ---------------------------------------------------------------------------- one comparison


def _check_comparison(comparison: Any) -> None:
    needed = ("options", "diagrams", "matchings", "to_dict", "shape")
    if not all(hasattr(comparison, a) for a in needed):
        raise InvalidInputError(
            f"comparison is a {type(comparison).__name__}, not a topoeval Comparison; pass the "
            "result of topoeval.compare(orig, recon)"
        )


def _prepare_arrays(comparison: Any, orig: Any, recon: Any) -> tuple[np.ndarray, np.ndarray]:
    from ._validation import as_real_array, check_same_shape

    x = as_real_array(orig, "orig")
    y = as_real_array(recon, "recon")
    check_same_shape(x, y)
    shape = tuple(comparison.shape)
    if tuple(x.shape) != shape:
        raise ShapeMismatchError(
            f"orig and recon have shape {x.shape} but the comparison was computed on shape {shape}; "
            "pass the arrays given to compare()"
        )
    return x, y


class _View:
    """What the pictures of one comparison show: one sample of it (the worst one with a
    batch axis), with its diagrams, matchings, critical-point errors and mismatch axes."""

    def __init__(self, comparison: Any, orig: np.ndarray, recon: np.ndarray):
        opts = dict(comparison.options)
        self.batch_axis = opts.get("batch_axis")
        self.options = opts
        self.has_dsl = getattr(comparison, "dsl", None) is not None
        self.nan_policy = (
            opts.get("nan_policy") if opts.get("nan_policy") in ("raise", "omit") else "raise"
        )
        filts = list(comparison.diagrams)
        diagrams = {f: comparison.diagrams[f] for f in filts}
        matchings = dict(comparison.matchings)
        cp = getattr(comparison, "cp_errors", None)
        if self.batch_axis is None:
            self.sample = None
            self.orig, self.recon = orig, recon
            self.diagrams, self.matchings, self.cp_errors = diagrams, matchings, cp
            ndim_sample = orig.ndim
        else:
            b = int(self.batch_axis) % orig.ndim
            self.sample = self._worst_sample(orig.shape[b], matchings, cp, opts)
            s = self.sample
            self.orig, self.recon = np.take(orig, s, axis=b), np.take(recon, s, axis=b)
            self.diagrams = {f: (d[0][s], d[1][s]) for f, d in diagrams.items()}
            self.matchings = {f: m[s] for f, m in matchings.items()}
            self.cp_errors = cp[s] if cp is not None else None
            ndim_sample = orig.ndim - 1
        weights = opts.get("weights")
        if weights is None:
            self.axes = list(range(ndim_sample))
        else:
            self.axes = [i for i, w in enumerate(weights) if float(w) > 0]

    @staticmethod
    def _worst_sample(
        n: int, matchings: Mapping[str, Any], cp: Any, opts: Mapping[str, Any]
    ) -> int:
        order = float(opts.get("order", 1.0) or 1.0)
        if matchings:
            ms = next(iter(matchings.values()))
            score = []
            for m in ms:
                c = np.asarray(m, dtype=np.float64).reshape(-1, 3)[:, 2]
                score.append(np.inf if np.isinf(c).any() else float(np.sum(c**order)))
            return int(np.argmax(score)) if len(score) == n else 0
        if cp is not None:
            return int(np.argmax([e.total_errors for e in cp]))
        return 0

    @property
    def label(self) -> str:
        return (
            ""
            if self.sample is None
            else f" (sample {self.sample} along the batch axis {self.batch_axis})"
        )


def _metrics_rows(comparison: Any) -> list[tuple[str, list[tuple[str, Any]]]]:
    sections = []
    names = {
        "pointwise": "Pointwise",
        "dsl": "Directional sign loss",
        "critical_points": "Critical points",
    }
    opts = comparison.options
    for part in ("pointwise", "dsl", "persistence", "critical_points"):
        val = getattr(comparison, part, None)
        if val is None:
            continue
        if part == "persistence":
            for filt, vals in val.items():
                title = (
                    f"Persistence, {filt} (Wasserstein order {_fmt(opts.get('order'))}, "
                    f"internal_p {_fmt(opts.get('internal_p'))})"
                )
                sections.append((title, list(vals.items())))
        else:
            sections.append((names[part], list(val.items())))
    return sections


def _metrics_table(comparison: Any) -> str:
    """One table per part, side by side."""
    out = ['<div class="grid">']
    for title, items in _metrics_rows(comparison):
        out.append("<table>")
        out.append(f'<tr class="section"><th colspan="2">{_esc(title)}</th></tr>')
        for k, v in items:
            out.append(f"<tr><td>{_esc(k)}</td>{_td(v)}</tr>")
        out.append("</table>")
    out.append("</div>")
    return "\n".join(out)


def _options_table(comparison: Any) -> str:
    d = comparison.to_dict()
    rows = [
        (k, v if not isinstance(v, (list, dict)) else str(v))
        for k, v in d.get("options", {}).items()
    ]
    return _table(["option", "value"], rows)


def _comparison_pictures(view: _View, *, heading: str = "h2") -> list[str]:
    """The pictures of one comparison, as HTML snippets."""
    plotting = _plotting()
    out: list[str] = []
    h = heading
    x, y = view.orig, view.recon
    out.append(f"<{h}>Fields{_esc(view.label)}</{h}>")
    cap = (
        "Original and reconstruction share one colour scale; the difference has its own, symmetric "
        "about 0."
        + (
            " 3-D arrays: the slice with the largest total absolute difference."
            if x.ndim == 3
            else ""
        )
    )
    out.append(
        _picture(lambda: plotting.plot_fields(x, y), "original, reconstruction and difference", cap)
    )

    if view.diagrams:
        out.append(f"<{h}>Persistence diagrams and matchings</{h}>")
        for filt, (d1, d2) in view.diagrams.items():
            m = view.matchings.get(filt)

            def build(d1=d1, d2=d2, m=m, filt=filt):
                from matplotlib.figure import Figure

                fig = Figure(figsize=(9.4, 4.6), layout="constrained")
                a0, a1 = fig.subplots(1, 2)
                plotting.plot_diagram(
                    [d1, d2], a0, labels=["original", "reconstruction"], title=f"{filt} diagrams"
                )
                if m is not None:
                    plotting.plot_matching(d1, d2, m, a1, title=f"{filt} Wasserstein matching")
                else:
                    a1.set_axis_off()
                return fig

            cap = (
                f"0-D {filt} persistence diagrams (never-dying classes on the dashed \u221e line) and the "
                "optimal Wasserstein matching; points matched to the diagonal are joined to their "
                "projection, the costliest pairs are red with their cost."
            )
            out.append(_picture(build, f"{filt} persistence diagrams and matching", cap))

    if view.has_dsl:
        if view.axes:
            out.append(f"<{h}>Directional sign mismatches</{h}>")
            cap = (
                "Exact-DSL mismatch map summed over the compared axes "
                f"{', '.join(map(str, view.axes))}: the mismatch of the difference between a cell and "
                "its successor along an axis (1 opposite directions, 1/2 flat against rising or "
                "falling) is drawn at the cell, over the original in grey."
                + (
                    " 3-D arrays: along each axis the slice with the most mismatches."
                    if x.ndim == 3
                    else ""
                )
            )
            nan_policy = view.nan_policy
            out.append(
                _picture(
                    lambda: plotting.plot_mismatch(
                        x, y, axis=tuple(view.axes), nan_policy=nan_policy
                    ),
                    "sign mismatch map",
                    cap,
                )
            )
            if len(view.axes) > 1 and x.ndim == 2:
                out.append(
                    _picture(
                        lambda: plotting.plot_mismatch(
                            x, y, axis=tuple(view.axes), mode="per-axis", nan_policy=nan_policy
                        ),
                        "sign mismatch map per axis",
                        "The same, one panel per axis.",
                    )
                )

    if view.cp_errors is not None:
        out.append(f"<{h}>Critical points</{h}>")
        cap = (
            "False negatives (critical in the original, regular in the reconstruction), false positives "
            "(added) and false types (retyped) over the original field"
            + ("; 3-D arrays: the slice along axis 0 with the most errors." if x.ndim == 3 else ".")
        )
        out.append(
            _picture(
                lambda: plotting.plot_critical_points(x, y, errors=view.cp_errors),
                "critical-point errors",
                cap,
            )
        )
    return out


def write_report(path: Any, comparison: Any, orig: Any, recon: Any, *, force: bool = False) -> Path:
    """Write one self-contained HTML report of a comparison.

    The report holds the metrics table, the options used, the topoeval version,
    and the pictures: the fields and their difference (:func:`~topoeval.plot_fields`),
    the persistence diagrams with their Wasserstein matching per filtration
    (:func:`~topoeval.plot_diagram`, :func:`~topoeval.plot_matching`), the exact-DSL
    mismatch map (:func:`~topoeval.plot_mismatch`) and the critical-point errors
    (:func:`~topoeval.plot_critical_points`).  With a ``batch_axis`` the pictures
    show the sample with the largest Wasserstein cost.  A picture that cannot be
    drawn (e.g. arrays of more than 3 dimensions) is replaced by a note.

    Parameters
    ----------
    path : str or path-like
        The ``.html`` file to write.
    comparison : Comparison
        ``topoeval.compare(orig, recon, ...)``.
    orig, recon : array_like
        The arrays given to :func:`topoeval.compare` (the comparison keeps only the
        diagrams, not the arrays).
    force : bool, default False
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is False.
    TopoevalIOError
        The folder does not exist or is not writable.
    ShapeMismatchError
        The arrays do not have the comparison's shape.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import topoeval as te
    >>> from topoeval.report import write_report
    >>> a = np.add.outer(np.sin(np.linspace(0, 6, 24)), np.cos(np.linspace(0, 5, 20)))
    >>> b = np.round(a * 4) / 4
    >>> out = write_report(os.path.join(tempfile.mkdtemp(), "report.html"), te.compare(a, b), a, b)
    >>> text = out.read_text()
    >>> text.count("<img src=\\"data:image/png;base64,") >= 4, "http" in text.split("<body>")[1]
    (True, False)
    """
    _plotting()
    _check_output(path, force)
    _check_comparison(comparison)
    x, y = _prepare_arrays(comparison, orig, recon)
    view = _View(comparison, x, y)
    d = comparison.to_dict()
    dtypes = d.get("dtypes", {})
    body = [
        "<h1>topoeval comparison</h1>",
        f'<p class="meta">shape <code>{_esc(tuple(comparison.shape))}</code>, original '
        f"<code>{_esc(dtypes.get('orig', x.dtype))}</code>, reconstruction "
        f"<code>{_esc(dtypes.get('recon', y.dtype))}</code>; computed by topoeval "
        f"{_esc(getattr(comparison, 'version', '') or _version())}.</p>",
        "<h2>Metrics</h2>",
        _metrics_table(comparison),
        *_comparison_pictures(view),
        "<h2>Options</h2>",
        _options_table(comparison),
    ]
    elapsed = getattr(comparison, "elapsed", None)
    if elapsed:
        body.append(
            _table(
                ["part", "seconds"],
                [(k, float(v)) for k, v in elapsed.items()],
                caption="Time spent per part",
            )
        )
    return _write_text(path, _document("topoeval comparison report", body), force)


# ---------------------------------------------------------------------------- summary figure

_SAVEFIG_METADATA = {
    ".png": {"Software": None},
    ".svg": {"Date": None, "Creator": None},
    ".pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}


def _headline(comparison: Any) -> str:
    row = comparison.to_row() if hasattr(comparison, "to_row") else {}
    parts = []
    for key, name in (
        ("psnr", "PSNR"),
        ("max_abs_error", "max err"),
        ("exact_dsl", "exact DSL"),
        ("wasserstein_sublevel", "W sub"),
        ("wasserstein_superlevel", "W super"),
        ("cp_total_errors", "CP errors"),
    ):
        if key in row:
            parts.append(f"{name} {_fmt(row[key])}")
    return "   ".join(parts)


def _summary_figure(view: _View, comparison: Any, title: str | None = None):
    """One Figure: fields on top; matching, mismatch map and critical points below."""
    plotting = _plotting()
    from matplotlib.figure import Figure

    x, y = view.orig, view.recon
    draw_fields = 1 <= x.ndim <= 3
    fig = Figure(figsize=(13.0, 8.6 if draw_fields else 4.8), layout="constrained")
    index = None
    if x.ndim == 3:  # one slice along axis 0 for every panel: the one with the largest difference
        index = int(np.argmax(np.nansum(np.abs(y.astype(np.float64) - x), axis=(1, 2))))
    if draw_fields:
        top, bottom = fig.subfigures(2, 1, height_ratios=(1.0, 1.25))
        plotting.plot_fields(x, y, top, axis=0, index=index)
    else:
        bottom = fig
    cells = bottom.subfigures(1, 3, width_ratios=(1.0, 1.15, 1.25))
    if view.diagrams:
        filt, (d1, d2) = next(iter(view.diagrams.items()))
        m = view.matchings.get(filt)
        ax = cells[0].subplots()
        if m is not None:
            plotting.plot_matching(d1, d2, m, ax, title=f"{filt} matching")
        else:
            plotting.plot_diagram(
                [d1, d2], ax, labels=["original", "reconstruction"], title=f"{filt} diagrams"
            )
    if draw_fields and view.axes and view.has_dsl:
        slices = {0: index} if x.ndim == 3 else None
        plotting.plot_mismatch(
            x, y, cells[1], axis=tuple(view.axes), slices=slices, nan_policy=view.nan_policy
        )
    if draw_fields and view.cp_errors is not None:
        plotting.plot_critical_points(
            x, y, cells[2].subplots(), errors=view.cp_errors, axis=0, index=index
        )
    head = title or ("topoeval comparison" + view.label)
    line = _headline(comparison)
    fig.suptitle(head + ("\n" + line if line else ""), fontsize=11)
    return fig


def save_summary_plot(
    path: Any, comparison: Any, orig: Any, recon: Any, *, force: bool = False
) -> Path:
    """Save one summary figure of a comparison (PNG, or SVG / PDF by the file's suffix).

    Top row: original, reconstruction and difference (:func:`~topoeval.plot_fields`);
    bottom row: the Wasserstein matching of the first filtration, the exact-DSL
    mismatch map and the critical-point errors; the title gives the headline metrics.
    The file holds no timestamp or version, so the same inputs give the same bytes.

    Parameters
    ----------
    path : str or path-like
        Output file; ``.png`` (100 dpi), ``.svg`` or ``.pdf``.
    comparison : Comparison
        ``topoeval.compare(orig, recon, ...)``.
    orig, recon : array_like
        The arrays given to :func:`topoeval.compare`.
    force : bool, default False
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import topoeval as te
    >>> from topoeval.report import save_summary_plot
    >>> a = np.add.outer(np.sin(np.linspace(0, 6, 24)), np.cos(np.linspace(0, 5, 20)))
    >>> b = np.round(a * 4) / 4
    >>> out = save_summary_plot(os.path.join(tempfile.mkdtemp(), "summary.png"), te.compare(a, b), a, b)
    >>> out.read_bytes()[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    plotting = _plotting()
    suffix = _image_suffix(path)
    _check_output(path, force)
    _check_comparison(comparison)
    x, y = _prepare_arrays(comparison, orig, recon)
    view = _View(comparison, x, y)
    with plotting._style():
        fig = _summary_figure(view, comparison)
        _save_figure(fig, path, suffix, force)
    return Path(path)


def _image_suffix(path: Any) -> str:
    suffix = Path(os.fspath(path)).suffix.lower() if isinstance(path, (str, os.PathLike)) else ""
    if suffix not in _SAVEFIG_METADATA:
        raise InvalidOptionError(
            f"cannot tell the image format of {path!r}; name the file .png, .svg or .pdf"
        )
    return suffix


def _save_figure(fig: Any, path: Any, suffix: str, force: bool) -> None:
    """Save with the Agg (or vector) canvas, without timestamps or versions, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from .io import atomic_output

    FigureCanvasAgg(fig)
    with atomic_output(path, force=force) as tmp:
        fig.savefig(tmp, format=suffix[1:], metadata=_SAVEFIG_METADATA[suffix])


# ---------------------------------------------------------------------------- batches


def _numeric_metrics(result: Any) -> list[str]:
    cols = result.columns
    names = [m for m in result.metric_names if cols[m].dtype.kind == "f"]
    first = [m for m in _KEY_METRICS if m in names]
    return first + [m for m in names if m not in first]


def _finite(v: np.ndarray) -> np.ndarray:
    return v[np.isfinite(v)]


def _horizontal() -> dict[str, Any]:
    """``boxplot`` keyword for horizontal boxes (``vert`` is deprecated since matplotlib 3.10)."""
    import matplotlib

    major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def _distribution_figure(result: Any, metrics: Sequence[str]):
    from matplotlib.figure import Figure

    from .plotting import _COLORS

    cols = result.columns
    ok = cols["status"] == "ok"
    ncols = 3
    nrows = max(1, math.ceil(len(metrics) / ncols))
    fig = Figure(
        figsize=(4.2 * ncols, 0.9 + (0.55 + 0.32 * len(result.recons)) * nrows + 0.6 * nrows),
        layout="constrained",
    )
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax, m in zip(axes, metrics):
        data, labels = [], []
        for name in result.recons:
            v = cols[m][(cols["recon"] == name) & ok]
            data.append(_finite(v))
            labels.append(name)
        pos = np.arange(len(data))[::-1]
        nonempty = [k for k, d in enumerate(data) if d.size]
        if nonempty:
            bp = ax.boxplot(
                [data[k] for k in nonempty],
                positions=pos[nonempty],
                widths=0.6,
                patch_artist=True,
                showfliers=False,
                medianprops={"color": "black"},
                **_horizontal(),
            )
            for k, patch in zip(nonempty, bp["boxes"]):
                patch.set_facecolor(_COLORS[k % len(_COLORS)])
                patch.set_alpha(0.35)
            rng = np.random.default_rng(0)  # fixed jitter: reproducible figure
            for k in nonempty:
                jitter = rng.uniform(-0.18, 0.18, data[k].size)
                ax.scatter(
                    data[k],
                    pos[k] + jitter,
                    s=7,
                    color=_COLORS[k % len(_COLORS)],
                    zorder=3,
                    edgecolors="none",
                )
        ax.set_yticks(pos, labels)
        ax.set_ylim(-0.7, len(data) - 0.3)
        ax.set_title(m)
    for ax in axes[len(metrics) :]:
        ax.set_axis_off()
    fig.suptitle(f"distributions over samples ({result.n_ok} ok rows)", fontsize=10)
    return fig


def _sample_loader(
    result: Any, orig: Any, recon: Any, file: Any
) -> Callable[[str, int], Any] | None:
    """A function (recon name, sample) -> (orig_i, recon_i), or None when the data is unknown."""
    if orig is None and file is None:
        return None

    def resolve(spec: Any) -> Any:
        if spec is None:
            return None
        if isinstance(spec, (str, os.PathLike)):
            from .io import HDF5_EXTENSIONS, load_array, split_spec

            s = os.fspath(spec)
            p, ds = split_spec(s)
            if ds is None or not p.exists():
                if file is None:
                    return None
                p, ds = Path(os.fspath(file)), s
            if p.suffix.lower() not in HDF5_EXTENSIONS:
                try:
                    return load_array(f"{p}:{ds}")
                except TopoevalError:
                    return None
            import h5py

            try:
                f = h5py.File(p, "r")  # read one sample at a time; closed when garbage-collected
                return f[ds]
            except (OSError, KeyError):
                return None
        return np.asarray(spec)

    o = resolve(orig if orig is not None else result.orig)
    if o is None:
        return None
    recon_map: dict[str, Any] = {}
    if isinstance(recon, Mapping):
        recon_map = {str(k): v for k, v in recon.items()}
    elif recon is not None and len(result.recons) == 1:
        recon_map = {result.recons[0]: recon}
    cache: dict[str, Any] = {}

    def load(name: str, sample: int):
        if name not in cache:
            cache[name] = resolve(recon_map.get(name, name))
        r = cache[name]
        if r is None:
            return None
        return np.asarray(o[sample]), np.asarray(r[sample])

    return load


def write_batch_report(
    path: Any,
    result: Any,
    *,
    force: bool = False,
    orig: Any = None,
    recon: Any = None,
    file: Any = None,
    n_worst: int = 2,
) -> Path:
    """Write a self-contained HTML report of a batch of comparisons.

    For every reconstruction: the number of ok and failed samples, mean / std /
    min / max of every metric, box plots of the distributions of the key metrics
    over the samples (all reconstructions side by side), the worst samples by
    each Wasserstein column and by exact DSL, and the failed samples with their
    errors.  When the data can be read (``orig`` / ``recon`` arrays, or HDF5
    datasets through ``file`` or ``"file.h5:/dataset"`` names), the ``n_worst``
    worst samples of each reconstruction also get their pictures (fields,
    matching, mismatch map, critical points), recomputed with the batch options.

    Parameters
    ----------
    path : str or path-like
        The ``.html`` file to write.
    result : BatchResult
        ``topoeval.batch(...)``.
    force : bool, default False
        Replace an existing file.
    orig : array_like or str, optional
        The originals (first axis = sample), or their dataset (``"/orig"`` with
        ``file``, or ``"file.h5:/orig"``); default ``result.orig`` read through ``file``.
    recon : array_like, str or dict, optional
        The reconstructions, ``{name: array_or_dataset}``; by default each
        reconstruction's name read through ``file``.
    file : str or path-like, optional
        The HDF5 file holding the batch (as given to ``topoeval.batch``).
    n_worst : int, default 2
        Samples with pictures per reconstruction (0: none).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import topoeval as te
    >>> from topoeval.report import write_batch_report
    >>> orig = np.random.default_rng(0).random((4, 8, 8))
    >>> res = te.batch(orig, {"noisy": orig + 0.01, "coarse": np.round(orig, 1)}, jobs=1)
    >>> out = write_batch_report(os.path.join(tempfile.mkdtemp(), "batch.html"), res, n_worst=1,
    ...                          orig=orig, recon={"noisy": orig + 0.01, "coarse": np.round(orig, 1)})
    >>> "worst samples" in out.read_text()
    True
    """
    _plotting()
    if (
        isinstance(n_worst, (bool, np.bool_))
        or not isinstance(n_worst, (int, np.integer))
        or n_worst < 0
    ):
        raise InvalidOptionError(f"n_worst={n_worst!r} is not valid; pass a non-negative integer")
    if not all(
        hasattr(result, a) for a in ("rows", "recons", "columns", "summary", "metric_names")
    ):
        raise InvalidInputError(
            f"result is a {type(result).__name__}, not a topoeval BatchResult; pass the result of "
            "topoeval.batch(...)"
        )
    _check_output(path, force)
    summary = result.summary
    metrics = _numeric_metrics(result)
    body = [
        "<h1>topoeval batch report</h1>",
        f'<p class="meta">original <code>{_esc(getattr(result, "orig", "orig"))}</code>; '
        f"{len(result.recons)} reconstruction(s); {len(result.rows)} rows, {result.n_ok} ok, "
        f"{result.n_failed} failed.</p>",
        "<h2>Summary per reconstruction</h2>",
        _table(
            ["reconstruction", "samples", "ok", "failed"],
            [(name, s["n"], s["n_ok"], s["n_failed"]) for name, s in summary.items()],
        ),
    ]
    key = [m for m in metrics if m in _KEY_METRICS] or metrics[:9]
    if key and result.n_ok:
        body.append("<h2>Distributions over samples</h2>")
        body.append(
            _picture(
                lambda: _distribution_figure(result, key[:12]),
                "metric distributions",
                "Box plots (median, quartiles, 1.5 IQR whiskers) and every sample as a dot, "
                "per reconstruction; non-finite values left out.",
            )
        )
    body.append("<h2>Mean and standard deviation over samples</h2>")
    names = list(summary)
    all_metrics = list(dict.fromkeys(m for s in summary.values() for m in s["metrics"]))
    nan = {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan}

    def stat_table(keys: Sequence[str]) -> str:
        header = ["metric"] + [f"{n}: {k}" for n in names for k in keys]
        rows = [
            [m] + [summary[n]["metrics"].get(m, nan)[k] for n in names for k in keys]
            for m in all_metrics
        ]
        return _table(header, rows)

    if all_metrics:
        body.append(stat_table(("mean", "std")))
        body.append("<details><summary>Minimum and maximum over samples</summary>")
        body.append(stat_table(("min", "max")))
        body.append("</details>")
    else:
        body.append(_note("no numeric metric in the rows"))

    loader = _sample_loader(result, orig, recon, file)
    body.append("<h2>Worst samples</h2>")
    if loader is None and n_worst:
        body.append(
            _note(
                "Pictures of the worst samples need the data: pass orig=/recon= arrays or "
                "file= (the HDF5 file of the batch) to write_batch_report."
            )
        )
    for name, s in summary.items():
        body.append(f"<h3>{_esc(name)}: worst samples</h3>")
        worst = s.get("worst", {})
        if worst:
            body.append(
                _table(
                    ["by", "sample", "value"],
                    [(m, smp, val) for m, lst in worst.items() for smp, val in lst],
                )
            )
        picks: list[int] = []
        for lst in worst.values():
            for smp, _ in lst:
                if smp not in picks:
                    picks.append(int(smp))
        if loader is None or not n_worst:
            continue
        for smp in picks[:n_worst]:
            body.extend(_worst_sample_pictures(result, loader, name, smp))

    failed = [r for r in result.rows if r.get("status") != "ok"]
    if failed:
        body.append("<h2>Failed samples</h2>")
        body.append(
            _table(
                ["reconstruction", "sample", "error"],
                [(r.get("recon"), r.get("sample"), r.get("error")) for r in failed[:200]],
            )
        )
        if len(failed) > 200:
            body.append(_note(f"{len(failed) - 200} more failed rows not listed"))
    body.append("<h2>Options</h2>")
    body.append(
        _table(["option", "value"], [(k, _fmt(v)) for k, v in dict(result.options).items()])
    )
    return _write_text(path, _document("topoeval batch report", body), force)


def _worst_sample_pictures(result: Any, loader: Callable, name: str, sample: int) -> list[str]:
    from .compare import compare

    try:
        data = loader(name, sample)
    except (OSError, IndexError, KeyError, ValueError) as exc:
        return [_note(f"sample {sample} of {name}: cannot read it ({exc})")]
    if data is None:
        return [
            _note(f"sample {sample} of {name}: data not found; pass recon={{name: array}} or file=")
        ]
    xo, xr = data
    options = {k: v for k, v in dict(result.options).items()}
    try:
        comp = compare(xo, xr, **options)
    except TypeError as exc:  # a custom per-sample function's options
        return [_note(f"sample {sample} of {name}: not compared again ({exc})")]
    except TopoevalError as exc:
        return [_note(f"sample {sample} of {name}: {exc}")]
    view = _View(comp, np.asarray(xo), np.asarray(xr))
    return [
        f"<h4>{_esc(name)}, sample {sample}</h4>",
        _picture(
            lambda: _summary_figure(view, comp, title=f"{name}, sample {sample}"),
            f"{name} sample {sample}",
        ),
    ]


# ---------------------------------------------------------------------------- sweeps

_SWEEP_PANELS = (
    ("psnr", "PSNR (dB)", False),
    ("wasserstein_sublevel", "Wasserstein distance (sublevel)", True),
    ("exact_dsl", "exact DSL (sign mismatches)", True),
    ("cp_total_errors", "critical-point errors (FP + FN + FT)", True),
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


def _as_float(v: Any) -> float:
    if v is None or v == "":
        return math.nan
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return math.nan
    return float(v)


def _sweep_groups(rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """One curve per compressor, or per (field, compressor) when the rows hold several fields."""
    fields = list(dict.fromkeys(str(r["field"]) for r in rows if "field" in r))
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        name = str(r["compressor"])
        if len(fields) > 1:
            name = f"{r.get('field')}: {name}"
        groups.setdefault(name, []).append(r)
    return list(groups.items())


def _sweep_figure(
    rows: list[dict[str, Any]], panels: Sequence[tuple[str, str, bool]], title: str | None = None
):
    from matplotlib.figure import Figure

    from .plotting import _COLORS, _HIGHLIGHT, _MARKERS

    groups = _sweep_groups(rows)
    ncols = 2
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(10.0, 3.9 * nrows + (0.3 if title else 0.0)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (key, label, logy) in zip(axes, panels):
        all_y = []
        for k, (name, sel) in enumerate(groups):
            xs = np.array([_as_float(r.get("bit_rate")) for r in sel])
            ys = np.array([_as_float(r.get(key)) for r in sel])
            bad = np.array([r.get("bound_ok") == 0.0 for r in sel], dtype=bool)
            keep = np.isfinite(xs) & np.isfinite(ys) & (xs > 0)
            xs, ys, bad = xs[keep], ys[keep], bad[keep]
            o = np.argsort(xs, kind="stable")
            ax.plot(
                xs[o],
                ys[o],
                marker=_MARKERS[k % len(_MARKERS)],
                color=_COLORS[k % len(_COLORS)],
                lw=1.4,
                ms=5,
                label=name,
            )
            if bad.any():  # runs whose compressor exceeded its error bound
                ax.scatter(
                    xs[bad],
                    ys[bad],
                    s=120,
                    facecolors="none",
                    edgecolors=_HIGHLIGHT,
                    linewidths=1.5,
                    zorder=5,
                )
            all_y.append(ys)
        _bit_rate_axis(ax)
        ys = np.concatenate(all_y) if all_y else np.empty(0)
        if logy and ys.size:
            pos = ys[ys > 0]
            if pos.size == ys.size:
                ax.set_yscale("log")
            else:  # zeros (e.g. no critical-point error at high rates): linear near 0
                ax.set_yscale("symlog", linthresh=float(pos.min()) if pos.size else 1.0)
        ax.set_xlabel("bit rate (bits per value)")
        ax.set_ylabel(label)
        ax.set_title(label + " vs bit rate")
        ax.grid(True, which="major", color="0.88", lw=0.6)
        ax.legend(loc="best")
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def _bit_rate_axis(ax: Any) -> None:
    """Log x axis labelled 0.1, 0.2, 0.5, 1, 2, 5 ... in plain numbers (bit rates span few decades)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


#: columns of the sweep table, when present (every column is in a collapsed table below it)
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
    return rows, [p for p in _SWEEP_PANELS if p[0] in columns]


def _ok(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("status", "ok") == "ok"]


def write_sweep_report(path: Any, result: Any, *, force: bool = False) -> Path:
    """Write a self-contained HTML report of a compressor sweep: rate-distortion curves.

    Four panels against the bit rate (log axis), one line per compressor: PSNR,
    the sublevel Wasserstein distance, the exact DSL and the critical-point errors
    (FP + FN + FT) (log axes; symlog when a column holds zeros), one figure per
    field when the rows have a ``field`` column with several values; followed by
    the table of all rows (every column in a collapsed table) and the options.
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
    columns = list(dict.fromkeys(k for r in rows for k in r))
    ok = _ok(rows)
    n_failed = len(rows) - len(ok)
    violations = [r for r in ok if r.get("bound_ok") == 0.0]
    fields = list(dict.fromkeys(str(r["field"]) for r in ok if "field" in r))
    body = [
        "<h1>topoeval compressor sweep</h1>",
        f'<p class="meta">{len(rows)} runs of {len(set(str(r["compressor"]) for r in rows))} compressor(s)'
        + (f" on {len(fields)} field(s)" if fields else "")
        + f"; {n_failed} failed, {len(violations)} bound violation(s).</p>",
    ]
    if violations:
        body.append(
            _note(
                "Error bound exceeded (circled in red in the curves): "
                + "; ".join(
                    f"{r.get('field', '')} {r['compressor']} at bound {_fmt(r.get('bound'))}: max error "
                    f"{_fmt(r.get('max_error'))} > {_fmt(r.get('abs_bound'))}"
                    for r in violations
                )
            )
        )
    if not panels:
        body.append(
            _note(
                "none of psnr, wasserstein_sublevel, exact_dsl, cp_total_errors is in the rows; "
                "no curve drawn"
            )
        )
    elif ok:
        body.append("<h2>Rate-distortion curves</h2>")
        cap = (
            "Each metric against the bit rate (bits per value; log axis), one line per compressor, points "
            "in order of bit rate; log (or symmetric-log, when a value is 0) metric axes. Failed runs "
            "are left out."
        )
        if len(fields) > 1:
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
        else:
            body.append(_picture(lambda: _sweep_figure(ok, panels), "rate-distortion curves", cap))
    shown = [c for c in _SWEEP_COLUMNS if c in columns]
    shown += [c for c in _KEY_METRICS if c in columns and c not in shown]
    if len(shown) < 4:
        shown += [c for c in columns if c not in shown]
    body.append("<h2>All runs</h2>")
    body.append(_table(shown, [[r.get(c) for c in shown] for r in rows]))
    if any(c not in shown for c in columns):
        body.append("<details><summary>Every column</summary>")
        body.append(_table(columns, [[r.get(c) for c in columns] for r in rows]))
        body.append("</details>")
    options = getattr(result, "options", None)
    if isinstance(options, Mapping) and options:
        body.append("<h2>Options</h2>")
        body.append(_table(["option", "value"], [(k, _fmt(v)) for k, v in options.items()]))
    return _write_text(path, _document("topoeval sweep report", body), force)


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
    plotting = _plotting()
    suffix = _image_suffix(path)
    rows, panels = _prepare_sweep(result)
    if not panels:
        raise InvalidInputError(
            "the sweep's rows need at least one of psnr, wasserstein_sublevel, exact_dsl, cp_total_errors"
        )
    _check_output(path, force)
    with plotting._style():
        fig = _sweep_figure(_ok(rows), panels)
        _save_figure(fig, path, suffix, force)
    return Path(path)

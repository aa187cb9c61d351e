"""The page shell every report shares: CSS, the document, tables, notes, embedded pictures,
number formatting, the options section, and the atomic writing of a page (:func:`_write_page`)
or of one figure as PNG / SVG / PDF (:func:`_save_image`)."""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidOptionError, TopoevalError
from ..plotting import base as _pbase

__all__: list[str] = []

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
    "seg_false_labels",
    "seg_false_extrema",
    "pairs_false_negatives",
    "pairs_false_positives",
)


# ---------------------------------------------------------------------------- small helpers


def _plotting():
    """The plotting package, after checking that matplotlib is installed."""
    from .. import plotting

    _pbase._require_matplotlib("topoeval's reports")
    return plotting


def _version() -> str:
    from .. import __version__

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
    _plotting()
    try:
        with _pbase._style():
            fig = build()
            fig = getattr(fig, "figure", fig)
            png = _pbase._figure_png(fig)
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
            (
                f"<footer>Written by topoeval {_esc(_version())}. Self-contained: images are embedded, "
                "no script, no network access.</footer>"
            ),
            "</body>",
            "</html>",
            "",
        ]
    )


def _options_section(options: Mapping[str, Any]) -> list[str]:
    """The "Options" heading and its two-column table."""
    return ["<h2>Options</h2>", _table(["option", "value"], [(k, _fmt(v)) for k, v in options.items()])]


def _write_page(path: Any, title: str, body: Sequence[str], force: bool) -> Path:
    """The document of ``body``, written atomically to ``path``."""
    return _write_text(path, _document(title, body), force)


_SAVEFIG_METADATA = {
    ".png": {"Software": None},
    ".svg": {"Date": None, "Creator": None},
    ".pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}


def _image_suffix(path: Any) -> str:
    suffix = Path(os.fspath(path)).suffix.lower() if isinstance(path, (str, os.PathLike)) else ""
    if suffix not in _SAVEFIG_METADATA:
        raise InvalidOptionError(
            f"cannot tell the image format of {path!r}; name the file .png, .svg or .pdf"
        )
    return suffix


def _save_image(path: Any, force: bool, prepare: Callable[[], Any], build: Callable[[Any], Any]) -> Path:
    """Save one figure: the format by the suffix and ``prepare()`` (the input checks) before the
    output is checked, then ``build(prepared)`` drawn in the report style and saved with the Agg
    (or vector) canvas, without timestamps or versions, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ..io import atomic_output

    _plotting()
    suffix = _image_suffix(path)
    prepared = prepare()
    _check_output(path, force)
    with _pbase._style():
        fig = build(prepared)
        FigureCanvasAgg(fig)
        with atomic_output(path, force=force) as tmp:
            fig.savefig(tmp, format=suffix[1:], metadata=_SAVEFIG_METADATA[suffix])
    return Path(path)


def _write_text(path: Any, text: str, force: bool) -> Path:
    from ..io import atomic_output

    with atomic_output(path, force=force) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _check_output(path: Any, force: bool) -> None:
    """Fail before any work when ``path`` cannot be written."""
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidOptionError(f"path={path!r} is not a file name; pass a str or pathlib.Path")
    from ..io import check_output_path

    check_output_path(path, force=force)


# ---------------------------------------------------------------------------- one comparison

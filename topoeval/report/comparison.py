"""The report of one comparison (:func:`write_report`) and its one-figure summary
(:func:`save_summary_plot`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError, ShapeMismatchError
from .figures import _summary_figure
from .page import (
    _check_output,
    _esc,
    _fmt,
    _picture,
    _plotting,
    _save_image,
    _table,
    _td,
    _version,
    _write_page,
)

__all__ = ["save_summary_plot", "write_report"]


def _check_comparison(comparison: Any) -> None:
    needed = ("options", "diagrams", "matchings", "to_dict", "shape")
    if not all(hasattr(comparison, a) for a in needed):
        raise InvalidInputError(
            f"comparison is a {type(comparison).__name__}, not a topoeval Comparison; pass the "
            "result of topoeval.compare(orig, recon)"
        )


def _prepare_arrays(comparison: Any, orig: Any, recon: Any) -> tuple[np.ndarray, np.ndarray]:
    from .._validation import as_real_array, check_same_shape

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
        seg = getattr(comparison, "seg_errors", None)
        if self.batch_axis is None:
            self.sample = None
            self.orig, self.recon = orig, recon
            self.diagrams, self.matchings, self.cp_errors = diagrams, matchings, cp
            self.seg_errors = seg
            ndim_sample = orig.ndim
        else:
            b = int(self.batch_axis) % orig.ndim
            self.sample = self._worst_sample(orig.shape[b], matchings, cp, opts)
            s = self.sample
            self.orig, self.recon = np.take(orig, s, axis=b), np.take(recon, s, axis=b)
            self.diagrams = {f: (d[0][s], d[1][s]) for f, d in diagrams.items()}
            self.matchings = {f: m[s] for f, m in matchings.items()}
            self.cp_errors = cp[s] if cp is not None else None
            self.seg_errors = seg[s] if seg is not None else None
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

    def by_filtration(self) -> dict[str, dict[int, tuple[Any, Any, Any]]]:
        """``{filtration: {dimension: (orig diagram, recon diagram, matching or None)}}``."""
        from ..compare.result import split_persistence_key

        out: dict[str, dict[int, tuple[Any, Any, Any]]] = {}
        for key, (d1, d2) in self.diagrams.items():
            filt, dim = split_persistence_key(key)
            out.setdefault(filt, {})[dim] = (d1, d2, self.matchings.get(key))
        return out

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
        "segmentation": "Morse segmentation",
        "pairs": "Persistence pairs (kept by their cells)",
    }
    opts = comparison.options
    for part in ("pointwise", "dsl", "persistence", "critical_points", "segmentation", "pairs"):
        val = getattr(comparison, part, None)
        if val is None:
            continue
        if part == "persistence":
            from ..compare.result import split_persistence_key

            several = tuple(opts.get("dims", (0,))) != (0,)
            for key, vals in val.items():
                filt, dim = split_persistence_key(key)
                title = (
                    f"Persistence, {filt}{f' H{dim}' if several else ''} (Wasserstein order "
                    f"{_fmt(opts.get('order'))}, internal_p {_fmt(opts.get('internal_p'))})"
                )
                sections.append((title, list(vals.items())))
        else:
            sections.append((names[part], list(val.items())))
    return sections


def _dimensions_table(comparison: Any) -> str:
    """Several homology dimensions: their distances side by side, one row per (filtration, H_k)."""
    from ..compare.result import split_persistence_key

    pers = getattr(comparison, "persistence", None)
    if not pers or tuple(comparison.options.get("dims", (0,))) == (0,):
        return ""
    cols = ["wasserstein", "bottleneck", "n_points_orig", "n_points_recon"]
    rows = []
    for key, vals in pers.items():
        filt, dim = split_persistence_key(key)
        rows.append([filt, f"H{dim}", *(vals.get(c) for c in cols)])
    return _table(["filtration", "dimension", *cols], rows,
                  caption=f"Per homology dimension (Wasserstein order {_fmt(comparison.options.get('order'))})")


def _metrics_table(comparison: Any) -> str:
    """One table per part, side by side (with several dimensions their distances first)."""
    by_dim = _dimensions_table(comparison)
    out = ([by_dim] if by_dim else []) + ['<div class="grid">']
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


def _fields_section(view: _View, h: str) -> list[str]:
    plotting = _plotting()
    x, y = view.orig, view.recon
    cap = (
        "Original and reconstruction share one colour scale; the difference has its own, symmetric "
        "about 0."
        + (
            " 3-D arrays: the slice with the largest total absolute difference."
            if x.ndim == 3
            else ""
        )
    )
    return [
        f"<{h}>Fields{_esc(view.label)}</{h}>",
        _picture(
            lambda: plotting.plot_fields(x, y), "original, reconstruction and difference", cap
        ),
    ]


def _diagrams_section(view: _View, h: str) -> list[str]:
    if not view.diagrams:
        return []
    out = [f"<{h}>Persistence diagrams and matchings</{h}>"]
    for filt, by_dim in view.by_filtration().items():
        if len(by_dim) == 1:
            ((dim, (d1, d2, m)),) = by_dim.items()
            out.append(_one_dimension_picture(filt, dim, d1, d2, m))
        else:
            out.append(_dimensions_picture(filt, by_dim))
    return out


_MATCHING_CAPTION = (
    "the optimal Wasserstein matching; points matched to the diagonal are joined to their "
    "projection, the costliest pairs are red with their cost."
)


def _one_dimension_picture(filt: str, dim: int, d1: Any, d2: Any, m: Any) -> str:
    plotting = _plotting()

    def build():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9.4, 4.6), layout="constrained")
        a0, a1 = fig.subplots(1, 2)
        what = filt if dim == 0 else f"{filt} H{dim}"
        plotting.plot_diagram([d1, d2], a0, labels=["original", "reconstruction"], title=f"{what} diagrams")
        if m is not None:
            plotting.plot_matching(d1, d2, m, a1, title=f"{what} Wasserstein matching")
        else:
            a1.set_axis_off()
        return fig

    cap = (f"{dim}-D {filt} persistence diagrams (never-dying classes on the dashed \u221e line) and "
           + _MATCHING_CAPTION)
    return _picture(build, f"{filt} persistence diagrams and matching", cap)


def _dimensions_picture(filt: str, by_dim: Mapping[int, tuple[Any, Any, Any]]) -> str:
    """Every homology dimension of one filtration, coloured by dimension: the original's diagrams,
    the reconstruction's, and the matchings of all of them in one panel."""
    plotting = _plotting()
    dims = sorted(by_dim)
    orig = {k: by_dim[k][0] for k in dims}
    recon = {k: by_dim[k][1] for k in dims}
    matchings = {k: by_dim[k][2] for k in dims}

    def build():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(13.6, 4.6), layout="constrained")
        a0, a1, a2 = fig.subplots(1, 3)
        plotting.plot_diagram(orig, a0, title=f"{filt} diagrams of the original")
        plotting.plot_diagram(recon, a1, title=f"{filt} diagrams of the reconstruction")
        if all(m is not None for m in matchings.values()):
            plotting.plot_matching(orig, recon, matchings, a2, title=f"{filt} Wasserstein matchings")
        else:
            a2.set_axis_off()
        return fig

    names = ", ".join(f"H{k}" for k in dims)
    cap = (f"{filt.capitalize()} persistence diagrams of homology dimensions {names}, one colour per "
           "dimension (never-dying classes on the dashed \u221e line), and per dimension "
           + _MATCHING_CAPTION)
    return _picture(build, f"{filt} persistence diagrams of dimensions {names} and matchings", cap)


def _dsl_section(view: _View, h: str) -> list[str]:
    plotting = _plotting()
    if not (view.has_dsl and view.axes):
        return []
    x, y = view.orig, view.recon
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
    out = [
        f"<{h}>Directional sign mismatches</{h}>",
        _picture(
            lambda: plotting.plot_mismatch(x, y, axis=tuple(view.axes), nan_policy=nan_policy),
            "sign mismatch map",
            cap,
        ),
    ]
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
    return out


def _segmentation_section(view: _View, h: str) -> list[str]:
    plotting = _plotting()
    if view.seg_errors is None:
        return []
    x, y = view.orig, view.recon
    err = view.seg_errors
    cap = (
        f"{err.false_labels} of {err.n_cells} cells ({100 * err.false_label_ratio:.3g} %) reach "
        "another maximum by steepest ascent (blue), another minimum by steepest descent (orange) "
        "or both (vermilion) in the reconstruction than in the original, drawn over the original "
        f"in grey; {err.false_maxima} false maxima, {err.false_minima} false minima."
        + (
            " 3-D arrays: along each axis the slice with the most mislabeled cells."
            if x.ndim == 3
            else ""
        )
    )
    return [
        f"<{h}>Morse segmentation</{h}>",
        _picture(lambda: plotting.plot_segmentation(x, y, errors=err), "mislabeled cells", cap),
    ]


def _critical_points_section(view: _View, h: str) -> list[str]:
    plotting = _plotting()
    if view.cp_errors is None:
        return []
    x, y = view.orig, view.recon
    cap = (
        "False negatives (critical in the original, regular in the reconstruction), false "
        "positives (added) and false types (retyped) over the original field"
        + ("; 3-D arrays: the slice along axis 0 with the most errors." if x.ndim == 3 else ".")
    )
    return [
        f"<{h}>Critical points</{h}>",
        _picture(
            lambda: plotting.plot_critical_points(x, y, errors=view.cp_errors),
            "critical-point errors",
            cap,
        ),
    ]


def _comparison_pictures(view: _View, *, heading: str = "h2") -> list[str]:
    """The pictures of one comparison, as HTML snippets, one section per part."""
    sections = (
        _fields_section,
        _diagrams_section,
        _dsl_section,
        _segmentation_section,
        _critical_points_section,
    )
    return [snippet for section in sections for snippet in section(view, heading)]


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
        (
            f'<p class="meta">shape <code>{_esc(tuple(comparison.shape))}</code>, original '
            f"<code>{_esc(dtypes.get('orig', x.dtype))}</code>, reconstruction "
            f"<code>{_esc(dtypes.get('recon', y.dtype))}</code>; computed by topoeval "
            f"{_esc(getattr(comparison, 'version', '') or _version())}.</p>"
        ),
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
    return _write_page(path, "topoeval comparison report", body, force)


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
    def prepare():
        _check_comparison(comparison)
        return _View(comparison, *_prepare_arrays(comparison, orig, recon))

    return _save_image(path, force, prepare, lambda view: _summary_figure(view, comparison))

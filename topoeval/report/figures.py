"""The figures of the reports: the summary of one comparison, the metric distributions of a
batch, the rate-distortion curves of a sweep (saved by :func:`topoeval.report.page._save_image`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..plotting.base import _COLORS, _HIGHLIGHT, _MARKERS
from .page import _fmt, _plotting

__all__: list[str] = []


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
    dims = [k for k in row if k.startswith("wasserstein_sublevel_dim")]  # dims=(0, 1, ...)
    at = next((i for i, p in enumerate(parts) if p.startswith("CP errors")), len(parts))
    parts[at:at] = [f"W sub H{k.rsplit('_dim', 1)[1]} {_fmt(row[k])}" for k in dims]
    return "   ".join(parts)


def _summary_figure(view: Any, comparison: Any, title: str | None = None):
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
        filt, by_dim = next(iter(view.by_filtration().items()))
        ((dim, (d1, d2, m)),) = list(by_dim.items())[:1]
        what = filt if dim == 0 else f"{filt} H{dim}"
        ax = cells[0].subplots()
        if len(by_dim) > 1 and all(v[2] is not None for v in by_dim.values()):  # coloured by dimension
            plotting.plot_matching({k: v[0] for k, v in by_dim.items()}, {k: v[1] for k, v in by_dim.items()},
                                   {k: v[2] for k, v in by_dim.items()}, ax, title=f"{filt} matchings")
        elif m is not None:
            plotting.plot_matching(d1, d2, m, ax, title=f"{what} matching")
        else:
            plotting.plot_diagram(
                [d1, d2], ax, labels=["original", "reconstruction"], title=f"{what} diagrams"
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


# ---------------------------------------------------------------------------- batches


def _finite(v: np.ndarray) -> np.ndarray:
    return v[np.isfinite(v)]


def _horizontal() -> dict[str, Any]:
    """``boxplot`` keyword for horizontal boxes (``vert`` is deprecated since matplotlib 3.10)."""
    import matplotlib

    major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def _boxes(ax, data: list[np.ndarray], labels: list[str]) -> None:
    """Horizontal box plots, one per reconstruction (top to bottom), every sample as a dot."""
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


def _distribution_figure(result: Any, metrics: Sequence[str]):
    """One panel per metric: its distribution over the ok samples of every reconstruction."""
    from matplotlib.figure import Figure

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
        data = [_finite(cols[m][(cols["recon"] == name) & ok]) for name in result.recons]
        _boxes(ax, data, list(result.recons))
        ax.set_title(m)
    for ax in axes[len(metrics) :]:
        ax.set_axis_off()
    fig.suptitle(f"distributions over samples ({result.n_ok} ok rows)", fontsize=10)
    return fig


# ---------------------------------------------------------------------------- sweeps


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


def _sweep_panel(ax, groups, key: str, label: str, logy: bool) -> None:
    """One metric against the bit rate, one line per group; bound violations circled."""
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


def _sweep_figure(
    rows: list[dict[str, Any]], panels: Sequence[tuple[str, str, bool]], title: str | None = None
):
    """The rate-distortion panels ``(column, axis label, log axis)`` of the rows, two per row."""
    from matplotlib.figure import Figure

    groups = _sweep_groups(rows)
    ncols = 2
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(10.0, 3.9 * nrows + (0.3 if title else 0.0)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (key, label, logy) in zip(axes, panels):
        _sweep_panel(ax, groups, key, label, logy)
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

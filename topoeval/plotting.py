"""Pictures of a comparison: persistence diagrams, matchings, mismatch maps, critical points, fields.

Every function here needs the optional extra ``plot`` (matplotlib); matplotlib is
imported inside the functions, so ``import topoeval`` never imports it.

Conventions
-----------
- Functions that draw one panel (:func:`plot_diagram`, :func:`plot_matching`,
  :func:`plot_critical_points`) take ``ax=None`` and return the
  :class:`matplotlib.axes.Axes` they drew into; functions that draw several
  panels (:func:`plot_fields`, :func:`plot_mismatch`) take ``fig=None`` and
  return the :class:`matplotlib.figure.Figure`.
- When no ``ax`` / ``fig`` is given, a new figure is made.  Inside a Jupyter /
  IPython kernel, or once the caller has imported :mod:`matplotlib.pyplot`, it is
  made with ``pyplot.figure`` so that it displays inline / with ``plt.show()`` as
  users expect; otherwise (scripts, servers) it is a bare
  :class:`matplotlib.figure.Figure` that touches no global pyplot state and never
  imports pyplot -- save it with ``ax.figure.savefig("out.png")``.  The report
  functions (:mod:`topoeval.report`) always use bare figures and the Agg renderer.
- Diagrams are drawn in the values in which topoeval stores them (see
  :class:`topoeval.persistence.Diagram`): a **sublevel** diagram has its points
  above the diagonal (death > birth) and its never-dying classes (death ``+inf``)
  on a dashed "+∞" line *above* the finite points, as gudhi and giotto-tda draw
  them; a **superlevel** diagram has its points below the diagonal (a maximum
  born at 10 that dies at a saddle of value 3 is drawn at (10, 3)) and its
  never-dying classes (death ``-inf``) on a dashed "−∞" line *below* the finite
  points.  Diagrams are not mirrored, so the axes read as data values in both
  conventions; the half-plane that cannot hold points is shaded.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ._validation import (
    as_diagram_array,
    as_real_array,
    check_choice,
    check_positive,
    check_same_shape,
    normalize_axis,
)
from .errors import InvalidInputError, InvalidOptionError, missing_dependency

__all__ = [
    "plot_diagram",
    "plot_matching",
    "plot_mismatch",
    "plot_critical_points",
    "plot_fields",
]

#: colours of successive diagrams (colour-blind-safe: blue, vermilion, green, purple, ...)
_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
#: markers of successive diagrams, so overlapping points stay distinguishable in grey print
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_HIGHLIGHT = "#C00000"
_INF_LINE = "0.35"

#: fixed rc settings of the reproducible report figures (see :func:`_style`)
_RC = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "legend.fontsize": 8.0,
    "legend.framealpha": 0.85,
    "image.interpolation": "nearest",
    "image.origin": "upper",
    "axes.grid": False,
    "svg.hashsalt": "topoeval",
}


# ---------------------------------------------------------------------------- helpers


def _require_matplotlib(what: str):
    try:
        import matplotlib
    except ImportError:
        raise missing_dependency("matplotlib", "plot", what) from None
    return matplotlib


#: True while report figures are drawn: new figures are bare (never pyplot-managed)
_BARE_FIGURES: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "topoeval_bare_figures", default=False
)


@contextlib.contextmanager
def _style():
    """Context manager with the fixed, reproducible style of the report figures.

    Starts from matplotlib's defaults (whatever the user's rcParams or style are)
    and applies :data:`_RC`, so that a figure drawn inside it renders the same
    pixels on every run and machine with the same matplotlib version.  Figures
    made inside it are bare :class:`~matplotlib.figure.Figure` objects, never
    registered with pyplot.
    """
    _require_matplotlib("topoeval's report figures")
    import matplotlib.style

    token = _BARE_FIGURES.set(True)
    try:
        with matplotlib.style.context(["default", _RC]):
            yield
    finally:
        _BARE_FIGURES.reset(token)


def _use_pyplot() -> bool:
    """Whether new figures should be pyplot-managed: in an IPython kernel or once pyplot is imported."""
    if _BARE_FIGURES.get():
        return False
    if "matplotlib.pyplot" in sys.modules:
        return True
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython install
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _figure_png(fig, *, dpi: float | None = None) -> bytes:
    """Render ``fig`` to PNG bytes with the Agg renderer, without timestamps or versions."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # Agg, whatever pyplot's backend is
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _new_figure(figsize: tuple[float, float]):
    if _use_pyplot():
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize, layout="constrained")
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _axes_or_new(ax: Any, figsize: tuple[float, float], name: str = "ax"):
    if ax is None:
        return _new_figure(figsize).add_subplot()
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise InvalidOptionError(
            f"{name} is a {type(ax).__name__}, not a matplotlib Axes; pass an Axes "
            "(e.g. fig.add_subplot() or plt.gca()) or None for a new figure"
        )
    return ax


def _figure_or_new(fig: Any, figsize: tuple[float, float]):
    if fig is None:
        return _new_figure(figsize)
    from matplotlib.figure import Figure, SubFigure

    if not isinstance(fig, (Figure, SubFigure)):
        raise InvalidOptionError(
            f"fig is a {type(fig).__name__}, not a matplotlib Figure; pass a Figure "
            "(e.g. plt.figure()) or None for a new one"
        )
    return fig


def _is_diagram_object(obj: Any) -> bool:
    return hasattr(obj, "births") and hasattr(obj, "deaths")


def _is_single_diagram(obj: Any) -> bool:
    """True when ``obj`` is one diagram, False when it is a sequence of diagrams."""
    if _is_diagram_object(obj):
        return True
    if isinstance(obj, np.ndarray):
        return obj.ndim != 3
    if isinstance(obj, (list, tuple)):
        if len(obj) == 0:
            return True
        first = obj[0]
        if _is_diagram_object(first) or (isinstance(first, np.ndarray) and first.ndim == 2):
            return False
        try:
            return np.asarray(obj, dtype=np.float64).ndim != 3
        except (TypeError, ValueError):  # ragged: several diagrams of different sizes
            return False
    return True


@dataclass(frozen=True)
class _Dgm:
    points: np.ndarray  # (n, 2) float64 [birth, death]
    label: str | None
    filtration: str  # "sublevel" | "superlevel"


def _infer_filtration(obj: Any, points: np.ndarray, filtration: str | None, name: str) -> str:
    if filtration is not None:
        return check_choice(filtration, "filtration", ("sublevel", "superlevel"))
    stored = getattr(obj, "filtration", None)
    if stored in ("sublevel", "superlevel"):
        return stored
    if points.shape[0] == 0:
        return "sublevel"
    below = points[:, 1] < points[:, 0]
    above = points[:, 1] > points[:, 0]
    if below.any() and above.any():
        raise InvalidInputError(
            f"{name} has points on both sides of the diagonal (death > birth and death < birth); "
            "a 0-D diagram is either sublevel (death >= birth) or superlevel (death <= birth) - "
            "check the input, or pass filtration= explicitly"
        )
    return "superlevel" if below.any() else "sublevel"


def _prepare_diagrams(dgm: Any, labels: Any, filtration: str | None) -> list[_Dgm]:
    if isinstance(dgm, dict):
        items = [(str(k), v) for k, v in dgm.items()]
    elif _is_single_diagram(dgm):
        items = [(None, dgm)]
    else:
        items = [(None, d) for d in dgm]
    if not items:
        raise InvalidInputError(
            "no diagram given; pass a Diagram, an (n, 2) array or a list of them"
        )
    if labels is not None:
        if isinstance(labels, str):
            labels = [labels]
        labels = [str(x) for x in labels]
        if len(labels) != len(items):
            raise InvalidOptionError(
                f"labels has {len(labels)} entries but {len(items)} diagram(s) were given; "
                "pass one label per diagram"
            )
        items = [(lab, d) for lab, (_, d) in zip(labels, items)]
    out = []
    for k, (label, obj) in enumerate(items):
        name = "diagram" if len(items) == 1 else f"diagram {k}"
        points = as_diagram_array(obj, name)
        filt = _infer_filtration(obj, points, filtration, name)
        bad = (points[:, 1] < points[:, 0]) if filt == "sublevel" else (points[:, 1] > points[:, 0])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(
                f"{name} is {filt} but row {i} = {points[i].tolist()} has death "
                f"{'below' if filt == 'sublevel' else 'above'} birth; superlevel diagrams store "
                "(birth, death) with death <= birth, sublevel ones death >= birth"
            )
        out.append(_Dgm(points, label, filt))
    return out


@dataclass(frozen=True)
class _Frame:
    """Geometry shared by the diagrams drawn in one Axes."""

    low: float  # axis limits (both axes)
    high: float
    y_pos_inf: float | None  # where death = +inf is drawn (None: no such point)
    y_neg_inf: float | None

    def display(self, points: np.ndarray) -> np.ndarray:
        """(n, 2) points with +-inf deaths moved onto their dashed lines."""
        pts = np.array(points, dtype=np.float64, copy=True)
        if self.y_pos_inf is not None:
            pts[np.isposinf(pts[:, 1]), 1] = self.y_pos_inf
        if self.y_neg_inf is not None:
            pts[np.isneginf(pts[:, 1]), 1] = self.y_neg_inf
        return pts


def _frame(dgms: Sequence[_Dgm]) -> _Frame:
    pts = np.concatenate([d.points for d in dgms]) if dgms else np.empty((0, 2))
    finite = np.concatenate([pts[:, 0], pts[np.isfinite(pts[:, 1]), 1]])
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
    else:
        lo, hi = 0.0, 1.0
    span = hi - lo
    if span <= 0:
        span = max(abs(hi), 1.0)
        lo, hi = lo - 0.5 * span, hi + 0.5 * span
        span = hi - lo
    y_pos = hi + 0.12 * span if np.isposinf(pts[:, 1]).any() else None
    y_neg = lo - 0.12 * span if np.isneginf(pts[:, 1]).any() else None
    pad = 0.06 * span
    low = (y_neg if y_neg is not None else lo) - pad
    high = (y_pos if y_pos is not None else hi) + pad
    return _Frame(low, high, y_pos, y_neg)


def _format_tick(t: float) -> str:
    s = f"{t:.6g}"
    return "0" if s in ("-0", "0") else s.replace("-", "\u2212")


def _draw_frame(ax, frame: _Frame, dgms: Sequence[_Dgm]) -> None:
    """Diagonal, shaded impossible half-plane, dashed infinity lines with their tick labels."""
    from matplotlib.ticker import MaxNLocator

    lo, hi = frame.low, frame.high
    ax.plot([lo, hi], [lo, hi], color="0.25", lw=0.9, zorder=1)
    kinds = {d.filtration for d in dgms}
    if kinds == {"sublevel"}:
        ax.fill_between([lo, hi], [lo, lo], [lo, hi], color="0.92", lw=0, zorder=0)
    elif kinds == {"superlevel"}:
        ax.fill_between([lo, hi], [lo, hi], [hi, hi], color="0.92", lw=0, zorder=0)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    fin_lo = frame.y_neg_inf if frame.y_neg_inf is not None else lo
    fin_hi = frame.y_pos_inf if frame.y_pos_inf is not None else hi
    margin = 0.05 * (hi - lo)
    ticks = [
        float(t)
        for t in MaxNLocator(nbins=6).tick_values(lo, hi)
        if lo <= t <= hi
        and (frame.y_pos_inf is None or t < fin_hi - margin)
        and (frame.y_neg_inf is None or t > fin_lo + margin)
    ]
    labels = [_format_tick(t) for t in ticks]
    for y, text in ((frame.y_pos_inf, "+\u221e"), (frame.y_neg_inf, "\u2212\u221e")):
        if y is not None:
            ax.axhline(y, color=_INF_LINE, lw=0.9, ls="--", zorder=1)
            ticks.append(y)
            labels.append(text)
    ax.set_yticks(ticks, labels)
    ax.set_xticks(
        [t for t in ticks if t not in (frame.y_pos_inf, frame.y_neg_inf)],
        [lab for t, lab in zip(ticks, labels) if t not in (frame.y_pos_inf, frame.y_neg_inf)],
    )
    ax.set_xlabel("birth")
    ax.set_ylabel("death")


def _draw_points(ax, frame: _Frame, dgms: Sequence[_Dgm], colors, markers, size, alpha) -> None:
    for k, d in enumerate(dgms):
        pts = frame.display(d.points)
        n_inf = int(np.isinf(d.points[:, 1]).sum())
        label = d.label
        if label is not None:
            label = f"{label} ({d.points.shape[0]} pts" + (f", {n_inf} \u221e)" if n_inf else ")")
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=size,
            color=colors[k % len(colors)],
            marker=markers[k % len(markers)],
            alpha=alpha,
            edgecolors="none",
            label=label,
            zorder=3 + k,
        )


def _check_alpha(alpha: Any) -> float:
    a = check_positive(alpha, "alpha")
    if a > 1:
        raise InvalidOptionError(f"alpha={alpha!r} is not valid; pass a number in (0, 1]")
    return a


# ---------------------------------------------------------------------------- diagrams


def plot_diagram(
    dgm: Any,
    ax: Any = None,
    *,
    labels: Any = None,
    filtration: str | None = None,
    colors: Sequence[Any] | None = None,
    size: float = 16.0,
    alpha: float = 0.8,
    legend: bool | None = None,
    title: str | None = None,
):
    """Draw one or several persistence diagrams.

    Parameters
    ----------
    dgm : Diagram, array_like (n, 2), or a list / dict of them
        One diagram, or several drawn in one Axes with one colour and marker each
        (a dict maps label -> diagram; a tuple such as ``comparison.diagrams["sublevel"]``
        draws both of its diagrams).  Rows are ``[birth, death]``; deaths may be
        ``+inf`` (sublevel) or ``-inf`` (superlevel) for classes that never die.  A
        nested list of ``[birth, death]`` pairs is one diagram; a 3-D array or a list
        of 2-D arrays / lists of pairs are several.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new Figure (not registered with pyplot) when None.
    labels : str or sequence of str, optional
        One label per diagram for the legend (the point counts are appended).
    filtration : {"sublevel", "superlevel"}, optional
        Convention of array inputs; by default a :class:`~topoeval.persistence.Diagram`'s
        own ``filtration`` and, for arrays, superlevel when some death lies below its
        birth.  See the module docstring for how each convention is drawn.
    colors : sequence of colours, optional
        Colour of each diagram (default: a colour-blind-safe palette).
    size, alpha : float
        Marker area (points²) and opacity.
    legend : bool, optional
        Draw a legend; by default when labels are given or several diagrams are drawn.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn into (``ax.figure`` is its Figure).

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> d1 = np.array([[0.0, np.inf], [1.0, 3.0]])      # e.g. np.asarray(te.persistence_diagram(a))
    >>> d2 = np.array([[0.0, np.inf], [0.7, 3.2], [1.5, 1.6]])
    >>> ax = te.plot_diagram([d1, d2], labels=["original", "reconstruction"])
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['original (2 pts, 1 ∞)', 'reconstruction (3 pts, 1 ∞)']
    >>> ax.get_yticklabels()[-1].get_text()
    '+∞'
    """
    _require_matplotlib("plot_diagram")
    dgms = _prepare_diagrams(dgm, labels, filtration)
    if len(dgms) > 1 and labels is None:
        dgms = [_Dgm(d.points, d.label or f"diagram {k}", d.filtration) for k, d in enumerate(dgms)]
    size = check_positive(size, "size")
    alpha = _check_alpha(alpha)
    ax = _axes_or_new(ax, (4.2, 4.2))
    frame = _frame(dgms)
    _draw_frame(ax, frame, dgms)
    _draw_points(ax, frame, dgms, tuple(colors) if colors else _COLORS, _MARKERS, size, alpha)
    if legend is None:
        legend = any(d.label is not None for d in dgms)
    if legend:
        ax.legend(loc="lower right" if dgms[0].filtration == "sublevel" else "upper left")
    if title is not None:
        ax.set_title(title)
    return ax


def _check_matching(matching: Any, n1: int, n2: int) -> np.ndarray:
    try:
        m = np.asarray(matching, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(
            "matching is not a numeric (k, 3) array [i, j, cost]; pass the matching returned by "
            "wasserstein_distance(..., matching=True)"
        ) from None
    if m.size == 0:
        return np.empty((0, 3))
    if m.ndim != 2 or m.shape[1] != 3:
        raise InvalidInputError(
            f"matching has shape {m.shape}; a matching is a (k, 3) array of rows [i, j, cost] "
            "with -1 for the diagonal"
        )
    idx = m[:, :2]
    if not np.isfinite(idx).all() or (idx != np.round(idx)).any():
        raise InvalidInputError("matching has non-integer indices in its first two columns [i, j]")
    i, j = idx[:, 0].astype(np.int64), idx[:, 1].astype(np.int64)
    for col, n, name in ((i, n1, "dgm1"), (j, n2, "dgm2")):
        bad = (col < -1) | (col >= n)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(
                f"matching row {r} refers to point {int(col[r])} of {name}, which has {n} points; "
                "was the matching computed for these diagrams?"
            )
    both = (i == -1) & (j == -1)
    if both.any():
        raise InvalidInputError(
            f"matching row {int(np.flatnonzero(both)[0])} matches the diagonal to itself"
        )
    if np.isnan(m[:, 2]).any():
        raise InvalidInputError("matching has a NaN cost")
    return m


def plot_matching(
    dgm1: Any,
    dgm2: Any,
    matching: Any = None,
    ax: Any = None,
    *,
    labels: Sequence[str] = ("original", "reconstruction"),
    highlight: int = 3,
    filtration: str | None = None,
    size: float = 16.0,
    title: str | None = None,
):
    """Draw two persistence diagrams and an optimal matching between them.

    Matched pairs are segments; a point matched to the diagonal is joined to its
    orthogonal projection ``((b + d) / 2, (b + d) / 2)`` (its nearest diagonal point
    for every ``internal_p``); never-dying classes are matched along their dashed
    "∞" line.  The ``highlight`` costliest pairs are drawn thick and red with their
    cost written next to them.

    Parameters
    ----------
    dgm1, dgm2 : Diagram or array_like (n, 2)
        The two diagrams (e.g. of the original and of the reconstruction).
    matching : array_like (k, 3), optional
        Rows ``[i, j, cost]``: point ``i`` of ``dgm1`` matched with point ``j`` of
        ``dgm2``, ``-1`` meaning the diagonal (the convention of
        ``wasserstein_distance(..., matching=True)`` and ``bottleneck_distance``).
        When None, the order-1 Wasserstein matching is computed with
        :func:`topoeval.wasserstein_distance`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new Figure when None.
    labels : (str, str)
        Legend labels of the two diagrams.
    highlight : int
        How many of the costliest pairs to highlight (0: none).
    filtration : {"sublevel", "superlevel"}, optional
        Convention of array inputs (see :func:`plot_diagram`).
    size : float
        Marker area.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> d1 = np.array([[0.0, np.inf], [1.0, 3.0], [2.0, 2.5]])
    >>> d2 = np.array([[0.1, np.inf], [1.2, 2.7]])
    >>> m = np.array([[0, 0, 0.1], [1, 1, 0.3], [2, -1, 0.25]])
    >>> ax = te.plot_matching(d1, d2, m, highlight=1)
    >>> [t.get_text() for t in ax.texts]
    ['0.3']
    """
    _require_matplotlib("plot_matching")
    if isinstance(labels, str) or len(labels) != 2:
        raise InvalidOptionError(
            f"labels={labels!r} is not valid; pass two labels, e.g. ('original', 'reconstruction')"
        )
    if (
        isinstance(highlight, (bool, np.bool_))
        or not isinstance(highlight, (int, np.integer))
        or highlight < 0
    ):
        raise InvalidOptionError(
            f"highlight={highlight!r} is not valid; pass a non-negative integer"
        )
    size = check_positive(size, "size")
    d1 = _prepare_diagrams(dgm1, None, filtration)[0]
    d2 = _prepare_diagrams(dgm2, None, filtration)[0]
    d1 = _Dgm(d1.points, str(labels[0]), d1.filtration)
    d2 = _Dgm(d2.points, str(labels[1]), d2.filtration)
    if matching is None:
        from .distances import wasserstein_distance

        _, matching = wasserstein_distance(dgm1, dgm2, matching=True)
    m = _check_matching(matching, d1.points.shape[0], d2.points.shape[0])

    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    ax = _axes_or_new(ax, (4.6, 4.6))
    frame = _frame([d1, d2])
    _draw_frame(ax, frame, [d1, d2])
    p1, p2 = frame.display(d1.points), frame.display(d2.points)

    segments = np.empty((m.shape[0], 2, 2))
    to_diag = np.zeros(m.shape[0], dtype=bool)
    for r, (i, j) in enumerate(m[:, :2].astype(np.int64)):
        a = p1[i] if i >= 0 else p2[j]
        raw = d1.points[i] if i >= 0 else d2.points[j]
        if i >= 0 and j >= 0:
            b = p2[j]
        else:
            to_diag[r] = True
            mid = 0.5 * (raw[0] + raw[1]) if np.isfinite(raw[1]) else raw[0]
            b = np.array([mid, mid])
        segments[r] = (a, b)
    cost = m[:, 2]
    order = np.argsort(-np.where(np.isinf(cost), np.finfo(float).max, cost), kind="stable")
    top = [int(r) for r in order[:highlight] if cost[r] > 0]
    rest = np.setdiff1d(np.arange(m.shape[0]), top)
    handles = []
    for mask, style, text in (
        (~to_diag[rest], dict(color="0.45", lw=0.8, ls="-"), "matched pair"),
        (to_diag[rest], dict(color="0.45", lw=0.8, ls=":"), "matched to diagonal"),
    ):
        if mask.any():
            ax.add_collection(LineCollection(segments[rest[mask]], zorder=2, **style))
            handles.append(Line2D([], [], label=text, **style))
    if top:
        ax.add_collection(LineCollection(segments[top], color=_HIGHLIGHT, lw=2.0, zorder=2.5))
        handles.append(Line2D([], [], color=_HIGHLIGHT, lw=2.0, label=f"{len(top)} costliest"))
        for r in top:
            (x0, y0), (x1, y1) = segments[r]
            ax.annotate(
                f"{float(cost[r]):.3g}" if np.isfinite(cost[r]) else "\u221e",
                xy=(0.5 * (x0 + x1), 0.5 * (y0 + y1)),
                xytext=(3, 3),
                textcoords="offset points",
                color=_HIGHLIGHT,
                fontsize=7,
                zorder=6,
            )
    proj = segments[to_diag, 1]
    if proj.size:
        ax.scatter(
            proj[:, 0], proj[:, 1], s=size * 0.5, marker="x", color="0.3", lw=0.8, zorder=2.6
        )
    _draw_points(ax, frame, [d1, d2], _COLORS, _MARKERS, size, 0.85)
    point_handles, _ = ax.get_legend_handles_labels()
    ax.legend(
        handles=point_handles + handles,
        loc="lower right" if d1.filtration == "sublevel" else "upper left",
    )
    if title is not None:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------- fields


def _prepare_pair(orig: Any, recon: Any) -> tuple[np.ndarray, np.ndarray]:
    x = as_real_array(orig, "orig")
    y = as_real_array(recon, "recon")
    check_same_shape(x, y)
    if x.ndim > 3:
        raise InvalidInputError(
            f"orig and recon are {x.ndim}-dimensional (shape {x.shape}); pictures are drawn for "
            "1-D, 2-D and 3-D arrays - pass a sub-array, e.g. orig[0] and recon[0]"
        )
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _slice_index(
    axis: Any, index: Any, shape: tuple[int, ...], score: np.ndarray | None
) -> tuple[int, int]:
    """(axis, index) of the 2-D slice of a 3-D array; index defaults to argmax of ``score``."""
    axis = normalize_axis(axis, len(shape))
    n = shape[axis]
    if index is None:
        if score is None:
            return axis, n // 2
        return axis, int(np.argmax(score))
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
        raise InvalidOptionError(f"index={index!r} is not an integer slice index")
    if not -n <= index < n:
        raise InvalidOptionError(
            f"index={index} is out of range for axis {axis} of length {n}; use [{-n}, {n - 1}]"
        )
    return axis, int(index) % n


def _take(a: np.ndarray, axis: int, index: int) -> np.ndarray:
    return np.take(a, index, axis=axis)


def _slice_label(axis: int, index: int, ndim: int) -> str:
    parts = [":"] * ndim
    parts[axis] = str(index)
    return "[" + ", ".join(parts) + "]"


def _aspect(shape: tuple[int, ...]) -> str:
    """Square pixels, unless one side of the image is more than 4 times the other."""
    return "auto" if max(shape) > 4 * min(shape) else "equal"


def _finite_range(*arrays: np.ndarray) -> tuple[float, float]:
    vals = [a[np.isfinite(a)] for a in arrays]
    vals = [v for v in vals if v.size]
    if not vals:
        return 0.0, 1.0
    lo = min(float(v.min()) for v in vals)
    hi = max(float(v.max()) for v in vals)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def plot_fields(
    orig: Any,
    recon: Any,
    fig: Any = None,
    *,
    axis: int = 0,
    index: int | None = None,
    cmap: str = "viridis",
    diff_cmap: str = "RdBu_r",
    titles: Sequence[str] = ("original", "reconstruction", "reconstruction \u2212 original"),
):
    """Draw the original, the reconstruction and their difference.

    The original and the reconstruction share one colour scale (the range of both);
    the difference ``recon - orig`` has its own scale, symmetric about 0.  1-D arrays
    are drawn as curves (both fields in one panel, the difference below); 2-D
    arrays as images (row 0 at the top, as ``imshow`` draws arrays); of a 3-D array
    one 2-D slice is drawn.

    Parameters
    ----------
    orig, recon : array_like, 1-D to 3-D, same shape
        The original and its reconstruction.  NaNs are left blank.
    fig : matplotlib.figure.Figure or SubFigure, optional
        Where to draw; a new Figure when None.
    axis, index : int
        For 3-D arrays, the slice ``np.take(a, index, axis)``; by default ``index``
        is the slice with the largest total absolute difference.
    cmap, diff_cmap : str
        Colour maps of the fields and of the difference.
    titles : (str, str, str)
        Panel titles.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> a = np.add.outer(np.sin(np.linspace(0, 3, 20)), np.cos(np.linspace(0, 3, 30)))
    >>> fig = te.plot_fields(a, a + 0.01)
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['original', 'reconstruction', 'reconstruction − original']
    """
    _require_matplotlib("plot_fields")
    x, y = _prepare_pair(orig, recon)
    if isinstance(titles, str) or len(titles) != 3:
        raise InvalidOptionError(
            "titles must be three strings (original, reconstruction, difference)"
        )
    diff = y - x
    suffix = ""
    if x.ndim == 3:
        axis_n = normalize_axis(axis, 3)
        score = np.nansum(np.abs(diff), axis=tuple(k for k in range(3) if k != axis_n))
        axis, index = _slice_index(axis_n, index, x.shape, score)
        x, y, diff = _take(x, axis, index), _take(y, axis, index), _take(diff, axis, index)
        suffix = " " + _slice_label(axis, index, 3)
    lo, hi = _finite_range(x, y)
    dmax = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 0.0
    dmax = dmax if dmax > 0 else 1.0
    if x.ndim == 1:
        fig = _figure_or_new(fig, (7.0, 4.0))
        ax0, ax1 = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
        t = np.arange(x.size)
        ax0.plot(t, x, color=_COLORS[0], lw=1.2, label=titles[0])
        ax0.plot(t, y, color=_COLORS[1], lw=1.0, ls="--", label=titles[1])
        ax0.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
        ax0.legend(loc="best")
        ax0.set_title(f"{titles[0]} and {titles[1]}")
        ax1.plot(t, diff, color="0.2", lw=0.9)
        ax1.axhline(0.0, color="0.6", lw=0.6)
        ax1.set_ylim(-1.05 * dmax, 1.05 * dmax)
        ax1.set_title(titles[2])
        ax1.set_xlabel("index")
        return fig
    fig = _figure_or_new(fig, (10.5, 3.4))
    axes = fig.subplots(1, 3)
    aspect = _aspect(x.shape)
    for ax, data, title in zip(axes[:2], (x, y), titles[:2]):
        im = ax.imshow(data, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest", aspect=aspect)
        ax.set_title(title + suffix)
    fig.colorbar(im, ax=list(axes[:2]), shrink=0.85)
    im = axes[2].imshow(
        diff, cmap=diff_cmap, vmin=-dmax, vmax=dmax, interpolation="nearest", aspect=aspect
    )
    axes[2].set_title(titles[2] + suffix)
    fig.colorbar(im, ax=axes[2], shrink=0.85)
    return fig


# ---------------------------------------------------------------------------- mismatch map


def _mismatch_axes(axis: Any, ndim: int) -> list[int]:
    if axis is None:
        return list(range(ndim))
    if isinstance(axis, (list, tuple)):
        sel = [normalize_axis(a, ndim, "axis") for a in axis]
        if not sel or len(set(sel)) != len(sel):
            raise InvalidOptionError(f"axis={axis!r} is not valid; pass distinct axis indices")
        return sel
    return [normalize_axis(axis, ndim, "axis")]


def _slices_3d(slices: Any, score_of, shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """[(slice axis, index)] for a 3-D array; ``None`` index = argmax of score_of(axis)."""
    if slices is None:
        slices = {0: None, 1: None, 2: None}
    elif not isinstance(slices, dict):
        raise InvalidOptionError(
            f"slices={slices!r} is not valid; pass a dict {{axis: index or None}}, e.g. {{0: 3}} "
            "(None: the slice with the most mismatches)"
        )
    out = []
    for ax, idx in slices.items():
        ax = normalize_axis(ax, 3, "slices axis")
        out.append(_slice_index(ax, idx, shape, score_of(ax) if idx is None else None))
    if not out:
        raise InvalidOptionError("slices is empty; pass at least one {axis: index}")
    return out


def plot_mismatch(
    orig: Any,
    recon: Any,
    fig: Any = None,
    *,
    mode: str = "sum",
    axis: Any = None,
    slices: dict | None = None,
    nan_policy: str = "raise",
    cmap: str = "autumn_r",
    background_cmap: str = "gray",
):
    """Draw where the directions of change of ``recon`` disagree with those of ``orig``.

    The exact-DSL mismatch map (:func:`topoeval.mismatch_map`): the mismatch of the
    difference between cell ``k`` and its successor ``k + e_i`` along axis ``i``
    (1 for opposite directions, 1/2 for a flat step against a rising or falling one)
    is drawn at cell ``k``, in colour over the original field in grey; cells without
    mismatch are transparent.  The panel titles give the sum of the drawn values
    (the exact-DSL count of the panel).

    Parameters
    ----------
    orig, recon : array_like, 1-D to 3-D, same shape, finite
        The original and its reconstruction.
    fig : matplotlib.figure.Figure or SubFigure, optional
        Where to draw; a new Figure when None.
    mode : {"sum", "per-axis"}
        ``"sum"``: one map, the sum over the selected axes (values 0 ... number of
        axes); ``"per-axis"``: one panel per axis (values 0, 1/2, 1).
    axis : int or sequence of int, optional
        The axes whose differences are compared (default all; leave a batch or
        time axis out to compare only within its slices).
    slices : dict {axis: index or None}, optional
        For 3-D arrays, which 2-D slices ``np.take(a, index, axis)`` to draw, one
        row of panels each.  Default: one slice along every axis, each the slice
        holding the most mismatches (``None`` picks that slice for the given axis).
    nan_policy : {"raise", "omit"}
        Non-finite cells: raise :class:`~topoeval.errors.NonFiniteError`, or leave
        every difference that touches one out of the map (as ``compare(...,
        nan_policy="omit")`` does); they are blank in the background.
    cmap, background_cmap : str
        Colour map of the mismatches and of the original field.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> y, x = np.mgrid[0:16, 0:16] / 4.0
    >>> a = np.sin(x) * np.cos(y)
    >>> fig = te.plot_mismatch(a, np.round(a * 3) / 3, mode="per-axis")
    >>> [ax.get_title().split(":")[0] for ax in fig.axes if ax.get_images()]
    ['axis 0', 'axis 1']
    """
    _require_matplotlib("plot_mismatch")
    from .dsl import mismatch_map

    mode = check_choice(mode, "mode", ("sum", "per-axis"))
    nan_policy = check_choice(nan_policy, "nan_policy", ("raise", "omit"))
    x, y = _prepare_pair(orig, recon)
    sel = _mismatch_axes(axis, x.ndim)
    bad = None
    if nan_policy == "omit":
        bad = ~(np.isfinite(x) & np.isfinite(y))
        if not bad.any():
            bad = None
    if bad is None:
        maps = np.asarray(mismatch_map(y, x, axis=tuple(sel)))  # (len(sel), *shape)
    else:
        maps = np.array(mismatch_map(np.where(bad, 0.0, y), np.where(bad, 0.0, x), axis=tuple(sel)))
        for m, ax_ in zip(maps, sel):  # drop the differences that touch a non-finite cell
            touch = bad.copy()
            src = [slice(None)] * x.ndim
            dst = [slice(None)] * x.ndim
            src[ax_], dst[ax_] = slice(1, None), slice(None, -1)
            touch[tuple(dst)] |= bad[tuple(src)]
            m[touch] = 0.0
    if mode == "sum":
        layers = [maps.sum(axis=0)]
        names = ["axes " + ", ".join(map(str, sel)) if len(sel) > 1 else f"axis {sel[0]}"]
        vmax = float(len(sel))
    else:
        layers = list(maps)
        names = [f"axis {a}" for a in sel]
        vmax = 1.0

    from matplotlib.colors import Normalize

    norm = Normalize(0.0, vmax)
    if x.ndim == 1:
        fig = _figure_or_new(fig, (7.0, 3.2))
        ax = fig.subplots()
        t = np.arange(x.size)
        ax.plot(t, x, color="0.35", lw=1.0, label="original")
        ax.plot(t, y, color=_COLORS[0], lw=0.8, ls="--", label="reconstruction")
        layer = layers[0]
        k = np.flatnonzero(layer[:-1] > 0)
        sc = ax.scatter(
            k + 0.5,
            0.5 * (x[k] + x[k + 1]),
            c=layer[k],
            cmap=cmap,
            norm=norm,
            s=14,
            zorder=3,
            label="mismatch",
        )
        ax.set_title(f"sign mismatches: {_format_tick(float(layer.sum()))}")
        ax.set_xlabel("index")
        ax.legend(loc="best")
        fig.colorbar(sc, ax=ax, label="mismatch")
        return fig

    if x.ndim == 2:
        panels = [[(x, layer, name, "") for layer, name in zip(layers, names)]]
    else:
        total = maps.sum(axis=0)

        def score_of(ax_):
            return total.sum(axis=tuple(k for k in range(3) if k != ax_))

        panels = []
        for ax_, idx in _slices_3d(slices, score_of, x.shape):
            label = " " + _slice_label(ax_, idx, 3)
            panels.append(
                [
                    (_take(x, ax_, idx), _take(layer, ax_, idx), name, label)
                    for layer, name in zip(layers, names)
                ]
            )
    if len(panels[0]) == 1:  # one layer: the slices side by side
        panels = [[row[0] for row in panels]]
    nrows, ncols = len(panels), len(panels[0])
    fig = _figure_or_new(fig, (3.4 * ncols + 0.8, 3.0 * nrows))
    axes = np.atleast_2d(fig.subplots(nrows, ncols, squeeze=False))
    lo, hi = _finite_range(x)
    im = None
    for r, row in enumerate(panels):
        for c, (bg, layer, name, label) in enumerate(row):
            ax = axes[r, c]
            aspect = _aspect(bg.shape)
            ax.imshow(
                bg, cmap=background_cmap, vmin=lo, vmax=hi, interpolation="nearest", aspect=aspect
            )
            im = ax.imshow(
                np.ma.masked_equal(layer, 0.0),
                cmap=cmap,
                norm=norm,
                interpolation="nearest",
                alpha=0.9,
                aspect=aspect,
            )
            ax.set_title(f"{name}{label}: {_format_tick(float(layer.sum()))}", fontsize="medium")
    fig.colorbar(im, ax=list(axes.ravel()), shrink=0.8, label="sign mismatches")
    return fig


# ---------------------------------------------------------------------------- critical points

#: (error code in CriticalPointErrors.error_map, legend name, marker, colour, filled)
_CP_STYLES = (
    (1, "false negative (lost)", "o", "#0072B2", False),
    (2, "false positive (added)", "X", "#D55E00", True),
    (3, "false type (retyped)", "^", "#E69F00", True),
)


def plot_critical_points(
    orig: Any,
    recon: Any,
    ax: Any = None,
    *,
    errors: Any = None,
    connectivity: str = "full",
    min_persistence: float = 0.0,
    nan_policy: str = "raise",
    axis: int = 0,
    index: int | None = None,
    show_preserved: bool = True,
    cmap: str = "gray",
    size: float = 28.0,
):
    """Draw the original field with the critical-point errors of the reconstruction marked.

    False negatives (critical in the original, regular in the reconstruction) are
    hollow blue circles, false positives (added by the reconstruction) vermilion
    crosses, false types (critical in both with different types) orange triangles;
    preserved critical points are small green dots.  See
    :func:`topoeval.critical_point_errors` for the definitions.

    Parameters
    ----------
    orig, recon : array_like, 1-D to 3-D, same shape
        The original and its reconstruction.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new Figure when None.
    errors : CriticalPointErrors, optional
        Precomputed ``critical_point_errors(orig, recon, ...)``; computed with
        ``connectivity`` and ``min_persistence`` when None.
    connectivity : {"full", "freudenthal"}
    min_persistence : float
    nan_policy : {"raise", "omit"}
        Passed to :func:`topoeval.critical_point_errors` (non-finite cells are blank).
    axis, index : int
        For 3-D arrays, the slice ``np.take(a, index, axis)`` drawn; by default the
        slice holding the most errors.
    show_preserved : bool
        Also mark the preserved critical points.
    cmap : str
        Colour map of the field.
    size : float
        Marker area.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> orig = np.array([0.0, 2.0, 1.0, 3.0, 0.5])
    >>> recon = np.array([0.0, 2.0, 2.5, 3.0, 0.5])
    >>> err = te.critical_point_errors(orig, recon)
    >>> ax = te.plot_critical_points(orig, recon, errors=err)
    >>> ax.get_title() == (f"critical-point errors: {err.false_negatives} FN, "
    ...                    f"{err.false_positives} FP, {err.false_types} FT")
    True
    """
    _require_matplotlib("plot_critical_points")
    x, y = _prepare_pair(orig, recon)
    size = check_positive(size, "size")
    if errors is None:
        from .critical_points import critical_point_errors

        errors = critical_point_errors(
            x, y, connectivity=connectivity, min_persistence=min_persistence, nan_policy=nan_policy
        )
    emap = getattr(errors, "error_map", None)
    if emap is None or np.shape(emap) != x.shape:
        raise InvalidOptionError(
            "errors is not the CriticalPointErrors of these arrays (its error_map is missing or has "
            f"another shape than {x.shape}); pass critical_point_errors(orig, recon) or None"
        )
    emap = np.asarray(emap)
    preserved = np.zeros(x.shape, dtype=bool)
    if show_preserved:
        ot, rt = np.asarray(errors.orig.types), np.asarray(errors.recon.types)
        preserved = (ot > 0) & (ot == rt) & (emap == 0)
        pers = getattr(errors.orig, "persistence", None)
        if pers is not None and getattr(errors, "min_persistence", 0.0) > 0:
            preserved &= np.asarray(pers) >= errors.min_persistence
    ax = _axes_or_new(ax, (6.6, 4.2) if x.ndim > 1 else (7.0, 3.2))
    suffix = ""
    if x.ndim == 3:
        axis_n = normalize_axis(axis, 3)
        score = (emap > 0).sum(axis=tuple(k for k in range(3) if k != axis_n))
        axis, index = _slice_index(axis_n, index, x.shape, score)
        x, emap, preserved = (
            _take(x, axis, index),
            _take(emap, axis, index),
            _take(preserved, axis, index),
        )
        suffix = " " + _slice_label(axis, index, 3)
    if x.ndim == 1:
        ax.plot(np.arange(x.size), x, color="0.35", lw=1.0, label="original", zorder=1)

        def coords(mask):
            i = np.flatnonzero(mask)
            return i, x[i]

        ax.set_xlabel("index")
    else:
        lo, hi = _finite_range(x)
        ax.imshow(x, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest", aspect=_aspect(x.shape))

        def coords(mask):
            r, c = np.nonzero(mask)
            return c, r

    if show_preserved and preserved.any():
        px, py = coords(preserved)
        ax.scatter(
            px, py, s=size * 0.3, color="#009E73", edgecolors="none", label="preserved", zorder=2
        )
    counts = []
    for code, name, marker, color, filled in _CP_STYLES:
        m = emap == code
        counts.append(int(m.sum()))
        if m.any():
            px, py = coords(m)
            style = (
                dict(color=color)
                if filled
                else dict(facecolors="none", edgecolors=color, linewidths=1.2)
            )
            ax.scatter(
                px, py, s=size, marker=marker, label=f"{name}: {int(m.sum())}", zorder=3, **style
            )
    ax.set_title(f"critical-point errors{suffix}: {counts[0]} FN, {counts[1]} FP, {counts[2]} FT")
    if ax.get_legend_handles_labels()[0]:
        if x.ndim == 1:
            ax.legend(loc="best", fontsize="small")
        else:  # outside the image, so that no marker hides under it
            ax.legend(
                loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", borderaxespad=0.0
            )
    return ax

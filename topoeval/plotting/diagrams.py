"""Persistence diagrams: points in the (birth, death) plane, the diagonal, the infinity lines.

The geometry one Axes shares (:class:`_Frame`) and the point sets (:class:`_Dgm`) are also
used by :mod:`topoeval.plotting.matching`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import as_diagram_array, check_choice, check_positive
from ..errors import InvalidInputError, InvalidOptionError
from .base import (
    _COLORS,
    _INF_LINE,
    _MARKERS,
    _axes_or_new,
    _check_alpha,
    _format_tick,
    _require_matplotlib,
)

__all__ = ["plot_diagram"]


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
    dim: int | None = None  # homology dimension when drawn coloured by dimension


def by_dimension(dgm: Any) -> bool:
    """Whether ``dgm`` maps homology dimensions to diagrams, as :func:`persistence_diagrams` returns
    (a dict with non-negative int keys): drawn with one colour per dimension, labelled H0, H1 ..."""
    return isinstance(dgm, dict) and bool(dgm) and all(
        isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)) and k >= 0 for k in dgm)


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
    dims: list[int | None] = []
    if by_dimension(dgm):
        dims = sorted(int(k) for k in dgm)
        items = [(f"H{k}", dgm[k]) for k in dims]
    elif isinstance(dgm, dict):
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
        out.append(_Dgm(points, label, filt, dims[k] if dims else None))
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
        c = k if d.dim is None else d.dim  # by dimension: H1 has one colour whatever else is drawn
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=size,
            color=colors[c % len(colors)],
            marker=markers[c % len(markers)],
            alpha=alpha,
            edgecolors="none",
            label=label,
            zorder=3 + k,
        )


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
        draws both of its diagrams).  A dict of homology dimension -> diagram, as
        :func:`topoeval.persistence_diagrams` returns, is drawn coloured by dimension
        (the colour and marker of dimension k are the k-th of the palette, whichever
        dimensions are drawn) with the legend labels H0, H1, H2 ...  Rows are ``[birth, death]``; deaths may be
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

    Every dimension of a field, coloured by dimension:

    >>> a = np.array([[1, 2, 3], [4, 9, 5], [0, 1, 2]])
    >>> ax = te.plot_diagram(te.persistence_diagrams(a))
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['H0 (2 pts, 1 ∞)', 'H1 (1 pts)']
    """
    _require_matplotlib("plot_diagram")
    dgms = _prepare_diagrams(dgm, labels, filtration)
    if len(dgms) > 1 and labels is None:
        dgms = [_Dgm(d.points, d.label or f"diagram {k}", d.filtration, d.dim) for k, d in enumerate(dgms)]
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

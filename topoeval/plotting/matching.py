"""An optimal matching between two persistence diagrams, drawn over both diagrams."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_positive
from ..errors import InvalidInputError, InvalidOptionError
from .base import _COLORS, _HIGHLIGHT, _axes_or_new, _require_matplotlib
from .diagrams import _Dgm, _draw_frame, _Frame, _frame, _prepare_diagrams, by_dimension

__all__ = ["plot_matching"]

#: (marker, area factor, filled, zorder) of the original's and the reconstruction's points: the
#: original's large hollow circles stay visible around the reconstruction's small filled squares
#: where the two coincide, and every point lies above the matching lines (zorder <= 2.6)
_POINT_STYLES = (("o", 2.6, False, 3.0), ("s", 1.0, True, 4.0))


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


def _check_options(labels: Any, highlight: Any) -> None:
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


def _segments(m: np.ndarray, d1: _Dgm, d2: _Dgm, frame: _Frame) -> tuple[np.ndarray, np.ndarray]:
    """(k, 2, 2) segment ends of the matching rows and whether each goes to the diagonal."""
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
    return segments, to_diag


def _draw_lines(ax, segments: np.ndarray, to_diag: np.ndarray, cost: np.ndarray, highlight: int):
    """The matching lines (under the points) and the costliest highlighted; legend handles."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    order = np.argsort(-np.where(np.isinf(cost), np.finfo(float).max, cost), kind="stable")
    top = [int(r) for r in order[:highlight] if cost[r] > 0]
    rest = np.setdiff1d(np.arange(segments.shape[0]), top)
    handles = []
    for mask, style, text in (
        (~to_diag[rest], {"color": "0.45", "lw": 0.8, "ls": "-"}, "matched pair"),
        (to_diag[rest], {"color": "0.45", "lw": 0.8, "ls": ":"}, "matched to diagonal"),
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
    return handles


def _draw_projections(ax, segments: np.ndarray, to_diag: np.ndarray, size: float) -> None:
    """A small cross where a point matched to the diagonal meets it."""
    proj = segments[to_diag, 1]
    if proj.size:
        ax.scatter(
            proj[:, 0], proj[:, 1], s=size * 0.5, marker="x", color="0.3", lw=0.8, zorder=2.6
        )


def _draw_both(ax, frame: _Frame, d1: _Dgm, d2: _Dgm, size: float, colors=_COLORS[:2]) -> list:
    """The two diagrams' points, both visible where they coincide (see :data:`_POINT_STYLES`)."""
    handles = []
    for k, (d, (marker, factor, filled, zorder)) in enumerate(zip((d1, d2), _POINT_STYLES)):
        pts = frame.display(d.points)
        n_inf = int(np.isinf(d.points[:, 1]).sum())
        label = f"{d.label} ({d.points.shape[0]} pts" + (f", {n_inf} \u221e)" if n_inf else ")")
        color = colors[k]
        style = (
            {"color": color, "edgecolors": "none", "alpha": 0.9}
            if filled
            else {"facecolors": "none", "edgecolors": color, "linewidths": 1.1}
        )
        handles.append(
            ax.scatter(
                pts[:, 0],
                pts[:, 1],
                s=size * factor,
                marker=marker,
                label=label,
                zorder=zorder,
                **style,
            )
        )
    return handles


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
    cost written next to them.  The lines lie under the points, and the two
    diagrams stay visible where their points coincide: the original's points are
    large hollow circles, the reconstruction's small filled squares drawn inside
    them.

    Parameters
    ----------
    dgm1, dgm2 : Diagram or array_like (n, 2), or dict of int to Diagram
        The two diagrams (e.g. of the original and of the reconstruction).  Two dicts of
        homology dimension -> diagram (:func:`topoeval.persistence_diagrams` of each field)
        draw every dimension in one Axes, coloured by dimension (H0, H1 ... as in
        :func:`plot_diagram`; hollow circles the first, filled squares the second),
        each matched within its dimension; ``matching`` is then a dict of the same keys.
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
    _check_options(labels, highlight)
    size = check_positive(size, "size")
    if by_dimension(dgm1) or by_dimension(dgm2):
        return _plot_by_dimension(dgm1, dgm2, matching, ax, labels=labels, highlight=highlight,
                                  filtration=filtration, size=size, title=title)
    d1 = _prepare_diagrams(dgm1, None, filtration)[0]
    d2 = _prepare_diagrams(dgm2, None, filtration)[0]
    d1 = _Dgm(d1.points, str(labels[0]), d1.filtration)
    d2 = _Dgm(d2.points, str(labels[1]), d2.filtration)
    if matching is None:
        from ..distances import wasserstein_distance

        _, matching = wasserstein_distance(dgm1, dgm2, matching=True)
    m = _check_matching(matching, d1.points.shape[0], d2.points.shape[0])

    ax = _axes_or_new(ax, (4.6, 4.6))
    frame = _frame([d1, d2])
    _draw_frame(ax, frame, [d1, d2])
    segments, to_diag = _segments(m, d1, d2, frame)
    line_handles = _draw_lines(ax, segments, to_diag, m[:, 2], highlight)
    _draw_projections(ax, segments, to_diag, size)
    point_handles = _draw_both(ax, frame, d1, d2, size)
    ax.legend(
        handles=point_handles + line_handles,
        loc="lower right" if d1.filtration == "sublevel" else "upper left",
    )
    if title is not None:
        ax.set_title(title)
    return ax


def _dimension_pairs(dgm1: Any, dgm2: Any, matching: Any) -> list[tuple[int, Any, Any, Any]]:
    """(dimension, dgm1[k], dgm2[k], matching[k] or None) for the dimensions of two dicts."""
    if not (by_dimension(dgm1) and by_dimension(dgm2)) or sorted(dgm1) != sorted(dgm2):
        raise InvalidInputError(
            "pass two dicts of the same homology dimensions (persistence_diagrams of both fields), "
            f"got {sorted(dgm1) if isinstance(dgm1, dict) else type(dgm1).__name__} and "
            f"{sorted(dgm2) if isinstance(dgm2, dict) else type(dgm2).__name__}"
        )
    if matching is not None and (not isinstance(matching, dict) or sorted(matching) != sorted(dgm1)):
        raise InvalidInputError(
            "with diagrams by dimension, matching is a dict of one matching per dimension "
            f"({sorted(dgm1)}), or None to compute them"
        )
    return [(int(k), dgm1[k], dgm2[k], None if matching is None else matching[k]) for k in sorted(dgm1)]


def _plot_by_dimension(dgm1, dgm2, matching, ax, *, labels, highlight, filtration, size, title):
    """:func:`plot_matching` of every dimension in one Axes, coloured by dimension."""
    from ..distances import wasserstein_distance

    drawn = []
    for k, a, b, m in _dimension_pairs(dgm1, dgm2, matching):
        d1 = _prepare_diagrams(a, None, filtration)[0]
        d2 = _prepare_diagrams(b, None, filtration)[0]
        if m is None:
            _, m = wasserstein_distance(a, b, matching=True)
        m = _check_matching(m, d1.points.shape[0], d2.points.shape[0])
        drawn.append((k, _Dgm(d1.points, f"H{k} {labels[0]}", d1.filtration, k),
                      _Dgm(d2.points, f"H{k} {labels[1]}", d2.filtration, k), m))
    ax = _axes_or_new(ax, (4.6, 4.6))
    every = [d for _, d1, d2, _ in drawn for d in (d1, d2)]
    frame = _frame(every)
    _draw_frame(ax, frame, every)
    parts = [_segments(m, d1, d2, frame) for _, d1, d2, m in drawn]
    segments = np.concatenate([p[0] for p in parts])
    to_diag = np.concatenate([p[1] for p in parts])
    line_handles = _draw_lines(ax, segments, to_diag, np.concatenate([m[:, 2] for *_, m in drawn]), highlight)
    _draw_projections(ax, segments, to_diag, size)
    point_handles = []
    for k, d1, d2, _ in drawn:
        color = _COLORS[k % len(_COLORS)]
        point_handles += _draw_both(ax, frame, d1, d2, size, colors=(color, color))
    ax.legend(handles=point_handles + line_handles,
              loc="lower right" if every[0].filtration == "sublevel" else "upper left", fontsize=7)
    if title is not None:
        ax.set_title(title)
    return ax

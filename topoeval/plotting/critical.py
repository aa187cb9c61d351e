"""Critical-point errors of a reconstruction marked over the original field."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_positive, normalize_axis
from ..errors import InvalidOptionError
from .base import (
    _aspect,
    _axes_or_new,
    _finite_range,
    _prepare_pair,
    _require_matplotlib,
    _slice_index,
    _slice_label,
    _take,
)

__all__ = ["plot_critical_points"]

#: (error code in CriticalPointErrors.error_map, legend name, marker, colour, filled)
_CP_STYLES = (
    (1, "false negative (lost)", "o", "#0072B2", False),
    (2, "false positive (added)", "X", "#D55E00", True),
    (3, "false type (retyped)", "^", "#E69F00", True),
)


def _error_maps(x, y, errors, connectivity, min_persistence, nan_policy, show_preserved):
    """(error_map, preserved mask) of the full arrays, from ``errors`` or computed."""
    if errors is None:
        from ..critical_points import critical_point_errors

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
    return emap, preserved


def _background(ax, x: np.ndarray, cmap: str):
    """Draw the field (a curve or an image); return cells mask -> (x, y) plot coordinates."""
    if x.ndim == 1:
        ax.plot(np.arange(x.size), x, color="0.35", lw=1.0, label="original", zorder=1)
        ax.set_xlabel("index")

        def coords(mask):
            i = np.flatnonzero(mask)
            return i, x[i]

        return coords
    lo, hi = _finite_range(x)
    ax.imshow(x, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest", aspect=_aspect(x.shape))

    def coords(mask):
        r, c = np.nonzero(mask)
        return c, r

    return coords


def _draw_markers(ax, coords, emap, preserved, size) -> list[int]:
    """The preserved points and one marker style per error kind; the count of each kind."""
    if preserved.any():
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
                {"color": color}
                if filled
                else {"facecolors": "none", "edgecolors": color, "linewidths": 1.2}
            )
            ax.scatter(
                px, py, s=size, marker=marker, label=f"{name}: {int(m.sum())}", zorder=3, **style
            )
    return counts


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
    emap, preserved = _error_maps(
        x, y, errors, connectivity, min_persistence, nan_policy, show_preserved
    )
    ax = _axes_or_new(ax, (6.6, 4.2) if x.ndim > 1 else (7.0, 3.2))
    suffix = ""
    if x.ndim == 3:
        axis_n = normalize_axis(axis, 3)
        score = (emap > 0).sum(axis=tuple(k for k in range(3) if k != axis_n))
        axis, index = _slice_index(axis_n, index, x.shape, score)
        x, emap, preserved = (_take(a, axis, index) for a in (x, emap, preserved))
        suffix = " " + _slice_label(axis, index, 3)
    coords = _background(ax, x, cmap)
    counts = _draw_markers(ax, coords, emap, preserved, size)
    ax.set_title(f"critical-point errors{suffix}: {counts[0]} FN, {counts[1]} FP, {counts[2]} FT")
    if ax.get_legend_handles_labels()[0]:
        if x.ndim == 1:
            ax.legend(loc="best", fontsize="small")
        else:  # outside the image, so that no marker hides under it
            ax.legend(
                loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", borderaxespad=0.0
            )
    return ax

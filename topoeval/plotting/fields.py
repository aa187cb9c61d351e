"""The original, the reconstruction and their difference: curves (1-D) or images (2-D, 3-D slices)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import normalize_axis
from ..errors import InvalidOptionError
from .base import (
    _COLORS,
    _aspect,
    _figure_or_new,
    _finite_range,
    _prepare_pair,
    _require_matplotlib,
    _slice_index,
    _slice_label,
    _take,
)

__all__ = ["plot_fields"]


def _curves(fig, x, y, diff, titles, lo, hi, dmax):
    """1-D: both fields in one panel, the difference below."""
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


def _images(fig, x, y, diff, titles, suffix, cmap, diff_cmap, lo, hi, dmax):
    """2-D: three images, the two fields on one colour scale."""
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
        return _curves(fig, x, y, diff, titles, lo, hi, dmax)
    return _images(fig, x, y, diff, titles, suffix, cmap, diff_cmap, lo, hi, dmax)

"""Maps of where a reconstruction went wrong, drawn over the original field in grey:
the exact-DSL sign mismatches (:func:`plot_mismatch`) and the cells whose Morse-segmentation
label changed (:func:`plot_segmentation`).

1-D fields are curves with the wrong cells marked; 2-D fields images; of 3-D fields one
2-D slice per axis, by default the slice holding the most marked cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_choice, normalize_axis
from ..errors import InvalidOptionError
from .base import (
    _COLORS,
    _aspect,
    _figure_or_new,
    _finite_range,
    _format_tick,
    _prepare_pair,
    _require_matplotlib,
    _slice_index,
    _slice_label,
    _take,
)

__all__ = ["plot_mismatch", "plot_segmentation"]


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


def _panels(x, layers: Sequence[np.ndarray], names: Sequence[str], slices: Any, total: np.ndarray):
    """Rows of (background, layer, name, slice label) panels; 3-D: one row per slice, by
    default along every axis the slice with the largest sum of ``total``."""
    if x.ndim == 2:
        panels = [[(x, layer, name, "") for layer, name in zip(layers, names)]]
    else:

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
    return panels


def _draw_panels(fig, x, panels, *, cmap, norm, background_cmap, title_of, colorbar):
    """Each panel: the original in grey, the non-zero cells of its layer in colour over it;
    ``title_of(layer)`` ends each title, ``colorbar(cb)`` finishes the shared colour bar."""
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
                np.ma.masked_equal(layer, 0),
                cmap=cmap,
                norm=norm,
                interpolation="nearest",
                alpha=0.9,
                aspect=aspect,
            )
            ax.set_title(f"{name}{label}: {title_of(layer)}", fontsize="medium")
    colorbar(fig.colorbar(im, ax=list(axes.ravel()), shrink=0.8))
    return fig


def _mismatch_maps(x: np.ndarray, y: np.ndarray, sel: list[int], nan_policy: str) -> np.ndarray:
    """(len(sel), *shape) exact-DSL mismatch maps; with "omit", differences touching NaN are 0."""
    from ..dsl import mismatch_map

    bad = None
    if nan_policy == "omit":
        bad = ~(np.isfinite(x) & np.isfinite(y))
        if not bad.any():
            bad = None
    if bad is None:
        return np.asarray(mismatch_map(y, x, axis=tuple(sel)))
    maps = np.array(mismatch_map(np.where(bad, 0.0, y), np.where(bad, 0.0, x), axis=tuple(sel)))
    for m, ax_ in zip(maps, sel):  # drop the differences that touch a non-finite cell
        touch = bad.copy()
        src = [slice(None)] * x.ndim
        dst = [slice(None)] * x.ndim
        src[ax_], dst[ax_] = slice(1, None), slice(None, -1)
        touch[tuple(dst)] |= bad[tuple(src)]
        m[touch] = 0.0
    return maps


def _mismatch_1d(fig, x, y, layer, cmap, norm):
    """1-D: both curves, the mismatched differences as coloured dots between their cells."""
    fig = _figure_or_new(fig, (7.0, 3.2))
    ax = fig.subplots()
    t = np.arange(x.size)
    ax.plot(t, x, color="0.35", lw=1.0, label="original")
    ax.plot(t, y, color=_COLORS[0], lw=0.8, ls="--", label="reconstruction")
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
    from matplotlib.colors import Normalize

    mode = check_choice(mode, "mode", ("sum", "per-axis"))
    nan_policy = check_choice(nan_policy, "nan_policy", ("raise", "omit"))
    x, y = _prepare_pair(orig, recon)
    sel = _mismatch_axes(axis, x.ndim)
    maps = _mismatch_maps(x, y, sel, nan_policy)
    if mode == "sum":
        layers = [maps.sum(axis=0)]
        names = ["axes " + ", ".join(map(str, sel)) if len(sel) > 1 else f"axis {sel[0]}"]
        vmax = float(len(sel))
    else:
        layers = list(maps)
        names = [f"axis {a}" for a in sel]
        vmax = 1.0
    norm = Normalize(0.0, vmax)
    if x.ndim == 1:
        return _mismatch_1d(fig, x, y, layers[0], cmap, norm)
    return _draw_panels(
        fig,
        x,
        _panels(x, layers, names, slices, maps.sum(axis=0)),
        cmap=cmap,
        norm=norm,
        background_cmap=background_cmap,
        title_of=lambda layer: _format_tick(float(layer.sum())),
        colorbar=lambda cb: cb.set_label("sign mismatches"),
    )


#: colours of the segmentation error codes 1 (ascending label), 2 (descending), 3 (both)
_SEG_COLORS = ("#0072B2", "#E69F00", "#D55E00")
_SEG_NAMES = ("ascending", "descending", "both")


def _segmentation_1d(fig, x, codes, cmap, norm):
    fig = _figure_or_new(fig, (7.0, 3.2))
    ax = fig.subplots()
    ax.plot(np.arange(x.size), x, color="0.35", lw=1.0, label="original")
    k = np.flatnonzero(codes)
    sc = ax.scatter(k, x[k], c=codes[k], cmap=cmap, norm=norm, s=16, zorder=3, label="mislabeled")
    ax.set_title(f"mislabeled cells: {k.size}")
    ax.set_xlabel("index")
    ax.legend(loc="best")
    _segmentation_colorbar(fig.colorbar(sc, ax=ax))
    return fig


def _segmentation_colorbar(cb) -> None:
    cb.set_ticks([1, 2, 3], labels=list(_SEG_NAMES))
    cb.set_label("label that differs")


def plot_segmentation(
    orig: Any,
    recon: Any,
    fig: Any = None,
    *,
    errors: Any = None,
    connectivity: str = "full",
    nan_policy: str = "raise",
    slices: dict | None = None,
    background_cmap: str = "gray",
):
    """Draw the cells whose Morse-segmentation label the reconstruction changes.

    Over the original field in grey, every cell whose ascending label (the maximum its
    steepest-ascent path reaches) differs is blue, whose descending label differs
    orange, and vermilion where both do (see :func:`topoeval.segmentation_errors`);
    the titles give the number of mislabeled cells.

    Parameters
    ----------
    orig, recon : array_like, 1-D to 3-D, same shape
        The original and its reconstruction.
    fig : matplotlib.figure.Figure or SubFigure, optional
        Where to draw; a new Figure when None.
    errors : SegmentationErrors, optional
        Precomputed ``segmentation_errors(orig, recon, ...)``; computed with
        ``connectivity`` and ``nan_policy`` when None.
    connectivity : {"full", "face", "freudenthal"}
    nan_policy : {"raise", "omit"}
    slices : dict {axis: index or None}, optional
        For 3-D arrays, the 2-D slices drawn (default: along every axis the slice with
        the most mislabeled cells).
    background_cmap : str
        Colour map of the original field.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> y, x = np.mgrid[0:16, 0:16] / 4.0
    >>> a = np.sin(x) * np.cos(y)
    >>> fig = te.plot_segmentation(a, np.round(a * 3) / 3)
    >>> fig.axes[0].get_title().startswith("mislabeled cells")
    True
    """
    _require_matplotlib("plot_segmentation")
    from matplotlib.colors import BoundaryNorm, ListedColormap

    x, y = _prepare_pair(orig, recon)
    if errors is None:
        from ..segmentation import segmentation_errors

        errors = segmentation_errors(x, y, connectivity, nan_policy=nan_policy)
    codes = getattr(errors, "error_map", None)
    if codes is None or np.shape(codes) != x.shape:
        raise InvalidOptionError(
            "errors is not the SegmentationErrors of these arrays (its error_map is missing or "
            f"has another shape than {x.shape}); pass segmentation_errors(orig, recon) or None"
        )
    codes = np.asarray(codes)
    cmap = ListedColormap(list(_SEG_COLORS))
    norm = BoundaryNorm([0.5, 1.5, 2.5, 3.5], 3)
    if x.ndim == 1:
        return _segmentation_1d(fig, x, codes, cmap, norm)
    return _draw_panels(
        fig,
        x,
        _panels(x, [codes], ["mislabeled cells"], slices, codes > 0),
        cmap=cmap,
        norm=norm,
        background_cmap=background_cmap,
        title_of=lambda layer: str(int(np.count_nonzero(layer))),
        colorbar=_segmentation_colorbar,
    )

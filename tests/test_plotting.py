"""Tests of topoeval.plotting: what is drawn (read back from the artists) and how it looks.

Baseline images
---------------
``tests/baseline/*.png`` are small reference renderings (drawn inside
``topoeval.plotting.base._style()``, the fixed style of the report).  ``test_baseline_*``
re-render them and compare by content: the RMS difference of the RGB pixels
(0-255 scale) must stay below ``BASELINE_TOL``.  To regenerate them after an
intended change of a picture, run::

    TOPOEVAL_REGENERATE_BASELINE=1 python -m pytest tests/test_plotting.py -k baseline

look at the new PNGs, and commit them.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("matplotlib")

from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402

import topoeval as te  # noqa: E402
from topoeval import plotting  # noqa: E402
from topoeval.plotting import base as pbase  # noqa: E402
from topoeval.errors import (  # noqa: E402
    InvalidInputError,
    InvalidOptionError,
    MissingDependencyError,
    NonFiniteError,
    ShapeMismatchError,
)

BASELINE_DIR = Path(__file__).parent / "baseline"
BASELINE_TOL = 6.0  # RMS over RGB channels, 0-255 scale
REGENERATE = os.environ.get("TOPOEVAL_REGENERATE_BASELINE") == "1"
INF = np.inf


# ---------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _bare_figures():
    """Bare Figures in every test, even when another test module imported pyplot (no figure
    piles up in pyplot's registry); the pyplot path is tested in a subprocess."""
    token = pbase._BARE_FIGURES.set(True)
    yield
    pbase._BARE_FIGURES.reset(token)


def _scatters(ax):
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def _png_to_rgb(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64)


def rms_difference(png_a: bytes, png_b: bytes) -> float:
    a, b = _png_to_rgb(png_a), _png_to_rgb(png_b)
    if a.shape != b.shape:
        return float("inf")
    return float(np.sqrt(np.mean((a - b) ** 2)))


def _render(fig) -> bytes:
    return pbase._figure_png(fig, dpi=50)


def _check_baseline(name: str, png: bytes) -> None:
    path = BASELINE_DIR / f"{name}.png"
    if REGENERATE:
        BASELINE_DIR.mkdir(exist_ok=True)
        path.write_bytes(png)
        return
    assert path.exists(), (
        f"{path} missing; regenerate with TOPOEVAL_REGENERATE_BASELINE=1 (see module docstring)"
    )
    rms = rms_difference(png, path.read_bytes())
    assert rms < BASELINE_TOL, f"{name}: RMS pixel difference {rms:.2f} >= {BASELINE_TOL} vs {path}"


def _diagrams():
    d1 = np.array([[0.0, INF], [1.0, 3.0], [2.0, 2.5], [0.5, 1.0]])
    d2 = np.array([[0.1, INF], [1.2, 2.7], [0.4, 0.6]])
    m = np.array([[0, 0, 0.1], [1, 1, 0.3], [2, -1, 0.25], [3, 2, 0.4]])
    return d1, d2, m


# ---------------------------------------------------------------------------- packaging


def test_import_topoeval_plotting_and_report_do_not_import_matplotlib():
    code = "import sys, topoeval, topoeval.plotting, topoeval.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_functions_never_import_pyplot():
    code = (
        "import sys, numpy as np, topoeval as te\n"
        "d = np.array([[0.0, np.inf], [1.0, 2.0]])\n"
        "te.plot_diagram(d); te.plot_matching(d, d, [[0, 0, 0.0], [1, 1, 0.0]])\n"
        "a = np.arange(12.0).reshape(3, 4); te.plot_fields(a, a + 1)\n"
        "print('matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pyplot_figures_once_pyplot_is_imported_but_never_in_reports():
    code = (
        "import matplotlib; matplotlib.use('Agg')\n"
        "import matplotlib.pyplot as plt, numpy as np, topoeval as te\n"
        "from topoeval.plotting import base as pbase\n"
        "d = np.array([[0.0, np.inf], [1.0, 2.0]])\n"
        "ax = te.plot_diagram(d)\n"
        "fig = te.plot_fields(np.zeros((3, 4)), np.ones((3, 4)))\n"
        "print(plt.get_fignums(), ax.figure is plt.figure(1), fig is plt.figure(2))\n"
        "with pbase._style():\n"
        "    te.plot_diagram(d)\n"
        "print(plt.get_fignums())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[1, 2] True True", "[1, 2]"]


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match=r"topoeval\[plot\]"):
        te.plot_diagram(np.array([[0.0, 1.0]]))
    with pytest.raises(MissingDependencyError, match="plot_fields"):
        te.plot_fields(np.zeros(3), np.zeros(3))


def test_public_names():
    assert set(plotting.__all__) == {
        "plot_diagram",
        "plot_matching",
        "plot_mismatch",
        "plot_critical_points",
        "plot_fields",
        "plot_segmentation",
    }


# ---------------------------------------------------------------------------- plot_diagram


def test_diagram_points_and_infinity_line_sublevel():
    d = np.array([[0.0, INF], [1.0, 3.0], [2.0, 2.5]])
    ax = te.plot_diagram(d)
    assert isinstance(ax.figure, Figure)
    (sc,) = _scatters(ax)
    off = np.asarray(sc.get_offsets())
    np.testing.assert_array_equal(off[1:], d[1:])
    assert off[0, 0] == 0.0
    y_inf = off[0, 1]
    assert y_inf > 3.0  # the +inf line lies above every finite point
    labels = {t.get_text(): pos for t, pos in zip(ax.get_yticklabels(), ax.get_yticks())}
    assert labels["+\u221e"] == pytest.approx(y_inf)
    assert "\u2212\u221e" not in labels
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and np.allclose(dashed[0].get_ydata(), y_inf)
    lo, hi = ax.get_xlim()
    assert ax.get_ylim() == (lo, hi) and lo < 0.0 and hi > y_inf
    assert ax.get_legend() is None  # one unlabelled diagram


def test_diagram_superlevel_convention_inf_line_below():
    d = np.array([[5.0, -INF], [3.0, 1.0], [2.5, 2.0]])  # births above deaths, as stored
    ax = te.plot_diagram(d)
    off = np.asarray(_scatters(ax)[0].get_offsets())
    np.testing.assert_array_equal(off[1:], d[1:])
    assert off[0, 1] < 1.0  # the -inf line lies below every finite point
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "\u2212\u221e" in labels and "+\u221e" not in labels


def test_diagram_filtration_taken_from_diagram_object():
    class FakeDiagram:  # duck-typed like topoeval.persistence.Diagram
        births = np.array([4.0])
        deaths = np.array([4.0])
        filtration = "superlevel"

        def __array__(self, dtype=None, copy=None):
            return np.array([[4.0, 4.0]])

    ax = te.plot_diagram(FakeDiagram())
    # superlevel: the impossible half-plane above the diagonal is shaded
    (poly,) = [c for c in ax.collections if not isinstance(c, PathCollection)]
    verts = poly.get_paths()[0].vertices
    assert (verts[:, 1] >= verts[:, 0] - 1e-12).all()


def test_diagram_several_with_labels_and_dict():
    d1, d2, _ = _diagrams()
    ax = te.plot_diagram([d1, d2], labels=["a", "b"])
    sc = _scatters(ax)
    assert len(sc) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "a (4 pts, 1 \u221e)",
        "b (3 pts, 1 \u221e)",
    ]
    assert not np.allclose(sc[0].get_facecolor(), sc[1].get_facecolor())
    ax = te.plot_diagram({"x": d1, "y": d2, "z": d2[1:]})
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "x (4 pts, 1 \u221e)",
        "y (3 pts, 1 \u221e)",
        "z (2 pts)",
    ]
    # a list of pairs is one diagram, a list of diagrams of different sizes is several
    assert len(_scatters(te.plot_diagram([[0.0, 1.0], [0.5, 2.0]]))) == 1
    assert len(_scatters(te.plot_diagram([[[0.0, 1.0]], [[0.5, 2.0], [1, 3]]]))) == 2


@st.composite
def _diagram_arrays(draw):
    n = draw(st.integers(0, 12))
    births = draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=n, max_size=n))
    pers = draw(st.lists(st.one_of(st.floats(0, 1e3), st.just(np.inf)), min_size=n, max_size=n))
    sign = draw(st.sampled_from([1.0, -1.0]))  # sublevel or superlevel
    return np.column_stack([births, np.array(births) + sign * np.array(pers)]).reshape(-1, 2), sign


@given(_diagram_arrays())
def test_diagram_property_points_kept_and_inf_lines_outside(data):
    d, sign = data
    filt = "sublevel" if sign > 0 else "superlevel"
    ax = te.plot_diagram(d, filtration=filt)
    off = np.asarray(_scatters(ax)[0].get_offsets()).reshape(-1, 2)
    fin = np.isfinite(d[:, 1])
    np.testing.assert_array_equal(off[fin], d[fin])
    np.testing.assert_array_equal(off[:, 0], d[:, 0])
    lo, hi = ax.get_ylim()
    assert (
        (off[:, 1] >= lo).all()
        and (off[:, 1] <= hi).all()
        and (off[:, 0] >= lo).all()
        and (off[:, 0] <= hi).all()
    )
    if (~fin).any():
        y_inf = np.unique(off[~fin, 1])
        assert y_inf.size == 1
        finite_vals = np.concatenate([d[:, 0], d[fin, 1]])
        assert (y_inf[0] > finite_vals.max()) if sign > 0 else (y_inf[0] < finite_vals.min())


def test_diagram_mixed_conventions_draw_both_infinity_lines():
    sub = np.array([[0.0, INF], [1.0, 2.0]])
    sup = np.array([[3.0, -INF], [2.0, 1.0]])
    ax = te.plot_diagram([sub, sup])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "+\u221e" in labels and "\u2212\u221e" in labels


def test_diagram_empty_and_degenerate():
    ax = te.plot_diagram(np.empty((0, 2)))
    assert _scatters(ax)[0].get_offsets().shape[0] == 0
    ax = te.plot_diagram(np.array([[2.0, 2.0]]))  # zero span: limits still widen
    lo, hi = ax.get_xlim()
    assert lo < 2.0 < hi


def test_diagram_draws_into_given_axes():
    fig = Figure()
    axes = fig.subplots(1, 2)
    assert te.plot_diagram(np.array([[0.0, 1.0]]), ax=axes[1], title="T") is axes[1]
    assert axes[1].get_title() == "T" and not _scatters(axes[0])


def test_diagram_errors():
    with pytest.raises(InvalidInputError, match="both sides of the diagonal"):
        te.plot_diagram(np.array([[0.0, 1.0], [3.0, 2.0]]))
    with pytest.raises(InvalidInputError, match=r"\(n, 2\)"):
        te.plot_diagram(np.zeros((3, 3)))
    with pytest.raises(NonFiniteError, match="NaN"):
        te.plot_diagram(np.array([[0.0, np.nan]]))
    with pytest.raises(InvalidInputError, match="death below birth"):
        te.plot_diagram(np.array([[1.0, 0.0]]), filtration="sublevel")
    with pytest.raises(InvalidOptionError, match="one label per diagram"):
        te.plot_diagram([np.zeros((1, 2)), np.zeros((2, 2))], labels=["a"])
    with pytest.raises(InvalidOptionError, match="filtration"):
        te.plot_diagram(np.zeros((1, 2)), filtration="upper")
    with pytest.raises(InvalidOptionError, match="not a matplotlib Axes"):
        te.plot_diagram(np.zeros((1, 2)), ax="left")
    with pytest.raises(InvalidOptionError, match="alpha"):
        te.plot_diagram(np.zeros((1, 2)), alpha=2)


# ---------------------------------------------------------------------------- plot_matching


def _segments(ax):
    segs = []
    for c in ax.collections:
        if isinstance(c, LineCollection):
            segs.extend(np.asarray(s) for s in c.get_segments())
    return segs


def test_matching_segments_and_projections():
    d1, d2, m = _diagrams()
    ax = te.plot_matching(d1, d2, m, highlight=0)
    segs = _segments(ax)
    assert len(segs) == m.shape[0]
    ends = {tuple(np.round(s.ravel(), 12)) for s in segs}
    # point 2 of d1 = (2, 2.5) is matched to the diagonal: joined to its projection (2.25, 2.25)
    assert (2.0, 2.5, 2.25, 2.25) in ends
    assert (1.0, 3.0, 1.2, 2.7) in ends
    # the essential pair is joined along the +inf line
    y_inf = [
        t for t, lab in zip(ax.get_yticks(), ax.get_yticklabels()) if lab.get_text() == "+\u221e"
    ][0]
    assert (0.0, y_inf, 0.1, y_inf) in {tuple(s.ravel()) for s in segs}
    assert len(ax.texts) == 0


def test_matching_highlights_costliest():
    d1, d2, m = _diagrams()
    ax = te.plot_matching(d1, d2, m, highlight=2)
    red = [
        c for c in ax.collections if isinstance(c, LineCollection) and c.get_linewidth()[0] == 2.0
    ]
    assert len(red) == 1 and len(red[0].get_segments()) == 2
    assert sorted(t.get_text() for t in ax.texts) == ["0.3", "0.4"]
    # zero-cost pairs are never highlighted
    z = m.copy()
    z[:, 2] = 0.0
    assert len(te.plot_matching(d1, d2, z, highlight=3).texts) == 0


def test_matching_diagonal_to_recon_point_and_infinite_cost():
    d1 = np.array([[0.0, INF]])
    d2 = np.array([[0.0, INF], [1.0, 2.0], [0.5, INF]])
    m = np.array([[0, 0, 0.0], [-1, 1, 0.5], [-1, 2, INF]])
    ax = te.plot_matching(d1, d2, m, highlight=1)
    assert [t.get_text() for t in ax.texts] == ["\u221e"]
    ends = {tuple(np.round(s.ravel(), 12)) for s in _segments(ax)}
    assert (1.0, 2.0, 1.5, 1.5) in ends


def test_matching_keeps_both_diagrams_visible_and_lines_under_points():
    """Issue 17 point 9: where the two diagrams coincide, the reconstruction's points must not
    hide the original's (the old drawing: two filled markers of one size, the second on top)."""
    d = np.array([[0.0, INF], [1.0, 3.0], [2.0, 2.5]])
    m = np.array([[0, 0, 0.0], [1, 1, 0.0], [2, 2, 0.0]])
    ax = te.plot_matching(d, d.copy(), m, highlight=0)
    by_label = {c.get_label().split(" (")[0]: c for c in _scatters(ax) if c.get_label()}
    orig, recon = by_label["original"], by_label["reconstruction"]
    assert orig.get_visible() and recon.get_visible()
    assert len(orig.get_offsets()) == len(recon.get_offsets()) == 3
    assert not np.array_equal(orig.get_paths()[0].vertices, recon.get_paths()[0].vertices)
    # the original, under the reconstruction, is a hollow ring wide enough to show around it
    assert orig.get_zorder() < recon.get_zorder()
    fc = np.asarray(orig.get_facecolors())
    assert fc.size == 0 or (fc[:, 3] == 0).all()
    assert (np.asarray(orig.get_edgecolors())[:, 3] > 0).all()
    assert orig.get_sizes()[0] >= 2 * recon.get_sizes()[0]
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert lines and max(c.get_zorder() for c in lines) < orig.get_zorder()


def test_segmentation_map_marks_exactly_the_mislabeled_cells(rng):
    a = rng.integers(0, 4, size=(9, 11)).astype(float)
    b = a + rng.integers(-1, 2, size=a.shape) * (rng.random(a.shape) < 0.3)
    err = te.segmentation_errors(a, b)
    fig = te.plot_segmentation(a, b, errors=err)
    ax = [x for x in fig.axes if x.get_images()][0]
    overlay = ax.get_images()[1].get_array()
    np.testing.assert_array_equal(np.ma.filled(overlay, 0), err.error_map)
    assert ax.get_title().endswith(f": {err.false_labels}")
    # 3-D: one slice per axis, the default ones with the most mislabeled cells; 1-D: dots
    c = rng.integers(0, 3, size=(5, 6, 7)).astype(float)
    d = c + (rng.random(c.shape) < 0.2)
    e3 = te.segmentation_errors(c, d)
    panels = [x for x in te.plot_segmentation(c, d, errors=e3).axes if x.get_images()]
    assert len(panels) == 3
    k = int(np.argmax((e3.error_map > 0).sum(axis=(1, 2))))
    assert f"[{k}, :, :]" in panels[0].get_title()
    line = te.plot_segmentation(a[0], b[0]).axes[0]
    assert len(_scatters(line)[0].get_offsets()) == te.segmentation_errors(a[0], b[0]).false_labels
    with pytest.raises(InvalidOptionError, match="SegmentationErrors"):
        te.plot_segmentation(a[:3], b[:3], errors=err)


def test_matching_errors():
    d1, d2, m = _diagrams()
    with pytest.raises(InvalidInputError, match="refers to point 7 of dgm2"):
        te.plot_matching(d1, d2, np.array([[0, 7, 1.0]]))
    with pytest.raises(InvalidInputError, match=r"\(k, 3\)"):
        te.plot_matching(d1, d2, np.zeros((2, 2)))
    with pytest.raises(InvalidInputError, match="diagonal to itself"):
        te.plot_matching(d1, d2, np.array([[-1, -1, 0.0]]))
    with pytest.raises(InvalidInputError, match="non-integer"):
        te.plot_matching(d1, d2, np.array([[0.5, 1, 0.0]]))
    with pytest.raises(InvalidOptionError, match="highlight"):
        te.plot_matching(d1, d2, m, highlight=-1)
    with pytest.raises(InvalidOptionError, match="two labels"):
        te.plot_matching(d1, d2, m, labels="ab")


# ---------------------------------------------------------------------------- plot_fields


def _images(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


def test_fields_2d_shared_scale_and_symmetric_difference(rng):
    a = rng.standard_normal((12, 17))
    b = a + 0.1 * rng.standard_normal(a.shape)
    fig = te.plot_fields(a, b)
    ims = _images(fig)
    assert len(ims) == 3 and all(isinstance(i, AxesImage) for i in ims)
    np.testing.assert_array_equal(ims[0].get_array(), a)
    np.testing.assert_array_equal(ims[1].get_array(), b)
    np.testing.assert_allclose(ims[2].get_array(), b - a)
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    assert ims[0].get_clim() == ims[1].get_clim() == (lo, hi)
    d = np.abs(b - a).max()
    assert ims[2].get_clim() == (-d, d)


def test_fields_3d_default_slice_has_largest_difference(rng):
    a = rng.standard_normal((5, 6, 7))
    b = a.copy()
    b[:, 4, :] += 1.0  # all the error sits in slice 4 along axis 1
    fig = te.plot_fields(a, b, axis=1)
    ims = _images(fig)
    np.testing.assert_array_equal(ims[0].get_array(), a[:, 4, :])
    assert "[:, 4, :]" in fig.axes[0].get_title()
    fig = te.plot_fields(a, b, axis=0, index=-1)
    np.testing.assert_array_equal(_images(fig)[1].get_array(), b[4])


def test_fields_1d_curves():
    a = np.sin(np.linspace(0, 6, 50))
    fig = te.plot_fields(a, a + 0.05)
    assert _images(fig) == []
    ydata = [ln.get_ydata() for ln in fig.axes[0].lines]
    np.testing.assert_array_equal(ydata[0], a)
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), 0.05)


def test_fields_errors():
    with pytest.raises(ShapeMismatchError):
        te.plot_fields(np.zeros((3, 4)), np.zeros((4, 3)))
    with pytest.raises(InvalidInputError, match="pass a sub-array"):
        te.plot_fields(np.zeros((2, 2, 2, 2)), np.zeros((2, 2, 2, 2)))
    with pytest.raises(InvalidOptionError, match="out of range"):
        te.plot_fields(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), index=5)
    with pytest.raises(InvalidOptionError, match="not a matplotlib Figure"):
        te.plot_fields(np.zeros((3, 4)), np.zeros((3, 4)), fig=object())


# ---------------------------------------------------------------------------- plot_mismatch


def _naive_mismatch(orig, recon, axis):
    """|sign(diff recon) - sign(diff orig)| / 2 along ``axis``, stored at the first cell, last cell 0."""
    d = np.abs(np.sign(np.diff(recon, axis=axis)) - np.sign(np.diff(orig, axis=axis))) / 2
    pad = [(0, 0)] * orig.ndim
    pad[axis] = (0, 1)
    return np.pad(d, pad)


def _overlays(fig):
    """(background, overlay) image pairs of each mismatch panel."""
    out = []
    for ax in fig.axes:
        ims = ax.get_images()
        if len(ims) == 2:
            out.append((np.asarray(ims[0].get_array()), ims[1].get_array()))
    return out


def test_mismatch_2d_sum_and_per_axis(rng):
    a = rng.standard_normal((9, 11))
    b = a + 0.7 * rng.standard_normal(a.shape)
    b[2, 3:6] = b[2, 3]  # flat steps count 1/2
    naive = [_naive_mismatch(a, b, i) for i in range(2)]
    fig = te.plot_mismatch(a, b)
    ((bg, over),) = _overlays(fig)
    np.testing.assert_array_equal(bg, a)
    total = naive[0] + naive[1]
    np.testing.assert_allclose(over.filled(0.0), total)
    assert (over.mask == (total == 0)).all()  # cells without mismatch are transparent
    title = [ax.get_title() for ax in fig.axes if ax.get_images()][0]
    assert title == f"axes 0, 1: {total.sum():g}"
    assert total.sum() == te.exact_dsl(b, a)

    fig = te.plot_mismatch(a, b, mode="per-axis")
    panels = _overlays(fig)
    assert len(panels) == 2
    for (bg, over), ref in zip(panels, naive):
        np.testing.assert_allclose(over.filled(0.0), ref)
    fig = te.plot_mismatch(a, b, axis=1)
    ((_, over),) = _overlays(fig)
    np.testing.assert_allclose(over.filled(0.0), naive[1])


def test_mismatch_3d_default_slices_have_most_mismatches(rng):
    a = rng.standard_normal((4, 6, 7))
    b = a.copy()
    b[2, 1:5, 2:6] *= -1.0  # damage inside slice 2 along axis 0
    total = sum(_naive_mismatch(a, b, i) for i in range(3))
    fig = te.plot_mismatch(a, b)
    panels = _overlays(fig)
    assert len(panels) == 3
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    for k, ((bg, over), title) in enumerate(zip(panels, titles)):
        per_slice = total.sum(axis=tuple(j for j in range(3) if j != k))
        idx = int(np.argmax(per_slice))
        np.testing.assert_array_equal(bg, np.take(a, idx, axis=k))
        np.testing.assert_allclose(over.filled(0.0), np.take(total, idx, axis=k))
        assert f"[{', '.join(str(idx) if j == k else ':' for j in range(3))}]" in title
    assert "[2, :, :]" in titles[0]
    fig = te.plot_mismatch(a, b, mode="per-axis", slices={1: 4})
    panels = _overlays(fig)
    assert len(panels) == 3  # one slice, three axes
    for i, (bg, over) in enumerate(panels):
        np.testing.assert_allclose(over.filled(0.0), _naive_mismatch(a, b, i)[:, 4, :])
    assert len(_overlays(te.plot_mismatch(a, b, mode="per-axis"))) == 9


def test_mismatch_1d_markers():
    a = np.array([0.0, 1.0, 2.0, 1.0, 0.0, 1.0])
    b = np.array([0.0, 1.0, 0.5, 1.0, 0.0, 0.0])
    fig = te.plot_mismatch(a, b)
    ax = fig.axes[0]
    (sc,) = _scatters(ax)
    ref = _naive_mismatch(a, b, 0)
    k = np.flatnonzero(ref)
    np.testing.assert_allclose(np.asarray(sc.get_offsets())[:, 0], k + 0.5)
    np.testing.assert_allclose(sc.get_array(), ref[k])
    assert ax.get_title() == f"sign mismatches: {ref.sum():g}"


def test_mismatch_nan_policy_omit_drops_differences_touching_nan(rng):
    a = rng.standard_normal((7, 8))
    b = a + 0.8 * rng.standard_normal(a.shape)
    b[3, 4] = np.nan
    fig = te.plot_mismatch(a, b, mode="per-axis", nan_policy="omit")
    for i, (_, over) in enumerate(_overlays(fig)):
        ref = _naive_mismatch(a, np.nan_to_num(b), i)
        ref[3, 4] = 0.0  # the difference from the NaN cell ...
        if i == 0:
            ref[2, 4] = 0.0  # ... and the one into it
        else:
            ref[3, 3] = 0.0
        np.testing.assert_allclose(over.filled(0.0), ref)


def test_mismatch_errors():
    a = np.zeros((3, 4))
    with pytest.raises(InvalidOptionError, match="mode"):
        te.plot_mismatch(a, a, mode="both")
    with pytest.raises(InvalidOptionError, match="slices"):
        te.plot_mismatch(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), slices=[0])
    with pytest.raises(InvalidOptionError, match="out of range"):
        te.plot_mismatch(a, a, axis=2)
    with pytest.raises(InvalidInputError, match="sub-array"):
        te.plot_mismatch(np.zeros((2,) * 4), np.zeros((2,) * 4))
    bad = a.copy()
    bad[1, 1] = np.nan
    with pytest.raises(NonFiniteError):
        te.plot_mismatch(bad, a)


# ---------------------------------------------------------------------------- plot_critical_points


def _marker_sets(ax):
    """legend label prefix -> set of (x, y) marker positions."""
    out = {}
    for sc in _scatters(ax):
        label = sc.get_label().split(":")[0]
        out[label] = {tuple(p) for p in np.asarray(sc.get_offsets()).tolist()}
    return out


def _bumps(shape=(24, 30)):
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)

    def bump(cy, cx, h):
        return h * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 12.0)

    orig = bump(6, 7, 1.0) + bump(17, 22, 0.8) + 0.001 * x
    recon = bump(6, 7, 1.0) + 0.001 * x + bump(12, 12, 0.3)  # one bump lost, one added
    return orig, recon


def test_critical_points_2d_markers_at_error_positions():
    orig, recon = _bumps()
    err = te.critical_point_errors(orig, recon)
    assert err.false_negatives > 0 and err.false_positives > 0
    ax = te.plot_critical_points(orig, recon)
    marks = _marker_sets(ax)
    for kind, label in (
        ("false_negatives", "false negative (lost)"),
        ("false_positives", "false positive (added)"),
        ("false_types", "false type (retyped)"),
    ):
        pos = err.positions(kind)
        expected = {(float(c), float(r)) for r, c in pos}
        assert marks.get(label, set()) == expected, kind
    preserved = (err.orig.types > 0) & (err.orig.types == err.recon.types) & (err.error_map == 0)
    assert marks["preserved"] == {(float(c), float(r)) for r, c in np.argwhere(preserved)}
    assert ax.get_title() == (
        f"critical-point errors: {err.false_negatives} FN, {err.false_positives} FP, "
        f"{err.false_types} FT"
    )
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), orig)
    assert "preserved" not in _marker_sets(
        te.plot_critical_points(orig, recon, show_preserved=False)
    )


def test_critical_points_uses_given_errors(monkeypatch):
    orig, recon = _bumps()
    err = te.critical_point_errors(orig, recon, connectivity="freudenthal")
    import importlib

    cp = importlib.import_module(
        "topoeval.critical_points"
    )  # the module, not the same-named function

    def fail(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr(cp, "critical_point_errors", fail)
    ax = te.plot_critical_points(orig, recon, errors=err)
    assert f"{err.false_negatives} FN" in ax.get_title()
    with pytest.raises(InvalidOptionError, match="not the CriticalPointErrors of these arrays"):
        te.plot_critical_points(orig[:5], recon[:5], errors=err)


def test_critical_points_3d_slice_and_1d():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((5, 8, 9))
    b = a.copy()
    b[3] += 0.5 * rng.standard_normal((8, 9))  # most errors near slice 3
    err = te.critical_point_errors(a, b)
    for axis in (0, 2):
        counts = (err.error_map > 0).sum(axis=tuple(k for k in range(3) if k != axis))
        idx = int(np.argmax(counts))
        ax = te.plot_critical_points(a, b, errors=err, axis=axis)
        sl = ", ".join(str(idx) if k == axis else ":" for k in range(3))
        emap = np.take(err.error_map, idx, axis=axis)
        assert ax.get_title() == (
            f"critical-point errors [{sl}]: {int((emap == 1).sum())} FN, "
            f"{int((emap == 2).sum())} FP, {int((emap == 3).sum())} FT"
        )
        np.testing.assert_array_equal(ax.get_images()[0].get_array(), np.take(a, idx, axis=axis))
    ax = te.plot_critical_points(a, b, errors=err, axis=0, index=0)
    assert ax.get_title().startswith("critical-point errors [0, :, :]")

    x = np.array([0.0, 2.0, 1.0, 3.0, 0.5])
    y = np.array([0.0, 2.0, 2.5, 3.0, 0.5])
    err = te.critical_point_errors(x, y)
    ax = te.plot_critical_points(x, y)
    fn = {(float(i), float(x[i])) for (i,) in err.positions("false_negatives")}
    assert _marker_sets(ax)["false negative (lost)"] == fn


# ---------------------------------------------------------------------------- matching computed on demand


def test_matching_none_computes_the_wasserstein_matching():
    d1 = te.persistence_diagram(np.array([0.0, 3.0, 1.0, 4.0, 2.0, 5.0, 0.5]))
    d2 = te.persistence_diagram(np.array([0.0, 3.0, 1.5, 4.0, 2.0, 5.0, 0.7]))
    _, m = te.wasserstein_distance(d1, d2, matching=True)
    ax = te.plot_matching(d1, d2, highlight=0)
    assert len(_segments(ax)) == len(m)
    segs = {tuple(np.round(s.ravel(), 9)) for s in _segments(ax)}
    ref = {
        tuple(np.round(s.ravel(), 9)) for s in _segments(te.plot_matching(d1, d2, m, highlight=0))
    }
    assert segs == ref


def test_diagram_objects_from_persistence():
    a = np.array([[0.0, 3.0, 1.0], [4.0, 2.0, 5.0], [0.5, 6.0, 0.2]])
    sup = te.persistence_diagram(a, filtration="superlevel")
    ax = te.plot_diagram([te.persistence_diagram(a), sup], labels=["sub", "super"])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "+\u221e" in labels and "\u2212\u221e" in labels
    off = np.asarray(_scatters(ax)[1].get_offsets())
    fin = np.isfinite(sup.deaths)
    np.testing.assert_array_equal(off[fin], np.asarray(sup)[fin])


# ---------------------------------------------------------------------------- reproducibility


def test_png_bytes_are_deterministic_and_carry_no_version():
    d1, d2, m = _diagrams()
    pngs = []
    for _ in range(2):
        with pbase._style():
            pngs.append(_render(te.plot_matching(d1, d2, m).figure))
    assert pngs[0] == pngs[1]
    assert b"matplotlib" not in pngs[0].lower() and b"Software" not in pngs[0]


def test_style_ignores_user_rcparams():
    import matplotlib

    d1, _, _ = _diagrams()
    with pbase._style():
        ref = _render(te.plot_diagram(d1).figure)
    with matplotlib.rc_context({"axes.facecolor": "black", "font.size": 20}):
        with pbase._style():
            again = _render(te.plot_diagram(d1).figure)
    assert ref == again


def test_rms_difference_detects_a_changed_picture():
    d1, d2, m = _diagrams()
    with pbase._style():
        ref = _render(te.plot_diagram(d1).figure)
        moved = d1.copy()
        moved[1] = [0.2, 1.5]
        changed = _render(te.plot_diagram(moved).figure)
    assert rms_difference(ref, ref) == 0.0
    assert rms_difference(ref, changed) > 0.0
    # a different picture is far beyond the tolerance
    with pbase._style():
        other = _render(te.plot_matching(d1, d2, m).figure)
    assert rms_difference(ref, other) > BASELINE_TOL


def _baseline_fields():
    y, x = np.mgrid[0:24, 0:32] / 8.0
    a = np.sin(x) * np.cos(y)
    b = np.round(a * 4) / 4  # a coarse quantisation, like a lossy compressor
    return a, b


@pytest.mark.parametrize(
    "name",
    [
        "diagram",
        "diagram_superlevel",
        "matching",
        "fields2d",
        "fields1d",
        "mismatch2d",
        "critical_points",
    ],
)
def test_baseline(name):
    d1, d2, m = _diagrams()
    a, b = _baseline_fields()
    with pbase._style():
        if name == "diagram":
            fig = te.plot_diagram([d1, d2], labels=["orig", "recon"]).figure
        elif name == "diagram_superlevel":
            fig = te.plot_diagram(
                np.array([[5.0, -INF], [3.0, 1.0], [2.5, 2.0], [4.0, 0.5]])
            ).figure
        elif name == "matching":
            fig = te.plot_matching(d1, d2, m, title="matching").figure
        elif name == "fields2d":
            fig = te.plot_fields(a, b)
        elif name == "mismatch2d":
            fig = te.plot_mismatch(a, b, mode="per-axis")
        elif name == "critical_points":
            fig = te.plot_critical_points(*_bumps()).figure
        else:
            fig = te.plot_fields(a[3], b[3])
        png = _render(fig)
    _check_baseline(name, png)


# ---------------------------------------------------------------------------- by homology dimension


def _finite_offsets(sc) -> np.ndarray:
    return np.asarray(sc.get_offsets(), dtype=np.float64)


def test_diagram_by_dimension_colours_legend_and_points():
    """A dict of dimension -> Diagram (persistence_diagrams): one scatter per dimension, labelled
    H0, H1, H2, coloured by the dimension whatever else is drawn, the points of each diagram."""
    from matplotlib.colors import to_rgb

    rng = np.random.default_rng(51)
    a = np.round(rng.normal(size=(5, 6, 4)), 1)
    dgms = te.persistence_diagrams(a)
    ax = te.plot_diagram(dgms)
    sc = _scatters(ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [lab.split(" ")[0] for lab in labels] == ["H0", "H1", "H2"]
    for k, s in enumerate(sc):
        assert f"({len(dgms[k])} pts" in labels[k]
        assert np.allclose(s.get_facecolor()[0][:3], to_rgb(pbase._COLORS[k]))
        pts = np.asarray(dgms[k])
        fin = np.isfinite(pts[:, 1])
        got = _finite_offsets(s)
        assert np.allclose(got[fin], pts[fin])
    # dimension 2 alone keeps dimension 2's colour; keys out of order are drawn in order
    ax2 = te.plot_diagram({2: dgms[2], 1: dgms[1]})
    s1, s2 = _scatters(ax2)
    assert np.allclose(s1.get_facecolor()[0][:3], to_rgb(pbase._COLORS[1]))
    assert np.allclose(s2.get_facecolor()[0][:3], to_rgb(pbase._COLORS[2]))
    assert [t.get_text().split(" ")[0] for t in ax2.get_legend().get_texts()] == ["H1", "H2"]
    # string keys stay labels (not dimensions)
    ax3 = te.plot_diagram({"a": dgms[1], "b": dgms[2]})
    assert [t.get_text().split(" ")[0] for t in ax3.get_legend().get_texts()] == ["a", "b"]


def test_matching_by_dimension():
    """plot_matching of two dicts: every dimension's matching in one Axes (one segment per
    matching row), points coloured by dimension, hollow original / filled reconstruction."""
    from matplotlib.colors import to_rgb

    rng = np.random.default_rng(52)
    x = np.round(rng.normal(size=(9, 8)), 1)
    y = x + np.round(0.2 * rng.normal(size=x.shape), 1)
    a, b = te.persistence_diagrams(x), te.persistence_diagrams(y)
    ms = {k: te.wasserstein_distance(a[k], b[k], matching=True)[1] for k in a}
    ax = te.plot_matching(a, b, ms, highlight=2)
    assert len(_segments(ax)) == sum(m.shape[0] for m in ms.values())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:4] == [f"H0 original ({len(a[0])} pts, 1 \u221e)", f"H0 reconstruction ({len(b[0])} pts, 1 \u221e)",
                          f"H1 original ({len(a[1])} pts)", f"H1 reconstruction ({len(b[1])} pts)"]
    points = [s for s in _scatters(ax) if s.get_label().startswith("H")]
    assert np.allclose(points[2].get_edgecolor()[0][:3], to_rgb(pbase._COLORS[1]))  # hollow H1 original
    assert np.allclose(points[3].get_facecolor()[0][:3], to_rgb(pbase._COLORS[1]))  # filled H1 recon
    assert len(ax.texts) == 2  # the two costliest over all dimensions
    costs = np.concatenate([m[:, 2] for m in ms.values()])
    assert sorted(float(t.get_text()) for t in ax.texts) == pytest.approx(sorted(costs)[-2:], rel=1e-2)
    # matchings computed when not given: the same picture
    assert len(_segments(te.plot_matching(a, b))) == len(_segments(ax))
    with pytest.raises(InvalidInputError, match="same homology dimensions"):
        te.plot_matching(a, {0: b[0]})
    with pytest.raises(InvalidInputError, match="one matching per dimension"):
        te.plot_matching(a, b, ms[0])

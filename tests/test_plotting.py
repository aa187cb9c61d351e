"""Tests of topoeval.plotting: what is drawn (read back from the artists) and how it looks.

Baseline images
---------------
``tests/baseline/*.png`` are small reference renderings (drawn inside
``topoeval.plotting._style()``, the fixed style of the report).  ``test_baseline_*``
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

pytest.importorskip("matplotlib")

from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402

import topoeval as te  # noqa: E402
from topoeval import plotting  # noqa: E402
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
    return plotting._figure_png(fig, dpi=50)


def _check_baseline(name: str, png: bytes) -> None:
    path = BASELINE_DIR / f"{name}.png"
    if REGENERATE:
        BASELINE_DIR.mkdir(exist_ok=True)
        path.write_bytes(png)
        return
    assert path.exists(), f"{path} missing; regenerate with TOPOEVAL_REGENERATE_BASELINE=1 (see module docstring)"
    rms = rms_difference(png, path.read_bytes())
    assert rms < BASELINE_TOL, f"{name}: RMS pixel difference {rms:.2f} >= {BASELINE_TOL} vs {path}"


def _diagrams():
    d1 = np.array([[0.0, INF], [1.0, 3.0], [2.0, 2.5], [0.5, 1.0]])
    d2 = np.array([[0.1, INF], [1.2, 2.7], [0.4, 0.6]])
    m = np.array([[0, 0, 0.1], [1, 1, 0.3], [2, -1, 0.25], [3, 2, 0.4]])
    return d1, d2, m


# ---------------------------------------------------------------------------- packaging


def test_import_topoeval_plotting_does_not_import_matplotlib():
    code = "import sys, topoeval, topoeval.plotting; print('matplotlib' in sys.modules)"
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
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a (4 pts, 1 \u221e)", "b (3 pts, 1 \u221e)"]
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
    y_inf = [t for t, lab in zip(ax.get_yticks(), ax.get_yticklabels()) if lab.get_text() == "+\u221e"][0]
    assert (0.0, y_inf, 0.1, y_inf) in {tuple(s.ravel()) for s in segs}
    assert len(ax.texts) == 0


def test_matching_highlights_costliest():
    d1, d2, m = _diagrams()
    ax = te.plot_matching(d1, d2, m, highlight=2)
    red = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_linewidth()[0] == 2.0]
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


# ---------------------------------------------------------------------------- reproducibility


def test_png_bytes_are_deterministic_and_carry_no_version():
    d1, d2, m = _diagrams()
    pngs = []
    for _ in range(2):
        with plotting._style():
            pngs.append(_render(te.plot_matching(d1, d2, m).figure))
    assert pngs[0] == pngs[1]
    assert b"matplotlib" not in pngs[0].lower() and b"Software" not in pngs[0]


def test_style_ignores_user_rcparams():
    import matplotlib

    d1, _, _ = _diagrams()
    with plotting._style():
        ref = _render(te.plot_diagram(d1).figure)
    with matplotlib.rc_context({"axes.facecolor": "black", "font.size": 20}):
        with plotting._style():
            again = _render(te.plot_diagram(d1).figure)
    assert ref == again


def test_rms_difference_detects_a_changed_picture():
    d1, d2, m = _diagrams()
    with plotting._style():
        ref = _render(te.plot_diagram(d1).figure)
        moved = d1.copy()
        moved[1] = [0.2, 1.5]
        changed = _render(te.plot_diagram(moved).figure)
    assert rms_difference(ref, ref) == 0.0
    assert rms_difference(ref, changed) > 0.0
    # a different picture is far beyond the tolerance
    with plotting._style():
        other = _render(te.plot_matching(d1, d2, m).figure)
    assert rms_difference(ref, other) > BASELINE_TOL


def _baseline_fields():
    y, x = np.mgrid[0:24, 0:32] / 8.0
    a = np.sin(x) * np.cos(y)
    b = np.round(a * 4) / 4  # a coarse quantisation, like a lossy compressor
    return a, b


@pytest.mark.parametrize("name", ["diagram", "diagram_superlevel", "matching", "fields2d", "fields1d"])
def test_baseline(name):
    d1, d2, m = _diagrams()
    a, b = _baseline_fields()
    with plotting._style():
        if name == "diagram":
            fig = te.plot_diagram([d1, d2], labels=["orig", "recon"]).figure
        elif name == "diagram_superlevel":
            fig = te.plot_diagram(np.array([[5.0, -INF], [3.0, 1.0], [2.5, 2.0], [4.0, 0.5]])).figure
        elif name == "matching":
            fig = te.plot_matching(d1, d2, m, title="matching").figure
        elif name == "fields2d":
            fig = te.plot_fields(a, b)
        else:
            fig = te.plot_fields(a[3], b[3])
        png = _render(fig)
    _check_baseline(name, png)

"""Tests of topoeval.report: self-contained HTML reports, summary figures, batch and sweep reports.

``test_report_renders_in_headless_chromium`` opens a report in a real browser
(Debian's ``chromium``; skipped only where no Chromium binary exists - CI installs
it), checks that every <img> loaded, and that each image's region of a screenshot
is not blank.  ``test_baseline_sweep_figure`` compares a rendering with the stored
reference ``tests/baseline/sweep.png`` (regenerate as explained in
tests/test_plotting.py).
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import topoeval as te  # noqa: E402
from topoeval import report  # noqa: E402
from topoeval.report import batch as report_batch  # noqa: E402
from topoeval.report import comparison, figures, page  # noqa: E402
from topoeval.report import sweep as report_sweep  # noqa: E402
from topoeval.errors import (  # noqa: E402
    InvalidInputError,
    InvalidOptionError,
    MissingDependencyError,
    OutputExistsError,
    ShapeMismatchError,
    TopoevalIOError,
)

from .test_plotting import BASELINE_TOL, _check_baseline, rms_difference  # noqa: E402

IMG_RE = re.compile(
    r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)" width="(\d+)" height="(\d+)">'
)


# ---------------------------------------------------------------------------- fixtures / helpers


@pytest.fixture(autouse=True)
def _bare_figures():
    """Bare Figures even when another test module imported pyplot (see tests/test_plotting.py)."""
    from topoeval.plotting import base

    token = base._BARE_FIGURES.set(True)
    yield
    base._BARE_FIGURES.reset(token)


def _field(shape=(20, 24), seed=3):
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(0, 4, n) for n in shape], indexing="ij")
    a = sum(np.sin((k + 1.3) * g) for k, g in enumerate(grids)) + 0.05 * rng.standard_normal(shape)
    b = np.round(a * 3) / 3 + 0.01 * rng.standard_normal(shape)  # coarse, lossy
    return a, b


@pytest.fixture(scope="module")
def pair2d():
    a, b = _field()
    return a, b, te.compare(a, b)


@pytest.fixture(scope="module")
def report2d(pair2d, tmp_path_factory):
    """The report of ``pair2d``, written once for the tests that only read it."""
    a, b, c = pair2d
    path = report.write_report(tmp_path_factory.mktemp("report") / "r.html", c, a, b)
    return path, path.read_text(encoding="utf-8")


def _images(text: str):
    """[(alt, rgb array, (width, height))] of every embedded PNG."""
    from PIL import Image

    out = []
    for data, alt, w, h in IMG_RE.findall(text):
        raw = base64.b64decode(data)
        with Image.open(io.BytesIO(raw)) as im:
            im.load()
            rgb = np.asarray(im.convert("RGB"))
        out.append((html.unescape(alt), rgb, (int(w), int(h))))
    return out


def _assert_not_blank(rgb: np.ndarray, what: str) -> None:
    assert rgb.std() > 10, f"{what} looks blank (std {rgb.std():.2f})"
    non_white = (rgb < 235).any(axis=-1).mean()
    assert non_white > 0.02, f"{what} is almost all white ({non_white:.3%} non-white)"


def _assert_self_contained(text: str) -> None:
    assert text.startswith("<!DOCTYPE html>")
    assert "<script" not in text.lower()
    assert "<link" not in text.lower()
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    srcs = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "http://" not in text and "https://" not in text
    assert "url(" not in text  # no CSS resources


# ---------------------------------------------------------------------------- write_report


def test_report_is_self_contained_with_every_picture(report2d):
    out, text = report2d
    assert out.name == "r.html"
    _assert_self_contained(text)
    imgs = _images(text)
    alts = [alt for alt, _, _ in imgs]
    assert alts == [
        "original, reconstruction and difference",
        "sublevel persistence diagrams and matching",
        "sign mismatch map",
        "sign mismatch map per axis",
        "critical-point errors",
    ]
    for alt, rgb, (w, h) in imgs:
        assert rgb.shape[:2] == (h, w), alt  # the declared size is the image's size
        _assert_not_blank(rgb, alt)
    assert 'class="note"' not in text  # nothing failed to draw


def test_report_holds_metrics_options_and_version(report2d, pair2d):
    _, text = report2d
    a, b, c = pair2d
    row = c.to_row()
    for key in ("psnr", "exact_dsl", "cp_total_errors"):
        assert f'<td>{key}</td><td class="num">{html.escape(page._fmt(row[key]))}</td>' in text
    w = c.persistence["sublevel"]["wasserstein"]
    assert f'<td>wasserstein</td><td class="num">{page._fmt(w)}</td>' in text
    for opt in c.to_dict()["options"]:
        assert f"<td>{opt}</td>" in text
    assert f"topoeval {te.__version__}" in text
    assert "Wasserstein order 1, internal_p 2" in text


def test_report_refuses_to_overwrite_writes_atomically_and_deterministically(
    tmp_path, pair2d, report2d
):
    a, b, c = pair2d
    path = tmp_path / "r.html"
    path.write_text("keep me")
    with pytest.raises(OutputExistsError, match="force"):
        report.write_report(path, c, a, b)
    assert path.read_text() == "keep me"
    report.write_report(path, c, a, b, force=True)
    assert path.read_bytes() == report2d[0].read_bytes()  # same inputs, same bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]  # no temporary left behind
    with pytest.raises(TopoevalIOError, match="does not exist"):
        report.write_report(tmp_path / "missing" / "r.html", c, a, b)


def test_report_failure_leaves_no_file(tmp_path, pair2d, monkeypatch):
    a, b, c = pair2d

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(page, "_document", boom)  # the page shell every report writes through
    with pytest.raises(RuntimeError):
        report.write_report(tmp_path / "r.html", c, a, b)
    assert list(tmp_path.iterdir()) == []


def test_report_input_errors(tmp_path, pair2d):
    a, b, c = pair2d
    with pytest.raises(ShapeMismatchError, match="comparison was computed on shape"):
        report.write_report(tmp_path / "r.html", c, a[:-1], b[:-1])
    with pytest.raises(ShapeMismatchError):
        report.write_report(tmp_path / "r.html", c, a, b.T)
    with pytest.raises(InvalidInputError, match="not a topoeval Comparison"):
        report.write_report(tmp_path / "r.html", {"psnr": 3}, a, b)
    with pytest.raises(InvalidOptionError, match="not a file name"):
        report.write_report(3, c, a, b)
    assert list(tmp_path.iterdir()) == []


def test_missing_matplotlib_names_the_extra(tmp_path, pair2d, monkeypatch):
    a, b, c = pair2d
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match=r"topoeval\[plot\]"):
        report.write_report(tmp_path / "r.html", c, a, b)


def test_report_batch_axis_shows_the_worst_sample(tmp_path):
    rng = np.random.default_rng(11)
    a = np.cumsum(rng.standard_normal((4, 12, 14)), axis=2)
    b = a.copy()
    b[2] += 0.8 * rng.standard_normal((12, 14))  # sample 2 is damaged most
    c = te.compare(a, b, batch_axis=0)
    w = [
        te.wasserstein_distance(te.persistence_diagram(a[i]), te.persistence_diagram(b[i]))
        for i in range(4)
    ]
    worst = int(np.argmax(w))
    assert worst == 2
    text = report.write_report(tmp_path / "r.html", c, a, b).read_text(encoding="utf-8")
    assert f"Fields (sample {worst} along the batch axis 0)" in text
    assert len(_images(text)) == 5


@pytest.mark.parametrize("shape", [(60,), pytest.param((6, 9, 10), marks=pytest.mark.slow)])
def test_report_1d_and_3d(tmp_path, shape):
    a, b = _field(shape)
    c = te.compare(a, b, filtration="both")
    text = report.write_report(tmp_path / "r.html", c, a, b).read_text(encoding="utf-8")
    alts = [alt for alt, _, _ in _images(text)]
    assert "superlevel persistence diagrams and matching" in alts
    assert "critical-point errors" in alts and "sign mismatch map" in alts
    assert 'class="note"' not in text


def test_report_4d_draws_diagrams_and_notes_the_rest(tmp_path):
    a, b = _field((3, 4, 5, 6))
    c = te.compare(a, b)
    text = report.write_report(tmp_path / "r.html", c, a, b).read_text(encoding="utf-8")
    alts = [alt for alt, _, _ in _images(text)]
    assert alts == ["sublevel persistence diagrams and matching"]
    assert text.count('class="note"') == 3 and "pass a sub-array" in text


def test_report_with_omitted_nan_cells(tmp_path):
    a, b = _field()
    a[3, 4] = np.nan
    c = te.compare(a, b, nan_policy="omit")
    text = report.write_report(tmp_path / "r.html", c, a, b).read_text(encoding="utf-8")
    assert len(_images(text)) == 5 and 'class="note"' not in text


def test_report_respects_parts_switched_off(tmp_path):
    a, b = _field()
    c = te.compare(a, b, metrics=("pointwise",))
    text = report.write_report(tmp_path / "r.html", c, a, b).read_text(encoding="utf-8")
    assert [alt for alt, _, _ in _images(text)] == ["original, reconstruction and difference"]
    assert "Persistence" not in text and "Critical points" not in text


# ---------------------------------------------------------------------------- headless browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


_CHECK_SCRIPT = """<script>
window.addEventListener('load', function () {
  var res = Array.prototype.map.call(document.images, function (im) {
    var r = im.getBoundingClientRect();
    return {ok: im.complete && im.naturalWidth > 0, w: im.naturalWidth, h: im.naturalHeight,
            x: r.left + window.scrollX, y: r.top + window.scrollY, rw: r.width, rh: r.height};
  });
  var out = document.createElement('pre');
  out.id = 'imgcheck';
  out.textContent = JSON.stringify({images: res, height: document.documentElement.scrollHeight});
  document.body.appendChild(out);
});
</script>"""


def _run_chromium(binary: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_report_renders_in_headless_chromium(tmp_path, report2d):
    binary = _chromium()
    if binary is None:
        pytest.skip("no Chromium binary (apt-get install chromium)")
    from PIL import Image

    page = tmp_path / "report.html"
    page.write_bytes(report2d[0].read_bytes())
    n_img = len(_images(report2d[1]))
    # a copy with a tiny script that records, after loading, whether each <img> decoded and where
    # it lies (the report itself has no script and forbids one by its Content-Security-Policy)
    text = page.read_text(encoding="utf-8")
    text = text.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
    check = tmp_path / "check.html"
    check.write_text(text.replace("</body>", _CHECK_SCRIPT + "</body>"), encoding="utf-8")
    width = 1200
    res = _run_chromium(
        binary,
        tmp_path,
        "--virtual-time-budget=5000",
        f"--window-size={width},900",
        "--dump-dom",
        check.as_uri(),
    )
    m = re.search(r'<pre id="imgcheck">(.*?)</pre>', res.stdout, re.S)
    assert m, f"chromium printed no result: {res.stderr[-2000:]}"
    info = json.loads(html.unescape(m.group(1)))
    images = info["images"]
    assert len(images) == n_img == 5
    for k, im in enumerate(images):
        assert im["ok"], f"image {k} did not load in Chromium"
        assert im["w"] > 100 and im["h"] > 100 and im["rw"] > 50 and im["rh"] > 50

    height = int(info["height"]) + 10
    shot = tmp_path / "shot.png"
    res = _run_chromium(
        binary, tmp_path, f"--window-size={width},{height}", f"--screenshot={shot}", page.as_uri()
    )
    assert shot.exists(), f"no screenshot: {res.stderr[-2000:]}"
    with Image.open(shot) as im:
        px = np.asarray(im.convert("RGB"))
    assert px.shape[1] == width and px.shape[0] >= min(height, 16384) - 2
    _assert_not_blank(px, "screenshot")
    for k, im in enumerate(images):
        x0, y0 = int(im["x"]) + 2, int(im["y"]) + 2
        x1, y1 = int(im["x"] + im["rw"]) - 2, int(im["y"] + im["rh"]) - 2
        region = px[y0:y1, x0:x1]
        assert region.size, f"image {k} lies outside the screenshot"
        _assert_not_blank(region, f"image {k} in the screenshot")


# ---------------------------------------------------------------------------- summary figure


def test_summary_plot_png_deterministic(tmp_path, pair2d):
    from PIL import Image

    a, b, c = pair2d
    p1 = report.save_summary_plot(tmp_path / "s1.png", c, a, b)
    p2 = report.save_summary_plot(tmp_path / "s2.png", c, a, b)
    assert p1.read_bytes() == p2.read_bytes()
    assert b"Software" not in p1.read_bytes()
    with Image.open(p1) as im:
        rgb = np.asarray(im.convert("RGB"))
    assert rgb.shape[1] > 1000
    _assert_not_blank(rgb, "summary plot")
    with pytest.raises(OutputExistsError):
        report.save_summary_plot(p1, c, a, b)


@pytest.mark.slow
def test_summary_plot_formats(tmp_path, pair2d):
    a, b, c = pair2d
    svg = report.save_summary_plot(tmp_path / "s.svg", c, a, b).read_text()
    assert svg.lstrip().startswith("<?xml") and "<dc:date>" not in svg
    pdf = report.save_summary_plot(tmp_path / "s.pdf", c, a, b).read_bytes()
    assert pdf.startswith(b"%PDF") and b"CreationDate" not in pdf
    with pytest.raises(InvalidOptionError, match=r"\.png, \.svg or \.pdf"):
        report.save_summary_plot(tmp_path / "s.jpg", c, a, b)


def test_summary_plot_3d_uses_one_slice(tmp_path):
    a, b = _field((5, 12, 14))
    b[3] += 0.5  # slice 3 has the largest difference
    c = te.compare(a, b)
    view = comparison._View(c, a, b)
    from topoeval.plotting.base import _style

    with _style():
        fig = figures._summary_figure(view, c)
    titles = [ax.get_title() for ax in fig.get_axes()]
    assert any("[3, :, :]" in t and t.startswith("original") for t in titles)
    assert any("[3, :, :]" in t and t.startswith("critical-point errors") for t in titles)
    assert any("[3, :, :]" in t and t.startswith("axes") for t in titles)


# ---------------------------------------------------------------------------- batch report


@pytest.fixture(scope="module")
def batch_inputs(tmp_path_factory):
    import h5py

    rng = np.random.default_rng(5)
    orig = np.cumsum(rng.standard_normal((5, 10, 12)), axis=1).astype(np.float32)
    coarse = (np.round(orig * 2) / 2).astype(np.float32)
    noisy = (orig + 0.05 * rng.standard_normal(orig.shape)).astype(np.float32)
    noisy[3, 4, 5] = np.nan  # a failing sample
    path = tmp_path_factory.mktemp("batch") / "b.h5"
    with h5py.File(path, "w") as f:
        f["orig"] = orig
        f["rec/coarse"] = coarse
        f["rec/noisy"] = noisy
    res = te.batch("/orig", "/rec/*", file=path, jobs=1)
    return path, orig, {"/rec/coarse": coarse, "/rec/noisy": noisy}, res


def test_batch_report_distributions_worst_and_failed(tmp_path, batch_inputs):
    path, orig, recons, res = batch_inputs
    assert res.n_failed == 1
    text = report.write_batch_report(tmp_path / "b.html", res, file=path, n_worst=1).read_text()
    _assert_self_contained(text)
    imgs = _images(text)
    alts = [alt for alt, _, _ in imgs]
    assert alts[0] == "metric distributions"
    worst = {name: s["worst"] for name, s in res.summary.items()}
    for name in res.recons:
        first = next(iter(worst[name].values()))[0][0]
        assert f"{name} sample {first}" in alts
    for alt, rgb, _ in imgs:
        _assert_not_blank(rgb, alt)
    assert "Failed samples" in text and ("NaN" in text or "non-finite" in text)
    s = res.summary["/rec/coarse"]
    mean, std = (page._fmt(s["metrics"]["psnr"][k]) for k in ("mean", "std"))
    assert f'<td>psnr</td><td class="num">{mean}</td><td class="num">{std}</td>' in text
    assert "<th>/rec/coarse: mean</th><th>/rec/coarse: std</th><th>/rec/noisy: mean</th>" in text
    assert "<th>/rec/coarse: min</th>" in text


def test_batch_sample_loader_finds_the_data(tmp_path, batch_inputs):
    path, orig, recons, res = batch_inputs
    for loader in (
        report_batch._sample_loader(res, orig, recons, None),  # arrays
        report_batch._sample_loader(res, None, None, path),  # the batch's HDF5 file
        report_batch._sample_loader(res, f"{path}:/orig", {k: f"{path}:{k}" for k in recons}, None),
    ):
        xo, xr = loader("/rec/noisy", 3)
        np.testing.assert_array_equal(xo, orig[3])
        np.testing.assert_array_equal(xr, recons["/rec/noisy"][3])
    assert report_batch._sample_loader(res, None, None, None) is None
    assert report_batch._sample_loader(res, None, None, tmp_path / "nowhere.h5") is None
    assert report_batch._sample_loader(res, orig, {}, None)("/rec/coarse", 0) is None  # not given


def test_batch_report_without_data_has_no_sample_pictures(tmp_path, batch_inputs):
    _, _, _, res = batch_inputs
    bare = report.write_batch_report(tmp_path / "n.html", res).read_text()
    assert [alt for alt, _, _ in _images(bare)] == ["metric distributions"]
    assert "need the data" in bare


def test_batch_report_errors(tmp_path, batch_inputs):
    _, _, _, res = batch_inputs
    with pytest.raises(InvalidInputError, match="not a topoeval BatchResult"):
        report.write_batch_report(tmp_path / "b.html", [{"psnr": 1.0}])
    with pytest.raises(InvalidOptionError, match="n_worst"):
        report.write_batch_report(tmp_path / "b.html", res, n_worst=-1)
    (tmp_path / "b.html").write_text("x")
    with pytest.raises(OutputExistsError):
        report.write_batch_report(tmp_path / "b.html", res)


def test_batch_distribution_figure_boxes_match_data(batch_inputs):
    _, _, _, res = batch_inputs
    from topoeval.plotting.base import _style

    with _style():
        fig = figures._distribution_figure(res, ["psnr"])
    ax = fig.get_axes()[0]
    cols = res.columns
    for name, label in zip(res.recons, [t.get_text() for t in ax.get_yticklabels()]):
        assert label == name
    sel = (cols["recon"] == "/rec/coarse") & (cols["status"] == "ok")
    pts = [np.asarray(c.get_offsets())[:, 0] for c in ax.collections if hasattr(c, "get_offsets")]
    assert any(
        p.size == sel.sum() and np.allclose(np.sort(p), np.sort(cols["psnr"][sel])) for p in pts
    )


# ---------------------------------------------------------------------------- sweep report


def _sweep_rows():
    rows = []
    for comp, rates in (("sz3", (1.5, 3.0, 6.0)), ("zfp", (2.0, 4.0, 8.0))):
        for k, r in enumerate(rates):
            rows.append(
                {
                    "compressor": comp,
                    "bound": 10.0 ** -(k + 1),
                    "bit_rate": r,
                    "psnr": 30.0 + 6.0 * r,
                    "wasserstein_sublevel": 2.0 / r**2,
                    "exact_dsl": 1000.0 / r,
                    "cp_total_errors": max(0, 40 - 10 * int(r)),
                }
            )
    return rows


def test_sweep_report_accepts_every_row_layout(tmp_path):
    pytest.importorskip("pandas")
    import pandas as pd

    rows = _sweep_rows()
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    struct = np.array(
        [tuple(r.values()) for r in rows],
        dtype=[("compressor", "U8")] + [(k, "f8") for k in list(rows[0])[1:]],
    )
    for layout in (cols, struct, pd.DataFrame(rows)):
        assert report_sweep._sweep_rows(layout) == rows

    class Sweep:  # an object holding its rows, as the sweep command's result may
        def __init__(self, rows):
            self.rows = rows

    assert report_sweep._sweep_rows(Sweep(rows)) == rows
    text = report.write_sweep_report(tmp_path / "s.html", struct).read_text()
    _assert_self_contained(text)
    ((alt, rgb, _),) = _images(text)
    assert alt == "rate-distortion curves"
    _assert_not_blank(rgb, alt)
    assert text.count("<tr>") == 1 + len(rows)
    assert "<td>sz3</td>" in text and '<td class="num">1.5</td>' in text


def test_sweep_figure_curves_and_scales():
    from topoeval.plotting.base import _style

    rows = _sweep_rows()
    with _style():
        fig = figures._sweep_figure(rows, report_sweep._SWEEP_PANELS)
    axes = fig.get_axes()
    assert [ax.get_xscale() for ax in axes] == ["log"] * 4
    assert [ax.get_yscale() for ax in axes] == [
        "linear",
        "log",
        "log",
        "symlog",
    ]  # cp errors hold 0
    sz3 = axes[0].lines[0]
    np.testing.assert_array_equal(sz3.get_xdata(), [1.5, 3.0, 6.0])
    np.testing.assert_array_equal(sz3.get_ydata(), [39.0, 48.0, 66.0])
    assert [ln.get_label() for ln in axes[1].lines] == ["sz3", "zfp"]


def test_sweep_report_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="no rows"):
        report.write_sweep_report(tmp_path / "s.html", [])
    with pytest.raises(InvalidInputError, match="bit_rate"):
        report.write_sweep_report(tmp_path / "s.html", [{"compressor": "sz3", "psnr": 3.0}])
    with pytest.raises(InvalidInputError, match="different lengths"):
        report.write_sweep_report(
            tmp_path / "s.html", {"compressor": ["a"], "bit_rate": [1.0, 2.0]}
        )
    with pytest.raises(InvalidInputError, match="list of dicts"):
        report.write_sweep_report(tmp_path / "s.html", 42)
    text = report.write_sweep_report(
        tmp_path / "s.html", [{"compressor": "a", "bit_rate": 1.0}]
    ).read_text()
    assert "no curve drawn" in text


def test_sweep_report_fields_failures_and_violations(tmp_path):
    rows = []
    for field in ("u", "v"):
        for r in _sweep_rows():
            rows.append(
                {
                    "field": field,
                    **r,
                    "bound_ok": 1.0,
                    "max_error": 0.1,
                    "abs_bound": 0.2,
                    "status": "ok",
                    "error": "",
                }
            )
    rows[1]["bound_ok"] = 0.0  # u / sz3 at its second bound exceeded it
    rows[1]["max_error"] = 0.3
    rows[-1].update(status="failed", error="ValueError: boom", psnr=float("nan"))
    text = report.write_sweep_report(tmp_path / "s.html", rows).read_text()
    alts = [alt for alt, _, _ in _images(text)]
    assert alts == ["rate-distortion curves of u", "rate-distortion curves of v"]
    assert "1 failed, 1 bound violation(s)" in text
    assert "Error bound exceeded" in text and "u sz3 at bound 0.01: max error 0.3 &gt; 0.2" in text
    assert "ValueError: boom" in text
    from topoeval.plotting.base import _style

    with _style():
        fig = figures._sweep_figure(report_sweep._ok(rows), report_sweep._SWEEP_PANELS)
    ax = fig.get_axes()[0]
    assert [ln.get_label() for ln in ax.lines] == ["u: sz3", "u: zfp", "v: sz3", "v: zfp"]
    assert len(ax.lines[3].get_xdata()) == 2  # the failed run is left out
    circles = [c for c in ax.collections if len(c.get_offsets()) == 1]
    assert len(circles) == 1 and tuple(circles[0].get_offsets()[0]) == (3.0, 48.0)


def test_save_sweep_plot(tmp_path):
    rows = _sweep_rows()
    p = report.save_sweep_plot(tmp_path / "rd.png", rows)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"Software" not in p.read_bytes()
    with pytest.raises(OutputExistsError):
        report.save_sweep_plot(p, rows)
    with pytest.raises(InvalidOptionError, match=r"\.png"):
        report.save_sweep_plot(tmp_path / "rd.gif", rows)
    with pytest.raises(InvalidInputError, match="at least one of"):
        report.save_sweep_plot(tmp_path / "x.png", [{"compressor": "a", "bit_rate": 1.0}])


def test_baseline_sweep_figure():
    from topoeval.plotting.base import _figure_png, _style

    with _style():
        fig = figures._sweep_figure(_sweep_rows(), report_sweep._SWEEP_PANELS)
        png = _figure_png(fig, dpi=40)
    _check_baseline("sweep", png)
    assert BASELINE_TOL > 0 and rms_difference(png, png) == 0.0


def test_report_maps_mislabeled_cells_beside_the_dsl_map(tmp_path, pair2d):
    a, b, _ = pair2d
    c = te.compare(a, b, metrics="all,segmentation,pairs")
    text = report.write_report(tmp_path / "r.html", c, a, b).read_text(encoding="utf-8")
    assert "<h2>Morse segmentation</h2>" in text and 'alt="mislabeled cells"' in text
    assert text.index("Directional sign mismatches") < text.index("<h2>Morse segmentation</h2>")
    assert f"{c.seg_errors.false_labels} of {a.size} cells" in text
    for key in ("seg_false_labels", "pairs_false_negatives"):
        assert f'<td>{key}</td><td class="num">{html.escape(page._fmt(c.to_row()[key]))}</td>' in text
    plain = report.write_report(tmp_path / "p.html", te.compare(a, b), a, b).read_text(encoding="utf-8")
    assert "Morse segmentation" not in plain


def test_sweep_report_draws_the_segmentation_and_pairs_curves(tmp_path):
    rows = [{"compressor": "sz3", "bit_rate": r, "psnr": p, "seg_false_labels": s, "pairs_false_negatives": f}
            for r, p, s, f in [(1.5, 40.0, 900, 30), (3.0, 60.0, 120, 4), (6.0, 80.0, 0, 0)]]
    _, panels = report_sweep._prepare_sweep(rows)
    assert [p[0] for p in panels] == ["psnr", "seg_false_labels", "pairs_false_negatives"]
    from topoeval.plotting.base import _style

    with _style():
        fig = figures._sweep_figure(rows, panels)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert any("mislabeled cells" in t for t in titles) and any("pairs lost" in t for t in titles)


# ---------------------------------------------------------------------------- homology dimensions


def test_report_default_is_unchanged_by_dims(tmp_path, pair2d, report2d):
    """dims=0 gives byte for byte the report of a comparison without it."""
    a, b, _ = pair2d
    same = report.write_report(tmp_path / "r0.html", te.compare(a, b, dims=0), a, b).read_text()
    before_times = lambda t: t.split("<caption>Time spent")[0]  # noqa: E731 - the times differ
    assert before_times(same) == before_times(report2d[1])
    p0 = report.save_summary_plot(tmp_path / "s0.png", te.compare(a, b, dims=0), a, b)
    assert p0.read_bytes() == report.save_summary_plot(tmp_path / "s.png", pair2d[2], a, b).read_bytes()


def test_report_lists_and_draws_every_dimension(tmp_path):
    a, b = _field((14, 16))
    c = te.compare(a, b, dims=(0, 1), filtration="both")
    text = report.write_report(tmp_path / "d.html", c, a, b).read_text()
    _assert_self_contained(text)
    alts = [alt for alt, _, _ in _images(text)]
    assert "sublevel persistence diagrams of dimensions H0, H1 and matchings" in alts
    assert "superlevel persistence diagrams of dimensions H0, H1 and matchings" in alts
    assert "Per homology dimension" in text
    for key in ("sublevel_dim1", "superlevel_dim1"):
        w = c.persistence[key]["wasserstein"]
        assert f'<td class="num">{html.escape(page._fmt(w))}</td>' in text
    assert "Persistence, superlevel H1 (Wasserstein order 1" in text
    # the figure: the original's, the reconstruction's diagrams by dimension, all matchings
    view = comparison._View(c, a, b)
    by = view.by_filtration()
    assert sorted(by) == ["sublevel", "superlevel"] and sorted(by["sublevel"]) == [0, 1]
    from topoeval.plotting.base import _style

    with _style():
        fig = figures._summary_figure(view, c)
    ax = next(ax for ax in fig.get_axes() if ax.get_title() == "sublevel matchings")
    labels = [t.get_text().split(" (")[0] for t in ax.get_legend().get_texts()]
    assert labels[:4] == ["H0 original", "H0 reconstruction", "H1 original", "H1 reconstruction"]
    assert f"W sub H1 {page._fmt(c.persistence['sublevel_dim1']['wasserstein'])}" in figures._headline(c)
    # dims=(1,) alone: one dimension per filtration, its own titles
    c1 = te.compare(a, b, dims=1)
    with _style():
        fig = figures._summary_figure(comparison._View(c1, a, b), c1)
    assert any(ax.get_title() == "sublevel H1 matching" for ax in fig.get_axes())


def test_batch_and_sweep_reports_draw_the_dimensions(tmp_path):
    rng = np.random.default_rng(61)
    orig = np.round(rng.normal(size=(4, 9, 8)), 1)
    res = te.batch(orig, {"r": orig + np.round(0.2 * rng.normal(size=orig.shape), 1)}, jobs=1,
                   dims=(0, 1), metrics="pointwise,persistence")
    assert report_batch._key_metrics(report_batch._numeric_metrics(res))[:4] == [
        "psnr", "rmse", "max_abs_error", "wasserstein_sublevel"]
    key = report_batch._key_metrics(report_batch._numeric_metrics(res))
    assert key.index("wasserstein_sublevel_dim1") == key.index("bottleneck_sublevel") + 1
    report.write_batch_report(tmp_path / "b.html", res)
    rows = [dict(r, wasserstein_sublevel_dim1=r["wasserstein_sublevel"] / 2) for r in _sweep_rows()]
    _, panels = report_sweep._prepare_sweep(rows)
    assert ("wasserstein_sublevel_dim1", "Wasserstein distance (sublevel, H1)", True) in panels
    assert report_sweep._prepare_sweep(_sweep_rows())[1] == [
        p for p in report_sweep._SWEEP_PANELS if p[0] in _sweep_rows()[0]]

"""Tests of topoeval.sweep and the ``topoeval sweep`` command."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import topoeval as te
from topoeval.cli import cli
from topoeval.compressors import get_compressor
from topoeval.errors import InvalidOptionError, MissingDependencyError, OutputExistsError
from topoeval.sweep import BoundViolationWarning

_TIMES = ("compress_time", "decompress_time")


def _smooth(shape, seed):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    return gaussian_filter(rng.standard_normal(shape), 2.0).astype(np.float32)


def _min_neighbour_gap(a):
    """Smallest |a[p] - a[q]| over all pairs of cells in each other's 3^d - 1 neighbourhood."""
    a = a.astype(np.float64)
    gaps = []
    for off in np.ndindex(*([3] * a.ndim)):
        off = tuple(o - 1 for o in off)
        if all(o == 0 for o in off):
            continue
        src = tuple(slice(max(0, -o), a.shape[i] - max(0, o)) for i, o in enumerate(off))
        dst = tuple(slice(max(0, o), a.shape[i] - max(0, -o)) for i, o in enumerate(off))
        gaps.append(np.abs(a[src] - a[dst]).min())
    return float(min(gaps))


@pytest.fixture(scope="module")
def field():
    return _smooth((24, 20), 7)


@pytest.mark.parametrize("name", ["sz3", "zfp", "quantize", "bitround"])
def test_bound_holds_and_sizes_are_consistent(field, name):
    res = te.sweep({"f": field}, compressors=[name], bounds=[1e-1, 1e-3], metrics="pointwise")
    assert [r["status"] for r in res.rows] == ["ok", "ok"], res.rows
    comp = get_compressor(name)
    for r in res.rows:
        assert r["bound_ok"] == 1.0
        assert r["max_error"] <= r["bound"] * (1 + 1e-6)
        assert r["max_error"] == pytest.approx(r["max_abs_error"])
        nbytes = len(comp.compress(field, r["bound"]))  # the compressors are deterministic
        assert r["compressed_bytes"] == nbytes
        assert r["ratio"] == pytest.approx(field.nbytes / nbytes)
        assert r["bit_rate"] == pytest.approx(8 * nbytes / field.size)
        assert r["n_values"] == field.size
    # a tighter bound never costs fewer bits
    assert res.rows[0]["bit_rate"] <= res.rows[1]["bit_rate"]


def test_relative_mode_scales_by_value_range(field):
    res = te.sweep([field], compressors=["quantize"], bounds=[1e-2], mode="rel", metrics="pointwise")
    (r,) = res.rows
    rng_ = float(field.max()) - float(field.min())
    assert r["mode"] == "rel" and r["abs_bound"] == pytest.approx(1e-2 * rng_)
    assert r["max_error"] <= r["abs_bound"]


def test_zfp_rate_takes_rates(field):
    res = te.sweep([field], compressors=["zfp-rate"], rates=[4, 8], metrics="pointwise")
    assert [r["mode"] for r in res.rows] == ["rate", "rate"]
    assert all(math.isnan(r["bound_ok"]) for r in res.rows)
    # fixed rate: about the requested bits per value (plus a header)
    assert res.rows[0]["bit_rate"] == pytest.approx(4, abs=1.0)
    assert res.rows[1]["bit_rate"] == pytest.approx(8, abs=1.0)


@pytest.mark.parametrize("name", ["sz3", "zfp", "quantize"])
def test_tiny_bound_preserves_topology_as_stability_says(name):
    """Errors below half the smallest neighbour gap keep every order relation between neighbours:
    exact DSL 0, no critical-point error, and bottleneck <= bound (stability theorem)."""
    a = np.random.default_rng(3).permutation(24 * 24).reshape(24, 24).astype(np.float64) / 7.0
    bound = 0.49 * _min_neighbour_gap(a)
    res = te.sweep({"perm": a}, compressors=[name], bounds=[bound], filtration="both")
    (r,) = res.rows
    assert r["status"] == "ok", r["error"]
    assert r["max_error"] <= bound
    assert r["exact_dsl"] == 0
    assert r["cp_total_errors"] == 0
    assert r["bottleneck_sublevel"] <= bound
    assert r["bottleneck_superlevel"] <= bound


def test_loose_bound_does_change_topology(field):
    """The check above can fail: a loose bound breaks directions and creates critical points."""
    res = te.sweep({"f": field}, compressors=["quantize"], bounds=[0.2])
    (r,) = res.rows
    assert r["exact_dsl"] > 0 and r["cp_total_errors"] > 0


def _without_times(rows):
    """The rows without the (wall) times, NaN replaced by a marker so that == compares them."""
    return [{k: ("NaN" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()
             if k not in _TIMES} for r in rows]


def test_serial_and_parallel_identical(field):
    fields = {"a": field, "b": _smooth((16, 16), 11)}
    kw = {"compressors": ["quantize", "zfp"], "bounds": [1e-1, 1e-2]}
    serial = te.sweep(fields, jobs=1, **kw)
    pooled = te.sweep(fields, jobs=2, **kw)
    assert len(serial) == 8
    assert _without_times(serial.rows) == _without_times(pooled.rows)


class _Broken:
    name = "broken"
    bound_kind = "abs"

    def compress(self, array, bound):
        raise RuntimeError("compressor crashed")

    def decompress(self, data, shape, dtype):  # pragma: no cover
        raise AssertionError


class _Sloppy:
    """A user compressor that does not respect its bound (adds 3 x bound)."""

    name = "sloppy"
    bound_kind = "abs"

    def compress(self, array, bound):
        return (np.asarray(array, np.float64) + 3 * bound).tobytes()

    def decompress(self, data, shape, dtype):
        return np.frombuffer(data, dtype=np.float64).reshape(shape).astype(dtype)


def test_failing_compressor_is_recorded_not_fatal(field):
    res = te.sweep({"f": field}, compressors=[_Broken(), "quantize"], bounds=[1e-2], metrics="pointwise")
    assert [r["status"] for r in res.rows] == ["failed", "ok"]
    assert "compressor crashed" in res.rows[0]["error"]
    assert res.n_failed == 1


def test_bound_violation_is_loud(field):
    with pytest.warns(BoundViolationWarning, match="sloppy exceeded its error bound"):
        res = te.sweep({"f": field}, compressors=[_Sloppy()], bounds=[1e-2], metrics="pointwise")
    assert res.rows[0]["bound_ok"] == 0.0
    assert res.violations == res.rows


@pytest.mark.parametrize("name, module", [("sz3", "pysz"), ("zfp", "zfpy"), ("zfp-rate", "zfpy")])
def test_missing_extra_names_it(monkeypatch, field, name, module):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` raises ImportError
    with pytest.raises(MissingDependencyError, match=rf"{module}.*topoeval\[compressors\]"):
        te.sweep({"f": field}, compressors=["quantize", name], bounds=[1e-2])


def test_missing_dask_names_it(monkeypatch, field, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(MissingDependencyError, match=r"topoeval\[dask\]"):
        te.sweep({"f": field}, compressors=["quantize"], bounds=[1e-2], scheduler="local", jobs=2,
                 output=tmp_path / "rd.csv")
    assert list(tmp_path.iterdir()) == []  # no output, no empty journal


def test_bad_options_fail_up_front(field):
    with pytest.raises(InvalidOptionError, match="unknown compressor"):
        te.sweep([field], compressors=["gzip9"])
    with pytest.raises(InvalidOptionError, match="mode"):
        te.sweep([field], compressors=["quantize"], mode="relative")
    with pytest.raises(InvalidOptionError, match="positive"):
        te.sweep([field], compressors=["quantize"], bounds=[-1])
    with pytest.raises(InvalidOptionError):
        te.sweep([field], compressors=["quantize"], order=0.5)
    with pytest.raises(InvalidOptionError, match="unknown option"):
        te.sweep([field], compressors=["quantize"], colour="red")


def test_output_written_and_never_overwritten(tmp_path, field):
    out = tmp_path / "sweep.json"
    te.sweep({"f": field}, compressors=["quantize"], bounds=[1e-2], output=out, metrics="pointwise")
    data = json.loads(out.read_text())
    assert data["format"] == "topoeval-sweep" and len(data["rows"]) == 1
    assert not (tmp_path / "sweep.json.partial").exists()
    with pytest.raises(OutputExistsError):
        te.sweep({"f": field}, compressors=["quantize"], bounds=[1e-2], output=out)


def test_cli_sweep_csv(tmp_path):
    out = tmp_path / "rd.csv"
    result = CliRunner().invoke(cli, ["sweep", "sample_data/smooth2d.npy", "-c", "quantize", "-c", "zfp",
                                      "-e", "1e-1,1e-3", "-j", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["compressor"], float(r["bound"])) for r in rows] == [
        ("quantize", 0.1), ("quantize", 0.001), ("zfp", 0.1), ("zfp", 0.001)]
    assert {"ratio", "bit_rate", "psnr", "wasserstein_sublevel", "wasserstein_superlevel", "exact_dsl",
            "cp_total_errors", "compress_time"} <= set(rows[0])


def test_cli_sweep_usage_errors():
    runner = CliRunner()
    r = runner.invoke(cli, ["sweep", "sample_data/smooth2d.npy", "-e", "abc"])
    assert r.exit_code == 2 and "not a number" in r.output
    from topoeval.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["sweep", "sample_data/smooth2d.npy", "-c", "gzip9"])
    assert exc.value.code == 2


# ---------------------------------------------------------------------------------------------
# W1 and W2, and the inequalities every row must satisfy
# ---------------------------------------------------------------------------------------------
def _check_row_invariants(r):
    """What holds for every run whatever the compressor (stability theorem and norm inequalities)."""
    assert r["ratio"] * r["bit_rate"] == pytest.approx(8 * r["original_bytes"] / r["n_values"])
    assert r["compressed_bytes"] == pytest.approx(r["original_bytes"] / r["ratio"])
    tol = 1e-12 + 1e-9 * r["max_error"]
    for f in ("sublevel", "superlevel"):
        b, w1, w2 = r[f"bottleneck_{f}"], r[f"wasserstein_{f}"], r[f"wasserstein2_{f}"]
        assert b <= r["max_error"] + tol  # bottleneck stability: d_B <= ||f - g||_inf
        # internal_p = 2 >= the L-inf ground metric of the bottleneck; and ||.||_2 <= ||.||_1
        assert b <= w2 * (1 + 1e-9) + 1e-12
        assert w2 <= w1 * (1 + 1e-9) + 1e-12


def test_w1_and_w2_columns_are_the_distances_of_the_diagrams(field):
    res = te.sweep({"f": field}, compressors=["quantize", "zfp"], bounds=[0.05])
    for r in res.rows:
        comp = get_compressor(r["compressor"])
        recon = comp.decompress(comp.compress(field, 0.05), field.shape, field.dtype)
        for f in ("sublevel", "superlevel"):
            a = te.persistence_diagram(field.astype(np.float64), filtration=f)
            b = te.persistence_diagram(recon.astype(np.float64), filtration=f)
            assert r[f"wasserstein_{f}"] == pytest.approx(te.wasserstein_distance(a, b, order=1))
            assert r[f"wasserstein2_{f}"] == pytest.approx(te.wasserstein_distance(a, b, order=2))
            assert r[f"bottleneck_{f}"] == pytest.approx(te.bottleneck_distance(a, b))
            assert r[f"wasserstein2_{f}"] > 0
        _check_row_invariants(r)


def test_w2_with_order_2_and_a_batch_axis(field):
    stack = np.stack([field, field[::-1] * 2.0])
    (r2,) = te.sweep({"s": stack}, compressors=["quantize"], bounds=[0.1], order=2, batch_axis=0).rows
    (r1,) = te.sweep({"s": stack}, compressors=["quantize"], bounds=[0.1], batch_axis=0).rows
    # order=2: the wasserstein columns are W2 themselves; order 1 adds W2 combined over samples
    assert r2["wasserstein_sublevel"] == r2["wasserstein2_sublevel"]
    assert r1["wasserstein2_sublevel"] == pytest.approx(r2["wasserstein_sublevel"])
    assert r1["wasserstein_sublevel"] > r1["wasserstein2_sublevel"]


def test_no_persistence_no_w2_columns(field):
    (r,) = te.sweep({"f": field}, compressors=["quantize"], bounds=[0.1], metrics="pointwise,dsl").rows
    assert not any(k.startswith("wasserstein") for k in r)


# ---------------------------------------------------------------------------------------------
# the stability property on more shapes, compressors and seeds
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(300,), (18, 22), (6, 9, 8)])
@pytest.mark.parametrize("seed", [0, 1])
def test_bound_below_half_the_neighbour_gap_keeps_topology(shape, seed):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    # distinct values, scaled and shifted so the gaps are not all equal
    a = (np.sort(rng.uniform(0, 1, n))[rng.permutation(n)] * 3.0 - 1.0).reshape(shape)
    gap = _min_neighbour_gap(a)
    assert gap > 0
    bound = 0.45 * gap
    res = te.sweep({"a": a}, compressors=["sz3", "zfp", "quantize", "bitround"], bounds=[bound])
    for r in res.rows:
        assert r["status"] == "ok", r["error"]
        assert r["bound_ok"] == 1.0 and r["max_error"] <= bound
        assert r["exact_dsl"] == 0, r["compressor"]
        assert r["cp_total_errors"] == 0, r["compressor"]
        assert r["bottleneck_sublevel"] <= bound and r["bottleneck_superlevel"] <= bound
        _check_row_invariants(r)


# ---------------------------------------------------------------------------------------------
# the plug-in protocol: a tiny "autoencoder-like" codec (a linear autoencoder = PCA)
# ---------------------------------------------------------------------------------------------
class LinearAutoencoder:
    """Encoder: project each row on the first k principal axes learnt from training rows, store the
    code as float16; decoder: map the code back.  ``bound`` is the bit rate (16 k / row length)."""

    name = "linear-ae"
    bound_kind = "rate"

    def __init__(self, training_rows):
        x = np.asarray(training_rows, np.float64)
        self.mean = x.mean(axis=0)
        self.basis = np.linalg.svd(x - self.mean, full_matrices=False)[2].T  # (n, n) orthonormal

    def compress(self, array, bound):
        n = self.basis.shape[0]
        k = int(np.clip(round(bound * n / 16), 1, n))
        code = ((array.reshape(-1, n) - self.mean) @ self.basis[:, :k]).astype(np.float16)
        return np.int32(k).tobytes() + code.tobytes()

    def decompress(self, data, shape, dtype):
        k = int(np.frombuffer(data[:4], np.int32)[0])
        code = np.frombuffer(data[4:], np.float16).reshape(-1, k).astype(np.float64)
        return (code @ self.basis[:, :k].T + self.mean).reshape(shape).astype(dtype)


def test_user_codec_plugs_in_serially_and_in_parallel():
    train = _smooth((200, 32), 5)
    ae = LinearAutoencoder(train)
    fields = {"x": _smooth((48, 32), 6), "y": _smooth((40, 32), 8)}
    res = te.sweep(fields, compressors=[ae, "quantize"], bounds=[0.05], rates=[1, 4, 8], jobs=1)
    ae_rows = [r for r in res.rows if r["compressor"] == "linear-ae"]
    assert [(r["field"], r["bound"]) for r in ae_rows] == [
        ("x", 1.0), ("x", 4.0), ("x", 8.0), ("y", 1.0), ("y", 4.0), ("y", 8.0)]
    for r in ae_rows:
        assert r["status"] == "ok", r["error"]
        assert r["mode"] == "rate" and math.isnan(r["bound_ok"]) and math.isnan(r["abs_bound"])
        # 16 bits per code value + the 4-byte header
        assert r["bit_rate"] == pytest.approx(r["bound"], abs=32 / r["n_values"] + 1e-12)
        _check_row_invariants(r)
    for fname in fields:
        rmse = [r["rmse"] for r in ae_rows if r["field"] == fname]
        assert rmse[0] > rmse[1] > rmse[2]  # more bits per value, smaller error
    assert [r["compressor"] for r in res.rows[3:4]] == ["quantize"]
    pooled = te.sweep(fields, compressors=[ae, "quantize"], bounds=[0.05], rates=[1, 4, 8], jobs=2)
    assert _without_times(pooled.rows) == _without_times(res.rows)


def test_user_codec_without_methods_is_refused(field):
    class NoDecoder:
        name = "half"

        def compress(self, array, bound):
            return b""

    with pytest.raises(InvalidOptionError, match="no decompress"):
        te.sweep([field], compressors=[NoDecoder()])

    class Relative(_Sloppy):
        bound_kind = "rel"

    with pytest.raises(InvalidOptionError, match="bound_kind='rel'"):
        te.sweep([field], compressors=[Relative()])
    # bounds as a NumPy scalar or array
    res = te.sweep([field], compressors=["quantize"], bounds=np.float32(0.5), metrics="pointwise")
    assert [r["bound"] for r in res.rows] == [0.5]
    res = te.sweep([field], compressors=["quantize"], bounds=np.array([0.5, 0.25]), metrics="pointwise")
    assert [r["bound"] for r in res.rows] == [0.5, 0.25]


# ---------------------------------------------------------------------------------------------
# zfp-rate below ZFP's minimum rate: a failed run with a message, not a crashed process
# ---------------------------------------------------------------------------------------------
def test_zfp_rate_below_the_block_header_is_a_failed_run():
    a = _smooth((2048,), 2)  # 1-D float32: ZFP needs >= 9 / 4 bits per value
    res = te.sweep({"a": a}, compressors=["zfp-rate"], rates=[1, 2.25, 4], metrics="pointwise")
    assert [r["status"] for r in res.rows] == ["failed", "ok", "ok"]
    assert "at least 2.25 bits per value" in res.rows[0]["error"]
    assert res.rows[1]["bit_rate"] == pytest.approx(2.25, abs=0.1)


def test_default_rates_are_bit_rates(field):
    res = te.sweep({"f": field}, compressors=["zfp-rate"], metrics="pointwise")
    assert [r["bound"] for r in res.rows] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert all(r["status"] == "ok" for r in res.rows)
    assert [round(r["bit_rate"]) for r in res.rows] == [1, 2, 4, 8, 16]


# ---------------------------------------------------------------------------------------------
# parallel on Dask, progress, journal
# ---------------------------------------------------------------------------------------------
def test_dask_local_rows_equal_the_serial_rows(field):
    pytest.importorskip("distributed")
    fields = {"a": field, "b": _smooth((16, 16), 11)}
    # (persistence left out: Dask's fresh worker processes would spend most of the test compiling;
    # the process-pool test above compares every metric)
    kw = {"compressors": ["quantize", "zfp", _Broken()], "bounds": [1e-1, 1e-2],
          "metrics": "pointwise,dsl,critical_points"}
    serial = te.sweep(fields, jobs=1, **kw)
    on_dask = te.sweep(fields, jobs=2, scheduler="local", **kw)
    assert len(serial) == 12 and serial.n_failed == 4
    assert _without_times(on_dask.rows) == _without_times(serial.rows)


def test_progress_and_journal_as_runs_complete(tmp_path, field):
    out = tmp_path / "rd.csv"
    journal = tmp_path / "rd.csv.partial"
    seen = []

    def progress(done, total):
        lines = journal.read_text().splitlines() if journal.exists() else None
        seen.append((done, total, None if lines is None else len(lines)))

    te.sweep({"f": field}, compressors=["quantize", "bitround"], bounds=[1e-1, 1e-2, 1e-3], output=out,
             on_progress=progress, metrics="pointwise")
    # (0, 6) before the first run, then each finished run is in the journal when reported
    assert seen == [(0, 6, 0)] + [(k, 6, k) for k in range(1, 7)]
    assert not journal.exists()
    with open(out) as fh:
        assert len(list(csv.DictReader(fh))) == 6


class _Interrupting:
    """Compresses like quantize until the n-th call, then raises KeyboardInterrupt (Ctrl-C)."""

    name = "interrupting"
    bound_kind = "abs"

    def __init__(self, n):
        self.n, self.calls = n, 0
        self.inner = get_compressor("quantize")

    def compress(self, array, bound):
        self.calls += 1
        if self.calls > self.n:
            raise KeyboardInterrupt
        return self.inner.compress(array, bound)

    def decompress(self, data, shape, dtype):
        return self.inner.decompress(data, shape, dtype)


def test_interrupted_sweep_leaves_the_finished_rows_in_the_journal(tmp_path, field):
    out = tmp_path / "rd.json"
    with pytest.raises(KeyboardInterrupt):
        te.sweep({"f": field}, compressors=[_Interrupting(2)], bounds=[1e-1, 1e-2, 1e-3], output=out,
                 metrics="pointwise")
    assert not out.exists()
    rows = [json.loads(line) for line in (tmp_path / "rd.json.partial").read_text().splitlines()]
    assert [(r["bound"], r["status"]) for r in rows] == [(0.1, "ok"), (0.01, "ok")]


def test_h5_output_and_non_ascii_names(tmp_path, field):
    h5py = pytest.importorskip("h5py")
    out = tmp_path / "rd.h5"
    res = te.sweep({"höhe": field}, compressors=["quantize", _Broken()], bounds=[1e-2], output=out,
                   metrics="pointwise")
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "topoeval-sweep"
        assert json.loads(f.attrs["columns"]) == res.column_names
        g = f["rows"]
        assert [s.decode() for s in g["field"][()]] == ["höhe", "höhe"]
        assert [s.decode() for s in g["status"][()]] == ["ok", "failed"]
        np.testing.assert_array_equal(g["psnr"][()], res.columns["psnr"])
        assert math.isnan(g["psnr"][1])


def test_files_with_the_same_stem_get_their_paths_as_names(tmp_path, field):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        np.save(tmp_path / d / "u.npy", field)
    paths = [str(tmp_path / "a" / "u.npy"), str(tmp_path / "b" / "u.npy")]
    res = te.sweep(paths, compressors=["quantize"], bounds=[1e-2], metrics="pointwise")
    assert [r["field"] for r in res.rows] == paths
    res = te.sweep(paths[:1], compressors=["quantize"], bounds=[1e-2, 1e-2], metrics="pointwise")
    assert [r["field"] for r in res.rows] == ["u"]  # and a repeated bound runs once


def test_output_in_a_missing_folder_fails_before_any_work(tmp_path, field):
    from topoeval.errors import TopoevalIOError

    with pytest.raises(TopoevalIOError, match="does not exist"):
        te.sweep({"f": field}, compressors=[_Broken()], output=tmp_path / "no" / "rd.csv")


# ---------------------------------------------------------------------------------------------
# the command line: several fields, compressors and bounds; every output; --mode; --report/--plot
# ---------------------------------------------------------------------------------------------
def test_cli_every_output_report_and_plot(tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(a, _smooth((20, 24), 1))
    np.save(b, _smooth((6, 10, 12), 2))
    args = ["sweep", str(a), str(b), "-c", "quantize", "-c", "zfp", "-c", "zfp-rate", "-e", "1e-1,1e-3",
            "--rate", "2,8", "--mode", "rel", "-j", "1"]
    runner = CliRunner()
    r = runner.invoke(cli, [*args, "-o", str(tmp_path / "rd.json"), "--report", str(tmp_path / "rd.html"),
                            "--plot", str(tmp_path / "rd.png")])
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "rd.json").read_text())
    rows = data["rows"]
    assert [(x["field"], x["compressor"], x["bound"]) for x in rows] == [
        (f, c, v) for f in ("a", "b") for c, vals in (("quantize", (0.1, 0.001)), ("zfp", (0.1, 0.001)),
                                                      ("zfp-rate", (2.0, 8.0))) for v in vals]
    for x in rows:
        assert x["status"] == "ok"
        assert x["mode"] == ("rate" if x["compressor"] == "zfp-rate" else "rel")
        if x["mode"] == "rel":
            assert x["abs_bound"] == pytest.approx(x["bound"] * x["value_range"], rel=1e-6)
            assert x["max_error"] <= x["abs_bound"]
        assert {"wasserstein2_sublevel", "wasserstein2_superlevel", "bottleneck_superlevel",
                "cp_false_positives", "cp_false_negatives", "cp_false_types", "dsl", "exact_dsl",
                "decompress_time"} <= set(x)
    html = (tmp_path / "rd.html").read_text()
    assert html.count("data:image/png;base64,") == 2  # one figure per field
    assert (tmp_path / "rd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the same sweep to .h5 and .csv: the same rows
    r = runner.invoke(cli, [*args, "-o", str(tmp_path / "rd.h5")])
    assert r.exit_code == 0, r.output
    import h5py

    with h5py.File(tmp_path / "rd.h5") as f:
        np.testing.assert_allclose(f["rows/psnr"][()], [x["psnr"] for x in rows])
    # an existing output is refused before any work, --force replaces it
    r = runner.invoke(cli, [*args, "-o", str(tmp_path / "rd.h5")])
    assert r.exit_code != 0 and "exists" in str(r.output) + str(r.exception)


def test_cli_bound_violation_is_loud(monkeypatch):
    from topoeval import compressors

    class Sloppy(_Sloppy):
        def __init__(self):
            pass

    monkeypatch.setitem(compressors._REGISTRY, "sloppy", (Sloppy, None))
    r = CliRunner().invoke(cli, ["sweep", "sample_data/smooth2d.npy", "-c", "sloppy", "-c", "quantize",
                                 "-e", "1e-2", "-j", "1", "--metrics", "pointwise"])
    assert r.exit_code == 1
    assert "BOUND VIOLATED: sloppy on smooth2d at bound 0.01: max error 0.03" in r.output
    assert "quantize on" not in r.output


def test_cli_failed_run_is_reported_and_exit_status_1(monkeypatch):
    from topoeval import compressors

    monkeypatch.setitem(compressors._REGISTRY, "broken", (_Broken, None))
    r = CliRunner().invoke(cli, ["sweep", "sample_data/smooth2d.npy", "-c", "broken", "-c", "quantize",
                                 "-e", "1e-2", "-j", "1", "--metrics", "pointwise"])
    assert r.exit_code == 1
    assert "1 of 2 runs failed" in r.output and "RuntimeError: compressor crashed" in r.output


def test_cli_missing_extra_names_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "zfpy", None)  # `import zfpy` raises ImportError
    from topoeval.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["sweep", "sample_data/smooth2d.npy", "-c", "quantize", "-c", "zfp", "-j", "1"])
    assert exc.value.code != 0
    err = capsys.readouterr().err
    assert "zfpy" in err and "topoeval[compressors]" in err


def test_cli_drives_the_progress_bar(monkeypatch):
    from topoeval.cli import batch as cli_batch

    calls, stopped = [], []

    def fake_progress(label, unit):
        assert (label, unit) == ("sweep", "runs")
        return (lambda done, total: calls.append((done, total))), (lambda: stopped.append(True))

    monkeypatch.setattr(cli_batch, "_progress", fake_progress)
    r = CliRunner().invoke(cli, ["sweep", "sample_data/sinusoid1d.npy", "-c", "quantize", "-e", "1e-1,1e-2,1e-3",
                                 "-j", "1", "--metrics", "pointwise"])
    assert r.exit_code == 0, r.output
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)] and stopped == [True]


# ---------------------------------------------------------------------------------------------
# stopped by a signal, then resumed
# ---------------------------------------------------------------------------------------------
class GatedQuantize:
    """quantize, but bounds below 1 / $TE_HOLD wait at the gate of tests/test_batch.py."""

    name = "gated"
    bound_kind = "abs"

    def __init__(self):
        self.inner = get_compressor("quantize")

    def compress(self, array, bound):
        from tests.test_batch import _hold_at_gate

        _hold_at_gate(1.0 / bound)
        return self.inner.compress(array, bound)

    def decompress(self, data, shape, dtype):
        return self.inner.decompress(data, shape, dtype)


_SWEEP_CHILD = """
import sys
from topoeval import compressors
from tests.test_sweep import GatedQuantize
compressors._REGISTRY["gated"] = (GatedQuantize, None)
from topoeval.cli import main
main(sys.argv[1:])
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="checks the workers in /proc")
@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_cli_signal_stops_the_workers_then_resume(tmp_path, monkeypatch, sig, status):
    from tests.test_batch import _gate_env, _gone, _lines, _stop_a_cli_run

    out, journal = tmp_path / "rd.json", tmp_path / "rd.json.partial"
    bounds = "1e-1,1e-2,1e-3,5e-4,2e-4,1e-4"
    args = ["sweep", "sample_data/smooth2d.npy", "-c", "gated", "-e", bounds, "-j", "2", "-o", str(out),
            "--metrics", "pointwise"]
    # the first two runs finish, each worker then waits in a run below 1 / 500
    code, stderr, workers = _stop_a_cli_run(tmp_path, args, sig, ready=lambda: len(_lines(journal)) == 2,
                                            child=_SWEEP_CHILD, hold=500)
    assert code == status
    assert stderr.splitlines() == [
        f"topoeval: stopped by {signal.Signals(sig).name}; 2 of 6 runs are kept in {out}.partial - "
        "rerun the same command with --resume to continue"]
    assert all(_gone(pid) for pid in workers)
    assert sorted(json.loads(line)["bound"] for line in _lines(journal)) == [0.01, 0.1]  # completion order
    # --resume runs the other four only (quantize is deterministic: the rows of a fresh sweep)
    (tmp_path / "gate").touch()
    for k, v in _gate_env(tmp_path, 500).items():
        monkeypatch.setenv(k, v)
    from topoeval import compressors

    monkeypatch.setitem(compressors._REGISTRY, "gated", (GatedQuantize, None))
    r = CliRunner().invoke(cli, [*args, "--resume"])
    assert r.exit_code == 0, r.output
    rows = json.loads(out.read_text())["rows"]
    assert [x["bound"] for x in rows] == [0.1, 0.01, 0.001, 0.0005, 0.0002, 0.0001]
    fresh = te.sweep({"smooth2d": np.load("sample_data/smooth2d.npy")}, compressors=["quantize"],
                     bounds=[0.1, 0.01, 0.001, 0.0005, 0.0002, 0.0001], metrics="pointwise")
    assert [x["psnr"] for x in rows] == [x["psnr"] for x in fresh.rows]
    assert not journal.exists()


def test_resume_keeps_finished_runs_and_refuses_other_options(tmp_path, field):
    out = tmp_path / "rd.csv"
    kw = {"compressors": ["quantize"], "output": out, "metrics": "pointwise"}
    first = te.sweep({"f": field}, bounds=[1e-1, 1e-2], **kw)
    with pytest.raises(OutputExistsError, match="--resume"):
        te.sweep({"f": field}, bounds=[1e-1, 1e-2, 1e-3], **kw)
    # an interrupted run's journal is refused without --resume, continued with it
    with pytest.raises(KeyboardInterrupt):
        te.sweep({"f": field}, bounds=[1e-1, 1e-2, 1e-3], compressors=[_Interrupting(1)],
                 output=tmp_path / "rd.json", metrics="pointwise")
    with pytest.raises(OutputExistsError, match="--resume"):
        te.sweep({"f": field}, bounds=[1e-1], compressors=["quantize"], output=tmp_path / "rd.json")
    with pytest.raises(InvalidOptionError, match="cannot resume.*metrics='pointwise' in the output"):
        te.sweep({"f": field}, bounds=[1e-1, 1e-2, 1e-3], compressors=[_Interrupting(5)],
                 output=tmp_path / "rd.json", metrics="pointwise,dsl", resume=True)
    again = te.sweep({"f": field}, bounds=[1e-1, 1e-2, 1e-3], compressors=[_Interrupting(5)],
                     output=tmp_path / "rd.json", metrics="pointwise", resume=True)
    assert [r["status"] for r in again.rows] == ["ok"] * 3
    # a finished output: its runs are read back, not run again
    more = te.sweep({"f": field}, bounds=[1e-1, 1e-2, 1e-3], resume=True, **kw)
    assert [r["compress_time"] for r in more.rows[:2]] == [r["compress_time"] for r in first.rows]



# ---------------------------------------------------------------------------------------------
# homology dimensions (issue 19 point 4)
# ---------------------------------------------------------------------------------------------
def test_dims_columns_are_the_distances_of_each_dimension(field):
    """dims=(0, 1): W1, W2 and bottleneck of dimension 1 of both filtrations, straight from
    persistence_diagrams; dimension 0's columns as without dims."""
    res = te.sweep({"f": field}, compressors=["quantize"], bounds=[0.05], dims=(0, 1))
    base = te.sweep({"f": field}, compressors=["quantize"], bounds=[0.05])
    (r,), (r0,) = res.rows, base.rows
    assert all(r[k] == r0[k] for k in r0 if k not in _TIMES)
    comp = get_compressor("quantize")
    recon = comp.decompress(comp.compress(field, 0.05), field.shape, field.dtype)
    for f in ("sublevel", "superlevel"):
        a = te.persistence_diagrams(field.astype(np.float64), dims=1, filtration=f)[1]
        b = te.persistence_diagrams(recon.astype(np.float64), dims=1, filtration=f)[1]
        assert r[f"wasserstein_{f}_dim1"] == pytest.approx(te.wasserstein_distance(a, b, order=1), rel=1e-12)
        assert r[f"wasserstein2_{f}_dim1"] == pytest.approx(te.wasserstein_distance(a, b, order=2), rel=1e-12)
        assert r[f"bottleneck_{f}_dim1"] == pytest.approx(te.bottleneck_distance(a, b), rel=1e-12)
        assert r[f"n_points_orig_{f}_dim1"] == len(a) > 0
    assert res.options["dims"] == "0,1" and "dims" not in base.options


def test_dims_out_of_range_fails_before_compressing(field, tmp_path):
    with pytest.raises(InvalidOptionError, match=r"dims has 2 but a 2-D field .* 0\.\.1 .*field 'f'"):
        te.sweep({"f": field}, compressors=["quantize"], bounds=[0.05], dims=(0, 2))
    np.save(tmp_path / "g.npy", field)  # a file: its shape read without loading it
    with pytest.raises(InvalidOptionError, match="2-D field"):
        te.sweep([str(tmp_path / "g.npy")], compressors=["quantize"], bounds=[0.05], dims=2)


def test_cli_sweep_dims(tmp_path):
    out = tmp_path / "rd.json"
    runner = CliRunner()
    r = runner.invoke(cli, ["sweep", "sample_data/smooth2d.npy", "-c", "quantize", "-e", "1e-2", "-j", "1",
                            "--metrics", "persistence", "--dims", "0,1", "-o", str(out)])
    assert r.exit_code == 0, r.output
    (row,) = json.loads(out.read_text())["rows"]
    assert {"wasserstein_sublevel_dim1", "wasserstein2_superlevel_dim1", "bottleneck_sublevel"} <= set(row)
    assert "wasserstein_sublevel_dim1" in r.output.splitlines()[0]  # a column of the table printed
    from topoeval.cli import main

    with pytest.raises(SystemExit) as exc:  # one line, exit 2 (bad usage), before any compression
        main(["sweep", "sample_data/smooth2d.npy", "-c", "quantize", "--dims", "5"])
    assert exc.value.code == 2

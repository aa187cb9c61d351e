"""Tests of topoeval.sweep and the ``topoeval sweep`` command."""

from __future__ import annotations

import builtins
import csv
import json
import math

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
    return [{k: v for k, v in r.items() if k not in _TIMES} for r in rows]


def test_serial_and_parallel_identical(field):
    fields = {"a": field, "b": _smooth((16, 16), 11)}
    kw = dict(compressors=["quantize", "zfp"], bounds=[1e-1, 1e-2])
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


def test_missing_extra_names_it(monkeypatch, field):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "pysz" or name.startswith("pysz."):
            raise ImportError("No module named 'pysz'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.delitem(__import__("sys").modules, "pysz", raising=False)
    with pytest.raises(MissingDependencyError, match=r"topoeval\[compressors\]"):
        te.sweep({"f": field}, compressors=["sz3"], bounds=[1e-2])


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

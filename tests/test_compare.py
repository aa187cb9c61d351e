"""te.compare / Comparison: parts agree with the modules and with gudhi/POT oracles end to end."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import topoeval as te
from topoeval.dsl import dsl as dsl_fn
from topoeval.dsl import exact_dsl
from topoeval.errors import InvalidOptionError, NonFiniteError, ShapeMismatchError

from .naive import naive_masked_exact_dsl, naive_pointwise_metrics

ALL_PARTS = ("pointwise", "dsl", "persistence", "critical_points")


def pair(seed, shape=(12, 10), noise=0.1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).cumsum(axis=0)
    y = x + noise * rng.normal(size=shape)
    return x, y


def test_parts_agree_with_modules():
    x, y = pair(1, (6, 9, 8))
    c = te.compare(x, y, filtration="both", order=2.0, internal_p=np.inf, sharpness=5.0, sign="softsign",
                   weights=(1.0, 0.5, 0.0), min_persistence=0.05)
    m = te.pointwise_metrics(x, y)
    assert dict(c.pointwise) == m
    assert c.dsl["exact_dsl"] == exact_dsl(y, x, weights=(1.0, 0.5, 0.0))
    assert c.dsl["exact_dsl_rate"] == pytest.approx(exact_dsl(y, x, weights=(1.0, 0.5, 0.0), normalize=True))
    assert c.dsl["dsl"] == pytest.approx(dsl_fn(y, x, sharpness=5.0, sign="softsign", weights=(1.0, 0.5, 0.0)))
    assert c.dsl["sharpness"] == 5.0
    for filt in ("sublevel", "superlevel"):
        a = te.persistence_diagram(x, filtration=filt)
        b = te.persistence_diagram(y, filtration=filt)
        assert c.diagrams[filt][0] == a and c.diagrams[filt][1] == b
        p = c.persistence[filt]
        assert p["wasserstein"] == pytest.approx(te.wasserstein_distance(a, b, order=2.0, internal_p=np.inf))
        assert p["bottleneck"] == pytest.approx(te.bottleneck_distance(a, b))
        assert (p["n_points_orig"], p["n_points_recon"]) == (len(a), len(b))
        # the matching kept for plots achieves the distance
        mt = c.matchings[filt]
        assert mt.ndim == 2 and mt.shape[1] == 3
        assert np.sum(mt[:, 2] ** 2) ** 0.5 == pytest.approx(p["wasserstein"], rel=1e-9)
    assert c.critical_points == te.critical_point_errors(x, y, min_persistence=0.05).to_row()
    assert c.options["order"] == 2.0 and c.options["internal_p"] == math.inf and c.options["sign"] == "softsign"


@pytest.mark.parametrize("seed", range(6))
def test_against_gudhi_pot_end_to_end(seed):
    """Wasserstein / bottleneck of compare() equal gudhi's on gudhi's own cubical diagrams."""
    gudhi = pytest.importorskip("gudhi")
    from gudhi.wasserstein import wasserstein_distance as gudhi_w

    rng = np.random.default_rng(100 + seed)
    shape = tuple(rng.integers(3, 9, size=rng.integers(1, 4)))
    x = np.round(rng.normal(size=shape), 1)  # ties
    y = x + np.round(0.3 * rng.normal(size=shape), 1)
    order = [1.0, 2.0][seed % 2]
    c = te.compare(x, y, metrics="persistence", filtration="both", order=order)

    def dgm(a):
        cc = gudhi.CubicalComplex(top_dimensional_cells=a)
        cc.compute_persistence()
        return cc.persistence_intervals_in_dimension(0)

    for filt, sgn in (("sublevel", 1.0), ("superlevel", -1.0)):
        da, db = dgm(sgn * x), dgm(sgn * y)
        fin = lambda d: d[np.isfinite(d[:, 1])]  # noqa: E731 - both have exactly one essential class
        ess = abs(da[~np.isfinite(da[:, 1])][0, 0] - db[~np.isfinite(db[:, 1])][0, 0])
        w_fin = gudhi_w(fin(da), fin(db), order=order, internal_p=2.0)
        expect = (w_fin**order + ess**order) ** (1 / order)
        assert c.persistence[filt]["wasserstein"] == pytest.approx(expect, rel=1e-9, abs=1e-12)
        b_fin = gudhi.bottleneck_distance(fin(da), fin(db), 0.0)
        assert c.persistence[filt]["bottleneck"] == pytest.approx(max(b_fin, ess), rel=1e-9, abs=1e-12)
        assert c.persistence[filt]["n_points_orig"] == int(np.sum(da[:, 1] > da[:, 0]))


def test_identical_arrays():
    x, _ = pair(2)
    c = te.compare(x, x)
    r = c.to_row()
    assert r["mse"] == 0 and r["psnr"] == math.inf and r["pearson"] == 1.0
    assert r["exact_dsl"] == 0 and r["dsl"] == 0
    assert r["wasserstein_sublevel"] == 0 and r["bottleneck_sublevel"] == 0
    assert r["cp_total_errors"] == 0
    d = c.to_dict()
    assert d["metrics"]["pointwise"]["psnr"] == "inf"
    json.dumps(d, allow_nan=False)


def test_to_dict_json_safe_and_to_row_flat():
    x, y = pair(3)
    y[:] = 1.0  # constant reconstruction: Pearson undefined (NaN -> null)
    c = te.compare(x, y, filtration="both")
    d = json.loads(json.dumps(c.to_dict(), allow_nan=False))
    assert d["metrics"]["pointwise"]["pearson"] is None
    assert d["options"]["filtration"] == ["sublevel", "superlevel"]
    assert d["shape"] == [12, 10] and d["topoeval_version"] == te.__version__
    assert set(d["metrics"]) == set(ALL_PARTS)
    row = c.to_row()
    assert all(isinstance(v, (int, float, str, bool)) for v in row.values())
    for key in ("mse", "rmse", "mae", "max_abs_error", "psnr", "relative_l2_error", "pearson", "exact_dsl",
                "dsl", "sharpness", "wasserstein_sublevel", "bottleneck_sublevel", "n_points_orig_sublevel",
                "n_points_recon_sublevel", "wasserstein_superlevel", "cp_false_negatives",
                "cp_false_positives", "cp_false_types"):
        assert key in row, key
    assert math.isnan(row["pearson"])


def test_parts_switched_off_are_absent():
    x, y = pair(4)
    c = te.compare(x, y, metrics=["dsl"])
    assert c.pointwise is None and c.persistence is None and c.critical_points is None
    assert set(c.to_row()) == {"exact_dsl", "exact_dsl_rate", "dsl", "sharpness"}
    assert c.diagrams == {} and c.cp_errors is None
    c2 = te.compare(x, y, metrics="pointwise, persistence")
    assert c2.options["metrics"] == ("pointwise", "persistence")
    assert "wasserstein_sublevel" in c2.to_row() and "exact_dsl" not in c2.to_row()


def test_options_validated_before_any_work(monkeypatch):
    import topoeval.persistence as pers

    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("computed before validating the options")

    monkeypatch.setattr(pers, "persistence_diagram", boom)
    x, y = pair(5)
    bad = [
        dict(metrics="pointwise,topology_x"),
        dict(metrics=[]),
        dict(filtration="upper"),
        dict(connectivity="diag"),
        dict(order=0.5),
        dict(internal_p=0.5),
        dict(sharpness=-1),
        dict(sign="relu"),
        dict(weights=(1, 1, 1)),
        dict(weights=(1, -1)),
        dict(batch_axis=2),
        dict(nan_policy="drop"),
        dict(dtype="int8"),
        dict(min_persistence=-1),
        dict(cp_connectivity="face"),
        dict(data_range=0),
    ]
    for kw in bad:
        with pytest.raises(InvalidOptionError):
            te.compare(x, y, **kw)
    with pytest.raises(TypeError):
        te.compare(x, y, wasserstein_order=2)


def test_bad_arrays():
    x, y = pair(6)
    with pytest.raises(ShapeMismatchError, match=r"\(12, 10\).*\(10, 12\)"):
        te.compare(x, y.T)
    y[3, 4] = np.nan
    y[5, 0] = np.inf
    with pytest.raises(NonFiniteError, match=r"recon holds 2 non-finite.*\(3, 4\).*nan_policy='omit'"):
        te.compare(x, y)


def test_nan_policy_omit():
    x, y = pair(7, (7, 8))
    x[2, 3] = np.nan
    y[5, 5] = -np.inf
    c = te.compare(x, y, nan_policy="omit", metrics="pointwise,dsl,persistence")
    valid = np.isfinite(x) & np.isfinite(y)
    ref = naive_pointwise_metrics(x[valid], y[valid])
    for k in ("mse", "mae", "max_abs_error", "psnr", "pearson"):
        assert c.pointwise[k] == pytest.approx(ref[k], rel=1e-9)
    mism, count = naive_masked_exact_dsl(x, y, valid)
    assert c.dsl["exact_dsl"] == mism
    assert c.dsl["exact_dsl_rate"] == pytest.approx(mism / count)
    # DSL with omit on finite data equals the regular DSL
    xf, yf = pair(8, (5, 6))
    full = te.compare(xf, yf, metrics="dsl")
    om = te.compare(xf, yf, metrics="dsl", nan_policy="omit")
    for k in ("exact_dsl", "exact_dsl_rate"):
        assert om.dsl[k] == pytest.approx(full.dsl[k])
    a = te.compare(xf, yf, metrics="dsl", nan_policy="omit", sharpness=3.0)
    b = te.compare(xf, yf, metrics="dsl", sharpness=3.0)
    assert a.dsl["dsl"] == pytest.approx(b.dsl["dsl"], rel=1e-6)
    # one domain for both arrays: the never-dying classes correspond, distances stay finite
    xm, ym = np.where(valid, x, np.nan), np.where(valid, y, np.nan)
    assert c.persistence["sublevel"]["n_points_orig"] == len(te.persistence_diagram(xm, nan_policy="omit"))
    assert c.persistence["sublevel"]["wasserstein"] == pytest.approx(te.wasserstein_distance(
        te.persistence_diagram(xm, nan_policy="omit"), te.persistence_diagram(ym, nan_policy="omit")))
    assert math.isfinite(c.persistence["sublevel"]["wasserstein"])
    row = te.compare(x, y, nan_policy="omit", metrics="critical_points").critical_points
    assert row == te.critical_point_errors(xm, ym, nan_policy="omit").to_row()
    assert np.isnan(x[2, 3]) and np.isfinite(y[2, 3])  # inputs untouched
    # a NaN row splitting every sample: still finite with a batch axis
    x2, y2 = pair(12, (4, 9))
    x2[:, 4] = np.nan
    cb = te.compare(x2, y2, nan_policy="omit", batch_axis=0, metrics="persistence")
    assert cb.persistence["sublevel"]["n_essential_orig"] == cb.persistence["sublevel"]["n_essential_recon"] == 8
    assert math.isfinite(cb.persistence["sublevel"]["wasserstein"])


def test_batch_axis():
    x, y = pair(9, (3, 6, 7))
    c = te.compare(x, y, batch_axis=0, order=2.0, filtration="both")
    assert c.dsl["exact_dsl"] == pytest.approx(exact_dsl(y, x, batch_axis=0))
    for filt in ("sublevel", "superlevel"):
        ws, bs, n = [], [], 0
        for i in range(3):
            a = te.persistence_diagram(x[i], filtration=filt)
            b = te.persistence_diagram(y[i], filtration=filt)
            ws.append(te.wasserstein_distance(a, b, order=2.0))
            bs.append(te.bottleneck_distance(a, b))
            n += len(a)
        assert c.persistence[filt]["wasserstein"] == pytest.approx(np.sqrt(np.sum(np.square(ws))))
        assert c.persistence[filt]["bottleneck"] == pytest.approx(max(bs))
        assert c.persistence[filt]["n_points_orig"] == n
        assert len(c.diagrams[filt][0]) == 3 and len(c.matchings[filt]) == 3
    fn = sum(te.critical_point_errors(x[i], y[i]).to_row()["cp_false_negatives"] for i in range(3))
    assert c.critical_points["cp_false_negatives"] == fn
    # batch axis in the middle, with omit
    c2 = te.compare(np.moveaxis(x, 0, 1), np.moveaxis(y, 0, 1), batch_axis=1, metrics="dsl", nan_policy="omit")
    assert c2.dsl["exact_dsl"] == pytest.approx(c.dsl["exact_dsl"])


def test_nothing_to_compare_for_the_dsl():
    c = te.compare([1.0], [2.0], metrics="pointwise,dsl,persistence")
    assert c.dsl == {"exact_dsl": 0.0, "exact_dsl_rate": 0.0, "dsl": 0.0, "sharpness": c.options["sharpness"]}
    c = te.compare(np.ones((1, 4)), np.arange(4.0)[None], metrics="dsl", batch_axis=1)
    assert c.dsl["exact_dsl_rate"] == 0.0


def test_dtypes_and_inputs():
    x, y = pair(10)
    c64 = te.compare(x, y.astype(np.float32), metrics="pointwise")
    assert c64.dtypes == ("float64", "float32")
    c32 = te.compare(x, y, metrics="pointwise", dtype="float32")
    assert c32.pointwise["mse"] == pytest.approx(c64.pointwise["mse"], rel=1e-4)
    ci = te.compare((x * 10).astype(np.int16), (y * 10).astype(np.int16), dtype="input", metrics="pointwise,dsl")
    assert ci.pointwise["n_values"] == x.size
    cl = te.compare(x.tolist(), y.tolist(), metrics="pointwise")
    assert cl.pointwise["mse"] == c64.pointwise["mse"] or cl.pointwise["mse"] == pytest.approx(
        np.mean((y - x) ** 2))


def test_frozen_repr_html():
    x, y = pair(11)
    c = te.compare(x, y, metrics="pointwise,persistence")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.shape = (1,)
    r = repr(c)
    assert "Comparison(shape=(12, 10)" in r and "wasserstein" in r and "psnr" in r
    h = c._repr_html_()
    assert h.startswith("<table>") and "wasserstein" in h and "Pointwise" in h
    assert c.elapsed["total"] >= c.elapsed["persistence"] > 0


def test_repr_aligned_and_per_type_counts_grouped():
    x, y = pair(12)
    c = te.compare(x, y)
    r = repr(c)
    rows = [line for line in r.splitlines() if line.startswith("    ")]
    # one column of values: every value starts at the same offset
    starts = {len(line) - len(line[4:].split("  ", 1)[1].lstrip()) for line in rows if "  " in line[4:]}
    assert len(starts) == 1, r
    assert "cp_false_negatives_minimum" not in r  # grouped: one line per kind
    row = c.to_row()
    kinds = {"false_negatives": "cp_false_negatives by type", "false_positives": "cp_false_positives by type"}
    for kind, label in kinds.items():
        line = next(ln for ln in rows if ln.strip().startswith(label))
        nonzero = {k.rsplit("_", 1)[1]: v for k, v in row.items()
                   if k.startswith(f"cp_{kind}_") and k.count("_") == kind.count("_") + 2 and v}
        if not nonzero:
            assert line.rstrip().endswith("none")
        for t, v in nonzero.items():
            assert f"{t} {v}" in line, (t, v, line)
    assert "cp_false_negatives by type" in c._repr_html_()


def test_to_dict_with_callable_sign_is_json_safe():
    x, y = pair(13)
    c = te.compare(x, y, metrics="dsl", sign=np.tanh, weights=np.array([1.0, 0.5]))
    d = json.loads(json.dumps(c.to_dict(), allow_nan=False))
    assert d["options"]["sign"] == "tanh" and d["options"]["weights"] == [1.0, 0.5]
    c = te.compare(x, y, metrics="dsl", sign=(np.tanh, lambda z: 1 - np.tanh(z) ** 2))
    assert json.loads(json.dumps(c.to_dict(), allow_nan=False))["options"]["sign"] == "tanh"


def test_compare_callable_after_submodule_import():
    """`from topoeval.compare import Comparison` loads the submodule: te.compare stays the function."""
    code = (
        "import numpy as np, topoeval as te\n"
        "from topoeval.compare import Comparison\n"
        "c = te.compare(np.arange(5.0), np.arange(5.0), metrics='pointwise')\n"
        "assert isinstance(c, Comparison), type(c)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_sample_data_pair():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "sample_data"
    if not (root / "shallow_water.npy").exists():
        pytest.skip("sample_data not generated")
    x = te.load_array(root / "shallow_water.npy")
    y = te.load_array(root / "shallow_water_sz3_1e-2.npy")
    c = te.compare(x, y)
    assert c.pointwise["max_abs_error"] <= 1e-2 * (1 + 1e-6)
    assert c.persistence["sublevel"]["bottleneck"] <= 1e-2 * (1 + 1e-6)  # stability: d_B <= ||x - y||_inf
    assert c.persistence["sublevel"]["wasserstein"] > 0


SHIFT_INVARIANT = ("mse", "mae", "max_abs_error", "exact_dsl", "exact_dsl_rate", "dsl", "wasserstein_sublevel",
                   "bottleneck_sublevel", "wasserstein_superlevel", "bottleneck_superlevel",
                   "n_points_orig_sublevel", "n_points_recon_sublevel", "cp_false_negatives",
                   "cp_false_positives", "cp_false_types")


@settings(max_examples=12)
@given(
    x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=6),
                 elements=st.integers(-4, 4).map(float)),  # small integers: heavy ties
    seed=st.integers(0, 2**16),
    shift=st.integers(-3, 3).map(float),
)
def test_metamorphic(x, seed, shift):
    """Symmetry and invariance under adding the same constant to both arrays."""
    rng = np.random.default_rng(seed)
    y = x + rng.integers(-1, 2, size=x.shape)
    c = te.compare(x, y, filtration="both").to_row()
    s = te.compare(x + shift, y + shift, filtration="both").to_row()
    r = te.compare(y, x, filtration="both").to_row()
    for k in SHIFT_INVARIANT:
        assert s[k] == pytest.approx(c[k], rel=1e-9, abs=1e-12), k
    for k in ("mse", "mae", "max_abs_error", "exact_dsl", "dsl", "wasserstein_sublevel", "bottleneck_sublevel",
              "wasserstein_superlevel", "bottleneck_superlevel"):
        assert r[k] == pytest.approx(c[k], rel=1e-9, abs=1e-12), k
    assert r["cp_false_negatives"] == c["cp_false_positives"]
    assert r["n_points_orig_sublevel"] == c["n_points_recon_sublevel"]
    # stability theorem: bottleneck <= sup norm of the difference
    assert c["bottleneck_sublevel"] <= c["max_abs_error"] + 1e-12
    assert c["bottleneck_superlevel"] <= c["max_abs_error"] + 1e-12
    z = te.compare(x, x, filtration="both").to_row()
    assert all(z[k] == 0 for k in SHIFT_INVARIANT if not k.startswith("n_points"))


# --------------------------------------------------------------------------- streamed (issue 18)


class _Recording:
    """A lazy array (shape, dtype, slicing) that records the largest slice read."""

    def __init__(self, a):
        self.a, self.shape, self.dtype, self.ndim = a, a.shape, a.dtype, a.ndim
        self.largest = 0

    def __getitem__(self, idx):
        out = self.a[idx]
        self.largest = max(self.largest, int(np.size(out)))
        return out


def _assert_same(streamed, memory):
    for part in ("pointwise", "critical_points"):
        assert getattr(streamed, part) == getattr(memory, part), part
    assert streamed.persistence == memory.persistence  # distances and counts exactly
    for k, v in memory.dsl.items():
        assert streamed.dsl[k] == pytest.approx(v, rel=1e-12, abs=1e-300), k
    assert streamed.dsl["exact_dsl"] == memory.dsl["exact_dsl"]
    for filt, (a, b) in memory.diagrams.items():
        sa, sb = streamed.diagrams[filt]
        for got, want in ((sa, a), (sb, b)):
            np.testing.assert_array_equal(got.births, want.births)
            np.testing.assert_array_equal(got.deaths, want.deaths)
            np.testing.assert_array_equal(got.birth_index, want.birth_index)
            np.testing.assert_array_equal(got.death_index, want.death_index)
    assert streamed.to_row() == {**memory.to_row(), "dsl": streamed.to_row()["dsl"]}


@settings(max_examples=25)
@given(
    shape=st.lists(st.integers(1, 7), min_size=1, max_size=3).map(tuple),
    seed=st.integers(0, 2**31 - 1),
    block=st.integers(1, 4),
    filtration=st.sampled_from(["sublevel", "superlevel", "both"]),
    conn=st.sampled_from(["full", "face"]),
    cp_conn=st.sampled_from(["full", "freudenthal"]),
    jobs=st.integers(1, 3),
)
def test_streamed_equals_in_memory(shape, seed, block, filtration, conn, cp_conn, jobs):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, size=shape).astype(np.float32)  # ties everywhere
    y = x + rng.integers(-1, 2, size=shape)
    w = rng.integers(0, 3, size=len(shape)).tolist()
    kw = dict(filtration=filtration, connectivity=conn, cp_connectivity=cp_conn, weights=w, order=2.0)
    memory = te.compare(x, y, **kw)
    X, Y = _Recording(x), _Recording(y)
    stages = []
    streamed = te.compare(X, Y, block_shape=(block,) * len(shape), jobs=jobs,
                          progress=lambda *a: stages.append(a), **kw)
    _assert_same(streamed, memory)
    long_axes = [i for i, s in enumerate(shape) if s > 1]
    ax = long_axes[0] if long_axes else 0
    slab = (block + 2) * x.size // shape[ax]  # a slab and its two halo rows
    assert max(X.largest, Y.largest) <= max(slab, block ** len(shape) * 3 ** len(shape))
    assert ("blocks", -(-shape[ax] // block), -(-shape[ax] // block)) in stages


def test_streamed_reads_slabs_only_and_memory_limit():
    rng = np.random.default_rng(77)
    x = np.cumsum(rng.normal(size=(64, 40, 30)), axis=0)
    y = np.round(x * 4) / 4
    X, Y = _Recording(x), _Recording(y)
    memory = te.compare(x, y, metrics="pointwise,dsl,critical_points")
    streamed = te.compare(X, Y, metrics="pointwise,dsl,critical_points", memory_limit=64 * 1200 * 10)
    _assert_same(streamed, memory)
    assert max(X.largest, Y.largest) <= 10 * 1200  # the budget's rows, never the whole field
    for kind in ("all", "false_negatives", "false_positives", "false_types"):  # the positions kept
        assert np.array_equal(streamed.cp_errors.positions(kind), memory.cp_errors.positions(kind))
    # an in-memory array larger than memory_limit is streamed too, with the same values
    assert te.compare(x, y, metrics="pointwise,dsl", memory_limit="700kB").pointwise == memory.pointwise
    with pytest.raises(InvalidOptionError, match=r"memory_limit >= 230400"):
        te.compare(X, Y, metrics="pointwise", memory_limit=1000)


def test_streamed_refuses_what_it_cannot_stream():
    x = _Recording(np.zeros((4, 5)))
    for kw, what in (({"batch_axis": 0}, "batch_axis"), ({"nan_policy": "omit"}, "omit"),
                     ({"min_persistence": 0.5}, "min_persistence")):
        with pytest.raises(InvalidOptionError, match=what):
            te.compare(x, x, **kw)
    bad = np.zeros((6, 5))
    bad[4, 3] = np.nan
    with pytest.raises(NonFiniteError, match=r"recon .* index \(4, 3\)"):
        te.compare(_Recording(np.zeros((6, 5))), _Recording(bad), metrics="pointwise", block_shape=(2, 5))


def test_jobs_same_comparison():
    rng = np.random.default_rng(78)
    x = rng.integers(0, 5, size=(40, 30)).astype(float)
    y = x + rng.integers(-1, 2, size=x.shape)
    one, two = te.compare(x, y, filtration="both", jobs=1), te.compare(x, y, filtration="both", jobs=2)
    assert one.to_row() == two.to_row()
    with pytest.raises(InvalidOptionError, match="jobs"):
        te.compare(x, y, jobs=0)


def test_cli_memory_limit_streams_from_files(tmp_path, capsys):
    """`topoeval compare --memory-limit`: the .npy files are memory-mapped, compared a slab at a
    time, with the metrics of the in-memory run."""
    from topoeval.cli import main

    rng = np.random.default_rng(79)
    x = np.cumsum(rng.normal(size=(60, 50)), axis=0)
    y = np.round(x * 2) / 2
    np.save(tmp_path / "a.npy", x)
    np.save(tmp_path / "b.npy", y)
    metrics = {}
    for extra in ([], ["--memory-limit", "10MB", "--jobs", "2"]):  # above the engine's 8.5 MB floor
        with pytest.raises(SystemExit) as exc:
            main(["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--format", "json", "-q", *extra])
        out, err = capsys.readouterr()
        assert exc.value.code == 0, err
        doc = json.loads(out)
        metrics[bool(extra)] = doc["metrics"]
        assert ("slabs" in doc["elapsed_s"]) == bool(extra)  # the streamed path was taken
    assert metrics[True]["pointwise"] == metrics[False]["pointwise"]
    assert metrics[True]["persistence"] == metrics[False]["persistence"]
    assert metrics[True]["critical_points"] == metrics[False]["critical_points"]
    assert metrics[True]["dsl"]["exact_dsl"] == metrics[False]["dsl"]["exact_dsl"]
    assert metrics[True]["dsl"]["dsl"] == pytest.approx(metrics[False]["dsl"]["dsl"], rel=1e-12)


# --------------------------------------------------------------------------- dims (issue 19 point 4)
def _direct_dim_metrics(x, y, filt, dim, *, order, batch=None, tolerance=None):
    """The metrics of one (filtration, dimension) computed straight from persistence_diagrams."""
    samples = [(x, y)] if batch is None else [(np.take(x, i, batch), np.take(y, i, batch))
                                              for i in range(x.shape[batch])]
    wp, bott, n_o, n_r = 0.0, 0.0, 0, 0
    for xs, ys in samples:
        a = te.persistence_diagrams(xs, dims=[dim], filtration=filt)[dim]
        b = te.persistence_diagrams(ys, dims=[dim], filtration=filt)[dim]
        w = te.wasserstein_distance(a, b, order=order, tolerance=tolerance)
        wp += float(getattr(w, "value", w)) ** order
        bott = max(bott, te.bottleneck_distance(a, b))
        n_o, n_r = n_o + len(a), n_r + len(b)
    return {"wasserstein": wp ** (1 / order), "bottleneck": bott, "n_points_orig": n_o, "n_points_recon": n_r}


@pytest.mark.parametrize("seed", range(8))
def test_dims_rows_equal_direct_distances(seed):
    """Rows with dims=(0, 1[, 2]) hold, per dimension and filtration, the distances computed directly
    from persistence_diagrams + wasserstein_distance / bottleneck_distance (2-D and 3-D, ties)."""
    rng = np.random.default_rng(300 + seed)
    ndim = 2 + seed % 2
    shape = tuple(int(s) for s in rng.integers(3, 9 if ndim == 2 else 6, size=ndim))
    x = np.round(rng.normal(size=shape), 1)  # ties
    y = x + np.round(0.3 * rng.normal(size=shape), 1)
    order = [1.0, 2.0][seed % 2 == 0]
    dims = tuple(range(ndim))
    c = te.compare(x, y, metrics="persistence", dims=dims, filtration="both", order=order)
    row = c.to_row()
    for filt in ("sublevel", "superlevel"):
        for k in dims:
            suffix = filt if k == 0 else f"{filt}_dim{k}"
            expect = _direct_dim_metrics(x, y, filt, k, order=order)
            for name, v in expect.items():
                assert row[f"{name}_{suffix}"] == pytest.approx(v, rel=1e-12, abs=1e-12), (name, suffix)
            a, b = c.diagrams[suffix]
            assert a.dim == b.dim == k and a.filtration == filt
            assert row[f"n_essential_orig_{suffix}"] == int(np.isinf(a.deaths).sum())
    assert "wasserstein_sublevel_dim0" not in row  # dimension 0 keeps its keys, no alias
    assert c.options["dims"] == dims


def test_dims_against_gudhi_end_to_end():
    """Dimension 1 of a 2-D field: compare() equals gudhi's diagrams and distances."""
    gudhi = pytest.importorskip("gudhi")
    from gudhi.wasserstein import wasserstein_distance as gudhi_w

    for seed in range(4):
        rng = np.random.default_rng(320 + seed)
        x = np.round(rng.normal(size=(9, 7)), 1)
        y = x + np.round(0.3 * rng.normal(size=x.shape), 1)
        c = te.compare(x, y, metrics="persistence", dims=(0, 1), filtration="both", order=2.0)

        def dgm1(a):
            cc = gudhi.CubicalComplex(top_dimensional_cells=a)
            cc.compute_persistence()
            return cc.persistence_intervals_in_dimension(1).reshape(-1, 2)

        for filt, sgn in (("sublevel", 1.0), ("superlevel", -1.0)):
            da, db = dgm1(sgn * x), dgm1(sgn * y)
            p = c.persistence[f"{filt}_dim1"]
            assert p["wasserstein"] == pytest.approx(gudhi_w(da, db, order=2.0, internal_p=2.0), rel=1e-9, abs=1e-12)
            assert p["bottleneck"] == pytest.approx(gudhi.bottleneck_distance(da, db, 0.0), rel=1e-9, abs=1e-12)
            assert p["n_points_orig"] == int(np.sum(da[:, 1] > da[:, 0]))


def test_dims_default_rows_unchanged():
    """dims=0 (the default) gives today's row, options and JSON; dims=(0, 1) only appends keys."""
    x, y = pair(31, (9, 8))
    base = te.compare(x, y, filtration="both")
    same = te.compare(x, y, filtration="both", dims=0)
    more = te.compare(x, y, filtration="both", dims=[1, 0])
    assert same.to_row() == base.to_row()
    assert same.options == base.options and "dims" not in base.options
    strip = lambda d: {k: v for k, v in d.items() if k != "elapsed_s"}  # noqa: E731
    assert strip(same.to_dict()) == strip(base.to_dict())
    r0, r1 = base.to_row(), more.to_row()
    pers0 = [k for k in r0 if k.endswith(("_sublevel", "_superlevel"))]
    assert all(r1[k] == r0[k] for k in r0)
    extra = [k for k in r1 if k not in r0]
    assert extra and all(k.endswith(("_sublevel_dim1", "_superlevel_dim1")) for k in extra)
    keys1 = list(r1)
    assert keys1.index(extra[0]) == keys1.index(pers0[-1]) + 1  # right after dimension 0's keys
    assert list(more.persistence) == ["sublevel", "superlevel", "sublevel_dim1", "superlevel_dim1"]
    assert "Persistence (sublevel, H1," in repr(more) and "H0" not in repr(base)


def test_dims_only_higher_and_batch_axis_and_tolerance():
    """dims=(1,) has no dimension-0 keys; with a batch axis the per-sample distances combine as
    for dimension 0; distance_tolerance applies per dimension (lower bound and gap keys)."""
    rng = np.random.default_rng(340)
    x = np.round(rng.normal(size=(3, 8, 7)), 1)
    y = x + np.round(0.3 * rng.normal(size=x.shape), 1)
    c = te.compare(x, y, metrics="persistence", dims=1, batch_axis=0, order=2.0)
    row = c.to_row()
    assert "wasserstein_sublevel" not in row and list(c.persistence) == ["sublevel_dim1"]
    expect = _direct_dim_metrics(x, y, "sublevel", 1, order=2.0, batch=0)
    assert row["wasserstein_sublevel_dim1"] == pytest.approx(expect["wasserstein"], rel=1e-12)
    assert row["bottleneck_sublevel_dim1"] == pytest.approx(expect["bottleneck"], rel=1e-12)
    assert len(c.diagrams["sublevel_dim1"][0]) == 3  # one diagram per sample
    t = te.compare(x[0], y[0], metrics="persistence", dims=(0, 1), distance_tolerance=1e-3).to_row()
    for suffix in ("sublevel", "sublevel_dim1"):
        low, w, gap = t[f"wasserstein_lower_{suffix}"], t[f"wasserstein_{suffix}"], t[f"wasserstein_gap_{suffix}"]
        assert low <= w * (1 + 1e-12) and gap <= 1e-3
    exact = _direct_dim_metrics(x[0], y[0], "sublevel", 1, order=1.0)["wasserstein"]
    assert t["wasserstein_sublevel_dim1"] == pytest.approx(exact, rel=1e-3)


def test_dims_errors():
    x, y = pair(32, (6, 5))
    with pytest.raises(InvalidOptionError, match=r"2-D field has homology dimensions 0\.\.1"):
        te.compare(x, y, dims=(0, 2))
    with pytest.raises(InvalidOptionError, match=r"2-D sample has homology dimensions 0\.\.1"):
        te.compare(np.stack([x, x]), np.stack([y, y]), dims=2, batch_axis=0)
    for bad in (-1, "a", [], 1.5, True):
        with pytest.raises(InvalidOptionError, match="dims"):
            te.compare(x, y, dims=bad)
    from topoeval.compare import check_options

    with pytest.raises(InvalidOptionError, match="dims"):  # before any array is read
        check_options(dims=[0, -2])
    xn = x.copy()
    xn[2, 2] = np.nan
    from topoeval.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="dims=0"):
        te.compare(xn, y, dims=(0, 1), nan_policy="omit")
    assert "wasserstein_sublevel" in te.compare(xn, y, nan_policy="omit").to_row()
    x3, y3 = np.stack([x, y, x]), np.stack([y, x, y])  # streamed: dimensions 0 and d-1 only
    with pytest.raises(InvalidOptionError, match="not computed streamed"):
        te.compare(x3, y3, dims=(0, 1), block_shape=(1, 3, 5))
    assert "wasserstein_sublevel_dim1" in te.compare(x, y, dims=(0, 1), block_shape=(3, 5)).to_row()

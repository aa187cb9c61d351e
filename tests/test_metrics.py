"""Pointwise metrics against the slow references in tests/naive.py and numpy/scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import topoeval as te
from topoeval import metrics
from topoeval.errors import InvalidDTypeError, InvalidOptionError, NonFiniteError, ShapeMismatchError

from .naive import naive_pointwise_metrics

KEYS = ["mse", "rmse", "mae", "max_abs_error", "psnr", "relative_l2_error", "pearson"]
SINGLE = {
    "mse": te.mse,
    "rmse": te.rmse,
    "mae": te.mae,
    "max_abs_error": te.max_abs_error,
    "psnr": te.psnr,
    "relative_l2_error": te.relative_l2_error,
    "pearson": te.pearson_correlation,
}


def assert_close(a, b, key=""):
    if math.isnan(b):
        assert math.isnan(a), key
    elif math.isinf(b):
        assert a == b, key
    else:
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), key


def check_against_naive(x, y, **kw):
    got = te.pointwise_metrics(x, y, **kw)
    ref = naive_pointwise_metrics(x, y, **kw)
    for k in KEYS:
        assert_close(got[k], ref[k], k)
        if "data_range" not in kw or k == "psnr":
            assert_close(SINGLE[k](x, y, **kw) if k == "psnr" else SINGLE[k](x, y), ref[k], k)
    assert got["n_values"] == np.asarray(x).size
    return got


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16, np.uint8])
def test_random_vs_naive(seed, dtype):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 9, size=rng.integers(1, 4)))
    x = (rng.normal(size=shape) * 20).astype(dtype)
    y = (x.astype(np.float64) + rng.normal(size=shape) * 3).astype(dtype)
    check_against_naive(x, y)


@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
               elements=st.floats(-1e3, 1e3)),
    st.floats(-5, 5),
    st.integers(0, 2**31),
)
def test_hypothesis_vs_naive(x, scale, seed):
    rng = np.random.default_rng(seed)
    y = x + scale * np.round(rng.normal(size=x.shape), 1)  # ties and exact zeros likely
    check_against_naive(x, y)


def test_numpy_scipy_oracles():
    from scipy import stats

    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 30))
    y = x + 0.1 * rng.normal(size=x.shape)
    m = te.pointwise_metrics(x, y)
    assert m["mse"] == pytest.approx(np.mean((y - x) ** 2), rel=1e-12)
    assert m["mae"] == pytest.approx(np.mean(np.abs(y - x)), rel=1e-12)
    assert m["max_abs_error"] == np.max(np.abs(y - x))
    assert m["pearson"] == pytest.approx(stats.pearsonr(x.ravel(), y.ravel())[0], rel=1e-12)
    assert m["relative_l2_error"] == pytest.approx(np.linalg.norm(y - x) / np.linalg.norm(x), rel=1e-12)
    peak = x.max() - x.min()
    assert m["psnr"] == pytest.approx(10 * np.log10(peak**2 / np.mean((y - x) ** 2)), rel=1e-12)
    assert m["value_range"] == peak


def test_streaming_blocks_match_single_block(monkeypatch):
    """Results do not depend on the block size (Chan's merge of the co-moments is exact)."""
    rng = np.random.default_rng(5)
    x = rng.normal(loc=1e4, size=(37, 23))  # large offset: a naive sum-of-squares Pearson would suffer
    y = x + rng.normal(size=x.shape)
    full = te.pointwise_metrics(x, y)
    monkeypatch.setattr(metrics, "_BLOCK", 50)
    small = te.pointwise_metrics(x, y)
    for k in KEYS:
        assert small[k] == pytest.approx(full[k], rel=1e-9), k
    ref = naive_pointwise_metrics(x, y)
    assert small["pearson"] == pytest.approx(ref["pearson"], rel=1e-9)


@pytest.mark.parametrize("layout", ["F", "strided", "bigendian", "memmap"])
def test_layouts(layout, tmp_path, monkeypatch):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(12, 9, 5))
    y = x + rng.normal(size=x.shape) * 0.2
    ref = te.pointwise_metrics(x, y)
    if layout == "F":
        xa, ya = np.asfortranarray(x), np.asfortranarray(y)
    elif layout == "strided":
        xa, ya = np.repeat(x, 2, axis=1)[:, ::2], np.repeat(y, 2, axis=1)[:, ::2]
        assert not xa.flags.c_contiguous
    elif layout == "bigendian":
        xa, ya = x.astype(">f8"), y.astype(">f8")
    else:
        np.save(tmp_path / "x.npy", x)
        xa, ya = np.load(tmp_path / "x.npy", mmap_mode="r"), y
    monkeypatch.setattr(metrics, "_BLOCK", 64)  # force several blocks / slabs
    got = te.pointwise_metrics(xa, ya)
    for k in KEYS:
        assert got[k] == pytest.approx(ref[k], rel=1e-9), k


def test_edge_cases():
    a = np.array([1.0, 2.0, 3.0])
    m = te.pointwise_metrics(a, a)
    assert m["mse"] == 0 and m["psnr"] == math.inf and m["relative_l2_error"] == 0 and m["pearson"] == 1.0
    c = np.full(4, 0.1)
    assert te.psnr(c, c + 1) == -math.inf
    assert math.isnan(te.pearson_correlation(c, [1.0, 2.0, 3.0, 4.0]))
    assert math.isnan(te.pearson_correlation([1.0, 2.0, 3.0, 4.0], c))
    assert te.relative_l2_error(np.zeros(3), np.ones(3)) == math.inf
    assert te.relative_l2_error(np.zeros(3), np.zeros(3)) == 0.0
    assert te.psnr([0, 255], [0, 254], data_range=255) == pytest.approx(10 * np.log10(255**2 / 0.5))
    assert te.mse([True, False], [False, False]) == 0.5
    assert te.max_abs_error(np.array([0], np.uint8), np.array([255], np.uint8)) == 255.0  # no wrap-around


def test_nan_policy():
    x = np.array([[0.0, 1.0, np.nan], [3.0, 4.0, 5.0]])
    y = np.array([[0.0, 2.0, 1.0], [np.inf, 4.0, 6.0]])
    with pytest.raises(NonFiniteError, match=r"1 non-finite.*\(0, 2\).*nan_policy='omit'"):
        te.mse(x, y)
    m = te.pointwise_metrics(x, y, nan_policy="omit")
    keep = np.isfinite(x) & np.isfinite(y)
    ref = naive_pointwise_metrics(x[keep], y[keep])
    for k in KEYS:
        assert_close(m[k], ref[k], k)
    assert m["n_values"] == 4
    with pytest.raises(te.InvalidInputError, match="no cell is finite"):
        te.mse([np.nan], [1.0], nan_policy="omit")


def test_bad_inputs():
    with pytest.raises(ShapeMismatchError, match=r"\(2,\).*\(3,\)"):
        te.mse([1, 2], [1, 2, 3])
    with pytest.raises(InvalidDTypeError, match="complex"):
        te.mae([1j], [1])
    with pytest.raises(InvalidDTypeError, match="object"):
        te.rmse(np.array([None, 1], dtype=object), [1, 2])
    with pytest.raises(InvalidOptionError, match="nan_policy"):
        te.mse([1], [1], nan_policy="ignore")
    with pytest.raises(InvalidOptionError, match="data_range"):
        te.psnr([1, 2], [1, 2], data_range=0)
    with pytest.raises(te.InvalidInputError, match="empty"):
        te.pointwise_metrics([], [])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pointwise_jobs_bit_for_bit(dtype):
    """Block statistics in threads, merged in block order: the same values for every jobs."""
    rng = np.random.default_rng(91)
    x = rng.normal(size=(3, 700, 1100)).astype(dtype)  # > 2 blocks of 2**20
    y = (x + rng.normal(scale=0.01, size=x.shape)).astype(dtype)
    one = te.pointwise_metrics(x, y, jobs=1)
    assert te.pointwise_metrics(x, y, jobs=3) == one
    assert te.pointwise_metrics(x[:, ::-1], y[:, ::-1], jobs=2) == te.pointwise_metrics(x[:, ::-1], y[:, ::-1], jobs=1)
    got = naive_pointwise_metrics(x[0, :50], y[0, :50])
    assert te.pointwise_metrics(x[0, :50], y[0, :50], jobs=4)["mse"] == pytest.approx(got["mse"], rel=1e-12)

"""Tests of topoeval.distances (the public functions, topoeval.distances.api, and the sparse solver): exactness against gudhi / POT and brute force, metric properties,
essential points, superlevel diagrams, matchings, validation, and the sparse large-diagram solver."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import topoeval as te
from topoeval.distances import _sparse as kd
from topoeval.distances import api as tdist
from topoeval.errors import InvalidInputError, InvalidOptionError, NonFiniteError

from . import naive

gudhi = pytest.importorskip("gudhi")
from gudhi.wasserstein import wasserstein_distance as gudhi_wasserstein  # noqa: E402

ORDERS = (1.0, 2.0, 3.5)
NORMS = (1.0, 2.0, np.inf)
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


def gudhi_w(a, b, p, q):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gudhi_wasserstein(np.asarray(a, float), np.asarray(b, float), order=p, internal_p=q,
                                 keep_essential_parts=True)


def gudhi_b(a, b):
    return gudhi.bottleneck_distance(np.asarray(a, float).reshape(-1, 2), np.asarray(b, float).reshape(-1, 2), 0)


def check_matching(a, b, dist, m, p, q, *, bottleneck=False, essential="match"):
    """The matching covers every point exactly once, its costs are ground distances, and it
    achieves ``dist``."""
    a = np.asarray(a, float).reshape(-1, 2)
    b = np.asarray(b, float).reshape(-1, 2)
    assert m.dtype == np.float64 and m.ndim == 2 and m.shape[1] == 3
    ia = m[:, 0].astype(int)
    ib = m[:, 1].astype(int)
    keep_a = np.arange(len(a)) if essential == "match" else np.flatnonzero(np.isfinite(a).all(axis=1))
    keep_b = np.arange(len(b)) if essential == "match" else np.flatnonzero(np.isfinite(b).all(axis=1))
    assert sorted(ia[ia >= 0]) == list(keep_a)
    assert sorted(ib[ib >= 0]) == list(keep_b)
    assert not ((ia < 0) & (ib < 0)).any()
    both = np.flatnonzero((ia >= 0) & (ib >= 0))
    fin = both[np.isfinite(a[ia[both]]).all(axis=1) & np.isfinite(b[ib[both]]).all(axis=1)]
    expect = tdist._pair_dist(a[ia[fin], 0] - b[ib[fin], 0], a[ia[fin], 1] - b[ib[fin], 1], q)
    np.testing.assert_allclose(m[fin, 2], expect, rtol=1e-12, atol=0)
    if not np.isfinite(dist):
        assert not np.isfinite(m[:, 2]).all()
        return
    if len(m) == 0:
        assert dist == 0.0
    elif bottleneck:
        assert m[:, 2].max() == dist
    else:
        np.testing.assert_allclose((m[:, 2] ** p).sum() ** (1.0 / p), dist, rtol=1e-12, atol=1e-300)


# ----------------------------------------------------------------------------- random diagram families


def _family(rng, kind, n):
    if kind == "normal":
        b = rng.normal(size=n)
        return np.column_stack([b, b + np.abs(rng.normal(size=n))])
    if kind == "rounded":  # ties and duplicates
        b = np.round(rng.normal(size=n), 1)
        return np.column_stack([b, b + np.round(np.abs(rng.normal(size=n)), 1)])
    if kind == "dups":
        base = _family(rng, "normal", max(1, n // 3))
        return base[rng.integers(0, len(base), n)]
    if kind == "diagonal":
        d = _family(rng, "normal", n)
        on = rng.random(n) < 0.4
        d[on, 1] = d[on, 0]
        return d
    if kind == "large":
        return _family(rng, "normal", n) * 1e8
    if kind == "tiny":
        return _family(rng, "normal", n) * 1e-8
    if kind == "superlevel":
        return _family(rng, "normal", n)[:, ::-1].copy()
    raise AssertionError(kind)


KINDS = ("normal", "rounded", "dups", "diagonal", "large", "tiny", "superlevel")


def _pairs(seed, kind, sizes):
    rng = np.random.default_rng(seed)
    for n, m in sizes:
        a = _family(rng, kind, n)
        b = _family(rng, kind, m) if kind != "dups" else np.concatenate([a[: m // 2], _family(rng, kind, m - m // 2)])
        yield a, b


SMALL_SIZES = [(0, 0), (0, 3), (4, 0), (1, 1), (3, 5), (7, 7), (12, 9), (25, 30)]


# ----------------------------------------------------------------------------- exactness: gudhi / POT


# POT's network simplex works to an absolute tolerance and is off by ~1e-4 relative on values
# around 1e8; the distance is homogeneous (W(s a, s b) = s W(a, b)), so the oracle for huge and
# tiny diagrams is POT on the rescaled diagrams (the rescaling by a power of 2 is exact).
# gudhi assumes birth <= death: its oracle for superlevel diagrams is the negated diagrams.
SCALE = {"large": 2.0**-27, "tiny": 2.0**27, "superlevel": -1.0}


SOLVERS = {
    "pot": {"_POT_MAX_PAIRS": 4_000_000, "_POT_COLD_MIN_PAIRS": 0},
    "dense": {"_POT_MAX_PAIRS": -1, "_DENSE_MAX_POINTS": 10**9},
    "sparse": {"_POT_MAX_PAIRS": -1, "_DENSE_MAX_POINTS": 0, "_DENSE_MAX_WORK": -1, "_POT_COLD_MIN_PAIRS": 0},
}


@pytest.fixture(params=sorted(SOLVERS))
def solver(request, monkeypatch):
    """Force one of the three exact solvers (POT's simplex, dense assignment, sparse flow)."""
    for name, value in SOLVERS[request.param].items():
        monkeypatch.setattr(tdist, name, value)
    return request.param


@pytest.mark.parametrize("kind", KINDS)
def test_wasserstein_matches_gudhi_pot(kind, solver):
    s = SCALE.get(kind, 1.0)
    for a, b in _pairs(11, kind, SMALL_SIZES):
        for p in ORDERS:
            for q in NORMS:
                ref = gudhi_w(a * s, b * s, p, q) / abs(s)
                got, m = te.wasserstein_distance(a, b, order=p, internal_p=q, matching=True)
                assert got == pytest.approx(ref, rel=1e-9, abs=1e-300), (kind, len(a), len(b), p, q)
                check_matching(a, b, got, m, p, q)


@pytest.mark.parametrize("kind", KINDS)
def test_bottleneck_matches_gudhi_exactly(kind):
    for a, b in _pairs(12, kind, SMALL_SIZES + [(60, 70)]):
        ref = gudhi_b(-a, -b) if kind == "superlevel" else gudhi_b(a, b)
        got, m = te.bottleneck_distance(a, b, matching=True)
        assert got == ref, (kind, len(a), len(b))
        check_matching(a, b, got, m, 1.0, np.inf, bottleneck=True)


def test_brute_force_tiny():
    rng = np.random.default_rng(13)
    for trial in range(40):
        kind = KINDS[trial % len(KINDS)]
        n, m = rng.integers(0, 5, size=2)
        a = _family(rng, kind, n)
        b = _family(rng, kind, m)
        for q in NORMS:
            for p in ORDERS:
                assert te.wasserstein_distance(a, b, order=p, internal_p=q) == pytest.approx(
                    naive.naive_wasserstein(a, b, p, q), rel=1e-12, abs=1e-300)
            assert te.bottleneck_distance(a, b, internal_p=q) == pytest.approx(
                naive.naive_bottleneck(a, b, q), rel=1e-12, abs=1e-300)


def test_superlevel_is_negated_sublevel():
    rng = np.random.default_rng(14)
    a = _family(rng, "superlevel", 40)
    b = _family(rng, "superlevel", 35)
    a = np.vstack([a, [[3.0, -np.inf]]])
    b = np.vstack([b, [[2.5, -np.inf]]])
    for p in ORDERS:
        for q in NORMS:
            got = te.wasserstein_distance(a, b, order=p, internal_p=q)
            assert got == pytest.approx(gudhi_w(-a, -b, p, q), rel=1e-9)
    assert te.bottleneck_distance(a, b) == gudhi_b(-a, -b)


# ----------------------------------------------------------------------------- essential points


def test_essential_points():
    a = np.array([[0.0, 1.0], [0.0, np.inf], [2.0, np.inf], [5.0, -np.inf]])
    b = np.array([[0.5, 1.0], [3.0, np.inf], [1.0, np.inf], [4.0, -np.inf]])
    # +inf points by sorted birth: 0-1, 2-3; -inf: 5-4
    fin = te.wasserstein_distance(a[:1], b[:1], order=2)
    assert te.wasserstein_distance(a, b, order=2) == pytest.approx(np.sqrt(fin**2 + 1 + 1 + 1))
    d, m = te.wasserstein_distance(a, b, order=2, matching=True)
    check_matching(a, b, d, m, 2.0, 2.0)
    assert {tuple(r) for r in m[1:, :2].astype(int).tolist()} == {(1, 2), (2, 1), (3, 3)}
    assert te.bottleneck_distance(a, b) == 1.0
    assert te.wasserstein_distance(a, b, essential="ignore") == te.wasserstein_distance(a[:1], b[:1])
    d, m = te.wasserstein_distance(a, b, essential="ignore", matching=True)
    check_matching(a, b, d, m, 1.0, 2.0, essential="ignore")
    assert te.bottleneck_distance(a, b, essential="ignore") == te.bottleneck_distance(a[:1], b[:1])


def test_essential_count_mismatch_is_inf():
    a = np.array([[0.0, np.inf], [1.0, np.inf], [0.0, 1.0]])
    b = np.array([[0.0, np.inf], [0.2, 0.5]])
    assert te.wasserstein_distance(a, b) == np.inf == gudhi_w(a, b, 1.0, 2.0)
    assert te.bottleneck_distance(a, b) == np.inf == gudhi_b(a, b)
    d, m = te.wasserstein_distance(a, b, matching=True)
    assert d == np.inf and np.isinf(m[:, 2]).sum() == 1
    d, m = te.bottleneck_distance(a, b, matching=True)
    assert d == np.inf and np.isinf(m[:, 2]).sum() == 1
    # +inf and -inf points never match each other
    assert te.wasserstein_distance([[0.0, np.inf]], [[0.0, -np.inf]]) == np.inf
    assert te.wasserstein_distance([[0.0, np.inf]], [[0.0, -np.inf]], essential="ignore") == 0.0


def test_random_essentials_against_gudhi():
    rng = np.random.default_rng(15)
    for _ in range(20):
        k = int(rng.integers(0, 4))
        a = np.vstack([_family(rng, "normal", 10), np.column_stack([rng.normal(size=k), np.full(k, np.inf)])])
        b = np.vstack([_family(rng, "normal", 8), np.column_stack([rng.normal(size=k), np.full(k, np.inf)])])
        for p in ORDERS:
            assert te.wasserstein_distance(a, b, order=p, internal_p=np.inf) == pytest.approx(
                gudhi_w(a, b, p, np.inf), rel=1e-9)
        assert te.bottleneck_distance(a, b) == gudhi_b(a, b)


def _with_categories(rng, n, counts, rounded):
    """A finite diagram of n points plus counts[k] points of each infinite category: (-inf, d),
    (b, +inf), (-inf, +inf), and on the diagonal at infinity (-inf, -inf), (+inf, +inf)."""
    fin = _family(rng, "rounded" if rounded else "normal", n)
    v = rng.normal(size=sum(counts))
    if rounded:
        v = np.round(v, 1)  # ties
    k0, k1, k2, k3, k4 = np.cumsum(counts)
    inf = np.inf
    parts = [fin,
             np.column_stack([np.full(k0, -inf), v[:k0]]),
             np.column_stack([v[k0:k1], np.full(k1 - k0, inf)]),
             np.tile([-inf, inf], (k2 - k1, 1)),
             np.tile([-inf, -inf], (k3 - k2, 1)),
             np.tile([inf, inf], (k4 - k3, 1))]
    d = np.vstack(parts)
    return d[rng.permutation(len(d))]


def test_essential_categories_against_gudhi_and_naive():
    """(-inf, finite), (finite, inf), (-inf, inf) points (issue 17): matched within their
    category, inf when counts differ, as gudhi (hera's semantics) and brute force; matchings
    cover every point; negating both diagrams (superlevel) changes nothing."""
    rng = np.random.default_rng(41)
    for trial in range(36):
        counts_a = rng.integers(0, 3, size=5)
        counts_b = counts_a.copy() if trial % 3 else rng.integers(0, 3, size=5)
        a = _with_categories(rng, int(rng.integers(0, 5)), counts_a, trial % 2 == 0)
        b = _with_categories(rng, int(rng.integers(0, 5)), counts_b, trial % 2 == 0)
        for p in ORDERS:
            for q in NORMS:
                got, m = te.wasserstein_distance(a, b, order=p, internal_p=q, matching=True)
                assert got == pytest.approx(gudhi_w(a, b, p, q), rel=1e-9, abs=1e-300), (trial, p, q)
                assert got == pytest.approx(naive.naive_essential_distance(a, b, p, q), rel=1e-12, abs=1e-300)
                check_matching(a, b, got, m, p, q)
                assert te.wasserstein_distance(-a, -b, order=p, internal_p=q) == got
        got, m = te.bottleneck_distance(a, b, matching=True)
        assert got == gudhi_b(a, b) == naive.naive_essential_distance(a, b, np.inf, np.inf), trial
        check_matching(a, b, got, m, 1.0, np.inf, bottleneck=True)
        assert te.bottleneck_distance(-a, -b) == got
        assert te.wasserstein_distance(a, b, essential="ignore") == te.wasserstein_distance(
            a[np.isfinite(a).all(axis=1)], b[np.isfinite(b).all(axis=1)])


def test_essential_categories_never_mix():
    inf = np.inf
    assert te.wasserstein_distance([[-inf, 1.0]], [[1.0, inf]]) == np.inf
    assert te.wasserstein_distance([[-inf, inf]], [[-inf, 1.0]]) == np.inf
    assert te.bottleneck_distance([[-inf, 1.0], [-inf, 4.0]], [[-inf, 3.0], [-inf, 0.0]]) == 1.0
    assert te.wasserstein_distance([[-inf, inf], [0.0, 1.0]], [[-inf, inf]], internal_p=np.inf) == 0.5
    # on the diagonal at infinity: free (gudhi), in any number
    assert te.wasserstein_distance([[-inf, -inf]], [[inf, inf], [inf, inf]]) == 0.0
    d, m = te.wasserstein_distance([[-inf, -inf]], [], matching=True)
    assert d == 0.0 and m.tolist() == [[0.0, -1.0, 0.0]]


# ----------------------------------------------------------------------------- metric properties

finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False)
point = st.tuples(finite, st.floats(0, 50, allow_nan=False)).map(lambda t: (t[0], t[0] + t[1]))
diagram = st.lists(point, min_size=0, max_size=9).map(lambda pts: np.array(pts, float).reshape(-1, 2))


@given(diagram, diagram, diagram, st.sampled_from(ORDERS), st.sampled_from(NORMS))
def test_metric_properties(a, b, c, p, q):
    dab = te.wasserstein_distance(a, b, order=p, internal_p=q)
    dba = te.wasserstein_distance(b, a, order=p, internal_p=q)
    assert dab == pytest.approx(dba, rel=1e-12, abs=1e-12)
    assert te.wasserstein_distance(a, a, order=p, internal_p=q) == 0.0
    dbc = te.wasserstein_distance(b, c, order=p, internal_p=q)
    dac = te.wasserstein_distance(a, c, order=p, internal_p=q)
    assert dac <= dab + dbc + 1e-9 * (1 + dab + dbc)
    bab = te.bottleneck_distance(a, b, internal_p=q)
    assert bab == te.bottleneck_distance(b, a, internal_p=q)
    assert te.bottleneck_distance(a, a, internal_p=q) == 0.0
    assert te.bottleneck_distance(a, c, internal_p=q) <= bab + te.bottleneck_distance(b, c, internal_p=q) + 1e-12
    assert bab <= dab * (1 + 1e-12) + 1e-12
    assert te.wasserstein_distance(a, b, order=np.inf, internal_p=q) == bab


# ----------------------------------------------------------------------------- inputs and validation


def test_diagram_objects_and_array_likes():
    rng = np.random.default_rng(16)
    f = rng.normal(size=(24, 24))
    g = f + rng.normal(size=f.shape) * 0.1
    d1, d2 = te.persistence_diagram(f), te.persistence_diagram(g)
    a1, a2 = np.asarray(d1), np.asarray(d2)
    assert te.wasserstein_distance(d1, d2) == te.wasserstein_distance(a1, a2)
    assert te.wasserstein_distance(a1.tolist(), a2.tolist()) == te.wasserstein_distance(a1, a2)
    assert te.wasserstein_distance(d1, d2) == pytest.approx(gudhi_w(a1, a2, 1.0, 2.0), rel=1e-9)
    assert te.bottleneck_distance(d1, d2) == gudhi_b(a1, a2)
    s1 = te.persistence_diagram(f, filtration="superlevel")
    s2 = te.persistence_diagram(g, filtration="superlevel")
    assert te.wasserstein_distance(s1, s2, order=2) == pytest.approx(
        gudhi_w(-np.asarray(s1), -np.asarray(s2), 2.0, 2.0), rel=1e-9)
    assert te.wasserstein_distance([], []) == 0.0
    assert te.bottleneck_distance(np.empty((0, 2)), [[0.0, 2.0]]) == 1.0
    d, m = te.wasserstein_distance([], [], matching=True)
    assert d == 0.0 and m.shape == (0, 3)


@pytest.mark.parametrize("bad", [0.5, 0, -1, np.nan, "two", None])
def test_bad_order_and_internal_p(bad):
    with pytest.raises(InvalidOptionError, match="order"):
        te.wasserstein_distance([[0, 1]], [[0, 1]], order=bad)
    with pytest.raises(InvalidOptionError, match="internal_p"):
        te.wasserstein_distance([[0, 1]], [[0, 1]], internal_p=bad)
    with pytest.raises(InvalidOptionError, match="internal_p"):
        te.bottleneck_distance([[0, 1]], [[0, 1]], internal_p=bad)


def test_bad_inputs():
    with pytest.raises(InvalidOptionError, match="essential"):
        te.wasserstein_distance([[0, 1]], [[0, 1]], essential="drop")
    with pytest.raises(InvalidOptionError, match="matching"):
        te.bottleneck_distance([[0, 1]], [[0, 1]], matching="yes")
    with pytest.raises(InvalidInputError, match=r"\(n, 2\)"):
        te.wasserstein_distance([[0, 1, 2]], [[0, 1]])
    with pytest.raises(NonFiniteError, match="NaN"):
        te.wasserstein_distance([[0, np.nan]], [[0, 1]])
    with pytest.raises(NonFiniteError, match="NaN"):
        te.bottleneck_distance([[0, 1]], [[np.inf, np.nan]])
    # an infinite birth is an essential point of its own category (issue 17), no longer refused
    assert te.bottleneck_distance([[0, 1]], [[np.inf, 1]]) == np.inf


# ----------------------------------------------------------------------------- real fields vs compressors


def _gudhi_dgm(a):
    cc = gudhi.CubicalComplex(top_dimensional_cells=np.asarray(a, float))
    cc.compute_persistence()
    return cc.persistence_intervals_in_dimension(0)


@pytest.mark.parametrize("name", ["smooth2d", "shallow_water"])
def test_sample_fields_vs_reconstructions(name):
    files = sorted(SAMPLE.glob(f"{name}_*.npy"))
    if not (SAMPLE / f"{name}.npy").exists() or not files:
        pytest.skip("sample_data not generated")
    orig = _gudhi_dgm(np.load(SAMPLE / f"{name}.npy"))
    for f in files:
        rec = _gudhi_dgm(np.load(f))
        for p in (1.0, 2.0):
            got, m = te.wasserstein_distance(orig, rec, order=p, matching=True)
            assert got == pytest.approx(gudhi_w(orig, rec, p, 2.0), rel=1e-9), f.name
            check_matching(orig, rec, got, m, p, 2.0)
        assert te.bottleneck_distance(orig, rec) == gudhi_b(orig, rec), f.name


# ----------------------------------------------------------------------------- the sparse solver


def _sparse_value(a, b, p, q, k, init=None):
    mx, my, stats = kd.sparse_wasserstein(a, b, p, q, k=k, init=init, return_stats=True)
    rows = tdist._matching_rows(np.arange(len(a)), np.arange(len(b)), mx, my, a, b, q)
    m = tdist._finish_matching(rows)
    return (m[:, 2] ** p).sum() ** (1.0 / p), m, stats


def test_assignment_oracle_matches_brute_force():
    for kind in KINDS:
        for a, b in _pairs(25, kind, [(3, 4), (4, 4), (0, 3)]):
            s = SCALE.get(kind, 1.0)
            for p in ORDERS:
                for q in NORMS:
                    assert naive.assignment_wasserstein(a * s, b * s, p, q) == pytest.approx(
                        naive.naive_wasserstein(a * s, b * s, p, q), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("kind", KINDS)
def test_sparse_solver_with_few_neighbours_matches_pot(kind):
    """k = 1 or 2 neighbours leave most optimal pairs out: the certificate must find them, from
    every starting point of the duals."""
    s = SCALE.get(kind, 1.0)
    rng = np.random.default_rng(21)
    pairs = list(_pairs(22, kind, [(40, 50), (150, 120), (300, 310)]))
    a = pairs[-1][0]  # and a slightly moved copy, as a compressor makes (the "zero" start)
    b = a + rng.normal(scale=1e-3 * np.abs(a).max(), size=a.shape)
    b[:, 1] = np.where(a[:, 0] <= a[:, 1], np.maximum(b[:, 0], b[:, 1]), np.minimum(b[:, 0], b[:, 1]))
    pairs.append((a, b))
    count = 0
    for trial, (a, b) in enumerate(pairs):
        for p in ORDERS:
            for q in NORMS:
                k = int(rng.integers(1, 4))
                init = (None, "max", "split", "zero")[count % 4]
                count += 1
                got, m, stats = _sparse_value(a, b, p, q, k, init)
                ref = gudhi_w(a * s, b * s, p, q) / abs(s)
                if trial == len(pairs) - 1 and p > 2:
                    # POT's simplex stops at an absolute tolerance: up to 2e-5 relative off at
                    # p = 3.5 on the near-identical pair (costs ~1e-10 beside diagonal costs ~10);
                    # scipy's assignment, which has none, is the oracle there
                    ref = naive.assignment_wasserstein(a * s, b * s, p, q) / abs(s)
                assert got == pytest.approx(ref, rel=1e-9, abs=1e-300), (kind, trial, p, q, k, stats)
                check_matching(a, b, got, m, p, q)


def test_public_api_uses_sparse_solver_on_large_diagrams(monkeypatch):
    monkeypatch.setattr(tdist, "_POT_MAX_PAIRS", 10_000)  # keep the oracle (POT) fast
    monkeypatch.setattr(tdist, "_POT_COLD_MIN_PAIRS", 10_000)
    rng = np.random.default_rng(23)
    f = rng.normal(size=(64, 64))
    g = f + rng.normal(size=f.shape) * 0.3
    a, b = _gudhi_dgm(f), _gudhi_dgm(g)
    assert len(a) * len(b) > tdist._POT_MAX_PAIRS and len(a) + len(b) > tdist._DENSE_MAX_POINTS
    for p in (1.0, 2.0):
        got, m = te.wasserstein_distance(a, b, order=p, matching=True)
        assert got == pytest.approx(gudhi_w(a, b, p, 2.0), rel=1e-9)
        check_matching(a, b, got, m, p, 2.0)
    assert te.bottleneck_distance(a, b) == gudhi_b(a, b)


def test_near_identical_start_on_a_field_and_its_quantised_copy(monkeypatch):
    """A field vs its quantised copy (duplicates, near-identical) takes the "zero" start through the
    public API and stays exact; white noise vs independent noise does not take it."""
    from scipy.ndimage import gaussian_filter
    from scipy.spatial import cKDTree

    monkeypatch.setattr(tdist, "_POT_MAX_PAIRS", -1)
    monkeypatch.setattr(tdist, "_DENSE_MAX_POINTS", 0)
    monkeypatch.setattr(tdist, "_DENSE_MAX_WORK", -1)
    rng = np.random.default_rng(26)
    f = gaussian_filter(rng.normal(size=(96, 96)), 2.0)
    g = np.round(f / 0.004) * 0.004
    a, b = _gudhi_dgm(f), _gudhi_dgm(g)
    a, b = a[np.isfinite(a[:, 1])], b[np.isfinite(b[:, 1])]
    starts = []
    real = kd.sparse_wasserstein

    def spy(x, y, p, q, k=None, init=None, return_stats=False):
        mx, my, stats = real(x, y, p, q, k=k, init=init, return_stats=True)
        starts.append(stats["init"])
        return (mx, my, stats) if return_stats else (mx, my)

    monkeypatch.setattr(kd, "sparse_wasserstein", spy)
    for p in (1.0, 2.0):
        got, m = te.wasserstein_distance(a, b, order=p, matching=True)
        assert got == pytest.approx(gudhi_w(a, b, p, 2.0), rel=1e-9)
        check_matching(a, b, got, m, p, 2.0)
    assert starts == ["zero", "zero"]
    noise1, noise2 = _gudhi_dgm(rng.normal(size=(40, 40))), _gudhi_dgm(rng.normal(size=(40, 40)))
    te.wasserstein_distance(noise1, noise2, order=2.0)
    assert starts[-1] == "max"
    one = np.array([[0.0, 1.0]])  # no other point of its own diagram to compare with
    assert not kd._near_identical(one, cKDTree(one), cKDTree(one + 0.5), 2.0)


def test_offset_diagrams(solver):
    """Huge coordinates, small differences: exact whatever the offset (an isometry)."""
    rng = np.random.default_rng(24)
    a = _family(rng, "normal", 30)
    b = _family(rng, "normal", 25)
    for p in ORDERS:
        ref = gudhi_w(a, b, p, 2.0)
        assert te.wasserstein_distance(a + 1e6, b + 1e6, order=p) == pytest.approx(ref, rel=1e-9)
    assert te.bottleneck_distance(a + 1e6, b + 1e6) == pytest.approx(gudhi_b(a, b), rel=1e-9)


def test_small_diagrams_do_not_import_pot():
    """Regression: `import ot` (which loads torch when installed) cost ~3 s of CPU on every
    `topoeval compare`; small diagrams use the dense assignment unless POT is loaded already."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, topoeval as te\n"
        "rng = np.random.default_rng(0)\n"
        "b = rng.random((2, 250)); a = np.c_[b[0], b[0] + 0.2]; c = np.c_[b[1], b[1] + 0.3]\n"
        "assert te.wasserstein_distance(a, c) > 0\n"
        "print('ot' in sys.modules, 'torch' in sys.modules)\n"
    )
    assert 250 * 250 < tdist._POT_COLD_MIN_PAIRS  # diagrams of the bundled samples are smaller still
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def _noise_pair(side, sigma, seed):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(side, side))
    return _gudhi_dgm(f), _gudhi_dgm(f + sigma * rng.normal(size=f.shape))


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_sparse_solver_medium_noise_against_pot(p):
    """A few thousand points (white noise vs perturbed noise, the benchmark's hardest family):
    the automatic choice is the sparse solver, exact against gudhi-POT to 1e-9."""
    a, b = _noise_pair(128, 0.1, 31)
    a, b = a[np.isfinite(a[:, 1])], b[np.isfinite(b[:, 1])]
    assert min(len(a), len(b)) > 1500 and len(a) + len(b) > tdist._DENSE_MAX_POINTS
    got, m = te.wasserstein_distance(a, b, order=p, matching=True)
    assert got == pytest.approx(gudhi_w(a, b, p, 2.0), rel=1e-9)
    check_matching(a, b, got, m, p, 2.0)


def test_sparse_solver_weighted_points_against_dense():
    """Quantised reconstructions put many points on few locations (merged into weighted
    points): the sparse flow equals the dense assignment, for W1 (both sides start free) and
    W2, with few neighbours (rounds of added pairs, released flow re-routed from both sides)."""
    rng = np.random.default_rng(32)
    f = rng.normal(size=(40, 40))
    g = np.round(f * 4) / 4
    a, b = _gudhi_dgm(f), _gudhi_dgm(g)
    a, b = a[np.isfinite(a[:, 1])], b[np.isfinite(b[:, 1])]
    assert len(np.unique(b, axis=0)) < len(b) - 20
    for p in (1.0, 2.0, 3.5):
        for q in NORMS:
            ref_x, ref_y = tdist._dense_wasserstein(a, b, p, q)
            rows = tdist._matching_rows(np.arange(len(a)), np.arange(len(b)), ref_x, ref_y, a, b, q)
            ref = (tdist._finish_matching(rows)[:, 2] ** p).sum() ** (1.0 / p)
            for k in (2, 12):
                got, m, stats = _sparse_value(a, b, p, q, k)
                assert got == pytest.approx(ref, rel=1e-9), (p, q, k, stats)
                check_matching(a, b, got, m, p, q)


def test_sparse_solver_identical_and_disjoint_diagrams():
    """Identical diagrams (every pair tight at zero cost) give 0; diagrams far apart match
    everything to the diagonal."""
    rng = np.random.default_rng(33)
    a = _family(rng, "normal", 500)
    for p in (1.0, 2.0):
        assert _sparse_value(a, a.copy(), p, 2.0, 12)[0] == 0.0
        far = a + np.array([1e3, 1e3])
        got = _sparse_value(a, far, p, 2.0, 12)[0]
        ref = ((tdist._diag_dist(a, 2.0) ** p).sum() * 2) ** (1.0 / p)
        assert got == pytest.approx(ref, rel=1e-12)


# ----------------------------------------------------------------------------- certified tolerance


def _exact_pp(a, b, p):
    return te.wasserstein_distance(a, b, order=p) ** p


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_sparse_solver_tolerance_bounds_hold(p):
    """With few neighbours the rounds stop early at a loose tolerance: the certified bounds of
    W_p^p hold (lower <= exact <= upper), the gap is within the tolerance, and the returned flow
    costs exactly the upper bound."""
    a, b = _noise_pair(64, 0.5, 42)
    a, b = a[np.isfinite(a[:, 1])], b[np.isfinite(b[:, 1])]
    exact = _exact_pp(a, b, p)
    stopped_early = 0
    for k, init, tol in [(1, "max", 0.5), (1, "max", 0.05), (2, "split", 0.2), (1, "zero", 0.3), (3, "max", 0.0)]:
        got, m, stats = _sparse_value(a, b, p, 2.0, k, init) if tol == 0.0 else (None, None, None)
        mx, my, stats = kd.sparse_wasserstein(a, b, p, 2.0, k=k, init=init, return_stats=True, tolerance=tol)
        rows = tdist._matching_rows(np.arange(len(a)), np.arange(len(b)), mx, my, a, b, 2.0)
        value = (tdist._finish_matching(rows)[:, 2] ** p).sum()
        assert stats["lower"] <= exact * (1 + 1e-12), (k, init, tol, stats)
        assert value >= exact * (1 - 1e-12)
        assert value == pytest.approx(stats["upper"], rel=1e-9)
        assert stats["upper"] <= stats["lower"] * (1 + tol) ** p * (1 + 1e-12)
        stopped_early += not stats["optimal"]
        if tol == 0.0:
            assert stats["optimal"] and value == pytest.approx(exact, rel=1e-12)
    assert stopped_early >= 2  # the bound, not only the exact stop, was exercised


def test_public_tolerance_result(monkeypatch):
    """tolerance= returns a WassersteinResult whose bounds hold around the exact distance and
    are within the tolerance; without it the return values are unchanged; essential points and
    the bottleneck are exact."""
    monkeypatch.setattr(tdist, "_DENSE_MAX_POINTS", 0)
    monkeypatch.setattr(tdist, "_DENSE_MAX_WORK", -1)
    a, b = _noise_pair(64, 0.5, 43)
    a = np.vstack([a, [[0.0, np.inf], [-np.inf, 2.0]]])
    b = np.vstack([b, [[0.5, np.inf], [-np.inf, 1.0]]])
    for p in (1.0, 2.0):
        exact, m_exact = te.wasserstein_distance(a, b, order=p, matching=True)
        for tol in (0.1, 1e-3, 0.0):
            r = te.wasserstein_distance(a, b, order=p, tolerance=tol, matching=True)
            assert isinstance(r, te.WassersteinResult)
            assert r.lower <= exact * (1 + 1e-12) and r.upper >= exact * (1 - 1e-12)
            assert r.upper == r.value and r.value <= r.lower * (1 + tol) * (1 + 1e-12)
            check_matching(a, b, r.value, r.matching, p, 2.0)
            assert float(r) == r.value and str(r).startswith(f"W{p:g} = ")
        r = te.wasserstein_distance(a, b, order=p, details=True)
        assert r.exact and r.value == exact and r.gap == 0.0 and r.matching is None
    r = te.wasserstein_distance(a, b, order=np.inf, tolerance=1e-3)
    assert r.exact and r.value == te.bottleneck_distance(a, b, internal_p=2.0)
    r = te.wasserstein_distance([[0.0, np.inf]], [[0.0, 1.0]], tolerance=1e-3)
    assert r.value == r.lower == np.inf


def test_progress_callback_reports_rounds_and_keeps_the_value(monkeypatch):
    monkeypatch.setattr(tdist, "_DENSE_MAX_POINTS", 0)
    monkeypatch.setattr(tdist, "_DENSE_MAX_WORK", -1)
    a, b = _noise_pair(48, 0.3, 44)
    a, b = a[np.isfinite(a[:, 1])], b[np.isfinite(b[:, 1])]  # the bounds are of the finite part
    events = []
    got = te.wasserstein_distance(a, b, order=2.0, progress=events.append)
    assert got == te.wasserstein_distance(a, b, order=2.0)
    routes = [e for e in events if e["stage"] == "route"]
    rounds = [e for e in events if e["stage"] == "round"]
    assert routes and rounds and rounds[-1]["violations"] == 0
    assert all(0 < e["done"] <= e["total"] for e in routes)
    events.clear()
    r = te.wasserstein_distance(a, b, order=2.0, tolerance=1e-3, progress=events.append)
    last = [e for e in events if e["stage"] == "round"][-1]
    assert last["lower"] <= last["upper"] and r.value == pytest.approx(last["upper"] ** 0.5, rel=1e-9)


@pytest.mark.parametrize("bad", [-1e-3, 1.0, np.nan, "tight"])
def test_bad_tolerance_and_progress(bad):
    with pytest.raises(InvalidOptionError, match="tolerance"):
        te.wasserstein_distance([[0, 1]], [[0, 1]], tolerance=bad)
    with pytest.raises(InvalidOptionError, match="progress"):
        te.wasserstein_distance([[0, 1]], [[0, 1]], progress=3)


def test_compare_distance_tolerance_reports_the_bound():
    """te.compare(distance_tolerance=) puts the certified bound in every output (to_row keys
    wasserstein_lower_<f>, wasserstein_gap_<f>; the text); without it the rows are unchanged."""
    rng = np.random.default_rng(45)
    f = rng.normal(size=(48, 48))
    g = f + 0.3 * rng.normal(size=f.shape)
    exact = te.compare(f, g, metrics="persistence", filtration="both")
    c = te.compare(f, g, metrics="persistence", filtration="both", distance_tolerance=1e-3)
    row = c.to_row()
    for filt in ("sublevel", "superlevel"):
        w, low, gap = (row[f"{k}_{filt}"] for k in ("wasserstein", "wasserstein_lower", "wasserstein_gap"))
        ref = exact.to_row()[f"wasserstein_{filt}"]
        assert low <= ref * (1 + 1e-12) and w >= ref * (1 - 1e-12) and 0.0 <= gap <= 1e-3 * (1 + 1e-9)
        assert f"wasserstein_gap_{filt}" not in exact.to_row()
    assert "wasserstein_gap" in str(c)
    with pytest.raises(InvalidOptionError, match="distance_tolerance"):
        te.compare(f, g, metrics="persistence", distance_tolerance=-1.0)


# ----------------------------------------------------------------------------- the auction (tolerance, millions of points)

from topoeval.distances import _auction  # noqa: E402


def _auction_check(a, b, p, q, tol, exact_pp):
    """The auction's certified interval of W_p^p holds the exact value, its gap is within the
    tolerance, and the matching it returns costs its upper bound."""
    mx, my, stats = _auction.auction_wasserstein(a, b, p, q, tol)
    rows = tdist._matching_rows(np.arange(len(a)), np.arange(len(b)), mx, my, a, b, q)
    m = tdist._finish_matching(rows)
    value = float((m[:, 2] ** p).sum())
    check_matching(a, b, value ** (1 / p), m, p, q)
    lo, up = stats["lower"], stats["upper"]
    slack = 1e-12 * max(exact_pp, 1e-300)
    assert lo <= exact_pp + slack and up >= exact_pp - slack, (lo, exact_pp, up)
    assert value == pytest.approx(up, rel=1e-9, abs=1e-12)
    assert up <= 0 or up <= lo * (1 + tol) ** p * (1 + 1e-12), stats
    return stats


def _grid_points(draw, n, side, dup):
    """n points (birth, death) on a side x side integer grid, each repeated up to dup times (ties)."""
    pts = [(b, b + draw(st.integers(0, side))) for b in draw(st.lists(st.integers(0, side), min_size=n, max_size=n))]
    reps = draw(st.lists(st.integers(1, dup), min_size=n, max_size=n))
    return np.array([pt for pt, r in zip(pts, reps) for _ in range(r)], float).reshape(-1, 2)


@st.composite
def _tied_pairs(draw):
    a = _grid_points(draw, draw(st.integers(1, 12)), 6, 3)
    b = _grid_points(draw, draw(st.integers(1, 12)), 6, 6)  # few locations with many copies
    return a, b


@given(_tied_pairs(), st.sampled_from(ORDERS), st.sampled_from(NORMS), st.sampled_from([1e-9, 1e-3, 0.2]))
def test_auction_interval_holds_the_exact_value(pair, p, q, tol):
    """Random diagrams with ties and many duplicate points: the certified interval holds the
    exact value (scipy's assignment on the full unmerged (n + m)^2 form) within the tolerance."""
    a, b = pair
    exact = naive.assignment_wasserstein(a, b, order=p, internal_p=q) ** p
    _auction_check(a, b, p, q, tol, exact)


@given(_tied_pairs(), st.sampled_from([1.0, 2.0]))
def test_auction_merge_matches_pot_and_swapped_sides(pair, p):
    """The merged problem (copies as classes) against POT's exact simplex on the unmerged points,
    and with the two diagrams swapped (persons and objects trade sides)."""
    ot = pytest.importorskip("ot")
    a, b = pair
    n, m = len(a), len(b)
    cost = np.zeros((n + 1, m + 1))
    cost[:n, :m] = tdist._cross_dist(a, b, 2.0) ** p
    cost[:n, m] = tdist._diag_dist(a, 2.0) ** p
    cost[n, :m] = tdist._diag_dist(b, 2.0) ** p
    ref = ot.emd2(np.r_[np.ones(n), m], np.r_[np.ones(m), n], cost)
    exact = naive.assignment_wasserstein(a, b, order=p) ** p
    assert ref == pytest.approx(exact, rel=1e-6, abs=1e-9)
    s1 = _auction_check(a, b, p, 2.0, 1e-9, exact)
    s2 = _auction_check(b, a, p, 2.0, 1e-9, exact)
    assert s1["unique"] == s2["unique"][::-1] == (len(np.unique(a, axis=0)), len(np.unique(b, axis=0)))


def _quantised_pair(shape, seed, step=0.02):
    """A smooth field + 5 % noise and its quantised copy (issue 18's case, small)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    f = gaussian_filter(rng.standard_normal(shape), sigma=3.0)
    f = (f - f.min()) / (f.max() - f.min()) + 0.05 * rng.standard_normal(shape)
    g = np.round(f / step) * step
    a, b = (np.asarray(te.persistence_diagram(v)) for v in (f, g))
    return a[np.isfinite(a).all(axis=1)], b[np.isfinite(b).all(axis=1)]


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_auction_on_a_field_and_its_quantised_copy(p):
    """Thousands of distinct points against a few hundred locations with many copies each:
    the certified interval holds the exact (sparse solver) value, within 1e-3 and 1e-6."""
    a, b = _quantised_pair((192, 192), 18)
    assert len(np.unique(b, axis=0)) < len(b) / 4  # heavy duplicates
    exact = te.wasserstein_distance(a, b, order=p) ** p
    for tol in (1e-3, 1e-6):
        stats = _auction_check(a, b, p, 2.0, tol, exact)
        assert stats["phases"] >= 2


def test_auction_on_noise_and_identical_diagrams():
    """Both sides distinct (noise vs perturbed noise) and identical diagrams (distance 0)."""
    a, b = _noise_pair(48, 0.3, 46)
    a, b = a[np.isfinite(a[:, 1])], b[np.isfinite(b[:, 1])]
    for p in (1.0, 2.0):
        _auction_check(a, b, p, 2.0, 1e-4, te.wasserstein_distance(a, b, order=p) ** p)
    stats = _auction_check(a, a.copy(), 2.0, 2.0, 1e-3, 0.0)
    assert stats["upper"] == 0.0


def test_public_tolerance_uses_the_auction_on_large_diagrams(monkeypatch):
    """tolerance > 0 on many points goes to the auction (its bounds on the result, essential
    points added exactly, progress once per phase); tolerance 0 and None stay exact."""
    monkeypatch.setattr(tdist, "_AUCTION_MIN_POINTS", 100)
    monkeypatch.setattr(tdist, "_DENSE_MAX_POINTS", 0)
    monkeypatch.setattr(tdist, "_DENSE_MAX_WORK", -1)
    calls = []
    real = _auction.auction_wasserstein
    monkeypatch.setattr(_auction, "auction_wasserstein", lambda *a, **k: calls.append(1) or real(*a, **k))
    a, b = _quantised_pair((40, 40), 19)
    a = np.vstack([a, [[0.0, np.inf]]])
    b = np.vstack([b, [[0.25, np.inf]]])
    exact = te.wasserstein_distance(a, b, order=2.0)
    assert not calls
    events = []
    # (1e-6: several phases, whose progress is checked; 1e-3 is certified after the first here)
    r = te.wasserstein_distance(a, b, order=2.0, tolerance=1e-6, matching=True, progress=events.append)
    assert calls and isinstance(r, te.WassersteinResult)
    assert r.lower <= exact * (1 + 1e-12) <= r.upper * (1 + 2e-12) and r.gap <= 1e-6
    check_matching(a, b, r.value, r.matching, 2.0, 2.0)
    assert [e["round"] for e in events] == list(range(1, len(events) + 1)) and len(events) >= 2
    assert all(e["stage"] == "round" and e["lower"] <= e["upper"] for e in events)
    assert r.value == pytest.approx((events[-1]["upper"] + 0.25**2) ** 0.5, rel=1e-9)
    calls.clear()
    r0 = te.wasserstein_distance(a, b, order=2.0, tolerance=0.0)
    assert not calls and r0.exact and r0.value == exact


def test_compare_reports_distance_progress(monkeypatch):
    """te.compare(progress=) in memory calls progress(stage, done, total) during the distance
    solves, one stage per distance ("distance W1 sublevel"); the values are unchanged."""
    monkeypatch.setattr(tdist, "_AUCTION_MIN_POINTS", 100)
    monkeypatch.setattr(tdist, "_DENSE_MAX_POINTS", 0)
    monkeypatch.setattr(tdist, "_DENSE_MAX_WORK", -1)
    rng = np.random.default_rng(47)
    f = rng.normal(size=(40, 40))
    g = np.round(f / 0.2) * 0.2
    calls = []
    kw = dict(metrics="persistence", filtration="both", distance_tolerance=1e-3)
    c = te.compare(f, g, progress=lambda *a: calls.append(a), **kw)
    assert {s for s, _, _ in calls} == {"distance W1 sublevel", "distance W1 superlevel"}
    assert all(total is None and done >= 1 for _, done, total in calls)  # the auction's phases
    assert c.to_row() == te.compare(f, g, **kw).to_row()
    calls.clear()
    te.compare(f, g, metrics="persistence", progress=lambda *a: calls.append(a))  # exact: routing
    assert calls and all(0 < done <= total for _, done, total in calls)


# ----------------------------------------------------------------------------- the auction's lifted bound and kept persons


@given(_tied_pairs(), st.sampled_from(ORDERS), st.sampled_from(NORMS))
def test_auction_every_phase_bounds_hold_the_exact_value(pair, p, q):
    """After every phase (persons still eps-happy kept, the others released): the assignment is
    complete, and both the plain dual and the lifted one (prices lowered to the c-transform of
    the values) stay below the exact W_p^p, the matching's cost above it."""
    a, b = pair
    exact = naive.assignment_wasserstein(a, b, order=p, internal_p=q) ** p
    auc = _auction._Auction(a, b, p, q)
    top = float(max(auc.dx.max(), auc.dy.max(), np.finfo(float).tiny))
    eps = top / 4.0
    slack = 1e-9 * max(exact, 1e-12)
    for _ in range(8):
        auc.phase(eps)
        assert (auc.assign >= 0).all() and (auc.owner >= 0).all()
        upper, lower = auc.bounds()
        left, right, start, end, perm, bbox = auc.tree
        lifted, _ = _auction._lifted_lower(auc.x, auc.y, auc.dx, auc.dy, auc.p, auc.q, auc.pcls, auc.n0, auc.m0,
                                           auc.assign, auc.cptr, auc.a_cnt, auc.b_cnt, auc.ux, auc.upy,
                                           left, right, start, end, perm, bbox)
        assert lifted <= exact + slack and lower <= exact + slack <= upper + 2 * slack, (lifted, lower, exact, upper)
        eps /= 5.0
        auc.release(eps)


@given(_tied_pairs(), st.sampled_from(ORDERS), st.sampled_from(NORMS))
def test_auction_release_keeps_class_prices_and_frees_at_the_cheapest(pair, p, q):
    """Between phases the persons released give back copies priced down to their class's
    cheapest: no class price (a heap root) changes, every freed copy is at it, every heap is
    valid, and the persons kept hold their copies (the similar-objects bids and the diagonal as
    one class of n copies)."""
    a, b = pair
    auc = _auction._Auction(a, b, p, q)
    eps = float(max(auc.dx.max(), auc.dy.max(), 1.0)) / 4.0
    m = len(auc.y)
    assert len(auc.cptr) == m + 2 and auc.cptr[-1] - auc.cptr[-2] == len(a)  # the diagonal class
    for _ in range(4):
        auc.phase(eps)
        auc.bounds()
        low = auc.price[auc.heap[auc.cptr[:-1]]].copy()
        held = auc.assign.copy()
        eps /= 5.0
        auc.release(eps)
        kept = auc.assign >= 0
        assert (auc.assign[kept] == held[kept]).all() and len(auc.queue[:auc.nqueue]) == (~kept).sum()
        for k in range(m + 1):
            copies = auc.heap[auc.cptr[k]:auc.cptr[k + 1]]
            pr = auc.price[copies]
            assert pr[0] == low[k] and pr.min() == low[k]
            assert (pr[(np.arange(1, len(pr)) - 1) // 2] <= pr[1:]).all()  # heap order
            free = copies[auc.owner[copies] < 0]
            assert (auc.price[free] == low[k]).all()


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_auction_first_phase_price_war_raises_eps(monkeypatch, p):
    """A first phase that runs out of its bid budget goes on at eps x 5 (the persons still queued
    bid on): the interval still holds the exact value; the same result on every run."""
    monkeypatch.setattr(_auction, "_EPS_START", 1e-9)
    monkeypatch.setattr(_auction, "_WAR_BIDS", 0.3)
    a, b = _noise_pair(32, 0.3, 48)
    a, b = a[np.isfinite(a[:, 1])], b[np.isfinite(b[:, 1])]
    exact = te.wasserstein_distance(a, b, order=p) ** p
    stats = _auction_check(a, b, p, 2.0, 1e-4, exact)
    auc = _auction._Auction(a, b, p, 2.0)
    assert stats["eps"] > 1e-9 * 5 * auc.a_cnt @ auc.dx / (len(a) + len(b))  # raised
    again = _auction.auction_wasserstein(a, b, p, 2.0, 1e-4)
    assert again[2] == stats
    assert (_auction.auction_wasserstein(a, b, p, 2.0, 1e-4)[0] == again[0]).all()


@given(_tied_pairs(), st.sampled_from([1.0, 2.0]), st.sampled_from([1e-12, 0.02, 5.0]), st.sampled_from([0.05, 8.0]))
def test_auction_any_first_eps_and_budget_hold_the_exact_value(pair, p, start, war):
    """Whatever the first eps and the first phase's bid budget (a war raising eps, or none), the
    certified interval holds the exact value on tied diagrams with many copies."""
    a, b = pair
    exact = naive.assignment_wasserstein(a, b, order=p) ** p
    saved = _auction._EPS_START, _auction._WAR_BIDS
    try:
        _auction._EPS_START, _auction._WAR_BIDS = start, war
        _auction_check(a, b, p, 2.0, 1e-3, exact)
    finally:
        _auction._EPS_START, _auction._WAR_BIDS = saved


def test_bottleneck_out_of_memory_is_a_clear_error(monkeypatch):
    """scipy's std::bad_alloc in the candidate pairs of huge diagrams becomes one topoeval error."""
    import topoeval.distances._bottleneck as bn

    def exhausted(*args, **kwargs):
        raise MemoryError("std::bad_alloc")

    monkeypatch.setattr(bn, "bottleneck_finite", exhausted)
    monkeypatch.setattr("topoeval.distances.api._DENSE_BOTTLENECK_MAX_PAIRS", 0)
    rng = np.random.default_rng(0)
    births = rng.random(50)
    x = np.column_stack([births, births + rng.random(50)])
    with pytest.raises(te.InsufficientMemoryError, match="50 and 50 finite points ran out of memory") as info:
        te.bottleneck_distance(x, x[::-1].copy())
    assert isinstance(info.value, MemoryError)

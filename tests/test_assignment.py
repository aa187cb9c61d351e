"""The dense small-diagram solvers (topoeval.distances._dense, ._bottleneck) against SciPy, the KD-tree
bottleneck, gudhi and the brute-force references of tests/naive.py; and that small comparisons
import neither scipy.optimize, scipy.spatial nor scipy.sparse (start-up time, issue 5)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gudhi
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import topoeval as te
import topoeval.distances.api as tdist
from topoeval.distances import _bottleneck as bn
from topoeval.distances._metric import _diag_dist, _pair_dist

from .naive import naive_bottleneck, naive_max_matching, naive_wasserstein

ROOT = Path(__file__).resolve().parents[1]
NORMS = (1.0, 2.0, np.inf)


def _diagram(rng, n, kind):
    birth = rng.random(n)
    death = birth + rng.exponential(0.2, n)
    if kind == "ties":  # many equal costs: the assignment has many optima
        birth, death = np.round(birth, 1), np.round(death, 1)
    elif kind == "duplicates":
        birth, death = birth[rng.integers(0, max(n // 3, 1), n)], death[rng.integers(0, max(n // 3, 1), n)]
        death = np.maximum(death, birth)
    elif kind == "diagonal":  # points on the diagonal cost nothing
        death[: n // 2] = birth[: n // 2]
    return np.column_stack([birth, death])


def _pairs(seed, count, max_n=30):
    rng = np.random.default_rng(seed)
    for k in range(count):
        kind = ("plain", "ties", "duplicates", "diagonal")[k % 4]
        yield _diagram(rng, int(rng.integers(1, max_n)), kind), _diagram(rng, int(rng.integers(1, max_n)), kind)


def _augmented_cost(x, y, p, q):
    """The textbook (n + m) x (m + n) assignment with diagonal copies, for SciPy."""
    n, m = len(x), len(y)
    c = _pair_dist(x[:, None, 0] - y[None, :, 0], x[:, None, 1] - y[None, :, 1], q) ** p
    big = 1e300
    cost = np.full((n + m, m + n), big)
    cost[:n, :m] = c
    cost[n:, m:] = 0.0
    cost[np.arange(n), m + np.arange(n)] = _diag_dist(x, q) ** p
    cost[n + np.arange(m), np.arange(m)] = _diag_dist(y, q) ** p
    return cost


@pytest.mark.parametrize("p", [1.0, 2.0, 3.5])
def test_wasserstein_assignment_matches_scipy(p):
    for x, y in _pairs(1, 120):
        for q in NORMS:
            cost = _augmented_cost(x, y, p, q)
            r, c = linear_sum_assignment(cost)
            ref = cost[r, c].sum()
            match_x, match_y = tdist._dense_wasserstein(x, y, p, q)
            # a matching: each point of y used at most once, consistent both ways
            used = match_x[match_x >= 0]
            assert len(np.unique(used)) == len(used)
            assert np.array_equal(match_y[used], np.flatnonzero(match_x >= 0))
            rows = tdist._matching_rows(np.arange(len(x)), np.arange(len(y)), match_x, match_y, x, y, q)
            got = sum(float((r_[:, 2] ** p).sum()) for r_ in rows)
            assert got == pytest.approx(ref, rel=1e-12, abs=1e-15), (len(x), len(y), p, q)


def test_wasserstein_assignment_brute_force_tiny():
    for x, y in _pairs(2, 80, max_n=5):
        for p in (1.0, 2.0):
            for q in NORMS:
                got = te.wasserstein_distance(x, y, order=p, internal_p=q)
                assert got == pytest.approx(naive_wasserstein(x, y, p, q), rel=1e-12)


def test_wasserstein_assignment_rejects_nothing_rectangular():
    # n > m is solved through the transpose: same value either way round
    rng = np.random.default_rng(3)
    x, y = _diagram(rng, 25, "plain"), _diagram(rng, 4, "plain")
    assert te.wasserstein_distance(x, y) == pytest.approx(te.wasserstein_distance(y, x), rel=1e-14)


def _bottleneck_both(x, y, q):
    d = _pair_dist(x[:, None, 0] - y[None, :, 0], x[:, None, 1] - y[None, :, 1], q)
    return bn.bottleneck_dense(d, _diag_dist(x, q), _diag_dist(y, q)), bn.bottleneck_finite(x, y, q)


def test_bottleneck_dense_equals_kdtree_solver_and_gudhi_bit_for_bit():
    for x, y in _pairs(4, 160):
        for q in NORMS:
            (value, match_x, match_y), (ref, _, _) = _bottleneck_both(x, y, q)
            assert value == ref
            if q == np.inf:
                assert value == gudhi.bottleneck_distance(x, y, 0)
            # the matching is a matching and achieves the value
            rows = tdist._matching_rows(np.arange(len(x)), np.arange(len(y)), match_x, match_y, x, y, q)
            assert max(float(r[:, 2].max()) for r in rows if len(r)) <= value
            used = match_x[match_x >= 0]
            assert len(np.unique(used)) == len(used)
            assert np.array_equal(match_y[used], np.flatnonzero(match_x >= 0))


def test_bottleneck_dense_brute_force_tiny():
    for x, y in _pairs(5, 80, max_n=5):
        for q in NORMS:
            (value, _, _), _ = _bottleneck_both(x, y, q)
            assert value == pytest.approx(naive_bottleneck(x, y, q), rel=1e-12)


def test_bottleneck_releases_light_partner_for_heavy_point():
    # at t = 0.75 x's heavy point may take y[0] (light, persistence 0.75), but y[2] (heavy) needs
    # x[0] too, so y[0] must go to the diagonal (an earlier dense matcher that could not release a
    # light partner returned 1.0 here)
    x = np.array([[1.0, 3.0]])
    y = np.array([[1.5, 3.0], [0.5, 2.0], [1.0, 3.0]])
    (value, _, _), (ref, _, _) = _bottleneck_both(x, y, np.inf)
    assert value == ref == naive_bottleneck(x, y, np.inf) == 0.75


@pytest.mark.parametrize("limit", [0, 10**9])
def test_public_bottleneck_uses_either_solver(limit, monkeypatch):
    monkeypatch.setattr(tdist, "_DENSE_BOTTLENECK_MAX_PAIRS", limit)
    for x, y in _pairs(6, 40):
        d, m = te.bottleneck_distance(x, y, matching=True)
        assert d == gudhi.bottleneck_distance(x, y, 0)
        assert m[:, 2].max() <= d


def test_small_comparison_imports_no_scipy_solvers():
    """Regression (start-up, issue 5): the sample comparison used to import scipy.optimize (for
    linear_sum_assignment), scipy.spatial and scipy.sparse.csgraph: 0.3 s of a 2 s command."""
    code = (
        "import sys, numpy as np, topoeval as te\n"
        "a = np.load('sample_data/shallow_water.npy')\n"
        "b = np.load('sample_data/shallow_water_sz3_1e-2.npy')\n"
        "te.compare(a, b, filtration='both')\n"
        "bad = [m for m in ('scipy.optimize', 'scipy.spatial', 'scipy.sparse', 'ot') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _csr(adjacency):
    indptr = np.cumsum([0] + [len(a) for a in adjacency]).astype(np.int64)
    indices = np.array([v for a in adjacency for v in a], dtype=np.int64)
    return indptr, indices


def _check_matching(adjacency, match):
    used = match[match >= 0]
    assert len(np.unique(used)) == len(used)
    assert all(match[u] in adjacency[u] for u in np.flatnonzero(match >= 0))


def test_hopcroft_karp_matches_naive_and_scipy():
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    rng = np.random.default_rng(7)
    for _ in range(200):
        n_left, n_right = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        dense = rng.random((n_left, n_right)) < rng.random() * 0.3
        adjacency = [list(np.flatnonzero(row)) for row in dense]
        match = bn.hopcroft_karp(*_csr(adjacency), n_right)
        _check_matching(adjacency, match)
        size = int((match >= 0).sum())
        assert size == naive_max_matching(adjacency, n_right)
        ref = maximum_bipartite_matching(csr_matrix(dense.astype(np.int8)), perm_type="column")
        assert size == int((ref >= 0).sum())


def test_hopcroft_karp_ladder_scipy_26147():
    """Regression: SciPy's maximum_bipartite_matching does not mark dead ends in its layered search
    and takes time exponential in the depth of a ladder (scipy/scipy#26147); the bottleneck of
    256 x 256 white noise never returned.  Here a free vertex s1 tops a ladder of `depth` levels of
    two matched vertices, each adjacent to both of the next level, ending in a dead end (2**depth
    level-respecting paths), while a chain of the same length from a free vertex s2 to a free right
    vertex sets the phase's augmenting length past the ladder's bottom."""
    depth = 40
    adjacency = []
    # ladder: left 2d + k matched (greedily: own right vertex listed first) to right 2d + k
    for d in range(depth):
        for k in range(2):
            nxt = [2 * (d + 1), 2 * (d + 1) + 1] if d + 1 < depth else []
            adjacency.append([2 * d + k, *nxt])
    # chain: left m_i matched to right c_i = 2 * depth + i, then on to c_(i+1); c_depth is free
    base = 2 * depth
    for i in range(depth):
        adjacency.append([base + i, base + i + 1])
    adjacency.append([0, 1])  # s1: the ladder's top, after its vertices (the greedy start skips it)
    adjacency.append([base])  # s2: the chain's start
    n_right = base + depth + 1
    match = bn.hopcroft_karp(*_csr(adjacency), n_right)
    _check_matching(adjacency, match)
    size = int((match >= 0).sum())
    assert size == naive_max_matching(adjacency, n_right) == n_right  # s2 augments, s1 stays free
    assert match[-2] == -1


def test_bottleneck_large_noise_binary_search_against_gudhi():
    # noise vs strongly perturbed noise (about 1,000 points each): the lower bound is infeasible, so
    # the exponential and binary searches run on the reused candidate pairs
    for seed in (96, 97):
        rng = np.random.default_rng(seed)
        f = rng.normal(size=(96, 96))
        a = np.asarray(te.persistence_diagram(f))
        b = np.asarray(te.persistence_diagram(f + rng.normal(size=f.shape)))
        a, b = a[np.isfinite(a[:, 1])], b[np.isfinite(b[:, 1])]
        for q in NORMS:
            value, match_x, match_y = bn.bottleneck_finite(a, b, q)
            if q == np.inf:
                assert value == gudhi.bottleneck_distance(a, b, 0)
            rows = tdist._matching_rows(np.arange(len(a)), np.arange(len(b)), match_x, match_y, a, b, q)
            assert max(float(r[:, 2].max()) for r in rows if len(r)) == value

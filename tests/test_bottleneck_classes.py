"""The exact bottleneck distance on classes of identical points (topoeval.distances._bottleneck's
class path and ._bottleneck_flow's max-flow threshold tests): equal, as floats, to the
Hopcroft-Karp path on the points, to hera's exact bottleneck (delta=0) and to brute force, on
diagrams with heavy duplication and ties; the threshold tests against a naive perfect matching
of the copies; essential points, empty diagrams, internal_p 1/2/inf, matchings, the memory check.

gudhi.bottleneck_distance(e=0) is not an oracle here: gudhi 3.13 overestimates on some diagrams
with repeated points (the early exit of Graph_matching::multi_augment, GUDHI/gudhi-devel#1367,
fixed after 3.13); :func:`test_gudhi_13_overestimates_with_duplicates` keeps the example.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import topoeval as te
from topoeval.distances import _bottleneck as bn
from topoeval.distances import _bottleneck_flow as bf
from topoeval.distances import api as tdist
from topoeval.distances._metric import _diag_dist, _pair_dist

from . import naive

gudhi = pytest.importorskip("gudhi")
hera = pytest.importorskip("gudhi.hera")

NORMS = (1.0, 2.0, np.inf)


def _grid_diagram(rng, n, step, k):
    """n points drawn from k distinct (birth, death) points on a grid of ``step`` (many copies,
    ties between pair and diagonal distances)."""
    b = rng.integers(0, 8, size=k) * step
    base = np.column_stack([b, b + rng.integers(0, 6, size=k) * step])
    return base[rng.integers(0, k, size=n)]


def _noisy_diagram(rng, n, step=None):
    b = rng.random(n) * 3
    x = np.column_stack([b, b + rng.random(n) * 2])
    return np.round(x / step) * step if step else x


def _quantised_pair(seed, n, m):
    """A continuous diagram (or a coarsely rounded one) vs a heavily duplicated one."""
    rng = np.random.default_rng(seed)
    kind = seed % 3
    x = _noisy_diagram(rng, n, 0.5 if kind == 1 else None)
    if kind == 2:
        x = _grid_diagram(rng, n, 0.25, int(rng.integers(1, 6)))
    y = _grid_diagram(rng, m, 0.5, int(rng.integers(1, 8)))
    return x, y


def _check_matching(x, y, value, match_x, match_y, q):
    """A matching of every copy (each y copy used once), achieving exactly ``value``."""
    used = match_x[match_x >= 0]
    assert len(np.unique(used)) == len(used)
    assert np.array_equal(match_y[used], np.flatnonzero(match_x >= 0))
    assert (match_y >= 0).sum() == len(used)
    ii = np.flatnonzero(match_x >= 0)
    costs = np.concatenate([_pair_dist(x[ii, 0] - y[match_x[ii], 0], x[ii, 1] - y[match_x[ii], 1], q),
                            _diag_dist(x[match_x < 0], q), _diag_dist(y[match_y < 0], q)])
    assert costs.max() == value


def _both_paths(x, y, q):
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    value, mx, my = bn._class_search(bn._classes(x), bn._classes(y), q)
    ref = bn._point_search(x, y, q)[0]
    return value, ref, mx, my


@settings(max_examples=150, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 45), m=st.integers(1, 45))
def test_class_path_equals_point_path_and_hera(seed, n, m):
    x, y = _quantised_pair(seed, n, m)
    for a, b in ((x, y), (y, x)):
        for q in NORMS:
            value, ref, mx, my = _both_paths(a, b, q)
            assert value == ref, (seed, q)
            _check_matching(a, b, value, mx, my, q)
        assert value == hera.bottleneck_distance(a, b, 0)  # (q = inf: hera's metric)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 5), m=st.integers(1, 6))
def test_class_path_brute_force_tiny(seed, n, m):
    x, y = _quantised_pair(seed, n, m)
    for q in NORMS:
        value, ref, _, _ = _both_paths(x, y, q)
        assert value == ref == pytest.approx(naive.naive_bottleneck(x, y, q), rel=1e-12, abs=1e-300)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 7), m=st.integers(1, 7))
def test_threshold_flow_equals_naive_perfect_matching(seed, n, m):
    """Every candidate value (and values between them) tested on the classes equals the naive
    perfect matching of the copies' augmented graph; a feasible flow serves every copy."""
    x, y = _quantised_pair(seed, n, m)
    q = (1.0, 2.0, np.inf)[seed % 3]
    (ux, mx, _, _), (uy, my, _, _) = bn._classes(x), bn._classes(y)
    px, py = _diag_dist(ux, q), _diag_dist(uy, q)
    ii = np.repeat(np.arange(len(ux)), len(uy))
    jj = np.tile(np.arange(len(uy)), len(ux))
    c = _pair_dist(ux[ii, 0] - uy[jj, 0], ux[ii, 1] - uy[jj, 1], q)
    cands = np.unique(np.concatenate([c, px, py, [0.0]]))
    seed_flow = np.zeros(len(ii), dtype=np.int64)
    for t in np.concatenate([cands, (cands[1:] + cands[:-1]) / 2]):
        ok, flow = bf.class_threshold_flow(ii, jj, c, px, py, mx, my, float(t), seed_flow)
        assert ok == naive.naive_bottleneck_feasible(x, y, t, q), (seed, t)
        sent_x = np.bincount(ii, weights=flow, minlength=len(ux))
        sent_y = np.bincount(jj, weights=flow, minlength=len(uy))
        assert (sent_x <= mx).all() and (sent_y <= my).all() and (flow >= 0).all()
        assert (c[flow > 0] <= t).all()
        if ok:  # the copies left over go to the diagonal within t
            assert (px[sent_x < mx] <= t).all() and (py[sent_y < my] <= t).all()
        seed_flow = flow  # the next test starts from this one (warm start, both directions)


def test_classes_merge_identical_rows():
    x = np.array([[1.0, 2.0], [0.0, 1.0], [1.0, 2.0], [-0.0, 1.0], [1.0, 3.0], [1.0, 2.0]])
    reps, counts, order, start = bn._classes(x)
    assert reps.tolist() == [[0.0, 1.0], [1.0, 2.0], [1.0, 3.0]]
    assert counts.tolist() == [2, 3, 1]
    for a in range(len(reps)):
        assert (x[order[start[a]:start[a + 1]]] == reps[a]).all()
    assert sorted(order.tolist()) == list(range(len(x)))


@pytest.mark.parametrize("q", NORMS)
def test_public_bottleneck_on_the_class_path(q, monkeypatch):
    """te.bottleneck_distance with the KD-tree solver forced, on a quantised pair with essential
    points: the class path runs, equals the point path, the matching covers every point."""
    monkeypatch.setattr(tdist, "_DENSE_BOTTLENECK_MAX_PAIRS", 0)
    calls = []
    real = bn._class_search
    monkeypatch.setattr(bn, "_class_search", lambda *a: calls.append(1) or real(*a))
    rng = np.random.default_rng(3)
    x = np.vstack([_noisy_diagram(rng, 300), [[0.5, np.inf], [1.5, np.inf], [-np.inf, 2.0]]])
    y = np.vstack([_grid_diagram(rng, 400, 0.25, 12), [[1.0, np.inf], [2.5, np.inf], [-np.inf, 2.5]]])
    d, m = te.bottleneck_distance(x, y, internal_p=q, matching=True)
    assert calls
    fx, fy = x[np.isfinite(x).all(axis=1)], y[np.isfinite(y).all(axis=1)]
    ref = bn._point_search(np.ascontiguousarray(fx), np.ascontiguousarray(fy), q)[0]
    assert d == max(ref, 1.0, 0.5)  # essential: +inf births 0.5-1.0, 1.5-2.5; -inf deaths 2.0-2.5
    assert m[:, 2].max() == d
    assert sorted(m[m[:, 0] >= 0, 0].astype(int).tolist()) == list(range(len(x)))
    assert sorted(m[m[:, 1] >= 0, 1].astype(int).tolist()) == list(range(len(y)))
    if q == np.inf:
        assert d == hera.bottleneck_distance(x, y, 0)


def test_empty_and_all_duplicates(monkeypatch):
    monkeypatch.setattr(tdist, "_DENSE_BOTTLENECK_MAX_PAIRS", 0)
    y = np.tile([[0.0, 1.0]], (50, 1))
    assert te.bottleneck_distance(np.empty((0, 2)), y) == 0.5
    assert te.bottleneck_distance(y, np.empty((0, 2))) == 0.5
    assert te.bottleneck_distance(y, y) == 0.0
    assert te.bottleneck_distance(y, y[:20]) == 0.5  # 30 copies left over go to the diagonal
    x = np.tile([[0.0, 1.25]], (50, 1))
    assert te.bottleneck_distance(x, y) == 0.25 == bn._point_search(x, y, np.inf)[0]


def test_gudhi_13_overestimates_with_duplicates():
    """Why gudhi's exact bottleneck is not the oracle of this file: on this pair (y's first point
    twice) it returns 0.8319... where every point going to the diagonal costs 0.75 (brute force,
    hera, both our paths).  Only the comparison of our value with brute force is asserted."""
    x = np.array([[2.84303095, 3.16804856], [2.66362003, 3.05660543], [0.96296162, 1.83760045]])
    y = np.array([[2.5, 4.0], [0.0, 1.5], [2.5, 4.0], [2.0, 3.0]])
    value, ref, _, _ = _both_paths(x, y, np.inf)
    assert value == ref == naive.naive_bottleneck(x, y) == hera.bottleneck_distance(x, y, 0) == 0.75
    assert gudhi.bottleneck_distance(x, y[[0, 1, 3]], 0) == 0.75  # without the copy gudhi agrees


def test_candidate_listing_out_of_memory_is_a_clear_error(monkeypatch):
    """More candidate pairs than the memory available: an InsufficientMemoryError naming the
    count, raised by the listing itself (not scipy's std::bad_alloc), through the public call."""
    import topoeval.persistence.blocks as blocks

    monkeypatch.setattr(tdist, "_DENSE_BOTTLENECK_MAX_PAIRS", 0)
    monkeypatch.setattr(bn, "_PAIR_CHECK", 0)
    monkeypatch.setattr(blocks, "available_memory", lambda: 0)
    rng = np.random.default_rng(0)
    x = _noisy_diagram(rng, 200)
    y = _grid_diagram(rng, 300, 0.5, 4)
    match = r"needs more than \d+ candidate pairs within one threshold between \d+ and \d+ distinct"
    with pytest.raises(te.InsufficientMemoryError, match=match):
        te.bottleneck_distance(x, y)

"""Tests of topoeval.critical_points: classification against the naive reference, persistence
relations, Euler characteristic, hand-made fields, preservation on real SZ3/ZFP reconstructions."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import topoeval as te
from topoeval.critical_points import (
    CriticalPointErrors,
    CriticalPoints,
    _link,
    critical_point_errors,
    critical_points,
)
from topoeval.errors import (
    InvalidDTypeError,
    InvalidInputError,
    InvalidOptionError,
    NonFiniteError,
    ShapeMismatchError,
)

from .naive import (
    naive_cell_persistence,
    naive_critical_points,
    naive_lower_link_euler,
)

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
CONNS = ("full", "freudenthal")


def _check_against_naive(a, conn, omit=None):
    cp = critical_points(a, connectivity=conn, nan_policy="omit" if omit is not None else "raise")
    t, cm, cu = naive_critical_points(a, conn, omit=omit)
    np.testing.assert_array_equal(cp.types, t)
    np.testing.assert_array_equal(cp.lower_components, cm)
    np.testing.assert_array_equal(cp.upper_components, cu)
    return cp


# ------------------------------------------------------------------ classification vs naive


@pytest.mark.parametrize("conn", CONNS)
@pytest.mark.parametrize(
    "shape",
    [(1,), (2,), (7,), (1, 1), (5, 1), (1, 6), (2, 2), (3, 3), (6, 7), (9, 4), (3, 3, 3), (4, 5, 3), (2, 3, 4), (1, 4, 5)],
)
def test_matches_naive_random(conn, shape):
    rng = np.random.default_rng(hash((conn, shape)) % 2**32)
    for levels in (3, 1000):  # heavy ties, then (almost) distinct values
        a = rng.integers(0, levels, size=shape)
        _check_against_naive(a, conn)
        _check_against_naive(rng.normal(size=shape), conn)


@pytest.mark.parametrize("conn", CONNS)
def test_matches_naive_4d(conn):
    # 4-D: full = 80 neighbours (BFS kernel), Freudenthal = 30 (bitmask flood fill)
    rng = np.random.default_rng(4)
    a = rng.integers(0, 4, size=(3, 3, 3, 3))
    _check_against_naive(a, conn)


@pytest.mark.parametrize("conn", CONNS)
def test_matches_naive_with_omitted_cells(conn):
    rng = np.random.default_rng(5)
    for shape in [(8, 9), (4, 4, 5)]:
        a = rng.normal(size=shape)
        bad = rng.random(shape) < 0.2
        a[bad] = np.nan
        a[np.unravel_index(3, shape)] = np.inf
        bad = ~np.isfinite(a)
        cp = _check_against_naive(a, conn, omit=bad)
        assert (cp.types[bad] == -1).all() and (cp.types[~bad] >= 0).all()


@given(
    hnp.arrays(
        np.int8,
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5),
        elements=st.integers(-3, 3),
    ),
    st.sampled_from(CONNS),
)
def test_matches_naive_hypothesis(a, conn):
    _check_against_naive(a, conn)


def test_link_graphs():
    # Freudenthal links of interior vertices: hexagon in 2-D, triangulated 2-sphere in 3-D
    offs, adj, *_ = _link(2, "freudenthal")
    assert offs.shape == (6, 2) and (adj.sum(axis=1) == 2).all()
    offs, adj, *_ = _link(3, "freudenthal")
    assert offs.shape == (14, 3) and adj.sum() // 2 == 36  # V - E + F = 14 - 36 + 24 = 2
    tri = sum(adj[i, j] and adj[j, k] and adj[i, k] for i, j, k in itertools.combinations(range(14), 3))
    tri4 = sum(
        all(adj[x, y] for x, y in itertools.combinations(q, 2)) for q in itertools.combinations(range(14), 4)
    )
    assert tri == 24 and tri4 == 0
    offs, adj, *_ = _link(2, "full")
    assert offs.shape == (8, 2) and adj.sum() // 2 == 12
    assert _link(3, "full")[0].shape == (26, 3)


def test_dtypes_layouts_agree():
    rng = np.random.default_rng(7)
    a = rng.integers(0, 5, size=(9, 11))
    ref = critical_points(a.astype(np.float64)).types
    for b in (
        a.astype(np.int8),
        a.astype(np.uint16),
        a.astype(np.float16),
        a.astype(np.float32),
        a.astype(">f8"),
        np.asfortranarray(a),
        a.tolist(),
    ):
        np.testing.assert_array_equal(critical_points(b).types, ref)
    big = np.zeros((9, 22))
    big[:, ::2] = a
    np.testing.assert_array_equal(critical_points(big[:, ::2]).types, ref)
    m = rng.random((6, 7)) < 0.5
    np.testing.assert_array_equal(critical_points(m).types, critical_points(m.astype(np.uint8)).types)
    # singleton axes do not change the classification
    np.testing.assert_array_equal(critical_points(a[None, :, None, :]).types[0, :, 0, :], ref)


# ------------------------------------------------------------------ relations with persistence


def _births(dgm):
    return sorted(map(tuple, dgm.birth_index.tolist()))


@pytest.mark.parametrize("shape", [(40,), (17, 23), (8, 9, 10)])
@pytest.mark.parametrize("levels", [None, 4])
def test_extrema_are_diagram_births(shape, levels):
    rng = np.random.default_rng(11)
    a = rng.normal(size=shape) if levels is None else rng.integers(0, levels, size=shape)
    cp = critical_points(a)
    sub = te.persistence_diagram(a, keep_zero=True)
    sup = te.persistence_diagram(a, filtration="superlevel", keep_zero=True)
    # sublevel: same total order (value, flat index) -> the very same cells
    assert sorted(map(tuple, cp.positions("minimum").tolist())) == _births(sub)
    # superlevel: ties by (-value, -flat index), the simulation of simplicity -> the same cells
    np.testing.assert_array_equal(np.sort(a[cp.mask("maximum")]), np.sort(sup.births))
    assert sorted(map(tuple, cp.positions("maximum").tolist())) == _births(sup)
    # every merge (death) cell has a disconnected lower / upper link, at most c - 1 deaths each
    # (in 1-D the links are two points: the merge cells are the maxima / minima)
    saddles = (2, 3, 4, 6)
    for dgm, comp, other in (
        (sub, cp.lower_components, 5),
        (sup, cp.upper_components, 1),
    ):
        if dgm is None:
            continue
        fin = dgm.death_index[dgm.death_index[:, 0] >= 0]
        cells, n = np.unique(fin, axis=0, return_counts=True)
        assert len(cells) > 0
        for c, k in zip(map(tuple, cells), n):
            assert comp[c] >= k + 1
            assert cp.types[c] in (saddles if len(shape) > 1 else (other,))


@pytest.mark.parametrize("conn", CONNS)
@pytest.mark.parametrize("shape", [(12,), (7, 8), (4, 5, 4)])
def test_persistence_matches_naive(conn, shape):
    rng = np.random.default_rng(13)
    for a in (rng.normal(size=shape), rng.integers(0, 3, size=shape)):
        cp = critical_points(a, connectivity=conn, persistence=True)
        bsub, dsub = naive_cell_persistence(a, conn)
        bsup, dsup = naive_cell_persistence(a, conn, superlevel=True)
        want = np.maximum(dsub, dsup)
        want[cp.types == 1] = bsub[cp.types == 1]
        want[cp.types == 5] = bsup[cp.types == 5]
        want[cp.types == 0] = 0
        np.testing.assert_array_equal(cp.persistence, want)
        # birth cells of the naive filtrations are exactly the minima / maxima
        assert ((bsub > 0) <= (cp.types == 1)).all() and ((bsup > 0) <= (cp.types == 5)).all()


@pytest.mark.parametrize("conn", CONNS)
def test_persistence_with_omitted_cells_matches_naive(conn):
    rng = np.random.default_rng(53)
    for shape in [(9, 10), (4, 5, 6)]:
        a = rng.normal(size=shape)
        a[rng.random(shape) < 0.25] = np.nan
        bad = np.isnan(a)
        cp = critical_points(a, connectivity=conn, nan_policy="omit", persistence=True)
        bsub, dsub = naive_cell_persistence(a, conn, omit=bad)
        bsup, dsup = naive_cell_persistence(a, conn, superlevel=True, omit=bad)
        want = np.maximum(dsub, dsup)
        want[cp.types == 1] = bsub[cp.types == 1]
        want[cp.types == 5] = bsup[cp.types == 5]
        want[cp.types <= 0] = 0
        np.testing.assert_array_equal(cp.persistence, want)
        # one never-dying minimum (and maximum) per component of the domain
        if conn == "full":
            from scipy.ndimage import label

            lab, n_comp = label(~bad, structure=np.ones((3,) * len(shape)))
            isolated = int((np.bincount(lab.ravel())[1:] == 1).sum())  # lone cells: minima only
            assert np.isinf(cp.persistence[cp.types == 1]).sum() == n_comp
            assert np.isinf(cp.persistence[cp.types == 5]).sum() == n_comp - isolated


@pytest.mark.parametrize("shape", [(30,), (15, 16), (6, 7, 8)])
def test_persistence_matches_diagrams(shape):
    rng = np.random.default_rng(17)
    a = rng.normal(size=shape)
    cp = critical_points(a, persistence=True)
    for filt, kind in (("sublevel", "minimum"), ("superlevel", "maximum")):
        dgm = te.persistence_diagram(a, filtration=filt, keep_zero=True)
        np.testing.assert_allclose(np.sort(cp.persistence[cp.mask(kind)]), np.sort(dgm.persistence))
        # a saddle's value is the largest persistence among the pairs it kills
        for row, p in zip(dgm.death_index.tolist(), dgm.persistence):
            if row[0] >= 0:
                assert cp.persistence[tuple(row)] >= p - 1e-12


# ------------------------------------------------------------------ Euler characteristic


@pytest.mark.parametrize("levels", [None, 3])
def test_euler_freudenthal_2d_exact(levels):
    """#minima - sum(c- - 1 over saddles) + #interior maxima == 1 (and the mirror identity)."""
    rng = np.random.default_rng(19)
    for shape in [(2, 2), (3, 5), (10, 10), (31, 17), (64, 80)]:
        for _ in range(5):
            a = rng.normal(size=shape) if levels is None else rng.integers(0, levels, size=shape)
            cp = critical_points(a, connectivity="freudenthal")
            t, cm, cu = cp.types, cp.lower_components.astype(int), cp.upper_components.astype(int)
            interior = np.zeros(shape, dtype=bool)
            interior[1:-1, 1:-1] = True
            s = t == 2
            assert (t == 1).sum() - (cm[s] - 1).sum() + ((t == 5) & interior).sum() == 1
            assert (t == 5).sum() - (cu[s] - 1).sum() + ((t == 1) & interior).sum() == 1
            # interior saddles: the circle link alternates, so c- == c+
            assert (cm[s & interior] == cu[s & interior]).all()


@pytest.mark.parametrize("conn", CONNS)
@pytest.mark.parametrize("shape", [(6, 7), (4, 4, 4), (3, 4, 5)])
def test_euler_lower_links(conn, shape):
    """sum over cells of 1 - chi(lower link) == chi(box) == 1 (both complexes are contractible);
    on the 3-D Freudenthal triangulation the interior terms follow from the classification."""
    rng = np.random.default_rng(23)
    a = rng.integers(0, 4, size=shape)
    chi = naive_lower_link_euler(a, conn)
    assert (1 - chi).sum() == 1
    cp = critical_points(a, connectivity=conn)
    if conn == "freudenthal" and len(shape) == 3:
        t = cp.types
        cm, cu = cp.lower_components.astype(int), cp.upper_components.astype(int)
        # lower link in a 2-sphere: chi = c- - (c+ - 1), and 2 for a maximum
        want = np.where(t == 5, 2, cm - cu + 1)
        inner = (slice(1, -1),) * 3
        np.testing.assert_array_equal(chi[inner], want[inner])
        # => interior contributions: min +1, 1-saddle -(c- - 1), 2-saddle +(c+ - 1), max -1


def test_euler_full_link_is_not_a_manifold():
    # four axis neighbours lower, one diagonal higher: one lower component with a hole
    a = np.array([[0.0, 1.0, 5.0], [2.0, 4.0, 3.0], [-1.0, 1.5, -2.0]])
    cp = critical_points(a)
    assert cp.types[1, 1] == 0 and cp.lower_components[1, 1] == 1
    assert naive_lower_link_euler(a)[1, 1] == 0  # contributes 1 - 0 = +1 like an extremum
    # the Freudenthal triangulation sees the same cell as a proper critical point
    assert critical_points(a, connectivity="freudenthal").types[1, 1] != 0


# ------------------------------------------------------------------ hand-made fields


def test_monkey_saddle_2d():
    # Freudenthal hexagon around the centre alternates low/high three times
    # hexagon (0,1) (1,1) (1,0) (0,-1) (-1,-1) (-1,0) around the centre: low, high, low, ...
    a = np.array([[-1.0, 1.0, 0.5],
                  [1.0, 0.0, -1.0],
                  [0.5, -1.0, 1.0]])
    cp = critical_points(a, connectivity="freudenthal")
    assert (cp.lower_components[1, 1], cp.upper_components[1, 1]) == (3, 3)
    assert cp.types[1, 1] == CriticalPoints.SADDLE
    assert cp.multiplicity[1, 1] == 2 and cp.degenerate[1, 1]
    assert cp.count("saddle", multiplicity=True) >= 2
    # sampled monkey saddle x^3 - 3 x y^2 (rotated so no grid value ties the centre)
    y, x = np.mgrid[-4:5, -4:5].astype(float)
    th = np.arctan2(y, x) + 0.2
    f = np.hypot(x, y) ** 3 * np.cos(3 * th)
    cp = critical_points(f, connectivity="freudenthal")
    assert cp.types[4, 4] == CriticalPoints.SADDLE and cp.multiplicity[4, 4] == 2
    assert cp.degenerate[4, 4]
    _check_against_naive(f, "full")
    # 3-D: a cell whose lower and upper links are both disconnected is degenerate
    b = np.zeros((3, 3, 3)) + 5.0
    b[1, 1, 1] = 0.0
    b[0, 1, 1] = b[2, 1, 1] = -1.0
    cp = critical_points(b)
    assert (cp.lower_components[1, 1, 1], cp.upper_components[1, 1, 1]) == (2, 1)
    assert cp.types[1, 1, 1] == CriticalPoints.SADDLE1


def test_single_bump():
    for shape in [(9, 11), (7, 8, 9)]:
        grids = np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij")
        c = [(n - 1) / 2 + 0.13 * (k + 1) for k, n in enumerate(shape)]
        f = np.exp(-sum((g - ci) ** 2 for g, ci in zip(grids, c)) / 8.0)
        for conn in CONNS:
            cp = critical_points(f, connectivity=conn)
            assert cp.count("maximum") == 1 and cp.positions("maximum").tolist() == [[round(x) for x in c]]
            corners = {tuple(0 if b == 0 else n - 1 for b, n in zip(bits, shape)) for bits in itertools.product((0, 1), repeat=len(shape))}
            assert set(map(tuple, cp.positions("minimum").tolist())) == corners
            if len(shape) == 2:
                # one boundary saddle on each edge: 4 - 4 + 1 = 1
                assert cp.counts == {"minimum": 4, "saddle": 4, "maximum": 1}
            else:
                # 12 edges -> 12 1-saddles; the face maxima have a lower link with a hole (a
                # boundary 2-saddle) which component counting cannot see: regular
                assert cp.counts == {"minimum": 8, "saddle1": 12, "saddle2": 0, "degenerate": 0, "maximum": 1}


def test_ridge():
    i, j = np.mgrid[0:11, 0:15].astype(float)
    f = -((i - 5) ** 2) + 0.01 * j
    for conn in CONNS:
        cp = critical_points(f, connectivity=conn)
        assert cp.positions("minimum").tolist() == [[0, 0], [10, 0]]
        assert cp.positions("saddle").tolist() == [[5, 0]]
        assert cp.positions("maximum").tolist() == [[5, 14]]


def test_plateaus_and_constant():
    for shape in [(1,), (5,), (4, 6), (3, 4, 5)]:
        for conn in CONNS:
            cp = critical_points(np.zeros(shape), connectivity=conn)
            first, last = (0,) * len(shape), tuple(n - 1 for n in shape)
            assert cp.positions("minimum").tolist() == [list(first)]
            if len(shape) and np.prod(shape) > 1:
                assert cp.positions("maximum").tolist() == [list(last)]
                assert cp.count("critical") == 2
    # a plateau valley: its minimum is the plateau's first cell in C order
    a = np.full((8, 9), 3.0)
    a[2:5, 3:7] = 1.0
    a[0, 0] = 0.0
    for conn in CONNS:
        cp = critical_points(a, connectivity=conn)
        mins = cp.positions("minimum").tolist()
        assert mins == [[0, 0], [2, 3]]
        assert not cp.mask("critical")[2:5, 3:7][1:, :].any()
        _check_against_naive(a, conn)


def test_one_dimensional_and_kinds():
    a = np.array([3.0, 1.0, 2.0, 0.0, 4.0])
    cp = critical_points(a)
    assert cp.types.tolist() == [5, 1, 5, 1, 5]
    assert cp.kinds == ("minimum", "maximum")
    assert cp.counts == {"minimum": 2, "maximum": 3}
    assert cp.count("critical") == 5 and cp.count(5) == 3 and cp.count("max") == 3
    assert cp.positions("minimum").shape == (2, 1)
    row = cp.to_row()
    assert row["cp_n_minimum"] == 2 and row["cp_n_maximum"] == 3 and row["cp_connectivity"] == "full"
    assert "maximum=3" in repr(cp)
    with pytest.raises(InvalidOptionError, match="kind"):
        cp.mask("ridge")
    with pytest.raises(ValueError):  # read-only results
        cp.types[0] = 0


# ------------------------------------------------------------------ errors of inputs


def test_input_errors():
    with pytest.raises(InvalidOptionError, match="freudenthal"):
        critical_points(np.zeros(3), connectivity="face")
    with pytest.raises(InvalidOptionError):
        critical_points(np.zeros(3), connectivity="ful")
    with pytest.raises(InvalidOptionError):
        critical_points(np.zeros(3), nan_policy="ignore")
    with pytest.raises(NonFiniteError, match="nan_policy='omit'"):
        critical_points(np.array([1.0, np.nan]))
    with pytest.raises(InvalidDTypeError):
        critical_points(np.array([1j, 2j]))
    with pytest.raises(InvalidInputError):
        critical_points(np.zeros((0, 3)))
    with pytest.raises(InvalidInputError):
        critical_points(np.float64(1.0))
    with pytest.raises(ShapeMismatchError):
        critical_point_errors(np.zeros((3, 4)), np.zeros((4, 3)))
    with pytest.raises(InvalidOptionError, match="min_persistence"):
        critical_point_errors(np.zeros(3), np.zeros(3), min_persistence=-1)
    with pytest.raises(NonFiniteError, match="recon"):
        critical_point_errors(np.zeros(3), np.array([0, np.inf, 0]))
    err = critical_point_errors(np.zeros(3), np.zeros(3))
    with pytest.raises(InvalidOptionError, match="block_shape"):
        err.counts_per_region((2, 2))
    with pytest.raises(InvalidOptionError):
        err.positions("false_friends")


# ------------------------------------------------------------------ preservation


def _smooth(shape, seed):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    return gaussian_filter(rng.normal(size=shape), 3.0, mode="wrap")


def _errors_naive(o, r, conn):
    to = naive_critical_points(o, conn)[0]
    tr = naive_critical_points(r, conn)[0]
    co, cr = to > 0, tr > 0
    return (co & ~cr).sum(), (cr & ~co).sum(), (co & cr & (to != tr)).sum()


@pytest.mark.parametrize("conn", CONNS)
def test_errors_definitions(conn):
    rng = np.random.default_rng(29)
    for shape in [(13, 14), (5, 6, 7)]:
        o = rng.normal(size=shape)
        r = o + 0.3 * rng.normal(size=shape)
        err = critical_point_errors(o, r, connectivity=conn)
        fn, fp, ft = _errors_naive(o, r, conn)
        assert (err.false_negatives, err.false_positives, err.false_types) == (fn, fp, ft)
        assert err.total_errors == fn + fp + ft
        co = critical_points(o, connectivity=conn)
        cr = critical_points(r, connectivity=conn)
        assert err.n_critical_orig == co.count() and err.n_critical_recon == cr.count()
        assert err.preserved + err.false_negatives + err.false_types == err.n_critical_orig
        assert sum(err.by_type("false_negatives").values()) == fn
        assert sum(err.by_type("false_positives").values()) == fp
        assert err.by_type("false_positives")["maximum"] == int(((cr.types == 5) & (co.types == 0)).sum())
        pos = err.positions("false_types")
        assert pos.shape == (ft, len(shape))
        assert (co.types[tuple(pos.T)] != cr.types[tuple(pos.T)]).all()
        # per region
        regions = err.counts_per_region(4)
        assert regions.shape == tuple(-(-n // 4) for n in shape)
        assert regions.sum() == err.total_errors
        assert err.counts_per_region((2,) * len(shape), kind="false_negatives").sum() == fn
        np.testing.assert_array_equal(err.counts_per_region(1), err.mask("all").astype(np.int64))
        # rates
        rates = err.rates
        assert rates["fn_rate"] == pytest.approx(fn / co.count())
        assert rates["fp_rate"] == pytest.approx(fp / cr.count())
        assert 0 <= rates["error_rate"] <= 1
        assert "false_negatives=" in repr(err)


def test_to_row_flat_and_stable():
    rng = np.random.default_rng(31)
    rows = []
    for shape in [(50,), (12, 13), (5, 6, 7)]:
        o = rng.normal(size=shape)
        rows.append(critical_point_errors(o, o + 0.1 * rng.normal(size=shape), min_persistence=0.05).to_row())
    assert all(list(r) == list(rows[0]) for r in rows)
    for r in rows:
        assert all(k.startswith("cp_") for k in r)
        assert all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in r.values())
        assert r["cp_total_errors"] == r["cp_false_negatives"] + r["cp_false_positives"] + r["cp_false_types"]
        assert r["cp_false_negatives"] == sum(
            r[f"cp_false_negatives_{t}"] for t in ("minimum", "saddle", "saddle1", "saddle2", "degenerate", "maximum")
        )
        assert r["cp_min_persistence"] == 0.05 and r["cp_connectivity"] == "full"
    for key in ("cp_fn_rate", "cp_fp_rate", "cp_ft_rate", "cp_error_rate", "cp_preserved"):
        assert key in rows[0]


def test_to_dict_json_export():
    import json

    rng = np.random.default_rng(43)
    o = rng.normal(size=(9, 10))
    err = critical_point_errors(o, o + 0.3 * rng.normal(size=o.shape))
    d = json.loads(json.dumps(err.to_dict()))
    assert d["summary"] == err.to_row()
    assert d["shape"] == [9, 10]
    for kind in ("false_negatives", "false_positives", "false_types"):
        assert d["positions"][kind] == err.positions(kind).tolist()
        assert sum(d["by_type"][kind].values()) == len(d["positions"][kind])
    assert "positions" not in err.to_dict(positions=False)


def test_min_persistence_filter():
    rng = np.random.default_rng(37)
    o = _smooth((48, 48), 1)
    r = o + 0.02 * rng.normal(size=o.shape)
    prev = None
    for t in (0.0, 1e-4, 1e-3, 1e-2, 0.1, np.inf):
        err = critical_point_errors(o, r, min_persistence=t)
        tot = (err.n_critical_orig, err.false_negatives, err.false_positives, err.false_types)
        if prev is not None:
            assert all(x <= y for x, y in zip(tot, prev))
        prev = tot
        if t > 0:
            po = err.orig.persistence
            sig = (err.orig.types > 0) & (po >= t)
            assert err.n_critical_orig == sig.sum()
            assert (po[err.mask("false_negatives")] >= t).all()
            assert (err.recon.persistence[err.mask("false_positives")] >= t).all()
    # the essential classes (global min / max, never dying) pass any finite threshold
    big = critical_point_errors(o, r, min_persistence=1e6)
    assert big.n_critical_orig == 2
    # noise creates many low-persistence extrema: they vanish with a small threshold
    full = critical_point_errors(o, r)
    filt = critical_point_errors(o, r, min_persistence=0.1)
    assert full.false_positives > 10 * max(1, filt.false_positives)
    # t = 0 counts everything and does not compute persistence
    assert full.orig.persistence is None
    assert full.n_critical_orig == critical_points(o).count()


def test_near_lossless_and_identity_have_no_errors():
    o = _smooth((64, 64), 2)
    # smallest gap between two neighbouring values (8-neighbourhood)
    p = np.pad(o, 1, constant_values=np.nan)
    gaps = [np.abs(o - p[1 + di : 65 + di, 1 + dj : 65 + dj]) for di in (-1, 0, 1) for dj in (-1, 0, 1) if di or dj]
    gap = np.nanmin(gaps)
    noise = np.random.default_rng(3).uniform(-0.45, 0.45, size=o.shape) * gap
    for r in (o.copy(), o + noise):
        for conn in CONNS:
            err = critical_point_errors(o, r, connectivity=conn)
            assert err.total_errors == 0 and err.preserved == err.n_critical_orig > 0
    # a perturbation of the size of the gaps does create errors
    assert critical_point_errors(o, o + 100 * noise).total_errors > 0


def test_constant_reconstruction():
    """With simulation of simplicity a constant field has exactly two critical cells, its first cell
    (a minimum) and its last (a maximum); every other critical point of the original is lost."""
    o = _smooth((40, 50), 4)
    for conn in CONNS:
        co = critical_points(o, connectivity=conn)
        err = critical_point_errors(o, np.full(o.shape, 0.5), connectivity=conn)
        assert err.n_critical_recon == 2
        first, last = (0, 0), (39, 49)
        kept = int(co.types[first] == 1) + int(co.types[last] == 5)
        assert err.preserved == kept
        assert err.false_negatives + err.false_types == co.count() - kept
        assert err.false_positives == int(co.types[first] == 0) + int(co.types[last] == 0)
        # with a persistence threshold only the never-dying extrema of the constant field remain
        e2 = critical_point_errors(o, np.full(o.shape, 0.5), connectivity=conn, min_persistence=1e-3)
        assert e2.n_critical_recon == 2


@pytest.mark.parametrize("conn", CONNS)
def test_sz3_zfp_reconstructions(conn):
    pysz = pytest.importorskip("pysz")  # noqa: F841
    zfpy = pytest.importorskip("zfpy")
    from topoeval.compressors import get_compressor

    o = _smooth((96, 96), 5).astype(np.float32)
    rng_ = float(o.max() - o.min())
    results = {}
    for name, bound in (("sz3", 1e-2), ("sz3", 1e-7), ("zfp", 1e-2), ("zfp", 1e-8)):
        comp = get_compressor(name)
        r = comp.decompress(comp.compress(o, bound * rng_), o.shape, o.dtype)
        assert np.abs(r - o).max() <= bound * rng_ * 1.0001
        results[name, bound] = critical_point_errors(o, r, connectivity=conn)
        if bound > 1e-3:  # the naive reference on a corner of the real reconstruction
            e = critical_point_errors(o[:40, :40], r[:40, :40], connectivity=conn)
            fn, fp, ft = _errors_naive(o[:40, :40], r[:40, :40], conn)
            assert (e.false_negatives, e.false_positives, e.false_types) == (fn, fp, ft)
    # loose bounds destroy critical points; near-lossless ones keep them all
    assert results["sz3", 1e-2].total_errors > 0
    assert results["sz3", 1e-7].total_errors == 0
    assert results["zfp", 1e-8].total_errors == 0
    del zfpy


@pytest.mark.skipif(not (SAMPLE / "smooth2d.npy").exists(), reason="sample data not generated")
def test_sample_data_counts():
    for name, sl in (("smooth2d", ()), ("shallow_water", (-1,))):
        o = np.load(SAMPLE / f"{name}.npy")[sl]
        errs = {}
        for suffix in ("sz3_1e-2", "sz3_1e-3", "zfp_1e-2", "zfp_1e-3"):
            r = np.load(SAMPLE / f"{name}_{suffix}.npy")[sl]
            err = errs[suffix] = critical_point_errors(o, r)
            assert isinstance(err, CriticalPointErrors)
            assert err.n_critical_orig == critical_points(o).count()
            assert err.total_errors == err.false_negatives + err.false_positives + err.false_types
            # the persistence filter only removes points
            filt = critical_point_errors(o, r, min_persistence=0.01)
            assert filt.total_errors <= err.total_errors and filt.n_critical_orig < err.n_critical_orig
        # a ten times tighter bound loses fewer critical points
        for comp in ("sz3", "zfp"):
            assert errs[f"{comp}_1e-3"].total_errors < errs[f"{comp}_1e-2"].total_errors


def test_nan_omit_union_domain():
    rng = np.random.default_rng(41)
    o = rng.normal(size=(10, 12))
    r = o + 0.2 * rng.normal(size=o.shape)
    o[2, 3] = np.nan
    r[5, 5] = np.nan
    err = critical_point_errors(o, r, nan_policy="omit")
    assert err.orig.types[5, 5] == -1 and err.recon.types[2, 3] == -1
    assert err.error_map[2, 3] == 0 and err.error_map[5, 5] == 0
    bad = np.zeros(o.shape, bool)
    bad[2, 3] = bad[5, 5] = True
    np.testing.assert_array_equal(err.orig.types, naive_critical_points(o, "full", omit=bad)[0])
    with pytest.raises(NonFiniteError):
        critical_point_errors(o, r)


def test_sos_order_matches_stable_argsort():
    from topoeval.critical_points import _sos_order

    rng = np.random.default_rng(47)
    cases = [
        rng.integers(-5, 5, 1000).astype(np.float32),  # float32 key path, ties
        rng.normal(size=1000).astype(np.float32),
        np.array([0.0, -0.0, 0.0, -1.0, 3e38, -3e38, -0.0], dtype=np.float32),  # -0.0 == 0.0
        rng.integers(0, 4, 1000),  # narrow int64 key path
        rng.integers(0, 4, 1000).astype(np.uint64),
        rng.integers(-(2**40), 2**40, 100),  # wide ints: argsort
        rng.normal(size=100),  # float64: argsort
    ]
    for v in cases:
        np.testing.assert_array_equal(_sos_order(v, None), np.argsort(v, kind="stable"))
        idx = np.flatnonzero(rng.random(v.size) < 0.5)
        np.testing.assert_array_equal(_sos_order(v, idx), idx[np.argsort(v[idx], kind="stable")])


def test_public_name_works_after_submodule_import():
    # importing the submodule must not replace the function `te.critical_points` by the module
    import importlib

    mod = importlib.import_module("topoeval.critical_points")
    a = np.array([2.0, 1.0, 3.0])
    assert te.critical_points is mod.critical_points is critical_points
    assert te.critical_points(a).types.tolist() == [5, 1, 5]
    assert te.critical_point_errors is critical_point_errors


@pytest.mark.parametrize("conn", CONNS)
def test_metamorphic(conn):
    rng = np.random.default_rng(59)
    swap = {0: 0, 1: 5, 5: 1, 2: 2, 3: 4, 4: 3, 6: 6}
    for shape in [(11, 13), (6, 7, 8)]:
        a = rng.normal(size=shape)  # distinct values: tie-breaking plays no role
        t = critical_points(a, connectivity=conn).types
        # strictly increasing transforms keep every type
        np.testing.assert_array_equal(critical_points(np.exp(3 * a) - 7, connectivity=conn).types, t)
        # negation swaps minima/maxima and joins/splits
        np.testing.assert_array_equal(critical_points(-a, connectivity=conn).types, np.vectorize(swap.get)(t))
        # flipping all axes maps the Freudenthal triangulation (and the full one) onto itself
        flip = (slice(None, None, -1),) * a.ndim
        np.testing.assert_array_equal(critical_points(a[flip], connectivity=conn).types, t[flip])
        # permuting axes maps {0, 1}^d onto itself: both triangulations are invariant
        np.testing.assert_array_equal(critical_points(a.T, connectivity=conn).types, t.T)
        if conn == "full":  # flipping one axis changes the Freudenthal diagonals, not the full cube
            np.testing.assert_array_equal(critical_points(a[::-1], connectivity=conn).types, t[::-1])


# ------------------------------------------------------------------ threads (jobs)


@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=4).map(tuple),
    seed=st.integers(0, 2**31 - 1),
    jobs=st.integers(2, 5),
    conn=st.sampled_from(CONNS),
    omit=st.booleans(),
)
def test_jobs_identical_to_one_thread_and_naive(shape, seed, jobs, conn, omit):
    """Slabs with one halo row on each side: every type and link count as in one pass."""
    from topoeval.critical_points import _engine

    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, size=shape).astype(np.float64)  # heavy ties: SoS across the cuts
    mask = None
    if omit:
        mask = rng.random(shape) < 0.15
        a[mask] = np.nan
    old = _engine._THREAD_MIN_CELLS
    _engine._THREAD_MIN_CELLS = 0
    try:
        policy = "omit" if omit else "raise"
        got = critical_points(a, connectivity=conn, nan_policy=policy, jobs=jobs)
        one = critical_points(a, connectivity=conn, nan_policy=policy, jobs=1)
        b = a + rng.integers(0, 2, size=shape)
        e_n = critical_point_errors(a, b, connectivity=conn, nan_policy=policy, jobs=jobs)
        e_1 = critical_point_errors(a, b, connectivity=conn, nan_policy=policy, jobs=1)
    finally:
        _engine._THREAD_MIN_CELLS = old
    for name in ("types", "lower_components", "upper_components"):
        np.testing.assert_array_equal(getattr(got, name), getattr(one, name))
    assert got.ndim == one.ndim
    np.testing.assert_array_equal(e_n.error_map, e_1.error_map)
    assert e_n.to_row() == e_1.to_row()
    if len(shape) <= 3:
        t, _, _ = naive_critical_points(a, conn, omit=mask)
        np.testing.assert_array_equal(got.types, t)


def test_jobs_default_on_large_array():
    rng = np.random.default_rng(61)
    a = np.round(rng.normal(size=(1100, 1000)) * 4)  # > 2**20 cells: threads by default
    np.testing.assert_array_equal(critical_points(a, jobs=3).types, critical_points(a, jobs=1).types)
    with pytest.raises(InvalidOptionError, match="jobs"):
        critical_points(a, jobs=-1)


def test_type_table_is_the_kernels_type_rule():
    # type_table is built in NumPy (no kernel to compile on a first run); the kernels classify with
    # _type_code: both must give the same code for every (c-, c+) pair in every dimension
    from topoeval._kernels._critical import _type_code, type_table

    for ndim in range(1, 6):
        table = type_table(ndim)
        assert table.dtype == np.int8 and table.shape == (64, 64)
        expected = [[_type_code(a, b, ndim) for b in range(64)] for a in range(64)]
        assert table.tolist() == expected

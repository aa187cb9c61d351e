"""Tests of topoeval.persistence: oracles (gudhi, cripser, tests/naive.py), metamorphic
properties, dtypes/layouts, non-finite handling, errors and the Diagram API."""

from __future__ import annotations

import itertools

import gudhi
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import topoeval as te
from topoeval.errors import InvalidDTypeError, InvalidInputError, InvalidOptionError, NonFiniteError
from topoeval.persistence import Diagram, persistence_diagram

from .naive import naive_persistence_pairs

cripser = pytest.importorskip("cripser")

DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "int64", "uint64",
          "float16", "float32", "float64"]


# ------------------------------------------------------------------ helpers
def canon(pairs) -> np.ndarray:
    """(n, 2) float64 rows sorted lexicographically: a canonical multiset."""
    p = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
    return p[np.lexsort((p[:, 1], p[:, 0]))]


def gudhi_pairs(a) -> np.ndarray:
    cc = gudhi.CubicalComplex(top_dimensional_cells=np.asarray(a, dtype=np.float64))
    cc.persistence()
    return canon(cc.persistence_intervals_in_dimension(0))


def cripser_pairs(a) -> np.ndarray:
    res = cripser.computePH_T(np.ascontiguousarray(a, dtype=np.float64), maxdim=0)
    res = res[res[:, 0] == 0][:, 1:3].copy()
    res[res[:, 1] >= np.finfo(np.float64).max, 1] = np.inf
    res = res[res[:, 0] != res[:, 1]]  # cripser may list zero-length intervals
    return canon(res)


def ours(a, filtration="sublevel", **kw) -> np.ndarray:
    dgm = persistence_diagram(a, filtration=filtration, **kw)
    return canon(dgm)


def oracle(fn, a, filtration):
    """The oracle's diagram, in our value convention for superlevel diagrams."""
    a = np.asarray(a, dtype=np.float64)
    if filtration == "sublevel":
        return fn(a)
    return canon(-fn(-a))


def random_array(rng, ndim=None, max_cells=400):
    """A random test array: heavy ties, plateaus, constants, single-cell axes."""
    if ndim is None:
        ndim = int(rng.integers(1, 6))
    side = max(1, int(round(max_cells ** (1.0 / ndim))))
    shape = tuple(int(rng.integers(1, side + 2)) for _ in range(ndim))
    kind = rng.integers(0, 5)
    if kind == 0:  # few distinct values: heavy ties
        a = rng.integers(0, 3, size=shape).astype(np.float64)
    elif kind == 1:  # plateaus: quantised smooth-ish field
        a = rng.normal(size=shape)
        for ax in range(ndim):
            a = a + np.roll(a, 1, axis=ax)
        a = np.round(a)
    elif kind == 2:  # constant
        a = np.full(shape, float(rng.integers(-3, 4)))
    else:  # distinct-ish values
        a = rng.normal(size=shape)
    return a


def check_indices(a, dgm):
    a = np.asarray(a)
    if len(dgm) == 0:
        return
    assert dgm.birth_index.shape == (len(dgm), a.ndim)
    assert dgm.death_index.shape == (len(dgm), a.ndim)
    np.testing.assert_array_equal(a[tuple(dgm.birth_index.T)].astype(np.float64), dgm.births)
    fin = np.isfinite(dgm.deaths)
    if fin.any():
        np.testing.assert_array_equal(a[tuple(dgm.death_index[fin].T)].astype(np.float64),
                                      dgm.deaths[fin])
    assert np.all(dgm.death_index[~fin] == -1)
    if dgm.filtration == "sublevel":
        assert np.all(dgm.births <= dgm.deaths)
        assert np.all(dgm.deaths[~fin] == np.inf)
    else:
        assert np.all(dgm.births >= dgm.deaths)
        assert np.all(dgm.deaths[~fin] == -np.inf)


# ------------------------------------------------------------------ oracles
@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
@pytest.mark.parametrize("seed", range(6))
def test_matches_gudhi_random(seed, filtration):
    rng = np.random.default_rng(1000 + seed)
    for _ in range(25):
        a = random_array(rng)
        dgm = persistence_diagram(a, filtration=filtration)
        np.testing.assert_array_equal(canon(dgm), oracle(gudhi_pairs, a, filtration), err_msg=str(a))
        check_indices(a, dgm)


@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
@pytest.mark.parametrize("seed", range(4))
def test_matches_cripser_random(seed, filtration):
    rng = np.random.default_rng(2000 + seed)
    for _ in range(25):
        a = random_array(rng, ndim=int(rng.integers(1, 5)))
        np.testing.assert_array_equal(
            ours(a, filtration), oracle(cripser_pairs, a, filtration), err_msg=str(a)
        )


@pytest.mark.parametrize("shape", [(64, 64), (16, 16, 16), (7, 8, 9, 10), (30, 1, 40), (500,)])
def test_matches_oracles_larger(shape):
    rng = np.random.default_rng(sum(shape))
    for a in (rng.random(shape), np.round(rng.normal(size=shape) * 2)):
        for filtration in ("sublevel", "superlevel"):
            expected = oracle(gudhi_pairs, a, filtration)
            np.testing.assert_array_equal(ours(a, filtration), expected)
            np.testing.assert_array_equal(oracle(cripser_pairs, a, filtration), expected)


@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
def test_matches_naive_exactly(connectivity, filtration):
    """Same pairs, same critical cells, same order as the obvious reference."""
    rng = np.random.default_rng(7 + len(connectivity) + len(filtration))
    for _ in range(40):
        a = random_array(rng, max_cells=120)
        for keep_zero in (False, True):
            dgm = persistence_diagram(a, filtration=filtration, connectivity=connectivity,
                                      keep_zero=keep_zero)
            ref = naive_persistence_pairs(a, filtration, connectivity, keep_zero)
            assert len(dgm) == len(ref)
            np.testing.assert_array_equal(dgm.births, [r[0] for r in ref])
            np.testing.assert_array_equal(dgm.deaths, [r[1] for r in ref])
            np.testing.assert_array_equal(dgm.birth_index.reshape(len(ref), -1),
                                          np.array([r[2] for r in ref]).reshape(len(ref), -1))
            dref = [r[3] if r[3] is not None else (-1,) * a.ndim for r in ref]
            np.testing.assert_array_equal(dgm.death_index.reshape(len(ref), -1),
                                          np.array(dref).reshape(len(ref), -1))


def test_naive_matches_gudhi():
    """The reference itself agrees with gudhi (so it is a valid oracle for 'face')."""
    rng = np.random.default_rng(31)
    for _ in range(30):
        a = random_array(rng, max_cells=100)
        np.testing.assert_array_equal(canon([r[:2] for r in naive_persistence_pairs(a)]),
                                      gudhi_pairs(a))


def test_face_connectivity_differs_from_full():
    a = np.array([[0.0, 9.0], [9.0, 1.0]])
    assert len(persistence_diagram(a)) == 1
    np.testing.assert_array_equal(np.asarray(persistence_diagram(a, connectivity="face")),
                                  [[0.0, np.inf], [1.0, 9.0]])


@given(
    hnp.arrays(
        dtype=st.sampled_from([np.int8, np.float64]),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5),
        elements=st.integers(-3, 3),
    ),
    st.sampled_from(["sublevel", "superlevel"]),
    st.sampled_from(["full", "face"]),
)
def test_hypothesis_vs_naive_and_gudhi(a, filtration, connectivity):
    dgm = persistence_diagram(a, filtration=filtration, connectivity=connectivity)
    ref = naive_persistence_pairs(a, filtration, connectivity)
    np.testing.assert_array_equal(np.asarray(dgm).reshape(-1, 2),
                                  np.array([r[:2] for r in ref], dtype=np.float64).reshape(-1, 2))
    if connectivity == "full":
        np.testing.assert_array_equal(canon(dgm), oracle(gudhi_pairs, a, filtration))
    check_indices(a, dgm)


@pytest.mark.parametrize("ndim", [5, 6])
def test_high_dimensional(ndim):
    rng = np.random.default_rng(ndim)
    shape = (3, 2, 3, 2, 3, 2)[:ndim]
    a = rng.integers(0, 4, size=shape).astype(np.float64)
    for connectivity in ("full", "face"):
        dgm = persistence_diagram(a, connectivity=connectivity)
        ref = naive_persistence_pairs(a, "sublevel", connectivity)
        np.testing.assert_array_equal(np.asarray(dgm), np.array([r[:2] for r in ref]).reshape(-1, 2))
    if ndim == 5:
        np.testing.assert_array_equal(ours(a), gudhi_pairs(a))


# ------------------------------------------------------------------ metamorphic
def test_strictly_increasing_transform():
    rng = np.random.default_rng(5)
    for _ in range(20):
        a = random_array(rng)
        f = lambda x: np.exp(x / 3.0) + 2.0 * x  # noqa: E731  strictly increasing
        d1 = persistence_diagram(a, keep_zero=True)
        d2 = persistence_diagram(f(a), keep_zero=True)
        np.testing.assert_array_equal(d1.birth_index, d2.birth_index)
        np.testing.assert_array_equal(d1.death_index, d2.death_index)
        np.testing.assert_allclose(f(d1.births), d2.births)
        np.testing.assert_allclose(f(d1.deaths), d2.deaths)


def test_flips_and_transposes():
    rng = np.random.default_rng(6)
    for _ in range(20):
        a = random_array(rng)
        ref = ours(a)
        for ax in range(a.ndim):
            np.testing.assert_array_equal(ours(np.flip(a, axis=ax)), ref)
        perm = rng.permutation(a.ndim)
        np.testing.assert_array_equal(ours(np.transpose(a, perm)), ref)
        np.testing.assert_array_equal(ours(np.transpose(a, perm), "superlevel"),
                                      ours(a, "superlevel"))


def test_superlevel_is_negated_sublevel_of_negation():
    rng = np.random.default_rng(8)
    for _ in range(20):
        a = random_array(rng)
        sup = persistence_diagram(a, filtration="superlevel")
        # as multisets: the negated sublevel diagram of -a
        assert sorted(map(tuple, np.asarray(sup).tolist())) == sorted(
            map(tuple, (-np.asarray(persistence_diagram(-a))).tolist()))
        # cell by cell: superlevel ties enter by descending flat index, i.e. the sublevel
        # diagram of -a with every axis flipped (which reverses the flat index)
        flip = (slice(None, None, -1),) * a.ndim
        sub = persistence_diagram(-a[flip])
        last = np.array(a.shape) - 1
        np.testing.assert_array_equal(sup.births, -sub.births)
        np.testing.assert_array_equal(sup.deaths, -sub.deaths)
        np.testing.assert_array_equal(sup.birth_index, last - sub.birth_index)
        np.testing.assert_array_equal(sup.death_index, np.where(sub.death_index < 0, -1, last - sub.death_index))


def test_pair_order_and_tie_breaking():
    # ties: the cell with the smaller flat index enters first and is the elder
    a = np.array([1.0, 5.0, 1.0, 5.0, 1.0])
    dgm = persistence_diagram(a)
    np.testing.assert_array_equal(dgm.birth_index[:, 0], [0, 2, 4])
    np.testing.assert_array_equal(dgm.death_index[:, 0], [-1, 1, 3])
    # superlevel ties: the cell with the larger flat index enters first (simulation of
    # simplicity on -a), so the last maximum is the elder
    sup = persistence_diagram(-a, filtration="superlevel")
    np.testing.assert_array_equal(sup.birth_index[:, 0], [4, 2, 0])
    np.testing.assert_array_equal(sup.death_index[:, 0], [-1, 3, 1])
    # -0.0 and 0.0 are the same value: flat index decides
    b = np.array([0.0, 2.0, -0.0])
    assert persistence_diagram(b).birth_index[:, 0].tolist() == [0, 2]
    c = np.array([-0.0, 2.0, 0.0])
    assert persistence_diagram(c).birth_index[:, 0].tolist() == [0, 2]


# ------------------------------------------------------------------ dtypes and layouts
@pytest.mark.parametrize("dtype", DTYPES)
def test_dtypes(dtype):
    rng = np.random.default_rng(9)
    a = rng.integers(0, 2 if dtype == "bool" else 50, size=(13, 11)).astype(dtype)
    dgm = persistence_diagram(a)
    np.testing.assert_array_equal(canon(dgm), gudhi_pairs(a.astype(np.float64)))
    check_indices(a, dgm)
    sup = persistence_diagram(a, filtration="superlevel")
    np.testing.assert_array_equal(canon(sup), oracle(gudhi_pairs, a, "superlevel"))


def test_float_values_exact():
    rng = np.random.default_rng(10)
    for dtype in (np.float16, np.float32):
        a = rng.normal(size=(20, 20)).astype(dtype)
        dgm = persistence_diagram(a)
        np.testing.assert_array_equal(canon(dgm), gudhi_pairs(a.astype(np.float64)))


def test_layouts_give_identical_diagrams():
    rng = np.random.default_rng(11)
    base = np.round(rng.normal(size=(12, 10, 8)) * 2)
    ref = persistence_diagram(base)
    views = {
        "F": np.asfortranarray(base),
        "big-endian": base.astype(">f8"),
        "big-endian F": np.asfortranarray(base.astype(">f4")),
        "strided": np.repeat(base, 2, axis=1)[:, ::2, :],
        "negative strides": np.flip(np.flip(base, 0)[::-1], 0)[::-1],
    }
    for name, v in views.items():
        np.testing.assert_array_equal(v, base)
        dgm = persistence_diagram(v)
        for attr in ("births", "deaths", "birth_index", "death_index"):
            np.testing.assert_array_equal(getattr(dgm, attr), getattr(ref, attr), err_msg=name)


def test_non_array_input_and_single_cells():
    dgm = persistence_diagram([[3]])
    assert np.asarray(dgm).tolist() == [[3.0, np.inf]]
    assert dgm.birth_index.tolist() == [[0, 0]] and dgm.death_index.tolist() == [[-1, -1]]
    dgm = persistence_diagram(np.array([2.0, 1.0, 3.0]).reshape(1, 3, 1))
    assert dgm.birth_index.tolist() == [[0, 1, 0]]
    dgm = persistence_diagram(np.full((4, 5), 7))
    assert np.asarray(dgm).tolist() == [[7.0, np.inf]]


# ------------------------------------------------------------------ non-finite values
def test_nan_raise_message():
    a = np.zeros((3, 4))
    a[1, 2] = np.nan
    a[2, 0] = np.inf
    with pytest.raises(NonFiniteError) as exc:
        persistence_diagram(a)
    msg = str(exc.value)
    assert "2 non-finite" in msg and "(1, 2)" in msg and "nan_policy='omit'" in msg


def test_nan_omit_splits_domain():
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    a[:, 2] = np.nan  # a wall of NaN: two components
    dgm = persistence_diagram(a, nan_policy="omit")
    assert len(dgm.essential()) == 2
    np.testing.assert_array_equal(canon(dgm), [[0.0, np.inf], [3.0, np.inf]])
    a[0, 0] = -np.inf
    a[2, 3] = np.inf
    dgm = persistence_diagram(a, nan_policy="omit", filtration="superlevel")
    np.testing.assert_array_equal(canon(dgm), [[7.0, -np.inf], [9.0, -np.inf]])


def test_nan_omit_matches_naive():
    rng = np.random.default_rng(12)
    for _ in range(30):
        a = random_array(rng, max_cells=100)
        a[rng.random(a.shape) < 0.3] = rng.choice([np.nan, np.inf, -np.inf])
        for filtration in ("sublevel", "superlevel"):
            for connectivity in ("full", "face"):
                dgm = persistence_diagram(a, filtration=filtration, connectivity=connectivity,
                                          nan_policy="omit")
                ref = naive_persistence_pairs(a, filtration, connectivity)
                np.testing.assert_array_equal(
                    np.asarray(dgm).reshape(-1, 2), np.array([r[:2] for r in ref]).reshape(-1, 2)
                )
                check_indices(a, dgm)


def test_all_nan_omit_is_empty():
    dgm = persistence_diagram(np.full((2, 2), np.nan), nan_policy="omit")
    assert len(dgm) == 0 and np.asarray(dgm).shape == (0, 2)
    assert dgm.birth_index.shape == (0, 2)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "bad, exc, words",
    [
        (np.array([1 + 2j]), InvalidDTypeError, "complex"),
        (np.array(["a", "b"]), InvalidDTypeError, "dtype"),
        (np.array([object(), 1], dtype=object), InvalidDTypeError, "dtype"),
        (np.float64(3.0), InvalidInputError, "0-dimensional"),
        (np.zeros((3, 0)), InvalidInputError, "empty"),
        ([[1, 2], [3]], InvalidInputError, "rectangular"),
    ],
)
def test_bad_input(bad, exc, words):
    with pytest.raises(exc, match=words):
        persistence_diagram(bad)


@pytest.mark.parametrize(
    "kw",
    [{"filtration": "up"}, {"connectivity": 4}, {"nan_policy": "ignore"}, {"keep_zero": "yes"}],
)
def test_bad_options(kw):
    with pytest.raises(InvalidOptionError, match=next(iter(kw))):
        persistence_diagram(np.zeros(3), **kw)


# ------------------------------------------------------------------ Diagram API
def test_diagram_api():
    a = np.array([[0.0, 5.0, 1.0], [6.0, 6.0, 6.0], [2.0, 6.0, 3.0]])
    dgm = te.persistence_diagram(a)
    assert len(dgm) == 4
    assert repr(dgm) == "Diagram(filtration='sublevel', shape=(3, 3), n_pairs=4, n_essential=1)"
    arr = np.asarray(dgm)
    assert arr.dtype == np.float64 and arr.shape == (4, 2)
    assert dgm.to_gudhi() == [(0, (b, d)) for b, d in arr.tolist()]
    assert len(dgm.finite()) == 3 and len(dgm.essential()) == 1
    np.testing.assert_array_equal(dgm.persistence, [np.inf, 4.0, 4.0, 3.0])
    s = dgm.sorted_by_persistence()
    np.testing.assert_array_equal(s.persistence, [np.inf, 4.0, 4.0, 3.0])
    np.testing.assert_array_equal(s.birth_index, dgm.birth_index)
    # equality is multiset equality of pairs plus the filtration
    shuffled = Diagram(dgm.births[::-1], dgm.deaths[::-1], filtration="sublevel")
    assert shuffled == dgm and not (shuffled != dgm)
    assert dgm != Diagram(dgm.births, dgm.deaths, filtration="superlevel")
    assert dgm != Diagram(dgm.births[:3], dgm.deaths[:3])
    assert dgm != Diagram(dgm.births, dgm.deaths + 1)
    assert dgm.__eq__(arr) is NotImplemented
    assert list(dgm) == [tuple(r) for r in arr.tolist()]


def test_diagram_constructor_validation():
    d = Diagram([1.0], [np.inf], shape=(4, 4))
    assert d.birth_index.tolist() == [[-1, -1]]
    assert np.asarray(Diagram([], [])).shape == (0, 2)
    with pytest.raises(InvalidInputError, match="one death per birth"):
        Diagram([1.0, 2.0], [3.0])
    with pytest.raises(InvalidInputError, match="birth_index"):
        Diagram([1.0], [2.0], birth_index=[[0, 0, 0]], shape=(3, 3))
    with pytest.raises(InvalidOptionError, match="filtration"):
        Diagram([1.0], [2.0], filtration="down")


def test_lazy_public_names():
    assert te.persistence_diagram is persistence_diagram
    assert te.Diagram is Diagram
    import topoeval.persistence as mod

    assert set(mod.__all__) == {"Diagram", "persistence_diagram", "persistence_diagrams"}
    assert all(itertools.starmap(lambda n, m: te._LAZY[n] == "persistence", [(n, 0) for n in mod.__all__]))


# ------------------------------------------------------------------ internals
@pytest.mark.parametrize("core", [(5,), (3, 7), (6, 9), (2, 5, 3), (5, 4, 9), (3, 2, 4, 2)])
@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_layout_tables_and_offsets(core, connectivity):
    """Storage indices are distinct, invert, and neighbour offsets point at the neighbour."""
    from topoeval.persistence import _Layout

    lay = _Layout(core, connectivity)
    cells = np.array(list(itertools.product(*[range(c) for c in core])), dtype=np.int64)
    storage = sum(lay.tables[i][cells[:, i]] for i in range(len(core)))
    assert len(set(storage.tolist())) == len(cells) and storage.max() < lay.size
    np.testing.assert_array_equal(lay.to_core(storage), cells)
    where = {tuple(c): s for c, s in zip(cells.tolist(), storage.tolist())}
    deltas = [d for d in itertools.product((-1, 0, 1), repeat=len(core)) if any(d)]
    if connectivity == "face":
        deltas = [d for d in deltas if sum(map(abs, d)) == 1]
    assert lay.offsets.shape[1] == len(deltas)
    for c, s in where.items():
        for j, d in enumerate(deltas):
            q = tuple(ci + di for ci, di in zip(c, d))
            t = s + lay.offsets[s & lay.lmask, j]
            if q in where:
                assert t == where[q]
            else:  # outside the array: a frame cell, never a real cell
                assert 0 <= t < lay.size and t not in where.values()


def test_int64_fallback_path(monkeypatch):
    """The argsort + int64 path used above 2**31 cells gives the same diagram."""
    import topoeval.persistence.grid as mod

    rng = np.random.default_rng(13)
    arrays = [random_array(rng) for _ in range(15)]
    ref = [persistence_diagram(a, filtration="superlevel") for a in arrays]
    monkeypatch.setattr(mod, "_MAX_INT32_CELLS", 0)
    for a, r in zip(arrays, ref):
        d = persistence_diagram(a, filtration="superlevel")
        for attr in ("births", "deaths", "birth_index", "death_index"):
            np.testing.assert_array_equal(getattr(d, attr), getattr(r, attr))
    b = np.array([[1.0, np.nan, 0.0], [2.0, np.nan, 3.0]])
    np.testing.assert_array_equal(canon(persistence_diagram(b, nan_policy="omit")),
                                  [[0.0, np.inf], [1.0, np.inf]])
    with pytest.raises(NonFiniteError, match="2 non-finite"):
        persistence_diagram(b)


@pytest.mark.parametrize("bucket", [1, 7, 100, 16384])
def test_radix_sort_cells_is_a_stable_value_sort(bucket):
    """The sort's order equals a stable argsort by float64 value (C order breaks ties) for
    any bucket size: many buckets, deep in-cache splits and insertion-sorted ranges."""
    from topoeval._kernels._persistence import radix_sort_cells
    from topoeval.persistence import _Layout

    rng = np.random.default_rng(17)
    arrays = [
        rng.random((60, 70)),
        rng.normal(size=(9, 11, 13)) * 1e-3,  # both signs, many exponents
        rng.integers(0, 4, size=(50, 41)).astype(np.float64),  # heavy ties
        np.concatenate([rng.random(3000), [1e300, -1e300, 0.0, -0.0]]),  # huge range: one fat bin
        np.where(rng.random(2000) < 0.5, -0.0, 0.0),  # -0.0 ties with 0.0
        np.arange(1500.0)[::-1].copy(),
        rng.random((40, 50)).astype(np.float32),
        rng.integers(-(2**40), 2**40, size=3000),
        np.where(rng.random((30, 30)) < 0.2, np.nan, rng.random((30, 30))),  # non-finite last
    ]
    for a in arrays:
        for superlevel in (False, True):
            core = a.shape
            lay = _Layout(core, "full")
            src = a.reshape(-1)
            order, n_active, spare = radix_sort_cells(
                src, superlevel, np.array(core, dtype=np.int64), lay.tables, bucket
            )
            vals = src.astype(np.float64) + 0.0
            key = -vals if superlevel else vals
            finite = np.flatnonzero(np.isfinite(vals))
            flat = finite[np.argsort(key[finite], kind="stable")]
            multi = np.unravel_index(flat, core)
            expected = sum(lay.tables[i][multi[i]] for i in range(len(core)))
            assert n_active == finite.size and order.shape == (src.size,)
            np.testing.assert_array_equal(order[:n_active], expected)
            assert spare.nbytes >= 8 * src.size
            if n_active < src.size:  # the rest: the non-finite cells, in any order
                rest = np.setdiff1d(np.arange(src.size), finite)
                multi = np.unravel_index(rest, core)
                bad = sum(lay.tables[i][multi[i]] for i in range(len(core)))
                np.testing.assert_array_equal(np.sort(order[n_active:]), np.sort(bad))

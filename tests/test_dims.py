"""Tests of cubical persistence in every dimension (topoeval.persistence.cubical / duality):
oracles gudhi (both constructions), cripser and the dense reduction of tests/naive.py;
the duality engine against the Kruskal of the middle-dimension machinery; the API."""

from __future__ import annotations

import itertools

import gudhi
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import topoeval as te
from topoeval.errors import InvalidInputError, InvalidOptionError, NonFiniteError
from topoeval.persistence import Diagram
from topoeval.persistence.cubical import CubicalGrid, persistence_diagrams
from topoeval.persistence.duality import top_dimension

from .naive import (
    naive_check_gradient,
    naive_critical_cells,
    naive_cubical_pairs,
    naive_lower_link_acyclic,
    naive_morse_boundary,
)

CONSTRUCTION = {"full": "T", "face": "V"}


def canon(x) -> np.ndarray:
    p = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    return p[np.lexsort((p[:, 1], p[:, 0]))]


def gudhi_all(a, connectivity):
    """{k: sorted (birth, death) rows} of gudhi's complex, zero-persistence pairs dropped."""
    a = np.asarray(a, dtype=np.float64)
    if connectivity == "full":
        cc = gudhi.CubicalComplex(top_dimensional_cells=a)
    else:
        cc = gudhi.CubicalComplex(vertices=a)
    cc.persistence(homology_coeff_field=2, min_persistence=-1)
    out = {}
    for k in range(a.ndim):
        g = np.asarray(cc.persistence_intervals_in_dimension(k), dtype=np.float64).reshape(-1, 2)
        out[k] = canon(g[g[:, 0] != g[:, 1]])
    return out


def ours_sublevel(dgm: Diagram) -> np.ndarray:
    """The diagram as sublevel pairs (superlevel ones negated back)."""
    x = np.asarray(dgm)
    return canon(-x if dgm.filtration == "superlevel" else x)


def assert_equals_gudhi(a, connectivity, dgms=None):
    """Every sublevel diagram of ``a`` equals gudhi's (and names cells with its values)."""
    if dgms is None:
        dgms = persistence_diagrams(a, connectivity=connectivity)
    ref = gudhi_all(a, connectivity)
    for k in range(a.ndim):
        np.testing.assert_array_equal(ours_sublevel(dgms[k]), ref[k])
        check_indices(a, dgms[k])
    return dgms


def check_indices(a, dgm: Diagram):
    """Every birth / death value is the value of the element its index names."""
    a = np.asarray(a, dtype=np.float64)
    assert dgm.birth_index.shape == (len(dgm), a.ndim)
    np.testing.assert_array_equal(a[tuple(dgm.birth_index.T)], dgm.births)
    fin = np.isfinite(dgm.deaths)
    np.testing.assert_array_equal(a[tuple(dgm.death_index[fin].T)], dgm.deaths[fin])
    assert (dgm.death_index[~fin] == -1).all()


def tied_arrays(max_dims=4, max_side=5, max_cells=120):
    """Small arrays of a few distinct values (heavy ties), any shape including 1 x n."""

    def ok(shape):
        return int(np.prod(shape)) <= max_cells

    shapes = hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=1, max_side=max_side).filter(ok)
    return shapes.flatmap(lambda s: hnp.arrays(np.int8, s, elements=st.integers(0, 3)))


# ------------------------------------------------------------------ oracles
@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
@given(a=tied_arrays())
def test_every_dimension_equals_gudhi(a, connectivity, filtration):
    dgms = persistence_diagrams(a, filtration=filtration, connectivity=connectivity)
    assert sorted(dgms) == list(range(a.ndim))
    ref = gudhi_all(-a.astype(float) if filtration == "superlevel" else a, connectivity)
    for k, dgm in dgms.items():
        assert dgm.dim == k and dgm.filtration == filtration and dgm.shape == a.shape
        np.testing.assert_array_equal(ours_sublevel(dgm), ref[k])
        check_indices(a, dgm)


@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize("shape", [(3, 2, 3, 2, 2), (2, 3, 2, 2, 3), (3, 3, 3, 3)])
def test_four_and_five_dimensions_equal_gudhi(shape, connectivity):
    rng = np.random.default_rng(19)
    for _ in range(4):
        assert_equals_gudhi(rng.integers(0, 4, size=shape).astype(np.float64), connectivity)


@pytest.mark.parametrize("connectivity", ["full", "face"])
@given(a=tied_arrays(max_dims=3, max_side=4, max_cells=40))
def test_equals_dense_reduction(a, connectivity):
    ref = naive_cubical_pairs(a, CONSTRUCTION[connectivity])
    for k, dgm in persistence_diagrams(a, connectivity=connectivity).items():
        np.testing.assert_array_equal(ours_sublevel(dgm), ref[k])


@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize("shape", [(14, 13, 15), (24, 24, 24), (40, 37), (6, 1, 30, 7)])
def test_noise_and_smooth_fields_equal_gudhi(shape, connectivity):
    """Long reductions (noise: many pairs, long columns) and a few-valued smooth field."""
    rng = np.random.default_rng(191)
    noise = rng.random(shape)
    grids = np.meshgrid(*[np.linspace(0, 3, n) for n in shape], indexing="ij")
    smooth = np.round(sum(np.sin(2 * g + i) for i, g in enumerate(grids)), 1)
    for a in (noise, smooth):
        assert_equals_gudhi(a, connectivity)


def test_equals_cripser():
    cripser = pytest.importorskip("cripser")
    rng = np.random.default_rng(7)
    for shape in [(9, 11), (7, 8, 6)]:
        a = rng.integers(0, 6, size=shape).astype(np.float64)
        for connectivity, fn in (("full", cripser.computePH_T), ("face", cripser.computePH)):
            res = fn(a, maxdim=a.ndim - 1)
            for k, dgm in persistence_diagrams(a, connectivity=connectivity).items():
                r = res[res[:, 0] == k][:, 1:3]
                r = r[r[:, 0] != r[:, 1]]
                r[r > 1e300] = np.inf  # cripser's "never dies"
                np.testing.assert_array_equal(ours_sublevel(dgm), canon(r))


@pytest.mark.parametrize("shape", [(1, 9), (9, 1), (1, 1), (1, 5, 1), (2, 7), (1, 4, 5), (4, 1, 5, 3)])
@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_degenerate_shapes(shape, connectivity):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 3, size=shape).astype(np.float64)
    dgms = assert_equals_gudhi(a, connectivity)
    # a dimension at or above the number of axes longer than 1 is empty
    longer = sum(s > 1 for s in shape)
    for k in range(max(longer, 1), a.ndim):
        assert len(dgms[k]) == 0


# ------------------------------------------------------------------ the two engines of d-1
@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
def test_duality_equals_dual_graph_kruskal(connectivity, filtration):
    """The 0-D engine with a virtual cell = the Kruskal over the (d-1)-faces of the complex."""
    from topoeval._kernels._cubical import top_pairs

    rng = np.random.default_rng(29)
    for shape in [(17, 19), (8, 9, 7), (5, 4, 3, 4)]:
        a = rng.integers(0, 5, size=shape).astype(np.float64)
        dgm = top_dimension(a, filtration, connectivity, False)
        sign = -1.0 if filtration == "superlevel" else 1.0
        cx = CubicalGrid(a * sign, connectivity)
        cx.cells(a.ndim)  # ranks of the top cells
        fr, tr = top_pairs(cx.cells(a.ndim - 1), cx.rank, cx.kshape, cx.kstrides)
        pairs = np.stack([cx.values(a.ndim - 1)[fr], cx.values(a.ndim)[tr]], axis=1) * sign
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        np.testing.assert_array_equal(canon(np.asarray(dgm)), canon(pairs))
        check_indices(a, dgm)


def test_superlevel_is_negated_sublevel_of_negation():
    rng = np.random.default_rng(5)
    a = rng.integers(-3, 4, size=(6, 7, 5)).astype(np.float64)
    for connectivity in ("full", "face"):
        sup = persistence_diagrams(a, filtration="superlevel", connectivity=connectivity)
        sub = persistence_diagrams(-a, connectivity=connectivity)
        for k in range(1, 3):
            np.testing.assert_array_equal(canon(-np.asarray(sup[k])), canon(np.asarray(sub[k])))
            assert (sup[k].births >= sup[k].deaths).all()


# ------------------------------------------------------------------ API
def test_persistence_diagram_dim_matches_persistence_diagrams():
    rng = np.random.default_rng(11)
    a = rng.random((6, 5, 7)).astype(np.float32)
    dgms = te.persistence_diagrams(a)
    for k in range(3):
        one = te.persistence_diagram(a, dim=k)
        assert one == dgms[k] and one.dim == k
        np.testing.assert_array_equal(one.birth_index, dgms[k].birth_index)
    assert te.persistence_diagram(a, dim=0) == te.persistence_diagram(a)
    assert list(te.persistence_diagrams(a, dims=[2, 0])) == [0, 2]
    assert list(te.persistence_diagrams(a, dims=1)) == [1]


def test_order_dtype_and_layout_do_not_matter():
    rng = np.random.default_rng(13)
    a = rng.integers(0, 9, size=(7, 6, 5))
    ref = persistence_diagrams(a.astype(np.float64))
    for b in (np.asfortranarray(a), a.astype(np.int16), a[::1, :, ::1].copy(order="F")):
        got = persistence_diagrams(b)
        for k in range(3):
            assert got[k] == ref[k]
    for k in (1, 2):  # pairs by (birth, death)
        x = np.asarray(ref[k])
        np.testing.assert_array_equal(x, canon(x))


def test_keep_zero_adds_only_zero_pairs():
    a = np.random.default_rng(17).integers(0, 2, size=(6, 6, 6))
    for k in (1, 2):
        with_zero = te.persistence_diagram(a, dim=k, keep_zero=True)
        without = te.persistence_diagram(a, dim=k)
        zero = with_zero.births == with_zero.deaths
        assert zero.any()
        assert Diagram(with_zero.births[~zero], with_zero.deaths[~zero], dim=k) == without


def test_errors():
    a = np.zeros((4, 4))
    with pytest.raises(InvalidOptionError, match="0..1"):
        te.persistence_diagram(a, dim=2)
    with pytest.raises(InvalidOptionError):
        te.persistence_diagram(a, dim=-1)
    with pytest.raises(InvalidOptionError):
        te.persistence_diagram(a, dim=True)
    with pytest.raises(InvalidOptionError):
        te.persistence_diagram(a, dim=[1])
    with pytest.raises(InvalidOptionError, match="dim=0"):
        te.persistence_diagram(a, dim=1, nan_policy="omit")
    with pytest.raises(InvalidOptionError, match="empty"):
        te.persistence_diagrams(a, dims=[])
    with pytest.raises(InvalidOptionError, match="filtration"):
        te.persistence_diagrams(a, filtration="up")
    b = a.copy()
    b[1, 2] = np.nan
    with pytest.raises(NonFiniteError):
        te.persistence_diagram(b, dim=1)
    assert len(te.persistence_diagram(b, nan_policy="omit")) == 1  # dimension 0 still omits
    with pytest.raises(InvalidInputError, match="dim"):
        Diagram([1.0], [2.0], dim=-1)


def test_diagram_dim_in_repr_equality_and_gudhi_format():
    d1 = Diagram([1.0], [2.0], dim=1)
    d0 = Diagram([1.0], [2.0])
    assert d1 != d0 and d0.dim == 0
    assert "dim=1" in repr(d1) and "dim" not in repr(d0)
    assert d1.to_gudhi() == [(1, (1.0, 2.0))]
    assert d1.finite().dim == 1 and d1.sorted_by_persistence().dim == 1


# ------------------------------------------------------------------ the discrete Morse sandwich (3-D)
def tied_boxes(max_side=6):
    """3-D arrays with every side >= 2 (the sandwich's domain) and heavy ties."""
    shapes = st.tuples(*[st.integers(2, max_side)] * 3)
    return shapes.flatmap(lambda s: hnp.arrays(np.int8, s, elements=st.integers(0, 3)))


def real_cell_value(a, x, connectivity):
    """The value of the cell at K coordinate x (V: max of its corners, T: min of its cubes)."""
    if connectivity == "face":
        ranges = [sorted({v // 2, (v + 1) // 2}) for v in x]
        return max(a[j] for j in itertools.product(*ranges))
    ranges = [[(v - 1) // 2] if v % 2 else [j for j in (v // 2 - 1, v // 2) if 0 <= j < n]
              for v, n in zip(x, a.shape)]
    return min(a[j] for j in itertools.product(*ranges))


@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
@given(a=tied_boxes())
def test_sandwich_equals_reduction(a, connectivity, filtration):
    """Dimension 1 of 3-D by the Morse sandwich = the full boundary reduction with clearing."""
    from topoeval.persistence.cubical import _middle, _sandwich

    new = _sandwich(a, filtration, connectivity, a.shape)
    old = _middle(a, [1], filtration, connectivity, False)[1]
    np.testing.assert_array_equal(np.asarray(new), np.asarray(old))
    check_indices(a, new)


@pytest.mark.parametrize("connectivity", ["full", "face"])
@given(a=tied_boxes(max_side=3))
def test_gradient_is_acyclic_and_morse_boundaries_count_paths(a, connectivity):
    """The gradient (naive check: mutual equal-valued pairs, no closed V-path) and the Morse
    boundary of every critical 2-cell against an enumeration of the V-paths."""
    from topoeval._kernels._gradient import critical_cells, morse_boundary, star_context
    from topoeval.persistence.cubical import gradient

    g = a.astype(np.float64)
    pad = connectivity == "full"
    code, rank, kshape = gradient(g, pad)
    naive_check_gradient(code, kshape, int(pad), lambda x: real_cell_value(g, x, connectivity))
    cells1, keys1 = critical_cells(code, rank, kshape, pad, 1)
    cells2, _ = critical_cells(code, rank, kshape, pad, 2)
    by_key = dict(zip(keys1.tolist(), cells1.tolist()))
    hk, hc, out = (np.empty(4, dtype=np.int64) for _ in range(3))
    context = star_context(rank, pad, np.zeros(0, dtype=np.int64))
    for c in cells2:
        out, m, hk, hc = morse_boundary(c, code, rank, kshape, pad, hk, hc, out, context)
        assert (np.diff(out[:m]) < 0).all()
        got = sorted(tuple(int(v) for v in np.unravel_index(by_key[k], tuple(kshape))) for k in out[:m].tolist())
        ref = naive_morse_boundary(code, kshape, int(pad), tuple(int(v) for v in np.unravel_index(c, tuple(kshape))))
        assert got == ref


@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_clearing_skips_only_columns_that_reduce_to_zero(connectivity):
    """The Kruskal over the Morse dual graph clears exactly the positive 2-saddles: the
    reduction without clearing gives the same pairs, and as many are cleared as there are
    2-classes (V: one per critical 3-cell, the outside being one more vertex; T: one fewer)."""
    from topoeval._kernels._gradient import clear_positive, critical_cells, negative_saddles, saddle_pairs
    from topoeval.persistence.cubical import gradient

    rng = np.random.default_rng(23)
    for shape in [(9, 8, 7), (3, 12, 5), (2, 2, 9)]:
        for a in (rng.integers(0, 4, size=shape).astype(np.float64), rng.random(shape)):
            pad = connectivity == "full"
            code, rank, kshape = gradient(a, pad)
            cells1, keys1 = critical_cells(code, rank, kshape, pad, 1)
            cells2, _ = critical_cells(code, rank, kshape, pad, 2)
            cells3, _ = critical_cells(code, rank, kshape, pad, 3)
            positive = clear_positive(cells2, code, rank, kshape, pad)
            assert positive.sum() == len(cells3) - pad
            negative = negative_saddles(cells1, code, kshape, pad)
            assert negative.sum() == len(critical_cells(code, rank, kshape, pad, 0)[0]) - 1 + pad
            fast = saddle_pairs(code, rank, kshape, pad, cells2, keys1, positive, negative)
            slow = saddle_pairs(
                code, rank, kshape, pad, cells2, keys1, np.zeros_like(positive), np.zeros_like(negative)
            )
            for x, y in zip(fast, slow):
                np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------- several dimensions on the block engine
def _same_diagram(a: Diagram, b: Diagram) -> None:
    assert (a.dim, a.filtration, a.shape) == (b.dim, b.filtration, b.shape)
    for f in ("births", "deaths", "birth_index", "death_index"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f


class _Sliced:
    """A lazy input (shape, dtype, slicing) that records what it was asked to read."""

    def __init__(self, a):
        self.a, self.shape, self.dtype, self.reads = a, a.shape, a.dtype, 0

    def __getitem__(self, key):
        self.reads += 1
        return self.a[key]


@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
@given(a=tied_boxes(max_side=5), data=st.data())
def test_persistence_diagrams_blocks_equal_per_dim_calls_and_in_memory(a, connectivity, filtration, data):
    """persistence_diagrams with block options: every dimension equals persistence_diagram(dim=k)
    with the same options and the in-memory diagrams (0 and d-1 by blocks, the middle in one piece)."""
    bs = tuple(data.draw(st.integers(1, s)) for s in a.shape)
    kw = dict(filtration=filtration, connectivity=connectivity)
    memory = persistence_diagrams(a, **kw)
    got = persistence_diagrams(a, "all", block_shape=bs, jobs=2, **kw)
    assert list(got) == list(memory) == list(range(a.ndim))
    for k in got:
        _same_diagram(got[k], memory[k])
        _same_diagram(got[k], te.persistence_diagram(a, dim=k, block_shape=bs, jobs=2, **kw))


def test_persistence_diagrams_lazy_inputs_top_and_zero(tmp_path):
    """h5py, memmap and dask inputs: dimensions 0 and d-1 block by block, identical; size-1 axes."""
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(3)
    a = np.round(rng.normal(size=(9, 1, 8, 7)), 1)
    memory = persistence_diagrams(a, (0, 2, 3))
    assert len(memory[3]) == 0 and len(memory[2]) > 0  # three axes longer than 1: dimension 3 is empty
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f.create_dataset("a", data=a, chunks=(3, 1, 8, 7))
    np.save(tmp_path / "a.npy", a)
    inputs = [np.load(tmp_path / "a.npy", mmap_mode="r")]
    da = pytest.importorskip("dask.array")
    inputs.append(da.from_array(a, chunks=(4, 1, 5, 7)))
    with h5py.File(tmp_path / "f.h5") as f:
        for lazy in [f["a"], *inputs]:
            got = persistence_diagrams(lazy, [3, 0, 2], memory_limit="50MB")
            assert list(got) == [0, 2, 3]
            for k in got:
                _same_diagram(got[k], memory[k])


def test_persistence_diagrams_refuses_middle_dims_of_lazy_inputs_before_reading():
    a = np.round(np.random.default_rng(4).normal(size=(6, 5, 4)), 1)
    lazy = _Sliced(a)
    for dims in (None, "all", (0, 1), 1):  # (anything sliceable is read lazily within a memory_limit)
        with pytest.raises(InvalidInputError, match=r"dimension 1 of a 3-D .*dims=\(0, 2\)"):
            persistence_diagrams(lazy, dims, memory_limit="50MB")
    with pytest.raises(InvalidInputError, match=r"dim=0 or dim=2"):
        te.persistence_diagram(lazy, dim=1, memory_limit="50MB")
    assert lazy.reads == 0
    # in memory the middle dimension runs in one piece beside the blocks
    got = persistence_diagrams(a, block_shape=(2, 5, 4))
    _same_diagram(got[1], persistence_diagrams(a, 1)[1])
    with pytest.raises(InvalidOptionError, match="homology dimensions 0..2"):
        persistence_diagrams(lazy, (0, 3), memory_limit="50MB")
    with pytest.raises(InvalidOptionError, match="pass one integer"):
        te.persistence_diagram(np.zeros(5), dim="all")
    bad = a.copy()
    bad[2, 1, 0] = np.nan
    with pytest.raises(NonFiniteError):
        persistence_diagrams(_Sliced(bad), (0, 2), memory_limit="50MB")


@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_sandwich_threads_equal_serial_bit_for_bit(connectivity):
    """The gradient over slabs in threads and the boundaries of column ranges in threads give
    the serial code array and pairs exactly (ties and noise, slabs of one row included)."""
    from topoeval._kernels._gradient import clear_positive, critical_cells, negative_saddles, saddle_pairs
    from topoeval.persistence.cubical import gradient

    rng = np.random.default_rng(5)
    pad = connectivity == "full"
    for shape in [(7, 6, 5), (3, 9, 4), (12, 5, 6)]:
        for a in (rng.integers(0, 3, size=shape).astype(np.float64), rng.random(shape)):
            code, rank, kshape = gradient(a, pad, 1)
            for threads in (2, 3, shape[0]):
                np.testing.assert_array_equal(gradient(a, pad, threads)[0], code)
            cells1, keys1 = critical_cells(code, rank, kshape, pad, 1)
            cells2, _ = critical_cells(code, rank, kshape, pad, 2)
            positive = clear_positive(cells2, code, rank, kshape, pad)
            negative = negative_saddles(cells1, code, kshape, pad)
            serial = saddle_pairs(code, rank, kshape, pad, cells2, keys1, positive, negative, 1)
            for threads in (2, 5):
                par = saddle_pairs(code, rank, kshape, pad, cells2, keys1, positive, negative, threads)
                for x, y in zip(par, serial):
                    np.testing.assert_array_equal(x, y)


def test_several_dimensions_refuse_nan_with_a_hint_that_applies():
    """persistence_diagrams has no nan_policy: its message must not suggest one."""
    a = np.random.default_rng(3).random((6, 7))
    a[2, 3] = np.nan
    with pytest.raises(te.NonFiniteError, match=r"index \(2, 3\).*persistence_diagram\(a, nan_policy='omit'\)"):
        te.persistence_diagrams(a)


def assert_same_diagrams(x, y):
    assert sorted(x) == sorted(y)
    for k in x:
        for name in ("births", "deaths", "birth_index", "death_index"):
            np.testing.assert_array_equal(getattr(x[k], name), getattr(y[k], name))
        assert (x[k].dim, x[k].filtration, x[k].shape) == (y[k].dim, y[k].filtration, y[k].shape)


@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
def test_sandwich_beside_the_union_finds_equals_one_job(connectivity, filtration):
    """With several jobs dimension 1 of a 3-D array runs in a thread beside dimensions 0 and 2
    (and the sandwich's own threads): every diagram equals the one-job result bit for bit,
    for every subset of dimensions."""
    rng = np.random.default_rng(11)
    for shape in [(6, 5, 7), (2, 9, 4)]:
        for a in (rng.integers(0, 4, size=shape).astype(np.float64), rng.random(shape)):
            for dims in (None, (1,), (0, 1), (1, 2)):
                one = persistence_diagrams(a, dims, filtration=filtration, connectivity=connectivity, jobs=1)
                for jobs in (2, 3):
                    many = persistence_diagrams(a, dims, filtration=filtration, connectivity=connectivity, jobs=jobs)
                    assert_same_diagrams(many, one)
    big = rng.random((64, 64, 66))  # >= 2**18 cells: the sandwich's own threads too
    assert_same_diagrams(persistence_diagrams(big, connectivity=connectivity, filtration=filtration, jobs=2),
                         persistence_diagrams(big, connectivity=connectivity, filtration=filtration, jobs=1))


def test_sandwich_beside_the_union_finds_refuses_nan_first():
    a = np.random.default_rng(4).random((5, 6, 7))
    a[1, 2, 3] = np.nan
    with pytest.raises(NonFiniteError, match=r"index \(1, 2, 3\)"):
        persistence_diagrams(a, jobs=2)


@pytest.mark.parametrize("connectivity", ["full", "face"])
@given(a=tied_boxes(max_side=4))
def test_critical_cells_equal_naive_with_keys_from_the_vertices(a, connectivity):
    """critical_cells (one flat pass, keys from the code's side bits) = the naive list, keys
    from the cells' own vertices (heavy ties, both constructions, every dimension)."""
    from topoeval._kernels._gradient import critical_cells
    from topoeval.persistence.cubical import gradient

    pad = connectivity == "full"
    code, rank, kshape = gradient(a.astype(np.float64), pad)
    for dim in range(4):
        cells, keys = critical_cells(code, rank, kshape, pad, dim)
        ref_cells, ref_keys = naive_critical_cells(code, kshape, int(pad), rank, dim)
        assert cells.tolist() == ref_cells and keys.tolist() == ref_keys


@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
def test_union_finds_side_by_side_equal_one_job(connectivity, filtration, monkeypatch):
    """With several jobs dimensions 0 and d-1 run in two threads (each with half of the jobs):
    every diagram equals the one-job result bit for bit, for tied and untied arrays, squeezed
    axes, keep_zero, 4-D middle dimensions and every subset of dimensions; the path is taken."""
    import topoeval.persistence.cubical as cub

    monkeypatch.setattr(cub, "_APART_MIN_CELLS", 1)  # the real threshold is 2**17 cells
    calls = []
    run = cub._run_apart
    monkeypatch.setattr(cub, "_run_apart", lambda *a: calls.append(a[2]) or run(*a))
    rng = np.random.default_rng(12)
    kw = dict(filtration=filtration, connectivity=connectivity)
    for shape in [(7, 9), (1, 8, 6), (5, 4, 6), (3, 4, 3, 4)]:
        for a in (rng.integers(0, 3, size=shape).astype(np.float64), rng.random(shape).astype(np.float32)):
            for dims, keep_zero in ((None, False), ((0, len(shape) - 1), True), ((0,), False)):
                one = persistence_diagrams(a, dims, keep_zero=keep_zero, jobs=1, **kw)
                for jobs in (2, 3):
                    assert_same_diagrams(persistence_diagrams(a, dims, keep_zero=keep_zero, jobs=jobs, **kw), one)
    assert calls and set(calls) == {1, 2, 3}  # the top dimension of the 2-D, squeezed, 3-D and 4-D arrays
    big = rng.random((400, 420))  # above the real threshold, below the block engine's
    monkeypatch.setattr(cub, "_APART_MIN_CELLS", 1 << 17)
    calls.clear()
    assert_same_diagrams(persistence_diagrams(big, jobs=2, **kw), persistence_diagrams(big, jobs=1, **kw))
    assert calls == [1]


def test_union_finds_side_by_side_refuse_nan_before_any_thread(monkeypatch):
    import topoeval.persistence.cubical as cub

    monkeypatch.setattr(cub, "_APART_MIN_CELLS", 1)
    a = np.random.default_rng(5).random((6, 7))
    a[4, 1] = np.inf
    with pytest.raises(NonFiniteError, match=r"index \(4, 1\).*persistence_diagram\(a, nan_policy='omit'\)"):
        persistence_diagrams(a, jobs=2)


def test_persistence_diagram_dim_keeps_one_job(monkeypatch):
    """persistence_diagram(a, dim=d-1, jobs=1) stays off the block engine (it used to take it,
    with every core, on arrays of a million cells)."""
    import topoeval.persistence.blocks as blocks

    seen = []
    orig = blocks.block_diagram
    monkeypatch.setattr(blocks, "block_diagram", lambda *a, **k: seen.append(k.get("jobs")) or orig(*a, **k))
    a = np.random.default_rng(6).random((1024, 1025))
    one = te.persistence_diagram(a, dim=1, jobs=1)
    assert not seen
    assert_same_diagrams({1: te.persistence_diagram(a, dim=1, jobs=2)}, {1: one})
    assert seen == [2]


def test_sandwich_threads_follow_jobs(monkeypatch):
    """jobs=1 means one thread for dimension 1 of a 3-D array too (it took every core)."""
    import topoeval.persistence.cubical as cub

    seen = []
    orig = cub._sandwich
    monkeypatch.setattr(cub, "_sandwich", lambda *a: seen.append(a[4]) or orig(*a))
    a = np.random.default_rng(7).random((64, 64, 66))  # >= 2**18 cells: threads are allowed
    one = persistence_diagrams(a, jobs=1)
    two = te.persistence_diagram(a, dim=1, jobs=2)
    assert seen == [1, 2]
    assert_same_diagrams({1: one[1]}, {1: two})


def test_regularity_table_is_the_acyclic_lower_link():
    """The table that picks the regular centers (lazy stars) says "regular" exactly when the
    lower link has the homology of a point (naive Z/2 ranks), on random lower neighbourhoods
    of every density, looked up as ``_stars`` does."""
    from topoeval._kernels._gradient import _block_tables, star_table

    _, _, by_nnz, _, _, _, _, vmask = _block_tables(3, 3)
    table = star_table()
    offsets = [(q // 9 - 1, (q // 3) % 3 - 1, q % 3 - 1) for q in range(27)]
    rng = np.random.default_rng(3)
    seen = {True: 0, False: 0}
    for density in (0.15, 0.3, 0.5, 0.7, 0.85):
        for _ in range(300):
            bits = rng.random(27) < density
            bits[13] = False
            lower = sum(1 << q for q in range(27) if bits[q])
            link = sum(1 << (t - 1) for t in range(1, 19) if vmask[by_nnz[t]] & ~lower == 0)
            cubes = sum(1 for t in range(19, 27) if vmask[by_nnz[t]] & ~lower == 0)
            regular = (int(table[link >> 4]) >> ((link & 15) << 2)) & 15 == cubes + 1
            assert regular == naive_lower_link_acyclic({offsets[q] for q in range(27) if bits[q]}), lower
            seen[regular] += 1
    assert min(seen.values()) > 100  # both answers are tested


@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_sandwich_lazy_stars_equal_the_whole_gradient(connectivity):
    """Regular centers left to be completed on demand (classify) give the same critical
    cells, the same centers' codes, the same written cells and the same pairs as the whole
    gradient; a regular star has no critical cell (ProcessLowerStars is perfect in 3-D)."""
    from scipy.ndimage import gaussian_filter

    from topoeval._kernels._gradient import clear_positive, critical_cells, negative_saddles, saddle_pairs
    from topoeval.persistence.cubical import _sandwich_gradient

    rng = np.random.default_rng(7)
    pad = connectivity == "full"
    fields = [gaussian_filter(rng.standard_normal((14, 12, 13)), 2.0), rng.integers(0, 3, size=(7, 6, 8)) * 1.0,
              np.round(gaussian_filter(rng.standard_normal((10, 11, 9)), 1.5), 1)]
    for a in fields:
        out = {}
        for lazy in (False, True):
            code, rank, kshape, complete = _sandwich_gradient(a, pad, 1, lazy)
            assert complete is (not lazy)
            cells1, keys1 = critical_cells(code, rank, kshape, pad, 1)
            cells2, keys2 = critical_cells(code, rank, kshape, pad, 2)
            pos = clear_positive(cells2, code, rank, kshape, pad, complete)
            neg = negative_saddles(cells1, code, kshape, pad)
            pairs = saddle_pairs(code, rank, kshape, pad, cells2, keys1, pos, neg)
            out[lazy] = (code.copy(), cells1, keys1, cells2, keys2, pos, neg, *pairs)
        whole, lazy = out[False], out[True]
        assert (whole[0] != 7).all()
        written = lazy[0] != 7
        np.testing.assert_array_equal(lazy[0][written], whole[0][written])
        for x, y in zip(lazy[1:], whole[1:]):
            np.testing.assert_array_equal(x, y)

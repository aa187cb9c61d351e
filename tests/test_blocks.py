"""Block-decomposed persistence (topoeval.persistence.blocks): bit for bit the monolithic diagram."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from topoeval.errors import InvalidInputError, InvalidOptionError, NonFiniteError
from topoeval.persistence import persistence_diagram
from topoeval.persistence.blocks import block_diagram, merge_tree, parse_size

from .naive import naive_by_birth_death, naive_kruskal_pairs, naive_persistence_pairs


def assert_identical(got, ref):
    assert got.filtration == ref.filtration and got.shape == ref.shape
    np.testing.assert_array_equal(got.births, ref.births)
    np.testing.assert_array_equal(got.deaths, ref.deaths)
    np.testing.assert_array_equal(got.birth_index, ref.birth_index)
    np.testing.assert_array_equal(got.death_index, ref.death_index)
    assert got.births.dtype == np.float64 and got.birth_index.dtype == np.int64


def mono(a, **kw):
    return persistence_diagram(a, jobs=1, **kw)


@st.composite
def field_and_blocks(draw, min_d=1, nan=True):
    d = draw(st.integers(min_d, 5))
    max_side = {1: 30, 2: 9, 3: 5, 4: 4, 5: 3}[d]
    shape = tuple(draw(st.lists(st.integers(1, max_side), min_size=d, max_size=d)))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    levels = draw(st.sampled_from([2, 4, 1000]))  # few levels: many ties
    a = rng.integers(0, levels, size=shape).astype(np.float64)
    if nan and draw(st.booleans()):
        a[rng.random(shape) < 0.2] = np.nan
    blocks = tuple(draw(st.integers(1, n + 1)) for n in shape)  # 1 cell thick .. one block
    return a, blocks


@given(
    fb=field_and_blocks(),
    filtration=st.sampled_from(["sublevel", "superlevel"]),
    connectivity=st.sampled_from(["full", "face"]),
    keep_zero=st.booleans(),
    jobs=st.integers(1, 3),
)
def test_hypothesis_identical_to_monolithic(fb, filtration, connectivity, keep_zero, jobs):
    a, blocks = fb
    kw = dict(filtration=filtration, connectivity=connectivity, nan_policy="omit", keep_zero=keep_zero)
    assert_identical(persistence_diagram(a, jobs=jobs, block_shape=blocks, **kw), mono(a, **kw))


@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_matches_naive_reference(filtration, connectivity):
    rng = np.random.default_rng(18)
    for _ in range(6):
        a = rng.integers(0, 3, size=(5, 6)).astype(float)
        dgm = persistence_diagram(a, block_shape=(2, 3), filtration=filtration, connectivity=connectivity,
                                  keep_zero=True)
        ref = naive_persistence_pairs(a, filtration, connectivity, keep_zero=True)
        assert [tuple(r) for r in np.asarray(dgm).tolist()] == [(b, d) for b, d, _, _ in ref]
        assert [tuple(x) for x in dgm.birth_index.tolist()] == [b for _, _, b, _ in ref]


@pytest.mark.parametrize("shape,blocks", [
    ((64, 80), (1, 80)), ((64, 80), (64, 1)), ((64, 80), (7, 13)), ((64, 80), (64, 80)),
    ((17, 19, 23), (4, 5, 6)), ((17, 19, 23), (1, 19, 23)), ((1, 40, 1, 30), (1, 7, 1, 9)),
])
@pytest.mark.parametrize("jobs", [1, 3])
def test_larger_fields_threads(shape, blocks, jobs):
    rng = np.random.default_rng(7)
    noise = rng.standard_normal(shape)
    quant = np.round(noise * 2) / 2  # ties
    for a in (noise, quant):
        for filt in ("sublevel", "superlevel"):
            assert_identical(persistence_diagram(a, jobs=jobs, block_shape=blocks, filtration=filt),
                             mono(a, filtration=filt))


def test_default_jobs_take_blocks_for_big_arrays():
    a = np.random.default_rng(3).standard_normal((1024, 1024)).astype(np.float32)
    assert_identical(persistence_diagram(a, jobs=2), mono(a))


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int16", "int64", "float16", "float32"])
def test_dtypes(dtype):
    a = (np.random.default_rng(5).standard_normal((12, 11)) * 3).astype(dtype)
    assert_identical(persistence_diagram(a, block_shape=(5, 4)), mono(a))


# ------------------------------------------------------------------ input kinds
def _inputs(kind, a, blocks, tmp_path):
    if kind == "ndarray":
        return a
    if kind == "memmap":
        m = np.lib.format.open_memmap(tmp_path / "a.npy", mode="w+", dtype=a.dtype, shape=a.shape)
        m[...] = a
        m.flush()
        return np.load(tmp_path / "a.npy", mmap_mode="r")
    if kind == "h5py":
        h5py = pytest.importorskip("h5py")
        f = h5py.File(tmp_path / "a.h5", "w")
        f.create_dataset("x", data=a, chunks=tuple(min(b, n) for b, n in zip(blocks, a.shape)))
        return f["x"]
    if kind == "zarr":
        zarr = pytest.importorskip("zarr")
        z = zarr.zeros(a.shape, dtype=a.dtype, chunks=blocks)
        z[...] = a
        return z
    if kind == "open_array":
        from topoeval.io import open_array

        np.save(tmp_path / "b.npy", a)
        return open_array(str(tmp_path / "b.npy"))
    da = pytest.importorskip("dask.array")
    return da.from_array(a, chunks=blocks)


@pytest.mark.parametrize("kind", ["ndarray", "memmap", "h5py", "zarr", "open_array", "dask"])
@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
def test_input_kinds(kind, filtration, tmp_path):
    rng = np.random.default_rng(11)
    a = rng.integers(0, 5, size=(9, 7, 5)).astype(np.float32)
    a[rng.random(a.shape) < 0.1] = np.nan
    for blocks in [(1, 7, 5), (4, 3, 2), (9, 7, 5)]:
        where = tmp_path / "_".join(map(str, blocks))
        where.mkdir()
        src = _inputs(kind, a, blocks, where)
        for conn in ("full", "face"):
            kw = dict(filtration=filtration, connectivity=conn, nan_policy="omit")
            bs = None if kind == "dask" else blocks
            assert_identical(persistence_diagram(src, block_shape=bs, jobs=2, **kw), mono(a, **kw))


class CountingArray:
    """shape, dtype, slicing - and a record of every read (to prove nothing is read whole)."""

    def __init__(self, a):
        self.a, self.shape, self.dtype, self.reads = a, a.shape, a.dtype, []

    def __getitem__(self, key):
        out = self.a[key]
        self.reads.append(out.size)
        return out


def test_lazy_input_is_read_a_block_at_a_time():
    a = np.random.default_rng(2).standard_normal((40, 30))
    src = CountingArray(a)
    dgm = block_diagram(src, "sublevel", "full", "raise", False, block_shape=(10, 30), jobs=2)
    assert_identical(dgm, mono(a))
    assert max(src.reads) == 300 and sum(src.reads) == a.size


def test_memory_limit_chooses_blocks_and_stays_exact():
    a = np.random.default_rng(4).standard_normal((300, 200))
    src = CountingArray(a)
    dgm = block_diagram(src, "superlevel", "full", "raise", False, memory_limit="20MB", jobs=1)
    assert_identical(dgm, mono(a, filtration="superlevel"))
    src2 = CountingArray(a)
    block_diagram(src2, "sublevel", "full", "raise", False, memory_limit=10_000_000, jobs=1)
    assert len(src2.reads) > 1 and max(src2.reads) < a.size  # the limit forced several blocks


def test_memory_limit_too_small_names_the_smallest():
    a = np.zeros((200, 3000))
    with pytest.raises(InvalidOptionError, match="smallest workable limit is about"):
        persistence_diagram(a, memory_limit="100kB")
    with pytest.raises(InvalidOptionError, match="too small for block_shape"):
        persistence_diagram(a, block_shape=(200, 3000), memory_limit="1MB")


def test_pairs_beyond_their_budget_go_to_disk_and_stay_exact(monkeypatch):
    from topoeval.persistence import blocks, glue

    spilled = []
    real = glue.PairStore._spill

    def spill(self):
        spilled.append(self.held)
        real(self)

    monkeypatch.setattr(glue.PairStore, "_spill", spill)
    monkeypatch.setattr(blocks, "pair_budget", lambda limit: 1000)  # every part beyond 1 kB: to the file
    a = np.random.default_rng(14).standard_normal((120, 90)).astype(np.float32)
    for filtration in ("sublevel", "superlevel"):
        got = block_diagram(a, filtration, "full", "raise", False, block_shape=(17, 40), jobs=2)
        assert_identical(got, mono(a, filtration=filtration))
    assert len(spilled) > 4
    got = block_diagram(a, "sublevel", "face", "omit", True, block_shape=(30, 90), jobs=1, top=True)
    ref = persistence_diagram(a, connectivity="face", keep_zero=True, dim=1)
    assert np.array_equal(got.births, ref.births) and np.array_equal(got.death_index, ref.death_index)


def test_pair_store_hands_parts_back_in_order():
    from topoeval.persistence.glue import PairStore

    rng = np.random.default_rng(15)
    parts = [(rng.standard_normal(n).astype(dt), rng.integers(0, 99, n), rng.standard_normal(n), rng.integers(-1, 99, n))
             for n, dt in ((5, np.float32), (0, np.float64), (7, np.float64), (3, np.float32))]
    store = PairStore(budget=200)  # the first two parts fit, the third one spills all
    for p in parts:
        store.add(p)
    assert store.count == 15 and store.spilled == 12 and store.held == sum(x.nbytes for x in parts[3])
    got = list(store.take())
    store.close()
    want = [p for p in parts if len(p[0])]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(g, w))
    assert store.parts == []


def test_memory_limit_too_small_for_the_pairs_names_the_smallest(monkeypatch):
    from topoeval.persistence import blocks

    a = np.random.default_rng(16).standard_normal((60, 60))
    n = len(mono(a))
    monkeypatch.setattr(blocks, "assembly_bytes", lambda m, ndim: m * 10**6)  # as if each pair took 1 MB
    with pytest.raises(InvalidOptionError, match=f"it has {n} pairs.*smallest workable limit is about"):
        block_diagram(a, "sublevel", "full", "raise", False, memory_limit="50MB", jobs=1)
    assert len(block_diagram(a, "sublevel", "full", "raise", False, jobs=1)) == n  # no explicit limit: no check


def test_block_shape_keeps_whole_chunks():
    from topoeval.persistence.blocks import choose_block_shape

    for limit in (3e9, 1.5e9, 1e9):
        bs = choose_block_shape((1024, 1024, 1024), 4, "full", 2, int(limit), [64, 64, 64])
        assert all(b % 64 == 0 for b in bs), bs
    assert choose_block_shape((100, 50), 8, "full", 1, 10**9, [64, 64]) == (100, 50)


def test_option_errors():
    a = np.zeros((4, 4))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidOptionError, match="jobs="):
            persistence_diagram(a, jobs=bad)
    for bad in ((2,), (0, 2), "x"):
        with pytest.raises(InvalidOptionError, match="block_shape"):
            persistence_diagram(a, block_shape=bad)
    for bad in ("lots", "-3GB", 0):
        with pytest.raises(InvalidOptionError, match="memory_limit"):
            persistence_diagram(a, memory_limit=bad)
    with pytest.raises(InvalidOptionError, match="at most 268435456"):
        persistence_diagram(np.broadcast_to(np.float32(0), (70000, 70000)), block_shape=(70000, 70000))
    assert parse_size("3GB") == 3 * 10**9 and parse_size("512MiB") == 512 * 2**20
    assert parse_size("1.5 gb") == 1_500_000_000 and parse_size(1024) == 1024


def test_not_sliceable_says_so():
    class Opaque:
        shape, dtype = (4, 4), np.dtype("f8")

    with pytest.raises(InvalidInputError, match="cannot be sliced"):
        block_diagram(Opaque(), "sublevel", "full", "raise", False)


@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
def test_nan_raise_names_the_first_cell(filtration):
    a = np.arange(30.0).reshape(5, 6)
    a[3, 1] = np.nan
    a[1, 4] = np.inf
    with pytest.raises(NonFiniteError) as ref:
        mono(a, filtration=filtration)
    for src in (a, CountingArray(a)):
        with pytest.raises(NonFiniteError) as got:
            block_diagram(src, filtration, "full", "raise", False, block_shape=(2, 2))
        assert str(got.value) == str(ref.value)


@given(st.integers(0, 40), st.integers(1, 3), st.integers(0, 2**31))
def test_permute_pairs_in_place_is_fancy_indexing(m, d, seed):
    """The in-place cycle walk that orders the pairs of dimension d-1 equals ``x[perm]`` and
    leaves ``perm`` as it was (identity, fixed points, long cycles); so does the copy."""
    from topoeval.persistence._block_kernels import permute_pairs, take_pairs

    rng = np.random.default_rng(seed)
    perm = rng.permutation(m).astype(np.int64) if seed % 3 else np.arange(m, dtype=np.int64)
    births, deaths = rng.normal(size=m), rng.normal(size=m)
    bidx, didx = rng.integers(-1, 9, size=(m, d)), rng.integers(-1, 9, size=(m, d))
    want = births[perm], deaths[perm], bidx[perm], didx[perm]
    kept = perm.copy()
    copied = take_pairs(perm, births, deaths, bidx, didx)
    permute_pairs(perm, births, deaths, bidx, didx)
    for got, cop, ref in zip((births, deaths, bidx, didx), copied, want):
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(cop, ref)
    np.testing.assert_array_equal(perm, kept)


@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
def test_by_birth_death_in_place_or_copied_is_the_stable_lexsort(filtration):
    """Both ways of ordering the pairs of dimension d-1 (in place where the budget cannot hold
    a copy) give the order of a stable lexsort by (birth, death), ties kept."""
    from topoeval.persistence.diagram import Diagram
    from topoeval.persistence.glue import by_birth_death

    rng = np.random.default_rng(5)
    m = 500
    births, deaths = rng.integers(0, 6, m).astype(float), rng.integers(0, 6, m).astype(float)
    bidx, didx = np.arange(2 * m).reshape(m, 2), rng.integers(0, 9, size=(m, 2))
    sign = -1 if filtration == "superlevel" else 1
    order = np.lexsort((sign * deaths, sign * births))
    for in_place in (False, True):
        dgm = Diagram._new(births.copy(), deaths.copy(), bidx.copy(), didx.copy(), filtration, (9, 9), 1)
        out = by_birth_death(dgm, in_place=in_place)
        assert (out is dgm) == in_place
        for got, ref in zip((out.births, out.deaths, out.birth_index, out.death_index), (births, deaths, bidx, didx)):
            np.testing.assert_array_equal(got, ref[order])


def test_merge_tree_is_post_order_binary():
    tree = merge_tree([[0, 2, 4, 6], [0, 5, 9]])
    leaves = [t for t in tree if t[0] == "leaf"]
    assert len(leaves) == 6 and len(tree) == 11 and tree[-1][0] == "merge"
    for t, task in enumerate(tree):
        if task[0] == "merge":
            assert task[1] < t and task[2] < t


def test_reduce_graph_matches_naive_kruskal():
    from topoeval.persistence._block_kernels import reduce_graph

    rng = np.random.default_rng(9)
    for _ in range(50):
        n = int(rng.integers(1, 12))
        kv = rng.integers(0, 4, size=n).astype(float)
        kf = rng.permutation(n).astype(np.int64)
        born = (rng.random(n) < 0.6).astype(np.uint8)
        m = int(rng.integers(0, 20))
        ea, eb = rng.integers(0, n, size=m), rng.integers(0, n, size=m)
        # an edge's key is not below either end's: take the later end, or a later extra key
        ekv = np.maximum(kv[ea], kv[eb]) + rng.integers(0, 2, size=m)
        ekf = rng.integers(0, 100, size=m) + 1000
        srt = np.lexsort((ekf, ekv))
        ea, eb, ekv, ekf = ea[srt], eb[srt], ekv[srt], ekf[srt]
        fb, fe, keep, *_ = reduce_graph(kv, kf, born, np.zeros(n, np.uint8), ea, eb)
        got = sorted((int(b), int(e)) for b, e in zip(fb, fe))
        assert keep.shape[0] == 0
        assert got == naive_kruskal_pairs(kv, kf, born, ea, eb)


# ------------------------------------------------------------------ Dask
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_dask_array_on_a_local_cluster(client):
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(21)
    a = np.round(rng.standard_normal((30, 26, 4)), 1)
    x = da.from_array(a, chunks=(7, 13, 3))
    for filt in ("sublevel", "superlevel"):
        assert_identical(persistence_diagram(x, filtration=filt), mono(a, filtration=filt))


def test_dask_file_reader_on_a_local_cluster(client, tmp_path):
    from topoeval.persistence.lazy import FileOpener

    a = np.random.default_rng(22).standard_normal((33, 20))
    np.save(tmp_path / "f.npy", a)
    opener = FileOpener(str(tmp_path / "f.npy"))
    dgm = block_diagram(opener, "sublevel", "face", "raise", False, block_shape=(8, 7), scheduler=client)
    assert_identical(dgm, mono(a, connectivity="face"))


# ------------------------------------------------------------------ CLI
def _cli(capsys, *args):
    from topoeval.cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_diagram_lazy_jobs_memory_limit(tmp_path, capsys):
    h5py = pytest.importorskip("h5py")
    a = np.round(np.random.default_rng(30).standard_normal((60, 50, 8)), 2).astype(np.float32)
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f.create_dataset("orig", data=a, chunks=(8, 50, 8))
    np.save(tmp_path / "f.npy", a)
    ref = tmp_path / "ref.csv"
    assert _cli(capsys, "diagram", tmp_path / "f.npy", "--filtration", "both", "-j", "1", "-o", ref)[0] == 0
    for extra in (["--memory-limit", "12MB", "-j", "2"], ["-j", "3"]):
        out = tmp_path / f"out{len(extra)}.csv"
        code, _, err = _cli(capsys, "diagram", f"{tmp_path / 'f.h5'}:/orig", "--filtration", "both", *extra, "-o", out)
        assert code == 0, err
        assert out.read_bytes() == ref.read_bytes()
    code, _, err = _cli(capsys, "diagram", f"{tmp_path / 'f.h5'}:/orig", "--memory-limit", "10kB")
    assert code == 2 and "smallest workable limit" in err and "Traceback" not in err
    code, _, err = _cli(capsys, "diagram", f"{tmp_path / 'f.h5'}:/orig", "--memory-limit", "lots")
    assert code == 2 and "is not a size" in err


def test_dask_dying_worker_is_a_clear_error():
    pytest.importorskip("distributed")
    from topoeval.errors import TopoevalIOError

    from .dying import dying_array, dying_worker_client

    with dying_worker_client() as c:
        with pytest.raises(TopoevalIOError, match="Dask worker died"):
            block_diagram(dying_array(), "sublevel", "full", "raise", False, block_shape=(4, 8), scheduler=c)


@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_cross_edges_are_every_adjacent_pair_in_key_order(connectivity):
    """The glue's cross edges (made in key order, never sorted) against a brute-force scan."""
    from topoeval.persistence._block_kernels import cross_edges_sorted

    rng = np.random.default_rng(11)
    for _ in range(30):
        d = int(rng.integers(1, 4))
        gshape = tuple(int(rng.integers(2, 6)) for _ in range(d))
        axis = int(rng.integers(0, d))
        c = int(rng.integers(1, gshape[axis]))
        cells = np.arange(int(np.prod(gshape)))
        x = np.stack(np.unravel_index(cells, gshape), axis=1)
        # some cells of each side, among them (maybe) some interface cells
        lsel = cells[(x[:, axis] < c) & (rng.random(cells.size) < 0.7)]
        rsel = cells[(x[:, axis] >= c) & (rng.random(cells.size) < 0.7)]
        flat = np.concatenate([rng.permutation(lsel), rng.permutation(rsel)]).astype(np.int64)
        kv = rng.integers(0, 3, size=flat.size).astype(float)  # many ties
        nl = lsel.size
        outer, xa, xb, xk = cross_edges_sorted(kv, flat, nl, axis, c, np.zeros(d, np.int64),
                                               np.array(gshape, np.int64), np.array(gshape, np.int64),
                                               connectivity == "full")
        xs = np.stack(np.unravel_index(flat, gshape), axis=1)
        want = set()
        for a in range(nl):
            for b in range(nl, flat.size):
                diff = np.abs(xs[a] - xs[b])
                if xs[a][axis] != c - 1 or xs[b][axis] != c:
                    continue
                if (diff.max() <= 1) if connectivity == "full" else (diff.sum() == 1):
                    want.add((a, b))
        assert set(zip(xa.tolist(), xb.tolist())) == want and len(want) == xa.size
        later = [a if (kv[a], flat[a]) > (kv[b], flat[b]) else b for a, b in zip(xa, xb)]
        assert list(xk) == later
        keys = list(zip(kv[xk], flat[xk]))
        assert keys == sorted(keys)
        assert not outer.any()  # the box is the whole array: no outer faces


# ------------------------------------------------------------------ dimension d-1 (duality)
def assert_same_dim(got, ref):
    assert_identical(got, ref)
    assert got.dim == ref.dim


@given(
    fb=field_and_blocks(min_d=2, nan=False),
    filtration=st.sampled_from(["sublevel", "superlevel"]),
    connectivity=st.sampled_from(["full", "face"]),
    keep_zero=st.booleans(),
    jobs=st.integers(1, 3),
)
def test_hypothesis_top_dimension_identical_to_monolithic(fb, filtration, connectivity, keep_zero, jobs):
    a, blocks = fb
    top = max(0, sum(s > 1 for s in a.shape) - 1)
    kw = dict(dim=top, filtration=filtration, connectivity=connectivity, keep_zero=keep_zero)
    assert_same_dim(persistence_diagram(a, jobs=jobs, block_shape=blocks, **kw), mono(a, **kw))


@pytest.mark.parametrize("shape,blocks", [
    ((64, 80), (1, 80)), ((64, 80), (64, 1)), ((64, 80), (7, 13)), ((17, 19, 23), (4, 5, 6)),
    ((17, 19, 23), (17, 1, 23)), ((1, 40, 1, 30), (1, 7, 1, 9)), ((6, 7, 5, 6), (2, 3, 5, 4)),
])
def test_top_dimension_larger_fields(shape, blocks):
    rng = np.random.default_rng(19)
    noise = rng.standard_normal(shape)
    for a in (noise, np.round(noise * 2) / 2):
        top = sum(s > 1 for s in shape) - 1
        for filt, conn in (("sublevel", "full"), ("superlevel", "face"), ("sublevel", "face")):
            kw = dict(dim=top, filtration=filt, connectivity=conn)
            assert_same_dim(persistence_diagram(a, jobs=3, block_shape=blocks, **kw), mono(a, **kw))


def test_top_dimension_matches_gudhi_through_blocks():
    gudhi = pytest.importorskip("gudhi")
    rng = np.random.default_rng(5)
    for shape in ((7, 9), (4, 5, 6)):
        a = rng.integers(0, 4, size=shape).astype(float)
        top = len(shape) - 1
        for conn, kw in (("full", "top_dimensional_cells"), ("face", "vertices")):
            cc = gudhi.CubicalComplex(**{kw: a})
            cc.compute_persistence()
            want = sorted(map(tuple, cc.persistence_intervals_in_dimension(top).tolist()))
            dgm = persistence_diagram(a, dim=top, connectivity=conn, block_shape=(2,) * len(shape), keep_zero=True)
            got = sorted(map(tuple, np.asarray(dgm).tolist()))
            assert [g for g in got if g[0] != g[1]] == [w for w in want if w[0] != w[1]]


@pytest.mark.parametrize("kind", ["memmap", "h5py", "zarr", "open_array", "dask"])
def test_top_dimension_input_kinds(kind, tmp_path):
    rng = np.random.default_rng(23)
    a = rng.integers(0, 6, size=(9, 7, 5)).astype(np.float32)
    for blocks in [(1, 7, 5), (4, 3, 2)]:
        where = tmp_path / "_".join(map(str, blocks))
        where.mkdir()
        src = _inputs(kind, a, blocks, where)
        for filt in ("sublevel", "superlevel"):
            for conn in ("full", "face"):
                kw = dict(dim=2, filtration=filt, connectivity=conn)
                bs = None if kind == "dask" else blocks
                assert_same_dim(persistence_diagram(src, block_shape=bs, jobs=2, **kw), mono(a, **kw))
    # without block_shape a lazy input is still read a block at a time
    src = CountingArray(a.astype(np.float64))
    assert_same_dim(persistence_diagram(src, dim=2, memory_limit="20MB", jobs=1), mono(a, dim=2))


def test_top_dimension_big_array_with_threads_takes_blocks(monkeypatch):
    from topoeval.persistence import blocks

    calls = []
    real = blocks.block_diagram
    monkeypatch.setattr(blocks, "block_diagram", lambda *a, **k: calls.append(k) or real(*a, **k))
    a = np.random.default_rng(6).standard_normal((1024, 1024)).astype(np.float32)
    assert_same_dim(persistence_diagram(a, dim=1, jobs=2), mono(a, dim=1))
    assert calls and calls[0]["top"] is True


def test_other_dimensions_of_lazy_inputs(tmp_path):
    rng = np.random.default_rng(8)
    a = rng.standard_normal((6, 5, 4))
    src = CountingArray(a)
    with pytest.raises(InvalidInputError, match="dimension 1 of a 3-D lazy input .* dim=0 or dim=2"):
        persistence_diagram(src, dim=1, memory_limit="1GB")
    assert src.reads == []  # refused before anything is read
    with pytest.raises(InvalidInputError, match="needs the whole cubical complex in memory"):
        persistence_diagram(_inputs("h5py", a, (3, 5, 4), tmp_path), dim=1)
    # an in-memory array: the middle dimension is reduced whole, the block options unused
    assert_same_dim(persistence_diagram(a, dim=1, block_shape=(2, 2, 2), jobs=2), mono(a, dim=1))
    # axes of length 1: no cells of the higher dimensions
    thin = CountingArray(rng.standard_normal((1, 6, 5)))
    assert len(persistence_diagram(thin, dim=2, jobs=1, block_shape=(1, 3, 3))) == 0
    assert_same_dim(persistence_diagram(thin, dim=1, block_shape=(1, 3, 3)), mono(thin.a, dim=1))
    # a NumPy integer 0 is dimension 0 (blocks and all), also of a 1-D input
    assert_same_dim(persistence_diagram(src, dim=np.int64(0), block_shape=(3, 3, 3)), mono(a))
    line = np.random.default_rng(9).standard_normal(50)
    assert_same_dim(persistence_diagram(CountingArray(line), dim=np.int64(0), block_shape=(7,)), mono(line))
    for bad in (3, -1, [2]):
        with pytest.raises(InvalidOptionError, match="dim"):
            persistence_diagram(src, dim=bad, block_shape=(3, 3, 3))
    with pytest.raises(InvalidOptionError, match="only available with dim=0"):
        persistence_diagram(src, dim=2, nan_policy="omit", block_shape=(3, 3, 3))


@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
def test_top_dimension_nonfinite_raises_like_monolithic(filtration):
    a = np.arange(30.0).reshape(5, 6)
    a[3, 1] = np.nan
    with pytest.raises(NonFiniteError) as ref:
        mono(a, dim=1, filtration=filtration)
    for src in (a, CountingArray(a)):
        with pytest.raises(NonFiniteError) as got:
            persistence_diagram(src, dim=1, filtration=filtration, block_shape=(2, 2))
        assert "only dimension 0 takes nan_policy='omit'" in str(got.value)
    with pytest.raises(NonFiniteError) as got:
        persistence_diagram(a, dim=1, filtration=filtration, block_shape=(2, 2))
    assert str(got.value) == str(ref.value)


def test_top_dimension_on_a_local_cluster(client):
    da = pytest.importorskip("dask.array")
    a = np.round(np.random.default_rng(24).standard_normal((30, 26, 4)), 1)
    x = da.from_array(a, chunks=(7, 13, 3))
    for filt in ("sublevel", "superlevel"):
        assert_same_dim(persistence_diagram(x, dim=2, filtration=filt), mono(a, dim=2, filtration=filt))


def test_sorted_by_key_natural_runs_and_shuffled():
    """The glue's key sort (natural merge of ascending runs, argsort when the runs are many)."""
    from topoeval.persistence._block_kernels import _sorted_by_key

    rng = np.random.default_rng(31)
    for m, runs in [(0, 1), (1, 1), (7, 1), (500, 2), (1001, 3), (4000, 65), (300, 300), (5000, 5000)]:
        kv = rng.integers(0, 5, size=m).astype(float)  # ties on the value, distinct flats
        kf = rng.permutation(10 * m + 1)[:m].astype(np.int64)
        cuts = np.sort(rng.choice(np.arange(1, max(m, 2)), size=min(runs - 1, max(m - 1, 0)), replace=False))
        for piece in np.split(np.arange(m), cuts):  # make each piece one ascending run
            o = piece[np.lexsort((kf[piece], kv[piece]))]
            kv[piece], kf[piece] = kv[o], kf[o]
        np.testing.assert_array_equal(_sorted_by_key(kv, kf), np.lexsort((kf, kv)))


@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
def test_by_birth_death_is_the_stable_lexsort(filtration):
    from topoeval.persistence.diagram import Diagram
    from topoeval.persistence.glue import by_birth_death

    rng = np.random.default_rng(41)
    for m in (0, 1, 2, 50, 3000):
        b = rng.integers(-3, 3, size=m).astype(float)
        b[rng.random(m) < 0.1] = -0.0  # -0.0 and 0.0 are one value
        d = b + rng.integers(0, 3, size=m) * (1 if filtration == "sublevel" else -1)
        idx = rng.integers(0, 100, size=(m, 2))
        dgm = Diagram._new(b, d, idx, idx[::-1].copy(), filtration, (100, 100), 1)
        want, got = naive_by_birth_death(dgm), by_birth_death(dgm)
        for k in ("births", "deaths", "birth_index", "death_index"):
            np.testing.assert_array_equal(getattr(got, k), getattr(want, k))

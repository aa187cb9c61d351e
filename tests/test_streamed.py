"""The streamed compare on Dask (issue 18 point 6) and its block alignment: every result equals
the in-memory compare (counts, diagrams and distances exactly, sums to 1e-12), the workers read
their own rows, a dying worker is a clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest

import topoeval as te
from topoeval.errors import InvalidInputError, TopoevalIOError

from .test_compare import _assert_same, _Recording

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _pair(shape, seed):
    rng = np.random.default_rng(seed)
    x = np.round(np.cumsum(rng.normal(size=shape), axis=0), 1)  # ties from the rounding
    return x, np.round(x * 2) / 2


def _files(tmp_path, shape, seed):
    """The pair saved as x.npy and y.npy; returns their paths."""
    paths = tmp_path / "x.npy", tmp_path / "y.npy"
    for p, a in zip(paths, _pair(shape, seed)):
        np.save(p, a)
    return paths


def test_pointwise_blocks_straddling_slabs_are_the_in_memory_blocks():
    """Slabs of 700,000 cells: the 2**20-value blocks of the one-pass accumulators straddle them."""
    x, y = _pair((3, 700, 1000), 1)
    memory = te.pointwise_metrics(x, y)
    X, Y = _Recording(x), _Recording(y)
    for rows in (1, 2):
        got = te.compare(X, Y, metrics="pointwise", block_shape=(rows, 700, 1000)).pointwise
        assert got == {k: memory[k] for k in got}  # bit for bit
    assert max(X.largest, Y.largest) <= 3 * 700 * 1000


@pytest.mark.parametrize("filtration", ["sublevel", "both"])
def test_dask_compare_equals_in_memory(client, tmp_path, filtration):
    x, y = _pair((37, 23, 5), 2)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    kw = dict(filtration=filtration, order=2.0, weights=[1, 2, 0])
    memory = te.compare(x, y, **kw)
    stages = []
    got = te.compare(str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), scheduler=client, block_shape=(6, 23, 5),
                     progress=lambda *a: stages.append(a), **kw)
    _assert_same(got, memory)
    assert ("blocks", 7, 7) in stages and any(s[0].startswith("persistence") for s in stages)
    # the same on the threads of this process, and from dask arrays (their chunks are the blocks)
    da = pytest.importorskip("dask.array")
    _assert_same(te.compare(_Recording(x), _Recording(y), block_shape=(6, 23, 5), jobs=1, **kw), memory)
    _assert_same(te.compare(da.from_array(x, chunks=(9, 23, 5)), da.from_array(y, chunks=(9, 23, 5)),
                            scheduler=client, **kw), memory)


def test_dask_compare_from_hdf5_with_dtype(client, tmp_path):
    h5py = pytest.importorskip("h5py")
    x, y = _pair((40, 31), 3)
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f.create_dataset("orig", data=x.astype(np.float32), chunks=(8, 31))
        f.create_dataset("recon", data=y.astype(np.float32), chunks=(8, 31))
    for dtype in ("float64", "input"):
        memory = te.compare(x.astype(np.float32), y.astype(np.float32), dtype=dtype, filtration="both")
        got = te.compare(f"{tmp_path / 'f.h5'}:/orig", f"{tmp_path / 'f.h5'}:/recon", dtype=dtype,
                         filtration="both", scheduler=client, memory_limit="20MB")
        _assert_same(got, memory)


def test_dask_compare_refuses_inputs_workers_cannot_read(client, tmp_path):
    x, y = _pair((8, 8), 4)
    with pytest.raises(InvalidInputError, match="file specification"):
        te.compare(x, y, scheduler=client)
    np.save(tmp_path / "x.npy", x)
    with te.open_array(tmp_path / "x.npy") as a:
        with pytest.raises(InvalidInputError, match="cannot be read by Dask workers"):
            te.compare(a, a, scheduler=client)
    bad = x.copy()
    bad[5, 2] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(te.errors.NonFiniteError, match=r"recon .* index \(5, 2\)"):
        te.compare(str(tmp_path / "x.npy"), str(tmp_path / "bad.npy"), scheduler=client, block_shape=(2, 8))


def _cli(capsys, *args):
    from topoeval.cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_compare_scheduler(client, tmp_path, capsys):
    xp, yp = _files(tmp_path, (30, 20), 5)
    code, ref, err = _cli(capsys, "compare", xp, yp, "--format", "json", "-q")
    assert code == 0, err
    code, out, err = _cli(capsys, "compare", xp, yp, "--format", "json", "-q", "--scheduler", client.scheduler.address)
    assert code == 0, err
    want, got = json.loads(ref)["metrics"], json.loads(out)["metrics"]
    assert got["persistence"] == want["persistence"] and got["critical_points"] == want["critical_points"]
    assert got["pointwise"] == want["pointwise"]
    assert got["dsl"]["dsl"] == pytest.approx(want["dsl"]["dsl"], rel=1e-12)
    assert "slabs" in json.loads(out)["elapsed_s"]
    for extra, msg in ((["--report", tmp_path / "r.html", "--scheduler", client.scheduler.address],
                        "need both fields in memory"),
                       (["--dask", "local", "--scheduler", "tcp://x:1"], "not both")):
        code, _, err = _cli(capsys, "compare", xp, yp, *extra)
        assert code == 2 and msg in err and "Traceback" not in err
    code, _, err = _cli(capsys, "compare", "-", yp, "--dask", "local")
    assert code == 2 and "not -" in err


@pytest.mark.slow
def test_cli_dask_local_processes(tmp_path, capsys):
    """`--dask local` (worker processes reading the file themselves) equals the in-memory run."""
    xp, yp = _files(tmp_path, (24, 16), 6)
    code, ref, err = _cli(capsys, "compare", xp, yp, "--format", "csv", "-q")
    assert code == 0, err
    code, out, err = _cli(capsys, "compare", xp, yp, "--format", "csv", "-q", "--dask", "local", "-j", "1",
                          "--metrics", "pointwise,persistence,critical_points")
    assert code == 0, err
    rows = [dict(zip(*(line.split(",") for line in text.splitlines()))) for text in (ref, out)]
    assert {k: v for k, v in rows[0].items() if k in rows[1]} == rows[1]


def test_a_dying_worker_is_a_clear_error():
    """A slab task that kills its worker process is a TopoevalIOError, not a hang (one worker
    process without a nanny: tests/dying.py says why that is deterministic)."""
    from .dying import dying_array, dying_worker_client

    with dying_worker_client() as c:
        with pytest.raises(TopoevalIOError, match="Dask worker died while computing the slab parts"):
            te.compare(dying_array(), dying_array(), scheduler=c, metrics="pointwise")


# ---------------------------------------------------------------- dims streamed (issue 19 point 5)
@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_streamed_dims_zero_and_top_equal_in_memory(connectivity):
    """dims 0 and d-1 streamed (the d-1 diagram by the block engine): every row value, diagram
    and matching equal the in-memory compare's; the keys in the in-memory order."""
    x, y = _pair((17, 13, 5), 7)
    for dims, kw in (((0, 2), dict(filtration="both", order=2.0)), ((2,), dict(distance_tolerance=1e-3))):
        memory = te.compare(x, y, dims=dims, connectivity=connectivity, **kw)
        got = te.compare(_Recording(x), _Recording(y), dims=dims, connectivity=connectivity,
                         block_shape=(4, 13, 5), jobs=1, **kw)
        _assert_same(got, memory)
        assert list(got.persistence) == list(memory.persistence)
        assert got.options["dims"] == memory.options["dims"] == dims
        for key, m in memory.matchings.items():
            assert np.array_equal(got.matchings[key], m)
        row, want = got.to_row(), memory.to_row()
        assert [k for k in row if "_dim" in k] == [k for k in want if "_dim" in k]
        assert {k: row[k] for k in row if "_dim" in k} == {k: want[k] for k in want if "_dim" in k}


def test_streamed_dims_all_and_size_one_axes():
    """dims='all' of a 2-D field streamed (0 and 1 both block by block); a 3-D field with an axis
    of length 1: dimension 1 is its top, dimension 2 empty, as in memory."""
    x, y = _pair((23, 19), 8)
    memory = te.compare(x, y, dims="all")
    got = te.compare(_Recording(x), _Recording(y), dims="all", memory_limit="20MB")
    _assert_same(got, memory)
    assert list(got.persistence) == ["sublevel", "sublevel_dim1"] and got.options["dims"] == (0, 1)
    x3, y3 = x.reshape(23, 1, 19), y.reshape(23, 1, 19)
    memory = te.compare(x3, y3, dims="all")
    got = te.compare(_Recording(x3), _Recording(y3), dims="all")
    _assert_same(got, memory)
    assert got.persistence["sublevel_dim2"]["n_points_orig"] == 0 < got.persistence["sublevel_dim1"]["n_points_orig"]


def test_streamed_refuses_middle_dims_before_reading():
    x, y = _pair((6, 5, 4), 9)
    X, Y = _Recording(x), _Recording(y)
    for dims in ("all", (0, 1)):
        with pytest.raises(te.errors.InvalidOptionError, match=r"dimension\(s\) 1 of a 3-D field .* dims='0,2'"):
            te.compare(X, Y, dims=dims)
    with pytest.raises(te.errors.InvalidOptionError, match="homology dimensions 0..2"):
        te.compare(X, Y, dims=(0, 3))
    assert X.largest == Y.largest == 0
    # without the persistence part the dimensions are not used
    te.compare(X, Y, dims=1, metrics="pointwise")


def test_dask_compare_dims_top(client, tmp_path):
    xp, yp = _files(tmp_path, (19, 11, 4), 10)
    x, y = np.load(xp), np.load(yp)
    memory = te.compare(x, y, dims=(0, 2), filtration="both")
    got = te.compare(str(xp), str(yp), dims=(0, 2), filtration="both", scheduler=client, block_shape=(5, 11, 4))
    _assert_same(got, memory)


def test_cli_compare_streamed_dims(tmp_path, capsys):
    xp, yp = _files(tmp_path, (12, 9, 4), 11)
    code, ref, err = _cli(capsys, "compare", xp, yp, "--format", "csv", "-q", "--dims", "0,2")
    assert code == 0, err
    code, out, err = _cli(capsys, "compare", xp, yp, "--format", "csv", "-q", "--dims", "0,2",
                          "--memory-limit", "20MB", "--metrics", "pointwise,persistence")
    assert code == 0, err
    rows = [dict(zip(*(line.split(",") for line in text.splitlines()))) for text in (ref, out)]
    assert "wasserstein_sublevel_dim2" in rows[1]
    assert {k: v for k, v in rows[0].items() if k in rows[1]} == rows[1]
    code, _, err = _cli(capsys, "compare", xp, yp, "--dims", "all", "--memory-limit", "20MB")
    assert code == 2 and "--memory-limit" in err and "--dims 0,2" in err and "Traceback" not in err


def test_streamed_critical_point_positions_equal_in_memory(client, tmp_path):
    """cp_errors of the streamed compare (threads and Dask slab tasks): the positions of every
    error kind equal the in-memory CriticalPointErrors', in C order, and its row."""
    x, y = _pair((21, 9, 4), 12)
    memory = te.compare(x, y, metrics="critical_points")
    xp, yp = _files(tmp_path, (21, 9, 4), 12)
    for got in (te.compare(_Recording(x), _Recording(y), metrics="critical_points", block_shape=(5, 9, 4)),
                te.compare(str(xp), str(yp), metrics="critical_points", scheduler=client, block_shape=(4, 9, 4))):
        assert got.cp_errors.to_row() == got.critical_points == memory.critical_points
        for kind in ("all", "false_negatives", "false_positives", "false_types"):
            assert np.array_equal(got.cp_errors.positions(kind), memory.cp_errors.positions(kind)), kind
        assert len(got.cp_errors.positions()) == memory.critical_points["cp_total_errors"] > 0

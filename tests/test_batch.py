"""Tests of topoeval.batch and `topoeval batch`."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import topoeval as te
from topoeval.batch import BatchResult, batch, executors
from topoeval.batch import run as batch_run
from topoeval.batch.stores import json_safe as _json_safe
from topoeval.errors import (
    DatasetNotFoundError,
    InvalidOptionError,
    MissingDependencyError,
    OutputExistsError,
    ShapeMismatchError,
    TopoevalIOError,
)
from topoeval.metrics import pointwise_metrics

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "batch.h5"


# ---- per-sample functions used by the tests (module level: picklable for worker processes)
def raising_fn(orig, recon, *, bad=3):
    if float(orig.ravel()[0]) == bad:
        raise RuntimeError(f"sample with value {bad} is cursed")
    return {"diff": float(np.abs(orig - recon).max())}


def dying_fn(orig, recon):
    if float(orig.ravel()[0]) == 2.0 and os.getpid() != int(os.environ.get("TE_PARENT", "0")):
        os._exit(3)  # a worker process dies (killed, OOM ...)
    if os.environ.get("TE_LOG"):
        with open(os.environ["TE_LOG"], "a") as fh:
            fh.write(f"{float(orig.ravel()[0])}\n")
    return {"diff": float(np.abs(orig - recon).max())}


def slow_logged_fn(orig, recon, *, log="", delay=0.0):
    """pointwise_metrics, logging each computed sample's first value, optionally slowly."""
    time.sleep(delay)
    with open(log, "a") as fh:
        fh.write(f"{float(orig.ravel()[0])}\n")
    return pointwise_metrics(orig, recon)


def _hold_at_gate(value: float) -> None:
    """Samples from $TE_HOLD on wait until the file $TE_GATE exists, announcing their process in
    $TE_WAITING: a run stopped there has finished exactly the samples below $TE_HOLD."""
    gate = os.environ.get("TE_GATE")
    if gate and value >= float(os.environ["TE_HOLD"]) and not os.path.exists(gate):
        with open(os.environ["TE_WAITING"], "a") as fh:
            fh.write(f"{os.getpid()}\n")
        while not os.path.exists(gate):
            time.sleep(0.01)


def gated_compare(orig, recon, **options):
    """Stands in for compare in the runs stopped by a signal: pointwise metrics, held at the
    gate (see _hold_at_gate), each computed sample logged in $TE_LOG."""
    value = float(orig.ravel()[0])
    _hold_at_gate(value)
    with open(os.environ["TE_LOG"], "a") as fh:
        fh.write(f"{value}\n")
    return pointwise_metrics(orig, recon)


def gated_fn(orig, recon):
    return gated_compare(orig, recon)


def _gate_env(tmp_path, hold=20):
    return {"TE_GATE": str(tmp_path / "gate"), "TE_HOLD": str(hold),
            "TE_WAITING": str(tmp_path / "waiting"), "TE_LOG": str(tmp_path / "log")}


def _lines(path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _wait_until(condition, proc, what: str) -> None:
    """Wait for a condition of the files a child process writes (the deadline only guards a hang)."""
    deadline = time.monotonic() + 180
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.02)


def _gone(pid: int) -> bool:
    """The process no longer exists (or is a zombie: it has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _indexed(path, n=12, shape=(6, 5), recons=("a", "b")):
    """A file whose sample i has value i at position 0 (so functions can tell samples apart)."""
    rng = np.random.default_rng(7)
    orig = rng.random((n, *shape))
    orig.reshape(n, -1)[:, 0] = np.arange(n)
    with h5py.File(path, "w") as f:
        f.create_dataset("orig", data=orig, chunks=(1, *shape))
        for k, name in enumerate(recons):
            f.create_dataset(f"rec/{name}", data=orig + 0.01 * (k + 1) * rng.standard_normal(orig.shape),
                             chunks=(2, *shape))
    return orig


# ---- identical results whichever way it ran
@pytest.mark.slow
def test_serial_pool_and_dask_give_identical_rows(tmp_path):
    pytest.importorskip("dask.distributed")
    serial = batch("/orig", ["/sz3/*", "/zfp/1e-3"], file=SAMPLE, jobs=1)
    pool = batch("/orig", ["/sz3/*", "/zfp/1e-3"], file=SAMPLE, jobs=2)
    dask = batch("/orig", ["/sz3/*", "/zfp/1e-3"], file=SAMPLE, jobs=2, scheduler="local")
    assert serial.recons == ["/sz3/1e-2", "/sz3/1e-3", "/zfp/1e-3"]
    assert len(serial) == 48 and serial.n_failed == 0
    assert pool.rows == serial.rows
    assert dask.rows == serial.rows
    # the rows are compare(...).to_row() of each sample
    with h5py.File(SAMPLE, "r") as f:
        expect = te.compare(f["orig"][5], f["sz3/1e-3"][5]).to_row()
    row = serial.rows[16 + 5]
    assert (row["recon"], row["sample"], row["status"], row["error"]) == ("/sz3/1e-3", 5, "ok", "")
    assert {k: row[k] for k in expect} == expect


def test_existing_dask_cluster_by_address_matches_serial(monkeypatch):
    distributed = pytest.importorskip("dask.distributed")
    kw = dict(file=SAMPLE, metrics="pointwise,dsl,persistence")
    serial = batch("/orig", "/sz3/1e-2", jobs=1, **kw)
    # an in-process cluster (threads): fast to start, and the kernels are already loaded
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        res = batch("/orig", "/sz3/1e-2", scheduler=cluster.scheduler_address, jobs=2, **kw)
    assert res.rows == serial.rows and res.n_ok == 16
    monkeypatch.setattr(executors, "_DASK_CONNECT_TIMEOUT", 1)
    with pytest.raises(TopoevalIOError, match="cannot connect to the Dask scheduler"):
        batch("/orig", "/sz3/1e-2", scheduler="tcp://127.0.0.1:9", **kw)


def test_pool_matches_serial_with_compare_options(tmp_path):
    kw = dict(file=SAMPLE, metrics="pointwise,dsl,persistence", filtration="both")
    serial = batch("/orig", "/zfp/*", jobs=1, **kw)
    pool = batch("/orig", "/zfp/*", jobs=2, **kw)
    assert pool.rows == serial.rows
    assert "wasserstein_superlevel" in serial.metric_names
    assert "cp_false_negatives" not in serial.metric_names
    assert serial.options["filtration"] == "both"
    assert set(serial.columns["opt_filtration"]) == {"both"}


# ---- inputs
def test_shapes_checked_up_front_listing_all_mismatches(tmp_path):
    p = tmp_path / "m.h5"
    with h5py.File(p, "w") as f:
        f["orig"] = np.zeros((4, 5, 5))
        f["ok"] = np.zeros((4, 5, 5))
        f["short"] = np.zeros((3, 5, 5))
        f["wide"] = np.zeros((4, 5, 6))
    calls = []
    with pytest.raises(ShapeMismatchError, match=r"2 reconstruction.*/short \(3, 5, 5\); /wide \(4, 5, 6\)"):
        batch("/orig", ["/ok", "/short", "/wide"], file=p, jobs=1,
              sample_fn=lambda a, b: calls.append(1) or {})
    assert calls == []


def test_other_files_and_missing_datasets(tmp_path):
    orig = _indexed(tmp_path / "a.h5")
    with h5py.File(tmp_path / "b.h5", "w") as f:
        f["x"] = orig + 1.0
    res = batch(f"{tmp_path / 'a.h5'}:/orig", [f"{tmp_path / 'b.h5'}:/x", "/rec/a"],
                file=tmp_path / "a.h5", jobs=1, sample_fn=pointwise_metrics)
    assert res.recons == [f"{tmp_path / 'b.h5'}:/x", "/rec/a"]
    np.testing.assert_allclose(res.columns["max_abs_error"][:12], 1.0)
    with pytest.raises(DatasetNotFoundError, match="matches no dataset.*/orig"):
        batch("/orig", "/nothing/*", file=tmp_path / "a.h5")
    with pytest.raises(DatasetNotFoundError, match="'/rec' in .* is a group"):
        batch("/orig", "/rec", file=tmp_path / "a.h5")
    with pytest.raises(InvalidOptionError, match="no file"):
        batch("/orig", "/rec/a")


def test_in_memory_arrays_and_result_views():
    rng = np.random.default_rng(1)
    orig = rng.random((5, 7))
    res = te.batch(orig, {"half": orig / 2, "same": orig}, jobs=1, sample_fn=pointwise_metrics)
    assert isinstance(res, BatchResult) and len(res) == 10 and res.n_ok == 10
    arr = res.to_numpy()
    assert arr.shape == (10,) and arr["sample"].dtype == np.int64
    np.testing.assert_allclose(arr["max_abs_error"][:5], np.abs(orig / 2).max(axis=1))
    assert list(arr["recon"]) == ["half"] * 5 + ["same"] * 5
    assert arr["mse"][5:].tolist() == [0.0] * 5
    s = res.summary["half"]
    errs = np.abs(orig / 2).max(axis=1)
    assert s["n"] == 5 and s["n_failed"] == 0
    assert s["metrics"]["max_abs_error"]["mean"] == pytest.approx(errs.mean())
    assert s["metrics"]["max_abs_error"]["std"] == pytest.approx(errs.std())
    assert s["metrics"]["max_abs_error"]["max"] == pytest.approx(errs.max())
    df = res.to_pandas()
    assert list(df.columns) == res.column_names and len(df) == 10


# ---- nothing lost
def test_corrupt_sample_is_recorded_and_the_batch_goes_on(tmp_path):
    p = tmp_path / "nan.h5"
    orig = np.random.default_rng(3).random((6, 8, 8))
    recon = orig + 0.01
    recon[2, 3, 4] = np.nan
    with h5py.File(p, "w") as f:
        f["orig"], f["recon"] = orig, recon
    res = batch("/orig", "/recon", file=p, jobs=2, metrics="pointwise,dsl,persistence")
    assert res.columns["status"].tolist() == ["ok", "ok", "failed", "ok", "ok", "ok"]
    err = res.rows[2]["error"]
    assert err.startswith("NonFiniteError") and "1 non-finite" in err
    assert np.isnan(res.columns["mse"][2]) and not np.isnan(res.columns["mse"][[0, 1, 3]]).any()
    assert res.summary["/recon"]["n_failed"] == 1 and res.summary["/recon"]["n_ok"] == 5
    # nan_policy='omit' computes it
    assert batch("/orig", "/recon", file=p, jobs=1, metrics="pointwise", nan_policy="omit").n_failed == 0


@pytest.mark.parametrize("jobs", [1, 2])
def test_unreadable_chunk_fails_only_its_sample(tmp_path, jobs):
    p = tmp_path / "corrupt.h5"
    orig = np.random.default_rng(4).random((8, 16, 16))
    with h5py.File(p, "w") as f:
        f["orig"] = orig
        d = f.create_dataset("recon", data=orig + 0.01, chunks=(1, 16, 16), compression="gzip")
        info = d.id.get_chunk_info(5)  # the compressed bytes of sample 5
    with open(p, "r+b") as fh:
        fh.seek(info.byte_offset)
        fh.write(b"\xff" * info.size)
    res = batch("/orig", "/recon", file=p, jobs=jobs, sample_fn=pointwise_metrics)
    assert res.columns["status"].tolist() == ["ok"] * 5 + ["failed"] + ["ok"] * 2
    assert res.rows[5]["error"].startswith("reading the reconstruction failed: OSError")
    np.testing.assert_allclose(res.columns["max_abs_error"][[0, 1, 2, 3, 4, 6, 7]], 0.01)


@pytest.mark.parametrize("jobs", [1, 2])
def test_worker_raising(tmp_path, jobs):
    _indexed(tmp_path / "a.h5")
    res = batch("/orig", "/rec/*", file=tmp_path / "a.h5", jobs=jobs, sample_fn=raising_fn)
    failed = [(r["recon"], r["sample"]) for r in res.rows if r["status"] == "failed"]
    assert failed == [("/rec/a", 3), ("/rec/b", 3)]
    assert res.rows[3]["error"] == "RuntimeError: sample with value 3 is cursed"
    assert res.n_ok == 22


def test_worker_process_dying(tmp_path, monkeypatch):
    _indexed(tmp_path / "a.h5")
    monkeypatch.setenv("TE_PARENT", str(os.getpid()))
    res = batch("/orig", "/rec/*", file=tmp_path / "a.h5", jobs=2, sample_fn=dying_fn)
    assert len(res) == 24
    # exactly the rows whose sample kills its worker are lost (sample 2, in both reconstructions),
    # whatever else was in flight: those tasks run again, one at a time, on a new pool
    bad = [r for r in res.rows if r["status"] == "failed"]
    assert [(r["recon"], r["sample"]) for r in bad] == [("/rec/a", 2), ("/rec/b", 2)]
    assert all(r["error"].startswith("WorkerDied: a worker process died") for r in bad)
    assert res.n_ok == 22
    serial = batch("/orig", "/rec/*", file=tmp_path / "a.h5", jobs=1, sample_fn=pointwise_metrics)
    ok = [r for r in res.rows if r["status"] == "ok"]
    assert [r["diff"] for r in ok] == [r["max_abs_error"] for r in serial.rows if r["sample"] != 2]


def test_resume_recomputes_rows_lost_to_a_dead_worker(tmp_path, monkeypatch):
    _indexed(tmp_path / "a.h5")
    monkeypatch.setenv("TE_PARENT", str(os.getpid()))
    out = tmp_path / "r.json"
    first = batch("/orig", "/rec/*", file=tmp_path / "a.h5", jobs=2, sample_fn=dying_fn, output=out)
    lost = {(r["recon"], r["sample"]) for r in first.rows if r["status"] == "failed"}
    assert lost == {("/rec/a", 2), ("/rec/b", 2)}
    log = tmp_path / "log"
    monkeypatch.setenv("TE_LOG", str(log))
    res = batch("/orig", "/rec/*", file=tmp_path / "a.h5", jobs=1, output=out, resume=True,
                sample_fn=dying_fn)  # serial: runs in this process, which does not die
    assert res.n_failed == 0 and len(res) == 24
    # only the lost rows were computed again
    assert sorted(float(v) for v in log.read_text().split()) == sorted(float(s) for _, s in lost)


def test_invalid_option_is_a_usage_error_before_any_work():
    orig = np.zeros((3, 4))
    with pytest.raises(InvalidOptionError, match="filtration"):
        batch(orig, orig, jobs=1, filtration="sideways")
    with pytest.raises(InvalidOptionError, match="jobs=0"):
        batch(orig, orig, jobs=0)
    with pytest.raises(InvalidOptionError, match="unexpected keyword argument 'colour'"):
        batch(orig, orig, jobs=1, sample_fn=pointwise_metrics, colour="red")
    # any other error of the first sample is the sample's, not a usage error
    res = batch(orig, orig, jobs=1, sample_fn=raising_fn, bad=0.0)
    assert res.columns["status"].tolist() == ["failed"] * 3
    with pytest.raises(InvalidOptionError, match="picklable"):
        batch(np.zeros((5, 4)), np.zeros((5, 4)), jobs=2, sample_fn=lambda a, b: {"x": 1.0})
    assert batch(orig, orig, jobs=1, sample_fn=lambda a, b: {"x": 1.0}).columns["x"].tolist() == [1.0] * 3


def test_dask_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    orig = np.zeros((3, 4))
    with pytest.raises(MissingDependencyError, match=r"topoeval\[dask\]"):
        batch(orig, orig, scheduler="local", sample_fn=pointwise_metrics)


# ---- outputs
@pytest.mark.parametrize("suffix", [".csv", ".json", ".h5"])
def test_outputs_written_and_resume_reads_them_back(tmp_path, suffix):
    _indexed(tmp_path / "a.h5")
    out = tmp_path / f"res{suffix}"
    kw = dict(file=tmp_path / "a.h5", jobs=1, sample_fn=raising_fn, output=out)
    res = batch("/orig", "/rec/*", **kw)
    assert out.exists() and not (tmp_path / f"res{suffix}.partial").exists()
    with pytest.raises(OutputExistsError, match="--force"):
        batch("/orig", "/rec/*", **kw)
    # resume with everything finished: nothing recomputed, the same rows read back
    again = batch("/orig", "/rec/*", resume=True, **{**kw, "sample_fn": _never})
    assert again.rows == res.rows
    # different options: refused
    with pytest.raises(InvalidOptionError, match="cannot resume.*bad=3 in the output, 4 now"):
        batch("/orig", "/rec/*", resume=True, bad=4, **kw)
    forced = batch("/orig", "/rec/*", force=True, bad=4, **kw)
    assert forced.rows[4]["status"] == "failed"


def _never(orig, recon, *, bad=3):
    raise AssertionError("a finished row was recomputed")


def test_output_contents(tmp_path):
    _indexed(tmp_path / "a.h5")
    kw = dict(file=tmp_path / "a.h5", jobs=1, sample_fn=raising_fn)
    res = batch("/orig", "/rec/*", output=tmp_path / "r.csv", **kw)
    with open(tmp_path / "r.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 24 and list(rows[0]) == ["recon", "sample", "diff", "opt_bad", "status", "error"]
    assert rows[3]["status"] == "failed" and rows[3]["diff"] == "" and "cursed" in rows[3]["error"]
    assert float(rows[5]["diff"]) == res.rows[5]["diff"]
    with open(tmp_path / "r.summary.csv", newline="") as fh:
        summary = list(csv.DictReader(fh))
    assert [s["recon"] for s in summary] == ["/rec/a", "/rec/b"]
    assert summary[0]["n_failed"] == "1"
    assert float(summary[0]["diff_mean"]) == pytest.approx(res.summary["/rec/a"]["metrics"]["diff"]["mean"])

    batch("/orig", "/rec/*", output=tmp_path / "r.json", **kw)
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["format"] == "topoeval-batch" and d["options"] == {"bad": 3}
    assert len(d["rows"]) == 24 and d["summary"]["/rec/b"]["n_failed"] == 1
    # every row holds every column, in the order of "columns" (the options included)
    assert all(list(r) == d["columns"] for r in d["rows"])
    assert d["rows"][3] == {"recon": "/rec/a", "sample": 3, "diff": None, "opt_bad": 3,
                            "status": "failed", "error": "RuntimeError: sample with value 3 is cursed"}

    batch("/orig", "/rec/*", output=tmp_path / "r.h5", **kw)
    with h5py.File(tmp_path / "r.h5", "r") as f:
        g = f["rec/a"]  # groups mirror the inputs
        assert g.attrs["source"] == "/rec/a"
        assert g["sample"][()].tolist() == list(range(12))
        assert g["status"].asstr()[3] == "failed"
        np.testing.assert_array_equal(g["diff"][()], res.columns["diff"][:12])
        assert g["summary"].attrs["n_failed"] == 1
        assert g["summary/diff"].shape == (4,)


def test_output_on_a_read_only_path(tmp_path):
    orig = np.zeros((3, 4))
    target = Path("/proc/topoeval_results.csv")  # not writable, even by root
    with pytest.raises(TopoevalIOError):
        batch(orig, orig, jobs=1, output=target, sample_fn=pointwise_metrics)
    with pytest.raises(TopoevalIOError, match="does not exist"):
        batch(orig, orig, jobs=1, output=tmp_path / "no" / "r.csv", sample_fn=pointwise_metrics)
    with pytest.raises(InvalidOptionError, match=".h5, .csv or .json"):
        batch(orig, orig, jobs=1, output=tmp_path / "r.txt", sample_fn=pointwise_metrics)


def test_inputs_are_not_modified(tmp_path):
    _indexed(tmp_path / "a.h5")
    before = (tmp_path / "a.h5").read_bytes()
    os.chmod(tmp_path / "a.h5", 0o444)
    batch("/orig", "/rec/*", file=tmp_path / "a.h5", jobs=2, sample_fn=pointwise_metrics)
    assert (tmp_path / "a.h5").read_bytes() == before


# ---- kill and resume
def test_killed_run_resumes_without_recomputing(tmp_path):
    _indexed(tmp_path / "a.h5", n=40)
    out = tmp_path / "r.json"
    env = _gate_env(tmp_path)  # samples 20.. wait at a gate that never opens in this run
    code = (
        "from topoeval.batch import batch; from tests.test_batch import gated_fn;"
        f"batch('/orig', '/rec/*', file={str(tmp_path / 'a.h5')!r}, jobs=1, output={str(out)!r},"
        " sample_fn=gated_fn)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env})
    journal = tmp_path / "r.json.partial"
    _wait_until(lambda: len(_lines(tmp_path / "waiting")) == 1, proc, "the run reached the gate")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    rows = [json.loads(line) for line in _lines(journal)[1:]]  # after the header
    assert sorted((r["recon"], r["sample"]) for r in rows) == [(f"/rec/{k}", i) for k in "ab" for i in range(20)]
    # resume: only the missing rows are computed, every row exactly once overall
    (tmp_path / "gate").touch()
    os.environ.update(env)
    try:
        res = batch("/orig", "/rec/*", file=tmp_path / "a.h5", jobs=2, output=out, resume=True,
                    sample_fn=gated_fn)
    finally:
        for k in env:
            os.environ.pop(k)
    assert len(res) == 80 and res.n_failed == 0
    assert sorted(float(v) for v in _lines(tmp_path / "log")) == sorted(2 * [float(i) for i in range(40)])
    assert out.exists() and not journal.exists()
    # and the rows equal those of an uninterrupted run
    fresh = batch("/orig", "/rec/*", file=tmp_path / "a.h5", jobs=1, sample_fn=pointwise_metrics)
    assert res.rows == fresh.rows


def test_partial_run_without_resume_is_refused(tmp_path):
    orig = np.zeros((3, 4))
    (tmp_path / "r.csv.partial").write_text("{}\n")
    with pytest.raises(OutputExistsError, match="--resume"):
        batch(orig, orig, jobs=1, output=tmp_path / "r.csv", sample_fn=pointwise_metrics)
    res = batch(orig, orig, jobs=1, output=tmp_path / "r.csv", sample_fn=pointwise_metrics, force=True)
    assert len(res) == 3 and not (tmp_path / "r.csv.partial").exists()


# ---- bounded memory
_MEM_CHILD = """
import resource, sys, numpy as np
from topoeval.batch import batch
from topoeval.metrics import pointwise_metrics
small, big, allow, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
batch('/orig', '/recon', file=small, jobs=1, sample_fn=pointwise_metrics)  # warm up


def vm_bytes():
    with open('/proc/self/status') as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith('VmSize:'))


before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
# the memory allowed from here on (address space: RSS cannot cheat it), inherited by the workers
limit = vm_bytes() + allow
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import h5py
with h5py.File(big, 'r') as f:  # the limit bites: one whole input does not fit
    try:
        f['orig'][...]
        print('NOT-LIMITED')
    except MemoryError:
        pass
res = batch('/orig', '/recon', file=big, jobs=jobs, sample_fn=pointwise_metrics)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert res.n_ok == len(res), [r['error'] for r in res.rows if r['status'] != 'ok'][:3]
print(len(res), (after - before) * 1024)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmSize from /proc")
@pytest.mark.parametrize("jobs", [1, 2])
def test_memory_stays_bounded_on_a_file_larger_than_allowed(tmp_path, jobs):
    n, shape = 48, (512, 512)  # 48 MiB per dataset: a 96 MiB file
    allow = 40 * 2**20  # address space allowed beyond the warm process (each worker inherits it)
    rng = np.random.default_rng(11)
    for name, count in (("small.h5", 2), ("big.h5", n)):
        with h5py.File(tmp_path / name, "w") as f:
            o = f.create_dataset("orig", (count, *shape), np.float32, chunks=(1, *shape))
            r = f.create_dataset("recon", (count, *shape), np.float32, chunks=(1, *shape))
            for i in range(count):
                a = rng.random(shape, dtype=np.float32)
                o[i], r[i] = a, a + 0.01
    input_bytes = 2 * n * shape[0] * shape[1] * 4
    assert (tmp_path / "big.h5").stat().st_size > input_bytes > 2 * allow
    out = subprocess.run([sys.executable, "-c", _MEM_CHILD, str(tmp_path / "small.h5"),
                          str(tmp_path / "big.h5"), str(allow), str(jobs)],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "NOT-LIMITED" not in out.stdout  # the check would prove nothing
    n_rows, growth = map(int, out.stdout.split()[-2:])
    assert n_rows == n
    if jobs == 1:  # the work ran in this process: its peak RSS grew by a few samples only
        print(f"peak RSS growth {growth / 2**20:.1f} MiB for {input_bytes / 2**20:.0f} MiB of input")
        assert growth < input_bytes / 4, (growth, input_bytes)


# ---- the command line
def _cli(capsys, *args):
    from topoeval.cli import main

    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_cli_batch_outputs_and_exit_codes(tmp_path, capsys):
    p = tmp_path / "nan.h5"
    orig = np.random.default_rng(3).random((5, 8, 8)).astype(np.float32)
    with h5py.File(p, "w") as f:
        f["orig"] = orig
        f["sz/a"] = orig + 0.01
        bad = orig - 0.02
        bad[1, 0, 0] = np.nan
        f["sz/b"] = bad
    out = tmp_path / "r.json"
    code, stdout, stderr = _cli(capsys, "batch", str(p), "--orig", "/orig", "--recon", "/sz/*",
                                "--metrics", "pointwise,dsl,persistence", "-j", "2", "-o", str(out))
    assert code == 1  # one sample failed
    assert "1 of 10 samples failed" in stderr
    assert "/sz/a  (5 ok, 0 failed)" in stdout and "/sz/b  (4 ok, 1 failed)" in stdout
    assert "worst samples by wasserstein_sublevel" in stdout
    assert "\x1b[" not in stdout and "samples/s" not in stderr  # no colours / progress in pipes
    d = json.loads(out.read_text())
    assert d["options"]["metrics"] == ["pointwise", "dsl", "persistence"] and len(d["rows"]) == 10
    assert d["rows"][6]["status"] == "failed" and "NonFiniteError" in d["rows"][6]["error"]
    # the output is never overwritten without --force (usage error, exit 2)
    code, _, stderr = _cli(capsys, "batch", str(p), "--orig", "/orig", "--recon", "/sz/a", "-o", str(out))
    assert code == 2 and "--force" in stderr
    # nan-policy omit: everything ok, exit 0; -q prints only the results
    code, stdout, stderr = _cli(capsys, "-q", "batch", str(p), "--orig", "/orig", "--recon", "/sz/*",
                                "--metrics", "pointwise", "--nan-policy", "omit", "-j", "1",
                                "-o", str(tmp_path / "r.csv"))
    assert code == 0 and stderr == ""
    assert (tmp_path / "r.csv").exists() and (tmp_path / "r.summary.csv").exists()
    # usage errors
    code, _, stderr = _cli(capsys, "batch", str(p), "--orig", "/orig", "--recon", "/sz/a", "--resume")
    assert code == 2 and "--resume needs" in stderr
    code, _, stderr = _cli(capsys, "batch", str(p), "--orig", "/orig", "--recon", "/sz/a",
                           "--dask", "local", "--scheduler", "tcp://x:1")
    assert code == 2
    code, _, stderr = _cli(capsys, "batch", str(p), "--orig", "/orig", "--recon", "/sz/a",
                           "--filtration", "up")
    assert code == 2
    # bad data: shapes listed, exit 1
    with h5py.File(p, "a") as f:
        f["short"] = orig[:3]
    code, _, stderr = _cli(capsys, "batch", str(p), "--orig", "/orig", "--recon", "/short")
    assert code == 1 and "/short (3, 8, 8)" in stderr
    # an output in a folder that cannot be written
    code, _, stderr = _cli(capsys, "batch", str(p), "--orig", "/orig", "--recon", "/sz/a",
                           "-o", str(tmp_path / "missing" / "r.csv"))
    assert code == 1 and "does not exist" in stderr


def test_cli_progress_bar_on_a_terminal(tmp_path, capsys, monkeypatch):
    _indexed(tmp_path / "a.h5")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    code, stdout, stderr = _cli(capsys, "batch", str(tmp_path / "a.h5"), "--orig", "/orig",
                                "--recon", "/rec/*", "--metrics", "pointwise", "-j", "1")
    assert code == 0
    assert "samples/s" in stderr and "24/24" in stderr and "ETA" in stderr
    code, stdout, stderr = _cli(capsys, "-q", "batch", str(tmp_path / "a.h5"), "--orig", "/orig",
                                "--recon", "/rec/*", "--metrics", "pointwise", "-j", "1")
    assert code == 0 and "samples/s" not in stderr


@pytest.mark.parametrize("suffix", [".csv", ".json", ".h5"])
def test_resume_roundtrip_with_compare_rows(tmp_path, suffix):
    """Rows of compare (text columns, None options, a failed sample) survive the output and resume."""
    p = tmp_path / "nan.h5"
    orig = np.random.default_rng(5).random((3, 6, 6))
    recon = orig + 0.01
    recon[1, 0, 0] = np.nan
    with h5py.File(p, "w") as f:
        f["orig"], f["recon"] = orig, recon
    out = tmp_path / f"r{suffix}"
    kw = dict(file=p, jobs=1, output=out, metrics="pointwise,critical_points")
    res = batch("/orig", "/recon", **kw)
    assert res.n_failed == 1 and res.options["sharpness"] is None
    again = batch("/orig", "/recon", resume=True, sample_fn=None, **kw)
    assert again.rows == res.rows
    for name, col in res.columns.items():
        np.testing.assert_array_equal(again.columns[name], col)


def test_csv_summary_is_not_overwritten_without_force(tmp_path):
    orig = np.zeros((3, 4))
    (tmp_path / "r.summary.csv").write_text("keep")
    with pytest.raises(OutputExistsError, match="summary"):
        batch(orig, orig, jobs=1, output=tmp_path / "r.csv", sample_fn=pointwise_metrics)
    assert (tmp_path / "r.summary.csv").read_text() == "keep"


def test_cli_every_compare_option_reaches_each_sample(tmp_path, capsys):
    p = tmp_path / "o.h5"
    rng = np.random.default_rng(12)
    orig = rng.random((3, 9, 7)).astype(np.float32)
    recon = orig + 0.05 * rng.standard_normal(orig.shape).astype(np.float32)
    recon[2, 4, 4] = np.nan
    with h5py.File(p, "w") as f:
        f["orig"], f["r"] = orig, recon
    cases = [
        (["--filtration", "both", "--connectivity", "face", "--order", "2", "--internal-p", "inf",
          "--sharpness", "50", "--sign", "softsign", "--axis-weights", "1,0.5",
          "--nan-policy", "omit", "--compute-dtype", "float32", "--min-persistence", "0.01",
          "--cp-connectivity", "freudenthal", "--data-range", "2"],
         dict(filtration="both", connectivity="face", order=2.0, internal_p=np.inf, sharpness=50.0,
              sign="softsign", weights=(1.0, 0.5), nan_policy="omit", dtype="float32",
              min_persistence=0.01, cp_connectivity="freudenthal", data_range=2.0)),
        (["--metrics", "pointwise,dsl,persistence", "--batch-axis", "0", "--sign", "sign",
          "--nan-policy", "omit"],
         dict(metrics=("pointwise", "dsl", "persistence"), batch_axis=0, sign="sign",
              nan_policy="omit")),
    ]
    for k, (args, kwargs) in enumerate(cases):
        out = tmp_path / f"r{k}.json"
        code, _, stderr = _cli(capsys, "batch", str(p), "--orig", "/orig", "--recon", "/r", "-j", "1",
                               "-o", str(out), *args)
        assert code == 0, stderr
        d = json.loads(out.read_text())
        for i in range(3):
            expect = json.loads(json.dumps(_json_safe(
                te.compare(orig[i], recon[i], **kwargs).to_row())))
            got = d["rows"][i]
            assert {key: got[key] for key in expect} == expect, (k, i)
        for key, value in kwargs.items():  # and the options are recorded with the results
            want = json.loads(json.dumps(_json_safe(
                list(value) if isinstance(value, tuple) else value)))
            assert d["options"][key] == want, key


def test_jobs_default_to_all_cores(tmp_path, capsys, monkeypatch):
    _indexed(tmp_path / "a.h5")
    mod = executors
    seen = []
    real = mod._run_pool

    def spy(tasks, make, jobs, sink, max_in_flight, **kw):
        seen.append(jobs)
        return real(tasks, make, jobs, sink, max_in_flight, **kw)

    monkeypatch.setattr(mod, "_run_pool", spy)
    monkeypatch.setattr(mod.os, "cpu_count", lambda: 2)
    code, _, stderr = _cli(capsys, "-q", "batch", str(tmp_path / "a.h5"), "--orig", "/orig",
                           "--recon", "/rec/*", "--metrics", "pointwise")
    assert code == 0, stderr
    assert seen == [2]
    assert batch("/orig", "/rec/a", file=tmp_path / "a.h5", sample_fn=pointwise_metrics).n_ok == 12
    assert seen == [2, 2]


_CLI_CHILD = """
import sys
from topoeval.batch import run
from tests.test_batch import gated_compare
run.compare_row = gated_compare  # the per-sample work of the command, held at the gate
from topoeval.cli import main
main(sys.argv[1:])
"""


def _stop_a_cli_run(tmp_path, args, sig, n_workers=2, ready=lambda: True, child=_CLI_CHILD, hold=20):
    """Start `topoeval <args>` in a child, wait until every worker waits at the gate and
    ``ready()`` (the journal holds every row below the gate), send ``sig`` (SIGTERM to the main process as `kill -TERM`,
    SIGINT to its process group as Ctrl-C), and return (exit status, stderr, worker pids)."""
    env = {**os.environ, **_gate_env(tmp_path, hold)}
    proc = subprocess.Popen([sys.executable, "-c", child, *args], cwd=ROOT, env=env,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    waiting = tmp_path / "waiting"
    try:
        _wait_until(lambda: len(set(_lines(waiting))) == n_workers and ready(), proc,
                    "every worker waits at the gate")
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    workers = {int(p) for p in _lines(waiting)}
    if sig == signal.SIGTERM:
        os.kill(proc.pid, sig)
    else:
        os.killpg(proc.pid, sig)
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr, workers


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="checks the workers in /proc")
@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_cli_signal_stops_the_workers_then_resume(tmp_path, capsys, monkeypatch, sig, status):
    """kill -TERM / Ctrl-C of `topoeval batch -j 2`: the workers end with it, the journal keeps
    every finished row, one line says how to continue, and --resume computes only the rest."""
    _indexed(tmp_path / "a.h5", n=40)
    out, journal = tmp_path / "r.csv", tmp_path / "r.csv.partial"
    args = ["batch", str(tmp_path / "a.h5"), "--orig", "/orig", "--recon", "/rec/*", "-j", "2",
            "-o", str(out), "--metrics", "pointwise"]
    # the pool's workers take the tasks in order: those below sample 20 all finish
    code, stderr, workers = _stop_a_cli_run(tmp_path, args, sig, ready=lambda: len(_lines(journal)) == 41)
    assert code == status
    assert stderr.splitlines() == [
        f"topoeval: stopped by {signal.Signals(sig).name}; 40 of 80 rows are kept in {out}.partial - "
        "rerun the same command with --resume to continue"]
    assert all(_gone(pid) for pid in workers)  # no worker left holding the files open
    assert not out.exists()
    rows = [json.loads(line) for line in _lines(journal)[1:]]  # every line whole
    assert sorted((r["recon"], r["sample"]) for r in rows) == [(f"/rec/{k}", i) for k in "ab" for i in range(20)]
    (tmp_path / "gate").touch()
    for k, v in _gate_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(batch_run, "compare_row", gated_compare)
    code, _, stderr = _cli(capsys, *args, "--resume")
    assert code == 0, stderr
    with open(out, newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 80
    # each row computed once: the 40 before the signal, the 40 after
    assert sorted(float(v) for v in _lines(tmp_path / "log")) == sorted(2 * [float(i) for i in range(40)])


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="checks the workers in /proc")
def test_cli_sigterm_closes_a_local_dask_cluster(tmp_path):
    pytest.importorskip("dask.distributed")
    _indexed(tmp_path / "a.h5", n=40)
    out = tmp_path / "r.json"
    args = ["batch", str(tmp_path / "a.h5"), "--orig", "/orig", "--recon", "/rec/*", "-j", "2",
            "--dask", "local", "-o", str(out), "--metrics", "pointwise"]
    code, stderr, workers = _stop_a_cli_run(tmp_path, args, signal.SIGTERM)
    assert code == 143
    # (Dask's workers log their own warnings while the cluster closes them)
    ours = [line for line in stderr.splitlines() if line.startswith("topoeval:")]
    assert len(ours) == 1 and ours[0] == stderr.splitlines()[-1] and "--resume" in ours[0], stderr
    assert all(_gone(pid) for pid in workers)
    assert all(json.loads(line) for line in _lines(tmp_path / "r.json.partial"))


def test_existing_dask_cluster_uses_all_its_workers(monkeypatch):
    distributed = pytest.importorskip("dask.distributed")
    seen = []
    real_plan, real_run = batch_run.plan_tasks, executors._run_dask

    def plan(orig, recons, todo, jobs):
        seen.append(("plan", jobs))
        return real_plan(orig, recons, todo, jobs)

    def run(tasks, make, jobs, scheduler, sink, max_in_flight, **kw):
        seen.append(("in_flight", max_in_flight))
        return real_run(tasks, make, jobs, scheduler, sink, max_in_flight, **kw)

    monkeypatch.setattr(batch_run, "plan_tasks", plan)
    monkeypatch.setattr(executors, "_run_dask", run)
    orig = np.random.default_rng(2).random((12, 6, 6))
    with distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        res = batch(orig, orig + 0.1, scheduler=cluster.scheduler_address, jobs=1,
                    sample_fn=pointwise_metrics)
    assert res.n_ok == 12
    np.testing.assert_allclose(res.columns["max_abs_error"], 0.1)
    # a one-core client still plans and keeps tasks in flight for the cluster's 3 workers
    assert seen == [("plan", 3), ("in_flight", 6)]


def test_local_dask_cluster_settings(monkeypatch):
    """--dask local starts its workers without the profiler and without Dask's malloc-trim variable."""
    pytest.importorskip("dask.distributed")
    import dask
    import dask.distributed

    seen = {}

    def fake_cluster(**kw):
        seen.update(kw)
        seen["profile"] = dask.config.get("distributed.worker.profile.enabled")
        seen["environ"] = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
        return "cluster"

    monkeypatch.setattr(dask.distributed, "LocalCluster", fake_cluster)
    assert executors._local_cluster(3) == "cluster"
    assert seen["n_workers"] == 3 and seen["threads_per_worker"] == 1 and seen["processes"]
    assert seen["dashboard_address"] == ":0"  # a free port, never a clash with another cluster
    assert seen["profile"] is False
    assert "MALLOC_TRIM_THRESHOLD_" not in seen["environ"]
    assert seen["environ"]["OPENBLAS_NUM_THREADS"] == 1
    # the settings apply only while the cluster starts
    assert "MALLOC_TRIM_THRESHOLD_" in dask.config.get("distributed.nanny.pre-spawn-environ")


# ---- homology dimensions (issue 19 point 4)
def _dims_inputs(tmp_path, seed=40):
    rng = np.random.default_rng(seed)
    orig = np.round(rng.normal(size=(3, 8, 7)), 1)  # ties
    recon = orig + np.round(0.3 * rng.normal(size=orig.shape), 1)
    p = tmp_path / "d.h5"
    with h5py.File(p, "w") as f:
        f["orig"], f["r"] = orig, recon
    return p, orig, recon


@pytest.mark.parametrize("ext", ["csv", "json", "h5"])
def test_batch_dims_rows_and_every_output(tmp_path, ext):
    """dims=(0, 1): each row is compare(dims=(0, 1)).to_row() of its sample, the per-dimension
    columns reach every output kind and read back on resume; the default records no dims."""
    p, orig, recon = _dims_inputs(tmp_path)
    out = tmp_path / f"r.{ext}"
    res = batch("/orig", "/r", file=p, jobs=1, output=out, dims=(0, 1), filtration="both",
                metrics="persistence")
    for i, row in enumerate(res.rows):
        expect = te.compare(orig[i], recon[i], dims=(0, 1), filtration="both", metrics="persistence").to_row()
        assert {k: row[k] for k in expect} == expect
    assert "wasserstein_superlevel_dim1" in res.column_names and res.options["dims"] == [0, 1]
    if ext == "csv":
        with open(out) as fh:
            rows = list(csv.DictReader(fh))
        assert float(rows[1]["bottleneck_sublevel_dim1"]) == res.rows[1]["bottleneck_sublevel_dim1"]
        assert rows[0]["opt_dims"] == "0,1"
    elif ext == "json":
        d = json.loads(out.read_text())
        assert d["rows"][2]["wasserstein_sublevel_dim1"] == res.rows[2]["wasserstein_sublevel_dim1"]
        assert "wasserstein_sublevel_dim1" in d["summary"]["/r"]["metrics"]
    else:
        with h5py.File(out) as f:
            got = f["r/n_points_orig_superlevel_dim1"][()]
        assert got.tolist() == [r["n_points_orig_superlevel_dim1"] for r in res.rows]
    again = batch("/orig", "/r", file=p, jobs=1, output=out, dims=(0, 1), filtration="both",
                  metrics="persistence", resume=True)  # same options: nothing recomputed
    assert [r["wasserstein_sublevel_dim1"] for r in again.rows] == \
        [r["wasserstein_sublevel_dim1"] for r in res.rows]
    with pytest.raises(InvalidOptionError, match="options differ"):
        batch("/orig", "/r", file=p, jobs=1, output=out, filtration="both", metrics="persistence", resume=True)


def test_batch_default_dims_unchanged(tmp_path):
    p, _, _ = _dims_inputs(tmp_path, 41)
    base = batch("/orig", "/r", file=p, jobs=1, metrics="persistence,dsl")
    same = batch("/orig", "/r", file=p, jobs=1, metrics="persistence,dsl", dims=0)
    assert same.rows == base.rows and same.options == base.options and "dims" not in base.options
    assert same.column_names == base.column_names


def test_cli_batch_dims(tmp_path, capsys):
    p, orig, recon = _dims_inputs(tmp_path, 42)
    out = tmp_path / "r.json"
    code, stdout, err = _cli(capsys, "batch", str(p), "--orig", "/orig", "--recon", "/r", "-j", "1",
                             "--metrics", "persistence", "--dims", "0,1", "-o", str(out))
    assert code == 0, err
    assert "wasserstein_sublevel_dim1" in stdout and "bottleneck_sublevel_dim1" in stdout  # the summary
    d = json.loads(out.read_text())
    expect = te.compare(orig[1], recon[1], dims=(0, 1), metrics="persistence").to_row()
    assert d["rows"][1]["wasserstein_sublevel_dim1"] == expect["wasserstein_sublevel_dim1"]
    code, _, err = _cli(capsys, "batch", str(p), "--orig", "/orig", "--recon", "/r", "-j", "1",
                        "--dims", "0,2")
    assert code == 2 and "--dims has 2 but a 2-D field has homology dimensions 0..1" in err
    assert len(err.strip().splitlines()) == 1

"""Throughput of `topoeval batch`: serial vs a 2-process pool vs a 2-worker Dask LocalCluster.

Workload (issue 6): 256 samples of 8 x 64 x 64 float32 (smooth random fields: Gaussian-filtered
white noise) with three reconstructions (SZ3 at 1e-2 and 1e-3, ZFP at 1e-3, each sample
compressed on its own), every metric of `compare` per sample.  The three ways run side by
side in one process, interleaved over the repeats; the script prints the median samples/s
(reconstruction-sample rows per second) of each and the ratios, and checks that the rows are
identical.

Every process uses one BLAS thread (see the top of the script).  The Dask LocalCluster runs
in its own process (a scheduler inside this one would share its GIL with the serial run) and
is started (and its workers warmed up on a tiny batch) before the timing, as for a user with
an existing cluster; its start-up time is printed separately.  Besides wall time the script
prints CPU milliseconds per row for each way (this process, its workers, the scheduler), a
measure of parallel overhead that a loaded machine does not distort as much as wall time.  The process
pool forks workers from the warm parent for every batch (that cost is inside its timing).

    python benchmarks/bench_batch.py                   # the issue's workload (several minutes)
    python benchmarks/bench_batch.py --samples 32      # a quick look

Targets: -j 2 >= 1.7x serial on a 2-core machine; Dask within 20 % of the process pool.
"""

from __future__ import annotations

import os

# One BLAS thread per process in all three ways (Dask's nanny does the same in its workers):
# the processes are the parallelism, and a multi-threaded BLAS would both oversubscribe the
# cores and sum in a thread-count-dependent order (rows would then differ in the last bits).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np  # noqa: E402


def make_file(path: Path, n: int, shape=(8, 64, 64), seed: int = 20250406) -> None:
    import h5py
    from scipy.ndimage import gaussian_filter

    from topoeval.compressors import get_compressor

    rng = np.random.default_rng(seed)
    sz3, zfp = get_compressor("sz3"), get_compressor("zfp")
    with h5py.File(path, "w") as f:
        kw = dict(shape=(n, *shape), dtype=np.float32, chunks=(1, *shape))
        o = f.create_dataset("orig", **kw)
        r = [f.create_dataset(name, **kw) for name in ("sz3/1e-2", "sz3/1e-3", "zfp/1e-3")]
        for i in range(n):
            a = gaussian_filter(rng.standard_normal(shape), (1, 3, 3)).astype(np.float32)
            a = (a - a.min()) / (a.max() - a.min())
            o[i] = a
            r[0][i] = sz3.roundtrip(a, 1e-2)[0]
            r[1][i] = sz3.roundtrip(a, 1e-3)[0]
            r[2][i] = zfp.roundtrip(a, 1e-3)[0]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--dask-config", choices=["batch", "default"], default="batch",
                        help="worker settings of --dask local (profiler off), or Dask's defaults")
    parser.add_argument("--metrics", default="all", help="compare(metrics=...), e.g. pointwise,dsl")
    args = parser.parse_args(argv)

    from topoeval.batch import batch

    opts = {} if args.metrics == "all" else {"metrics": args.metrics}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.h5"
        t = time.perf_counter()
        make_file(path, args.samples)
        small = Path(tmp) / "small.h5"
        make_file(small, 2)
        print(f"data: {args.samples} samples of 8x64x64 float32, 3 reconstructions "
              f"({3 * args.samples} rows), made in {time.perf_counter() - t:.1f} s; "
              f"{os.cpu_count()} cores, jobs={args.jobs}")
        recons = ["/sz3/*", "/zfp/*"]
        batch("/orig", recons, file=small, jobs=1, **opts)  # warm the Numba cache in this process

        import h5py
        from dask.distributed import Client

        from topoeval.compare import compare

        # the cluster runs in its own process (as a user's existing cluster would): a scheduler
        # in this process would share its GIL with the serial run and bias the comparison
        t = time.perf_counter()
        cluster = subprocess.Popen([sys.executable, "-c", _CLUSTER, str(args.jobs), args.dask_config],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        address = cluster.stdout.readline().strip()
        t_start = time.perf_counter() - t
        t = time.perf_counter()
        with h5py.File(small, "r") as f:  # every worker loads the kernels for this signature
            a, b = f["orig"][0], f["sz3/1e-2"][0]
        with Client(address) as client:
            client.run(compare, a, b, **opts)
        batch("/orig", recons, file=small, scheduler=address, jobs=args.jobs, **opts)
        t_warm = time.perf_counter() - t
        print(f"dask: LocalCluster (another process) start {t_start:.1f} s, first batch (workers "
              f"load the kernels) {t_warm:.1f} s - not in the timings below")

        ways = {
            "serial": dict(jobs=1),
            f"-j {args.jobs}": dict(jobs=args.jobs),
            f"dask {args.jobs} workers": dict(jobs=args.jobs, scheduler=address),
        }
        times: dict[str, list[float]] = {k: [] for k in ways}
        cpu: dict[str, list[tuple[float, float, float]]] = {k: [] for k in ways}
        rows = {}
        for _ in range(args.repeats):
            for name, kw in ways.items():
                dask = "scheduler" in kw
                c0 = _cpu_seconds(address if dask else None, cluster.pid)
                t = time.perf_counter()
                res = batch("/orig", recons, file=path, **kw, **opts)
                times[name].append(time.perf_counter() - t)
                c1 = _cpu_seconds(address if dask else None, cluster.pid)
                cpu[name].append(tuple(y - x for x, y in zip(c0, c1)))
                rows[name] = res.rows
                assert res.n_failed == 0, res.rows[0]
        cluster.stdin.close()
        cluster.wait(timeout=60)

    n_rows = 3 * args.samples
    identical = all(r == rows["serial"] for r in rows.values())
    load = os.getloadavg()[0]
    print(f"\n{'way':<20} {'median s':>9} {'rows/s':>8} {'vs serial':>10} {'CPU ms/row':>11}"
          f" {'(parent':>8} {'workers':>8} {'sched)':>7}")
    med = {k: statistics.median(v) for k, v in times.items()}
    parts = {k: [statistics.median(c[i] for c in v) * 1e3 / n_rows for i in range(3)]
             for k, v in cpu.items()}
    mcpu = {k: sum(v) for k, v in parts.items()}
    for k, v in med.items():
        p0, p1, p2 = parts[k]
        print(f"{k:<20} {v:>9.2f} {n_rows / v:>8.1f} {med['serial'] / v:>9.2f}x {mcpu[k]:>11.1f}"
              f" {p0:>8.1f} {p1:>8.1f} {p2:>7.1f}")
    pool, dask = list(med)[1], list(med)[2]
    print(f"\n{pool} / serial throughput: {med['serial'] / med[pool]:.2f}x (target >= 1.7x)")
    print(f"dask / pool throughput:  {med[pool] / med[dask]:.2f} (target >= 0.8)")
    print(f"rows identical in all three: {identical}")
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} cores (wall-time ratios need "
          "idle cores).  CPU ms/row: this process + its pool workers, or + the Dask workers and "
          "the scheduler's process.  With jobs idle cores the wall-time ratio would be about "
          f"jobs x serial CPU / parallel CPU: pool {args.jobs * mcpu['serial'] / mcpu[pool]:.2f}x, "
          f"dask {args.jobs * mcpu['serial'] / mcpu[dask]:.2f}x; CPU per row vs serial: pool "
          f"{mcpu[pool] / mcpu['serial']:.2f}, dask {mcpu[dask] / mcpu['serial']:.2f}")


_CLUSTER = """
import sys
from topoeval.batch.executors import _LOCAL_DASK_CONFIG, _local_cluster
if sys.argv[2] == "default":
    _LOCAL_DASK_CONFIG.clear()
cluster = _local_cluster(int(sys.argv[1]))  # the cluster of --dask local
print(cluster.scheduler_address, flush=True)
sys.stdin.read()  # until the benchmark closes the pipe
cluster.close()
"""


def _proc_cpu(pid: int) -> float:
    """utime + stime of a live process (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(address, scheduler_pid) -> tuple[float, float, float]:
    """CPU seconds so far: (this process, workers, scheduler process).  Workers: the finished pool
    workers (children) when address is None, else the Dask workers."""
    import resource

    own = time.process_time()
    if address is None:
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own, ch.ru_utime + ch.ru_stime, 0.0
    from dask.distributed import Client

    with Client(address) as client:
        workers = sum(client.run(time.process_time).values())
    return time.process_time(), workers, _proc_cpu(scheduler_pid)


if __name__ == "__main__":
    main()

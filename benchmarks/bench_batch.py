"""Throughput of `topoeval batch`: serial vs a 2-process pool vs a 2-worker Dask LocalCluster.

Workload (issue 6): 256 samples of 8 x 64 x 64 float32 (smooth random fields: Gaussian-filtered
white noise) with three reconstructions (SZ3 at 1e-2 and 1e-3, ZFP at 1e-3, each sample
compressed on its own), every metric of `compare` per sample.  The three ways run side by
side in one process, interleaved over the repeats; the script prints the median samples/s
(reconstruction-sample rows per second) of each and the ratios, and checks that the rows are
identical.

Every process uses one BLAS thread (see the top of the script).  The Dask cluster is started (and its workers warmed up on a tiny batch) before the timing, as
for a user with an existing cluster; its start-up time is printed separately.  The process pool
forks workers from the warm parent for every batch (that cost is inside its timing).

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

        from dask.distributed import Client, LocalCluster

        t = time.perf_counter()
        cluster = LocalCluster(n_workers=args.jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        address = cluster.scheduler_address
        t_start = time.perf_counter() - t
        t = time.perf_counter()
        import h5py

        from topoeval.compare import compare

        with h5py.File(small, "r") as f:  # every worker loads the kernels for this signature
            a, b = f["orig"][0], f["sz3/1e-2"][0]
        with Client(address) as client:
            client.run(compare, a, b, **opts)
        batch("/orig", recons, file=small, scheduler=address, jobs=args.jobs, **opts)
        t_warm = time.perf_counter() - t
        print(f"dask: LocalCluster start {t_start:.1f} s, first batch (workers load the kernels) "
              f"{t_warm:.1f} s - not in the timings below")

        ways = {
            "serial": dict(jobs=1),
            f"-j {args.jobs}": dict(jobs=args.jobs),
            f"dask {args.jobs} workers": dict(jobs=args.jobs, scheduler=address),
        }
        times: dict[str, list[float]] = {k: [] for k in ways}
        cpu: dict[str, list[float]] = {k: [] for k in ways}
        rows = {}
        client = Client(address)
        for _ in range(args.repeats):
            for name, kw in ways.items():
                c0 = _cpu_seconds(client)
                t = time.perf_counter()
                res = batch("/orig", recons, file=path, **kw, **opts)
                times[name].append(time.perf_counter() - t)
                cpu[name].append(_cpu_seconds(client) - c0)
                rows[name] = res.rows
                assert res.n_failed == 0, res.rows[0]
        client.close()
        cluster.close()

    n_rows = 3 * args.samples
    identical = all(r == rows["serial"] for r in rows.values())
    load = os.getloadavg()[0]
    print(f"\n{'way':<20} {'median s':>10} {'samples/s':>10} {'vs serial':>10} {'CPU ms/row':>11}")
    med = {k: statistics.median(v) for k, v in times.items()}
    mcpu = {k: statistics.median(v) * 1e3 / n_rows for k, v in cpu.items()}
    for k, v in med.items():
        print(f"{k:<20} {v:>10.2f} {n_rows / v:>10.1f} {med['serial'] / v:>9.2f}x {mcpu[k]:>11.1f}")
    pool, dask = list(med)[1], list(med)[2]
    print(f"\n{pool} / serial throughput: {med['serial'] / med[pool]:.2f}x (target >= 1.7x)")
    print(f"dask / pool throughput:  {med[pool] / med[dask]:.2f} (target >= 0.8)")
    print(f"rows identical in all three: {identical}")
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} cores.  CPU ms/row counts this "
          "process, its pool workers and the Dask workers; on an idle machine with jobs cores the "
          f"wall-time ratio tends to jobs x (serial CPU / parallel CPU): pool "
          f"{args.jobs * mcpu['serial'] / mcpu[pool]:.2f}x, dask {args.jobs * mcpu['serial'] / mcpu[dask]:.2f}x")


def _cpu_seconds(client) -> float:
    """CPU seconds used so far by this process, its finished children and the Dask workers."""
    import resource

    own = time.process_time()
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers = sum(client.run(time.process_time).values())
    return own + ch.ru_utime + ch.ru_stime + workers


if __name__ == "__main__":
    main()

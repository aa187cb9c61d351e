"""Morse segmentation: topoeval's Numba kernels vs a vectorised NumPy version, cells per second.

Run:  python benchmarks/bench_segmentation.py [--repeat 5] [--shapes 2048x2048,256x256x256]
                                              [--connectivity full] [--jobs N]

For each float32 field (a smooth sum of waves plus noise, so that it has many extrema and
long steepest paths) it times, in the same run and interleaved:

- ``numpy``        the steepest neighbour of every cell by one shifted comparison of the padded
                   array per neighbour offset, then the labels by pointer doubling
                   (``lab = lab[lab]`` until nothing changes)
- ``topoeval 1``   ``te.morse_segmentation(a, jobs=1)``
- ``topoeval N``   the same in N threads (default: the cores this process may use)

and prints the median wall time of each (and, for the one-thread cases, the thread's CPU
time, far less noisy on a loaded machine), the cells per second and the ratios numpy /
topoeval.  Both implementations are checked to give the same labels before timing.  Compare
ratios from one run, not times across runs.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np

import topoeval as te
from topoeval.segmentation.morse import check_jobs, neighbour_offsets


def field(shape, seed=0):
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(0, 6 * np.pi, n, dtype=np.float32) for n in shape], indexing="ij")
    a = np.zeros(shape, np.float32)
    for k, g in enumerate(grids):
        a += np.sin(g * (1 + 0.3 * k) + k)
    return a + 0.05 * rng.standard_normal(shape).astype(np.float32)


def numpy_segmentation(a, connectivity="full"):
    """(ascending, descending) by shifted comparisons and pointer doubling (plain NumPy)."""
    a = np.asarray(a, dtype=np.float64)
    d, n = a.ndim, a.size
    idx = np.arange(n, dtype=np.int64).reshape(a.shape)
    out = []
    for sign, pad in ((1.0, -np.inf), (-1.0, np.inf)):
        v = np.pad(a, 1, constant_values=pad)
        ip = np.pad(idx, 1, constant_values=-1)
        best_v, best_i = a.copy(), idx.copy()
        for o in neighbour_offsets(d, connectivity):
            sl = tuple(slice(1 + k, 1 + k + s) for k, s in zip(o, a.shape))
            w, j = v[sl], ip[sl]
            if sign > 0:
                better = (w > best_v) | ((w == best_v) & (j > best_i))
            else:
                better = (w < best_v) | ((w == best_v) & (j < best_i) & (j >= 0))
            best_v = np.where(better, w, best_v)
            best_i = np.where(better, j, best_i)
        lab = best_i.ravel()
        while True:
            nxt = lab[lab]
            if np.array_equal(nxt, lab):
                break
            lab = nxt
        out.append(lab.reshape(a.shape))
    return tuple(out)


def timed(fn, repeat):
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.thread_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--shapes", default="2048x2048,256x256x256")
    p.add_argument("--connectivity", default="full", choices=["full", "face", "freudenthal"])
    p.add_argument("--jobs", type=int, default=None)
    args = p.parse_args()
    jobs = check_jobs(args.jobs)
    conn = args.connectivity
    te.morse_segmentation(np.zeros((3, 3)), conn)  # compile outside the timings
    print(f"connectivity {conn}; {jobs} threads for 'topoeval N'; median of {args.repeat}")
    print(f"{'shape':>14} {'case':>12} {'wall s':>8} {'cpu s':>8} {'Mcells/s':>9} {'numpy/this':>10}")
    for spec in args.shapes.split(","):
        shape = tuple(int(s) for s in spec.split("x"))
        a = field(shape)
        ref = numpy_segmentation(a, conn)
        seg = te.morse_segmentation(a, conn, jobs=jobs)
        assert np.array_equal(ref[0], seg.ascending) and np.array_equal(ref[1], seg.descending)
        cases = {
            "numpy": lambda: numpy_segmentation(a, conn),
            "topoeval 1": lambda: te.morse_segmentation(a, conn, jobs=1),
            f"topoeval {jobs}": lambda: te.morse_segmentation(a, conn, jobs=jobs),
        }
        results = {name: [] for name in cases}
        for _, (name, fn) in itertools.product(range(args.repeat), cases.items()):  # interleaved
            results[name].append(timed(fn, 1))
        med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
               for k, v in results.items()}
        base = med["numpy"][0]
        for name, (wall, cpu) in med.items():
            cpu_s = f"{cpu:8.3f}" if not name.endswith(f" {jobs}") or jobs == 1 else "       -"
            print(f"{spec:>14} {name:>12} {wall:8.3f} {cpu_s} {a.size / wall / 1e6:9.1f} {base / wall:10.1f}")


if __name__ == "__main__":
    main()

"""Directional sign loss: topoeval's fused Numba kernels vs the straightforward NumPy version.

Run:  python benchmarks/bench_dsl.py [--repeat 7] [--shapes 64x8x64x64,16x3x256x256] [--jobs 2]
      python benchmarks/bench_dsl.py --compile [--repeat 3]  # first-run compile time of the DSL kernels

For each float32 batch (batch axis 0) it times, in the same run and interleaved:

- ``floor``        one memory-bound pass that only reads both arrays (``np.add(x, y, out=buf)``)
- ``numpy exact``  per axis ``np.diff``, ``np.sign``, ``np.abs``, ``sum`` (per sample)
- ``topoeval exact_dsl``
- ``numpy tanh``   per axis ``np.diff``, ``np.tanh``, ``np.abs``, ``sum`` (per sample)
- ``topoeval dsl`` (tanh), ``dsl`` (softsign), ``dsl_gradient`` (tanh)
- ``torch tanh``   the same NumPy formula in PyTorch (CPU), when torch is installed

and prints the median time of each and the ratios numpy / topoeval and topoeval / floor.
Both implementations are checked to agree before timing.  Every case runs in one thread, so
the CPU time of the thread (``time.thread_time``) is reported beside the wall time (with
``--jobs N`` two more cases run in N threads: compare their wall time only): on a
shared, loaded machine it is far less noisy (a long call is preempted more often than a short
one, which biases wall-time ratios).  Compare ratios from one run, not times across runs.

``--compile`` instead runs ``exact_dsl`` and ``dsl`` on the bundled sample pair (what a first
``topoeval compare`` needs of the DSL) in fresh processes with an empty Numba cache and prints
the compile CPU time of each kernel (self time: the Numba helpers a kernel calls are listed
apart) and the total, medians of ``--repeat`` processes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from topoeval.dsl import dsl, dsl_gradient, exact_dsl

SHARPNESS = 16.0


def numpy_exact(x, y):
    total = np.zeros(x.shape[0])
    for a in range(1, x.ndim):
        dx, dy = np.diff(x, axis=a), np.diff(y, axis=a)
        total += np.abs(np.sign(dx) - np.sign(dy)).sum(axis=tuple(range(1, x.ndim)), dtype=np.float64)
    return total.mean() / 2


def numpy_tanh(x, y, s=SHARPNESS):
    total = np.zeros(x.shape[0])
    for a in range(1, x.ndim):
        dx, dy = np.diff(x, axis=a), np.diff(y, axis=a)
        total += np.abs(np.tanh(s * dx) - np.tanh(s * dy)).sum(axis=tuple(range(1, x.ndim)),
                                                                dtype=np.float64)
    return total.mean() / 2


def torch_tanh_fn():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def run(xt, yt, s=SHARPNESS):
        with torch.no_grad():
            total = torch.zeros(xt.shape[0], dtype=torch.float64)
            for a in range(1, xt.ndim):
                dx, dy = torch.diff(xt, dim=a), torch.diff(yt, dim=a)
                total += (torch.tanh(s * dx) - torch.tanh(s * dy)).abs().sum(
                    dim=tuple(range(1, xt.ndim)), dtype=torch.float64)
            return float(total.mean()) / 2

    return run, torch


def bench(shape, repeat, jobs=1):
    rng = np.random.default_rng(0)
    x = rng.random(shape, dtype=np.float32)
    y = (x + rng.normal(scale=0.05, size=shape)).astype(np.float32)
    # quantised copy with ties, like a compressor's output
    y[: shape[0] // 2] = np.round(y[: shape[0] // 2] * 64) / 64
    buf = np.empty_like(x)
    norm = exact_dsl(x, y, batch_axis=0, normalize=True) / exact_dsl(x, y, batch_axis=0)

    # agreement before timing (also compiles the kernels)
    e = exact_dsl(x, y, batch_axis=0)
    assert abs(e - numpy_exact(x, y)) <= 1e-9 * e, (e, numpy_exact(x, y))
    t = dsl(x, y, batch_axis=0, sharpness=SHARPNESS, normalize=False)
    # float32 data are computed in float32 (like NumPy): the float32 bound of tests/naive.dsl_f32_atol
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    bound = 2.0 ** -20 * (numpy_tanh(x64, np.zeros_like(x64)) + numpy_tanh(y64, np.zeros_like(y64)))
    assert abs(t - numpy_tanh(x64, y64)) <= bound, (t, numpy_tanh(x64, y64), bound)
    del x64, y64
    dsl(x, y, batch_axis=0, sign="softsign")
    dsl_gradient(x, y, batch_axis=0, sharpness=SHARPNESS)

    cases = {
        "floor np.add(x, y, out)": lambda: np.add(x, y, out=buf),
        "numpy exact": lambda: numpy_exact(x, y),
        "topoeval exact_dsl": lambda: exact_dsl(x, y, batch_axis=0, jobs=1),
        "numpy tanh": lambda: numpy_tanh(x, y),
        "topoeval dsl tanh": lambda: dsl(x, y, batch_axis=0, sharpness=SHARPNESS, jobs=1),
        "topoeval dsl softsign": lambda: dsl(x, y, batch_axis=0, sign="softsign", jobs=1),
        "topoeval dsl_gradient tanh": lambda: dsl_gradient(x, y, batch_axis=0, sharpness=SHARPNESS),
    }
    if jobs > 1:  # wall time only: thread_time counts the calling thread alone
        cases[f"exact_dsl jobs={jobs}"] = lambda: exact_dsl(x, y, batch_axis=0, jobs=jobs)
        cases[f"dsl tanh jobs={jobs}"] = lambda: dsl(x, y, batch_axis=0, sharpness=SHARPNESS, jobs=jobs)
    tt = torch_tanh_fn()
    if tt is not None:
        run, torch = tt
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        got = run(xt, yt)
        assert abs(got - t) <= 1e-3 * t, (got, t)
        cases["torch tanh (1 thread)"] = lambda: run(xt, yt)
    wall = {k: [] for k in cases}
    cpu = {k: [] for k in cases}
    for _ in range(repeat):  # interleaved, so that load changes hit every case alike
        for k, fn in cases.items():
            c0, t0 = time.thread_time(), time.perf_counter()
            fn()
            t1, c1 = time.perf_counter(), time.thread_time()
            wall[k].append(t1 - t0)
            cpu[k].append(c1 - c0)
    medw = {k: statistics.median(v) for k, v in wall.items()}
    medc = {k: statistics.median(v) for k, v in cpu.items()}
    mb = 2 * x.nbytes / 1e6
    print(f"\nshape {shape} float32, batch_axis=0, {mb:.0f} MB read per pass "
          f"(normalized exact DSL {e * norm:.4f}), medians of {repeat}")
    print(f"{'':30s} {'cpu ms':>9s} {'vs floor':>9s} {'wall ms':>9s} {'vs floor':>9s}")
    fk = "floor np.add(x, y, out)"
    for k in cases:
        print(f"{k:30s} {medc[k] * 1e3:9.2f} {medc[k] / medc[fk]:8.2f}x"
              f" {medw[k] * 1e3:9.2f} {medw[k] / medw[fk]:8.2f}x")
    for label, med in (("cpu", medc), ("wall", medw)):
        print(f"[{label}] numpy / topoeval: exact {med['numpy exact'] / med['topoeval exact_dsl']:.1f}x,"
              f" tanh {med['numpy tanh'] / med['topoeval dsl tanh']:.1f}x;"
              f" topoeval exact_dsl / floor {med['topoeval exact_dsl'] / med[fk]:.2f}x")
    return medc, medw


def _compile_child():
    """In a fresh process: compile what a compare of the sample pair needs, print CPU s as JSON."""
    from numba.core import event

    stack = []  # [start, time of nested compiles]
    self_time = defaultdict(float)

    class Timer(event.Listener):
        def on_start(self, ev):
            stack.append([time.thread_time(), 0.0])

        def on_end(self, ev):
            start, nested = stack.pop()
            total = time.thread_time() - start
            if stack:
                stack[-1][1] += total
            self_time[ev.data["dispatcher"].py_func.__qualname__] += total - nested

    event.register("numba:compile", Timer())
    root = Path(__file__).resolve().parents[1] / "sample_data"
    x, y = np.load(root / "shallow_water.npy"), np.load(root / "shallow_water_sz3_1e-2.npy")
    t0 = time.process_time()
    exact_dsl(y, x, normalize=False)
    dsl(y, x, normalize=False)
    self_time["total (process CPU)"] = time.process_time() - t0
    print(json.dumps(self_time))


def bench_compile(repeat):
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="topoeval-numba-cache-") as cache:
            out = subprocess.run([sys.executable, __file__, "--_compile_child"], capture_output=True, text=True,
                                 env=dict(os.environ, NUMBA_CACHE_DIR=cache), check=True).stdout
        runs.append(json.loads(out.splitlines()[-1]))
    names = sorted({k for r in runs for k in r}, key=lambda k: -statistics.median(r.get(k, 0.0) for r in runs))
    print(f"first-run compile of the DSL kernels (exact_dsl + dsl on the sample pair, float32), CPU s, "
          f"median of {repeat} fresh processes (load {os.getloadavg()[0]:.1f})")
    for k in names:
        print(f"  {k:40s} {statistics.median(r.get(k, 0.0) for r in runs):6.2f}")


def main():
    if sys.argv[1:] == ["--_compile_child"]:
        return _compile_child()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--shapes", default="64x8x64x64,16x3x256x256")
    p.add_argument("--jobs", type=int, default=1, help="also time exact_dsl and dsl with this many threads")
    p.add_argument("--compile", action="store_true",
                   help="time the first-run compile instead (--repeat fresh processes)")
    args = p.parse_args()
    if args.compile:
        return bench_compile(args.repeat)
    for spec in args.shapes.split(","):
        bench(tuple(int(v) for v in spec.split("x")), args.repeat, args.jobs)


if __name__ == "__main__":
    main()

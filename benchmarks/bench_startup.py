"""Start-up of the command line: `topoeval --help`, and `topoeval compare` on the bundled sample pair
with a cold Numba cache (first run after install: every kernel compiled and cached) and warm.

Each run is a fresh process.  The cold run uses an empty NUMBA_CACHE_DIR (so the cache of the
working tree is left alone); the warm runs reuse it.  Printed: wall time and CPU time (user + sys of
the child) per run, and their medians.

    python benchmarks/bench_startup.py                 # 1 cold + 7 warm runs
    python benchmarks/bench_startup.py --warm 15 --breakdown
    python benchmarks/bench_startup.py --warm 3 --serial  # cold: parallel compile vs one process

``--breakdown`` also compiles the kernels of the cold ``compare`` once more in a fresh process with
an empty cache and lists the compile time of each kernel (self time: a kernel that calls another
one compiles it inside its own typing, that time is counted for the callee) with its signatures.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAIR = ["sample_data/shallow_water.npy", "sample_data/shallow_water_sz3_1e-2.npy"]

# what a warm `compare` spends before and besides the computation, each in a fresh process
BREAKDOWN = {
    "python": [sys.executable, "-c", "pass"],
    "numpy": [sys.executable, "-c", "import numpy"],
    "numba": [sys.executable, "-c", "import numba"],
    "compare --metrics pointwise (no Numba)": [sys.executable, "-m", "topoeval", "compare", *PAIR, "--metrics", "pointwise"],
    # Numba's first dispatch fills its registries (and imports scipy.linalg for BLAS)
    "compare --metrics dsl (Numba, 2 kernels)": [sys.executable, "-m", "topoeval", "compare", *PAIR, "--metrics", "dsl"],
    "scipy.optimize (no longer imported by a small compare)": [sys.executable, "-c", "import scipy.optimize"],
}


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall s, child CPU s, return code) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-400:]}")
    return wall, cpu, proc.returncode


def kernel_times(cmd_args: list[str], env: dict[str, str]) -> list[tuple[str, int, float]]:
    """[(kernel, signatures compiled, self seconds)] of one cold run of ``topoeval <cmd_args>``.

    Runs this file as a child (``--_child``) that listens to Numba's ``numba:compile`` events.
    """
    proc = subprocess.run([sys.executable, __file__, "--_child", *cmd_args], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode:
        sys.exit(f"kernel breakdown failed: {proc.stderr[-600:]}")
    import json

    return [tuple(r) for r in json.loads(proc.stdout.splitlines()[-1])]


def _child(cmd_args: list[str]) -> None:
    """Run ``topoeval <cmd_args>`` in this process and print the per-kernel compile times as JSON."""
    import json
    from collections import defaultdict

    from numba.core import event

    stack: list[list[float]] = []  # [start, time of nested compiles]
    self_time: dict[str, float] = defaultdict(float)
    sigs: dict[str, int] = defaultdict(int)

    class Timer(event.Listener):
        def on_start(self, ev):
            stack.append([time.perf_counter(), 0.0])

        def on_end(self, ev):
            start, nested = stack.pop()
            total = time.perf_counter() - start
            if stack:
                stack[-1][1] += total
            fn = ev.data["dispatcher"].py_func
            name = f"{fn.__module__.replace('topoeval.', '')}.{fn.__qualname__}"
            self_time[name] += total - nested
            sigs[name] += 1

    event.register("numba:compile", Timer())
    from topoeval.cli import main as cli_main

    try:
        cli_main(cmd_args)
    except SystemExit as exc:
        if exc.code:
            raise
    rows = sorted(((k, sigs[k], self_time[k]) for k in self_time), key=lambda r: -r[2])
    print(json.dumps(rows), file=sys.__stdout__, flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--_child":
        sys.stdout = sys.stderr  # the command's own output; the JSON goes to the real stdout
        try:
            _child(sys.argv[2:])
        finally:
            sys.stdout = sys.__stdout__
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warm", type=int, default=7, help="warm runs (default 7)")
    ap.add_argument("--breakdown", action="store_true", help="also time the fixed import costs")
    ap.add_argument("--serial", action="store_true",
                    help="also a cold run compiling in one process (TOPOEVAL_COMPILE_JOBS=1)")
    args = ap.parse_args()

    exe = [sys.executable, "-m", "topoeval"]
    with tempfile.TemporaryDirectory(prefix="topoeval-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        # as in a normal installation, Python may cache bytecode (some sandboxes set this variable,
        # which recompiles every edited module of topoeval on every run)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        print(f"machine load average: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); "
              "wall / CPU (user + sys) in s")
        rows = []
        helps = [timed([*exe, "--help"], env) for _ in range(5)]
        rows.append(("topoeval --help (median of 5)", statistics.median(h[0] for h in helps),
                     statistics.median(h[1] for h in helps)))
        if args.serial:  # the same first run compiling in one process (TOPOEVAL_COMPILE_JOBS=1)
            with tempfile.TemporaryDirectory(prefix="topoeval-numba-cache-") as cache1:
                wall, cpu, _ = timed([*exe, "compare", *PAIR],
                                     dict(env, NUMBA_CACHE_DIR=cache1, TOPOEVAL_COMPILE_JOBS="1"))
            rows.append(("compare, cold Numba cache, compiled in 1 process", wall, cpu))
        wall, cpu, _ = timed([*exe, "compare", *PAIR], env)
        rows.append(("compare, cold Numba cache (first run)", wall, cpu))
        warm = [timed([*exe, "compare", *PAIR], env) for _ in range(args.warm)]
        rows.append((f"compare, warm (median of {args.warm})", statistics.median(w[0] for w in warm),
                     statistics.median(w[1] for w in warm)))
        rows.append((f"compare, warm (min of {args.warm})", min(w[0] for w in warm), min(w[1] for w in warm)))
        if args.breakdown:
            for name, cmd in BREAKDOWN.items():
                runs = [timed(cmd, env) for _ in range(5)]
                rows.append((f"  {name} (median of 5)", statistics.median(r[0] for r in runs),
                             statistics.median(r[1] for r in runs)))
    width = max(len(r[0]) for r in rows)
    for name, wall, cpu in rows:
        print(f"{name:<{width}}  {wall:6.2f}  {cpu:6.2f}")
    if args.breakdown:
        with tempfile.TemporaryDirectory(prefix="topoeval-numba-cache-") as cache:
            # one process, so that every compile is seen
            env = dict(os.environ, NUMBA_CACHE_DIR=cache, TOPOEVAL_COMPILE_JOBS="1")
            t = time.perf_counter()
            kernels = kernel_times(["compare", *PAIR], env)
            wall = time.perf_counter() - t
        total = sum(r[2] for r in kernels)
        print(f"\ncold compare again, kernel by kernel: {wall:.2f} s wall, {total:.2f} s compiling "
              f"{sum(r[1] for r in kernels)} signatures of {len(kernels)} kernels (self time, s)")
        width = max((len(r[0]) for r in kernels), default=0)
        for name, n, sec in kernels:
            print(f"  {name:<{width}}  {n:3d}  {sec:6.2f}")


if __name__ == "__main__":
    main()

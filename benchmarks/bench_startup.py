"""Start-up of the command line: `topoeval --help`, and `topoeval compare` on the bundled sample pair
with a cold Numba cache (first run after install: every kernel compiled and cached) and warm.

Each run is a fresh process.  Each cold run uses its own empty NUMBA_CACHE_DIR (so the cache of
the working tree is left alone); the warm runs reuse the last one.  Printed: wall time and CPU
time (user + sys of the child and the compile processes it forks) per run, and their medians;
CPU time is the figure to compare on a loaded machine.

    python benchmarks/bench_startup.py                  # 3 cold + 5 warm runs, top-20 kernels
    python benchmarks/bench_startup.py --cold 1 --warm 3 --top 0
    python benchmarks/bench_startup.py --jobs 2         # force 2 compile processes (an idle box)
    python benchmarks/bench_startup.py --parts          # compile CPU of each warm-up part
    python benchmarks/bench_startup.py --imports        # fixed import costs of a warm run
    python benchmarks/bench_startup.py --serial         # also a cold run compiling in one process

The kernel list (``--top N``, default 20) comes from one more cold ``compare`` in a fresh
process compiling everything itself (TOPOEVAL_COMPILE_JOBS=1): the CPU time of each kernel's
compile (self time: a kernel that calls another one compiles it inside its own typing, that time
is counted for the callee; Numba's own helpers - np.empty, error formatting - are listed by name
and, in brackets, under the topoeval kernel that made Numba compile them).  ``--parts`` gives
the figures ``topoeval._kernels._compile`` balances the compile processes by.
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


def kernel_times(cmd_args: list[str], env: dict[str, str]) -> list[tuple[str, int, float, str]]:
    """[(kernel, signatures compiled, self CPU s, topoeval kernel that needed it)] of one cold run
    of ``topoeval <cmd_args>``, largest first.

    Runs this file as a child (``--_child``) that listens to Numba's ``numba:compile`` events.
    """
    # the topoeval of this tree (a clone), not an installed one: the child's sys.path[0] is benchmarks/
    env = dict(env, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p))
    proc = subprocess.run([sys.executable, __file__, "--_child", *cmd_args], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode:
        sys.exit(f"kernel breakdown failed: {proc.stderr[-600:]}")
    import json

    return [tuple(r) for r in json.loads(proc.stdout.splitlines()[-1])]


def _kernel_name(dispatcher) -> str:
    fn = dispatcher.py_func
    return f"{fn.__module__.replace('topoeval.', '')}.{fn.__qualname__}"


def _child(cmd_args: list[str]) -> None:
    """Run ``topoeval <cmd_args>`` in this process and print the per-kernel compile times as JSON."""
    import json
    from collections import defaultdict

    from numba.core import event

    stack: list[list] = []  # [start CPU, CPU of nested compiles, kernel]
    self_time: dict[tuple[str, str], float] = defaultdict(float)
    sigs: dict[tuple[str, str], int] = defaultdict(int)

    class Timer(event.Listener):
        def on_start(self, ev):
            stack.append([time.process_time(), 0.0, _kernel_name(ev.data["dispatcher"])])

        def on_end(self, ev):
            start, nested, name = stack.pop()
            total = time.process_time() - start
            if stack:
                stack[-1][1] += total
            # Numba's helpers are charged to the outermost topoeval kernel being compiled
            owner = next((s[2] for s in stack if not s[2].startswith("numba.")), "")
            key = (name, owner if name.startswith("numba.") else "")
            self_time[key] += total - nested
            sigs[key] += 1

    event.register("numba:compile", Timer())
    from topoeval.cli import main as cli_main

    try:
        cli_main(cmd_args)
    except SystemExit as exc:
        if exc.code:
            raise
    rows = sorted(((k[0], sigs[k], self_time[k], k[1]) for k in self_time), key=lambda r: -r[2])
    print(json.dumps(rows), file=sys.__stdout__, flush=True)


_PART_CODE = """
import sys, time
import numpy as np
from numba import njit
njit(lambda x: x + 1)(1)  # Numba's own start (its first compile), not counted for the part
from topoeval._kernels._compile import _compare_tasks, _crop
from topoeval.compare.options import check_options
x, y = (np.load(f) for f in {pair!r})
opts = check_options()
tasks = _compare_tasks(_crop(x), _crop(y), {{}}, opts, list(opts["metrics"]))
t = time.process_time()
tasks[sys.argv[1]]()
print(time.process_time() - t)
"""


def part_times(env: dict[str, str]) -> dict[str, float]:
    """CPU s of each warm-up part of a default compare, each in a fresh process with an empty cache."""
    out = {}
    for part in ("diagrams", "distances", "dsl", "critical_points"):
        with tempfile.TemporaryDirectory(prefix="topoeval-numba-cache-") as cache:
            proc = subprocess.run([sys.executable, "-c", _PART_CODE.format(pair=PAIR), part], cwd=ROOT,
                                  env=dict(env, NUMBA_CACHE_DIR=cache), capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"part {part} failed: {proc.stderr[-600:]}")
        out[part] = float(proc.stdout.split()[-1])
    return out


def _median_row(name: str, runs: list[tuple[float, float, int]]) -> tuple[str, float, float]:
    return (f"{name} (median of {len(runs)})", statistics.median(r[0] for r in runs),
            statistics.median(r[1] for r in runs))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--_child":
        sys.stdout = sys.stderr  # the command's own output; the JSON goes to the real stdout
        try:
            _child(sys.argv[2:])
        finally:
            sys.stdout = sys.__stdout__
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cold", type=int, default=3, help="cold runs, each with its own empty cache (default 3)")
    ap.add_argument("--warm", type=int, default=5, help="warm runs (default 5)")
    ap.add_argument("--top", type=int, default=20, help="kernels listed from a one-process cold run (0: none)")
    ap.add_argument("--jobs", type=int, help="TOPOEVAL_COMPILE_JOBS for the cold runs (default: automatic)")
    ap.add_argument("--parts", action="store_true", help="compile CPU of each warm-up part")
    ap.add_argument("--imports", "--breakdown", action="store_true", help="also time the fixed import costs")
    ap.add_argument("--serial", action="store_true",
                    help="also a cold run compiling in one process (TOPOEVAL_COMPILE_JOBS=1)")
    args = ap.parse_args()

    exe = [sys.executable, "-m", "topoeval"]
    env = dict(os.environ)
    # as in a normal installation, Python may cache bytecode (some sandboxes set this variable,
    # which recompiles every edited module of topoeval on every run)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.jobs:
        env["TOPOEVAL_COMPILE_JOBS"] = str(args.jobs)
    print(f"machine load average: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); compile processes: "
          f"{env.get('TOPOEVAL_COMPILE_JOBS', 'automatic (1 + idle cores)')}; wall / CPU (user + sys) in s")
    rows = []
    with tempfile.TemporaryDirectory(prefix="topoeval-numba-cache-") as root:
        caches = [os.path.join(root, f"cold{i}") for i in range(max(1, args.cold))]
        helps = [timed([*exe, "--help"], dict(env, NUMBA_CACHE_DIR=caches[0])) for _ in range(5)]
        rows.append(_median_row("topoeval --help", helps))
        if args.serial:  # the same first run compiling in one process (TOPOEVAL_COMPILE_JOBS=1)
            one = timed([*exe, "compare", *PAIR], dict(env, NUMBA_CACHE_DIR=os.path.join(root, "serial"),
                                                       TOPOEVAL_COMPILE_JOBS="1"))
            rows.append(("compare, cold Numba cache, compiled in 1 process", one[0], one[1]))
        cold = []
        for cache in caches:
            cold.append(timed([*exe, "compare", *PAIR], dict(env, NUMBA_CACHE_DIR=cache)))
            print(f"  cold run {len(cold)}: {cold[-1][0]:.2f} s wall, {cold[-1][1]:.2f} s CPU", flush=True)
        rows.append(_median_row("compare, cold Numba cache (first run)", cold))
        warm_env = dict(env, NUMBA_CACHE_DIR=caches[-1])
        warm = [timed([*exe, "compare", *PAIR], warm_env) for _ in range(args.warm)]
        if warm:
            rows.append(_median_row("compare, warm", warm))
            rows.append((f"compare, warm (min of {args.warm})", min(w[0] for w in warm), min(w[1] for w in warm)))
        if args.imports:
            for name, cmd in BREAKDOWN.items():
                rows.append(_median_row(f"  {name}", [timed(cmd, warm_env) for _ in range(5)]))
    width = max(len(r[0]) for r in rows)
    for name, wall, cpu in rows:
        print(f"{name:<{width}}  {wall:6.2f}  {cpu:6.2f}")
    if args.parts:
        parts = part_times(env)
        print(f"\nwarm-up parts, compile CPU s in a fresh process each (after Numba's start): "
              + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()) + f"; sum {sum(parts.values()):.2f}")
    if args.top > 0:
        with tempfile.TemporaryDirectory(prefix="topoeval-numba-cache-") as cache:
            # one process, so that every compile is seen
            kenv = dict(env, NUMBA_CACHE_DIR=cache, TOPOEVAL_COMPILE_JOBS="1")
            t = time.perf_counter()
            kernels = kernel_times(["compare", *PAIR], kenv)
            wall = time.perf_counter() - t
        total = sum(r[2] for r in kernels)
        helpers = sum(r[2] for r in kernels if r[0].startswith("numba."))
        print(f"\ncold compare in one process, kernel by kernel: {wall:.2f} s wall, {total:.2f} s CPU compiling "
              f"{sum(r[1] for r in kernels)} signatures of {len(kernels)} kernels ({helpers:.2f} s in Numba's "
              f"own helpers); the top {args.top}: signatures, self CPU s")
        width = max((len(r[0]) + len(r[3]) + 3 for r in kernels[: args.top]), default=0)
        for name, n, sec, owner in kernels[: args.top]:
            label = f"{name} [{owner}]" if owner else name
            print(f"  {label:<{width}}  {n:3d}  {sec:6.2f}")


if __name__ == "__main__":
    main()

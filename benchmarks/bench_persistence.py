"""Benchmark: 0-D persistence of grid arrays, topoeval vs cripser vs gudhi, side by side.

Each (method, field) runs in a fresh subprocess: it loads the array from a temporary .npy,
warms up (topoeval: loads its Numba kernels from the cache on a tiny array), then times
``--repeats`` calls.  Peak memory is the growth of the peak resident set during one call
beyond the resident set before it (the input is already loaded), via /proc/self/clear_refs.
Printed: median wall seconds and speed-up of topoeval over each method (their median /
ours), the same for CPU time (process time: steadier than wall time on a loaded machine),
extra bytes per cell, and the number of pairs (a sanity check that all agree).

    python benchmarks/bench_persistence.py            # 1024^2, 2048^2, 128^3, 256^3
    python benchmarks/bench_persistence.py --quick    # 256^2, 512^2, 32^3, 64^3
    python benchmarks/bench_persistence.py --all-dims # every dimension 0..d-1 (issue 19):
        topoeval persistence_diagrams(a) vs cripser computePH_T(a, maxdim=d-1) vs gudhi
    python benchmarks/bench_persistence.py --all-dims --construction V
        the V-construction: connectivity="face" vs cripser computePH vs gudhi vertices=

gudhi is run only while one call finishes within --gudhi-limit seconds (default 60): a
field where it does not is reported as "> limit" and gudhi is skipped on larger ones.
The script also reports the cold (empty Numba cache) and warm (cached, new process)
latency of a first call on a 256x256 array.
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

import numpy as np

FULL_SIZES = [(1024, 1024), (2048, 2048), (128, 128, 128), (256, 256, 256)]
QUICK_SIZES = [(256, 256), (512, 512), (32, 32, 32), (64, 64, 64)]


# ------------------------------------------------------------------ worker side
def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _method(name: str, vertices: bool = False):
    """The timed call of one method; ``vertices``: the V-construction (all-dims methods only)."""
    if name == "topoeval":
        import topoeval as te

        te.persistence_diagram(np.random.default_rng(0).random((8, 8, 8)))  # load kernels

        def run(a):
            return len(te.persistence_diagram(a))

    elif name == "cripser":
        import cripser

        def run(a):
            res = cripser.computePH_T(a, maxdim=0)
            res = res[res[:, 0] == 0]
            return int(np.count_nonzero(res[:, 1] != res[:, 2]))

    elif name == "gudhi":
        import gudhi

        def run(a):
            cc = gudhi.CubicalComplex(top_dimensional_cells=a)
            cc.persistence()
            return len(cc.persistence_intervals_in_dimension(0))

    elif name == "topoeval-all":
        import topoeval as te

        conn = "face" if vertices else "full"
        te.persistence_diagrams(np.random.default_rng(0).random((8, 8, 8)), connectivity=conn)  # load kernels

        def run(a):
            return sum(len(d) for d in te.persistence_diagrams(a, connectivity=conn).values())

    elif name == "cripser-all":
        import cripser

        ph = cripser.computePH if vertices else cripser.computePH_T

        def run(a):
            res = ph(a, maxdim=a.ndim - 1)
            return int(np.count_nonzero(res[:, 1] != res[:, 2]))

    elif name == "gudhi-all":
        import gudhi

        def run(a):
            if vertices:
                cc = gudhi.CubicalComplex(vertices=a)
            else:
                cc = gudhi.CubicalComplex(top_dimensional_cells=a)
            return sum(1 for _, (b, d) in cc.persistence(min_persistence=-1) if b != d)

    else:
        raise SystemExit(f"unknown method {name!r}")
    return run


def worker(method: str, path: str, repeats: int, limit: float) -> None:
    a = np.load(path)
    vertices = method.endswith(":V")
    run = _method(method.removesuffix(":V"), vertices)
    times, cpu, extra = [], [], []
    n_pairs = None
    spent = 0.0
    for _ in range(repeats):
        rss0 = _status("VmRSS")
        ok = _reset_peak()
        t0, c0 = time.perf_counter(), time.process_time()
        n_pairs = run(a)
        dt = time.perf_counter() - t0
        cpu.append(time.process_time() - c0)
        times.append(dt)
        extra.append(_status("VmHWM") - rss0 if ok else float("nan"))
        spent += dt
        if spent + dt > limit:  # another repeat would overrun the limit
            break
    print(json.dumps({"times": times, "cpu": cpu, "extra": extra, "n_pairs": n_pairs}))


# ------------------------------------------------------------------ parent side
def make_field(kind: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.random(shape)
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(rng.standard_normal(shape), sigma=4.0)


def worker_timeout(limit: float) -> float:
    """The child's timeout for a per-method ``limit`` in s, clamped to what ``subprocess`` accepts.

    With captured output the wait is a ``poll`` in int milliseconds: beyond 2**31 ms (24.8
    days) ``subprocess.run`` raises ``OverflowError: timeout is too large``.
    """
    return min(limit * 1.5 + 30, 2.0e6)


def run_worker(method: str, path: str, repeats: int, limit: float, env=None):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", method, path, str(repeats), str(limit)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=worker_timeout(limit), env=env)
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0:
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def latency(size: int = 256) -> dict:
    """Cold (empty Numba cache) and warm (cached, new process) first-call latency."""
    code = (
        "import time, numpy as np; a = np.random.default_rng(0).random(({0}, {0})); "
        "t = time.perf_counter(); import topoeval as te; te.persistence_diagram(a); "
        "t1 = time.perf_counter(); te.persistence_diagram(a); t2 = time.perf_counter(); "
        "print(t1 - t, t2 - t1)"
    ).format(size)
    res = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold", "warm"):
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
            first, again = map(float, out.stdout.split())
            res[label] = first
            res["steady"] = again
    return res


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--methods", default="topoeval,cripser,gudhi")
    ap.add_argument("--fields", default="noise,smooth")
    ap.add_argument("--gudhi-limit", type=float, default=60.0)
    ap.add_argument("--limit", type=float, default=300.0, help="time limit per method and field")
    ap.add_argument("--sizes", default=None, help="e.g. 2048x2048,256x256x256")
    ap.add_argument("--no-latency", action="store_true")
    ap.add_argument("--all-dims", action="store_true", help="every homology dimension, not only 0")
    ap.add_argument("--construction", choices=("T", "V"), default="T",
                    help="with --all-dims: T (top cells; cripser computePH_T, gudhi top_dimensional_cells) "
                    "or V (vertices; cripser computePH, gudhi vertices)")
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        method, path, repeats, limit = args.worker
        worker(method, path, int(repeats), float(limit))
        return

    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.sizes:
        sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    methods = args.methods.split(",")
    if args.all_dims:
        methods = [m + "-all" for m in methods]
    what = f", {args.construction}-construction" if args.all_dims else ""
    print(f"# python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; median of {args.repeats} runs, each method in a "
          f"fresh process{what}")
    header = (f"{'field':8} {'shape':>14} {'method':9} {'median s':>9} {'speed-up':>9} "
              f"{'CPU s':>8} {'CPU ratio':>9} {'extra B/cell':>12} {'pairs':>9}")
    print(header)
    print("-" * len(header))
    gudhi_ok = True
    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.fields.split(","):
            gudhi_ok = True
            for shape in sizes:
                a = make_field(kind, shape)
                path = os.path.join(tmp, "a.npy")
                np.save(path, a)
                ncell = a.size
                del a
                results = {}
                for m in methods:
                    if m.startswith("gudhi") and not gudhi_ok:
                        results[m] = "skipped"
                        continue
                    limit = args.gudhi_limit if m.startswith("gudhi") else args.limit
                    tag = m + (":V" if args.all_dims and args.construction == "V" else "")
                    r = run_worker(tag, path, args.repeats, limit)
                    if r is None or (m.startswith("gudhi") and min(r["times"]) > limit):
                        results[m] = f"> {limit:.0f} s"
                        if m.startswith("gudhi"):
                            gudhi_ok = False
                        continue
                    results[m] = r
                ours = results.get("topoeval-all" if args.all_dims else "topoeval")
                t_ours = statistics.median(ours["times"]) if isinstance(ours, dict) else None
                c_ours = statistics.median(ours["cpu"]) if isinstance(ours, dict) else None
                for m in methods:
                    r = results[m]
                    name = "x".join(map(str, shape))
                    if not isinstance(r, dict):
                        print(f"{kind:8} {name:>14} {m:9} {r:>9}")
                        continue
                    t = statistics.median(r["times"])
                    c = statistics.median(r["cpu"])
                    mine = m.startswith("topoeval")
                    ratio = f"{t / t_ours:8.2f}x" if t_ours and not mine else ""
                    cratio = f"{c / c_ours:8.2f}x" if c_ours and not mine else ""
                    per_cell = max(r["extra"]) / ncell
                    print(f"{kind:8} {name:>14} {m:9} {t:9.3f} {ratio:>9} {c:8.3f} {cratio:>9} "
                          f"{per_cell:12.1f} {r['n_pairs']:9d}")
                    if not mine and t_ours:
                        summary.append((kind, name, m, t / t_ours, c / c_ours))
                counts = {r["n_pairs"] for r in results.values() if isinstance(r, dict)}
                if len(counts) > 1:
                    print(f"  !! the methods disagree on the number of pairs: {sorted(counts)}")
    if summary:
        print("\nspeed-up of topoeval (their median / ours), wall clock and CPU time:")
        for m in sorted({s[2] for s in summary}):
            for label, col in (("wall", 3), ("CPU ", 4)):
                vals = [s[col] for s in summary if s[2] == m]
                print(f"  vs {m:8} {label}: min {min(vals):.2f}x, median {statistics.median(vals):.2f}x, "
                      f"max {max(vals):.2f}x over {len(vals)} fields")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    if not args.no_latency:
        lat = latency()
        print(f"\nlatency of a first call on 256x256 in a new process (incl. importing topoeval): "
              f"cold (empty Numba cache) {lat['cold']:.2f} s, warm (cached) {lat['warm']:.2f} s; "
              f"a second call {lat['steady'] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()

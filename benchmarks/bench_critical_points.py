"""Benchmark of topoeval.critical_points: classification throughput (cells/s) on 2048^2 and 256^3.

TTK is not available from Python here, so the references run in the same process are
* a vectorised NumPy implementation of the same classification (shifted comparisons + the same
  component lookup table; 2-D and 3-D Freudenthal, where a table fits), checked to agree;
* scipy.ndimage local-extrema detection (``a == maximum_filter(a, 3)`` | minimum) - extrema
  only, no saddles, no tie-breaking: the cheapest thing a user might do instead;
* the pure-Python reference of tests/naive.py on a small array (cells/s extrapolated).

topoeval runs with ``jobs=1`` (one core, as the references).  Every number is the median of ``--repeat`` runs after one warm-up call (Numba compiled and
cached).  "cpu" is the process CPU time, i.e. the throughput of one core even when the machine
is shared; "wall" is the elapsed time.  Usage::

    python benchmarks/bench_critical_points.py            # 2048^2 and 256^3
    python benchmarks/bench_critical_points.py --quick    # 512^2 and 64^3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _timeit(fn, repeat, warm=None):
    (warm or fn)()  # warm-up (compilation, caches), on a small array when given
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return float(np.median(walls)), float(np.median(cpus))


def numpy_classify(a, connectivity):
    """Vectorised NumPy version: neighbour masks by shifted comparisons, then the kernel's table."""
    from topoeval._kernels._critical import type_table
    from topoeval.critical_points import _link

    offs, _, _, _, lut, _ = _link(a.ndim, connectivity)
    if lut.size == 0:
        return None
    flat_before = [tuple(o) < (0,) * a.ndim for o in offs]  # earlier in C order
    pad = np.pad(a, 1, mode="edge")
    inside = np.pad(np.ones(a.shape, dtype=bool), 1)
    lo = np.zeros(a.shape, dtype=np.int64)
    valid = np.zeros(a.shape, dtype=np.int64)
    for k, o in enumerate(offs):
        sl = tuple(slice(1 + d, 1 + d + n) for d, n in zip(o, a.shape))
        y, ok = pad[sl], inside[sl]
        below = (y <= a) if flat_before[k] else (y < a)
        lo |= (below & ok).astype(np.int64) << k
        valid |= ok.astype(np.int64) << k
    cm = lut[lo]
    cp = lut[valid ^ lo]
    return type_table(max(2, a.ndim))[cm, cp] if a.ndim > 1 else None


def scipy_extrema(a):
    from scipy.ndimage import maximum_filter, minimum_filter

    return (maximum_filter(a, size=3, mode="nearest") == a) | (minimum_filter(a, size=3, mode="nearest") == a)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="512^2 and 64^3 instead of 2048^2 and 256^3")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", choices=("2d", "3d"), help="run only the 2-D or the 3-D fields")
    args = ap.parse_args(argv)

    from scipy.ndimage import gaussian_filter

    import topoeval as te
    from topoeval.critical_points import critical_point_errors, critical_points

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from naive import naive_critical_points

    rng = np.random.default_rng(0)
    shapes = [(512, 512), (64, 64, 64)] if args.quick else [(2048, 2048), (256, 256, 256)]
    if args.only:
        shapes = [s for s in shapes if len(s) == int(args.only[0])]
    print(f"topoeval {te.__version__}, numpy {np.__version__}; median of {args.repeat}; cells/s from CPU time")
    print(f"{'field':<24}{'method':<28}{'wall s':>9}{'cpu s':>9}{'Mcells/s':>10}{'ratio':>8}")
    for shape in shapes:
        noise = rng.normal(size=shape).astype(np.float32)
        smooth = gaussian_filter(noise, 4.0, mode="wrap").astype(np.float32)
        for fname, a in (("smooth", smooth), ("white noise", noise)):
            label = f"{fname} {'x'.join(map(str, shape))}"
            n = a.size
            bases = {}
            for conn in ("full", "freudenthal"):
                w, c = _timeit(lambda a=a, conn=conn: critical_points(a, connectivity=conn, jobs=1), args.repeat)
                base = bases[conn] = c
                print(f"{label:<24}{'topoeval ' + conn:<28}{w:9.3f}{c:9.3f}{n / c / 1e6:10.1f}{1.0:8.2f}")
                ref = numpy_classify(a, conn)
                if ref is not None:
                    same = np.array_equal(ref, critical_points(a, connectivity=conn).types)
                    w, c = _timeit(lambda a=a, conn=conn: numpy_classify(a, conn), max(1, args.repeat // 2), warm=lambda: None)
                    print(f"{'':<24}{'numpy ' + conn + (' (agrees)' if same else ' (DIFFERS)'):<28}"
                          f"{w:9.3f}{c:9.3f}{n / c / 1e6:10.1f}{c / base:8.2f}")
            w, c = _timeit(lambda a=a: scipy_extrema(a), max(1, args.repeat // 2), warm=lambda: None)
            print(f"{'':<24}{'scipy extrema only':<28}{w:9.3f}{c:9.3f}{n / c / 1e6:10.1f}{c / bases['full']:8.2f}")
            small = a[(slice(0, 48),) * a.ndim] if a.ndim == 2 else a[(slice(0, 12),) * a.ndim]
            c0 = time.process_time()
            naive_critical_points(small, "freudenthal")
            c0 = time.process_time() - c0
            print(f"{'':<24}{'naive Python (freudenthal)':<28}{'':>9}{'':>9}{small.size / c0 / 1e6:10.3f}"
                  f"{(n / (small.size / c0)) / bases['freudenthal']:8.0f}")
            r = a + np.float32(0.01) * rng.normal(size=shape).astype(np.float32)
            w, c = _timeit(lambda a=a, r=r: critical_point_errors(a, r, jobs=1), max(1, args.repeat // 2))
            print(f"{'':<24}{'critical_point_errors':<28}{w:9.3f}{c:9.3f}{n / c / 1e6:10.1f}")
            w, c = _timeit(
                lambda a=a, r=r: critical_point_errors(a, r, min_persistence=0.01, jobs=1),
                1,
                warm=lambda s=small: critical_point_errors(s, s, min_persistence=0.01),
            )
            print(f"{'':<24}{'  with min_persistence':<28}{w:9.3f}{c:9.3f}{n / c / 1e6:10.1f}")
    print("ratio = CPU time of the method / CPU time of topoeval with the same connectivity "
          "(full for the scipy row; naive: extrapolated from a 48^2 / 12^3 corner); "
          "> 1: topoeval is faster")


if __name__ == "__main__":
    main()

"""Cost of `topoeval sweep`: serial vs a 2-process pool, and where the time goes.

Workload: the bundled shallow-water sample (8 x 64 x 64 float32), smooth2d (128 x 128
float32) and a seeded smooth random 24 x 96 x 96 float32 field, compressors sz3, zfp and
quantize at absolute bounds 1e-2, 1e-3, 1e-4 (27 runs),
every metric of `compare` plus W2.  Serial and ``jobs=2`` sweeps alternate over the repeats;
the script prints the median wall time of each, the ratio, and checks that the rows (times
left out) are identical.  It also prints, for one serial sweep, the share of the run time spent
compressing + decompressing (the rest is the topology), and the median compress time the
sweep records next to a direct call of the library (pysz / zfpy) on the same array, the
wrapper's overhead.

    python benchmarks/bench_sweep.py               # 3 repeats (about a minute on 2 cores)
    python benchmarks/bench_sweep.py --repeat 1
    python benchmarks/bench_sweep.py --readme      # only the README's figures on SZ3 at 1e-4
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import math
import statistics
import time
from pathlib import Path

import numpy as np

import topoeval as te

ROOT = Path(__file__).resolve().parents[1]
TIMES = ("compress_time", "decompress_time")


def _rows(res):
    return [{k: ("NaN" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()
             if k not in TIMES} for r in res.rows]


def _direct(name, a, bound, repeat=7):
    if name == "sz3":
        import pysz

        def run():
            cfg = pysz.szConfig(a.shape)
            cfg.errorBoundMode = pysz.szErrorBoundMode.ABS
            cfg.absErrorBound = bound
            return pysz.sz.compress(a, cfg)
    else:
        import zfpy

        def run():
            return zfpy.compress_numpy(a, tolerance=bound)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        run()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def readme_figures() -> None:
    """The README's explanation of the shallow-water sweep: where SZ3's damage at 1e-4 lies."""
    from scipy.ndimage import maximum_filter, minimum_filter

    from topoeval.compressors import get_compressor

    a, b = np.load(ROOT / "sample_data" / "shallow_water.npy"), 1e-4
    c = get_compressor("sz3")
    r = c.decompress(c.compress(a, b), a.shape, a.dtype)
    x, y = a.astype(np.float64), r.astype(np.float64)
    mis = tie = zero = n = 0.0
    for ax in range(a.ndim):
        dx, dy = np.diff(x, axis=ax), np.diff(y, axis=ax)
        m = np.abs(np.sign(dx) - np.sign(dy)) / 2
        mis, tie = mis + m.sum(), tie + m[dx == 0].sum()
        zero, n = zero + np.count_nonzero(dx == 0), n + dx.size
    spread = maximum_filter(a, 3, mode="nearest") - minimum_filter(a, 3, mode="nearest")
    fp = te.critical_point_errors(a, r).positions("false_positives")
    print(f"SZ3 1e-4: exact DSL {mis:g}, {tie / mis:.0%} of it on ties of the original "
          f"({zero / n:.0%} of its differences are 0)")
    print(f"SZ3 1e-4: {len(fp)} false positives, {(spread[tuple(fp.T)] < 2 * b).mean():.0%} of them where "
          f"the 3x3x3 neighbourhood varies by < 2 x bound ({(spread < 2 * b).mean():.0%} of the cells)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--readme", action="store_true", help="print the README's figures and stop")
    args = ap.parse_args()
    if args.readme:
        readme_figures()
        return
    fields = {name: np.load(ROOT / "sample_data" / f"{name}.npy") for name in ("shallow_water", "smooth2d")}
    from scipy.ndimage import gaussian_filter

    noise = np.random.default_rng(20251129).standard_normal((24, 96, 96))
    fields["smooth3d"] = gaussian_filter(noise, 3.0, mode="wrap").astype(np.float32)
    kw = {"compressors": ["sz3", "zfp", "quantize"], "bounds": [1e-2, 1e-3, 1e-4]}
    te.sweep({"warm": fields["smooth2d"][:16, :16]}, compressors=["sz3"], bounds=[1e-2])  # compile
    walls = {1: [], 2: []}
    ref = None
    serial = None
    for _ in range(args.repeat):
        for jobs in (1, 2):
            t = time.perf_counter()
            res = te.sweep(fields, jobs=jobs, **kw)
            walls[jobs].append(time.perf_counter() - t)
            rows = _rows(res)
            if ref is None:
                ref = rows
            assert rows == ref, "rows differ between runs"
            if jobs == 1:
                serial = res
    m1, m2 = statistics.median(walls[1]), statistics.median(walls[2])
    n = len(serial)
    print(f"{n} runs, {args.repeat} repeat(s), rows identical serially and with jobs=2")
    print(f"{'way':<12}{'median wall s':>14}{'runs/s':>10}")
    print(f"{'serial':<12}{m1:>14.2f}{n / m1:>10.2f}")
    print(f"{'jobs=2':<12}{m2:>14.2f}{n / m2:>10.2f}")
    print(f"speed-up jobs=2 / serial: {m1 / m2:.2f}x")
    codec = sum(r["compress_time"] + r["decompress_time"] for r in serial.rows)
    print(f"share of the serial wall time spent (de)compressing: {codec / m1:.1%} "
          "(the rest: compare's metrics and W2)")
    print(f"\n{'field':<15}{'compressor':<11}{'bound':>8}{'sweep ms':>10}{'direct ms':>11}{'ratio':>8}")
    for r in serial.rows:
        if r["compressor"] not in ("sz3", "zfp") or r["bound"] != 1e-3:
            continue
        d = _direct(r["compressor"], fields[r["field"]], r["bound"])
        print(f"{r['field']:<15}{r['compressor']:<11}{r['bound']:>8g}{1e3 * r['compress_time']:>10.2f}"
              f"{1e3 * d:>11.2f}{r['compress_time'] / d:>8.2f}")
    print("(sweep ms: the compress time one run recorded; direct ms: median of 7 direct calls)")


if __name__ == "__main__":
    main()

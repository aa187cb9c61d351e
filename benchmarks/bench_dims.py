"""What ``compare(dims=...)`` costs: the persistence part of every homology dimension against
dimension 0 alone, and against the same numbers from gudhi (its cubical complex, POT's exact
Wasserstein through ``gudhi.wasserstein``, hera's bottleneck), in one run.

Fields: smooth (Gaussian-filtered noise) originals and their quantised copies (a stand-in for an
error-bounded compressor at bound ``--bound`` of the value range), both filtrations.  Every case is
timed ``--repeats`` times; medians of wall and CPU time and the ratios are printed.  The values of
topoeval and gudhi are checked to agree (relative 1e-9) before any time is reported.

    python benchmarks/bench_dims.py                       # 256x256, 512x512, 32^3, 48^3
    python benchmarks/bench_dims.py --sizes 128x128 --repeats 1 --no-gudhi
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _field(shape, seed=0):
    from scipy.ndimage import gaussian_filter

    a = gaussian_filter(np.random.default_rng(seed).standard_normal(shape), 2.0)
    return (a - a.min()) / (a.max() - a.min())


def _timed(fn, repeats):
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def _topoeval(x, y, dims):
    import topoeval as te

    row = te.compare(x, y, metrics="persistence", filtration="both", dims=dims, jobs=1).to_row()
    return {k: v for k, v in row.items() if k.startswith(("wasserstein_", "bottleneck_"))}


def _gudhi(x, y, dims):
    """The same row from gudhi: both filtrations, every dimension, W1 (internal_p 2) and bottleneck."""
    import gudhi
    from gudhi.wasserstein import wasserstein_distance

    out = {}
    for filt, sign in (("sublevel", 1.0), ("superlevel", -1.0)):
        per = []
        for a in (x, y):
            cc = gudhi.CubicalComplex(top_dimensional_cells=sign * a)
            cc.compute_persistence()
            per.append({k: cc.persistence_intervals_in_dimension(k).reshape(-1, 2) for k in dims})
        for k in dims:
            da, db = per[0][k], per[1][k]
            suffix = filt if k == 0 else f"{filt}_dim{k}"
            fin_a, fin_b = da[np.isfinite(da[:, 1])], db[np.isfinite(db[:, 1])]
            ess = [abs(float(p[~np.isfinite(p[:, 1])][0, 0]) - float(q[~np.isfinite(q[:, 1])][0, 0]))
                   for p, q in [(da, db)] if k == 0]  # one essential class each in dimension 0
            w = wasserstein_distance(fin_a, fin_b, order=1.0, internal_p=2.0) + sum(ess)
            b = max([gudhi.bottleneck_distance(fin_a, fin_b, 0.0), *ess])
            out[f"wasserstein_{suffix}"], out[f"bottleneck_{suffix}"] = w, b
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="256x256,512x512,32x32x32,48x48x48")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bound", type=float, default=1e-2, help="quantisation step, relative to the range")
    ap.add_argument("--no-gudhi", action="store_true")
    args = ap.parse_args()
    print(f"{'case':>12} {'dims':>7} {'topoeval wall/cpu s':>20} {'dim0 only cpu s':>16} "
          f"{'x dim0':>7} {'gudhi cpu s':>12} {'gudhi/ours':>10}")
    for spec in args.sizes.split(","):
        shape = tuple(int(s) for s in spec.split("x"))
        x = _field(shape)
        y = np.round(x / args.bound) * args.bound
        dims = tuple(range(len(shape)))
        _topoeval(x[(slice(0, 8),) * len(shape)], y[(slice(0, 8),) * len(shape)], dims)  # compile
        w_all, c_all, ours = _timed(lambda x=x, y=y, dims=dims: _topoeval(x, y, dims), args.repeats)
        _, c_0, _ = _timed(lambda x=x, y=y: _topoeval(x, y, 0), args.repeats)
        g_cpu = ratio = float("nan")
        if not args.no_gudhi:
            _, g_cpu, ref = _timed(lambda x=x, y=y, dims=dims: _gudhi(x, y, dims), args.repeats)
            for k, v in ref.items():
                assert abs(ours[k] - v) <= 1e-9 * max(1.0, abs(v)), (spec, k, ours[k], v)
            ratio = g_cpu / c_all
        print(f"{spec:>12} {','.join(map(str, dims)):>7} {w_all:9.3f} / {c_all:8.3f} {c_0:16.3f} "
              f"{c_all / c_0:7.2f} {g_cpu:12.3f} {ratio:10.2f}")


if __name__ == "__main__":
    main()

"""Exact Wasserstein / bottleneck distances: topoeval vs gudhi-POT, hera and gudhi's bottleneck.

One command, side by side in one run, on the 0-D sublevel diagrams of

* smooth fields (Gaussian-filtered noise) vs their SZ3 / ZFP / quantised reconstructions
  (256^2, 512^2, 1024^2, 64^3, 128^3), and
* white noise vs perturbed white noise (128^2 .. 512^2).

Every reference runs in its own subprocess (POT aborts the whole process with std::bad_alloc on
big inputs; a timeout reports "timeout").  gudhi-POT is skipped when the dense (n+1) x (m+1)
cost matrix would exceed --pot-max-points points per diagram.  topoeval runs in this process
after a warm-up (Numba compilation excluded).  Printed: medians over --repeat runs (topoeval:
up to 7 runs while they take under 2 s in all), the
speed-up ratios (reference time / topoeval time) and the agreement (relative difference; hera
is a (1 + delta)-approximation, delta = 0.01).

    python benchmarks/bench_distances.py            # full run (tens of minutes on 2 cores)
    python benchmarks/bench_distances.py --quick    # a few small cases, one repeat
    python benchmarks/bench_distances.py --large 50000   # only: two ~50,000-point diagrams
    python benchmarks/bench_distances.py --large 50000 --check   # and each solved a second way
    python benchmarks/bench_distances.py --huge --cache /tmp/huge.npz   # 2 x ~3M points, delta = 1e-3

``--large N`` times topoeval alone (the dense form would need 8 N^2 bytes, 20 GB at 50,000) on
two white-noise sublevel diagrams of about N points each (a noise field vs a perturbed copy,
and two independent fields), W1 and W2, each in a fresh subprocess: wall time, CPU time and
the peak resident memory of that process (ru_maxrss, which includes Python, NumPy, SciPy and
the Numba kernels, ~0.2 GB).  No other exact solver fits in memory there: ``--check`` solves each
pair a second time from another start of the duals with other candidate pairs (12 neighbours,
"split" start; a different path to the optimum, the same certificate) and prints the relative
difference of the two values (its time is not counted).
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

# ----------------------------------------------------------------------------- worker (subprocess)


def _worker(path: str, method: str, order: float) -> None:
    data = np.load(path)
    a, b = data["a"], data["b"]
    if method == "pot":
        from gudhi.wasserstein import wasserstein_distance

        f = lambda: wasserstein_distance(a, b, order=order, internal_p=2.0)  # noqa: E731
    elif method.startswith("hera"):  # "hera" (delta 0.01) or "hera:<delta>"
        from gudhi.hera import wasserstein_distance

        delta = float(method.split(":")[1]) if ":" in method else 0.01
        f = lambda: wasserstein_distance(a, b, order=order, internal_p=2.0, delta=delta)  # noqa: E731
    elif method == "gudhi-bottleneck":
        import gudhi

        f = lambda: gudhi.bottleneck_distance(a, b, 0)  # noqa: E731
    else:
        raise SystemExit(f"unknown method {method}")
    t, c = time.perf_counter(), time.process_time()
    value = f()
    dt, cpu = time.perf_counter() - t, time.process_time() - c
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"value": float(value), "time": dt, "cpu": cpu, "rss": rss}))


def _run_reference(path: str, method: str, order: float, timeout: float):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", path, method, str(order)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timeout"
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"crashed ({tail[:40]})"
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return res, ""


def _large_worker(n_points: int, kind: str, order: float) -> None:
    import resource

    import topoeval as te

    side = int(round(np.sqrt(n_points / 0.1116)))  # 2-D white noise: ~0.1116 points per pixel
    rng = np.random.default_rng(5)
    f = rng.normal(size=(side, side))
    g = f + 0.1 * rng.normal(size=f.shape) if kind == "perturbed" else rng.normal(size=f.shape)
    a, b = _diagram(f), _diagram(g)
    te.wasserstein_distance(a[:400], b[:400], order=order)  # compile (cached) kernels
    t, c = time.perf_counter(), time.process_time()
    value = te.wasserstein_distance(a, b, order=order, internal_p=2.0)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    check = None
    if os.environ.get("TOPOEVAL_BENCH_CHECK"):
        # no other exact solver fits: solve again from another start with other candidate pairs
        # (a different path to the optimum, the same certificate) and compare the values
        from topoeval.distances._metric import _diag_dist, _pair_dist
        from topoeval.distances._sparse import sparse_wasserstein

        mx, my = sparse_wasserstein(a, b, order, 2.0, k=12, init="split")
        i = np.flatnonzero(mx >= 0)
        w = (_diag_dist(a[mx < 0], 2.0) ** order).sum() + (_diag_dist(b[my < 0], 2.0) ** order).sum()
        w += (_pair_dist(a[i, 0] - b[mx[i], 0], a[i, 1] - b[mx[i], 1], 2.0) ** order).sum()
        check = abs(w ** (1.0 / order) - value) / value
    print(json.dumps({"points": f"{len(a)}/{len(b)}", "side": side, "value": value, "time": wall,
                      "cpu": cpu, "rss_mb": rss, "check": check}))


def _run_large(n_points: int, timeout: float, check: bool) -> None:
    if check:
        os.environ["TOPOEVAL_BENCH_CHECK"] = "1"
    print(f"{'case':40s} {'points':>13s} {'metric':>6s} {'wall s':>8s} {'CPU s':>8s} {'peak RSS MB':>11s}"
          + (f" {'rel.diff':>9s}" if check else ""))
    for kind in ("perturbed", "independent"):
        for metric, order in (("W1", 1.0), ("W2", 2.0)):
            cmd = [sys.executable, os.path.abspath(__file__), "--large-worker", str(n_points), kind, str(order)]
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"{kind:40s} {'':>13s} {metric:>6s} timeout ({timeout:.0f} s)")
                continue
            if out.returncode != 0:
                print(f"{kind:40s} {'':>13s} {metric:>6s} crashed: {(out.stderr.strip().splitlines() or ['?'])[-1][:60]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            name = f"noise {r['side']}x{r['side']} vs " + ("noise+0.1" if kind == "perturbed" else "independent noise")
            print(f"{name:40s} {r['points']:>13s} {metric:>6s} {r['time']:8.2f} {r['cpu']:8.2f} {r['rss_mb']:11.0f}"
                  + (f" {r['check']:9.1e}" if r["check"] is not None else ""))
            sys.stdout.flush()


def _huge_pair(side: int, cache: str):
    """The sublevel diagrams of a side^3 smooth field + 5 % noise and of its 0.02-quantised copy
    (issue 18's 512^3 case: ~2.8 million points), cached in ``cache`` (.npz)."""
    if cache and os.path.exists(cache):
        data = np.load(cache)
        return data["a"], data["b"], float(data["t_diagrams"])
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(18)
    f = gaussian_filter(rng.standard_normal((side,) * 3, dtype=np.float32), sigma=8.0)
    f = (f - f.min()) / (f.max() - f.min())
    f += 0.05 * rng.standard_normal(f.shape, dtype=np.float32)
    g = (np.round(f / 0.02) * 0.02).astype(np.float32)
    t = time.perf_counter()
    a = _diagram(f)
    del f
    b = _diagram(g)
    t = time.perf_counter() - t
    if cache:
        np.savez(cache, a=a, b=b, t_diagrams=t)
    return a, b, t


def _reset_peak() -> float:
    """Reset this process's peak RSS (Linux: /proc/self/clear_refs) and return the RSS now, MB,
    so that each solve's peak is its own, not the diagrams' generation or an earlier solve's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _status_mb("VmRSS")


def _status_mb(key: str) -> float:
    """VmHWM (the peak RSS since the last reset) or VmRSS from /proc/self/status, MB (nan elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _run_huge(side: int, tolerance: float, cache: str, exact: bool, timeout: float = 900.0,
              references: bool = True, bottleneck: bool = True) -> None:
    """W1 and W2 of the huge pair within a certified relative ``tolerance`` (and, with ``exact``,
    the exact solve for comparison): wall and CPU time, rounds (auction phases), bounds, the peak
    RSS of each solve (reset before it; the RSS before it beside);
    beside hera (gudhi.hera at delta = ``tolerance``, a subprocess, ``timeout``) and the exact
    bottleneck distance (topoeval, gudhi's in a subprocess); ``references=False``
    (--no-references): topoeval alone; ``bottleneck=False`` (--no-bottleneck): no bottleneck
    distance (minutes at 512^3)."""
    import topoeval as te

    a, b, t_dgm = _huge_pair(side, cache)
    print(f"{side}^3 field + 5% noise vs 0.02-quantised: {len(a)} / {len(b)} finite points "
          f"({len(np.unique(b, axis=0))} unique in the copy); diagrams {t_dgm:.0f} s; "
          f"load average {os.getloadavg()[0]:.1f}")
    for order in (1.0, 2.0):  # compile (cached), the auction too (>= 20,000 points)
        te.wasserstein_distance(a[:12000], b[:12000], order=order, tolerance=tolerance)
    print(f"{'metric':>6s} {'tolerance':>9s} {'wall s':>8s} {'CPU s':>8s} {'rounds':>6s} {'W':>12s} "
          f"{'lower':>12s} {'gap':>8s} {'peak RSS MB':>11s} {'RSS before':>10s}")
    for order in (1.0, 2.0):
        for tol in ((tolerance, 0.0) if exact else (tolerance,)):
            rounds = []
            before = _reset_peak()
            t, c = time.perf_counter(), time.process_time()
            r = te.wasserstein_distance(a, b, order=order, tolerance=tol,
                                        progress=lambda e: rounds.append(e) if e["stage"] == "round" else None)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            rss = _status_mb("VmHWM")
            print(f"{'W%g' % order:>6s} {tol:9.0e} {wall:8.1f} {cpu:8.1f} {len(rounds):6d} {r.value:12.6g} "
                  f"{r.lower:12.6g} {r.gap:8.1e} {rss:11.0f} {before:10.0f}")
            sys.stdout.flush()
        if references:
            _huge_reference(a, b, f"hera:{tolerance:g}", order, timeout, r.value)
    print(f"load average {os.getloadavg()[0]:.1f}")
    if not bottleneck:
        return
    before = _reset_peak()
    t, c = time.perf_counter(), time.process_time()
    try:
        bott = te.bottleneck_distance(a, b)
    except te.InsufficientMemoryError as exc:
        print(f"{'B':>6s} {'exact':>9s} {exc}")
        return
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    rss = _status_mb("VmHWM")
    print(f"{'B':>6s} {'exact':>9s} {wall:8.1f} {cpu:8.1f} {'':6s} {bott:12.6g} {bott:12.6g} {0:8.1e} {rss:11.0f} "
          f"{before:10.0f}")
    if references:
        _huge_reference(a, b, "gudhi-bottleneck", np.inf, timeout, bott)


def _huge_reference(a, b, method, order, timeout, ours):
    """One reference solver on the huge pair in a subprocess: its wall / CPU time, peak RSS and
    the relative difference from topoeval's value (or why it stopped)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pair.npz")
        np.savez(path, a=a, b=b)
        res, why = _run_reference(path, method, order, timeout)
    if res is None:
        print(f"{method:>16s} W{order:g}: {why} (timeout {timeout:.0f} s)")
    else:
        print(f"{method:>16s} W{order:g}: wall {res['time']:.1f} s, CPU {res['cpu']:.1f} s, peak RSS "
              f"{res['rss']:.0f} MB, value {res['value']:.6g} (rel. diff {res['value'] / ours - 1:+.1e})")
    sys.stdout.flush()


# ----------------------------------------------------------------------------- inputs


def _smooth(shape, seed):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    f = gaussian_filter(rng.normal(size=shape), sigma=3.0 if len(shape) == 2 else 2.0)
    f = (f - f.min()) / (f.max() - f.min())
    return f.astype(np.float32)


def _reconstruct(field, kind, rel):
    bound = rel * float(field.max() - field.min())
    if kind == "sz3":
        import pysz

        config = pysz.szConfig(field.shape)
        config.errorBoundMode = pysz.szErrorBoundMode.ABS
        config.absErrorBound = bound
        comp, _ = pysz.sz.compress(field, config)
        out, _ = pysz.sz.decompress(np.frombuffer(bytes(comp), dtype=np.uint8), np.float32, field.shape)
        return np.asarray(out, np.float32).reshape(field.shape)
    if kind == "zfp":
        import zfpy

        return zfpy.decompress_numpy(zfpy.compress_numpy(field, tolerance=bound)).reshape(field.shape)
    if kind == "quant":
        step = 2 * bound
        return (np.round(field / step) * step).astype(np.float32)
    raise ValueError(kind)


def _diagram(field):
    import topoeval as te

    d = np.asarray(te.persistence_diagram(field))
    return d[np.isfinite(d[:, 1])]


def _cases(quick: bool, skip=()):
    if quick:
        smooth = [((256, 256), ("sz3", "zfp", "quant"))]
        noise = [(128, 0.1), (256, 0.1)]
    else:
        smooth = [
            ((256, 256), ("sz3", "zfp", "quant")),
            ((512, 512), ("sz3", "zfp", "quant")),
            ((1024, 1024), ("sz3", "zfp", "quant")),
            ((64, 64, 64), ("sz3", "zfp", "quant")),
            ((128, 128, 128), ("sz3", "zfp")),
        ]
        noise = [(128, 0.1), (256, 0.1), (362, 0.1), (512, 0.1)]
    for shape, kinds in smooth:
        if all(any(t in f"smooth {'x'.join(map(str, shape))} vs {kind}" for t in skip) for kind in kinds):
            continue
        f = _smooth(shape, 1)
        a = _diagram(f)
        for kind in kinds:
            if any(t in f"smooth {'x'.join(map(str, shape))} vs {kind}" for t in skip):
                continue
            g = _reconstruct(f, kind, 1e-3)
            yield f"smooth {'x'.join(map(str, shape))} vs {kind}", a, _diagram(g)
    for n, sigma in noise:
        if any(t in f"noise {n}x{n} vs noise+{sigma}" for t in skip):
            continue
        rng = np.random.default_rng(2)
        f = rng.normal(size=(n, n))
        g = f + sigma * rng.normal(size=f.shape)
        yield f"noise {n}x{n} vs noise+{sigma}", _diagram(f), _diagram(g)


# ----------------------------------------------------------------------------- main


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a few small cases, one repeat")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per reference run")
    ap.add_argument("--pot-max-points", type=int, default=20000,
                    help="skip gudhi-POT above this many points per diagram (dense n*m memory)")
    ap.add_argument("--no-references", action="store_true", help="time topoeval only")
    ap.add_argument("--skip", default="", help="comma-separated substrings of case names to skip, e.g. '128x128x128,512x512 vs'")
    ap.add_argument("--large", type=int, default=0, metavar="N",
                    help="only time two ~N-point noise diagrams (W1, W2; wall, CPU, peak RSS), e.g. 50000")
    ap.add_argument("--check", action="store_true",
                    help="with --large: solve again from another start and print the relative difference")
    ap.add_argument("--huge", type=int, default=0, metavar="SIDE", nargs="?", const=512,
                    help="only: W1, W2 of two ~3-million-point diagrams (SIDE^3 field + 5%% noise vs its "
                         "0.02-quantised copy; SIDE 512 by default) within --tolerance")
    ap.add_argument("--tolerance", type=float, default=1e-3, help="with --huge: the certified relative gap")
    ap.add_argument("--cache", default="", help="with --huge: .npz file caching the two diagrams")
    ap.add_argument("--exact", action="store_true", help="with --huge: also solve exactly (tolerance 0)")
    ap.add_argument("--no-bottleneck", action="store_true", help="with --huge: skip the bottleneck distance")
    args = ap.parse_args(argv)
    if args.huge:
        _run_huge(args.huge, args.tolerance, args.cache, args.exact, args.timeout, not args.no_references,
                  not args.no_bottleneck)
        return
    if args.large:
        _run_large(args.large, max(args.timeout, 600.0), args.check)
        return
    repeat = 1 if args.quick else args.repeat

    import topoeval as te

    te.wasserstein_distance([[0, 1], [0, 2]] * 400, [[0, 1.5]] * 700)  # compile the kernels
    te.bottleneck_distance([[0, 1], [0, 2]] * 400, [[0, 1.5]] * 700)

    header = f"{'case':34s} {'points':>13s} {'metric':>6s} {'topoeval s':>10s} {'reference':>17s} {'ref s':>9s} {'ratio':>7s} {'rel.diff':>9s}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        skip = [t for t in args.skip.split(",") if t]
        for name, a, b in _cases(args.quick, skip):
            path = os.path.join(tmp, "dgms.npz")
            np.savez(path, a=a, b=b)
            pts = f"{len(a)}/{len(b)}"
            for metric, order in (("W1", 1.0), ("W2", 2.0), ("bottl", np.inf)):
                # topoeval is cheap: at least `repeat` runs, more (up to 7) while they take under 2 s
                # in all, so that one descheduled run on the shared machine does not set the figure
                times = []
                while len(times) < repeat or (len(times) < 7 and sum(times) < 2.0):
                    t = time.perf_counter()
                    if order == np.inf:
                        value = te.bottleneck_distance(a, b)
                    else:
                        value = te.wasserstein_distance(a, b, order=order, internal_p=2.0)
                    times.append(time.perf_counter() - t)
                mine = statistics.median(times)
                refs = ["gudhi-bottleneck"] if order == np.inf else ["pot", "hera"]
                if args.no_references:
                    refs = []
                print(f"{name:34s} {pts:>13s} {metric:>6s} {mine:10.3f}", end="" if refs else "\n")
                for k, ref in enumerate(refs):
                    lead = "" if k == 0 else " " * (34 + 1 + 13 + 1 + 6 + 1 + 10)
                    if ref == "pot" and max(len(a), len(b)) > args.pot_max_points:
                        print(f"{lead} {ref:>17s} {'skipped (dense n*m)':>27s}")
                        continue
                    rt, rv, msg = [], None, ""
                    for _ in range(repeat):
                        res, msg = _run_reference(path, ref, order if order != np.inf else 1.0, args.timeout)
                        if res is None:
                            break
                        rt.append(res["time"])
                        rv = res["value"]
                    if rv is None:
                        print(f"{lead} {ref:>17s} {msg:>27s}")
                        continue
                    med = statistics.median(rt)
                    diff = abs(value - rv) / max(abs(rv), 1e-300)
                    print(f"{lead} {ref:>17s} {med:9.3f} {med / mine:6.1f}x {diff:9.1e}")
                sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--large-worker":
        _large_worker(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
    else:
        main()

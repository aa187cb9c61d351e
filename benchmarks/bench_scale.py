"""Benchmark: the block engine (issue 18) - threads, block vs monolithic, big HDF5 files, Dask.

Side by side in one run (medians of --repeats, ratios against the references measured in the
same run; every diagram is checked to be identical to the monolithic one):

1. ``threads``: 2048^2 noise and 256^3 smooth float32 fields - the monolithic engine
   (``jobs=1``, today's kernel), the block engine with ``jobs=1`` on the blocks it uses for
   ``jobs=2``, the block engine with ``jobs=2``, and cripser (``computePH_T``, maxdim 0): wall
   and CPU medians, the ratios of the issue's goals (jobs1/jobs2 wall >= 1.7, block jobs=1 /
   monolithic <= 1.10) in one ``SUMMARY threads`` line per field, the CPU of every block task
   and the jobs=2 wall time those tasks allow (the runner's schedule on 2 idle threads: what a
   loaded machine cannot show).
2. ``blocks``: per-block time (read + sort + union-find), final pairs, reduced-graph nodes
   and edges per block, and the time and size of every merge level: the inputs of the
   projection in docs/scaling.md.
3. ``h5``: an N^3 float32 field (smooth + 5 % noise) in a chunked HDF5 file:
   ``topoeval diagram file.h5:/orig --memory-limit LIMIT -o dgm.npy`` in a subprocess -
   wall time and peak RSS (``--h5-size 1024 --memory-limit 3GB`` is the issue's case).
4. ``compare``: ``topoeval compare pair.h5:/orig pair.h5:/recon --memory-limit 512MB`` (streamed)
   in a measured subprocess; ``compare-stages``: the same call in a process that prints the end
   of every stage (slabs, each diagram, each distance) with wall, CPU and peak RSS.
5. ``bottleneck``: the exact bottleneck distance of the huge diagram pairs that
   ``bench_distances.py --huge`` caches (field vs its 0.02-quantised copy).
6. ``dask``: the same file on a 2-worker LocalCluster (processes) vs 2 threads.

    python benchmarks/bench_scale.py                       # threads, blocks, h5 256^3, dask
    python benchmarks/bench_scale.py --parts threads --repeats 5
    python benchmarks/bench_scale.py --parts h5 --h5-size 1024 --memory-limit 3GB
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

import numpy as np


def _cosine_terms(ndim, seed):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(1, 6, size=ndim), rng.uniform(0, 2 * np.pi, size=ndim)) for _ in range(6)], rng


def smooth_rows(shape, lo, hi, terms):
    """Rows ``[lo, hi)`` (first axis) of the sum of cosines ``terms`` on the whole grid ``shape``."""
    coords = [np.linspace(0, 1, n, dtype=np.float32) for n in shape]
    coords[0] = coords[0][lo:hi]
    axes = np.meshgrid(*coords, indexing="ij", sparse=True)
    out = np.zeros((hi - lo,) + tuple(shape[1:]), dtype=np.float32)
    for f, ph in terms:
        term = np.ones((1,) * len(shape), dtype=np.float32)
        for ax, fi, p in zip(axes, f, ph):
            term = term * np.cos(2 * np.pi * fi * ax + p)
        out += term
    return out


def smooth_field(shape, seed=0, noise=0.05):
    """Sum of a few low-frequency cosines plus ``noise`` white noise (float32)."""
    terms, rng = _cosine_terms(len(shape), seed)
    out = smooth_rows(shape, 0, shape[0], terms)
    out += noise * rng.standard_normal(shape).astype(np.float32)
    return out


def timed(fn, repeats):
    ts, res = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), res


def same(a, b):
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("births", "deaths", "birth_index", "death_index"))


# ------------------------------------------------------------------ 1. threads
def part_threads(repeats, top=False):
    """Monolithic vs block jobs=1 vs block jobs=2 vs cripser: wall and CPU medians, the CPU of
    every block task, and the jobs=2 wall time that the task times allow (critical path).
    ``top``: dimension d-1 (by duality through the same engines) instead of 0; no cripser."""
    from topoeval.persistence import persistence_diagram
    from topoeval.persistence.blocks import available_memory, choose_block_shape

    print(f"## threads{' dim d-1' if top else ''}: jobs 1 vs 2, block vs monolithic (medians; wall s / CPU s)")
    print(f"{'field':<14}{'mono':>12}{'block j1':>12}{'block j2':>12}{'cripser':>12}"
          f"{'j1/j2':>7}{'blk/mono':>9}{'cpu b/m':>8}{'cp j1/j2':>9}{'pairs':>9}  identical")
    persistence_diagram(np.random.default_rng(0).standard_normal((64, 64)), jobs=2, block_shape=(16, 64))
    for name, a in (("2048^2 noise", np.random.default_rng(1).standard_normal((2048, 2048)).astype(np.float32)),
                    ("256^3 smooth", smooth_field((256, 256, 256), seed=2))):
        bs = choose_block_shape(a.shape, 4, "full", 2, available_memory() // 2)
        kw = dict(dim=a.ndim - 1) if top else {}
        (w_m, c_m), ref = timed_cpu(lambda: persistence_diagram(a, jobs=1, **kw), repeats)
        (w_1, c_1), d1 = timed_cpu(lambda: persistence_diagram(a, jobs=1, block_shape=bs, **kw), repeats)
        (w_2, c_2), d2 = timed_cpu(lambda: persistence_diagram(a, jobs=2, block_shape=bs, **kw), repeats)
        tasks, tree, c_run = task_times(lambda: persistence_diagram(a, jobs=1, block_shape=bs, **kw))
        serial = max(0.0, c_run - sum(tasks.values()))  # validation, reading, assembly: one thread
        crit = serial + makespan(tree, tasks, 2)
        t_c = None if top else _cripser(a, repeats)
        ok = same(ref, d1) and same(ref, d2)
        cr = f"{t_c[0]:6.2f}/{t_c[1]:<5.2f}" if t_c is not None else f"{'-':>12}"
        print(f"{name:<14}{w_m:6.2f}/{c_m:<5.2f}{w_1:6.2f}/{c_1:<5.2f}{w_2:6.2f}/{c_2:<5.2f}{cr}"
              f"{w_1 / w_2:7.2f}{w_1 / w_m:9.2f}{c_1 / c_m:8.2f}{c_run / crit:9.2f}{len(ref):9d}  {ok}  (blocks {bs})")
        leaf = [v for t, v in tasks.items() if tree[t][0] == "leaf"]
        merge = [v for t, v in tasks.items() if tree[t][0] == "merge"]
        print(f"   block tasks (CPU, jobs=1): {len(leaf)} blocks median {statistics.median(leaf):.3f} s "
              f"(sum {sum(leaf):.3f}), {len(merge)} merges sum {sum(merge):.3f} s (root {tasks[len(tree) - 1]:.3f}), "
              f"serial rest {serial:.3f} s; critical path on 2 threads {crit:.3f} s")
        print(f"SUMMARY threads{' dim d-1' if top else ''} {name}: jobs1/jobs2 wall {w_1 / w_2:.2f} (goal >= 1.7 "
              f"{'met' if w_1 / w_2 >= 1.7 else 'MISSED'}), block jobs=1/monolithic wall {w_1 / w_m:.2f} "
              f"(goal <= 1.10 {'met' if w_1 / w_m <= 1.10 else 'MISSED'}), CPU {c_1 / c_m:.2f}; "
              f"critical-path estimate of jobs1/jobs2 {c_run / crit:.2f}; load average {os.getloadavg()[0]:.1f}")


def timed_cpu(fn, repeats):
    """Median wall and median process CPU seconds of ``repeats`` calls, and the last result."""
    ws, cs, res = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        res = fn()
        ws.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    return (statistics.median(ws), statistics.median(cs)), res


def task_times(fn):
    """CPU seconds (thread time) of every task of the block engine's tree in one call of ``fn``."""
    from topoeval.persistence import blocks, executors

    times, trees = {}, []
    real_leaf, real_merge, real_tree = executors.leaf_task, executors.merge_task, blocks.merge_tree

    def tree_of(cuts):
        trees.append(real_tree(cuts))
        return trees[-1]

    def timed_task(real, kind):
        def run(*args):
            c0 = time.thread_time()
            out = real(*args)
            box = (tuple(args[1]), tuple(args[2])) if kind == "leaf" else _union(args[0], args[1])
            times[_boxes(trees[-1]).index(box)] = time.thread_time() - c0
            return out
        return run

    executors.leaf_task = timed_task(real_leaf, "leaf")
    executors.merge_task = timed_task(real_merge, "merge")
    blocks.merge_tree = tree_of
    try:
        c0 = time.process_time()
        fn()
        total = time.process_time() - c0
    finally:
        executors.leaf_task, executors.merge_task, blocks.merge_tree = real_leaf, real_merge, real_tree
    return times, trees[-1], total


def _union(g, h):
    return tuple(map(min, g.lo, h.lo)), tuple(map(max, g.hi, h.hi))


def _boxes(tree):
    """The box ``(lo, hi)`` of every task of a merge tree (unique: the task's region)."""
    out = []
    for task in tree:
        if task[0] == "leaf":
            out.append((tuple(task[1]), tuple(task[2])))
        else:
            (la, ha), (lb, hb) = out[task[1]], out[task[2]]
            out.append((tuple(map(min, la, lb)), tuple(map(max, ha, hb))))
    return out


def makespan(tree, cost, jobs):
    """Wall time of the thread runner's schedule (ready merges first, then blocks in order) with
    ``jobs`` threads when every task takes ``cost[task]`` seconds."""
    parent = {}
    for t, task in enumerate(tree):
        if task[0] == "merge":
            parent[task[1]] = parent[task[2]] = t
    leaves = [t for t, task in enumerate(tree) if task[0] == "leaf"]
    done, ready, running, now, nxt = set(), [], [], 0.0, 0
    while len(done) < len(tree):
        while len(running) < jobs and (ready or nxt < len(leaves)):
            if ready:
                t = ready.pop(0)
            else:
                t, nxt = leaves[nxt], nxt + 1
            running.append((now + cost[t], t))
        running.sort()
        now, t = running.pop(0)
        done.add(t)
        p = parent.get(t)
        if p is not None and tree[p][1] in done and tree[p][2] in done:
            ready.append(p)
    return now


def _cripser(a, repeats):
    try:
        import cripser
    except ImportError:
        return None
    a64 = a.astype(np.float64)
    return timed_cpu(lambda: cripser.computePH_T(a64, maxdim=0), max(1, repeats // 2))[0]


# ------------------------------------------------------------------ 2. block statistics
def part_blocks(shape, nblocks):
    from topoeval.persistence import glue
    from topoeval.persistence.blocks import _cuts, merge_tree
    from topoeval.persistence.lazy import BlockReader

    a = smooth_field(shape, seed=3)
    print(f"\n## blocks: {shape} smooth+noise in {nblocks} slabs (one thread)")
    reader = BlockReader(a, a.shape, False)
    step = -(-shape[0] // nblocks)
    tree = merge_tree([_cuts(shape[0], step)] + [[0, n] for n in shape[1:]])
    graphs, t_blocks, rows = {}, [], []
    for t, task in enumerate(tree):
        t0 = time.perf_counter()
        if task[0] == "leaf":
            block = reader.read(task[1], task[2])
            pairs, g, _ = glue.block_pass(block, task[1], a.shape, "full", False)
            t_blocks.append(time.perf_counter() - t0)
            rows.append(("block", int(np.prod(block.shape)), len(pairs[0]), len(g.flat), len(g.ea),
                         t_blocks[-1]))
        else:
            pairs, g = glue.merge(graphs.pop(task[1]), graphs.pop(task[2]), task[3], a.shape, "full", False)
            rows.append(("merge", 0, len(pairs[0]), len(g.flat), len(g.ea), time.perf_counter() - t0))
        graphs[t] = g
    cells = int(np.prod(shape))
    blk = [r for r in rows if r[0] == "block"]
    mer = [r for r in rows if r[0] == "merge"]
    plane = cells // shape[0]
    print(f"per block: {statistics.median(r[1] for r in blk):.0f} cells, median {statistics.median(t_blocks):.3f} s "
          f"({statistics.median(t_blocks) / blk[0][1] * 1e9:.1f} ns/cell), final pairs "
          f"{sum(r[2] for r in blk)} of {sum(r[2] for r in rows)}, reduced nodes median "
          f"{statistics.median(r[3] for r in blk):.0f} ({statistics.median(r[3] for r in blk) / plane:.2f} per "
          f"boundary-plane cell), edges {statistics.median(r[4] for r in blk):.0f}")
    print(f"merges: {len(mer)}, total {sum(r[5] for r in mer):.3f} s, slowest {max((r[5] for r in mer), default=0):.3f} s, "
          f"pairs made final by merges {sum(r[2] for r in mer)}")


# ------------------------------------------------------------------ 3.-6. big files, Dask
def make_h5(path, n, pair=False, chunk=64):
    """An n^3 float32 field (smooth + 5 % noise) written slab by slab into a chunked HDF5 file.

    The cosines are evaluated on the global grid (one continuous field), the noise drawn slab
    after slab from one generator, so memory stays at one slab whatever ``n``.  ``pair``: also
    ``/recon``, the field quantised to a step of 0.02 (what a uniform quantiser leaves).
    """
    import h5py

    tmp = path + ".part"  # an interrupted generation leaves no file that looks complete
    terms, _ = _cosine_terms(3, 4)
    rng = np.random.default_rng(5)
    step = max(1, min(chunk, n))
    with h5py.File(tmp, "w") as f:
        kw = dict(shape=(n, n, n), dtype="f4", chunks=(min(chunk, n),) * 3)
        ds = f.create_dataset("orig", **kw)
        rec = f.create_dataset("recon", **kw) if pair else None
        for i in range(0, n, step):
            j = min(n, i + step)
            sl = smooth_rows((n, n, n), i, j, terms)
            sl += 0.05 * rng.standard_normal(sl.shape, dtype=np.float32)
            ds[i:j] = sl
            if rec is not None:
                rec[i:j] = (np.round(sl / np.float32(0.02)) * np.float32(0.02)).astype(np.float32)
    os.replace(tmp, path)


def data_file(data_dir, n, pair=False):
    """The benchmark's HDF5 field, generated once and kept in ``data_dir`` for later runs."""
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, f"field{n}{'_pair' if pair else ''}.h5")
    if not os.path.exists(path):
        t0 = time.perf_counter()
        make_h5(path, n, pair)
        print(f"(wrote {path}: {os.path.getsize(path) / 1e9:.2f} GB in {time.perf_counter() - t0:.0f} s)")
    return path


_LAUNCHER = ("import json, resource, subprocess, sys, time\n"
             "t = time.perf_counter(); rc = subprocess.call(sys.argv[1:]); w = time.perf_counter() - t\n"
             "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
             "print(json.dumps(dict(rc=rc, wall=w, cpu=r.ru_utime + r.ru_stime, peak=r.ru_maxrss * 1024)))")


def measured(cmd):
    """Run ``cmd`` under a fresh launcher: exit code, wall s, CPU s (it and its children), peak RSS.

    The launcher's only child is ``cmd``, so RUSAGE_CHILDREN is that command's alone (the peak
    is the largest single process: Dask workers are separate processes, see part ``dask``).
    """
    import json

    proc = subprocess.run([sys.executable, "-c", _LAUNCHER, *cmd], capture_output=True, text=True)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["stderr"] = proc.stderr.strip()
    return res


def _summary(part, what, res, goal_peak=None, goal_wall=None, extra=""):
    ok = []
    if goal_peak is not None:
        ok.append(f"peak goal <= {goal_peak / 1e9:.2g} GB {'met' if res['peak'] <= goal_peak else 'MISSED'}")
    if goal_wall is not None:
        ok.append(f"time goal <= {goal_wall:.0f} s {'met' if res['wall'] <= goal_wall else 'MISSED'}")
    err = "" if res["rc"] == 0 else f" FAILED rc {res['rc']}: {res['stderr'][-300:]}"
    print(f"SUMMARY {part}: {what}: wall {res['wall']:.1f} s, CPU {res['cpu']:.1f} s, peak RSS "
          f"{res['peak'] / 1e9:.2f} GB{extra}; {', '.join(ok)}{err}")


def part_h5(n, limit, jobs, data_dir, out_dir):
    """``topoeval diagram file.h5:/orig --memory-limit LIMIT -j JOBS`` in a measured subprocess."""
    path = data_file(data_dir, n)
    out = os.path.join(out_dir, f"dgm{n}.npy")
    cmd = [sys.executable, "-m", "topoeval", "diagram", f"{path}:/orig", "--memory-limit", limit,
           "-j", str(jobs), "-o", out, "--force", "-q"]
    res = measured(cmd)
    pairs = f", {np.load(out, mmap_mode='r').shape[0]} pairs" if res["rc"] == 0 else ""
    goal = n == 1024
    _summary("h5", f"topoeval diagram {n}^3 float32 HDF5 --memory-limit {limit} -j {jobs}", res,
             3.5e9 if goal else None, 180 if goal else None, pairs)
    return path


def part_compare(n, limit, jobs, data_dir, out_dir, tolerance):
    """``topoeval compare f.h5:/orig f.h5:/recon --memory-limit LIMIT`` (streamed) measured."""
    path = data_file(data_dir, n, pair=True)
    out = os.path.join(out_dir, f"cmp{n}.json")
    cmd = [sys.executable, "-m", "topoeval", "compare", f"{path}:/orig", f"{path}:/recon", "--memory-limit", limit,
           "-j", str(jobs), "--format", "json", "-o", out, "--force", "-q"]
    if tolerance:
        cmd += ["--distance-tolerance", str(tolerance)]
    res = measured(cmd)
    extra = ""
    if res["rc"] == 0:
        import json

        d = json.load(open(out))
        m = d["metrics"] if "metrics" in d else d
        extra = f", {_pairs_text(m)}"
    goal = n == 512
    _summary("compare", f"topoeval compare {n}^3 pair streamed --memory-limit {limit} -j {jobs}"
             + (f" --distance-tolerance {tolerance}" if tolerance else ""), res,
             1.2e9 if goal else None, 600 if goal else None, extra)


def part_compare_stages(n, limit, jobs, data_dir, tolerance):
    """The streamed compare of part ``compare`` in a fresh process that reports its stages: wall,
    CPU and peak RSS (sampled every 0.2 s) at the end of the slab stage, of each diagram and of
    each distance, so that what breaks the memory goal can be named."""
    path = data_file(data_dir, n, pair=True)
    cmd = [sys.executable, os.path.abspath(__file__), "--stages-of", path, "--compare-memory-limit", limit,
           "--jobs", str(jobs)] + (["--distance-tolerance", str(tolerance)] if tolerance else [])
    print(f"## compare stages: {n}^3 pair streamed, memory_limit {limit}, jobs {jobs}, tolerance {tolerance}")
    sys.stdout.flush()
    subprocess.run(cmd, check=False)


def compare_stages(path, limit, jobs, tolerance):
    """In this process: ``compare(open_array(path:/orig), open_array(path:/recon), memory_limit=
    limit, jobs=jobs, distance_tolerance=tolerance)`` with a line per stage (see part_compare_stages)."""
    import threading

    import topoeval as te
    import topoeval.distances as dist
    from topoeval.io.opener import open_array

    page = os.sysconf("SC_PAGE_SIZE")

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    state = {"stage": "start", "peak": 0, "t0": time.perf_counter(), "c0": time.process_time()}

    def sample():
        while True:
            state["peak"] = max(state["peak"], rss())
            time.sleep(0.2)

    def enter(stage):
        if stage == state["stage"]:
            return
        state["peak"] = max(state["peak"], rss())
        print(f"  {state['stage']:<36s} ends at wall {time.perf_counter() - state['t0']:7.1f} s, CPU "
              f"{time.process_time() - state['c0']:7.1f} s, peak RSS so far {state['peak'] / 1e9:.2f} GB, "
              f"now {rss() / 1e9:.2f} GB")
        sys.stdout.flush()
        state["stage"] = stage

    for name in ("wasserstein_distance", "bottleneck_distance"):  # the distances have no stage of their own
        def timed_distance(a, b, *args, _f=getattr(dist, name), _name=name, **kw):
            enter(f"{_name} ({len(a)} / {len(b)} points)")
            return _f(a, b, *args, **kw)

        setattr(dist, name, timed_distance)
    threading.Thread(target=sample, daemon=True).start()
    r = te.compare(open_array(f"{path}:/orig"), open_array(f"{path}:/recon"), memory_limit=limit, jobs=jobs,
                   distance_tolerance=tolerance, progress=lambda stage, done, total: enter(stage))
    enter("end")
    row = r.to_row()
    print("  " + ", ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
                           if any(w in k for w in ("wasserstein", "bottleneck", "n_points"))))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"SUMMARY compare stages: wall {time.perf_counter() - state['t0']:.1f} s, CPU "
          f"{time.process_time() - state['c0']:.1f} s, peak RSS {peak:.2f} GB; load average {os.getloadavg()[0]:.1f}")


_BOTTLENECK = ("import resource, sys, time, numpy as np, topoeval as te\n"
               "d = np.load(sys.argv[1]); a, b = d['a'], d['b']\n"
               "te.bottleneck_distance(a[:2000], b[:2000])  # compiled (cached)\n"
               "t, c = time.perf_counter(), time.process_time()\n"
               "v, m = te.bottleneck_distance(a, b, matching=True)\n"
               "print(f'{len(a)} / {len(b)} points ({len(np.unique(b, axis=0))} distinct in the copy): B = {v!r}, '\n"
               "      f'wall {time.perf_counter() - t:.1f} s, CPU {time.process_time() - c:.1f} s, peak RSS '\n"
               "      f'{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB (the process, diagrams '\n"
               "      f'included), matching max cost == B: {m[:, 2].max() == v}')\n")


def part_bottleneck(data_dir, sides=(256, 512)):
    """The exact bottleneck distance of benchmarks/bench_distances.py's huge pairs (a side^3 field
    + 5 % noise vs its 0.02-quantised copy; cached huge_<side>.npz, made by ``bench_distances.py
    --huge side --cache ...``), each in a fresh process: wall, CPU, peak RSS."""
    print("## bottleneck: exact, field vs its 0.02-quantised copy (classes of identical points)")
    for side in sides:
        cache = os.path.join(data_dir, f"huge_{side}.npz")
        if not os.path.exists(cache):
            print(f"  {side}^3: no {cache} (run benchmarks/bench_distances.py --huge {side} --cache {cache})")
            continue
        sys.stdout.write(f"  {side}^3: ")
        sys.stdout.flush()
        subprocess.run([sys.executable, "-c", _BOTTLENECK, cache], check=False)


def _pairs_text(d):
    """The diagram sizes and W1 of a compare JSON, wherever its nesting puts them."""
    flat = {}

    def walk(x, pre=""):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{pre}{k}_" if pre or k not in ("metrics",) else "")
        else:
            flat[pre[:-1]] = x

    walk(d)
    keys = [k for k in flat if "n_points" in k or k.endswith("wasserstein") or "wasserstein_sublevel" in k]
    return ", ".join(f"{k} {flat[k]}" for k in keys[:6])


def part_dask(n, data_dir, repeats, compare_too):
    """The same file on a 2-worker LocalCluster (processes, one thread each) vs 2 threads."""
    import distributed

    from topoeval.persistence.blocks import block_diagram
    from topoeval.persistence.lazy import FileOpener

    path = data_file(data_dir, n, pair=compare_too)
    src = FileOpener(f"{path}:/orig")
    print(f"\n## dask: {src.shape} from HDF5, 2 threads vs a 2-worker LocalCluster (processes)")
    t_thr, ref = timed(lambda: block_diagram(src, "sublevel", "full", "raise", False, jobs=2), repeats)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        block_diagram(src, "sublevel", "full", "raise", False, jobs=2, block_shape=(16,) + src.shape[1:],
                      scheduler=client)  # warm the workers' kernels
        t_dk, dd = timed(lambda: block_diagram(src, "sublevel", "full", "raise", False, jobs=2, scheduler=client),
                         repeats)
        line = (f"SUMMARY dask: diagram {n}^3 HDF5: threads {t_thr:.2f} s, 2-worker LocalCluster {t_dk:.2f} s, "
                f"dask/threads {t_dk / t_thr:.2f}, identical {same(ref, dd)}")
        if compare_too:
            line += "; " + _dask_compare(path, client, repeats)
    print(line)


def _dask_compare(path, client, repeats):
    from topoeval import compare
    from topoeval.persistence.lazy import FileOpener

    a, b = FileOpener(f"{path}:/orig"), FileOpener(f"{path}:/recon")
    kw = dict(memory_limit="512MB", jobs=2)
    t_thr, ref = timed(lambda: compare(a, b, **kw), repeats)
    t_dk, got = timed(lambda: compare(a, b, scheduler=client, **kw), repeats)
    r, g = ref.to_row(), got.to_row()
    exact = all(r[k] == g[k] for k in r if k != "dsl")  # the smooth DSL sum: to rounding (jobs 2 vs 1 per task)
    dsl = abs(r["dsl"] - g["dsl"]) <= 1e-12 * abs(r["dsl"]) if "dsl" in r else True
    return (f"compare streamed: threads {t_thr:.2f} s, cluster {t_dk:.2f} s, dask/threads {t_dk / t_thr:.2f}, "
            f"rows identical {exact} (dsl within 1e-12: {dsl})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="threads,blocks,h5,dask",
                    help="comma-separated: threads, blocks, h5, compare, compare-stages, bottleneck, dask, "
                         "dask-compare")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--h5-size", type=int, default=256, help="n of the n^3 field of parts h5 and dask")
    ap.add_argument("--compare-size", type=int, default=512, help="n of the n^3 pair of part compare")
    ap.add_argument("--memory-limit", default="3GB", help="of part h5")
    ap.add_argument("--compare-memory-limit", default="512MB", help="of part compare")
    ap.add_argument("--distance-tolerance", type=float, default=None, help="of part compare")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--top-dim", action="store_true", help="part threads: dimension d-1 instead of 0")
    ap.add_argument("--blocks-shape", default="256x256x256")
    ap.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "topoeval_bench"),
                    help="where the HDF5 fields are generated once and kept (default: %(default)s)")
    ap.add_argument("--stages-of", default=None, help=argparse.SUPPRESS)  # part compare-stages' process
    args = ap.parse_args(argv)
    if args.stages_of:
        return compare_stages(args.stages_of, args.compare_memory_limit, args.jobs, args.distance_tolerance)
    parts = set(args.parts.split(","))
    unknown = parts - {"threads", "blocks", "h5", "compare", "compare-stages", "bottleneck", "dask", "dask-compare"}
    if unknown:
        ap.error(f"unknown part(s) {', '.join(sorted(unknown))}")
    print(f"# bench_scale: {len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as out_dir:
        if "threads" in parts:
            part_threads(args.repeats, args.top_dim)
        if "blocks" in parts:
            part_blocks(tuple(int(x) for x in args.blocks_shape.split("x")), 8)
        if "h5" in parts:
            part_h5(args.h5_size, args.memory_limit, args.jobs, args.data_dir, out_dir)
        if "compare" in parts:
            part_compare(args.compare_size, args.compare_memory_limit, args.jobs, args.data_dir, out_dir,
                         args.distance_tolerance)
        if "bottleneck" in parts:
            part_bottleneck(args.data_dir)
        if "compare-stages" in parts:
            part_compare_stages(args.compare_size, args.compare_memory_limit, args.jobs, args.data_dir,
                                args.distance_tolerance)
        if "dask" in parts or "dask-compare" in parts:
            part_dask(args.h5_size, args.data_dir, args.repeats, "dask-compare" in parts)
    print(f"# load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

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
4. ``dask``: the same file on a 2-worker LocalCluster (processes) vs 2 threads.

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


def smooth_field(shape, seed=0, noise=0.05):
    """Sum of a few low-frequency cosines plus ``noise`` white noise (float32)."""
    rng = np.random.default_rng(seed)
    axes = np.meshgrid(*[np.linspace(0, 1, n, dtype=np.float32) for n in shape], indexing="ij", sparse=True)
    out = np.zeros(shape, dtype=np.float32)
    for _ in range(6):
        f = rng.uniform(1, 6, size=len(shape))
        ph = rng.uniform(0, 2 * np.pi, size=len(shape))
        term = np.ones((1,) * len(shape), dtype=np.float32)
        for ax, fi, p in zip(axes, f, ph):
            term = term * np.cos(2 * np.pi * fi * ax + p)
        out += term
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


# ------------------------------------------------------------------ 3./4. HDF5 file, Dask
def make_h5(path, n, chunk=64):
    import h5py

    with h5py.File(path, "w") as f:
        ds = f.create_dataset("orig", shape=(n, n, n), dtype="f4", chunks=(min(chunk, n),) * 3)
        step = max(1, (256 * 2**20) // (n * n * 4))
        rng = np.random.default_rng(5)
        base = smooth_field((n, n, n), seed=4, noise=0.0) if n <= 512 else None
        for i in range(0, n, step):
            j = min(n, i + step)
            sl = base[i:j] if base is not None else smooth_field((j - i, n, n), seed=4 + i, noise=0.0)
            ds[i:j] = sl + 0.05 * rng.standard_normal(sl.shape).astype(np.float32)


def part_h5(n, limit, jobs, tmp):
    path = os.path.join(tmp, f"field{n}.h5")
    if not os.path.exists(path):
        t0 = time.perf_counter()
        make_h5(path, n)
        print(f"\n(wrote {path}: {os.path.getsize(path) / 1e9:.2f} GB in {time.perf_counter() - t0:.0f} s)")
    out = os.path.join(tmp, "dgm.npy")
    cmd = [sys.executable, "-m", "topoeval", "diagram", f"{path}:/orig", "--memory-limit", limit,
           "-j", str(jobs), "-o", out, "--force", "-q"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    note = "" if peak > before * 1024 else " (peak of an earlier child: not this run)"
    print(f"\n## h5: topoeval diagram {n}^3 float32 --memory-limit {limit} -j {jobs}: {wall:.1f} s, "
          f"peak RSS {peak / 1e9:.2f} GB{note}, rc {proc.returncode} {proc.stderr.strip()[-200:]}")
    if proc.returncode == 0:
        print(f"   pairs: {np.load(out).shape[0]}")
    return path


def part_dask(path, repeats):
    import distributed

    from topoeval.persistence.blocks import block_diagram
    from topoeval.persistence.lazy import FileOpener

    src = FileOpener(f"{path}:/orig")
    print(f"\n## dask: {src.shape} from HDF5, 2 threads vs a 2-worker LocalCluster (processes)")
    t_thr, ref = timed(lambda: block_diagram(src, "sublevel", "full", "raise", False, jobs=2), repeats)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        block_diagram(src, "sublevel", "full", "raise", False, jobs=2, block_shape=(16,) + src.shape[1:],
                      scheduler=client)  # warm the workers' kernels
        t_dk, dd = timed(lambda: block_diagram(src, "sublevel", "full", "raise", False, jobs=2, scheduler=client),
                         repeats)
    print(f"threads {t_thr:.2f} s, dask {t_dk:.2f} s, dask/threads {t_dk / t_thr:.2f}, identical {same(ref, dd)}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="threads,blocks,h5,dask")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--h5-size", type=int, default=256)
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--top-dim", action="store_true", help="part threads: dimension d-1 instead of 0")
    ap.add_argument("--blocks-shape", default="256x256x256")
    ap.add_argument("--tmp", default=None, help="folder for the HDF5 file (default: a temporary one)")
    args = ap.parse_args(argv)
    parts = set(args.parts.split(","))
    print(f"# bench_scale: {len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        if "threads" in parts:
            part_threads(args.repeats, args.top_dim)
        if "blocks" in parts:
            part_blocks(tuple(int(x) for x in args.blocks_shape.split("x")), 8)
        path = None
        if "h5" in parts or "dask" in parts:
            path = part_h5(args.h5_size, args.memory_limit, args.jobs, tmp)
        if "dask" in parts:
            part_dask(path, args.repeats)


if __name__ == "__main__":
    main()

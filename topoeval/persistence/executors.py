"""Run the block engine's tree of tasks: in a thread pool, or on Dask (local or a cluster).

The tree (see :func:`topoeval.persistence.blocks.merge_tree`) is a list of tasks in post-order:
``("leaf", lo, hi)`` reads and processes one block, ``("merge", i, j, axis)`` glues the
regions of tasks ``i`` and ``j``; the last task is the root.  ``mode`` is ``(connectivity,
descending, outside)`` (see :func:`.glue.block_pass`).  Both runners return every task's final
pairs (the thread runner: in a :class:`~.glue.PairStore`) and the number of finite cells.
"""

from __future__ import annotations

import operator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any

from ..errors import TopoevalIOError
from .glue import PairStore, block_pass, merge

__all__: list[str] = []


def leaf_task(reader, lo, hi, gshape, mode):
    """Read the block ``[lo, hi)`` (on whichever thread or worker runs this) and process it."""
    return block_pass(reader.read(lo, hi), lo, gshape, *mode)


def chunk_task(chunk, flip, lo, hi, gshape, mode):
    """A dask chunk (already read by its own task) in working orientation, then processed."""
    import numpy as np

    from .lazy import kernel_dtype

    block = np.asarray(chunk).reshape(tuple(b - a for a, b in zip(lo, hi)))
    if flip:
        block = block[(slice(None, None, -1),) * block.ndim]
    block = np.ascontiguousarray(block, dtype=kernel_dtype(block.dtype))
    return block_pass(block, lo, gshape, *mode)


def merge_task(left, right, axis, gshape, mode):
    return merge(left, right, axis, gshape, mode[0], mode[1])


def run_threads(tree, reader, gshape, mode, jobs, progress=None, store=None):
    """Post-order schedule on ``jobs`` threads (the kernels release the GIL).

    Ready merges go first, then the next blocks in order, so at most about ``jobs`` blocks and
    ``log2(#blocks)`` pending regions are held at a time (the memory bound of the driver).
    ``store``: a :class:`~.glue.PairStore` that takes every task's final pairs as they come
    (within its memory budget); returned in place of the list of pairs.
    """
    parent = {}
    for t, task in enumerate(tree):
        if task[0] == "merge":
            parent[task[1]] = t
            parent[task[2]] = t
    graphs: dict[int, Any] = {}
    pairs = PairStore() if store is None else store
    n_active = 0
    leaves = [t for t, task in enumerate(tree) if task[0] == "leaf"]
    ready_merges: list[int] = []
    next_leaf = 0
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        running: dict[Any, int] = {}
        try:
            while done < len(tree):
                while len(running) < max(1, jobs) and (ready_merges or next_leaf < len(leaves)):
                    if ready_merges:
                        t = ready_merges.pop(0)
                        _, i, j, axis = tree[t]
                        f = ex.submit(merge_task, graphs.pop(i), graphs.pop(j), axis, gshape, mode)
                    else:
                        t = leaves[next_leaf]
                        next_leaf += 1
                        _, lo, hi = tree[t]
                        f = ex.submit(leaf_task, reader, lo, hi, gshape, mode)
                    running[f] = t
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for f in finished:
                    t = running.pop(f)
                    res = f.result()
                    pairs.add(res[0])
                    if tree[t][0] == "leaf":
                        n_active += res[2]
                    graphs[t] = res[1]
                    done += 1
                    if progress is not None:
                        progress(done, len(tree))
                    p = parent.get(t)
                    if p is not None and tree[p][1] in graphs and tree[p][2] in graphs:
                        ready_merges.append(p)
        except BaseException:
            for f in running:
                f.cancel()
            raise
    return pairs, n_active


def run_dask(tree, reader, gshape, mode, chunks=None, scheduler=None):
    """The same tree as Dask tasks: blocks read their own slab, merges reduce on the cluster.

    ``chunks``: for a dask array input, ``{task id: delayed chunk}`` (the array's own tasks
    read the data); otherwise the leaf tasks read through ``reader`` (a small picklable
    description of the file, not the data).  ``scheduler``: a ``distributed.Client`` or any
    ``dask.compute`` scheduler (default: the current one).
    """
    import dask
    from dask import delayed

    results: list[Any] = []
    pair_parts = []
    counts = []
    for t, task in enumerate(tree):
        if task[0] == "leaf":
            _, lo, hi = task
            if chunks is not None:
                res = delayed(chunk_task, pure=True)(chunks[t], reader.flip, lo, hi, gshape, mode)
            else:
                res = delayed(leaf_task, pure=True)(reader, lo, hi, gshape, mode)
            counts.append(delayed(operator.getitem)(res, 2))
        else:
            _, i, j, axis = task
            res = delayed(merge_task, pure=True)(
                delayed(operator.getitem)(results[i], 1), delayed(operator.getitem)(results[j], 1),
                axis, gshape, mode,
            )
        results.append(res)
        pair_parts.append(delayed(operator.getitem)(res, 0))
    kw = {} if scheduler is None else {"scheduler": scheduler}
    try:
        pairs, counts = dask.compute(pair_parts, counts, **kw)
    except Exception as exc:
        if type(exc).__name__ == "KilledWorker":
            raise TopoevalIOError(
                f"a Dask worker died while computing the persistence diagram ({exc}); the task kept "
                "killing its workers - check the workers' memory limit (a block needs about the "
                "--memory-limit share of one job) and their logs"
            ) from None
        raise
    return list(pairs), int(sum(counts))

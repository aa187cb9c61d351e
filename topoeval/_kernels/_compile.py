"""The first run: tell whether kernels will compile, say so, and compile them in parallel.

topoeval's Numba kernels are compiled on their first call and cached on disk
(``cache=True``: next to the sources, or -- where that folder cannot be written, e.g. a
read-only site-packages -- in Numba's user-wide cache folder, ``NUMBA_CACHE_DIR`` or
``~/.cache/numba``).  With an empty cache the first ``compare`` spends nearly all its
time compiling (about 15 s of CPU for the bundled sample pair, against about 1 s warm).  Numba
compiles under a process-wide lock, so threads do not help; processes that each fill
the cache for a disjoint set of kernels do run in parallel.  This module

* :func:`cold_parts` -- which parts of a comparison (``"dsl"``, ``"persistence"`` ...)
  have kernels that are not in the on-disk cache (never compiled, or compiled from an
  older source);
* :func:`estimate_seconds` -- about how long compiling them takes;
* :func:`compile_parts` -- run one warm-up call per cold part, spread over processes
  (``os.fork``: the children see the caller's arrays without copying them) and this
  one, so that the real call afterwards loads every kernel from the cache.

Nothing here changes a result: a warm-up only fills the cache, a kernel it misses is
compiled by the real call as before, and a warm-up that fails is ignored (the real call
reports the error).  The command line prints the notice (the library prints nothing).

Examples
--------
>>> parts = cold_parts(["pointwise"])  # no kernels: never cold
>>> parts
[]
>>> estimate_seconds([])
0
"""

from __future__ import annotations

import importlib
import math
import os
import sys
from typing import Callable, Iterable, Sequence

__all__ = ["PART_MODULES", "cold_parts", "estimate_seconds", "compile_parts", "notice", "warm_up_compare"]

# part of compare() -> module prefixes holding its kernels (imported to inspect them)
PART_MODULES: dict[str, tuple[str, ...]] = {
    "dsl": ("topoeval.dsl", "topoeval._kernels._dsl"),
    "persistence": ("topoeval.persistence", "topoeval._kernels._persistence", "topoeval.distances"),
    "critical_points": ("topoeval.critical_points", "topoeval._kernels._critical"),
    "diagrams": ("topoeval.persistence", "topoeval._kernels._persistence"),  # topoeval diagram
}

# compile time (CPU s) of each part's warm-up on the bundled sample pair in a fresh process with
# an empty cache, after Numba's own start (`python benchmarks/bench_startup.py --parts`, 2-core
# machine); what the parts are balanced by, so keep them measured.  A part not listed counts _OTHER.
_SECONDS = {"persistence": 7.3, "diagrams": 4.1, "distances": 3.2, "dsl": 3.8, "critical_points": 2.7}
_OTHER = 3.0
_SHARED = 1.5  # Numba's start (its first compile) and the call after the warm-up, once per process


def _dispatchers(prefixes: Sequence[str]):
    """The cached Numba dispatchers defined in the (imported) modules under ``prefixes``."""
    from numba.core.dispatcher import Dispatcher

    for name in prefixes:
        try:
            importlib.import_module(name)
        except ImportError:  # a module moved or an optional part: nothing to inspect
            continue
    seen = set()
    for mod_name, mod in list(sys.modules.items()):
        if mod is None or not any(mod_name == p or mod_name.startswith(p + ".") for p in prefixes):
            continue
        for obj in list(vars(mod).values()):
            if (isinstance(obj, Dispatcher) and id(obj) not in seen and getattr(obj, "_cache", None) is not None
                    and getattr(obj.py_func, "__module__", None) == mod_name):
                seen.add(id(obj))
                yield obj


def _cache_state(dispatcher) -> str:
    """'missing' (never compiled), 'stale' (an index from another source) or 'cached'."""
    try:
        cache_file = dispatcher._cache._cache_file
        if not os.path.exists(cache_file._index_path):
            return "missing"
        return "cached" if cache_file._load_index() else "stale"
    except Exception:  # another Numba's internals: do not guess
        return "cached"


def cold_parts(parts: Iterable[str]) -> list[str]:
    """The parts whose kernels will compile: none cached yet, or one cached from an older source.

    A package holds kernels a given call never uses (they stay 'missing' for ever), so a
    part counts as cold only when none of its kernels is cached or one is stale.  A stale index
    (written for an older source or Numba) is removed once seen: the kernels this call uses are
    compiled and cached again, but one it never uses (or one now inlined into its callers) would
    otherwise stay stale and the notice would show on every later run.
    """
    out = []
    for part in parts:
        prefixes = PART_MODULES.get(part)
        if not prefixes:
            continue
        states = set()
        for dispatcher in _dispatchers(prefixes):
            state = _cache_state(dispatcher)
            if state == "stale":
                _forget_stale(dispatcher)
            states.add(state)
        if "stale" in states or states == {"missing"}:
            out.append(part)
    return out


def _forget_stale(dispatcher) -> None:
    """Remove a stale index file (Numba would overwrite it on the next compile anyway)."""
    try:
        index_path = dispatcher._cache._cache_file._index_path
        if not dispatcher._cache._cache_file._load_index():  # still stale: not just rewritten
            os.unlink(index_path)
    except Exception:  # read-only cache, a race with another process, other Numba internals
        pass


def _groups(parts: Sequence[str], n: int) -> list[list[str]]:
    """Parts spread over ``n`` groups of about equal compile time (largest first)."""
    groups: list[list[str]] = [[] for _ in range(max(1, min(n, len(parts))))]
    load = [0.0] * len(groups)
    for part in sorted(parts, key=lambda p: -_SECONDS.get(p, _OTHER)):
        k = load.index(min(load))
        groups[k].append(part)
        load[k] += _SECONDS.get(part, _OTHER)
    return groups


def _cores() -> int:
    """Processes for compiling: ``TOPOEVAL_COMPILE_JOBS`` if set (1: all in this process), else
    this one plus one per idle core (1-minute load average, rounded: this process counts in the
    load, and the average lags behind, e.g. after the previous first run).

    On a busy machine extra processes only add the work they share (Numba's start and helpers
    are compiled once per process): 13.8 s CPU in one process against 15.9 s in two for the
    sample pair (7.9 s each; ``bench_startup.py --serial``), so on an idle core two halve the wall.
    """
    env = os.environ.get("TOPOEVAL_COMPILE_JOBS", "")
    if env.isdigit() and int(env) >= 1:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        idle = cores - os.getloadavg()[0]
    except (AttributeError, OSError):
        idle = cores - 1
    return max(1, min(cores, 1 + int(idle + 0.5)))


def estimate_seconds(parts: Sequence[str], jobs: int | None = None) -> int:
    """About how many seconds compiling ``parts`` takes, spread over ``jobs`` processes (default: cores)."""
    if not parts:
        return 0
    if "persistence" in parts:  # warm_up_compare compiles it in two halves
        parts = [p for p in parts if p != "persistence"] + ["diagrams", "distances"]
    groups = _groups(parts, jobs or _cores())
    longest = max(sum(_SECONDS.get(p, _OTHER) for p in g) for g in groups)
    return int(5 * math.ceil((longest + _SHARED) / 5))  # a rounded figure: it is an estimate


def notice(parts: Sequence[str], jobs: int | None = None) -> str:
    """The one-line notice, e.g. ``'compiling kernels once, about 20 s (persistence, dsl)'``."""
    return (f"compiling kernels once, about {estimate_seconds(parts, jobs)} s "
            f"({', '.join(parts)}; later runs start from Numba's on-disk cache)")


def _fork_available() -> bool:
    import threading

    # forking a process with other threads running can deadlock the child (a lock held by one)
    return hasattr(os, "fork") and threading.active_count() == 1


def compile_parts(run: Callable[[str], object], parts: Sequence[str], jobs: int | None = None) -> list[float]:
    """Call ``run(part)`` for every part, spread over ``jobs`` processes (this one included).

    ``run`` should be a small call of the part with the same types as the real one (it
    fills the on-disk cache); its result and errors are ignored.  The children are
    forked, write nothing to the terminal and end with ``os._exit``.  Without ``fork``
    (Windows) or with other threads running, everything runs here, one part after another.
    Returns the CPU seconds of each process (this one first).
    """
    import time

    groups = _groups(list(parts), jobs or _cores())
    t0 = time.process_time()
    if len(groups) == 1 or not _fork_available():
        for part in parts:
            _quietly(run, part)
        return [time.process_time() - t0]
    children = []
    for group in groups[1:]:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: compile its group, silently, and leave at once
            code = 1
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                for part in group:
                    _quietly(run, part)
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    cpu = [0.0]
    try:
        for part in groups[0]:
            _quietly(run, part)
        cpu[0] = time.process_time() - t0
        for pid in children:
            try:
                usage = os.wait4(pid, 0)[2]
                cpu.append(usage.ru_utime + usage.ru_stime)
            except ChildProcessError:
                pass
    except BaseException:  # Ctrl-C, SIGTERM turned into an exception: leave no compiling child behind
        import signal

        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        raise
    return cpu


def _crop(a, cells: int = 1 << 16):
    """A corner of ``a`` with at most about ``cells`` cells, same ndim and dtype (``a`` if smaller)."""
    import numpy as np

    size = int(np.prod(a.shape)) if a.ndim else 1
    if size <= cells:
        return a
    side = max(2, int(cells ** (1.0 / a.ndim)))
    return np.ascontiguousarray(a[tuple(slice(0, min(n, side)) for n in a.shape)])


def warm_up_compare(x, y, options: dict, notify: Callable[[str], None] | None = None,
                    jobs: int | None = None) -> dict:
    """Before a first :func:`topoeval.compare`: compile its cold parts in parallel.

    Each cold part runs once on a corner of ``x`` and ``y`` (at most 2**16 cells, the same
    dtype and options), the parts spread over the cores; ``notify`` gets the one-line
    notice first.  Nothing happens (and nothing is printed) when every part is cached.
    Returns ``{"parts": the cold parts, "wall": s, "cpu": [CPU s of each process]}``
    (``parts`` empty and no times when nothing was cold).
    """
    import time

    from ..compare.options import check_options

    import inspect

    try:
        known = inspect.signature(check_options).parameters  # compare() takes more (jobs ...)
        opts = check_options(**{k: v for k, v in options.items() if k in known})
        cold = cold_parts(opts["metrics"])
    except Exception:  # never in the way of the real call, which reports bad options
        return {"parts": []}
    if not cold:
        return {"parts": []}
    if notify is not None:
        notify(notice(cold, jobs))
    t0 = time.perf_counter()
    tasks = _compare_tasks(_crop(x), _crop(y), options, opts, cold)
    cpu = compile_parts(lambda name: tasks[name](), list(tasks), jobs)
    return {"parts": cold, "wall": time.perf_counter() - t0, "cpu": cpu}


def _compare_tasks(xs, ys, options: dict, opts: dict, cold: Sequence[str]) -> dict[str, Callable]:
    """Warm-up calls for the cold parts; persistence is split into diagrams and distances.

    The distances run on synthetic diagrams of 40 and 36 points (one essential each, as a
    sublevel diagram has), so they compile beside the diagrams instead of after them.
    """
    import numpy as np

    from ..compare import compare

    if opts["dtype"] != "input":  # what compare() hands the persistence kernels
        xs, ys = (np.ascontiguousarray(v, dtype=opts["dtype"]) for v in (xs, ys))
    tasks: dict[str, Callable] = {}
    for part in cold:
        if part != "persistence":
            tasks[part] = (lambda p: lambda: compare(xs, ys, **{**options, "metrics": (p,)}))(part)
            continue

        def diagrams():
            from ..persistence import persistence_diagram

            for filt in opts["filtration"]:
                persistence_diagram(xs, filtration=filt, connectivity=opts["connectivity"],
                                    nan_policy=opts["nan_policy"])

        def distances():
            import numpy as np

            from ..distances import bottleneck_distance, wasserstein_distance

            rng = np.random.default_rng(0)
            # the dense solvers (what a field of up to some 10^5 cells needs); the sparse solvers
            # of large diagrams would compile here for nothing on small inputs
            a, b = (np.sort(rng.random((m, 2)), axis=1) for m in (40, 36))
            a[0, 1] = b[0, 1] = np.inf
            wasserstein_distance(a, b, order=opts["order"], internal_p=opts["internal_p"], matching=True)
            bottleneck_distance(a, b)

        tasks["diagrams"], tasks["distances"] = diagrams, distances
    return tasks


def _quietly(run: Callable[[str], object], part: str) -> None:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run(part)
    except Exception:  # the real call reports it
        pass

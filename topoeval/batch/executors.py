"""Executors: run independent tasks serially, on a local process pool, or on a Dask cluster.

Batches and sweeps both hand :func:`execute` a list of tasks and four functions: ``make(t)``
(what a worker receives), ``run(payload) -> rows`` (a module-level function: it is pickled
to the workers), ``fail(t, message) -> rows`` (the rows of a task that could not run) and
``sink(rows)`` (called in this process as each task finishes, in completion order).  The
rows are the same whichever way the tasks ran.

What the executors guarantee:

- A worker process that dies (killed, out of memory, a crashing extension) breaks a
  ``ProcessPoolExecutor`` and every task in flight with it.  Those tasks run again one at a
  time on a fresh pool, and a task that kills its worker when alone is split into its rows
  (``split(t)``), so exactly the rows that kill a worker are recorded as ``WorkerDied``
  (whatever the timing) and the other tasks' rows are computed.
- SIGTERM (while a batch or sweep runs in the main thread of a program that has no handler
  of its own) raises :class:`Interrupted`, a :class:`KeyboardInterrupt`, as Ctrl-C (SIGINT)
  does.  On either, the pool's workers are terminated and joined (or the Dask cluster
  closed, the tasks on an existing cluster cancelled) before the exception propagates, so
  no worker is left holding the inputs or the journal open.  Pool workers ignore SIGINT
  (Ctrl-C reaches the whole process group; the parent decides) and, on Linux, end when the
  parent process dies, however it dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from ..errors import TopoevalIOError, missing_dependency
from .inputs import error_text

WORKER_DIED = ("WorkerDied: a worker process died while this sample was in flight (killed, or out "
               "of memory); --resume computes it again")
_DASK_CONNECT_TIMEOUT = 30  # seconds to reach an existing Dask scheduler
_JOIN_TIMEOUT = 10  # seconds a terminated worker gets to end before it is killed


class Interrupted(KeyboardInterrupt):
    """A batch or sweep stopped by a signal (``signum``: SIGTERM or SIGINT); its workers are gone."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def execute(tasks: list, *, run: Callable, fail: Callable, sink: Callable, jobs: int,
            scheduler: str | None = None, make: Callable = lambda t: t,
            split: Callable | None = None) -> None:
    """Run ``run(make(t))`` for every task and pass the rows to ``sink``.

    ``scheduler`` (``"local"`` or an address) runs on Dask; otherwise ``jobs > 1`` (and more
    than one task) on a process pool, else in this process.  At most ``2 * jobs`` tasks are
    in flight (on an existing cluster, twice its worker threads).
    """
    with stop_on_signals():
        if scheduler is not None:
            _run_dask(tasks, make, jobs, scheduler, sink, 2 * jobs, run=run, fail=fail)
        elif jobs == 1 or len(tasks) <= 1:
            for t in tasks:
                sink(run(make(t)))
        else:
            _run_pool(tasks, make, jobs, sink, 2 * jobs, run=run, fail=fail, split=split)


# --------------------------------------------------------------------------------------------
# signals
# --------------------------------------------------------------------------------------------
def _raise_interrupted(signum, _frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Interrupted` (in the main thread, when the
    program has left SIGTERM to its default action; an application's own handler stays)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def _shielded() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back while workers are being stopped (a second Ctrl-C must not
    abandon them half-way); a signal that came meanwhile is raised afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen: list[int] = []
    names = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in names}
    for s in names:
        signal.signal(s, lambda signum, _frame: seen.append(signum))
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if seen and previous[seen[0]] is signal.SIG_DFL:
        os.kill(os.getpid(), seen[0])  # its default action, now that the workers are gone
    elif seen and previous[seen[0]] not in (signal.SIG_IGN, None):
        raise Interrupted(seen[0])


# --------------------------------------------------------------------------------------------
# the process pool
# --------------------------------------------------------------------------------------------
def _mp_context():
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    # fork: workers inherit the parent's compiled Numba kernels (warm) and imported modules
    return mp.get_context("fork" if "fork" in methods and sys.platform != "darwin" else "spawn")


def _init_worker(parent: int) -> None:
    """Pool worker start-up: signals (see the module docstring) and one BLAS thread per process
    (as Dask's workers), when threadpoolctl is installed - the processes are the parallelism."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker inherits the parent's handler
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the parent died before prctl
                os._exit(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1)


def _new_pool(jobs: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context(), initializer=_init_worker,
                               initargs=(os.getpid(),))


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's workers and wait until they are gone (no orphans, no open files)."""
    with _shielded():
        procs = list((getattr(pool, "_processes", None) or {}).values())
        for p in procs:
            with contextlib.suppress(Exception):
                p.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            with contextlib.suppress(Exception):
                p.join(_JOIN_TIMEOUT)
                if p.is_alive():
                    p.kill()
                    p.join(_JOIN_TIMEOUT)


def _run_pool(tasks, make, jobs, sink, max_in_flight, *, run, fail, split=None):
    """Run ``run(make(t))`` for every task on a process pool of ``jobs`` workers.

    When a worker dies, the tasks in flight run again one at a time (``suspects``); a task
    that breaks the pool alone is the culprit: its rows, one by one (``split``), and a row
    that kills a worker alone is recorded as ``fail(row_task, WORKER_DIED)``.
    """
    from concurrent.futures.process import BrokenProcessPool

    pending, suspects = deque(tasks), deque()
    pool = _new_pool(jobs)
    in_flight: dict[Any, Any] = {}
    alone = None  # the suspect running by itself, if any
    futile = 0  # pools in a row that broke before finishing anything

    def submit(t) -> bool:
        try:
            in_flight[pool.submit(run, make(t))] = t
            return True
        except BrokenProcessPool:  # a worker died since the last wait
            return False

    def done_rows(rows) -> None:
        nonlocal futile
        futile = 0
        sink(rows)

    try:
        while pending or suspects or in_flight:
            ok = True
            if suspects and not in_flight:
                alone = suspects[0]
                if (ok := submit(alone)):
                    suspects.popleft()
            elif not suspects:
                while ok and pending and len(in_flight) < max_in_flight:
                    if (ok := submit(pending[0])):
                        pending.popleft()
            broken = []
            if in_flight:
                done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                for fut in done:
                    t = in_flight.pop(fut)
                    try:
                        done_rows(fut.result())
                    except BrokenProcessPool:
                        broken.append(t)
                    except Exception as exc:  # e.g. a result that cannot be pickled
                        done_rows(fail(t, f"the worker failed: {error_text(exc)}"))
            if broken or not ok:
                lost = [*broken, *in_flight.values()]
                in_flight.clear()
                _stop_pool(pool)
                futile += 1
                if futile > 3:  # workers die before any work (fork failing, memory): give up
                    for t in [*lost, *suspects, *pending]:
                        sink(fail(t, WORKER_DIED))
                    return
                pool = _new_pool(jobs)
                if alone is not None and lost == [alone]:  # it broke the pool by itself
                    rows = split(alone) if split is not None else [alone]
                    if len(rows) > 1:
                        suspects.extendleft(reversed(rows))
                    else:
                        done_rows(fail(alone, WORKER_DIED))
                else:
                    suspects.extend(lost)
            if not in_flight:
                alone = None
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)


# --------------------------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------------------------
# Dask worker settings for the clusters batch starts itself (--dask local).  By default the
# statistical profiler samples every thread's stack every 10 ms, the event loop ticks every
# 20 ms and the memory monitor runs every 100 ms, all competing for the GIL with the task
# thread (idle workers: 4 % CPU each, 0.6 % with the settings below); and the nanny starts
# the workers with MALLOC_TRIM_THRESHOLD_=65536, which also freezes glibc's mmap threshold at
# 128 KiB, so every temporary array of a sample is mmap'ed, page-faulted and unmapped again
# (5x the system time of a pool worker).  A batch's tasks are long and uniform: profiler
# off, slower housekeeping, glibc's default allocator behaviour (one BLAS thread, as before).
_LOCAL_DASK_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.nanny.pre-spawn-environ": {
        "OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1},
}


def _local_cluster(jobs: int):
    """A Dask ``LocalCluster`` with ``jobs`` one-thread worker processes, as ``--dask local`` uses."""
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set(_LOCAL_DASK_CONFIG):
        # dashboard on a free port: None means Dask's default 8787, taken by any other cluster
        return LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                            dashboard_address=":0")


def _distributed():
    try:
        import dask.distributed
    except ImportError:
        raise missing_dependency("distributed", "dask", "running on Dask (--dask/--scheduler)") from None
    return dask.distributed


def _connect(scheduler: str):
    try:
        return _distributed().Client(scheduler, timeout=_DASK_CONNECT_TIMEOUT)
    except OSError as exc:
        raise TopoevalIOError(
            f"cannot connect to the Dask scheduler at {scheduler!r} ({exc}); check the address "
            "(tcp://host:port) and that the scheduler is running"
        ) from None


def cluster_threads(scheduler: str) -> int:
    """Worker threads of the Dask cluster at ``scheduler`` (at least 1)."""
    client = _connect(scheduler)
    try:
        return max(1, sum(client.nthreads().values()))
    finally:
        client.close()


def _run_dask(tasks, make, jobs, scheduler, sink, max_in_flight, *, run, fail):
    """As :func:`_run_pool`, on a Dask cluster (a new ``LocalCluster`` for ``"local"``)."""
    distributed = _distributed()
    cluster = None
    if scheduler == "local":
        cluster = _local_cluster(jobs)
        client = distributed.Client(cluster)
    else:
        client = _connect(scheduler)
        # keep every worker thread of the cluster busy, however many cores this machine has
        max_in_flight = max(max_in_flight, 2 * sum(client.nthreads().values()))
    futures: dict[str, Any] = {}
    try:
        pending = deque(tasks)
        ac = distributed.as_completed()

        def submit() -> None:
            t = pending.popleft()
            fut = client.submit(run, make(t), pure=False)
            futures[fut.key] = (fut, t)
            ac.add(fut)

        while pending and len(futures) < max_in_flight:
            submit()
        for fut in ac:
            _, t = futures.pop(fut.key)
            try:
                sink(fut.result())
            except Exception as exc:
                sink(fail(t, f"the Dask task failed: {error_text(exc)}"))
            if pending:
                submit()
    finally:
        with _shielded():
            if futures:  # interrupted: an existing cluster must not go on with our tasks
                with contextlib.suppress(Exception):
                    client.cancel([f for f, _ in futures.values()])
            client.close()
            if cluster is not None:
                cluster.close()

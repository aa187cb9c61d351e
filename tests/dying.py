"""A Dask worker process that dies, for the dying-worker tests (test_streamed, test_blocks).

Deterministic by construction, no timing: the worker is one plain process (``--no-nanny``) that
nothing restarts, so when a read kills it the scheduler removes it once (its connection closes)
and, with ``allowed-failures`` 0, the task errs with ``KilledWorker``; closing the cluster then
waits for no restarting nanny.  The test waits for the worker to register (no timeout) and for
the process to end.  The dying array refuses to kill the test process itself: a read there
(which would be a bug of the code under test) raises instead of ending pytest.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import numpy as np


def dying_array(shape=(8, 8), dtype="f8"):
    """A lazy array (shape, dtype, slicing) whose every read ends the reading worker process
    (``os._exit(3)``, as a kill or the OOM killer would).  The class is made here, inside the
    function, so cloudpickle ships it by value: the worker need not import the tests."""
    parent = os.getpid()

    class Dying:
        def __init__(self):
            self.shape, self.dtype = tuple(shape), np.dtype(dtype)

        def __getitem__(self, key):
            if os.getpid() == parent:
                raise RuntimeError("the dying array was read in the test process, not on a worker")
            os._exit(3)

    return Dying()


@contextlib.contextmanager
def dying_worker_client():
    """A ``distributed.Client`` of an in-process scheduler and one worker *process* without a
    nanny (``allowed-failures`` 0): the first task that kills it errs with KilledWorker."""
    import dask
    import distributed

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp://", host="127.0.0.1",
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            worker = subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address, "--no-nanny",
                 "--nthreads", "1", "--no-dashboard"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            try:
                while True:  # a slow start is only slow; a worker that cannot start is an error
                    try:
                        client.wait_for_workers(1, timeout=1)
                        break
                    except TimeoutError:
                        if worker.poll() is not None:
                            raise RuntimeError(f"the Dask worker process exited ({worker.returncode}) "
                                               "before it registered") from None
                yield client
            finally:
                if worker.poll() is None:  # it did not die (the test fails anyway): stop it
                    worker.terminate()
                worker.wait()

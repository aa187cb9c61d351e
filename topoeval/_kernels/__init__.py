"""Private Numba kernels.

Every kernel is ``@njit(cache=True, nogil=True)`` and compiled lazily (on the
first call, or loaded from the on-disk cache).  Kernels that call each other
live in the same file so the cache stays consistent.  No ``fastmath`` flags
that assume finite values: diagrams hold inf.
"""

"""Numba kernels of the Morse segmentation: steepest neighbours, then the extremum each path ends at.

Both kernels work on a flat range ``[lo, hi)`` of C-order cells, so that the driver
(:mod:`topoeval.segmentation.morse`) can run disjoint ranges in a thread pool; they release
the GIL.  ``@njit(cache=True, nogil=True)``, no fastmath (NaN must compare as NaN).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__: list[str] = []


@njit(cache=True, nogil=True)
def steepest_range(values, shape, offsets, deltas, lo, hi, omit, up, down):
    """``up[c]`` / ``down[c]`` for the cells ``lo <= c < hi``: the neighbour with the largest
    (smallest) ``(value, flat index)`` if it is above (below) ``c`` in that order, else ``c``.

    values : float64 (n,) C-order cells; shape : int64 (d,); offsets : int64 (k, d) neighbour
    offsets and deltas : int64 (k,) their flat steps; omit: non-finite cells are nobody's
    neighbour and get -1.  One loop over the cells with an odometer of their coordinates; the
    bounds of a neighbour are only checked for cells on the boundary of the grid.
    """
    d = shape.size
    k = deltas.size
    coord = np.empty(d, np.int64)
    rem = lo
    for ax in range(d - 1, -1, -1):
        coord[ax] = rem % shape[ax]
        rem //= shape[ax]
    for c in range(lo, hi):
        v = values[c]
        if omit and not np.isfinite(v):
            up[c] = -1
            down[c] = -1
        else:
            interior = True
            for ax in range(d):
                if coord[ax] == 0 or coord[ax] == shape[ax] - 1:
                    interior = False
                    break
            bu = c
            uv = v
            bd = c
            dv = v
            for q in range(k):
                if not interior:
                    inside = True
                    for ax in range(d):
                        x = coord[ax] + offsets[q, ax]
                        if x < 0 or x >= shape[ax]:
                            inside = False
                            break
                    if not inside:
                        continue
                nb = c + deltas[q]
                w = values[nb]
                if omit and not np.isfinite(w):
                    continue
                if w > uv or (w == uv and nb > bu):
                    uv = w
                    bu = nb
                if w < dv or (w == dv and nb < bd):
                    dv = w
                    bd = nb
            up[c] = bu
            down[c] = bd
        ax = d - 1  # next cell: advance the odometer
        while ax >= 0:
            coord[ax] += 1
            if coord[ax] < shape[ax]:
                break
            coord[ax] = 0
            ax -= 1


@njit(cache=True, nogil=True)
def resolve_range(ptr, lo, hi):
    """Replace ``ptr[c]`` (``lo <= c < hi``) by the root of its path (the cell pointing to itself),
    with full path compression: every cell passed on the way is set to the root too.

    The pointers form a forest whose roots point to themselves (-1: no cell), so any interleaving
    of concurrent calls on other ranges of the same array writes only ancestors or the root
    and ends with the same array: the result does not depend on the threads.
    """
    for c in range(lo, hi):
        r = ptr[c]
        if r < 0:
            continue
        while True:
            p = ptr[r]
            if p == r:
                break
            r = p
        x = c
        while x != r:
            nxt = ptr[x]
            ptr[x] = r
            x = nxt

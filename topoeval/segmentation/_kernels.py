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


@njit(cache=True, nogil=True)
def steepest_rows(values, shape, offsets, deltas, r0, r1, omit, up, down):
    """:func:`steepest_range` for the rows ``r0 <= r < r1`` along the last axis (d >= 2).

    A row whose leading coordinates are interior has its interior cells done neighbour by
    neighbour over the whole row (the inner loop runs along memory with no bounds checks:
    about twice as fast as cell by cell); its two end cells, and rows on the boundary of
    the grid, go through :func:`steepest_range`.  Same result cell for cell.
    """
    d = shape.size
    n_last = shape[d - 1]
    m = n_last - 2
    uv = np.empty(max(m, 0))
    dv = np.empty(max(m, 0))
    bu = np.empty(max(m, 0), np.int64)
    bd = np.empty(max(m, 0), np.int64)
    for r in range(r0, r1):
        start = r * n_last
        interior = m > 0
        rem = r
        for ax in range(d - 2, -1, -1):
            x = rem % shape[ax]
            rem //= shape[ax]
            if x == 0 or x == shape[ax] - 1:
                interior = False
        if not interior:
            steepest_range(values, shape, offsets, deltas, start, start + n_last, omit, up, down)
            continue
        steepest_range(values, shape, offsets, deltas, start, start + 1, omit, up, down)
        end = start + n_last - 1
        steepest_range(values, shape, offsets, deltas, end, end + 1, omit, up, down)
        base = start + 1
        for j in range(m):
            v = values[base + j]
            uv[j] = v
            dv[j] = v
            bu[j] = base + j
            bd[j] = base + j
        for q in range(deltas.size):
            first = base + deltas[q]
            for j in range(m):
                nb = first + j
                w = values[nb]
                if omit and not np.isfinite(w):
                    continue
                if w > uv[j] or (w == uv[j] and nb > bu[j]):
                    uv[j] = w
                    bu[j] = nb
                if w < dv[j] or (w == dv[j] and nb < bd[j]):
                    dv[j] = w
                    bd[j] = nb
        for j in range(m):
            c = base + j
            if omit and not np.isfinite(values[c]):
                up[c] = -1
                down[c] = -1
            else:
                up[c] = bu[j]
                down[c] = bd[j]

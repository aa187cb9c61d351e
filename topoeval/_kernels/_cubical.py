"""Numba kernels of the higher-dimensional cubical persistence (private).

The cubical complex of a d-dimensional array lives on its *Khalimsky grid* ``K``: a cell
is a point of ``K`` whose number of odd coordinates is its dimension, and the faces of
a cell are its neighbours ``+-1`` along its odd axes (see :mod:`topoeval.persistence.cubical`
for the two constructions and their shapes).  Cells are addressed by their C-order flat
index in ``K`` (``kflat``); ``kstrides``/``kshape`` are the strides and shape of ``K``.

Two kernels:

* :func:`top_pairs` pairs the (d-1)-cells with the d-cells by a union-find over the dual
  graph in reverse filtration order (a d-1 face joins its two d-cells, or its one d-cell and
  the outside); it gives the exact cells that :func:`reduce_boundary` clears.
* :func:`reduce_boundary` reduces the boundary matrix of the (k+1)-cells (over Z/2, columns
  in filtration order, *clearing*: the (k+1)-cells known to be positive are skipped) and
  returns the (k-cell, (k+1)-cell) persistence pairs.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _find(parent, p):
    """Root of ``p`` with path halving (roots point at themselves)."""
    while parent[p] != p:
        parent[p] = parent[parent[p]]
        p = parent[p]
    return p


@njit(cache=True, nogil=True)
def top_pairs(faces, rank, kshape, kstrides, n_top):
    """Pairs (d-1 cell, d cell) of the top dimension by a union-find in reverse order.

    Parameters
    ----------
    faces : (m,) int64
        Flat ``K`` indices of the (d-1)-cells in filtration order.
    rank : (|K|,) int64
        Rank of every cell among the cells of its own dimension in filtration order
        (only the entries of d-cells are read).
    kshape, kstrides : (d,) int64
        Shape and C strides (in elements) of ``K``.
    n_top : int
        Number of d-cells.

    Returns
    -------
    face_rank, top_rank : (p,) int64
        Filtration rank of the positive (d-1)-cell and of the d-cell of every pair (the
        d-cell that fills the void the face closed).

    Notes
    -----
    In reverse order the d-cells are the vertices and the (d-1)-cells the edges of a graph
    (the dual graph, with one extra vertex outside the array, oldest of all, for the faces on
    the boundary).  The homology pairs of the top boundary matrix are the 0-D pairs of this
    graph with the roles swapped: an edge that joins two components kills the younger one,
    whose root is the d-cell latest in the (forward) filtration, i.e. its smallest rank.
    """
    d = kshape.shape[0]
    parent = np.arange(n_top + 1)  # n_top is the outside
    m = faces.shape[0]
    fr = np.empty(m, dtype=np.int64)
    tr = np.empty(m, dtype=np.int64)
    npairs = 0
    for j in range(m - 1, -1, -1):
        f = faces[j]
        # the one even axis of a (d-1)-cell carries its two cofaces
        rem = f
        axis = 0
        coord = 0
        for i in range(d):
            c = rem // kstrides[i]
            rem -= c * kstrides[i]
            if c % 2 == 0:
                axis = i
                coord = c
        r1 = n_top
        r2 = n_top
        if coord >= 1:
            r1 = _find(parent, rank[f - kstrides[axis]])
        if coord + 1 <= kshape[axis] - 1:
            r2 = _find(parent, rank[f + kstrides[axis]])
        if r1 != r2:
            young = min(r1, r2)
            parent[young] = max(r1, r2)  # the root stays the oldest (largest rank)
            fr[npairs] = j
            tr[npairs] = young
            npairs += 1
    return fr[:npairs].copy(), tr[:npairs].copy()


@njit(cache=True, nogil=True)
def _heap_push(heap, n, x):
    if n == heap.shape[0]:
        grown = np.empty(2 * n, dtype=heap.dtype)
        grown[:n] = heap
        heap = grown
    i = n
    heap[i] = x
    while i > 0:
        up = (i - 1) >> 1
        if heap[up] >= x:
            break
        heap[i] = heap[up]
        i = up
    heap[i] = x
    return heap, n + 1


@njit(cache=True, nogil=True)
def _heap_pop(heap, n):
    """Remove the largest entry (returned) of the max-heap ``heap[:n]``."""
    top = heap[0]
    n -= 1
    x = heap[n]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and heap[c + 1] > heap[c]:
            c += 1
        if heap[c] <= x:
            break
        heap[i] = heap[c]
        i = c
    if n > 0:
        heap[i] = x
    return top, n


@njit(cache=True, nogil=True)
def _pop_pivot(heap, n):
    """Largest entry present an odd number of times (Z/2), or -1; removes what it passes."""
    while n > 0:
        x, n = _heap_pop(heap, n)
        cnt = 1
        while n > 0 and heap[0] == x:
            _, n = _heap_pop(heap, n)
            cnt += 1
        if cnt & 1:
            return x, n
    return np.int64(-1), n


@njit(cache=True, nogil=True)
def reduce_boundary(cols, cleared, rank, kstrides, n_rows):
    """Persistence pairs of the boundary matrix of the (k+1)-cells (Z/2, with clearing).

    Parameters
    ----------
    cols : (m,) int64
        Flat ``K`` indices of the (k+1)-cells in filtration order (the columns).
    cleared : (m,) bool
        Columns known to be positive (they create a (k+1)-class): skipped.
    rank : (|K|,) int64
        Rank of every cell among the cells of its own dimension (rows: k-cells).
    kstrides : (d,) int64
        C strides of ``K``; the faces of a cell are its neighbours along its odd axes.
    n_rows : int
        Number of k-cells.

    Returns
    -------
    row_rank, col_rank : (p,) int64
        The k-cell (its pivot, creating the class) and the (k+1)-cell (killing it) of
        every pair.
    is_pivot : (n_rows,) bool
        The k-cells that are pivots (positive k-cells: the clearing set of the next
        lower dimension).

    Notes
    -----
    The standard column algorithm: the working column is a max-heap of row ranks with
    lazy Z/2 cancellation; while its pivot is the pivot of an earlier column, that
    column's stored reduced form is added.  Reduced columns are stored (pivot first) in
    one growable pool.
    """
    d = kstrides.shape[0]
    m = cols.shape[0]
    pivot_col = np.full(n_rows, -1, dtype=np.int64)
    col_start = np.zeros(m + 1, dtype=np.int64)
    pool = np.empty(max(16, 4 * m), dtype=np.int64)
    used = 0
    heap = np.empty(64, dtype=np.int64)
    fr = np.empty(m, dtype=np.int64)
    fc = np.empty(m, dtype=np.int64)
    npairs = 0
    for j in range(m):
        col_start[j] = used
        if cleared[j]:
            continue
        c = cols[j]
        n = 0
        rem = c
        for i in range(d):
            x = rem // kstrides[i]
            rem -= x * kstrides[i]
            if x & 1:
                heap, n = _heap_push(heap, n, rank[c - kstrides[i]])
                heap, n = _heap_push(heap, n, rank[c + kstrides[i]])
        piv, n = _pop_pivot(heap, n)
        while piv >= 0 and pivot_col[piv] >= 0:
            o = pivot_col[piv]
            for t in range(col_start[o] + 1, col_start[o + 1]):
                heap, n = _heap_push(heap, n, pool[t])
            piv, n = _pop_pivot(heap, n)
        if piv < 0:
            continue  # a positive column that clearing did not know: nothing to store
        pivot_col[piv] = j
        fr[npairs] = piv
        fc[npairs] = j
        npairs += 1
        # store the reduced column, pivot first (the rest drains the heap)
        e = piv
        while e >= 0:
            if used == pool.shape[0]:
                grown = np.empty(2 * used, dtype=np.int64)
                grown[:used] = pool
                pool = grown
            pool[used] = e
            used += 1
            e, n = _pop_pivot(heap, n)
    col_start[m] = used
    return fr[:npairs].copy(), fc[:npairs].copy(), pivot_col >= 0


@njit(cache=True, nogil=True)
def valued_element(kflat, kval, kshape, kstrides, gshape, vertices):
    """Multi-index of the array element whose value each cell takes.

    ``vertices=True`` (V-construction): the vertex of the cell's closure with the largest
    value; ``False`` (T-construction): the top cell of its star with the smallest value.
    Ties: the first candidate in C order.

    Parameters
    ----------
    kflat : (m,) int64
        Flat ``K`` indices of the cells.
    kval : (|K|,) float64
        Cell values.
    kshape, kstrides, gshape : (d,) int64
        Shape and strides of ``K``; shape of the array.
    vertices : bool
        The construction.

    Returns
    -------
    (m, d) int64 multi-indices into the array.
    """
    m = kflat.shape[0]
    d = kshape.shape[0]
    out = np.empty((m, d), dtype=np.int64)
    coord = np.empty(d, dtype=np.int64)
    cand = np.empty(d, dtype=np.int64)
    for j in range(m):
        rem = kflat[j]
        for i in range(d):
            coord[i] = rem // kstrides[i]
            rem -= coord[i] * kstrides[i]
        target = kval[kflat[j]]
        # axes with two candidates: odd (V) or even (T) coordinates
        nfree = 0
        for i in range(d):
            if (coord[i] & 1) == (1 if vertices else 0):
                nfree += 1
        found = False
        for mask in range(1 << nfree):
            b = 0
            ok = True
            for i in range(d):
                x = coord[i]
                if (x & 1) == (1 if vertices else 0):
                    bit = (mask >> (nfree - 1 - b)) & 1  # C order: first axis is the slowest
                    b += 1
                    x = x - 1 + 2 * bit
                    if x < 0 or x >= kshape[i]:
                        ok = False
                cand[i] = x
            if not ok:
                continue
            f = np.int64(0)
            for i in range(d):
                f += cand[i] * kstrides[i]
            if kval[f] == target:
                for i in range(d):
                    out[j, i] = cand[i] // 2
                found = True
                break
        if not found:
            for i in range(d):
                out[j, i] = -1
    return out

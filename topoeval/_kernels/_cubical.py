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
def top_pairs(faces, rank, kshape, kstrides):
    """Pairs (d-1 cell, d cell) of the top dimension by a union-find in reverse order.

    Parameters
    ----------
    faces : (m,) int64
        Flat ``K`` indices of the (d-1)-cells in filtration order.
    rank : (|K|,) int
        Rank of every cell among the cells of its own dimension in filtration order
        (only the entries of d-cells are read).
    kshape, kstrides : (d,) int64
        Shape and C strides (in elements) of ``K``.

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
    The union-find runs over the d-cells in grid order (neighbours are near in memory);
    a root's age is its rank.
    """
    d = kshape.shape[0]
    tshape = (kshape - 1) // 2  # the d-cells: odd K coordinates 2i + 1
    tstrides = np.ones(d, dtype=np.int64)
    for i in range(d - 2, -1, -1):
        tstrides[i] = tstrides[i + 1] * tshape[i + 1]
    n_top = tstrides[0] * tshape[0]
    parent = np.arange(n_top + 1)  # n_top is the outside
    m = faces.shape[0]
    fr = np.empty(m, dtype=np.int64)
    tr = np.empty(m, dtype=np.int64)
    npairs = 0
    for j in range(m - 1, -1, -1):
        f = faces[j]
        rem = f
        axis = 0
        coord = 0
        g = np.int64(0)  # grid index of the coface at K coordinate coord + 1 on the even axis
        for i in range(d):
            c = rem // kstrides[i]
            rem -= c * kstrides[i]
            if c % 2 == 0:
                axis = i
                coord = c
            g += (c // 2) * tstrides[i]
        r1 = n_top
        r2 = n_top
        if coord >= 1:
            r1 = _find(parent, g - tstrides[axis])
        if coord + 1 <= kshape[axis] - 1:
            r2 = _find(parent, g)
        if r1 != r2:
            a1 = _age(rank, r1, n_top, tshape, kstrides)
            a2 = _age(rank, r2, n_top, tshape, kstrides)
            young, old = (r1, r2) if a1 < a2 else (r2, r1)
            parent[young] = old  # the root stays the oldest (largest rank)
            fr[npairs] = j
            tr[npairs] = min(a1, a2)
            npairs += 1
    return fr[:npairs].copy(), tr[:npairs].copy()


@njit(cache=True, nogil=True)
def _age(rank, t, n_top, tshape, kstrides):
    """Rank of the d-cell with grid index ``t`` (the outside: ``n_top``, the oldest)."""
    if t == n_top:
        return n_top
    d = tshape.shape[0]
    rem = t
    f = np.int64(0)
    for i in range(d - 1, -1, -1):
        q = rem // tshape[i]
        f += (2 * (rem - q * tshape[i]) + 1) * kstrides[i]
        rem = q
    return np.int64(rank[f])


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


@njit(cache=True, nogil=True, inline="always")
def _drain(heap, n, e, out, used):
    """Store ``e`` and then the entries left an odd number of times in the max-heap
    ``heap[:n]``, descending, at ``out[used:]`` (grown when needed); returns ``out, used``."""
    while e >= 0:
        if used == out.shape[0]:
            grown = np.empty(max(16, 2 * used), dtype=np.int64)
            grown[:used] = out[:used]
            out = grown
        out[used] = e
        used += 1
        e, n = _pop_pivot(heap, n)
    return out, used


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
    bnd = np.empty(2 * d, dtype=np.int64)
    fr = np.empty(m, dtype=np.int64)
    fc = np.empty(m, dtype=np.int64)
    npairs = 0
    for j in range(m):
        col_start[j] = used
        if cleared[j]:
            continue
        c = cols[j]
        nb = 0
        rem = c
        for i in range(d):
            x = rem // kstrides[i]
            rem -= x * kstrides[i]
            if x & 1:
                bnd[nb] = rank[c - kstrides[i]]
                bnd[nb + 1] = rank[c + kstrides[i]]
                nb += 2
        top = 0
        for t in range(1, nb):
            if bnd[t] > bnd[top]:
                top = t
        if pivot_col[bnd[top]] < 0:
            # the boundary's largest face is free: the column is already reduced (the
            # faces of a cube are distinct), stored as it is, pivot first
            piv = bnd[top]
            bnd[top] = bnd[0]
            bnd[0] = piv
            pivot_col[piv] = j
            fr[npairs] = piv
            fc[npairs] = j
            npairs += 1
            if used + nb > pool.shape[0]:
                grown = np.empty(2 * (used + nb), dtype=np.int64)
                grown[:used] = pool[:used]
                pool = grown
            for t in range(nb):
                pool[used + t] = bnd[t]
            used += nb
            continue
        n = 0
        for t in range(nb):
            heap, n = _heap_push(heap, n, bnd[t])
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
        pool, used = _drain(heap, n, piv, pool, used)  # the reduced column, pivot first
    col_start[m] = used
    return fr[:npairs].copy(), fc[:npairs].copy(), pivot_col >= 0


@njit(cache=True, nogil=True)
def _star_range(x, n, vertices):
    """The array indices along one axis that a cell at K coordinate ``x`` takes its value from."""
    if vertices:  # the vertices of its closure: x // 2 and, on an odd coordinate, the next
        return x // 2, (x + 1) // 2
    # the top cells of its star: (x - 1) // 2 on an odd coordinate, both sides on an even one
    lo = x // 2 - 1 if x % 2 == 0 else x // 2
    return max(lo, 0), min(x // 2, n - 1)


@njit(cache=True, nogil=True)
def _cell_value(f, coord, gshape, gstrides, vertices, lo, hi, best):
    """Value of the cell at K coordinates ``coord`` and the flat index of the element giving it.

    V-construction: the largest value of the vertices of its closure; T: the smallest of
    the top cells of its star.  Ties: the first such element in C order.
    """
    d = coord.shape[0]
    nfree = 0
    for i in range(d):
        lo[i], hi[i] = _star_range(coord[i], gshape[i], vertices)
        nfree += hi[i] > lo[i]
    val = np.inf
    arg = np.int64(-1)
    for mask in range(1 << nfree):
        b = nfree
        g = np.int64(0)
        for i in range(d):
            x = lo[i]
            if hi[i] > lo[i]:
                b -= 1
                x += (mask >> b) & 1  # the first axis is the slowest bit: C order
            g += x * gstrides[i]
        v = np.float64(f[g])
        if vertices:
            v = -v
        if v < val or arg < 0:
            val = v
            arg = g
    best[0] = arg
    return -val if vertices else val


@njit(cache=True, nogil=True)
def gather_cells(kval, kshape, k):
    """The k-cells in C order of ``K`` with their values read from the value grid ``kval``.

    Parameters
    ----------
    kval : (|K|,) float64
        The value of every cell of ``K`` (C order).
    kshape : (d,) int64
    k : int

    Returns
    -------
    kflat : (m,) int64
    values : (m,) float64
    """
    d = kshape.shape[0]
    # the k-cells: sum over the choices of k odd axes of the product of the counts
    m = np.int64(0)
    for mask in range(1 << d):
        bits = 0
        cnt = np.int64(1)
        for i in range(d):
            if (mask >> i) & 1:
                bits += 1
                cnt *= kshape[i] // 2
            else:
                cnt *= kshape[i] - kshape[i] // 2
        if bits == k:
            m += cnt
    kflat = np.empty(m, dtype=np.int64)
    vals = np.empty(m, dtype=np.float64)
    coord = np.zeros(d, dtype=np.int64)
    odd = 0
    j = 0
    L = kshape[d - 1]
    for p0 in range(0, kval.shape[0], L):  # one row of the last axis at a time
        outer = odd  # odd coordinates among the outer axes
        for x in range(L):
            if outer + (x & 1) == k:
                kflat[j] = p0 + x
                vals[j] = kval[p0 + x]
                j += 1
        i = d - 2  # odometer over the outer axes, keeping the count of odd coordinates
        while i >= 0:
            odd -= coord[i] & 1
            coord[i] += 1
            if coord[i] < kshape[i]:
                odd += coord[i] & 1
                break
            coord[i] = 0
            i -= 1
    return kflat, vals


@njit(cache=True, nogil=True)
def valued_element(kflat, f, gshape, kstrides, vertices):
    """Multi-index of the array element whose value each cell takes (see :func:`_cell_value`).

    Parameters
    ----------
    kflat : (m,) int64
        Flat ``K`` indices of the cells.
    f : (n,) float64
        The array in C order.
    gshape, kstrides : (d,) int64
        Shape of the array, strides of ``K``.
    vertices : bool
        The construction.

    Returns
    -------
    (m, d) int64 multi-indices into the array.
    """
    m = kflat.shape[0]
    d = gshape.shape[0]
    gstrides = np.ones(d, dtype=np.int64)
    for i in range(d - 2, -1, -1):
        gstrides[i] = gstrides[i + 1] * gshape[i + 1]
    out = np.empty((m, d), dtype=np.int64)
    coord = np.empty(d, dtype=np.int64)
    lo = np.empty(d, dtype=np.int64)
    hi = np.empty(d, dtype=np.int64)
    best = np.empty(1, dtype=np.int64)
    for j in range(m):
        rem = kflat[j]
        for i in range(d):
            coord[i] = rem // kstrides[i]
            rem -= coord[i] * kstrides[i]
        _cell_value(f, coord, gshape, gstrides, vertices, lo, hi, best)
        g = best[0]
        for i in range(d - 1, -1, -1):
            q = g // gshape[i]
            out[j, i] = g - q * gshape[i]
            g = q
    return out

"""Numba kernels of the discrete Morse sandwich in 3-D (private): dimension 1 of a 3-D field.

Dimension 1 of a 3-D cubical complex only needs the *critical* cells of a discrete gradient
(Robins, Wood & Sheppard 2011, "ProcessLowerStars"; the discrete Morse sandwich of Guillou,
Vidal & Tierny, IEEE TVCG 2023): a filtration-compatible acyclic matching leaves a Morse
complex with the same persistence pairs of positive persistence (Mischaikow & Nanda 2013).

**The lattice picture.**  Both constructions are handled as one *vertex* (lower-star)
complex ``L`` on the Khalimsky grid ``K`` (shape ``kshape``, cells by C-order flat index):

* V-construction: ``L`` is the complex itself; its vertices ("centers") are the array
  elements at even ``K`` coordinates, ordered by rank of (value, flat index).
* T-construction: ``L`` is the *dual* complex: its centers are the top cubes (odd ``K``
  coordinates), a cell of dimension ``k`` is the ``(3-k)``-cell of ``K``, faces are
  cofaces, and the centers are ordered by *descending* value (``L``-value = ``-value``).
  Centers outside the array (across the boundary) are earlier than every center.
  The boundary matrix of ``L`` in its order is the anti-transpose of the real one, which
  has the same persistence pairs (de Silva, Morozov & Vejdemo-Johansson 2011): the
  ``L``-pair (1-cell, 2-cell) is the real pair (birth 1-cell = ``L``-2-cell, death 2-cell).

A cell of ``L`` is at ``L``-coordinate ``y = x - pad`` (``pad`` = 1 for T); its dimension
is the number of odd ``y`` coordinates and its vertices are ``y +- 1`` along them.  It
belongs to the lower star of its latest vertex (in the center order).

**The gradient** (:func:`lower_star_gradient`) is stored as one uint16 per cell of ``K``:
bits 0-2 the partner (``2 * axis + (partner at +1)``; 6 critical), bits 3-5 the side of
its center along each odd axis (set: at ``y + 1``), bits 6-10 the order in which
ProcessLowerStars assigned it within its lower star.  The *key* ``rank(center) * 32 +
time`` orders every cell after the other faces of its gradient partner (a linear
extension of the V-paths), so Morse boundaries are expanded with one max-heap.

**The sandwich** (:func:`saddle_pairs`): the critical 2-cells of ``L`` are edges of the
Morse dual graph (their two ascending V-paths end at critical 3-cells or the outside);
a Kruskal in reverse key order finds the positive ones (they pair with 3-cells: cleared);
the boundary of every other critical 2-cell in critical 1-cells (following descending
V-paths, Z/2) is reduced column by column; every column gives one pair.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._cubical import _find, _heap_push, _pop_pivot

_CRITICAL = 6
_UNSET = 7


# ------------------------------------------------------------------ the gradient
@njit(cache=True, nogil=True)
def _block_tables():
    """Offsets (27, 3) of a 3x3x3 block, their number of non-zeros, and the cells by it."""
    off = np.empty((27, 3), dtype=np.int64)
    nnz = np.empty(27, dtype=np.int64)
    for q in range(27):
        off[q, 0] = q // 9 - 1
        off[q, 1] = (q // 3) % 3 - 1
        off[q, 2] = q % 3 - 1
        nnz[q] = (off[q, 0] != 0) + (off[q, 1] != 0) + (off[q, 2] != 0)
    by_nnz = np.empty(27, dtype=np.int64)
    j = 0
    for k in range(4):
        for q in range(27):
            if nnz[q] == k:
                by_nnz[j] = q
                j += 1
    return off, nnz, by_nnz


@njit(cache=True, nogil=True)
def _unassigned_faces(q, state, off, nnz):
    """Number of faces of the block cell ``q`` still unassigned, and the last one seen."""
    st = (9, 3, 1)
    u = 0
    face = -1
    for a in range(3):
        if off[q, a] != 0:
            p = q - off[q, a] * st[a]
            if state[p] == 1:
                u += 1
                face = p
    return u, face


@njit(cache=True, nogil=True)
def _push_cofaces(q, state, off, pq, nnz):
    """Add to the mask ``pq`` the unassigned cofaces of ``q`` with one unassigned face."""
    st = (9, 3, 1)
    for a in range(3):
        if off[q, a] == 0:
            for s in (-1, 1):
                p = q + s * st[a]
                if state[p] == 1 and _unassigned_faces(p, state, off, nnz)[0] == 1:
                    pq |= np.int64(1) << p
    return pq


@njit(cache=True, nogil=True)
def _pop_min(pq, G, state):
    """The unassigned cell of the mask ``pq`` with the smallest G (-1: none), and the mask."""
    best = -1
    m = pq
    while m:
        q = 0
        low = m & (-m)
        while (np.int64(1) << q) != low:
            q += 1
        m ^= low
        if state[q] != 1:
            pq &= ~low
        elif best < 0 or G[q] < G[best]:
            best = q
    if best >= 0:
        pq &= ~(np.int64(1) << best)
    return best, pq


@njit(cache=True, nogil=True)
def _lower_star(rank, i0, i1, i2, pad, off, nnz, by_nnz, nbr, lower, order, G, state, partner, when):
    """ProcessLowerStars on the lower star of the center ``(i0, i1, i2)`` (block cells).

    Fills ``state`` (0: not in the star, 2: assigned), ``partner`` (block index of the
    gradient partner, -1 critical) and ``when`` (assignment order) of the 27 block cells.
    G(cell) is the bitmask of the ranks of its vertices other than the center (bit = the
    vertex's position among the lower neighbours): comparing masks is comparing the
    descending vertex ranks lexicographically (Robins et al.'s G), faces before cofaces.
    """
    n0, n1, n2 = rank.shape
    rc = rank[i0, i1, i2]
    nlow = 0
    for q in range(27):
        state[q] = 0
        partner[q] = -1
        if q == 13:
            continue
        j0, j1, j2 = i0 + off[q, 0], i1 + off[q, 1], i2 + off[q, 2]
        if 0 <= j0 < n0 and 0 <= j1 < n1 and 0 <= j2 < n2:
            r = np.int64(rank[j0, j1, j2])
            lower[q] = r < rc
        else:  # outside the array: no cell (V) or a center earlier than all (T)
            r = np.int64(-1)
            lower[q] = pad
        nbr[q] = r
        if lower[q]:  # insertion sort of the lower neighbours by (rank, block index)
            t = nlow
            while t > 0 and nbr[order[t - 1]] > r:
                order[t] = order[t - 1]
                t -= 1
            order[t] = q
            nlow += 1
    for t in range(nlow):
        G[order[t]] = np.int64(1) << t
    st = (9, 3, 1)
    state[13] = 1
    G[13] = 0
    ones = 0
    for t in range(1, 27):
        q = by_nnz[t]
        if not lower[q]:
            continue
        ok = True
        g = G[q]
        for a in range(3):
            if off[q, a] != 0:
                p = q - off[q, a] * st[a]
                if state[p] != 1:
                    ok = False
                    break
                g |= G[p]
        if ok:
            state[q] = 1
            G[q] = g
            if nnz[q] == 1:
                ones |= np.int64(1) << q
    tick = 0
    delta, ones = _pop_min(ones, G, state)
    if delta < 0:
        state[13] = 2
        when[13] = 0
        return
    state[13] = 2
    state[delta] = 2
    partner[13] = delta
    partner[delta] = 13
    when[13] = 0
    when[delta] = 1
    tick = 2
    pq0 = ones
    pq1 = _push_cofaces(delta, state, off, np.int64(0), nnz)
    while True:
        while pq1:
            alpha, pq1 = _pop_min(pq1, G, state)
            if alpha < 0:
                break
            u, face = _unassigned_faces(alpha, state, off, nnz)
            if u == 0:
                pq0 |= np.int64(1) << alpha
            else:
                state[face] = 2
                state[alpha] = 2
                partner[face] = alpha
                partner[alpha] = face
                when[face] = tick
                when[alpha] = tick + 1
                tick += 2
                pq0 &= ~(np.int64(1) << face)
                pq1 = _push_cofaces(alpha, state, off, pq1, nnz)
                pq1 = _push_cofaces(face, state, off, pq1, nnz)
        gamma, pq0 = _pop_min(pq0, G, state)
        if gamma < 0:
            break
        state[gamma] = 2
        when[gamma] = tick
        tick += 1
        pq1 = _push_cofaces(gamma, state, off, pq1, nnz)
    for q in range(27):  # never left by ProcessLowerStars; critical keeps the matching valid
        if state[q] == 1:
            state[q] = 2
            when[q] = tick
            tick += 1


@njit(cache=True, nogil=True)
def lower_star_gradient(rank, pad, code, lo=0, hi=-1):
    """The lower-star gradient of ``L`` for the centers ``rank[lo:hi]`` (first axis).

    Parameters
    ----------
    rank : (n0, n1, n2) int32 or int64
        Position of every center in the center order of ``L`` (a permutation).
    pad : bool
        T-construction (``L`` is the dual; ``K`` has ``2n + 1`` points per axis, and
        centers outside the array are earlier than all); V: ``2n - 1``.
    code : (|K|,) uint16
        Output, written for the cells of these centers' lower stars (see the module
        docstring).  Every cell of ``K`` is in exactly one lower star, so disjoint
        ranges of centers can run in parallel.
    lo, hi : int
        Range of the first center axis (``hi = -1``: to the end).
    """
    n0, n1, n2 = rank.shape
    p = 1 if pad else 0
    k1 = 2 * n1 - 1 + 2 * p
    k2 = 2 * n2 - 1 + 2 * p
    s0 = np.int64(k1) * k2
    off, nnz, by_nnz = _block_tables()
    nbr = np.empty(27, dtype=np.int64)
    lower = np.zeros(27, dtype=np.bool_)
    order = np.empty(27, dtype=np.int64)
    G = np.zeros(27, dtype=np.int64)
    state = np.zeros(27, dtype=np.int8)
    partner = np.empty(27, dtype=np.int64)
    when = np.zeros(27, dtype=np.int64)
    if hi < 0:
        hi = n0
    for i0 in range(lo, hi):
        for i1 in range(n1):
            for i2 in range(n2):
                _lower_star(rank, i0, i1, i2, pad, off, nnz, by_nnz, nbr, lower, order, G, state, partner, when)
                base = (2 * i0 + p) * s0 + np.int64(2 * i1 + p) * k2 + (2 * i2 + p)
                for q in range(27):
                    if state[q] != 2:
                        continue
                    side = 0
                    for a in range(3):
                        if off[q, a] < 0:
                            side |= 1 << a
                    t = partner[q]
                    if t < 0:
                        dirn = _CRITICAL
                    else:
                        for a in range(3):
                            if off[t, a] != off[q, a]:
                                dirn = 2 * a + (1 if off[t, a] > off[q, a] else 0)
                    kq = base + off[q, 0] * s0 + off[q, 1] * k2 + off[q, 2]
                    code[kq] = np.uint16(dirn | (side << 3) | (when[q] << 6))


# ------------------------------------------------------------------ cells and keys
@njit(cache=True, nogil=True)
def _coords(c, kstrides, x):
    rem = c
    for a in range(3):
        x[a] = rem // kstrides[a]
        rem -= x[a] * kstrides[a]


@njit(cache=True, nogil=True)
def cell_key(c, code, rank, kstrides, pad):
    """The key ``rank(center) * 32 + time`` of the cell with flat ``K`` index ``c``."""
    v = np.int64(code[c])
    side = (v >> 3) & 7
    rem = c
    i0 = i1 = i2 = 0
    for a in range(3):
        x = rem // kstrides[a]
        rem -= x * kstrides[a]
        if (x - pad) & 1:
            x += 1 if (side >> a) & 1 else -1
        i = (x - pad) // 2
        if a == 0:
            i0 = i
        elif a == 1:
            i1 = i
        else:
            i2 = i
    return np.int64(rank[i0, i1, i2]) * 32 + (v >> 6)


@njit(cache=True, nogil=True)
def critical_cells(code, rank, kshape, pad, dim):
    """Flat ``K`` indices and keys of the critical cells of ``L``-dimension ``dim``.

    Returns
    -------
    cells, keys : (m,) int64, sorted by key (the Morse complex's filtration order).
    """
    kstrides = np.array([kshape[1] * kshape[2], kshape[2], 1], dtype=np.int64)
    m = 0
    n = code.shape[0]
    cells = np.empty(1024, dtype=np.int64)
    x = np.empty(3, dtype=np.int64)
    for c in range(n):
        if (code[c] & 7) != _CRITICAL:
            continue
        _coords(c, kstrides, x)
        k = ((x[0] - pad) & 1) + ((x[1] - pad) & 1) + ((x[2] - pad) & 1)
        if k != dim:
            continue
        if m == cells.shape[0]:
            grown = np.empty(2 * m, dtype=np.int64)
            grown[:m] = cells
            cells = grown
        cells[m] = c
        m += 1
    cells = cells[:m].copy()
    keys = np.empty(m, dtype=np.int64)
    for j in range(m):
        keys[j] = cell_key(cells[j], code, rank, kstrides, pad)
    o = np.argsort(keys)
    return cells[o], keys[o]


# ------------------------------------------------------------------ the sandwich
@njit(cache=True, nogil=True)
def _top_index(c, kstrides, tshape, pad, x):
    """Index of the L-3-cell ``c`` in the grid of L-3-cells (C order)."""
    _coords(c, kstrides, x)
    q = 1 - pad
    return ((x[0] - q) // 2 * tshape[1] + (x[1] - q) // 2) * tshape[2] + (x[2] - q) // 2


@njit(cache=True, nogil=True)
def ascending_forest(code, kshape, pad):
    """Parent pointers of the L-3-cells along ascending V-paths (a root is critical).

    A non-critical 3-cell is paired with one of its faces; the V-path goes on to that
    face's other coface (or the outside, index ``n_top``).

    Returns
    -------
    parent : (n_top + 1,) int64
    tshape : (3,) int64  (the grid of L-3-cells)
    """
    q = 1 - pad
    tshape = np.empty(3, dtype=np.int64)
    for a in range(3):
        tshape[a] = (kshape[a] - q + 1) // 2
    kstrides = np.array([kshape[1] * kshape[2], kshape[2], 1], dtype=np.int64)
    n_top = tshape[0] * tshape[1] * tshape[2]
    parent = np.empty(n_top + 1, dtype=np.int64)
    parent[n_top] = n_top
    x = np.empty(3, dtype=np.int64)
    t = 0
    for j0 in range(tshape[0]):
        for j1 in range(tshape[1]):
            for j2 in range(tshape[2]):
                c = (2 * j0 + q) * kstrides[0] + (2 * j1 + q) * kstrides[1] + 2 * j2 + q
                dirn = code[c] & 7
                if dirn == _CRITICAL:
                    parent[t] = t
                else:
                    a = dirn >> 1
                    s = 1 if dirn & 1 else -1
                    _coords(c, kstrides, x)
                    y = x[a] + 2 * s
                    if 0 <= y < kshape[a]:
                        parent[t] = _top_index(c + 2 * s * kstrides[a], kstrides, tshape, pad, x)
                    else:
                        parent[t] = n_top
                t += 1
    return parent, tshape


@njit(cache=True, nogil=True)
def clear_positive(saddles2, code, kshape, pad):
    """Which critical 2-cells of ``L`` are positive (a Kruskal in reverse key order).

    Parameters
    ----------
    saddles2 : (m,) int64
        Flat ``K`` indices of the critical 2-cells, sorted by key.

    Returns
    -------
    (m,) bool: True where the 2-cell joins two components of the Morse dual graph (it
    pairs with a 3-cell); those columns need no reduction.
    """
    parent, tshape = ascending_forest(code, kshape, pad)
    n_top = parent.shape[0] - 1
    kstrides = np.array([kshape[1] * kshape[2], kshape[2], 1], dtype=np.int64)
    x = np.empty(3, dtype=np.int64)
    m = saddles2.shape[0]
    positive = np.zeros(m, dtype=np.bool_)
    for j in range(m - 1, -1, -1):
        c = saddles2[j]
        _coords(c, kstrides, x)
        a = 0
        for i in range(3):
            if ((x[i] - pad) & 1) == 0:
                a = i  # the one even axis of a 2-cell: its cofaces lie along it
        r1 = r2 = _find(parent, n_top)  # the outside may be linked below another root
        if x[a] >= 1:
            r1 = _find(parent, _top_index(c - kstrides[a], kstrides, tshape, pad, x))
            _coords(c, kstrides, x)
        if x[a] + 1 < kshape[a]:
            r2 = _find(parent, _top_index(c + kstrides[a], kstrides, tshape, pad, x))
        if r1 != r2:
            parent[r1] = r2
            positive[j] = True
    return positive


@njit(cache=True, nogil=True)
def _kheap_push(keys, cells, n, k, c):
    if n == keys.shape[0]:
        gk = np.empty(2 * n, dtype=np.int64)
        gc = np.empty(2 * n, dtype=np.int64)
        gk[:n] = keys
        gc[:n] = cells
        keys, cells = gk, gc
    i = n
    while i > 0:
        up = (i - 1) >> 1
        if keys[up] >= k:
            break
        keys[i] = keys[up]
        cells[i] = cells[up]
        i = up
    keys[i] = k
    cells[i] = c
    return keys, cells, n + 1


@njit(cache=True, nogil=True)
def _kheap_pop(keys, cells, n):
    k, c = keys[0], cells[0]
    n -= 1
    xk, xc = keys[n], cells[n]
    i = 0
    while True:
        ch = 2 * i + 1
        if ch >= n:
            break
        if ch + 1 < n and keys[ch + 1] > keys[ch]:
            ch += 1
        if keys[ch] <= xk:
            break
        keys[i] = keys[ch]
        cells[i] = cells[ch]
        i = ch
    if n > 0:
        keys[i] = xk
        cells[i] = xc
    return k, c, n


@njit(cache=True, nogil=True)
def _push_faces(c, skip, code, rank, kshape, kstrides, pad, x, hk, hc, n):
    """Push the L-faces of the cell ``c`` except ``skip`` onto the key heap."""
    _coords(c, kstrides, x)
    for a in range(3):
        if (x[a] - pad) & 1:
            for s in (-1, 1):
                y = x[a] + s
                if 0 <= y < kshape[a]:
                    f = c + s * kstrides[a]
                    if f != skip:
                        hk, hc, n = _kheap_push(hk, hc, n, cell_key(f, code, rank, kstrides, pad), f)
    return hk, hc, n


@njit(cache=True, nogil=True)
def morse_boundary(c, code, rank, kshape, pad, hk, hc, out):
    """Z/2 boundary of the critical 2-cell ``c`` of ``L`` in critical 1-cells (keys).

    The chain is expanded from the largest key down: a critical 1-cell is kept, a 1-cell
    paired with a 0-cell is dropped, a 1-cell paired with a 2-cell is replaced by that
    2-cell's other faces (all of smaller key).  Equal keys meet at the top of the heap,
    so Z/2 cancellation is a count.

    Returns
    -------
    out, m : the keys of the boundary, descending, in ``out[:m]`` (grown when needed),
    and the heaps (grown).
    """
    kstrides = np.array([kshape[1] * kshape[2], kshape[2], 1], dtype=np.int64)
    x = np.empty(3, dtype=np.int64)
    n = 0
    hk, hc, n = _push_faces(c, -1, code, rank, kshape, kstrides, pad, x, hk, hc, n)
    m = 0
    while n > 0:
        k, e, n = _kheap_pop(hk, hc, n)
        cnt = 1
        while n > 0 and hk[0] == k:
            _, _, n = _kheap_pop(hk, hc, n)
            cnt += 1
        if (cnt & 1) == 0:
            continue
        dirn = code[e] & 7
        if dirn == _CRITICAL:
            if m == out.shape[0]:
                grown = np.empty(2 * m, dtype=np.int64)
                grown[:m] = out
                out = grown
            out[m] = k
            m += 1
            continue
        a = dirn >> 1
        _coords(e, kstrides, x)
        if (x[a] - pad) & 1:
            continue  # paired with a face (a 0-cell): not on a descending V-path
        s = 1 if dirn & 1 else -1
        hk, hc, n = _push_faces(e + s * kstrides[a], e, code, rank, kshape, kstrides, pad, x, hk, hc, n)
    return out, m, hk, hc


@njit(cache=True, nogil=True)
def saddle_pairs(code, rank, kshape, pad, saddles2, keys1, positive):
    """Persistence pairs (critical 1-cell, critical 2-cell) of ``L`` by reduction.

    Parameters
    ----------
    code, rank, kshape, pad
        The gradient (:func:`lower_star_gradient`).
    saddles2 : (m,) int64
        Critical 2-cells sorted by key (the columns, in filtration order).
    keys1 : (r,) int64
        Keys of the critical 1-cells, ascending (the rows).
    positive : (m,) bool
        Columns that create 2-classes (:func:`clear_positive`): skipped.

    Returns
    -------
    rows, cols : (p,) int64
        Row (index into ``keys1``) and column (index into ``saddles2``) of every pair.
    """
    m = saddles2.shape[0]
    nr = keys1.shape[0]
    pivot_col = np.full(nr, -1, dtype=np.int64)
    col_start = np.zeros(m + 1, dtype=np.int64)
    pool = np.empty(max(16, 4 * m), dtype=np.int64)
    used = 0
    hk = np.empty(64, dtype=np.int64)
    hc = np.empty(64, dtype=np.int64)
    bnd = np.empty(64, dtype=np.int64)
    heap = np.empty(64, dtype=np.int64)
    fr = np.empty(m, dtype=np.int64)
    fc = np.empty(m, dtype=np.int64)
    npairs = 0
    for j in range(m):
        col_start[j] = used
        if positive[j]:
            continue
        bnd, nb, hk, hc = morse_boundary(saddles2[j], code, rank, kshape, pad, hk, hc, bnd)
        if nb == 0:
            continue
        for t in range(nb):  # keys -> row indices (descending, distinct)
            bnd[t] = np.searchsorted(keys1, bnd[t])
        piv = bnd[0]
        if pivot_col[piv] >= 0:
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
                continue  # a positive column the Kruskal did not know: nothing to store
            nb = 0
            e = piv
            while e >= 0:
                if nb == bnd.shape[0]:
                    grown = np.empty(2 * nb, dtype=np.int64)
                    grown[:nb] = bnd
                    bnd = grown
                bnd[nb] = e
                nb += 1
                e, n = _pop_pivot(heap, n)
        pivot_col[piv] = j
        fr[npairs] = piv
        fc[npairs] = j
        npairs += 1
        if used + nb > pool.shape[0]:
            grown = np.empty(2 * (used + nb), dtype=np.int64)
            grown[:used] = pool[:used]
            pool = grown
        pool[used : used + nb] = bnd[:nb]
        used += nb
    col_start[m] = used
    return fr[:npairs].copy(), fc[:npairs].copy()

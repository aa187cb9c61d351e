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
With ``classify`` a *regular* center (contractible lower link: no critical cell in its
lower star) gets only its own code; :func:`_ensure` writes the rest of its star when a
V-path reaches it (the Morse boundaries, the ascending forest), so a smooth field's stars
far from its critical cells are never processed.

**The sandwich** (:func:`saddle_pairs`): the critical 2-cells of ``L`` are edges of the
Morse dual graph (their two ascending V-paths end at critical 3-cells or the outside);
a Kruskal in reverse key order finds the positive ones (they pair with 3-cells: cleared);
the critical 1-cells that merge two components along the descending V-paths (a Kruskal
in key order: they pair with 0-cells) are dropped from the rows (compression); the
boundary of every other critical 2-cell in the remaining critical 1-cells (following
descending V-paths, Z/2) is computed in ``K`` order (threads) and reduced column by
column in key order; every column gives one pair.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit

from ._cubical import _drain, _find, _heap_pop, _heap_push, _pop_pivot

_CRITICAL = 6
_UNSET = 7


# ------------------------------------------------------------------ the gradient
# 2**i mod 37 is distinct for i < 36 (2 is a primitive root mod 37): the index of the lowest
# set bit of a mask of at most 27 bits is _LOW_BIT[(m & -m) % 37], without a loop.
_LOW_BIT = np.full(37, -1, dtype=np.int64)
for _i in range(36):
    _LOW_BIT[(1 << _i) % 37] = _i
del _i


@njit(cache=True, nogil=True)
def _block_tables(k1, k2):
    """The fixed tables of the 3x3x3 block of a center (block index ``q = 9 a + 3 b + c``).

    Returns ``off`` (27, 3) offsets in -1..1, ``nnz`` (27,) number of odd axes (the
    L-dimension of the cell), ``by_nnz`` (27,) the cells by dimension, ``faces`` (27, 4)
    (count, then the faces along the axes in order, padded with 13), ``cofaces`` (27, 7)
    (count, then the cofaces), ``koff`` (27,) flat ``K`` offsets (K rows ``k1``, ``k2``),
    ``side`` (27,) the side bits of the code (an odd axis whose center is at ``y + 1``) and
    ``vmask`` (27,) the bits of the cell's vertices other than the center (their far-vertex
    block indices).
    """
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
    faces = np.zeros((27, 4), dtype=np.int64)
    cofaces = np.zeros((27, 7), dtype=np.int64)
    koff = np.empty(27, dtype=np.int64)
    side = np.zeros(27, dtype=np.int64)
    st = (9, 3, 1)
    ks = (np.int64(k1) * k2, np.int64(k2), np.int64(1))
    for q in range(27):
        koff[q] = 0
        for a in range(3):
            koff[q] += off[q, a] * ks[a]
            if off[q, a] != 0:
                faces[q, 0] += 1
                faces[q, faces[q, 0]] = q - off[q, a] * st[a]
                if off[q, a] < 0:
                    side[q] |= 1 << a
            else:
                for s in (-1, 1):
                    cofaces[q, 0] += 1
                    cofaces[q, cofaces[q, 0]] = q + s * st[a]
        for t in range(faces[q, 0] + 1, 4):
            faces[q, t] = 13  # padding: G of the center is 0, so G[q] is one expression
    vmask = np.zeros(27, dtype=np.int64)
    for q in range(27):  # the far vertices p != 13 of q's closure: off[p] is off[q] with zeros
        for p in range(27):
            sub = p != 13
            for a in range(3):
                sub = sub and (off[p, a] == 0 or off[p, a] == off[q, a])
            if sub:
                vmask[q] |= np.int64(1) << p
    return off, nnz, by_nnz, faces, cofaces, koff, side, vmask


@njit(cache=True, nogil=True, inline="always")
def _pop_min(pq, ls, unas, low_bit):
    """The unassigned cell of the mask ``pq`` (bits: positions in ``ls``, the lower star by
    ascending G) with the smallest G, or -1; and the mask without it and without the
    assigned cells met before it."""
    while pq:
        low = pq & (-pq)
        pq ^= low
        q = ls[low_bit[low % 37]]
        if (unas >> q) & 1:
            return q, pq
    return -1, pq


@njit(cache=True, nogil=True, inline="always")
def _push_cofaces(q, unas, cofaces, faces, pos, pq):
    """Add to ``pq`` the unassigned cofaces of ``q`` that have exactly one unassigned face."""
    for t in range(1, cofaces[q, 0] + 1):
        p = cofaces[q, t]
        if (unas >> p) & 1:
            u = 0
            for s in range(1, faces[p, 0] + 1):
                u += (unas >> faces[p, s]) & 1
            if u == 1:
                pq |= np.int64(1) << pos[p]
    return pq


# the layout of a star context (:func:`star_context`): one int64 array, so that the kernels
# pass one array down to the lazy stars (each array argument of a hot call costs)
_OFF, _NNZ, _BY_NNZ, _FACES, _COFACES, _KOFF, _SIDE, _VMASK = 0, 81, 108, 135, 243, 432, 459, 486
_ROFF, _HEAD, _LOWB, _SCRATCH, _TABLE, _CONTEXT = 513, 540, 1296, 1333, 1495, 1495 + (1 << 14)


@njit(cache=True, nogil=True)
def regularity_table():
    """Which lower links are contractible, by (lower edges, lower squares): (2**14,) int64.

    A center's lower link lies on the octahedral link of the 3x3x3 block: its vertices are
    the 6 lower edges, its edges the 12 lower squares and its triangles the 8 lower cubes.
    It is contractible exactly when it is connected with Euler characteristic 1 (a proper
    subcomplex of a 2-sphere), i.e. when it has ``1 - V + E`` triangles.  Entry ``m`` (bit
    ``t - 1`` set: the cell ``by_nnz[t]``, ``t`` = 1..18, is lower) is that number plus 1
    for a connected link, else 0; 4 bits each, 16 per int64 (128 KiB, the L2 of a core).
    """
    off, nnz, by_nnz, faces, cofaces, koff, side, vmask = _block_tables(3, 3)
    slot = np.zeros(27, dtype=np.int64)  # block index of an edge -> its bit (t - 1)
    for t in range(1, 7):
        slot[by_nnz[t]] = t - 1
    ends = np.empty((12, 2), dtype=np.int64)  # a square's two edges, as bits
    for t in range(7, 19):
        ends[t - 7, 0] = slot[faces[by_nnz[t], 1]]
        ends[t - 7, 1] = slot[faces[by_nnz[t], 2]]
    table = np.zeros(1 << 14, dtype=np.int64)
    for m in range(1 << 18):
        verts = m & 63
        if verts == 0:
            continue
        reach = verts & -verts
        links = 0
        valid = True
        for s in range(12):
            if (m >> (6 + s)) & 1:
                links += 1
                valid = valid and ((verts >> ends[s, 0]) & (verts >> ends[s, 1]) & 1) == 1
        grown = True
        while grown:  # grow the component of the first vertex along the link's edges
            before = reach
            for s in range(12):
                if (m >> (6 + s)) & 1 and ((reach >> ends[s, 0]) | (reach >> ends[s, 1])) & 1:
                    reach |= (np.int64(1) << ends[s, 0]) | (np.int64(1) << ends[s, 1])
            grown = reach != before
        popv = 0
        for b in range(6):
            popv += (verts >> b) & 1
        need = 1 - popv + links
        if valid and reach == verts and 0 <= need <= 8:
            table[m >> 4] |= np.int64(need + 1) << ((m & 15) << 2)
    return table


@functools.cache
def star_table():
    """:func:`regularity_table`, made once per process on first use (6 ms)."""
    return regularity_table()


@njit(cache=True, nogil=True)
def star_context(rank, pad, table):
    """The fixed tables and the scratch rows of :func:`_stars` for the centers ``rank``, in
    one int64 array (one per thread: the scratch is written).

    It holds :func:`_block_tables`, ``roff`` (27,) (the block's flat offsets in ``rank``),
    ``head`` (27, 28) (code bits 0-5 of the cell ``q`` paired with ``t``; ``t = -1``:
    critical), ``_LOW_BIT``, the scratch (6, 27) (rows ``r, G, ls, pos, partner, when``) and
    ``table`` (:func:`regularity_table`, for ``classify``; empty: no center is taken as
    regular), at the offsets ``_OFF`` ...
    """
    n0, n1, n2 = rank.shape
    p = 1 if pad else 0
    k1 = 2 * n1 - 1 + 2 * p
    k2 = 2 * n2 - 1 + 2 * p
    off, nnz, by_nnz, faces, cofaces, koff, side, vmask = _block_tables(k1, k2)
    ctx = np.zeros(_CONTEXT, dtype=np.int64)
    ctx[_OFF:_NNZ] = off.reshape(-1)
    ctx[_NNZ:_BY_NNZ] = nnz
    ctx[_BY_NNZ:_FACES] = by_nnz
    ctx[_FACES:_COFACES] = faces.reshape(-1)
    ctx[_COFACES:_KOFF] = cofaces.reshape(-1)
    ctx[_KOFF:_SIDE] = koff
    ctx[_SIDE:_VMASK] = side
    ctx[_VMASK:_ROFF] = vmask
    for q in range(27):
        ctx[_ROFF + q] = (off[q, 0] * np.int64(n1) + off[q, 1]) * n2 + off[q, 2]
        for t in range(-1, 27):
            dirn = _CRITICAL
            if t >= 0:  # partners differ along one axis: block index step 9, 3 or 1
                dt = t - q
                a = 0 if (dt == 9 or dt == -9) else (1 if (dt == 3 or dt == -3) else 2)
                dirn = 2 * a + (1 if dt > 0 else 0)
            ctx[_HEAD + 28 * q + (t % 28)] = dirn | (side[q] << 3)
    ctx[_LOWB:_SCRATCH] = _LOW_BIT
    if table.shape[0] == _CONTEXT - _TABLE:
        ctx[_TABLE:_CONTEXT] = table
    return ctx


@njit(cache=True, nogil=True)
def _stars(rank, i0, i1, lo2, hi2, pad, ctx, code, classify):
    """ProcessLowerStars (Robins, Wood & Sheppard) on the lower stars of the centers
    ``rank[i0, i1, lo2:hi2]``, written to ``code`` (see the module docstring).

    ``classify``: a *regular* center (its lower link is contractible) only gets its own
    code (its pair with the steepest lower edge); its other cells stay ``_UNSET`` for
    :func:`_ensure`.  ProcessLowerStars leaves no critical cell in exactly those lower
    stars (it is perfect in 3-D: Robins et al., Theorem 3.4; tested), so the critical
    cells, and the centers' pairs, are the same.  Returns the number of centers whose whole
    lower star was written.

    Per center: G(cell) is the bitmask of the positions of its vertices other than the
    center among the 27 block vertices sorted by (rank, block index): comparing masks
    compares the descending vertex ranks lexicographically (Robins et al.'s G), faces
    before cofaces.  Only the lower star is touched (about 8 cells on average); priority
    queues are bitmasks over ``ls`` (the lower star by ascending G).  The loop over the
    centers is in this one function: an inlined per-center function copied its array
    arguments with reference counts, 70 ns per center (a fifth of the kernel's time on a smooth field).
    """
    off = ctx[_OFF:_NNZ].reshape((27, 3))
    nnz, by_nnz = ctx[_NNZ:_BY_NNZ], ctx[_BY_NNZ:_FACES]
    faces, cofaces = ctx[_FACES:_COFACES].reshape((27, 4)), ctx[_COFACES:_KOFF].reshape((27, 7))
    koff, vmask, roff = ctx[_KOFF:_SIDE], ctx[_VMASK:_ROFF], ctx[_ROFF:_HEAD]
    head, low_bit = ctx[_HEAD:_LOWB].reshape((27, 28)), ctx[_LOWB:_SCRATCH]
    scratch = ctx[_SCRATCH:_TABLE].reshape((6, 27))
    table = ctx[_TABLE:_CONTEXT]
    r, G, ls, pos, partner, when = scratch[0], scratch[1], scratch[2], scratch[3], scratch[4], scratch[5]
    n0, n1, n2 = rank.shape
    rf = rank.reshape(-1)
    p = 1 if pad else 0
    k1 = np.int64(2 * n1 - 1 + 2 * p)
    k2 = np.int64(2 * n2 - 1 + 2 * p)
    full = 0
    for i2 in range(lo2, hi2):
        # (rank + 1) * 32 + q: one integer compare orders by (rank, block index)
        if 0 < i0 < n0 - 1 and 0 < i1 < n1 - 1 and 0 < i2 < n2 - 1:
            c = (np.int64(i0) * n1 + i1) * n2 + i2
            for q in range(27):
                r[q] = (np.int64(rf[c + roff[q]]) + 1) * 32 + q
        else:  # outside the array: a center earlier than all (T, rank -1; ties by block index); V: no cell
            for q in range(27):
                j0, j1, j2 = i0 + off[q, 0], i1 + off[q, 1], i2 + off[q, 2]
                if 0 <= j0 < n0 and 0 <= j1 < n1 and 0 <= j2 < n2:
                    rq = np.int64(rank[j0, j1, j2])
                else:
                    rq = -1 if pad else np.int64(1) << 40
                r[q] = (rq + 1) * 32 + q
        base = (2 * i0 + p) * k1 * k2 + (2 * i1 + p) * k2 + (2 * i2 + p)
        rc = r[13]
        lower = np.int64(0)
        for q in range(27):
            lower |= np.int64(r[q] < rc) << q
        if classify:  # regular: connected and Euler characteristic 1 (a subcomplex of a 2-sphere)
            link = np.int64(0)  # the lower edges and squares (the link's vertices and edges)
            for t in range(1, 19):
                link |= np.int64((vmask[by_nnz[t]] & ~lower) == 0) << (t - 1)
            cubes = 0
            for t in range(19, 27):
                cubes += (vmask[by_nnz[t]] & ~lower) == 0
            if ((table[link >> 4] >> ((link & 15) << 2)) & 15) == cubes + 1:
                delta = -1
                for t in range(1, 7):  # the steepest lower edge (by_nnz[1:7]: the edges)
                    q = by_nnz[t]
                    if (link >> (t - 1)) & 1 and (delta < 0 or r[q] < r[delta]):
                        delta = q
                code[base] = np.uint16(head[13, delta])
                continue
        full += 1
        partner[13] = -1
        when[13] = 0
        if lower == 0:
            code[base] = np.uint16(head[13, -1])
            continue
        for q in range(27):  # a lower vertex's position among the lower ones: its G bit
            rq = r[q]
            t = 0
            for u in range(27):
                t += r[u] < rq
            G[q] = np.int64(1) << t
        G[13] = 0
        # the lower star: the cells all of whose vertices are lower; G of a cell is the union
        # of its faces' (padded with the center), dimension by dimension; its cells sorted by G
        # as they are found (insertion sort: faces come first, so about sorted already)
        lsmask = np.int64(1) << 13
        ns = 0
        for t in range(1, 27):
            q = by_nnz[t]
            g = G[q] | G[faces[q, 1]] | G[faces[q, 2]] | G[faces[q, 3]]
            G[q] = g
            if vmask[q] & ~lower:
                continue
            lsmask |= np.int64(1) << q
            partner[q] = -1
            u = ns
            while u > 0 and G[ls[u - 1]] > g:
                ls[u] = ls[u - 1]
                u -= 1
            ls[u] = q
            ns += 1
        for u in range(ns):
            pos[ls[u]] = u
        edges = np.int64(0)
        for u in range(ns):
            if nnz[ls[u]] == 1:
                edges |= np.int64(1) << u
        unas = lsmask
        delta, pq0 = _pop_min(edges, ls, unas, low_bit)  # the steepest edge: paired with the center
        unas &= ~((np.int64(1) << 13) | (np.int64(1) << delta))
        partner[13] = delta
        partner[delta] = 13
        when[delta] = 1
        tick = 2
        pq1 = _push_cofaces(delta, unas, cofaces, faces, pos, np.int64(0))
        while True:
            while pq1:
                alpha, pq1 = _pop_min(pq1, ls, unas, low_bit)
                if alpha < 0:
                    break
                face = -1
                for s in range(1, faces[alpha, 0] + 1):
                    if (unas >> faces[alpha, s]) & 1:
                        face = faces[alpha, s]
                if face < 0:
                    pq0 |= np.int64(1) << pos[alpha]
                else:
                    unas &= ~((np.int64(1) << face) | (np.int64(1) << alpha))
                    partner[face] = alpha
                    partner[alpha] = face
                    when[face] = tick
                    when[alpha] = tick + 1
                    tick += 2
                    pq0 &= ~(np.int64(1) << pos[face])
                    pq1 = _push_cofaces(alpha, unas, cofaces, faces, pos, pq1)
                    pq1 = _push_cofaces(face, unas, cofaces, faces, pos, pq1)
            gamma, pq0 = _pop_min(pq0, ls, unas, low_bit)
            if gamma < 0:
                break
            unas &= ~(np.int64(1) << gamma)
            when[gamma] = tick
            tick += 1
            pq1 = _push_cofaces(gamma, unas, cofaces, faces, pos, pq1)
        for q in range(27):  # never left by ProcessLowerStars; critical keeps the matching valid
            if (unas >> q) & 1:
                when[q] = tick
                tick += 1
        for u in range(ns + 1):
            q = ls[u] if u < ns else 13
            code[base + koff[q]] = np.uint16(head[q, partner[q]] | (when[q] << 6))
    return full


@njit(cache=True, nogil=True)
def lower_star_gradient(rank, pad, code, lo, hi, table):
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
        ranges of centers can run in parallel (and give the same array).
    lo, hi : int
        Range of the first center axis (``hi = -1``: to the end).
    table : (2**14,) or (0,) int64
        :func:`regularity_table` (:func:`star_table`): write only the centers' own codes
        for regular centers (``classify`` of :func:`_stars`); the kernels that read more of
        ``code`` complete it on demand (:func:`_ensure`).  Empty: every whole star.

    Returns
    -------
    int : the number of centers whose whole lower star was written.
    """
    n0, n1, n2 = rank.shape
    ctx = star_context(rank, pad, table)
    classify = table.shape[0] > 0
    if hi < 0:
        hi = n0
    full = 0
    for i0 in range(lo, hi):
        for i1 in range(n1):
            full += _stars(rank, i0, i1, 0, n2, pad, ctx, code, classify)
    return full


@njit(cache=True, nogil=True)
def _ensure(f, x0, x1, x2, code, rank, pad, ctx):
    """Write the lower star that holds the cell ``f`` (``K`` coordinates ``x``) if ``code``
    has it ``_UNSET`` (a regular center's star left by :func:`lower_star_gradient` with
    ``classify``).  Its center is its latest vertex inside the array (every cell of ``K``
    has one there).  Threads may write the same star at once: they write the same values.
    """
    if (code[f] & 7) != _UNSET:
        return
    n0, n1, n2 = rank.shape
    y0, y1, y2 = x0 - pad, x1 - pad, x2 - pad
    best, b0, b1, b2 = np.int64(-1), 0, 0, 0
    for corner in range(8):
        v0 = (y0 + ((corner & 1) * 2 - 1 if y0 & 1 else 0)) >> 1
        v1 = (y1 + ((corner & 2) - 1 if y1 & 1 else 0)) >> 1
        v2 = (y2 + (((corner & 4) >> 1) - 1 if y2 & 1 else 0)) >> 1
        if 0 <= v0 < n0 and 0 <= v1 < n1 and 0 <= v2 < n2:
            rv = np.int64(rank[v0, v1, v2])
            if rv > best:
                best, b0, b1, b2 = rv, v0, v1, v2
    _stars(rank, b0, b1, b2, b2 + 1, pad, ctx, code, False)


# ------------------------------------------------------------------ cells and keys
@njit(cache=True, nogil=True, inline="always")
def _coords(c, kstrides, x):
    rem = c
    for a in range(3):
        x[a] = rem // kstrides[a]
        rem -= x[a] * kstrides[a]


@njit(cache=True, nogil=True, inline="always")
def _key_at(x0, x1, x2, f, code, rank, pad):
    """The key of the cell at ``K`` coordinates ``x`` (flat index ``f``), without divisions."""
    v = np.int64(code[f])
    side = v >> 3
    i0 = (x0 - pad + ((((side & 1) << 1) - 1) if (x0 - pad) & 1 else 0)) >> 1
    i1 = (x1 - pad + (((side & 2) - 1) if (x1 - pad) & 1 else 0)) >> 1
    i2 = (x2 - pad + ((((side & 4) >> 1) - 1) if (x2 - pad) & 1 else 0)) >> 1
    return np.int64(rank[i0, i1, i2]) * 32 + (v >> 6)


@njit(cache=True, nogil=True)
def critical_cells(code, rank, kshape, pad, dim):
    """Flat ``K`` indices and keys of the critical cells of ``L``-dimension ``dim``.

    One flat pass over ``code`` (the critical test first: coordinates, with their divisions,
    only for the few critical cells; a triple loop over ``K`` cost ten times more).

    Returns
    -------
    cells, keys : (m,) int64, sorted by key (the Morse complex's filtration order).
    """
    s0 = np.int64(kshape[1]) * kshape[2]
    s1 = np.int64(kshape[2])
    m = 0
    for f in range(code.shape[0]):
        m += (code[f] & 7) == _CRITICAL
    cells = np.empty(m, dtype=np.int64)
    keys = np.empty(m, dtype=np.int64)
    m = 0
    for f in range(code.shape[0]):
        if (code[f] & 7) == _CRITICAL:
            x0 = f // s0
            x1 = (f - x0 * s0) // s1
            x2 = f - x0 * s0 - x1 * s1
            if ((x0 - pad) & 1) + ((x1 - pad) & 1) + ((x2 - pad) & 1) == dim:
                cells[m] = f
                keys[m] = _key_at(x0, x1, x2, f, code, rank, pad)
                m += 1
    o = np.argsort(keys[:m])
    return cells[o], keys[o]


# ------------------------------------------------------------------ the sandwich
@njit(cache=True, nogil=True, inline="always")
def _top_index(c, kstrides, tshape, pad, x):
    """Index of the L-3-cell ``c`` in the grid of L-3-cells (C order)."""
    _coords(c, kstrides, x)
    q = 1 - pad
    return ((x[0] - q) // 2 * tshape[1] + (x[1] - q) // 2) * tshape[2] + (x[2] - q) // 2


@njit(cache=True, nogil=True)
def ascending_forest(code, kshape, pad):
    """Parent pointers of the L-3-cells along ascending V-paths (a root is critical), from a
    complete ``code``: one pass.

    A non-critical 3-cell is paired with one of its faces; the V-path goes on to that
    face's other coface (or the outside, index ``n_top``).

    Returns
    -------
    parent : (n_top + 1,) int64
    tshape : (3,) int64  (the grid of L-3-cells)
    """
    tshape = _top_shape(kshape, pad)
    q = 1 - pad
    kstrides = np.array([kshape[1] * kshape[2], kshape[2], 1], dtype=np.int64)
    n_top = tshape[0] * tshape[1] * tshape[2]
    parent = np.empty(n_top + 1, dtype=np.int64)
    parent[n_top] = n_top
    t = 0
    for j0 in range(tshape[0]):
        for j1 in range(tshape[1]):
            for j2 in range(tshape[2]):
                c = (2 * j0 + q) * kstrides[0] + (2 * j1 + q) * kstrides[1] + 2 * j2 + q
                parent[t] = _up(code[c] & 7, t, j0, j1, j2, tshape[0], tshape[1], tshape[2], n_top)
                t += 1
    return parent, tshape


@njit(cache=True, nogil=True, inline="always")
def _up(dirn, t, j0, j1, j2, t0, t1, t2, n_top):
    """The next L-3-cell (or the outside ``n_top``) after ``t`` at ``j`` in the grid ``t0 x t1
    x t2`` along the ascending V-path given by its code's partner ``dirn`` (``t``: critical)."""
    if dirn == _CRITICAL:
        return t
    a = dirn >> 1
    s = 1 if dirn & 1 else -1
    ja, na = (j0, t0) if a == 0 else ((j1, t1) if a == 1 else (j2, t2))
    if 0 <= ja + s < na:
        return t + s * (t1 * t2 if a == 0 else (t2 if a == 1 else 1))
    return n_top


@njit(cache=True, nogil=True)
def _top_shape(kshape, pad):
    tshape = np.empty(3, dtype=np.int64)
    for a in range(3):
        tshape[a] = (kshape[a] - (1 - pad) + 1) // 2
    return tshape


@njit(cache=True, nogil=True)
def _ascend(parent, t, code, rank, kshape, pad, tshape, ctx):
    """Set ``parent[t]`` (unknown: -1) of the L-3-cell ``t`` from its code, completing its
    lower star first when it is ``_UNSET`` (see :func:`ascending_forest`)."""
    n_top = parent.shape[0] - 1
    q = 1 - pad
    j0 = t // (tshape[1] * tshape[2])
    j1 = (t // tshape[2]) % tshape[1]
    j2 = t % tshape[2]
    x0, x1, x2 = 2 * j0 + q, 2 * j1 + q, 2 * j2 + q
    c = (x0 * kshape[1] + x1) * kshape[2] + x2
    _ensure(c, x0, x1, x2, code, rank, pad, ctx)
    parent[t] = _up(code[c] & 7, t, j0, j1, j2, tshape[0], tshape[1], tshape[2], n_top)
    return parent[t]


@njit(cache=True, nogil=True, inline="always")
def _root(parent, t, code, rank, kshape, pad, tshape, ctx):
    """Root of ``t`` in the ascending forest (path halving); unknown pointers (-1) are set
    on first use (:func:`_ascend`)."""
    while True:
        u = parent[t]
        if u < 0:
            u = _ascend(parent, t, code, rank, kshape, pad, tshape, ctx)
        if u == t:
            return t
        w = parent[u]
        if w < 0:
            w = _ascend(parent, u, code, rank, kshape, pad, tshape, ctx)
        parent[t] = w
        t = w


@njit(cache=True, nogil=True)
def clear_positive(saddles2, code, rank, kshape, pad, complete=True):
    """Which critical 2-cells of ``L`` are positive (a Kruskal in reverse key order).

    ``saddles2`` ((m,) int64): flat ``K`` indices of the critical 2-cells, sorted by key;
    ``code, rank, kshape, pad``: the gradient (:func:`lower_star_gradient`).  ``complete``:
    ``code`` has every lower star (the forest is built in one pass); False: regular stars
    may be ``_UNSET`` and only the 3-cells on the V-paths from the 2-cells are visited
    (completed on demand).  Returns (m,) bool: True where the 2-cell joins two components
    of the Morse dual graph (vertices: the critical 3-cells and the outside; edges follow
    the ascending V-paths): it pairs with a 3-cell, and its column needs no reduction
    (clearing).
    """
    if complete:
        parent, tshape = ascending_forest(code, kshape, pad)
    else:
        tshape = _top_shape(kshape, pad)
        parent = np.full(tshape[0] * tshape[1] * tshape[2] + 1, -1, dtype=np.int64)
        parent[-1] = parent.shape[0] - 1
    n_top = parent.shape[0] - 1
    ctx = star_context(rank, pad, np.zeros(0, dtype=np.int64))  # (no classify)
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
        below, above = x[a] >= 1, x[a] + 1 < kshape[a]
        r1 = r2 = _root(parent, n_top, code, rank, kshape, pad, tshape, ctx)  # the outside may be linked
        if below:
            r1 = _root(parent, _top_index(c - kstrides[a], kstrides, tshape, pad, x), code, rank, kshape, pad,
                       tshape, ctx)
        if above:
            r2 = _root(parent, _top_index(c + kstrides[a], kstrides, tshape, pad, x), code, rank, kshape, pad,
                       tshape, ctx)
        if r1 != r2:
            parent[r1] = r2
            positive[j] = True
    return positive


@njit(cache=True, nogil=True)
def negative_saddles(saddles1, code, kshape, pad):
    """Which critical 1-cells of ``L`` kill a component (a Kruskal in key order).

    The descending V-path of an L-vertex (a center) follows its paired edge to the edge's
    other vertex (T: possibly the outside, one virtual vertex earlier than all); a
    critical 1-cell whose two vertices lead to different components merges them.  Those
    1-cells are negative in ``L``'s boundary matrix of dimension 1, so their rows can be
    dropped from the boundaries of the 2-cells without changing any pair (*compression*,
    Bauer, Kerber & Reininghaus 2014: the sandwich's lower slice).

    ``saddles1`` ((r,) int64): flat ``K`` indices of the critical 1-cells, sorted by key;
    ``code, kshape, pad``: the gradient.  Returns (r,) bool: True where the 1-cell is negative.
    """
    n0 = (kshape[0] + 1 - 2 * pad) // 2
    n1 = (kshape[1] + 1 - 2 * pad) // 2
    n2 = (kshape[2] + 1 - 2 * pad) // 2
    gs = (np.int64(n1) * n2, np.int64(n2), np.int64(1))
    ks = (np.int64(kshape[1]) * kshape[2], np.int64(kshape[2]), np.int64(1))
    n = n0 * gs[0]
    parent = np.empty(n + 1, dtype=np.int64)
    parent[n] = n
    t = 0
    for i0 in range(n0):
        for i1 in range(n1):
            for i2 in range(n2):
                c = (2 * i0 + pad) * ks[0] + (2 * i1 + pad) * ks[1] + 2 * i2 + pad
                dirn = code[c] & 7
                parent[t] = t
                if dirn != _CRITICAL:
                    a = dirn >> 1
                    s = 1 if dirn & 1 else -1
                    j = (i0, i1, i2)[a] + s
                    parent[t] = t + s * gs[a] if 0 <= j < (n0, n1, n2)[a] else n
                t += 1
    r = saddles1.shape[0]
    negative = np.zeros(r, dtype=np.bool_)
    for u in range(r):
        c = saddles1[u]
        x0 = c // ks[0]
        x1 = (c - x0 * ks[0]) // ks[1]
        x2 = c - x0 * ks[0] - x1 * ks[1]
        i0, i1, i2 = (x0 - pad) >> 1, (x1 - pad) >> 1, (x2 - pad) >> 1  # the lower vertex
        v = i0 * gs[0] + i1 * gs[1] + i2
        if (x0 - pad) & 1:
            a, ia, na = 0, i0, n0
        elif (x1 - pad) & 1:
            a, ia, na = 1, i1, n1
        else:
            a, ia, na = 2, i2, n2
        # T: the vertex below x = 0 or above x = 2n is the outside (ia = -1 or n - 1 at the top)
        lo = v if ia >= 0 else n
        hi = v + gs[a] if ia + 1 < na else n
        r1 = _find(parent, lo)
        r2 = _find(parent, hi)
        if r1 != r2:
            parent[r1] = r2
            negative[u] = True
    return negative


_B = 21  # bits per packed K coordinate in the heap of morse_boundary
_M = (1 << _B) - 1


@njit(cache=True, nogil=True, inline="always")
def _push_faces(x0, x1, x2, skip, code, rank, kshape, ks, pad, heap, cells, n, used, shift, context):
    """Push the L-faces of the cell at ``x`` except the packed cell ``skip``.

    A heap entry is ``key << shift | i``: the key orders it, ``cells[i]`` holds the packed
    coordinates (one int64 heap, :func:`~topoeval._kernels._cubical._heap_push`).  A face
    of a regular star left ``_UNSET`` is written first (:func:`_ensure`).
    """
    f = x0 * ks[0] + x1 * ks[1] + x2
    for a in range(3):
        xa = (x0, x1, x2)[a]
        if (xa - pad) & 1:
            for s in (-1, 1):
                if 0 <= xa + s < kshape[a]:
                    y0 = x0 + s if a == 0 else x0
                    y1 = x1 + s if a == 1 else x1
                    y2 = x2 + s if a == 2 else x2
                    packed = (y0 << (2 * _B)) | (y1 << _B) | y2
                    if packed != skip:
                        if used == cells.shape[0]:
                            grown = np.empty(2 * used, dtype=np.int64)
                            grown[:used] = cells
                            cells = grown
                        cells[used] = packed
                        if (code[f + s * ks[a]] & 7) == _UNSET:  # (the test here: a call costs)
                            _ensure(f + s * ks[a], y0, y1, y2, code, rank, pad, context)
                        k = _key_at(y0, y1, y2, f + s * ks[a], code, rank, pad)
                        heap, n = _heap_push(heap, n, (k << shift) | used)
                        used += 1
    return heap, cells, n, used


@njit(cache=True, nogil=True)
def key_shift(n_centers):
    """Bits left below a key (``< 32 * n_centers``) in an int64 heap entry."""
    shift = 63
    v = np.int64(32) * n_centers
    while v > 0:
        v >>= 1
        shift -= 1
    return shift


@njit(cache=True, nogil=True)
def morse_boundary(c, code, rank, kshape, pad, heap, cells, out, context):
    """Z/2 boundary of the critical 2-cell ``c`` of ``L`` in critical 1-cells (keys).

    The chain is expanded from the largest key down: a critical 1-cell is kept, a 1-cell
    paired with a 0-cell is dropped, a 1-cell paired with a 2-cell is replaced by that
    2-cell's other faces (all of smaller key).  Equal keys meet at the top of the heap,
    so Z/2 cancellation is a count.  Cells travel as packed coordinates: no divisions.

    ``context``: :func:`star_context` of ``rank`` (the stars of regular centers on the
    V-paths are written on demand).

    Returns
    -------
    out, m : the keys of the boundary, descending, in ``out[:m]`` (grown when needed),
    and the scratch arrays ``heap``, ``cells`` (grown).
    """
    ks = (np.int64(kshape[1]) * kshape[2], np.int64(kshape[2]), np.int64(1))
    shift = key_shift(rank.size)
    low = (np.int64(1) << shift) - 1
    x0 = c // ks[0]
    x1 = (c - x0 * ks[0]) // ks[1]
    x2 = c - x0 * ks[0] - x1 * ks[1]
    n = 0
    used = 0
    heap, cells, n, used = _push_faces(x0, x1, x2, -1, code, rank, kshape, ks, pad, heap, cells, n, used, shift,
                                       context)
    m = 0
    while n > 0:
        top, n = _heap_pop(heap, n)
        k = top >> shift
        cnt = 1
        while n > 0 and (heap[0] >> shift) == k:
            _, n = _heap_pop(heap, n)
            cnt += 1
        if (cnt & 1) == 0:
            continue
        e = cells[top & low]
        e0, e1, e2 = e >> (2 * _B), (e >> _B) & _M, e & _M
        dirn = code[e0 * ks[0] + e1 * ks[1] + e2] & 7
        if dirn == _CRITICAL:
            if m == out.shape[0]:
                grown = np.empty(2 * m, dtype=np.int64)
                grown[:m] = out
                out = grown
            out[m] = k
            m += 1
            continue
        a = dirn >> 1
        if ((e0, e1, e2)[a] - pad) & 1:
            continue  # paired with a face (a 0-cell): not on a descending V-path
        s = 1 if dirn & 1 else -1
        y0 = e0 + s if a == 0 else e0
        y1 = e1 + s if a == 1 else e1
        y2 = e2 + s if a == 2 else e2
        if used > low - 8:
            raise ValueError("morse_boundary: a V-path expansion too large for the heap entries")
        heap, cells, n, used = _push_faces(y0, y1, y2, e, code, rank, kshape, ks, pad, heap, cells, n, used, shift,
                                           context)
    return out, m, heap, cells


@njit(cache=True, nogil=True)
def row_lookup(keys1, n_centers):
    """``first[r]``: the first row (index into the ascending ``keys1``) whose center has rank
    ``r`` (-1: none).  A key's row is then found in O(1): the rows of one center are
    consecutive (about one critical cell per center at most)."""
    first = np.full(n_centers, -1, dtype=np.int64)
    for r in range(keys1.shape[0] - 1, -1, -1):
        first[keys1[r] >> 5] = r
    return first


@njit(cache=True, nogil=True)
def column_boundaries(code, rank, kshape, pad, saddles2, order, positive, keys1, first, negative, start, length):
    """Compressed Morse boundaries of the columns ``order`` (indices into ``saddles2``).

    The columns are visited in ``order`` (their ``K`` order: neighbouring cells share cache
    lines, where the key order jumps across the field); ``positive`` ones are skipped.  Each
    boundary is stored as row indices, descending, with the ``negative`` rows dropped
    (compression), in the returned pool at ``start[j]``, ``length[j]`` entries.  Disjoint
    ``order`` ranges may run in parallel (shift ``start`` by the pools before them).
    """
    pool = np.empty(max(64, 6 * order.shape[0]), dtype=np.int64)
    used = 0
    heap = np.empty(64, dtype=np.int64)
    cells = np.empty(64, dtype=np.int64)
    bnd = np.empty(64, dtype=np.int64)
    context = star_context(rank, pad, np.zeros(0, dtype=np.int64))
    for u in range(order.shape[0]):
        j = order[u]
        start[j] = used
        length[j] = 0
        if positive[j]:
            continue
        bnd, nb, heap, cells = morse_boundary(saddles2[j], code, rank, kshape, pad, heap, cells, bnd, context)
        if used + nb > pool.shape[0]:
            grown = np.empty(2 * (used + nb), dtype=np.int64)
            grown[:used] = pool[:used]
            pool = grown
        kept = 0
        for t in range(nb):
            k = bnd[t]
            row = first[k >> 5]
            while keys1[row] != k:
                row += 1
            if not negative[row]:
                pool[used + kept] = row
                kept += 1
        length[j] = kept
        used += kept
    return pool[:used].copy()


@njit(cache=True, nogil=True)
def reduce_columns(pool, start, length, nr):
    """Persistence pairs of the compressed, cleared Morse boundary matrix (Z/2).

    Columns ``j`` in filtration order, column ``j`` is ``pool[start[j]:start[j] +
    length[j]]`` (rows, descending).  A column whose pivot is taken is added to the stored
    reduced columns with a max-heap until its pivot is free (or it vanishes).

    Returns
    -------
    rows, cols : (p,) int64
    """
    m = start.shape[0]
    pivot_col = np.full(nr, -1, dtype=np.int64)
    rstart = np.zeros(m, dtype=np.int64)
    rlen = np.zeros(m, dtype=np.int64)
    red = np.empty(max(16, 2 * m), dtype=np.int64)  # the reduced columns that were added to
    used = 0
    heap = np.empty(64, dtype=np.int64)
    fr = np.empty(m, dtype=np.int64)
    fc = np.empty(m, dtype=np.int64)
    npairs = 0
    for j in range(m):
        nb = length[j]
        if nb == 0:
            continue
        s0 = start[j]
        piv = pool[s0]
        if pivot_col[piv] < 0:  # already reduced: the stored column is the boundary itself
            rstart[j] = s0
            rlen[j] = -nb  # negative length: the entries live in ``pool``
        else:
            n = 0
            for t in range(s0, s0 + nb):
                heap, n = _heap_push(heap, n, pool[t])
            piv, n = _pop_pivot(heap, n)
            while piv >= 0 and pivot_col[piv] >= 0:
                o = pivot_col[piv]
                if rlen[o] < 0:
                    src, lo, hi = pool, rstart[o] + 1, rstart[o] - rlen[o]
                else:
                    src, lo, hi = red, rstart[o] + 1, rstart[o] + rlen[o]
                for t in range(lo, hi):
                    heap, n = _heap_push(heap, n, src[t])
                piv, n = _pop_pivot(heap, n)
            if piv < 0:
                continue  # a positive column the Kruskal did not know: nothing to store
            rstart[j] = used
            red, used = _drain(heap, n, piv, red, used)  # the heap holds copies: red may grow
            rlen[j] = used - rstart[j]
        pivot_col[piv] = j
        fr[npairs] = piv
        fc[npairs] = j
        npairs += 1
    return fr[:npairs].copy(), fc[:npairs].copy()


def saddle_pairs(code, rank, kshape, pad, saddles2, keys1, positive, negative, threads=1):
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
        Columns that create 2-classes (:func:`clear_positive`): skipped (clearing).
    negative : (r,) bool
        Rows that kill 0-classes (:func:`negative_saddles`): dropped (compression).
    threads : int
        Threads for the boundaries (nogil kernels on disjoint column ranges; the same
        pairs for any number).

    Returns
    -------
    rows, cols : (p,) int64
        Row (index into ``keys1``) and column (index into ``saddles2``) of every pair.
    """
    pool, start, length = boundary_matrix(code, rank, kshape, pad, saddles2, keys1, positive, negative, threads)
    return reduce_columns(pool, start, length, keys1.shape[0])


def boundary_matrix(code, rank, kshape, pad, saddles2, keys1, positive, negative, threads=1):
    """The compressed, cleared Morse boundary matrix of :func:`saddle_pairs`: ``pool, start,
    length`` for :func:`reduce_columns` (the columns by :func:`column_boundaries` in
    ``threads`` threads; the same matrix for any number)."""
    m = saddles2.shape[0]
    first = row_lookup(keys1, rank.size)
    order = np.argsort(saddles2, kind="stable")
    start = np.zeros(m, dtype=np.int64)
    length = np.zeros(m, dtype=np.int64)
    cuts = np.linspace(0, m, max(1, int(threads)) + 1).astype(np.int64)

    def part(i):
        return column_boundaries(code, rank, kshape, pad, saddles2, order[cuts[i] : cuts[i + 1]], positive,
                                 keys1, first, negative, start, length)

    pools = _run_parts(part, len(cuts) - 1)
    del first
    shift = 0
    for i, p in enumerate(pools):
        start[order[cuts[i] : cuts[i + 1]]] += shift
        shift += p.shape[0]
    pool = np.concatenate(pools) if len(pools) > 1 else pools[0]
    return pool, start, length


def _run_parts(fn, k, parts=None):
    """``[fn(0), ..., fn(parts - 1)]`` (``parts`` None: ``k``), in a pool of ``k`` threads when
    ``k > 1`` (the kernels release the GIL)."""
    parts = k if parts is None else parts
    if k <= 1:
        return [fn(i) for i in range(parts)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(k) as ex:
        return list(ex.map(fn, range(parts)))


def gradient_threads(rank, pad, code, threads=1, classify=False):
    """:func:`lower_star_gradient` over ``threads`` slabs of the first axis (the same ``code``);
    returns the number of centers whose whole lower star was written."""
    n0 = rank.shape[0]
    cuts = np.linspace(0, n0, max(1, min(int(threads), n0)) + 1).astype(np.int64)
    table = star_table() if classify else np.zeros(0, dtype=np.int64)

    def part(i):
        return lower_star_gradient(rank, pad, code, int(cuts[i]), int(cuts[i + 1]), table)

    return sum(_run_parts(part, len(cuts) - 1))

"""Numba kernels of :mod:`topoeval.critical_points`.

Every cell is classified by counting the connected components of its lower and
upper link.  The link graph of the chosen neighbourhood (its vertices are the
neighbour offsets, its edges the pairs of offsets joined in the triangulation)
is precomputed in Python; the kernels only look at bitmasks of neighbours:

* ``n_nb <= 16`` (1-D, 2-D, 3-D Freudenthal): a lookup table ``lut[mask]`` of
  component counts (``2**n_nb`` int8 entries, built once by :func:`build_lut`);
* ``16 < n_nb <= 62`` (3-D full, 4-D/5-D Freudenthal): flood fill on the
  bitmask, a dilation step being one table look-up per byte of the mask; the interior of
  3-D arrays with the 26-neighbourhood uses a bitboard of the 3x3x3 cube instead, where a
  dilation step is six shifts (:func:`classify_3d_full_inner`);
* more neighbours (full connectivity in >= 4-D): a plain BFS over boolean arrays.

Ties are broken by simulation of simplicity: cell ``p`` is *lower* than ``q``
iff ``(a[p], p) < (a[q], q)`` with ``p``, ``q`` C-order flat indices.  For a
neighbour offset that comes earlier in C order (negative flat offset) a tie
therefore means "lower", for a later one "upper".
"""

from __future__ import annotations

import numpy as np
from numba import njit

# The small helpers are inlined at Numba's IR level (inline="always"): each one compiled on its
# own costs its typing, an LLVM module and a cache file on a first run (0.1-0.4 s apiece).

# type codes (documented in topoeval.critical_points.CriticalPoints)
NONFINITE = -1
REGULAR = 0
MINIMUM = 1
SADDLE = 2
SADDLE1 = 3
SADDLE2 = 4
MAXIMUM = 5
DEGENERATE = 6


@njit(cache=True, nogil=True, inline="always")
def _dilate(comp, dil):
    out = comp
    for b in range(dil.shape[0]):
        out |= dil[b, (comp >> (8 * b)) & 255]
    return out


@njit(cache=True, nogil=True, inline="always")
def count_components_bits(mask, dil):
    """Number of connected components of the link subgraph induced by the bits of ``mask``."""
    count = 0
    rest = mask
    while rest != 0:
        comp = rest & (-rest)
        while True:
            new = _dilate(comp, dil) & mask
            if new == comp:
                break
            comp = new
        rest &= ~comp
        count += 1
    return count


@njit(cache=True, nogil=True)
def build_lut(n_nb, dil):
    """int8 table of component counts for every bitmask of ``n_nb`` (<= 16) neighbours."""
    size = 1 << n_nb
    lut = np.empty(size, dtype=np.int8)
    for m in range(size):
        lut[m] = count_components_bits(np.int64(m), dil)
    return lut


@njit(cache=True, nogil=True, inline="always")
def _type_code(cm, cp, ndim):
    if cm == 0:
        return MINIMUM
    if cp == 0:
        return MAXIMUM
    if cm == 1 and cp == 1:
        return REGULAR
    if ndim <= 2:
        return SADDLE
    if cp == 1:
        return SADDLE1
    if cm == 1:
        return SADDLE2
    return DEGENERATE


@njit(cache=True, nogil=True, inline="always")
def _count(mask, lut, dil):
    if lut.size > 0:
        return lut[mask]
    return count_components_bits(mask, dil)


@njit(cache=True, nogil=True, inline="always")
def _type_table(ndim):
    """(64, 64) int8 table: type code of a cell with (c-, c+) link components."""
    t = np.empty((64, 64), dtype=np.int8)
    for a in range(64):
        for b in range(64):
            t[a, b] = _type_code(a, b, ndim)
    return t


@njit(cache=True, nogil=True, inline="always")
def _slow_cell(v, q, x, coords, shape, offs, fo, ok, use_ok, before):
    """Lower / in-domain neighbour bitmasks of a cell next to the boundary or an omitted cell."""
    d = shape.size
    lo = np.int64(0)
    valid = np.int64(0)
    for k in range(fo.size):
        inside = True
        for i in range(d):
            c = coords[i] + offs[k, i]
            if c < 0 or c >= shape[i]:
                inside = False
                break
        if not inside:
            continue
        p = q + fo[k]
        if use_ok and not ok[p]:
            continue
        valid |= np.int64(1) << k
        y = v[p]
        lo |= np.int64((y < x) | ((y == x) & before[k])) << k
    return lo, valid


@njit(cache=True, nogil=True)
def classify_bits(v, shape, offs, fo, ok, use_ok, lut, dil, types, cminus, cplus, skip_inner):
    """Classify every cell of the C-ordered flat array ``v`` (link of at most 62 neighbours).

    With ``skip_inner`` the cells away from the boundary are left alone (the 2-D kernels
    below have done them).

    v      : (n,) values (any real dtype), C order of ``shape``
    offs   : (n_nb, d) int64 neighbour offsets;  fo: (n_nb,) flat offsets
    ok     : (n,) bool, cells in the domain (only read when ``use_ok``)
    lut    : int8 component table (empty -> use ``dil``);  dil: (n_bytes, 256) int64
    types  : (n,) int8 out;  cminus, cplus: (n,) uint8 out
    """
    d = shape.size
    n_nb = fo.size
    full = (np.int64(1) << n_nb) - 1
    n_last = shape[d - 1]
    n_rows = v.size // n_last
    coords = np.zeros(d, dtype=np.int64)
    before = np.empty(n_nb, dtype=np.bool_)
    for k in range(n_nb):
        before[k] = fo[k] < 0
    ttab = _type_table(d)
    has_lut = lut.size > 0
    for r in range(n_rows):
        row_inner = n_last >= 3 and not use_ok
        for i in range(d - 1):
            if coords[i] < 1 or coords[i] > shape[i] - 2:
                row_inner = False
        base = r * n_last
        if row_inner and skip_inner:
            js = (0, n_last - 1) if n_last > 1 else (0, 0)
            n_js = 2 if n_last > 1 else 1
        elif row_inner and has_lut:
            # fast path: every neighbour exists, one table look-up per link
            for q in range(base + 1, base + n_last - 1):
                x = v[q]
                lo = np.int64(0)
                for k in range(n_nb):
                    y = v[q + fo[k]]
                    # branch-free: (y, p) < (x, q)  <=>  y < x, or y == x for an earlier cell
                    lo |= np.int64((y < x) | ((y == x) & before[k])) << k
                cm = lut[lo]
                cp = lut[full ^ lo]
                cminus[q] = cm
                cplus[q] = cp
                types[q] = ttab[cm, cp]
            js = (0, n_last - 1) if n_last > 1 else (0, 0)
            n_js = 2 if n_last > 1 else 1
        else:
            js = (0, n_last - 1)
            n_js = -1
        n_iter = n_last if n_js < 0 else n_js
        for jj in range(n_iter):
            j = jj if n_js < 0 else js[jj]
            q = base + j
            if use_ok and not ok[q]:
                types[q] = NONFINITE
                cminus[q] = 0
                cplus[q] = 0
                continue
            x = v[q]
            if row_inner and j >= 1 and j <= n_last - 2:
                lo = np.int64(0)
                for k in range(n_nb):
                    y = v[q + fo[k]]
                    lo |= np.int64((y < x) | ((y == x) & before[k])) << k
                up = full ^ lo
            else:
                coords[d - 1] = j
                lo, valid = _slow_cell(v, q, x, coords, shape, offs, fo, ok, use_ok, before)
                up = valid ^ lo
            cm = _count(lo, lut, dil)
            cp = _count(up, lut, dil)
            cminus[q] = cm
            cplus[q] = cp
            types[q] = ttab[cm, cp]
        # advance the odometer of the leading coordinates
        i = d - 2
        while i >= 0:
            coords[i] += 1
            if coords[i] < shape[i]:
                break
            coords[i] = 0
            i -= 1


@njit(cache=True, nogil=True, inline="always")
def _count_bfs(sel, adj, deg, stack, seen):
    n_nb = sel.size
    for k in range(n_nb):
        seen[k] = False
    count = 0
    for s in range(n_nb):
        if not sel[s] or seen[s]:
            continue
        count += 1
        seen[s] = True
        stack[0] = s
        top = 1
        while top > 0:
            top -= 1
            a = stack[top]
            for e in range(deg[a]):
                b = adj[a, e]
                if sel[b] and not seen[b]:
                    seen[b] = True
                    stack[top] = b
                    top += 1
    return count


@njit(cache=True, nogil=True)
def classify_bfs(v, shape, offs, fo, ok, use_ok, adj, deg, types, cminus, cplus):
    """Same as :func:`classify_bits` for links of any size (boolean arrays + BFS)."""
    d = shape.size
    n_nb = fo.size
    coords = np.zeros(d, dtype=np.int64)
    lower = np.empty(n_nb, dtype=np.bool_)
    upper = np.empty(n_nb, dtype=np.bool_)
    stack = np.empty(n_nb, dtype=np.int64)
    seen = np.empty(n_nb, dtype=np.bool_)
    for q in range(v.size):
        if q > 0:
            i = d - 1
            while i >= 0:
                coords[i] += 1
                if coords[i] < shape[i]:
                    break
                coords[i] = 0
                i -= 1
        if use_ok and not ok[q]:
            types[q] = NONFINITE
            cminus[q] = 0
            cplus[q] = 0
            continue
        x = v[q]
        for k in range(n_nb):
            lower[k] = False
            upper[k] = False
            inside = True
            for i in range(d):
                c = coords[i] + offs[k, i]
                if c < 0 or c >= shape[i]:
                    inside = False
                    break
            if not inside:
                continue
            p = q + fo[k]
            if use_ok and not ok[p]:
                continue
            y = v[p]
            if y < x or (y == x and fo[k] < 0):
                lower[k] = True
            else:
                upper[k] = True
        cm = _count_bfs(lower, adj, deg, stack, seen)
        cp = _count_bfs(upper, adj, deg, stack, seen)
        cminus[q] = min(cm, 255)
        cplus[q] = min(cp, 255)
        types[q] = _type_code(cm, cp, d)


@njit(cache=True, nogil=True, inline="always")
def _find(parent, a):
    """Root of ``a`` (roots hold a negative value), with path halving."""
    while True:
        b = parent[a]
        if b < 0:
            return a
        c = parent[b]
        if c < 0:
            return b
        parent[a] = c
        a = c


@njit(cache=True, nogil=True)
def cell_persistence(vals, porder, pfo, parent, birth_pers, death_pers):
    """0-D persistence of the filtration that adds cells in the given order, on a padded grid.

    vals   : (m,) float64 values of the cells in filtration order
    porder : (m,) int64 padded flat indices of the cells in filtration order (cells that are not
             in the domain - padding, omitted cells - never appear and are never neighbours)
    pfo    : (n_nb,) int64 neighbour offsets in the padded grid
    parent : (psize,) int32 or int64, all -1 on entry (= not yet in the filtration); a root holds
             -(birth rank + 2), another cell the index of its parent
    birth_pers, death_pers : (psize,) float64 out, zero on entry

    A cell with no earlier neighbour creates a class; a cell that joins several classes kills all
    but the one born first (elder rule, by position in the order).  ``birth_pers[c]`` = the
    persistence of the class created at ``c`` (inf if it never dies), ``death_pers[c]`` = the
    largest persistence among the classes killed at ``c``; persistence = |death - birth value|.
    """
    n_nb = pfo.size
    for t in range(porder.size):
        q = porder[t]
        xq = vals[t]
        parent[q] = -(t + 2)
        root = -1
        for k in range(n_nb):
            p = q + pfo[k]
            if parent[p] == -1:
                continue
            r = _find(parent, p)
            if root < 0:
                root = r
                parent[q] = r
            elif r != root:
                if parent[r] > parent[root]:  # r was born first (smaller rank)
                    young = root
                    root = r
                else:
                    young = r
                pers = abs(xq - vals[-parent[young] - 2])
                birth_pers[young] = pers
                death_pers[q] = max(death_pers[q], pers)
                parent[young] = root
                parent[q] = root
    for t in range(porder.size):
        q = porder[t]
        if parent[q] < -1:
            birth_pers[q] = np.inf


@njit(cache=True, nogil=True)
def classify_2d_full_inner(a, lut, ttab, types, cminus, cplus):
    """Interior cells of a 2-D array, 8-neighbourhood, offsets in itertools.product order."""
    n, m = a.shape
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            x = a[i, j]
            lo = (
                np.int64(a[i - 1, j - 1] <= x)
                | (np.int64(a[i - 1, j] <= x) << 1)
                | (np.int64(a[i - 1, j + 1] <= x) << 2)
                | (np.int64(a[i, j - 1] <= x) << 3)
                | (np.int64(a[i, j + 1] < x) << 4)
                | (np.int64(a[i + 1, j - 1] < x) << 5)
                | (np.int64(a[i + 1, j] < x) << 6)
                | (np.int64(a[i + 1, j + 1] < x) << 7)
            )
            cm = lut[lo]
            cp = lut[255 ^ lo]
            cminus[i, j] = cm
            cplus[i, j] = cp
            types[i, j] = ttab[cm, cp]


@njit(cache=True, nogil=True)
def classify_2d_freudenthal_inner(a, lut, ttab, types, cminus, cplus):
    """Interior cells of a 2-D array, Freudenthal offsets in sorted order
    (-1,-1) (-1,0) (0,-1) (0,1) (1,0) (1,1)."""
    n, m = a.shape
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            x = a[i, j]
            lo = (
                np.int64(a[i - 1, j - 1] <= x)
                | (np.int64(a[i - 1, j] <= x) << 1)
                | (np.int64(a[i, j - 1] <= x) << 2)
                | (np.int64(a[i, j + 1] < x) << 3)
                | (np.int64(a[i + 1, j] < x) << 4)
                | (np.int64(a[i + 1, j + 1] < x) << 5)
            )
            cm = lut[lo]
            cp = lut[63 ^ lo]
            cminus[i, j] = cm
            cplus[i, j] = cp
            types[i, j] = ttab[cm, cp]


def type_table(ndim):
    """(64, 64) int8 table of :func:`_type_code` for (c-, c+) in NumPy (no kernel to compile).

    >>> int(type_table(2)[0, 1]), int(type_table(2)[2, 1]), int(type_table(3)[2, 1])
    (1, 2, 3)
    """
    cm = np.arange(64)[:, None]
    cp = np.arange(64)[None, :]
    conds = [cm == 0, cp == 0, (cm == 1) & (cp == 1), np.full((64, 64), ndim <= 2), cp == 1, cm == 1]
    codes = [MINIMUM, MAXIMUM, REGULAR, SADDLE, SADDLE1, SADDLE2]
    return np.select(conds, codes, DEGENERATE).astype(np.int8)


_VALID26 = 0
for _a in range(3):
    for _b in range(3):
        for _c in range(3):
            if (_a, _b, _c) != (1, 1, 1):
                _VALID26 |= 1 << (16 * _a + 4 * _b + _c)
VALID26 = np.int64(_VALID26)


@njit(cache=True, nogil=True, inline="always")
def _cheb_dilate(m):
    # the 3x3x3 cube as bits 16*a + 4*b + c (a, b, c in 0..2; c = 3 and b = 3 are guards that
    # absorb the overflow of one step): Chebyshev dilation is separable, one axis at a time
    m = m | (m << 1) | (m >> 1)
    m = m | (m << 4) | (m >> 4)
    return m | (m << 16) | (m >> 16)


@njit(cache=True, nogil=True, inline="always")
def count_components_cube(mask):
    """Components of the 26-neighbourhood link (cells joined iff Chebyshev distance 1)."""
    count = 0
    rest = mask
    while rest != 0:
        comp = rest & (-rest)
        while True:
            new = _cheb_dilate(comp) & mask
            if new == comp:
                break
            comp = new
        rest &= ~comp
        count += 1
    return count


@njit(cache=True, nogil=True)
def classify_3d_full_inner(a, ttab, types, cminus, cplus):
    """Interior cells of a 3-D array with the full 26-neighbourhood (bitboard flood fill)."""
    n0, n1, n2 = a.shape
    for i in range(1, n0 - 1):
        for j in range(1, n1 - 1):
            for k in range(1, n2 - 1):
                x = a[i, j, k]
                lo = np.int64(0)
                for di in range(3):
                    for dj in range(3):
                        for dk in range(3):
                            y = a[i + di - 1, j + dj - 1, k + dk - 1]
                            pos = 16 * di + 4 * dj + dk
                            # earlier in C order: the 13 offsets before the centre (pos 21)
                            if pos < 21:
                                lo |= np.int64(y <= x) << pos
                            elif pos > 21:
                                lo |= np.int64(y < x) << pos
                cm = count_components_cube(lo)
                cp = count_components_cube(VALID26 ^ lo)
                cminus[i, j, k] = cm
                cplus[i, j, k] = cp
                types[i, j, k] = ttab[cm, cp]


@njit(cache=True, nogil=True)
def padded_index(order, shape):
    """Flat indices in the grid padded by one cell on every side, of the C-order flat ``order``."""
    d = shape.size
    cstride = np.empty(d, dtype=np.int64)
    pstride = np.empty(d, dtype=np.int64)
    s = 1
    ps = 1
    for i in range(d - 1, -1, -1):
        cstride[i] = s
        pstride[i] = ps
        s *= shape[i]
        ps *= shape[i] + 2
    out = np.empty(order.size, dtype=np.int64)
    for t in range(order.size):
        rem = order[t]
        p = 0
        for i in range(d):
            c = rem // cstride[i]
            rem -= c * cstride[i]
            p += (c + 1) * pstride[i]
        out[t] = p
    return out

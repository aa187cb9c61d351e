"""Private solvers for exact diagram distances (finite points only).

Bottleneck
    The value is one of the candidate values {pairwise distances} U {distances to
    the diagonal}.  A threshold ``t`` is feasible when the points farther than ``t``
    from the diagonal ("heavy" points) can all be matched within distance ``t``;
    with the diagonal copies of the usual augmented graph, whose zero-cost
    diagonal-diagonal block is replaced by the transposes of the point-point edges
    (enough: the transposes of any point-point matching match the copies left
    over), that is a perfect matching, tested with Hopcroft-Karp.  Pairs of two
    light points are never needed.  Search: the lower bound
    ``max over points of min(diagonal distance, nearest-neighbour distance)`` first,
    then exponential search, then binary search over the exact candidate values.

Wasserstein
    See :func:`sparse_wasserstein`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# ----------------------------------------------------------------------------- metric helpers


def _pair_dist(db, dd, q):
    db = np.abs(db)
    dd = np.abs(dd)
    if q == np.inf:
        return np.maximum(db, dd)
    if q == 1.0:
        return db + dd
    if q == 2.0:
        return np.hypot(db, dd)
    return (db**q + dd**q) ** (1.0 / q)


def _diag_dist(pts, q):
    """Ground distance of each point to its projection ((b + d) / 2, (b + d) / 2) on the diagonal.

    Computed from the projection (as gudhi does) so values agree bit for bit."""
    mid = (pts[:, 0] + pts[:, 1]) / 2.0
    return _pair_dist(pts[:, 0] - mid, pts[:, 1] - mid, q)


def _tree(pts):
    from scipy.spatial import cKDTree

    return cKDTree(pts, balanced_tree=False, compact_nodes=False)


def _ball_pairs(tree_other, pts_query, idx_query, r, q):
    """Pairs (query index, other index) with ground distance <= r (exact, own formula)."""
    if len(idx_query) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    qp = pts_query[idx_query]
    rr = r * (1.0 + 1e-9) + 1e-300
    lists = tree_other.query_ball_point(qp, rr, p=q, return_sorted=False)
    counts = np.fromiter((len(li) for li in lists), dtype=np.int64, count=len(lists))
    if counts.sum() == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    qi = np.repeat(idx_query, counts)
    oj = np.fromiter((j for li in lists for j in li), dtype=np.int64, count=int(counts.sum()))
    return qi, oj


# ----------------------------------------------------------------------------- bottleneck


def _bottleneck_feasible(x, y, px, py, t, tree_x, tree_y, q, want):
    """Test threshold t. Returns (feasible, match_x, match_y, pair distances <= t of the graph)."""
    n, m = len(x), len(y)
    hx = np.flatnonzero(px > t)
    hy = np.flatnonzero(py > t)
    i1, j1 = _ball_pairs(tree_y, x, hx, t, q)
    j2, i2 = _ball_pairs(tree_x, y, hy, t, q)
    ii = np.concatenate([i1, i2])
    jj = np.concatenate([j1, j2])
    if len(ii):
        c = _pair_dist(x[ii, 0] - y[jj, 0], x[ii, 1] - y[jj, 1], q)
        keep = c <= t
        ii, jj, c = ii[keep], jj[keep], c[keep]
        key = ii * max(m, 1) + jj
        key, first = np.unique(key, return_index=True)
        ii, jj, c = ii[first], jj[first], c[first]
    else:
        c = np.empty(0)
    # every heavy point needs an edge
    deg_x = np.bincount(ii, minlength=n)
    deg_y = np.bincount(jj, minlength=m)
    if (deg_x[hx] == 0).any() or (deg_y[hy] == 0).any():
        return False, None, None, c
    # relevant vertices: heavy ones and light ones touching a candidate edge
    rx = np.flatnonzero((px > t) | (deg_x > 0))
    ry = np.flatnonzero((py > t) | (deg_y > 0))
    nx, ny = len(rx), len(ry)
    lx = np.full(n, -1, np.int64)
    lx[rx] = np.arange(nx)
    ly = np.full(m, -1, np.int64)
    ly[ry] = np.arange(ny)
    # left: [X' (nx), E (ny)], right: [Y' (ny), D (nx)]
    a_i, a_j = lx[ii], ly[jj]
    light_x = np.flatnonzero(px[rx] <= t)
    light_y = np.flatnonzero(py[ry] <= t)
    rows = np.concatenate([a_i, nx + a_j, light_x, nx + light_y])
    cols = np.concatenate([a_j, ny + a_i, ny + light_x, light_y])
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    size = nx + ny
    g = csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(size, size))
    perm = maximum_bipartite_matching(g, perm_type="column")
    if (perm < 0).any():
        return False, None, None, c
    if not want:
        return True, None, None, c
    match_x = np.full(n, -1, np.int64)
    match_y = np.full(m, -1, np.int64)
    left_x = perm[:nx]
    sel = left_x < ny
    match_x[rx[sel]] = ry[left_x[sel]]
    match_y[ry[left_x[sel]]] = rx[sel]
    return True, match_x, match_y, c


def bottleneck_finite(x, y, q):
    """Exact bottleneck distance of finite diagrams x (n, 2), y (m, 2) under the q-norm.

    Returns (value, match_x, match_y) with match_x[i] = j or -1 (diagonal).
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    n, m = len(x), len(y)
    px = _diag_dist(x, q)
    py = _diag_dist(y, q)
    if n == 0 or m == 0:
        allp = np.concatenate([px, py])
        return (float(allp.max()) if len(allp) else 0.0), np.full(n, -1, np.int64), np.full(m, -1, np.int64)
    tree_x = _tree(x)
    tree_y = _tree(y)
    # exact nearest distances with our own formula
    _, jx = tree_y.query(x, k=1, p=q)
    _, iy = tree_x.query(y, k=1, p=q)
    nnx = _pair_dist(x[:, 0] - y[jx, 0], x[:, 1] - y[jx, 1], q)
    nny = _pair_dist(y[:, 0] - x[iy, 0], y[:, 1] - x[iy, 1], q)
    lower = float(max(np.minimum(px, nnx).max(), np.minimum(py, nny).max()))
    upper = float(max(px.max(), py.max()))
    ok, mx, my, _ = _bottleneck_feasible(x, y, px, py, lower, tree_x, tree_y, q, True)
    if ok:
        return lower, mx, my
    # exponential search for a feasible threshold
    lo = lower
    step = lower if lower > 0 else upper * 2.0**-30
    hi = min(lower + step, upper)
    while True:
        ok, _, _, _ = _bottleneck_feasible(x, y, px, py, hi, tree_x, tree_y, q, False)
        if ok:
            break
        lo = hi
        step *= 2.0
        hi = min(lower + step, upper)
    # exact candidate values in (lo, hi]
    cands = _bottleneck_candidates(x, y, px, py, lo, hi, tree_x, tree_y, q)
    vals = np.concatenate([cands, px, py])
    vals = np.unique(vals[(vals > lo) & (vals <= hi)])
    # binary search: smallest feasible value (vals[-1] >= ... ; hi itself feasible)
    left, right = 0, len(vals) - 1
    if len(vals) == 0 or vals[-1] != hi:
        vals = np.append(vals, hi)
        right = len(vals) - 1
    while left < right:
        mid = (left + right) // 2
        ok, _, _, _ = _bottleneck_feasible(x, y, px, py, vals[mid], tree_x, tree_y, q, False)
        if ok:
            right = mid
        else:
            left = mid + 1
    value = float(vals[left])
    ok, mx, my, _ = _bottleneck_feasible(x, y, px, py, value, tree_x, tree_y, q, True)
    assert ok
    return value, mx, my


def _bottleneck_candidates(x, y, px, py, lo, hi, tree_x, tree_y, q):
    """Pair distances c in (lo, hi] of pairs that some threshold s in [c, hi] uses, i.e. with an
    endpoint farther than c from the diagonal (only such a c can be the bottleneck value)."""
    hx = np.flatnonzero(px > lo)
    hy = np.flatnonzero(py > lo)
    i1, j1 = _ball_pairs(tree_y, x, hx, hi, q)
    j2, i2 = _ball_pairs(tree_x, y, hy, hi, q)
    ii = np.concatenate([i1, i2])
    jj = np.concatenate([j1, j2])
    if len(ii) == 0:
        return np.empty(0)
    c = _pair_dist(x[ii, 0] - y[jj, 0], x[ii, 1] - y[jj, 1], q)
    keep = (c > lo) & (c <= hi) & (np.maximum(px[ii], py[jj]) > c)
    return c[keep]

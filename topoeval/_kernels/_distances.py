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


# ----------------------------------------------------------------------------- Wasserstein (sparse)
#
# Augmented square assignment: rows are the points x_i of the first diagram (0..n-1) and the
# diagonal copies e_j of the points of the second one (n..n+m-1); columns are the points y_j
# (0..m-1) and the diagonal copies d_i (m..m+n-1).  Costs: x_i-y_j = c_ij = |x_i - y_j|_q^p
# (candidate pairs only), x_i-d_i = dx_i (distance to the diagonal ^ p), e_j-y_j = dy_j,
# e_j-d_i = 0 for every candidate pair (i, j): the transposes of the candidate pairs are enough
# for the diagonal-diagonal block, since the transposes of any point-point matching match exactly
# the diagonal copies it leaves over.  Solved by successive shortest augmenting paths (Dijkstra
# with early exit on reduced costs c - u_r - v_c >= 0).
#
# Weighted points: duplicates are merged, rows/columns carry supplies/demands and the solver is a
# min-cost flow by successive shortest paths (_ssp_flow).  Initial state: every y_j sent to its
# own diagonal copy e_j, with the max-weight dual U_i = max(0, max_j w_ij), V_j = 0.
#
# Certificate over *all* pairs.  With alpha_i = u[x_i] + v[d_i] and beta_j = u[e_j] + v[y_j],
# U_i = dx_i - alpha_i >= 0 and V_j = dy_j - beta_j >= 0 are a dual of the max-weight matching
# problem with weights w_ij = dx_i + dy_j - c_ij whose objective equals the primal one.  The
# double c-transform (beta' = min(dy, min_i c - alpha), alpha' = min(dx, min_j c - beta'), over
# ALL pairs with a KD-tree storing each node's maximum alpha / beta) is feasible by construction;
# when its objective reaches the cost of the flow, the flow is optimal.  Otherwise the pairs
# that define the transforms where the dual was infeasible (or, failing those, every pair with
# c_ij < alpha_i + beta_j) are added, rows whose new edges have negative reduced cost lose their
# flow (their u lowered) and the flow is re-augmented, until the certificate holds.


@njit(cache=True, nogil=True)
def _ground(db, dd, q):
    db = abs(db)
    dd = abs(dd)
    if q == np.inf:
        return max(db, dd)
    if q == 1.0:
        return db + dd
    if q == 2.0:
        return np.hypot(db, dd)
    return (db**q + dd**q) ** (1.0 / q)


@njit(cache=True, nogil=True)
def _powp(t, p):
    if p == 1.0:
        return t
    if p == 2.0:
        return t * t
    return t**p


@njit(cache=True, nogil=True)
def _heap_push(hk, hv, size, key, val):
    i = size
    hk[i] = key
    hv[i] = val
    while i > 0:
        parent = (i - 1) >> 1
        if hk[parent] <= hk[i]:
            break
        hk[parent], hk[i] = hk[i], hk[parent]
        hv[parent], hv[i] = hv[i], hv[parent]
        i = parent
    return size + 1


@njit(cache=True, nogil=True)
def _heap_pop(hk, hv, size):
    key = hk[0]
    val = hv[0]
    size -= 1
    hk[0] = hk[size]
    hv[0] = hv[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        small = left
        right = left + 1
        if right < size and hk[right] < hk[left]:
            small = right
        if hk[i] <= hk[small]:
            break
        hk[small], hk[i] = hk[i], hk[small]
        hv[small], hv[i] = hv[i], hv[small]
        i = small
    return key, val, size


@njit(cache=True, nogil=True)
def _ssp_augment(indptr, cols, costs, u, v, row_of_col, col_of_row, order):
    """Augment every free row in ``order`` along a shortest path (reduced costs), in place.

    Returns the number of rows that could not be augmented (0 when the graph has a perfect
    matching)."""
    ncol = v.shape[0]
    dist = np.full(ncol, np.inf)
    pred = np.full(ncol, -1, np.int64)
    settled = np.zeros(ncol, np.bool_)
    touched = np.empty(ncol, np.int64)
    settled_list = np.empty(ncol, np.int64)
    cap = cols.shape[0] + 16
    hk = np.empty(cap, np.float64)
    hv = np.empty(cap, np.int64)
    failed = 0
    work = 0
    # greedy pass: a free row takes a free column at zero reduced cost without a search
    for s in order:
        if col_of_row[s] != -1:
            continue
        us = u[s]
        for e in range(indptr[s], indptr[s + 1]):
            c = cols[e]
            if row_of_col[c] == -1 and costs[e] - us - v[c] <= 0.0:
                row_of_col[c] = s
                col_of_row[s] = c
                u[s] = costs[e] - v[c]
                break
    for s in order:
        if col_of_row[s] != -1:
            continue
        ntouched = 0
        nset = 0
        hsize = 0
        us = u[s]
        for e in range(indptr[s], indptr[s + 1]):
            c = cols[e]
            d = costs[e] - us - v[c]
            if d < dist[c]:
                if dist[c] == np.inf:
                    touched[ntouched] = c
                    ntouched += 1
                dist[c] = d
                pred[c] = s
                hsize = _heap_push(hk, hv, hsize, d, c)
        sink = -1
        delta = 0.0
        while hsize > 0:
            d, c, hsize = _heap_pop(hk, hv, hsize)
            if settled[c] or d > dist[c]:
                continue
            settled[c] = True
            settled_list[nset] = c
            nset += 1
            r = row_of_col[c]
            if r == -1:
                sink = c
                delta = d
                break
            ur = u[r]
            for e in range(indptr[r], indptr[r + 1]):
                c2 = cols[e]
                if settled[c2]:
                    continue
                nd = d + costs[e] - ur - v[c2]
                if nd < dist[c2]:
                    if dist[c2] == np.inf:
                        touched[ntouched] = c2
                        ntouched += 1
                    dist[c2] = nd
                    pred[c2] = r
                    hsize = _heap_push(hk, hv, hsize, nd, c2)
        work += nset
        if sink == -1:
            failed += 1
        else:
            for k in range(nset):
                c = settled_list[k]
                dc = dist[c]
                if c != sink:
                    u[row_of_col[c]] += delta - dc
                v[c] += dc - delta
            u[s] += delta
            c = sink
            while True:
                r = pred[c]
                prev = col_of_row[r]
                row_of_col[c] = r
                col_of_row[r] = c
                if r == s:
                    break
                c = prev
        for k in range(ntouched):
            c = touched[k]
            dist[c] = np.inf
            settled[c] = False
            pred[c] = -1
    return failed, work


@njit(cache=True, nogil=True)
def _ssp_flow(indptr, cols, costs, edge_row, t_indptr, t_edge, flow, u, v, supply, demand, order):
    """Min-cost flow by successive shortest paths on the augmented graph of weighted points.

    Rows have ``supply`` units, columns ``demand`` units (balanced); ``flow`` holds the units on
    each edge (row-CSR order).  Each round sends as much as possible from one row with supply
    along a shortest path of reduced costs ``cost - u[row] - v[col]`` (residual reverse edges,
    those with positive flow, have reduced cost 0) to a column with demand.  Updates everything
    in place; returns (rows left with supply (0 unless infeasible), columns settled in total)."""
    nrow = u.shape[0]
    ncol = v.shape[0]
    dist = np.full(ncol, np.inf)
    pred = np.full(ncol, -1, np.int64)  # forward edge into the column
    settled = np.zeros(ncol, np.bool_)
    rvis = np.zeros(nrow, np.bool_)
    rdist = np.zeros(nrow)
    rpred = np.full(nrow, -1, np.int64)  # edge (row -> column) with positive flow used backwards
    touched = np.empty(ncol, np.int64)
    settled_list = np.empty(ncol, np.int64)
    rlist = np.empty(nrow, np.int64)
    cap = cols.shape[0] + 16
    hk = np.empty(cap, np.float64)
    hv = np.empty(cap, np.int64)
    work = 0
    # greedy pass at zero reduced cost
    for s in order:
        if supply[s] == 0:
            continue
        us = u[s]
        for e in range(indptr[s], indptr[s + 1]):
            c = cols[e]
            if demand[c] > 0 and costs[e] - us - v[c] <= 0.0:
                amt = min(supply[s], demand[c])
                flow[e] += amt
                supply[s] -= amt
                demand[c] -= amt
                u[s] = costs[e] - v[c]
                if supply[s] == 0:
                    break
    left = 0
    for s in order:
        while supply[s] > 0:
            ntouched = 0
            nset = 0
            nr = 0
            hsize = 0
            rvis[s] = True
            rdist[s] = 0.0
            rlist[nr] = s
            nr += 1
            us = u[s]
            for e in range(indptr[s], indptr[s + 1]):
                c = cols[e]
                d = costs[e] - us - v[c]
                if d < dist[c]:
                    if dist[c] == np.inf:
                        touched[ntouched] = c
                        ntouched += 1
                    dist[c] = d
                    pred[c] = e
                    hsize = _heap_push(hk, hv, hsize, d, c)
            sink = -1
            delta = 0.0
            while hsize > 0:
                d, c, hsize = _heap_pop(hk, hv, hsize)
                if settled[c] or d > dist[c]:
                    continue
                settled[c] = True
                settled_list[nset] = c
                nset += 1
                if demand[c] > 0:
                    sink = c
                    delta = d
                    break
                for t in range(t_indptr[c], t_indptr[c + 1]):
                    er = t_edge[t]
                    if flow[er] <= 0:
                        continue
                    r = edge_row[er]
                    if rvis[r]:
                        continue
                    rvis[r] = True
                    rdist[r] = d
                    rpred[r] = er
                    rlist[nr] = r
                    nr += 1
                    ur = u[r]
                    for e in range(indptr[r], indptr[r + 1]):
                        c2 = cols[e]
                        if settled[c2]:
                            continue
                        nd = d + costs[e] - ur - v[c2]
                        if nd < dist[c2]:
                            if dist[c2] == np.inf:
                                touched[ntouched] = c2
                                ntouched += 1
                            dist[c2] = nd
                            pred[c2] = e
                            if nd <= d and demand[c2] > 0:
                                # a column with spare demand at the current minimum distance:
                                # it is a valid sink of this shortest-path tree, take it now
                                sink = c2
                                break
                            hsize = _heap_push(hk, hv, hsize, nd, c2)
                    if sink != -1:
                        break
                if sink != -1:
                    dist[sink] = d
                    settled[sink] = True
                    settled_list[nset] = sink
                    nset += 1
                    delta = d
                    break
            work += nset
            if sink == -1:
                left += 1
                for k in range(nr):
                    rvis[rlist[k]] = False
                for k in range(ntouched):
                    c = touched[k]
                    dist[c] = np.inf
                    settled[c] = False
                    pred[c] = -1
                break
            for k in range(nset):
                c = settled_list[k]
                v[c] += dist[c] - delta
            for k in range(nr):
                r = rlist[k]
                u[r] += delta - rdist[r]
            # bottleneck amount along the path
            amt = min(supply[s], demand[sink])
            c = sink
            while True:
                e = pred[c]
                r = edge_row[e]
                if r == s:
                    break
                er = rpred[r]
                amt = min(amt, flow[er])
                c = cols[er]
            c = sink
            while True:
                e = pred[c]
                flow[e] += amt
                r = edge_row[e]
                if r == s:
                    break
                er = rpred[r]
                flow[er] -= amt
                c = cols[er]
            supply[s] -= amt
            demand[sink] -= amt
            for k in range(nr):
                rvis[rlist[k]] = False
            for k in range(ntouched):
                c = touched[k]
                dist[c] = np.inf
                settled[c] = False
                pred[c] = -1
    return left, work


@njit(cache=True, nogil=True)
def _kdtree_build(pts, leaf_size):
    """Implicit 2-D KD-tree.  Returns (perm, node_start, node_end, node_left, node_right, bbox)
    with nodes in pre-order (children after their parent); bbox rows [bmin, bmax, dmin, dmax]."""
    n = pts.shape[0]
    perm = np.arange(n)
    maxnodes = 2 * (n // max(leaf_size, 1) + 1) * 2 + 1
    start = np.empty(maxnodes, np.int64)
    end = np.empty(maxnodes, np.int64)
    left = np.full(maxnodes, -1, np.int64)
    right = np.full(maxnodes, -1, np.int64)
    bbox = np.empty((maxnodes, 4), np.float64)
    nnodes = 1
    start[0] = 0
    end[0] = n
    stack = np.empty(maxnodes, np.int64)
    stack[0] = 0
    top = 1
    while top > 0:
        top -= 1
        node = stack[top]
        s0 = start[node]
        e0 = end[node]
        bmin = np.inf
        bmax = -np.inf
        dmin = np.inf
        dmax = -np.inf
        for k in range(s0, e0):
            b = pts[perm[k], 0]
            d = pts[perm[k], 1]
            bmin = min(bmin, b)
            bmax = max(bmax, b)
            dmin = min(dmin, d)
            dmax = max(dmax, d)
        bbox[node, 0] = bmin
        bbox[node, 1] = bmax
        bbox[node, 2] = dmin
        bbox[node, 3] = dmax
        if e0 - s0 <= leaf_size:
            continue
        axis = 0 if (bmax - bmin) >= (dmax - dmin) else 1
        seg = perm[s0:e0].copy()
        keys = np.empty(e0 - s0)
        for k in range(e0 - s0):
            keys[k] = pts[seg[k], axis]
        o = np.argsort(keys)
        for k in range(e0 - s0):
            perm[s0 + k] = seg[o[k]]
        mid = (s0 + e0) // 2
        lnode = nnodes
        rnode = nnodes + 1
        nnodes += 2
        start[lnode] = s0
        end[lnode] = mid
        start[rnode] = mid
        end[rnode] = e0
        left[node] = lnode
        right[node] = rnode
        stack[top] = rnode
        stack[top + 1] = lnode
        top += 2
    return perm, start[:nnodes], end[:nnodes], left[:nnodes], right[:nnodes], bbox[:nnodes]


@njit(cache=True, nogil=True)
def _certificate_violations(x, y, alpha, beta, p, q, tol, perm, start, end, left, right, bbox,
                            max_out):
    """Pairs (i, j) with |x_i - y_j|_q^p < alpha_i + beta_j - tol (at most max_out of them).

    Returns (ii, jj, count); count > max_out means some were left out."""
    nnodes = start.shape[0]
    nodemax = np.full(nnodes, -np.inf)
    for node in range(nnodes - 1, -1, -1):
        if left[node] == -1:
            mb = -np.inf
            for k in range(start[node], end[node]):
                mb = max(mb, beta[perm[k]])
            nodemax[node] = mb
        else:
            nodemax[node] = max(nodemax[left[node]], nodemax[right[node]])
    out_i = np.empty(max_out, np.int64)
    out_j = np.empty(max_out, np.int64)
    count = 0
    stack = np.empty(nnodes + 1, np.int64)
    for i in range(x.shape[0]):
        a = alpha[i] - tol
        if a + nodemax[0] <= 0.0:
            continue
        xb = x[i, 0]
        xd = x[i, 1]
        top = 1
        stack[0] = 0
        while top > 0:
            top -= 1
            node = stack[top]
            bound = a + nodemax[node]
            if bound <= 0.0:
                continue
            gb = max(0.0, bbox[node, 0] - xb, xb - bbox[node, 1])
            gd = max(0.0, bbox[node, 2] - xd, xd - bbox[node, 3])
            if _powp(_ground(gb, gd, q), p) >= bound:
                continue
            if left[node] == -1:
                for k in range(start[node], end[node]):
                    j = perm[k]
                    c = _powp(_ground(xb - y[j, 0], xd - y[j, 1], q), p)
                    if c < a + beta[j]:
                        if count < max_out:
                            out_i[count] = i
                            out_j[count] = j
                        count += 1
            else:
                stack[top] = left[node]
                stack[top + 1] = right[node]
                top += 2
    return out_i, out_j, count


@njit(cache=True, nogil=True)
def _c_transform(src, alpha, dst, cap, p, q, perm, start, end, left, right, bbox):
    """beta_j = min(cap_j, min_i |src_i - dst_j|_q^p - alpha_i) over ALL i (KD-tree over src with the
    maximum alpha of each node for branch and bound).  Returns (beta, argmin i or -1 for the cap)."""
    nnodes = start.shape[0]
    nodemax = np.full(nnodes, -np.inf)
    for node in range(nnodes - 1, -1, -1):
        if left[node] == -1:
            mb = -np.inf
            for k in range(start[node], end[node]):
                mb = max(mb, alpha[perm[k]])
            nodemax[node] = mb
        else:
            nodemax[node] = max(nodemax[left[node]], nodemax[right[node]])
    m = dst.shape[0]
    beta = np.empty(m)
    arg = np.full(m, -1, np.int64)
    stack = np.empty(nnodes + 1, np.int64)
    for j in range(m):
        best = cap[j]
        besti = -1
        yb = dst[j, 0]
        yd = dst[j, 1]
        top = 1
        stack[0] = 0
        while top > 0:
            top -= 1
            node = stack[top]
            gb = max(0.0, bbox[node, 0] - yb, yb - bbox[node, 1])
            gd = max(0.0, bbox[node, 2] - yd, yd - bbox[node, 3])
            if _powp(_ground(gb, gd, q), p) - nodemax[node] >= best:
                continue
            if left[node] == -1:
                for k in range(start[node], end[node]):
                    i = perm[k]
                    c = _powp(_ground(src[i, 0] - yb, src[i, 1] - yd, q), p) - alpha[i]
                    if c < best:
                        best = c
                        besti = i
            else:
                # visit the nearer child first
                l = left[node]
                r = right[node]
                gl = _ground(max(0.0, bbox[l, 0] - yb, yb - bbox[l, 1]), max(0.0, bbox[l, 2] - yd, yd - bbox[l, 3]), q)
                gr = _ground(max(0.0, bbox[r, 0] - yb, yb - bbox[r, 1]), max(0.0, bbox[r, 2] - yd, yd - bbox[r, 3]), q)
                if gl <= gr:
                    stack[top] = r
                    stack[top + 1] = l
                else:
                    stack[top] = l
                    stack[top + 1] = r
                top += 2
        beta[j] = best
        arg[j] = besti
    return beta, arg


def _knn_pairs(x, y, k, q):
    """Pairs (i, j): j among the k nearest points of y to x_i, and i among the k nearest of x to y_j."""
    from scipy.spatial import cKDTree

    n, m = len(x), len(y)
    kx = min(k, m)
    ky = min(k, n)
    _, jx = cKDTree(y).query(x, k=kx, p=q)
    _, iy = cKDTree(x).query(y, k=ky, p=q)
    jx = np.asarray(jx, np.int64).reshape(n, kx)
    iy = np.asarray(iy, np.int64).reshape(m, ky)
    ii = np.concatenate([np.repeat(np.arange(n), kx), iy.ravel()])
    jj = np.concatenate([jx.ravel(), np.repeat(np.arange(m), ky)])
    return ii, jj


def c_lookup(ii, jj, c, qi, qj, m):
    """Costs of the pairs (qi, qj), looked up among the candidate pairs (ii, jj, c)."""
    key = ii * m + jj
    o = np.argsort(key)
    pos = np.searchsorted(key[o], qi * m + qj)
    return c[o[pos]]


def _unique_pairs(ii, jj, m):
    key = np.unique(ii.astype(np.int64) * m + jj)
    return key // m, key % m


def _row_order(dx, dy):
    """Rows (x_i then e_j indices) by increasing persistence."""
    return np.argsort(np.concatenate([dx, dy]), kind="stable").astype(np.int64)


def sparse_wasserstein(x, y, p, q, k=None, return_stats=False):
    """Exact W_p^p matching of finite diagrams x (n, 2), y (m, 2), memory O(candidate pairs).

    Duplicate points are merged into weighted points (a min-cost flow instead of an assignment).
    Returns (match_x, match_y): match_x[i] = j or -1 (diagonal), match_y[j] = i or -1.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    n0, m0 = len(x), len(y)
    xu, xinv, a_cnt = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    yu, yinv, b_cnt = np.unique(y, axis=0, return_inverse=True, return_counts=True)
    xinv = xinv.ravel()
    yinv = yinv.ravel()
    x, y = np.ascontiguousarray(xu), np.ascontiguousarray(yu)
    n, m = len(x), len(y)
    a_cnt = a_cnt.astype(np.int64)
    b_cnt = b_cnt.astype(np.int64)
    dx = _diag_dist(x, q) ** p
    dy = _diag_dist(y, q) ** p
    if k is None:
        k = 12 if p <= 1.0 else 24
        if n + m > 40000:
            k *= 2
    ii, jj = _knn_pairs(x, y, k, q)
    ii, jj = _unique_pairs(ii, jj, m)
    c = _pair_dist(x[ii, 0] - y[jj, 0], x[ii, 1] - y[jj, 1], q) ** p
    keep = dx[ii] + dy[jj] - c > 0
    ii, jj, c = ii[keep], jj[keep], c[keep]
    R = n + m
    u = np.zeros(R)
    v = np.zeros(R)
    supply = np.concatenate([a_cnt, b_cnt])
    demand = np.concatenate([b_cnt, a_cnt])
    # edge list (canonical order: pairs, transposes, x-diagonal, e-y), flows carried across rounds
    flow_pairs = np.zeros(len(ii), np.int64)
    flow_tr = np.zeros(len(ii), np.int64)
    flow_xd = np.zeros(n, np.int64)
    flow_ey = np.zeros(m, np.int64)
    order = _row_order(dx, dy)
    scale = float(max(dx.max(), dy.max(), np.finfo(float).tiny))
    tol = 1e-13 * scale
    tree_y = _kdtree_build(y, 16)
    tree_x = _kdtree_build(x, 16)
    first = True
    total_work = 0
    rounds = 0
    n_added = 0
    while True:
        rounds += 1
        npair = len(ii)
        rows = np.concatenate([ii, n + jj, np.arange(n), n + np.arange(m)])
        colsa = np.concatenate([jj, m + ii, m + np.arange(n), np.arange(m)])
        costa = np.concatenate([c, np.zeros(npair), dx, dy])
        flowa = np.concatenate([flow_pairs, flow_tr, flow_xd, flow_ey])
        o = np.argsort(rows, kind="stable")
        rows_o, cols_o, cost_o, flow_o = rows[o], colsa[o], costa[o], flowa[o]
        indptr = np.zeros(R + 1, np.int64)
        np.cumsum(np.bincount(rows_o, minlength=R), out=indptr[1:])
        t_edge = np.argsort(cols_o, kind="stable").astype(np.int64)
        t_indptr = np.zeros(R + 1, np.int64)
        np.cumsum(np.bincount(cols_o, minlength=R), out=t_indptr[1:])
        if first:
            # every y_j starts matched to its own diagonal copy e_j (tight), with the max-weight
            # dual U_i = max(0, max_j w_ij), V_j = 0: u[x_i] = dx_i - U_i, v[y_j] = dy_j, u[e] = v[d] = 0
            w = dx[ii] + dy[jj] - c
            U = np.zeros(n)
            np.maximum.at(U, ii, w)
            u[:n] = dx - U
            u[n:] = 0.0
            v[:m] = dy
            v[m:] = 0.0
            ey = (rows_o >= n) & (cols_o == rows_o - n)
            flow_o[ey] = b_cnt[rows_o[ey] - n]
            supply[n:] = 0
            demand[:m] = 0
            first = False
        else:
            red = cost_o - u[rows_o] - v[cols_o]
            bad_rows = np.unique(rows_o[red < 0])
            if len(bad_rows):
                bad = np.zeros(R, bool)
                bad[bad_rows] = True
                emask = bad[rows_o] & (flow_o > 0)
                np.add.at(demand, cols_o[emask], flow_o[emask])
                np.add.at(supply, rows_o[emask], flow_o[emask])
                flow_o[emask] = 0
                lo = np.minimum.reduceat(cost_o - v[cols_o], indptr[:-1])
                u[bad_rows] = lo[bad_rows]
        left, work = _ssp_flow(indptr, cols_o, cost_o, rows_o, t_indptr, t_edge, flow_o, u, v,
                               supply, demand, order)
        total_work += work
        if left:
            raise RuntimeError("sparse Wasserstein solver: infeasible flow (internal error)")
        flowa = np.empty_like(flowa)
        flowa[o] = flow_o
        flow_pairs = flowa[:npair]
        flow_tr = flowa[npair:2 * npair]
        flow_xd = flowa[2 * npair:2 * npair + n]
        flow_ey = flowa[2 * npair + n:]
        alpha = u[:n] + v[m:]
        beta = u[n:] + v[:m]
        # certificate: the double c-transform of the dual is feasible for ALL pairs; the flow is
        # optimal when the transformed dual objective reaches its cost.
        total = float(np.dot(flow_pairs, c) + np.dot(flow_xd, dx) + np.dot(flow_ey, dy))
        beta2, argi = _c_transform(x, alpha, y, dy, p, q, *tree_x)
        alpha2, argj = _c_transform(y, beta2, x, dx, p, q, *tree_y)
        dual = float(np.dot(a_cnt, alpha2) + np.dot(b_cnt, beta2))
        if dual >= total - 1e-12 * max(total, tol):
            break
        vj = np.flatnonzero((beta2 < beta - tol) & (argi >= 0))
        vi2 = np.flatnonzero((alpha2 < alpha - tol) & (argj >= 0))
        vi = np.concatenate([argi[vj], vi2])
        vj = np.concatenate([vj, argj[vi2]])
        if len(vi):
            present = np.sort(ii * m + jj)
            key = np.unique(vi * m + vj)
            pos = np.minimum(np.searchsorted(present, key), len(present) - 1) if len(present) else None
            if pos is not None:
                key = key[present[pos] != key]
            vi, vj = key // m, key % m
        if len(vi) == 0:
            max_out = 4 * (n + m) + 1024
            vi, vj, cnt = _certificate_violations(x, y, alpha, beta, p, q, tol, *tree_y, max_out)
            cnt_kept = min(cnt, max_out)
            vi, vj = vi[:cnt_kept], vj[:cnt_kept]
            if len(vi):
                present = np.sort(ii * m + jj)
                key = np.unique(vi * m + vj)
                pos = np.minimum(np.searchsorted(present, key), len(present) - 1)
                key = key[present[pos] != key]
                vi, vj = key // m, key % m
        if len(vi) == 0:
            break
        n_added += len(vi)
        cnew = _pair_dist(x[vi, 0] - y[vj, 0], x[vi, 1] - y[vj, 1], q) ** p
        ii = np.concatenate([ii, vi])
        jj = np.concatenate([jj, vj])
        c = np.concatenate([c, cnew])
        flow_pairs = np.concatenate([flow_pairs, np.zeros(len(vi), np.int64)])
        flow_tr = np.concatenate([flow_tr, np.zeros(len(vi), np.int64)])
    # expand the flow on unique points into a matching of the original points
    match_x = np.full(n0, -1, np.int64)
    match_y = np.full(m0, -1, np.int64)
    xo = np.argsort(xinv, kind="stable")
    xstart = np.concatenate([[0], np.cumsum(a_cnt)])
    yo = np.argsort(yinv, kind="stable")
    ystart = np.concatenate([[0], np.cumsum(b_cnt)])
    xptr = xstart[:-1].copy()
    yptr = ystart[:-1].copy()
    for e in np.flatnonzero(flow_pairs > 0):
        i, j, f = ii[e], jj[e], flow_pairs[e]
        xs = xo[xptr[i]:xptr[i] + f]
        ys = yo[yptr[j]:yptr[j] + f]
        match_x[xs] = ys
        match_y[ys] = xs
        xptr[i] += f
        yptr[j] += f
    if return_stats:
        stats = {"rounds": rounds, "pairs": len(ii), "added": n_added, "settled": total_work,
                 "unique": (n, m)}
        return match_x, match_y, stats
    return match_x, match_y


"""The optimality certificate of the sparse Wasserstein solver: its duals checked over ALL pairs.

The sparse solver (:mod:`._sparse`) keeps duals ``alpha = dx - U`` and ``beta = dy - V``
feasible on its candidate pairs.  They are feasible for every pair when
``c_ij = |x_i - y_j|_q^p >= alpha_i + beta_j`` for all ``i, j``; the flow is then optimal by LP
duality.  :func:`_certificate_best` finds, for each point of one side, its most violated pair
that is not a candidate yet, by branch and bound in an implicit 2-D KD-tree over the other
side (:func:`_kdtree_build`) with the largest dual of each node.  :class:`DualCheck` runs it on
both sides, re-checking after the first full pass only the points whose dual changed, and turns
the violations it finds into a *certified lower bound* of ``W_p^p``: lowering each violated
point's dual by its worst slack (its c-transform) makes the duals feasible for all pairs, and
any feasible dual bounds the optimum from below.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._metric import _pair_dist

__all__: list[str] = []


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
def _box_cost(bbox, node, xb, xd, p, q):
    """A lower bound of the cost |x - y|_q^p from (xb, xd) to any point in the box of ``node``."""
    gb = max(0.0, bbox[node, 0] - xb, xb - bbox[node, 1])
    gd = max(0.0, bbox[node, 2] - xd, xd - bbox[node, 3])
    return _powp(_ground(gb, gd, q), p)


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
def _certificate_best(x, query, y, alpha, beta, p, q, tol, x_ptr, x_edge, e_other, perm, start, end,
                      left, right, bbox):
    """For each i in ``query``: the point j of y (KD-tree ``perm ... bbox`` over y) with the most
    negative slack |x_i - y_j|_q^p - alpha_i - beta_j below -tol, among the pairs that are not
    candidates yet (the candidates of i: ``e_other[x_edge[x_ptr[i]:x_ptr[i + 1]]]``).  Branch and
    bound with the largest beta of each node, nearer child first.

    Returns (vi, vj): the points of ``query`` that have a violated pair, and their worst one."""
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
    mark = np.full(y.shape[0], -1, np.int64)
    out_i = np.empty(query.shape[0], np.int64)
    out_j = np.empty(query.shape[0], np.int64)
    count = 0
    stack = np.empty(nnodes + 1, np.int64)
    stack_lb = np.empty(nnodes + 1, np.float64)
    for i in query:
        ai = alpha[i]
        if ai + nodemax[0] <= tol:  # no pair of i can be violated
            continue
        for k in range(x_ptr[i], x_ptr[i + 1]):
            mark[e_other[x_edge[k]]] = i
        xb = x[i, 0]
        xd = x[i, 1]
        best = -tol
        bestj = -1
        top = 1
        stack[0] = 0
        stack_lb[0] = -ai - nodemax[0]
        while top > 0:
            top -= 1
            node = stack[top]
            if stack_lb[top] >= best:
                continue
            if left[node] == -1:
                for k in range(start[node], end[node]):
                    j = perm[k]
                    if mark[j] == i:
                        continue
                    slack = _powp(_ground(xb - y[j, 0], xd - y[j, 1], q), p) - ai - beta[j]
                    if slack < best:
                        best = slack
                        bestj = j
            else:
                c0 = left[node]
                c1 = right[node]
                lb0 = _box_cost(bbox, c0, xb, xd, p, q) - ai - nodemax[c0]
                lb1 = _box_cost(bbox, c1, xb, xd, p, q) - ai - nodemax[c1]
                if lb0 < lb1:  # the nearer child on top
                    c0, c1 = c1, c0
                    lb0, lb1 = lb1, lb0
                if lb0 < best:
                    stack[top] = c0
                    stack_lb[top] = lb0
                    top += 1
                if lb1 < best:
                    stack[top] = c1
                    stack_lb[top] = lb1
                    top += 1
        if bestj >= 0:
            out_i[count] = i
            out_j[count] = bestj
            count += 1
    return out_i[:count], out_j[:count]


class DualCheck:
    """The certificate of one solve, checked after each round of the sparse solver.

    Parameters
    ----------
    x, y : ndarray, shape (n, 2) and (m, 2)
        The unique points of both sides.
    a_cnt, b_cnt : ndarray of int64, shape (n,) and (m,)
        How many copies of each point.
    p, q : float
        Wasserstein order and ground norm.
    tol : float
        Slacks above ``-tol`` count as feasible (rounding).
    order_x : ndarray of int64
        The points of x checked by the first (full) pass, in that order.

    The first call checks every x against every y; later calls only the points whose dual
    changed or that had a violator (a pair neither of whose duals changed passed before).
    """

    def __init__(self, x, y, a_cnt, b_cnt, p, q, tol, order_x):
        self.x, self.y, self.a_cnt, self.b_cnt = x, y, a_cnt, b_cnt
        self.p, self.q, self.tol, self.order_x = p, q, tol, order_x
        self.tree_y = _kdtree_build(y, 16)
        self.tree_x = None
        self.alpha_chk = self.beta_chk = None

    def _slack(self, i, j, alpha, beta):
        x, y = self.x, self.y
        return _pair_dist(x[i, 0] - y[j, 0], x[i, 1] - y[j, 1], self.q) ** self.p - alpha[i] - beta[j]

    def check(self, csr_x, csr_y, ii, jj, alpha, beta, bound=False):
        """The worst violated new pair of each point checked: ``(vi, vj)``, and with ``bound`` a
        certified lower bound of ``W_p^p`` (else None).

        ``csr_x = (x_ptr, x_edge)``, ``csr_y``: the candidate pairs ``(ii, jj)`` by endpoint.
        """
        p, q, tol, m = self.p, self.q, self.tol, len(self.y)
        first = self.alpha_chk is None
        qx = self.order_x if first else np.flatnonzero(alpha != self.alpha_chk)
        vi, vj = _certificate_best(self.x, qx, self.y, alpha, beta, p, q, tol, *csr_x, jj, *self.tree_y)
        wi = wj = new_key = np.empty(0, np.int64)
        if not first:
            qy = np.flatnonzero(beta != self.beta_chk)
            if len(qy):
                if self.tree_x is None:
                    self.tree_x = _kdtree_build(self.x, 16)
                wj, wi = _certificate_best(self.y, qy, self.x, beta, alpha, p, q, tol, *csr_y, ii, *self.tree_x)
                new_key = np.unique(np.concatenate([vi * m + vj, wi * m + wj]))
        lower = self._lower_bound(ii, jj, alpha, beta, (vi, vj), (wi, wj)) if bound else None
        if not first and len(qy):
            vi, vj = new_key // m, new_key % m
        if len(vi):
            self.alpha_chk, self.beta_chk = alpha.copy(), beta.copy()
            # the points of a new pair are checked again next time
            self.alpha_chk[vi] = np.nan
            self.beta_chk[vj] = np.nan
        return vi, vj, lower

    def _lower_bound(self, ii, jj, alpha, beta, x_viol, y_viol):
        """``sum a alpha' + sum b beta'`` for duals lowered until feasible for every pair.

        Each violated point's dual drops by its worst slack (a violator of x found from x, of y
        from y); a candidate pair made infeasible by rounding lowers its x end; every dual drops
        by ``tol`` for the slacks in ``(-tol, 0)`` the search ignores.  Pairs of two unchanged
        duals passed the last check, so the lowered duals are feasible for all pairs: by weak LP
        duality the value bounds ``W_p^p`` from below."""
        a, b = self.a_cnt, self.b_cnt
        da = np.zeros(len(a))
        db = np.zeros(len(b))
        vi, vj = x_viol
        np.minimum.at(da, vi, self._slack(vi, vj, alpha, beta))
        wi, wj = y_viol
        np.minimum.at(db, wj, self._slack(wi, wj, alpha, beta))
        s = self._slack(ii, jj, alpha, beta)
        bad = np.flatnonzero(s < 0)
        np.minimum.at(da, ii[bad], s[bad])
        total = float(a @ (alpha + da) + b @ (beta + db))
        return total - self.tol * float(a.sum() + b.sum())

"""The sparse exact Wasserstein solver for large finite diagrams: a max-weight flow.

Read in this order: :func:`sparse_wasserstein` (the steps: merge duplicate points, choose the
start of the duals and the candidate pairs, then rounds of routing every free unit and checking
the certificate over all pairs until it holds), :func:`_mw_solve` and :func:`_mw_search` (one
shortest augmenting path), and :mod:`._certificate` (the dual check with its KD-tree, and the
certified lower bound that ``tolerance`` stops at).

"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._certificate import DualCheck
from ._metric import _diag_dist, _pair_dist

__all__: list[str] = []

# Max-weight form.  dx_i, dy_j: p-th powers of the distances to the diagonal; c_ij = |x_i - y_j|_q^p;
# w_ij = dx_i + dy_j - c_ij; W_p^p = sum dx + sum dy - (max weight of a matching).  Only pairs with
# w_ij > 0 are worth matching (the exact pruning rule).  Duplicate points are merged: point i of
# side x has a_i units, each either sent along a pair with flow f_ij, on the diagonal (dia_x) or
# still free (free_x); the same for side y.  LP dual: U_i, V_j >= 0 with U_i + V_j >= w_ij.
# Invariants kept by the solver on the candidate pairs: dual feasible; f_ij > 0 => tight;
# dia_x[i] > 0 => U_i = 0, dia_y[j] > 0 => V_j = 0 (free units: no condition).  Every free unit is
# routed by a shortest path of reduced costs U + V - w (Dijkstra with early exit,
# :func:`_mw_search`, the same code for both sides); when none is left the flow is optimal on
# the candidate pairs.  With alpha = dx - U and beta = dy - V the dual is feasible for ALL pairs
# when c_ij >= alpha_i + beta_j everywhere (checked with a KD-tree, :mod:`._certificate`);
# the flow is then optimal by LP duality.  Violating pairs are added (the dual of one end raised
# to make them feasible, that point's flow released as free units) until none remain.


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
def _fl_add(e, v, ptr, fl, fc, pos):
    """Append edge e to the list of pairs with flow of point v (slots ptr[v] .. ptr[v + 1])."""
    k = ptr[v] + fc[v]
    fl[k] = e
    pos[e] = k
    fc[v] += 1


@njit(cache=True, nogil=True)
def _fl_remove(e, v, ptr, fl, fc, pos):
    """Remove edge e from the list of pairs with flow of point v (the last one takes its slot)."""
    k = pos[e]
    last = ptr[v] + fc[v] - 1
    el = fl[last]
    fl[k] = el
    pos[el] = k
    pos[e] = -1
    fc[v] -= 1


# One long kernel on purpose: its inner loop is most of the solver's time, and splitting the
# search, the dual update and the augmentation into calls passing ~30 arrays cost speed.
@njit(cache=True, nogil=True)
def _mw_search(s, a_ptr, a_edge, a_nbr, a_w, b_ptr, b_edge, e_a, e_b, f, ua_, bd, free_a, free_b,
               dia_a, dia_b, cnt_b, mate_a, mate_b, predb, da, preda, visited, touched, slist, sdist,
               alist, hk, hv, a_fl, a_fc, a_pos, b_fl, b_fc, b_pos):
    """One shortest augmenting path of the max-weight flow from the point ``s`` of side a (which
    has free units) to the nearest terminal; moves as many units along it as it carries.

    Reduced cost of an edge e = (a, b): ua_[a] + ub[b] - w[e] >= 0; edges with flow are tight.
    From a settled point b of side b the search continues, at the same distance, to the points
    of side a that send flow to b.  Terminals: a point of side a reached at distance d (its units
    go to the diagonal, key d + ua_[a], so that ua_ stays >= 0), or a point of side b with free
    units or units on the diagonal (V = 0 there) at distance d.  Early exit at the first
    terminal; the duals of the points settled below the terminal's distance D move by D - d.
    A point with a single unit (``cnt`` 1) has at most one pair with flow, ``mate`` (or -1): its
    pairs are not scanned for flow.  A point with several units scans only its pairs with flow:
    ``b_fl[b_ptr[b]:b_ptr[b] + b_fc[b]]`` (kept by :func:`_fl_add` / :func:`_fl_remove` for both
    sides); scanning all its pairs made a merged point of a quantised diagram (thousands of
    pairs) cost thousands of reads each time a search settled it.

    Layout, for speed (the inner loop is most of the solver's time): the edges of side a in CSR
    order with their other end and weight copied (``a_edge``, ``a_nbr``, ``a_w``: sequential
    reads), and side b's tentative distance and dual side by side, ``bd[b] = (dist, ub[b])``
    (one cache line), dist = -inf once settled.  Returns the number of settled points."""
    inf = np.inf
    best = ua_[s]
    kind = 0
    tnode = s
    visited[s] = True
    da[s] = 0.0
    alist[0] = s
    na = 1
    nt = 0
    ns = 0
    hsize = 0
    base = ua_[s]
    for k in range(a_ptr[s], a_ptr[s + 1]):
        b = a_nbr[k]
        nd = base + bd[b, 1] - a_w[k]
        if nd < bd[b, 0]:
            if bd[b, 0] == inf:
                touched[nt] = b
                nt += 1
            bd[b, 0] = nd
            predb[b] = a_edge[k]
            hsize = _heap_push(hk, hv, hsize, nd, b)
    while hsize > 0:
        d, b, hsize = _heap_pop(hk, hv, hsize)
        if d > bd[b, 0]:  # a stale entry, or b settled (-inf)
            continue
        if d >= best:
            break
        bd[b, 0] = -inf
        slist[ns] = b
        sdist[ns] = d
        ns += 1
        if free_b[b] > 0 or dia_b[b] > 0:
            best = d
            kind = 1
            tnode = b
            break
        single = cnt_b[b] == 1
        lo, hi = (0, 1 if mate_b[b] >= 0 else 0) if single else (b_ptr[b], b_ptr[b] + b_fc[b])
        for k in range(lo, hi):
            e = mate_b[b] if single else b_fl[k]
            if f[e] <= 0:
                continue
            a2 = e_a[e]
            if visited[a2]:
                continue
            visited[a2] = True
            da[a2] = d
            preda[a2] = e
            alist[na] = a2
            na += 1
            ua = ua_[a2]
            base = d + ua
            if base < best:
                best = base
                kind = 0
                tnode = a2
            for k2 in range(a_ptr[a2], a_ptr[a2 + 1]):
                b2 = a_nbr[k2]
                nd = base + bd[b2, 1] - a_w[k2]
                if nd < bd[b2, 0]:
                    if bd[b2, 0] == inf:
                        touched[nt] = b2
                        nt += 1
                    bd[b2, 0] = nd
                    predb[b2] = a_edge[k2]
                    hsize = _heap_push(hk, hv, hsize, nd, b2)
    big = best
    for k in range(ns):
        if sdist[k] < big:
            bd[slist[k], 1] += big - sdist[k]
    for k in range(na):
        a = alist[k]
        if da[a] < big:
            ua_[a] = max(0.0, ua_[a] - (big - da[a]))
    if kind == 0:
        ua_[tnode] = 0.0
    # units moved: limited by the source, the terminal and the flows reversed on the way
    amt = free_a[s]
    if kind == 1:
        amt = min(amt, free_b[tnode] if free_b[tnode] > 0 else dia_b[tnode])
        a = e_a[predb[tnode]]
    else:
        a = tnode
    while a != s:
        e = preda[a]
        amt = min(amt, f[e])
        a = e_a[predb[e_b[e]]]
    if kind == 1:
        e2 = predb[tnode]
        if f[e2] == 0:
            _fl_add(e2, e_a[e2], a_ptr, a_fl, a_fc, a_pos)
            _fl_add(e2, e_b[e2], b_ptr, b_fl, b_fc, b_pos)
        f[e2] += amt
        mate_a[e_a[e2]] = e2
        mate_b[e_b[e2]] = e2
        a = e_a[e2]
        if free_b[tnode] > 0:
            free_b[tnode] -= amt
        else:
            dia_b[tnode] -= amt
    else:
        a = tnode
        dia_a[tnode] += amt
    while a != s:
        e = preda[a]
        f[e] -= amt
        if f[e] == 0:
            _fl_remove(e, e_a[e], a_ptr, a_fl, a_fc, a_pos)
            _fl_remove(e, e_b[e], b_ptr, b_fl, b_fc, b_pos)
            if mate_a[a] == e:
                mate_a[a] = -1
            if mate_b[e_b[e]] == e:
                mate_b[e_b[e]] = -1
        e2 = predb[e_b[e]]
        if f[e2] == 0:
            _fl_add(e2, e_a[e2], a_ptr, a_fl, a_fc, a_pos)
            _fl_add(e2, e_b[e2], b_ptr, b_fl, b_fc, b_pos)
        f[e2] += amt
        mate_a[e_a[e2]] = e2
        mate_b[e_b[e2]] = e2
        a = e_a[e2]
    free_a[s] -= amt
    for k in range(nt):
        b = touched[k]
        bd[b, 0] = inf
        predb[b] = -1
    for k in range(na):
        visited[alist[k]] = False
    return ns


@njit(cache=True, nogil=True)
def _mw_solve(x_ptr, x_edge, y_ptr, y_edge, ei, ej, w, f, U, V, free_x, free_y, dia_x, dia_y,
              cnt_x, cnt_y, order_x, order_y):
    """Route every free unit of both sides (sources in ``order_x`` then ``order_y``) by
    :func:`_mw_search`; updates the flows, duals and counts in place.  Returns the work (points
    settled in total)."""
    n = U.shape[0]
    m = V.shape[0]
    cap = w.shape[0] + 16
    hk = np.empty(cap, np.float64)
    hv = np.empty(cap, np.int64)
    mate_x = np.full(n, -1, np.int64)
    mate_y = np.full(m, -1, np.int64)
    ne = w.shape[0]
    fl_x, pos_x, fc_x = np.empty(ne, np.int64), np.full(ne, -1, np.int64), np.zeros(n, np.int64)
    fl_y, pos_y, fc_y = np.empty(ne, np.int64), np.full(ne, -1, np.int64), np.zeros(m, np.int64)
    for e in range(ne):
        if f[e] > 0:
            mate_x[ei[e]] = e
            mate_y[ej[e]] = e
            _fl_add(e, ei[e], x_ptr, fl_x, fc_x, pos_x)
            _fl_add(e, ej[e], y_ptr, fl_y, fc_y, pos_y)
    work = 0
    for side in range(2):
        if side == 0:
            na, nb, a_edge, e_b, ub_ = n, m, x_edge, ej, V
        else:
            na, nb, a_edge, e_b, ub_ = m, n, y_edge, ei, U
        a_nbr = np.empty(a_edge.shape[0], np.int64)
        a_w = np.empty(a_edge.shape[0], np.float64)
        for k in range(a_edge.shape[0]):
            a_nbr[k] = e_b[a_edge[k]]
            a_w[k] = w[a_edge[k]]
        bd = np.empty((nb, 2), np.float64)
        for b in range(nb):
            bd[b, 0] = np.inf
            bd[b, 1] = ub_[b]
        predb = np.full(nb, -1, np.int64)
        touched = np.empty(nb, np.int64)
        slist = np.empty(nb, np.int64)
        sdist = np.empty(nb, np.float64)
        da = np.zeros(na)
        preda = np.full(na, -1, np.int64)
        visited = np.zeros(na, np.bool_)
        alist = np.empty(na, np.int64)
        if side == 0:
            for s in order_x:
                while free_x[s] > 0:
                    work += _mw_search(s, x_ptr, x_edge, a_nbr, a_w, y_ptr, y_edge, ei, ej, f, U, bd,
                                       free_x, free_y, dia_x, dia_y, cnt_y, mate_x, mate_y, predb, da,
                                       preda, visited, touched, slist, sdist, alist, hk, hv,
                                       fl_x, fc_x, pos_x, fl_y, fc_y, pos_y)
        else:
            for s in order_y:
                while free_y[s] > 0:
                    work += _mw_search(s, y_ptr, y_edge, a_nbr, a_w, x_ptr, x_edge, ej, ei, f, V, bd,
                                       free_y, free_x, dia_y, dia_x, cnt_x, mate_y, mate_x, predb, da,
                                       preda, visited, touched, slist, sdist, alist, hk, hv,
                                       fl_y, fc_y, pos_y, fl_x, fc_x, pos_x)
        for b in range(nb):
            ub_[b] = bd[b, 1]
    return work


@njit(cache=True, nogil=True)
def _csr(idx, size):
    """CSR of the edges by endpoint: (indptr, edge ids grouped by endpoint, in order)."""
    ptr = np.zeros(size + 1, np.int64)
    for e in range(idx.shape[0]):
        ptr[idx[e] + 1] += 1
    for i in range(size):
        ptr[i + 1] += ptr[i]
    pos = ptr[:-1].copy()
    out = np.empty(idx.shape[0], np.int64)
    for e in range(idx.shape[0]):
        out[pos[idx[e]]] = e
        pos[idx[e]] += 1
    return ptr, out


def _unique_rows(x):
    """(unique rows of x in lexicographic order, the rows of x grouped by unique row, counts)."""
    order = np.lexsort((x[:, 1], x[:, 0]))
    xs = x[order]
    new = np.ones(len(x), np.bool_)
    new[1:] = (xs[1:, 0] != xs[:-1, 0]) | (xs[1:, 1] != xs[:-1, 1])
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(x))).astype(np.int64)
    return np.ascontiguousarray(xs[starts]), order.astype(np.int64), counts


@njit(cache=True, nogil=True)
def _expand_flow(ii, jj, f, xo, yo, a_cnt, b_cnt, match_x, match_y):
    """Match f[e] copies of the unique point ii[e] of x with as many copies of jj[e] of y; xo, yo
    list the original points grouped by unique point."""
    xptr = np.zeros(a_cnt.shape[0], np.int64)
    yptr = np.zeros(b_cnt.shape[0], np.int64)
    for i in range(1, a_cnt.shape[0]):
        xptr[i] = xptr[i - 1] + a_cnt[i - 1]
    for j in range(1, b_cnt.shape[0]):
        yptr[j] = yptr[j - 1] + b_cnt[j - 1]
    for e in range(f.shape[0]):
        i = ii[e]
        j = jj[e]
        for _ in range(f[e]):
            xs = xo[xptr[i]]
            ys = yo[yptr[j]]
            match_x[xs] = ys
            match_y[ys] = xs
            xptr[i] += 1
            yptr[j] += 1


def _knn_pairs(x, y, k, q, tree_x, tree_y):
    """Pairs (i, j): j among the k nearest points of y to x_i, and i among the k nearest of x to y_j."""
    n, m = len(x), len(y)
    kx = min(k, m)
    ky = min(k, n)
    _, jx = tree_y.query(x, k=kx, p=q)
    _, iy = tree_x.query(y, k=ky, p=q)
    jx = np.asarray(jx, np.int64).reshape(n, kx)
    iy = np.asarray(iy, np.int64).reshape(m, ky)
    ii = np.concatenate([np.repeat(np.arange(n), kx), iy.ravel()])
    jj = np.concatenate([jx.ravel(), np.repeat(np.arange(m), ky)])
    return ii, jj


def _near_identical(x, tree_x, tree_y, q):
    """Whether y looks like a slightly moved copy of x: for most points of x (a sample of about
    1000), the nearest point of y is much closer than the nearest other point of x.  True for a
    field's diagram vs that of its SZ3 / ZFP / quantised reconstruction (median ratio 0.01-0.6),
    false for white noise vs perturbed or independent noise (median ratio ~1.0)."""
    if len(x) < 2:
        return False
    sample = x[:: max(1, len(x) // 1000)]
    d_other, _ = tree_y.query(sample, k=1, p=q)
    d_own, _ = tree_x.query(sample, k=2, p=q)  # unique points: d_own[:, 1] > 0
    return bool(np.median(d_other / d_own[:, 1]) < 0.75)


# ----------------------------------------------------------------------------- the solver, step by step


class _Problem:
    """The weighted points of both sides (duplicates merged) and their diagonal costs."""

    def __init__(self, x, y, p, q):
        x = np.ascontiguousarray(x, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        self.n0, self.m0 = len(x), len(y)
        self.x, self.xo, self.a_cnt = _unique_rows(x)
        self.y, self.yo, self.b_cnt = _unique_rows(y)
        self.n, self.m = len(self.x), len(self.y)
        self.p, self.q = p, q
        self.dx = _diag_dist(self.x, q) ** p
        self.dy = _diag_dist(self.y, q) ** p

    def pair_cost(self, i, j):
        x, y = self.x, self.y
        return _pair_dist(x[i, 0] - y[j, 0], x[i, 1] - y[j, 1], self.q) ** self.p

    def upper_bound(self, flow):
        """W_p^p of the current flow with every unit not sent along a pair on the diagonal."""
        return float(self.a_cnt @ self.dx + self.b_cnt @ self.dy - flow.f @ flow.w)


class _Flow:
    """Candidate pairs (ii, jj) with weights w and flows f; duals U, V; the units of each point
    that are free (not routed yet) or on the diagonal."""

    def __init__(self, ii, jj, w, U, V, free_x, dia_x, free_y, dia_y):
        self.ii, self.jj, self.w = ii, jj, w
        self.f = np.zeros(len(ii), np.int64)
        self.U, self.V = U, V
        self.free_x, self.dia_x, self.free_y, self.dia_y = free_x, dia_x, free_y, dia_y


def _choose_start(prob, init, k):
    """The start of the duals and the number of neighbours (see :func:`sparse_wasserstein`)."""
    from scipy.spatial import cKDTree

    trees = cKDTree(prob.x), cKDTree(prob.y)
    n, m = prob.n, prob.m
    if init is None:
        near = _near_identical(prob.x, trees[0], trees[1], prob.q)
        init = "zero" if near else "split" if prob.p == 1.0 and n + m <= 20000 else "max"
    if k is None:
        # a near-identical pair needs few (1024^2 field vs SZ3 W2: 0.116 s with 12, 0.064 s with 6,
        # one round either way); more neighbours for large noise diagrams: 29k + 29k points W1
        # 18 s with 12 (16 rounds), 10 s with 24 (6 rounds), 28 s with 48 (4 rounds)
        k = 6 if init == "zero" else 12 if n + m <= 40000 else 24
    return init, k, trees


def _candidate_pairs(prob, k, trees):
    """The k nearest neighbours both ways, each pair once, sorted by (i, j), with w > 0."""
    n, m = prob.n, prob.m
    ii, jj = _knn_pairs(prob.x, prob.y, k, prob.q, *trees)
    key = np.sort(ii * m + jj)
    key = key[np.r_[True, key[1:] != key[:-1]]]
    ii, jj = key // m, key % m
    w = prob.dx[ii] + prob.dy[jj] - prob.pair_cost(ii, jj)
    keep = w > 0
    return ii[keep], jj[keep], w[keep]


def _start(prob, ii, jj, w, init):
    """The first duals and the state of every unit for the start ``init``."""
    n, m = prob.n, prob.m
    free_x, dia_x = prob.a_cnt.copy(), np.zeros(n, np.int64)
    if init == "zero":
        # alpha = beta = 0 (U = dx, V = dy), every unit of both sides free: each search first
        # meets its nearest point of the other side.  Right for near-identical diagrams; the
        # default start (U_i = max w_ij, V = 0) lets a point near the diagonal take the weight
        # 2 pers(y) pers(x) of a high-persistence y above it (p = 2) and the later searches of
        # the high-persistence points undo that: 128^3 field vs ZFP W2 68,600 points settled
        # instead of 3,437, 1024^2 vs SZ3 159k instead of 7.3k.  Noise diagrams do worse with it
        # (256^2 W2 0.64 -> 0.83 s, 362^2 2.0 -> 3.1 s).
        return _Flow(ii, jj, w, prob.dx.copy(), prob.dy.copy(), free_x, dia_x, prob.b_cnt.copy(),
                     np.zeros(m, np.int64))
    # "max": U_i = max(0, max_j w_ij), V = 0; every x unit free, every y unit on the diagonal
    U = np.zeros(n)
    if len(ii):
        starts = np.flatnonzero(np.r_[True, ii[1:] != ii[:-1]])
        U[ii[starts]] = np.maximum.reduceat(w, starts)
    V = np.zeros(m)
    if init != "split":
        return _Flow(ii, jj, w, U, V, free_x, dia_x, np.zeros(m, np.int64), prob.b_cnt.copy())
    # "split" (W1): split each weight evenly between the two duals, every unit of both sides free.
    # The optimal W1 duals are close to that (alpha = -beta, a 1-Lipschitz potential near 0 on
    # near-identical diagrams); starting from U_i = max w, V = 0 instead leaves beta_j = dy_j
    # on matched high-persistence y_j, violated by every omitted low-persistence x near the
    # diagonal below it (190k violations, 6 rounds on 1024^2 vs ZFP, 10x slower).  Not on
    # large noise diagrams, where twice as many searches do not pay (14.7k + 14.7k points:
    # 4.6 s split, 3.8 s not; 29k + 29k: first solve 7.9 s split, 2.1 s not)
    U *= 0.5
    np.maximum.at(V, jj, 0.5 * w)
    return _Flow(ii, jj, w, U, V, free_x, dia_x, prob.b_cnt.copy(), np.zeros(m, np.int64))


def _route(prob, flow, csr_x, csr_y, order_x, order_y, progress=None):
    """Route every free unit (:func:`_mw_solve`); returns the points settled.

    With ``progress``, the sources go in about 20 slices per side (the same searches in the
    same order, so the same flow) and ``progress(done, total)`` is called after each."""
    args = (*csr_x, *csr_y, flow.ii, flow.jj, flow.w, flow.f, flow.U, flow.V, flow.free_x,
            flow.free_y, flow.dia_x, flow.dia_y, prob.a_cnt, prob.b_cnt)
    if progress is None:
        return _mw_solve(*args, order_x, order_y)
    busy = [o[free[o] > 0] for o, free in ((order_x, flow.free_x), (order_y, flow.free_y))]
    total = len(busy[0]) + len(busy[1])
    none = np.empty(0, np.int64)
    work = done = 0
    for side, sources in enumerate(busy):
        step = max(1, -(-len(sources) // 20))
        for k in range(0, len(sources), step):
            part = sources[k:k + step]
            work += _mw_solve(*args, *((part, none) if side == 0 else (none, part)))
            done += len(part)
            progress(done, total)
    return work


def _add_pairs(prob, flow, vi, vj):
    """Add the violated pairs (vi, vj) as candidates, each made feasible by raising the dual of
    one end: the one whose units are on the diagonal when the other's are not (one unit to
    re-route instead of two).  The flow that is no longer tight and the diagonal units of the
    raised points become free again."""
    nw = prob.dx[vi] + prob.dy[vj] - prob.pair_cost(vi, vj)
    U, V = flow.U, flow.V
    on_y = (flow.dia_y[vj] > 0) & (flow.dia_x[vi] == 0)
    U_new, V_new = U.copy(), V.copy()
    np.maximum.at(U_new, vi[~on_y], nw[~on_y] - V[vj[~on_y]])
    np.maximum.at(V_new, vj[on_y], nw[on_y] - U[vi[on_y]])
    raised_x, raised_y = U_new > U, V_new > V
    flow.U, flow.V = U, V = U_new, V_new
    flow.ii = ii = np.concatenate([flow.ii, vi])
    flow.jj = jj = np.concatenate([flow.jj, vj])
    flow.w = w = np.concatenate([flow.w, nw])
    flow.f = f = np.concatenate([flow.f, np.zeros(len(vi), np.int64)])
    rel = np.flatnonzero((raised_x[ii] | raised_y[jj]) & (f > 0))
    rel = rel[U[ii[rel]] + V[jj[rel]] - w[rel] > 0]
    np.add.at(flow.free_x, ii[rel], f[rel])
    np.add.at(flow.free_y, jj[rel], f[rel])
    f[rel] = 0
    for free, dia, raised in ((flow.free_x, flow.dia_x, raised_x), (flow.free_y, flow.dia_y, raised_y)):
        rd = raised & (dia > 0)
        free[rd] += dia[rd]
        dia[rd] = 0


def _matching(prob, flow):
    """Expand the flow on unique points into a matching of the original points."""
    match_x = np.full(prob.n0, -1, np.int64)
    match_y = np.full(prob.m0, -1, np.int64)
    _expand_flow(flow.ii, flow.jj, flow.f, prob.xo, prob.yo, prob.a_cnt, prob.b_cnt, match_x, match_y)
    return match_x, match_y


def _gap_closed(upper, lower, p, tolerance):
    """Whether W = upper ** (1/p) is within ``tolerance`` (relative) of every W >= lower ** (1/p)."""
    return upper <= 0.0 or (lower > 0.0 and upper <= lower * (1.0 + tolerance) ** p)


def sparse_wasserstein(x, y, p, q, k=None, init=None, return_stats=False, tolerance=None, progress=None):
    """W_p^p matching of finite diagrams x (n, 2), y (m, 2), memory O(candidate pairs).

    Exact (``tolerance`` None), or stopped at a certified relative gap.

    Max-weight form: with dx_i, dy_j the p-th powers of the distances to the diagonal and
    c_ij = |x_i - y_j|_q^p, W_p^p = sum dx + sum dy - max over matchings of sum w_ij,
    w_ij = dx_i + dy_j - c_ij (only pairs with w_ij > 0 can be worth matching).  Duplicate points
    are merged into weighted points (a transportation problem with integer counts).  Candidate
    pairs: the k nearest neighbours both ways with w > 0; solved by a primal-dual shortest path
    method (:func:`_mw_solve`, points by increasing persistence) keeping duals U, V >= 0 with
    U_i + V_j >= w_ij on the candidate pairs, tight on pairs with flow, zero on points left on the
    diagonal.  Certificate over ALL pairs: c_ij >= (dx_i - U_i) + (dy_j - V_j) checked with a
    KD-tree (:class:`._certificate.DualCheck`: branch and bound on the largest dual of each
    node, for the worst violated pair of each point); the flow is then optimal by LP duality.
    The worst violated pair of each point checked is added (the dual of one end raised to make
    it feasible, the flow of that point released and re-routed) until none remain; after the
    first full check only the points whose dual changed or that had a violator are re-checked
    (a pair both of whose duals are unchanged passed before).

    With ``tolerance`` (a relative gap), each round also bounds W_p^p: from above by the flow
    (every unit not sent along a pair on the diagonal: a matching), from below by the duals
    lowered until feasible for every pair (weak duality); the rounds stop once
    ``upper <= lower * (1 + tolerance) ** p``, i.e. W = upper ** (1/p) is within ``tolerance``
    of the optimum, relative.  Exact stops (no violation left) give lower = upper.

    Start (``init``; None picks it): "zero" (alpha = beta = 0) with k = 6 neighbours for
    near-identical diagrams (a field and its reconstruction, :func:`_near_identical`); otherwise
    "split" (W1 duals split evenly between the two sides, up to 20k points) or "max"
    (U_i = max_j w_ij, V = 0) with k = 12 neighbours (24 above 40k points).  Every start gives
    the same exact value.  Time on this machine (idle): 1024^2 smooth field vs SZ3 / ZFP /
    quantised (5.4k points) 0.025-0.04 s, 128^3 vs ZFP (3.4k) 0.02 s, white noise 512^2 (29k)
    7.5-8 s, 669^2 (50k) 17-23 s and ~0.35 GB peak.

    ``progress(info)``: called with a dict (``stage`` "route" with ``done``/``total`` sources
    of the round, or "round" with ``round``, ``lower``, ``upper``, ``violations``).

    Returns (match_x, match_y): match_x[i] = j or -1 (diagonal), match_y[j] = i or -1; and with
    ``return_stats`` a dict of statistics (rounds, pairs, ..., ``lower``/``upper`` of W_p^p when
    ``tolerance`` is given).
    """
    prob = _Problem(x, y, p, q)
    init, k, trees = _choose_start(prob, init, k)
    flow = _start(prob, *_candidate_pairs(prob, k, trees), init)
    order_x = np.argsort(prob.dx, kind="stable").astype(np.int64)
    order_y = np.argsort(prob.dy, kind="stable").astype(np.int64)
    tol = 1e-13 * float(max(prob.dx.max(), prob.dy.max(), np.finfo(float).tiny))
    check = DualCheck(prob.x, prob.y, prob.a_cnt, prob.b_cnt, p, q, tol, order_x)
    bounded = tolerance is not None
    work = rounds = n_added = 0
    lower = upper = None
    while True:
        rounds += 1
        csr_x, csr_y = _csr(flow.ii, prob.n), _csr(flow.jj, prob.m)
        route_progress = None
        if progress is not None:
            def route_progress(done, total, r=rounds):
                progress({"stage": "route", "round": r, "done": done, "total": total})
        work += _route(prob, flow, csr_x, csr_y, order_x, order_y, route_progress)
        vi, vj, lower = check.check(csr_x, csr_y, flow.ii, flow.jj, prob.dx - flow.U, prob.dy - flow.V, bounded)
        if bounded:
            upper = prob.upper_bound(flow)
            if len(vi) == 0:
                lower = upper  # optimal: the certificate holds for every pair
        if progress is not None:
            progress({"stage": "round", "round": rounds, "lower": lower, "upper": upper, "violations": len(vi)})
        if len(vi) == 0 or (bounded and _gap_closed(upper, lower, p, tolerance)):
            break
        n_added += len(vi)
        _add_pairs(prob, flow, vi, vj)
    match_x, match_y = _matching(prob, flow)
    if return_stats:
        stats = {"rounds": rounds, "pairs": len(flow.ii), "added": n_added, "settled": work,
                 "unique": (prob.n, prob.m), "init": init, "k": k, "lower": lower, "upper": upper,
                 "optimal": len(vi) == 0}
        return match_x, match_y, stats
    return match_x, match_y

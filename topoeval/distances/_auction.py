"""The certified approximate Wasserstein solver for diagrams of millions of points: an auction.

Read in this order: :func:`auction_wasserstein` (merge duplicate points, then phases of
epsilon-scaling until the certified gap is closed), :func:`_auction_phase` (one forward auction,
Gauss-Seidel, every person bidding until all are assigned), :func:`_sweep` (the bounds, and the
persons released between phases) and :func:`_lifted_lower` (the better dual bound).

The problem, as in hera (Kerber, Morozov, Nigmetov, "Geometry helps to compare persistence
diagrams", JEA 2017), as a transportation problem: the *persons* X u diag(Y) are assigned to
the *objects* Y u diagonal, with costs ``|x_i - y_j|_q^p`` (x_i -> y_j), ``dx_i`` (x_i -> the
diagonal), ``dy_j`` (the projection of y_j -> y_j) and 0 (a projection of Y -> the diagonal);
every other pair is forbidden.  hera's diag(X) - one object for each point of X - is one object
*class* here, the diagonal, with n copies (the same optimum: the copies taken by points of X are
their own projections, the rest those that projections of Y take).  Duplicate points are merged
into classes too: a class with ``c`` copies is ``c`` persons and ``c`` objects sharing one location
(Bertsekas and Castanon's similar persons and objects).  The copies of one object class sit in a
binary min-heap by price, and a class's price is its cheapest copy's.  A quantised diagram whose
points collapse onto a few hundred locations is then a few hundred object classes (and as many
classes of projection persons), however many copies each holds.

Bids (similar objects): a point x_i finds its two best classes among the Y classes by branch and
bound in a KD-tree over the distinct points of Y (each node keeps the smallest class price below
it, updated on every price change) and compares them with the diagonal; a projection of y_j
compares y_j with the diagonal.  The bid takes the best class's cheapest copy and prices it at the
bidder's value of its *second best class* plus eps: copies of one class never bid against each
other (with one price per copy and the second copy counted as an alternative, a class of 20,000
copies rose by eps per 20,000 bids: the price wars of the earlier version, 24 M bids on the 256^3
pair where 1.3 M now suffice).

Phases: the first eps is small (a fiftieth of the mean cost per person of the all-diagonal
matching, not hera's largest cost / 4: from zero prices nearly every first bid is final on
diagrams this close); a first phase that runs out of its bid budget goes on at eps x 5.  Later
phases divide eps by 5 (hera's ratio), by less once the gap is near the one asked
(:func:`_next_eps`), and keep the prices; only the persons that are no longer eps-happy at the
new eps give their objects back (:func:`_sweep` with ``release``), at their class's price.

Certificate after each phase: ``upper`` = the cost of the assignment (a matching), ``lower`` =
the transportation dual with the class prices: sum over persons of their best value at those
prices minus sum over classes of count x price (feasible for every pair by construction, so a
lower bound by weak LP duality), computed with the exact minimum over all Y classes from the same
KD-tree.  The phases stop once ``upper <= lower * (1 + delta) ** p``, with ``lower`` the better of
that bound and the *lifted* one (:func:`_lifted_lower`): class prices lowered to the c-transform
of the persons' values over the persons holding them, the values recomputed exactly.  The plain
bound keeps up to eps of slack per person, millions of eps in all; the lifted one gives it back.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._certificate import _box_cost, _ground, _kdtree_build, _powp
from ..errors import InsufficientMemoryError
from ._metric import _diag_dist

__all__: list[str] = []

# eps is divided by this between phases (hera's epsilon_common_ratio), by less near the end
# (at least _EPS_MIN_RATIO), aiming at a gap of _EPS_AIM times the tolerance (see _next_eps)
_EPS_RATIO = 5.0
_EPS_MIN_RATIO = 1.5
_EPS_AIM = 0.6
# the first eps in mean costs per person (see _first_eps), and the bids a person of the first
# phase after which eps is raised by _EPS_RATIO
_EPS_START = 0.02
_WAR_BIDS = 8
# leaf size of the KD-tree over the Y classes (the leaf is rescanned on every price change)
_LEAF = 8


# ----------------------------------------------------------------------------- object classes


@njit(cache=True, nogil=True)
def _cls_min(k, cptr, heap, price):
    """The price of the cheapest copy of object class k (the root of its heap)."""
    return price[heap[cptr[k]]]


@njit(cache=True, nogil=True)
def _copy_class(c, cptr, m0):
    """The object class of copy c: the diagonal (the last class) from m0 on, else the Y class k
    with cptr[k] <= c < cptr[k + 1] (a binary search over the few classes: no array of 4 B a copy)."""
    nk = cptr.shape[0] - 1
    if c >= m0:
        return nk - 1
    lo, hi = 0, nk - 1  # cptr[lo] <= c < cptr[hi]
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if cptr[mid] <= c:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def _sift_down(k, i, cptr, heap, price):
    """Restore the heap of class k below its node i after that node's price rose."""
    lo = cptr[k]
    size = cptr[k + 1] - lo
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        small = left
        if left + 1 < size and price[heap[lo + left + 1]] < price[heap[lo + left]]:
            small = left + 1
        if price[heap[lo + i]] <= price[heap[lo + small]]:
            break
        heap[lo + i], heap[lo + small] = heap[lo + small], heap[lo + i]
        i = small


# ----------------------------------------------------------------------------- the KD-tree over Y


@njit(cache=True, nogil=True)
def _tree_links(left, right, start, end, perm, m):
    """(parent of each node, the leaf holding each point)."""
    nn = left.shape[0]
    parent = np.full(nn, -1, np.int64)
    leaf_of = np.empty(m, np.int64)
    for node in range(nn):
        if left[node] >= 0:
            parent[left[node]] = node
            parent[right[node]] = node
        else:
            for k in range(start[node], end[node]):
                leaf_of[perm[k]] = node
    return parent, leaf_of


@njit(cache=True, nogil=True)
def _tree_fill(nodemin, left, right, start, end, perm, cptr, heap, price):
    """Every node's smallest class price (children after their parent: a reverse pass)."""
    for node in range(nodemin.shape[0] - 1, -1, -1):
        if left[node] == -1:
            mb = np.inf
            for k in range(start[node], end[node]):
                mb = min(mb, _cls_min(perm[k], cptr, heap, price))
            nodemin[node] = mb
        else:
            nodemin[node] = min(nodemin[left[node]], nodemin[right[node]])


@njit(cache=True, nogil=True)
def _tree_update(j, nodemin, leaf_of, parent, left, right, start, end, perm, cptr, heap, price):
    """The node minima after the price of Y class j rose (leaf rescanned, then up while changed)."""
    node = leaf_of[j]
    mb = np.inf
    for k in range(start[node], end[node]):
        mb = min(mb, _cls_min(perm[k], cptr, heap, price))
    if mb == nodemin[node]:
        return
    nodemin[node] = mb
    node = parent[node]
    while node >= 0:
        v = min(nodemin[left[node]], nodemin[right[node]])
        if v == nodemin[node]:
            return
        nodemin[node] = v
        node = parent[node]


@njit(cache=True, nogil=True)
def _tree_best2(xb, xd, y, p, q, nodemin, left, right, start, end, perm, bbox, cptr, heap, price, stack, slb):
    """The two smallest ``|x - y_j|_q^p + (cheapest price of class j)`` over the Y classes:
    (v1, j1, v2).  Branch and bound, nearer child first; exact (every bound is a lower bound)."""
    v1 = np.inf
    v2 = np.inf
    j1 = -1
    top = 1
    stack[0] = 0
    slb[0] = nodemin[0]
    while top > 0:
        top -= 1
        node = stack[top]
        if slb[top] >= v2:
            continue
        if left[node] == -1:
            for k in range(start[node], end[node]):
                j = perm[k]
                v = _powp(_ground(xb - y[j, 0], xd - y[j, 1], q), p) + _cls_min(j, cptr, heap, price)
                if v < v1:
                    v2 = v1
                    v1 = v
                    j1 = j
                elif v < v2:
                    v2 = v
            continue
        c0 = left[node]
        c1 = right[node]
        lb0 = _box_cost(bbox, c0, xb, xd, p, q) + nodemin[c0]
        lb1 = _box_cost(bbox, c1, xb, xd, p, q) + nodemin[c1]
        if lb0 < lb1:  # the nearer child on top of the stack
            c0, c1 = c1, c0
            lb0, lb1 = lb1, lb0
        if lb0 < v2:
            stack[top] = c0
            slb[top] = lb0
            top += 1
        if lb1 < v2:
            stack[top] = c1
            slb[top] = lb1
            top += 1
    return v1, j1, v2


# ----------------------------------------------------------------------------- one phase


@njit(cache=True, nogil=True)
def _take(u, k, price_to, cptr, heap, price, owner, assign):
    """Person u takes the cheapest copy of object class k at the price ``price_to``; returns the
    person it evicted (or -1)."""
    c = heap[cptr[k]]
    old = owner[c]
    owner[c] = u
    assign[u] = c
    price[c] = price_to
    _sift_down(k, 0, cptr, heap, price)
    if old >= 0:
        assign[old] = -1
    return old


@njit(cache=True, nogil=True)
def _auction_phase(eps, x, y, dx, dy, p, q, pcls, n0, cptr, heap, price, owner, assign, queue, count,
                   nodemin, leaf_of, parent, left, right, start, end, perm, bbox, budget):
    """One forward auction at ``eps``, Gauss-Seidel (a FIFO of the unassigned persons, the first
    ``count`` of ``queue``, one bid each, an evicted person queued again) until every person
    holds an object.

    Persons 0..n0-1 are copies of the X classes ``pcls[u]``, the rest copies of the projections of
    the Y classes ``pcls[u]``; object classes 0..m-1 are the Y classes, m the diagonal (the
    projections of X as one class).  A bid takes the cheapest copy of the best class and prices
    it at the second best value *over the other classes* plus eps (Bertsekas-Castanon's similar
    objects): the copies of one class are never bid against each other.  Stops after ``budget``
    bids even with persons still queued.  Returns (bids, persons still queued, now the first of
    ``queue``)."""
    m = y.shape[0]
    npers = pcls.shape[0]
    head = 0  # persons queued: a ring of size npers, each unassigned person once
    stack = np.empty(left.shape[0] + 1, np.int64)
    slb = np.empty(left.shape[0] + 1, np.float64)
    bids = 0
    while count > 0 and bids < budget:
        u = queue[head]
        head = head + 1 if head + 1 < npers else 0
        count -= 1
        cl = pcls[u]
        dmin = _cls_min(m, cptr, heap, price)
        if u < n0:  # a point of X: a Y class or the diagonal
            v1, j1, v2 = _tree_best2(x[cl, 0], x[cl, 1], y, p, q, nodemin, left, right, start, end,
                                     perm, bbox, cptr, heap, price, stack, slb)
            d1 = dx[cl] + dmin
            if v1 < d1:
                k, cost, second = j1, _powp(_ground(x[cl, 0] - y[j1, 0], x[cl, 1] - y[j1, 1], q), p), min(v2, d1)
            else:
                k, cost, second = m, dx[cl], v1
        else:  # a projection of y_j: y_j itself or the diagonal
            e1 = dy[cl] + _cls_min(cl, cptr, heap, price)
            if e1 <= dmin:
                k, cost, second = cl, dy[cl], dmin
            else:
                k, cost, second = m, 0.0, e1
        # the new price: the bidder indifferent between this class and its next one, plus eps
        # (never below the old price + eps: rounding of cost + price - cost)
        pnew = max(second - cost, _cls_min(k, cptr, heap, price)) + eps
        old = _take(u, k, pnew, cptr, heap, price, owner, assign)
        if k < m:
            _tree_update(k, nodemin, leaf_of, parent, left, right, start, end, perm, cptr, heap, price)
        if old >= 0:
            tail = head + count
            queue[tail if tail < npers else tail - npers] = old
            count += 1
        bids += 1
    if count > 0:  # the persons still queued to the front, in their order
        rest = np.empty(count, queue.dtype)
        for t in range(count):
            rest[t] = queue[(head + t) % npers]
        queue[:count] = rest
    return bids, count


@njit(cache=True, nogil=True)
def _sweep(release, eps, x, y, dx, dy, p, q, pcls, n0, m0, cptr, heap, price, assign, owner, queue, ux, upy,
           nodemin, left, right, start, end, perm, bbox):
    """Every person's exact best value ``u_p`` at the class prices (a class's price: its cheapest
    copy's), and its *slack*: how far the cost of its object plus the price it paid exceeds its
    best value over the *other* classes.  Returns (upper, lower, scale, released).

    ``release=False`` (the bounds): ``upper`` the assignment's cost, ``lower`` the
    transportation problem's dual at those prices (sum_p u_p - sum_k count_k pi_k, feasible for
    every pair; every copy is held, so the sum goes person by person), ``scale`` the magnitudes
    added (for the rounding margin); ``ux`` / ``upy`` get u_p of the copies of each X class / of
    each Y class's projections (for :func:`_lifted_lower`).

    ``release=True``: the persons whose slack exceeds ``eps`` give their objects back and are
    queued (``released`` of them).  The others are eps-happy at the class prices and stay so while
    the other classes' prices rise (Bertsekas' eps-complementary slackness), so the phase ends as
    one from an empty assignment would, with far fewer bids.  A freed copy is priced down to its
    class's cheapest (no class price changes, so no value does, during this pass either): the
    next bid for the class takes it instead of evicting a holder of a cheaper copy, which would
    start a chain of evictions until the class's prices had climbed to the freed copy's.  (The
    slack is computed here again rather than kept from the bounds: 8 B a person less.)"""
    m = y.shape[0]
    stack = np.empty(left.shape[0] + 1, np.int64)
    slb = np.empty(left.shape[0] + 1, np.float64)
    dmin = _cls_min(m, cptr, heap, price)
    upper = 0.0
    lower = 0.0
    scale = 0.0
    count = 0
    last = -1
    ub = v1 = v2 = 0.0
    j1 = -1
    for u in range(pcls.shape[0]):
        cl = pcls[u]
        c = assign[u]
        k = _copy_class(c, cptr, m0)
        if u < n0:
            if cl != last:  # the copies of one class are consecutive persons
                v1, j1, v2 = _tree_best2(x[cl, 0], x[cl, 1], y, p, q, nodemin, left, right, start, end,
                                         perm, bbox, cptr, heap, price, stack, slb)
                ub = min(v1, dx[cl] + dmin)
                ux[cl] = ub
                last = cl
            if k < m:
                cost = _powp(_ground(x[cl, 0] - y[k, 0], x[cl, 1] - y[k, 1], q), p)
                other = min(v2 if j1 == k else v1, dx[cl] + dmin)
            else:
                cost = dx[cl]
                other = v1
        else:
            e1 = dy[cl] + _cls_min(cl, cptr, heap, price)
            ub = min(e1, dmin)
            upy[cl] = ub
            cost, other = (dy[cl], dmin) if k < m else (0.0, e1)
        if release:
            if cost + price[c] - other > eps:
                owner[c] = -1
                assign[u] = -1
                price[c] = _cls_min(k, cptr, heap, price)
                queue[count] = u
                count += 1
        else:
            upper += cost
            pc = _cls_min(k, cptr, heap, price)
            lower += ub - pc
            scale += abs(ub) + pc
    if count > 0:
        for k in range(m + 1):  # heapify every class again (bottom-up)
            for i in range((cptr[k + 1] - cptr[k]) // 2 - 1, -1, -1):
                _sift_down(k, i, cptr, heap, price)
    return upper, lower, scale, count


@njit(cache=True, nogil=True)
def _lifted_lower(x, y, dx, dy, p, q, pcls, n0, m0, assign, ycptr, a_cnt, b_cnt, ux, upy,
                  left, right, start, end, perm, bbox):
    """(lower, scale): the dual value at prices lowered to the c-transform of the persons' values
    ``ux`` / ``upy`` (one price per object class), restricted to the persons holding the class
    (and, for a Y class, its own projection).

    The auction's prices carry up to eps of slack per person, which the plain bound sums over
    millions of persons; the lowered prices give that slack back (on the 256^3 pair at eps 6.4e-4:
    gap 5.5e-2 -> 6.8e-4; the exact c-transform over all persons gives the same to 1e-8).
    *Any* prices give a valid bound once every person's value is its exact best at them (weak
    LP duality), so the restriction costs accuracy, never validity: the values are recomputed
    here exactly, with the KD-tree over Y at the new static prices."""
    m = y.shape[0]
    n = x.shape[0]
    piy = np.empty(m)
    for k in range(m):
        piy[k] = upy[k] - dy[k]
    pid = -np.inf  # the diagonal's price
    for u in range(pcls.shape[0]):
        c = assign[u]
        cl = pcls[u]
        if u < n0:
            if c < m0:
                k = _copy_class(c, ycptr, m0)
                v = ux[cl] - _powp(_ground(x[cl, 0] - y[k, 0], x[cl, 1] - y[k, 1], q), p)
                if v > piy[k]:
                    piy[k] = v
            else:
                pid = max(pid, ux[cl] - dx[cl])
        elif c >= m0:
            pid = max(pid, upy[cl])
    if pid == -np.inf:  # (the diagonal is held by someone whenever n0 >= 1)
        pid = 0.0
    # the static prices of Y as one-copy classes, for the KD-tree search
    cptr = np.arange(m + 1)
    heap = np.arange(m)
    nodemin = np.empty(left.shape[0])
    _tree_fill(nodemin, left, right, start, end, perm, cptr, heap, piy)
    stack = np.empty(left.shape[0] + 1, np.int64)
    slb = np.empty(left.shape[0] + 1, np.float64)
    lower = 0.0
    scale = 0.0
    for i in range(n):  # sum_i a_i (w_i - pid) + sum_j b_j (w_j - piy_j), as sum_i a_i = n0
        v1, _, _ = _tree_best2(x[i, 0], x[i, 1], y, p, q, nodemin, left, right, start, end, perm, bbox,
                               cptr, heap, piy, stack, slb)
        w = min(v1, dx[i] + pid)
        lower += a_cnt[i] * (w - pid)
        scale += a_cnt[i] * (abs(w) + abs(pid))
    for k in range(m):
        w = min(dy[k] + piy[k], pid)
        lower += b_cnt[k] * (w - piy[k])
        scale += b_cnt[k] * (abs(w) + abs(piy[k]))
    return lower, scale


@njit(cache=True, nogil=True)
def _expand(assign, n0, m0, xo, yo, match_x, match_y):
    """The matching of the original points: person u < n0 is the original point xo[u], Y copy c
    the original point yo[c] (copies of a class are consecutive in both; an empty xo / yo: the
    points in their own order)."""
    for u in range(n0):
        c = assign[u]
        if c < m0:
            i = xo[u] if xo.shape[0] > 0 else u
            j = yo[c] if yo.shape[0] > 0 else c
            match_x[i] = j
            match_y[j] = i


# ----------------------------------------------------------------------------- the driver


def _gap_closed(upper, lower, p, tolerance):
    """Whether W = upper ** (1/p) is within ``tolerance`` (relative) of every W >= lower ** (1/p)."""
    return upper <= 0.0 or (lower > 0.0 and upper <= lower * (1.0 + tolerance) ** p)


def _classes(x):
    """(the distinct points of x in lexicographic order, the rows of x grouped by point (int32),
    the copies of each (int32)).  Where every point is distinct: x itself in its own order and an
    empty order (no copy of the points and no order kept: 20 B a point, 92 MB at 512^3)."""
    order = np.lexsort((x[:, 1], x[:, 0])).astype(np.int32)
    xs = x[order]
    new = np.ones(len(x), np.bool_)
    new[1:] = (xs[1:, 0] != xs[:-1, 0]) | (xs[1:, 1] != xs[:-1, 1])
    if new.all():
        del xs, order
        return np.ascontiguousarray(x), np.empty(0, np.int32), np.ones(len(x), np.int32)
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(x))).astype(np.int32)
    return np.ascontiguousarray(xs[starts]), order, counts


class _Auction:
    """The classes, copies, prices and search structures of one solve (indices int32: 4 B a
    person and a copy for each of assign, owner, queue, heap, the persons' classes; the copies'
    classes by binary search)."""

    def __init__(self, x, y, p, q):
        self.n0, self.m0 = len(x), len(y)
        if self.n0 + self.m0 >= 2**31 - 1:
            raise InsufficientMemoryError(
                f"diagrams of {self.n0} and {self.m0} points are beyond the auction's 32-bit indices "
                "(2**31 persons); compare fewer points at a time (a sub-level set, a dimension)")
        self.x, self.xo, self.a_cnt = _classes(np.asarray(x, dtype=np.float64))
        self.y, self.yo, self.b_cnt = _classes(np.asarray(y, dtype=np.float64))
        self.p, self.q = float(p), float(q)
        n, m = len(self.x), len(self.y)
        self.dx = _diag_dist(self.x, q) ** p
        self.dy = _diag_dist(self.y, q) ** p
        i32 = np.int32
        # persons: the copies of the X classes, then those of the projections of the Y classes
        self.pcls = np.concatenate([np.repeat(np.arange(n, dtype=i32), self.a_cnt),
                                    np.repeat(np.arange(m, dtype=i32), self.b_cnt)])
        # object copies: the Y classes (0..m0-1), then the diagonal, one class of n0 copies
        self.cptr = np.concatenate([[0], np.cumsum(self.b_cnt), [self.m0 + self.n0]]).astype(np.int64)
        self.heap = np.arange(self.m0 + self.n0, dtype=i32)
        self.price = np.zeros(self.m0 + self.n0)
        self.owner = np.full(self.m0 + self.n0, -1, i32)
        self.assign = np.full(len(self.pcls), -1, i32)
        # the unassigned persons (all at first), then those released between phases
        self.queue = np.arange(len(self.pcls), dtype=i32)
        self.nqueue = len(self.pcls)
        self.ux = np.zeros(n)
        self.upy = np.zeros(m)
        perm, start, end, left, right, bbox = _kdtree_build(self.y, _LEAF)
        self.tree = (left, right, start, end, perm, bbox)
        self.parent, self.leaf_of = _tree_links(left, right, start, end, perm, m)
        self.nodemin = np.empty(len(left))
        _tree_fill(self.nodemin, left, right, start, end, perm, self.cptr, self.heap, self.price)

    def phase(self, eps, budget=2**62):
        """One auction phase at ``eps`` (at most ``budget`` bids; ``nqueue`` persons are left):
        the persons queued (at first all, then those not eps-happy since the last bounds) bid."""
        left, right, start, end, perm, bbox = self.tree
        bids, self.nqueue = _auction_phase(eps, self.x, self.y, self.dx, self.dy, self.p, self.q, self.pcls,
                                           self.n0, self.cptr, self.heap, self.price, self.owner, self.assign,
                                           self.queue, self.nqueue, self.nodemin, self.leaf_of, self.parent,
                                           left, right, start, end, perm, bbox, budget)
        return bids

    def release(self, eps):
        """Queue the persons that are not eps-happy (see :func:`_sweep`)."""
        left, right, start, end, perm, bbox = self.tree
        self.nqueue = _sweep(True, eps, self.x, self.y, self.dx, self.dy, self.p, self.q, self.pcls, self.n0,
                             self.m0, self.cptr, self.heap, self.price, self.assign, self.owner, self.queue,
                             self.ux, self.upy, self.nodemin, left, right, start, end, perm, bbox)[3]
        return self.nqueue

    def bounds(self):
        """(upper, lower) of W_p^p; lower lowered by a margin for the rounding of its sum."""
        left, right, start, end, perm, bbox = self.tree
        upper, lower, scale, _ = _sweep(False, 0.0, self.x, self.y, self.dx, self.dy, self.p, self.q, self.pcls,
                                        self.n0, self.m0, self.cptr, self.heap, self.price, self.assign,
                                        self.owner, self.queue, self.ux, self.upy, self.nodemin,
                                        left, right, start, end, perm, bbox)
        lifted, lscale = _lifted_lower(self.x, self.y, self.dx, self.dy, self.p, self.q, self.pcls, self.n0,
                                       self.m0, self.assign, self.cptr, self.a_cnt, self.b_cnt, self.ux,
                                       self.upy, left, right, start, end, perm, bbox)
        # recursive summation of N terms errs by at most (N + 1) u sum |terms|; each term (a cost
        # plus a price, less a price) by a few more units of rounding u
        unit = (len(self.pcls) + 8) * np.finfo(float).eps
        lower = max(lower - unit * scale, lifted - unit * lscale)
        return upper, min(lower, upper)

    def free(self):
        """Drop what the matching does not need (before it is built: a lower peak)."""
        self.pcls = self.heap = self.price = self.owner = self.queue = None

    def matching(self):
        match_x = np.full(self.n0, -1, np.int64)
        match_y = np.full(self.m0, -1, np.int64)
        _expand(self.assign, self.n0, self.m0, self.xo, self.yo, match_x, match_y)
        return match_x, match_y


def _first_eps(auc, top):
    """eps of the first phase: _EPS_START times the mean cost per person of matching everything
    to the diagonal (an upper bound of W_p^p), at most hera's largest cost / 4.

    hera's start sets eps by the few longest bars, far above the scale of the answer, and the
    large early prices spread the copies of a class apart for the later phases to undo (the
    256^3 pair, W2: three phases of 21 s out of 35 s above eps 1e-3, with upper bounds up to 6x
    the answer).  From zero prices at a small eps nearly every person's first bid is final on
    diagrams this close (256^3: one phase of 1.2-1.3 M bids for 1.05 M persons, certified
    within 1e-3); on others the first phase's budget (_WAR_BIDS) raises eps instead."""
    per_person = (auc.a_cnt @ auc.dx + auc.b_cnt @ auc.dy) / (auc.n0 + auc.m0)
    # (never below 1e-12 of the largest cost: a price plus eps must differ from the price)
    return max(min(top / 4.0, _EPS_START * per_person), 1e-12 * top)


def _next_eps(eps, upper, lower, p, tolerance):
    """eps of the next phase: divided by 5 (hera's ratio) while the gap is far from closed, by
    less once the relative gap of W_p^p is within a few times the one asked (the gap follows
    eps about linearly), so that the last phase stops near the tolerance instead of far below it
    at the price of a full phase more."""
    want = (1.0 + tolerance) ** p - 1.0
    have = upper / lower - 1.0 if lower > 0.0 else np.inf
    return eps / min(_EPS_RATIO, max(_EPS_MIN_RATIO, have / (_EPS_AIM * want)))


def auction_wasserstein(x, y, p, q, tolerance, progress=None, max_phases=40):
    """A W_p^p matching of finite diagrams x (n, 2), y (m, 2) (n, m >= 1) certified within the
    relative gap ``tolerance`` of W_p (see the module docstring).

    Returns (match_x, match_y, stats): match_x[i] = j or -1 (diagonal), match_y[j] = i or -1, and
    a dict with ``lower`` / ``upper`` (bounds of W_p^p; the matching costs ``upper``),
    ``phases``, ``bids``, ``eps``, ``unique`` and ``optimal`` (whether the bounds meet).
    ``progress(info)`` gets ``{"stage": "round", "round", "lower", "upper", "violations": None}``
    after each phase.  Stops after ``max_phases`` phases or once eps falls below the rounding of
    the costs even when the gap is not closed (the bounds say so).
    """
    auc = _Auction(x, y, p, q)
    top = float(max(auc.dx.max(), auc.dy.max(), np.finfo(float).tiny))
    eps = _first_eps(auc, top)
    bids = phases = 0
    upper = lower = np.inf
    # the first phase starts at a small eps (see _first_eps); should it turn into a price war (more
    # than _WAR_BIDS bids a person), it goes on at a larger eps, which keeps every person's eps-CS
    # (and without a budget from hera's start on)
    budget = max(1, int(_WAR_BIDS * len(auc.pcls)))
    while True:
        phases += 1
        bids += auc.phase(eps, budget if phases == 1 and eps < top / 4.0 else 2**62)
        while auc.nqueue > 0:
            eps *= _EPS_RATIO
            bids += auc.phase(eps, budget if eps < top / 4.0 else 2**62)
        upper, lower = auc.bounds()
        if progress is not None:
            progress({"stage": "round", "round": phases, "lower": lower, "upper": upper, "violations": None})
        if _gap_closed(upper, lower, p, tolerance) or phases >= max_phases or eps < 1e-15 * top:
            break
        eps = _next_eps(eps, upper, lower, p, tolerance)
        auc.release(eps)
    auc.free()
    match_x, match_y = auc.matching()
    stats = {"lower": lower, "upper": upper, "phases": phases, "bids": bids, "eps": eps,
             "unique": (len(auc.x), len(auc.y)), "optimal": lower >= upper}
    return match_x, match_y, stats

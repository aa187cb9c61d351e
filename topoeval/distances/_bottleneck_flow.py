"""Threshold tests of the exact bottleneck distance on classes of identical points (max flow).

A heavily quantised diagram holds a few hundred distinct points with thousands of copies each;
a point of the other diagram then sees thousands of candidate partners, one per copy.  Here
identical points are merged into classes with multiplicities (on both sides) and a threshold
``t`` is tested as a capacitated matching, a max flow on the network

    S -> x class a (capacity m_a) -> y class b (pairs within t) -> T (capacity m_b)
    S -> DY (|Y|) -> light y classes b (m_b);  light x classes a (m_a) -> DX (|X|) -> T;  DY -> DX

where DY serves the y copies matched to the diagonal, DX the x copies, and DY -> DX carries one
unit per matched pair (the diagonal-diagonal block of the usual augmented graph, collapsed to
one arc).  ``t`` is feasible when the flow saturates every source arc (|X| + |Y|): then every
heavy copy (farther than ``t`` from the diagonal, so without a diagonal arc) is matched within
``t``, and a class's copies may split between partners and the diagonal.  Pairs of two light
classes are never needed; light classes without pairs go to the diagonal and stay out.

The flow is Dinic's (:func:`class_threshold_flow`): breadth-first levels from the source arcs
with room, then a blocking flow by depth-first search with current-arc pointers, on the
residual arcs listed implicitly by :func:`_arc` (pair arcs forward CSR by x class, backward by
y class; the two diagonal hubs), started from the flow of a nearby threshold.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._bottleneck import _graph_vertices

__all__: list[str] = []

_INF = np.int64(1) << np.int64(62)


@njit(cache=True, nogil=True)
def _arc(u, k, na, nb, ipa, arcb, ipb, reva, revk, fl, ga, hb, ma, mb, lighta, la, lb, fdd):
    """Arc ``k`` of node ``u`` in the residual network: ``(head, residual)``, head -1 past the
    last arc.  Nodes: x classes ``[0, na)``, y classes ``na + [0, nb)``, DY ``na + nb``, DX next.
    Arcs of an x class: its pairs, then DX (light only); of a y class: its pairs backwards
    (residual = their flow), then DY backwards; of DY: the light y classes, then DX; of DX:
    the light x classes backwards, then DY backwards."""
    dy = na + nb
    if u < na:
        s = ipa[u]
        d = ipa[u + 1] - s
        if k < d:
            return np.int64(na + arcb[s + k]), _INF
        if k == d and lighta[u]:
            return np.int64(dy + 1), np.int64(ma[u] - ga[u])
        return np.int64(-1), np.int64(0)
    if u < dy:
        b = u - na
        s = ipb[b]
        d = ipb[b + 1] - s
        if k < d:
            return np.int64(reva[s + k]), np.int64(fl[revk[s + k]])
        if k == d:
            return np.int64(dy), np.int64(hb[b])
        return np.int64(-1), np.int64(0)
    if u == dy:
        if k < len(lb):
            b = lb[k]
            return np.int64(na + b), np.int64(mb[b] - hb[b])
        if k == len(lb):
            return np.int64(dy + 1), np.int64(_INF - fdd[0])
        return np.int64(-1), np.int64(0)
    if k < len(la):
        a = la[k]
        return np.int64(a), np.int64(ga[a])
    if k == len(la):
        return np.int64(dy), np.int64(fdd[0])
    return np.int64(-1), np.int64(0)


@njit(cache=True, nogil=True)
def _push(u, k, d, na, nb, ipa, ipb, revk, fl, ga, hb, la, lb, fdd):
    """Send ``d`` along arc ``k`` of node ``u`` (see :func:`_arc`)."""
    dy = na + nb
    if u < na:
        s = ipa[u]
        if k < ipa[u + 1] - s:
            fl[s + k] += d
        else:
            ga[u] += d
    elif u < dy:
        b = u - na
        s = ipb[b]
        if k < ipb[b + 1] - s:
            fl[revk[s + k]] -= d
        else:
            hb[b] -= d
    elif u == dy:
        if k < len(lb):
            hb[lb[k]] += d
        else:
            fdd[0] += d
    elif k < len(la):
        ga[la[k]] -= d
    else:
        fdd[0] -= d


@njit(cache=True, nogil=True)
def _dinic(na, nb, ipa, arcb, ipb, reva, revk, fl, ga, hb, ma, mb, lighta, la, lb, outa, inb, tot):
    """Max flow from the flow given (modified in place).  ``tot``: [fdd, flow out of S into DY,
    flow from DX into T, |X|, |Y|].  Returns the flow value."""
    dy = na + nb
    nn = dy + 2
    mx, my = tot[3], tot[4]
    fdd = tot[0:1]
    total = np.int64(tot[1])
    for a in range(na):
        total += outa[a]
    unset = np.int64(-1)
    dead = np.int64(-2)
    level = np.empty(nn, dtype=np.int64)
    queue = np.empty(nn, dtype=np.int64)
    cur = np.empty(nn, dtype=np.int64)
    nodes = np.empty(nn + 1, dtype=np.int64)
    resid = np.empty(nn + 1, dtype=np.int64)
    while total < mx + my:
        # levels from the source arcs with room, up to the first level holding a sink arc with room
        tail = 0
        for u in range(nn):
            level[u] = unset
        for a in range(na):
            if ma[a] > outa[a]:
                level[a] = 0
                queue[tail] = a
                tail += 1
        if my > tot[1]:
            level[dy] = 0
            queue[tail] = dy
            tail += 1
        limit = np.iinfo(np.int64).max
        head = 0
        while head < tail:
            u = queue[head]
            head += 1
            if level[u] >= limit:
                continue
            k = 0
            while True:
                v, res = _arc(u, k, na, nb, ipa, arcb, ipb, reva, revk, fl, ga, hb, ma, mb, lighta, la, lb, fdd)
                if v < 0:
                    break
                k += 1
                if res > 0 and level[v] == unset:
                    level[v] = level[u] + 1
                    queue[tail] = v
                    tail += 1
                    if limit == np.iinfo(np.int64).max:
                        if (na <= v < dy and mb[v - na] > inb[v - na]) or (v == dy + 1 and mx > tot[2]):
                            limit = level[v]
        if limit == np.iinfo(np.int64).max:
            return total
        # blocking flow: depth-first from every source, current arcs kept, dead ends marked
        for u in range(nn):
            cur[u] = 0
        for i in range(tail):
            s = queue[i]
            if level[s] != 0:
                continue
            while True:
                room = ma[s] - outa[s] if s < na else my - tot[1]
                if room <= 0 or level[s] != 0:
                    break
                nodes[0] = s
                resid[0] = room
                top = 0
                while top >= 0:
                    u = nodes[top]
                    if level[u] == limit:
                        if u < dy:
                            sink = mb[u - na] - inb[u - na] if u >= na else np.int64(0)
                        else:
                            sink = mx - tot[2] if u == dy + 1 else np.int64(0)
                        if sink <= 0:
                            level[u] = dead
                            top -= 1
                            cur[nodes[top]] += 1
                            continue
                        d = sink
                        for j in range(top + 1):
                            d = min(d, resid[j])
                        for j in range(top):
                            _push(nodes[j], cur[nodes[j]], d, na, nb, ipa, ipb, revk, fl, ga, hb, la, lb, fdd)
                        if s < na:
                            outa[s] += d
                        else:
                            tot[1] += d
                        if u < dy:
                            inb[u - na] += d
                        else:
                            tot[2] += d
                        total += d
                        first = -1
                        for j in range(top + 1):
                            resid[j] -= d
                            if resid[j] == 0 and first < 0:
                                first = j
                        if first == 0:
                            top = -1  # the source is full
                        elif first > 0:
                            top = first - 1  # back to the tail of the first saturated arc
                            cur[nodes[top]] += 1
                        else:  # the sink arc is full: u is no longer an end
                            level[u] = dead
                            top -= 1
                            cur[nodes[top]] += 1
                        continue
                    found = False
                    while True:
                        v, res = _arc(u, cur[u], na, nb, ipa, arcb, ipb, reva, revk, fl, ga, hb, ma, mb, lighta,
                                      la, lb, fdd)
                        if v < 0:
                            break
                        if res > 0 and level[v] == level[u] + 1:
                            found = True
                            break
                        cur[u] += 1
                    if found:
                        top += 1
                        nodes[top] = v
                        resid[top] = res
                    else:
                        level[u] = dead
                        top -= 1
                        if top >= 0:
                            cur[nodes[top]] += 1
    return total


@njit(cache=True, nogil=True)
def class_threshold_flow(ia, jb, c, px, py, mx, my, t, seed):
    """Whether threshold ``t`` is feasible for the bottleneck distance of two diagrams given as
    classes of identical points, by a max flow.

    ``ia``, ``jb``, ``c`` (k,): pairs of x classes and y classes with their distances, holding at
    least every pair within ``t`` with an endpoint farther than ``t`` from the diagonal (others
    are skipped); ``px``, ``py``: the classes' diagonal distances, ``mx``, ``my`` their
    multiplicities; ``seed`` (k,): a flow on the pairs at a nearby threshold (zeros: none), of
    which the pairs still usable at ``t`` are kept.  Returns ``(feasible, flow)``, ``flow`` (k,)
    the copies sent along each pair (a max flow when not feasible; 0 on skipped pairs).
    """
    k = len(ia)
    nx = len(px)
    ny = len(py)
    flow = np.zeros(k, dtype=np.int64)
    keep = np.zeros(k, dtype=np.bool_)
    deg_x = np.zeros(nx, dtype=np.int64)
    deg_y = np.zeros(ny, dtype=np.int64)
    kept = 0
    for e in range(k):
        if c[e] <= t and (px[ia[e]] > t or py[jb[e]] > t):
            keep[e] = True
            deg_x[ia[e]] += 1
            deg_y[jb[e]] += 1
            kept += 1
    ok_x, lx, rx, na = _graph_vertices(px, deg_x, t)
    ok_y, ly, ry, nb = _graph_vertices(py, deg_y, t)
    if not (ok_x and ok_y):
        for e in range(k):
            if keep[e]:
                flow[e] = seed[e]
        return False, flow  # a heavy class with no partner
    # pair arcs: forward CSR by x class (arcb: y class, arce: the pair), backward CSR by y class
    ipa = np.zeros(na + 1, dtype=np.int64)
    ipb = np.zeros(nb + 1, dtype=np.int64)
    for a in range(na):
        ipa[a + 1] = ipa[a] + deg_x[rx[a]]
    for b in range(nb):
        ipb[b + 1] = ipb[b] + deg_y[ry[b]]
    arcb = np.empty(kept, dtype=np.int32)
    arce = np.empty(kept, dtype=np.int64)
    fl = np.empty(kept, dtype=np.int64)
    pos = ipa[:-1].copy()
    for e in range(k):
        if keep[e]:
            a = lx[ia[e]]
            arcb[pos[a]] = ly[jb[e]]
            arce[pos[a]] = e
            fl[pos[a]] = seed[e]
            pos[a] += 1
    reva = np.empty(kept, dtype=np.int32)
    revk = np.empty(kept, dtype=np.int64)
    posb = ipb[:-1].copy()
    for a in range(na):
        for r in range(ipa[a], ipa[a + 1]):
            b = arcb[r]
            reva[posb[b]] = a
            revk[posb[b]] = r
            posb[b] += 1
    # the seed completed to a flow: light classes fully served, the rest through DY -> DX
    ma = np.empty(na, dtype=np.int64)
    mb = np.empty(nb, dtype=np.int64)
    lighta = np.empty(na, dtype=np.bool_)
    outa = np.zeros(na, dtype=np.int64)
    inb = np.zeros(nb, dtype=np.int64)
    ga = np.zeros(na, dtype=np.int64)
    hb = np.zeros(nb, dtype=np.int64)
    n_la = 0
    n_lb = 0
    for a in range(na):
        ma[a] = mx[rx[a]]
        lighta[a] = px[rx[a]] <= t
        n_la += lighta[a]
        for r in range(ipa[a], ipa[a + 1]):
            outa[a] += fl[r]
            inb[arcb[r]] += fl[r]
    for b in range(nb):
        mb[b] = my[ry[b]]
    la = np.empty(n_la, dtype=np.int64)
    lb = np.empty(n_lb + nb, dtype=np.int64)
    n_la = 0
    tot_x = np.int64(0)
    sum_g = np.int64(0)
    for a in range(na):
        tot_x += ma[a]
        if lighta[a]:
            la[n_la] = a
            n_la += 1
            ga[a] = ma[a] - outa[a]
            outa[a] = ma[a]
            sum_g += ga[a]
    tot_y = np.int64(0)
    sum_h = np.int64(0)
    for b in range(nb):
        tot_y += mb[b]
        if py[ry[b]] <= t:
            lb[n_lb] = b
            n_lb += 1
            hb[b] = mb[b] - inb[b]
            inb[b] = mb[b]
            sum_h += hb[b]
    lb = lb[:n_lb]
    f0 = min(tot_y - sum_h, tot_x - sum_g)
    tot = np.array([f0, sum_h + f0, sum_g + f0, tot_x, tot_y], dtype=np.int64)
    value = _dinic(na, nb, ipa, arcb, ipb, reva, revk, fl, ga, hb, ma, mb, lighta, la, lb, outa, inb, tot)
    for r in range(kept):
        flow[arce[r]] = fl[r]
    return value == tot_x + tot_y, flow


@njit(cache=True, nogil=True)
def expand_matching(ia, jb, flow, order_x, start_x, order_y, start_y):
    """Point matchings from a class flow: the copies of x class ``a`` are ``order_x[start_x[a]:
    start_x[a + 1]]`` (original indices), each pair's flow matches that many copies of its two
    classes, in order.  Returns ``(match_x, match_y)``, -1 for the diagonal."""
    match_x = np.full(len(order_x), -1, dtype=np.int64)
    match_y = np.full(len(order_y), -1, dtype=np.int64)
    next_x = start_x[:-1].copy()
    next_y = start_y[:-1].copy()
    for e in range(len(ia)):
        for _ in range(flow[e]):
            i = order_x[next_x[ia[e]]]
            j = order_y[next_y[jb[e]]]
            next_x[ia[e]] += 1
            next_y[jb[e]] += 1
            match_x[i] = j
            match_y[j] = i
    return match_x, match_y

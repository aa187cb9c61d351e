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

x classes with the same partners and the same lightness are one node of the network
(:func:`_merge_alike`; their copies can trade places in any flow): a field's millions of
distinct points beside a copy quantised to 419 points fall into about 430 such groups, so the
flow itself is small and a test costs a few passes over the pairs.  The flow is Dinic's
(:func:`_max_flow`): breadth-first levels from the source arcs with room, then a blocking flow
by depth-first search with current-arc pointers, on the residual arcs listed implicitly by
:func:`_arc` (pair arcs forward CSR by x node, backward by y node; the two diagonal hubs),
started from the flow of a nearby threshold; the groups' flows are then shared out among their
members (:func:`_spread`).
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
def _mix(v):
    """splitmix64's finaliser: a well-spread 64-bit key of ``v`` (uint64 arithmetic wraps)."""
    z = np.uint64(v) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def _merge_alike(na, nb, ipa, arcb, fl, ma, lighta):
    """x nodes with the same y partners and the same lightness merged (their copies can swap
    places in any flow): most of the millions of x points of a field beside a quantised copy
    share a handful of partner sets.  Grouped by an order-free key of the partner set, each
    member checked against its group's first member (a key collision starts a group of its own).
    Returns (number of groups, the group's members ``order[gs[g]:gs[g + 1]]``, group CSR of arcs
    ``sipa``/``sarcb``, summed flows ``sfl``, multiplicities ``sm``, lightness ``sl``)."""
    key = np.empty(na, dtype=np.uint64)
    for a in range(na):
        h = _mix(np.uint64(ipa[a + 1] - ipa[a]) * np.uint64(2) + np.uint64(lighta[a]))
        for r in range(ipa[a], ipa[a + 1]):
            h += _mix(np.uint64(arcb[r]) + np.uint64(1))
        key[a] = h
    order = np.argsort(key)
    stamp = np.full(nb, -1, dtype=np.int64)
    slot = np.empty(nb, dtype=np.int64)
    gs = np.empty(na + 1, dtype=np.int64)
    group = np.empty(na, dtype=np.int64)  # group of each sorted position
    sipa = np.zeros(na + 1, dtype=np.int64)
    ng = 0
    rep = -1
    for p in range(na):
        a = order[p]
        same = False
        deg = ipa[a + 1] - ipa[a]
        if rep >= 0 and key[a] == key[rep] and lighta[a] == lighta[rep] and deg == ipa[rep + 1] - ipa[rep]:
            same = True
            for r in range(ipa[a], ipa[a + 1]):
                if stamp[arcb[r]] != ng - 1:
                    same = False
                    break
        if not same:
            rep = a
            gs[ng] = p
            for r in range(ipa[a], ipa[a + 1]):
                stamp[arcb[r]] = ng
            sipa[ng + 1] = sipa[ng] + ipa[a + 1] - ipa[a]
            ng += 1
        group[p] = ng - 1
    gs[ng] = na
    sarcb = np.empty(sipa[ng], dtype=np.int32)
    sfl = np.zeros(sipa[ng], dtype=np.int64)
    sm = np.zeros(ng, dtype=np.int64)
    sl = np.empty(ng, dtype=np.bool_)
    for g in range(ng):
        a = order[gs[g]]
        sl[g] = lighta[a]
        for r in range(ipa[a], ipa[a + 1]):
            sarcb[sipa[g] + r - ipa[a]] = arcb[r]
    for g in range(ng):
        for k in range(sipa[g], sipa[g + 1]):
            slot[sarcb[k]] = k
        for p in range(gs[g], gs[g + 1]):
            a = order[p]
            sm[g] += ma[a]
            for r in range(ipa[a], ipa[a + 1]):
                sfl[slot[arcb[r]]] += fl[r]
    return ng, order, gs, sipa, sarcb, sfl, sm, sl


@njit(cache=True, nogil=True)
def _spread(ng, order, gs, sipa, sarcb, sfl, ipa, arcb, fl, ma, nb):
    """The groups' flows shared out among their members (each member takes what its copies can,
    arc by arc), back onto the members' arcs ``fl``."""
    slot = np.empty(nb, dtype=np.int64)
    rem = sfl.copy()
    for g in range(ng):
        for k in range(sipa[g], sipa[g + 1]):
            slot[sarcb[k]] = k
        for p in range(gs[g], gs[g + 1]):
            a = order[p]
            room = ma[a]
            for r in range(ipa[a], ipa[a + 1]):
                k = slot[arcb[r]]
                take = min(rem[k], room)
                fl[r] = take
                rem[k] -= take
                room -= take


@njit(cache=True, nogil=True)
def _max_flow(na, nb, ipa, arcb, fl, ma, lighta, mb, lightb):
    """Max flow of the network of x nodes ``na`` (arcs ``ipa``/``arcb`` to y nodes, flows ``fl``
    modified in place, multiplicities ``ma``, lightness) and y nodes (``mb``, ``lightb``), started
    from ``fl`` completed to a flow (light nodes fully served, the rest through DY -> DX).
    Returns (flow value, |X| + |Y|)."""
    kept = ipa[na]
    ipb = np.zeros(nb + 1, dtype=np.int64)
    for r in range(kept):
        ipb[arcb[r] + 1] += 1
    for b in range(nb):
        ipb[b + 1] += ipb[b]
    reva = np.empty(kept, dtype=np.int32)
    revk = np.empty(kept, dtype=np.int64)
    posb = ipb[:-1].copy()
    for a in range(na):
        for r in range(ipa[a], ipa[a + 1]):
            b = arcb[r]
            reva[posb[b]] = a
            revk[posb[b]] = r
            posb[b] += 1
    outa = np.zeros(na, dtype=np.int64)
    inb = np.zeros(nb, dtype=np.int64)
    ga = np.zeros(na, dtype=np.int64)
    hb = np.zeros(nb, dtype=np.int64)
    n_la = 0
    for a in range(na):
        n_la += lighta[a]
        for r in range(ipa[a], ipa[a + 1]):
            outa[a] += fl[r]
            inb[arcb[r]] += fl[r]
    la, tot_x, sum_g = _light_slack(ma, lighta, outa, ga, n_la)
    lb, tot_y, sum_h = _light_slack(mb, lightb, inb, hb, nb)
    f0 = min(tot_y - sum_h, tot_x - sum_g)
    tot = np.array([f0, sum_h + f0, sum_g + f0, tot_x, tot_y], dtype=np.int64)
    value = _dinic(na, nb, ipa, arcb, ipb, reva, revk, fl, ga, hb, ma, mb, lighta, la, lb, outa, inb, tot)
    return value, tot_x + tot_y


@njit(cache=True, nogil=True, inline="always")
def _light_slack(m, light, routed, slack, n_light):
    """One side's light classes: their list, the copies each sends to the diagonal (``slack``:
    its multiplicity less what the seed routes to partners; ``routed`` then counts every copy),
    and the side's totals (all copies, diagonal copies).  Shared by the x and y sides."""
    lst = np.empty(n_light, dtype=np.int64)
    n = 0
    total = np.int64(0)
    to_diag = np.int64(0)
    for a in range(m.shape[0]):
        total += m[a]
        if light[a]:
            lst[n] = a
            n += 1
            slack[a] = m[a] - routed[a]
            routed[a] = m[a]
            to_diag += slack[a]
    return lst[:n], total, to_diag


@njit(cache=True, nogil=True)
def class_threshold_flow(ia, jb, c, px, py, mx, my, t, seed):
    """Whether threshold ``t`` is feasible for the bottleneck distance of two diagrams given as
    classes of identical points, by a max flow.

    ``ia``, ``jb``, ``c`` (k,): pairs of x classes and y classes with their distances, holding at
    least every pair within ``t`` with an endpoint farther than ``t`` from the diagonal (others
    are skipped); ``px``, ``py``: the classes' diagonal distances, ``mx``, ``my`` their
    multiplicities; ``seed`` (k,): a flow on the pairs at a nearby threshold (zeros: none), of
    which the pairs still usable at ``t`` are kept.  x classes with the same partners are solved
    as one node (:func:`_merge_alike`).  Returns ``(feasible, flow)``, ``flow`` (k,) the copies
    sent along each pair (a max flow when not feasible; 0 on skipped pairs).
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
    # pair arcs: CSR by x node (arcb: y node, arce: the pair, fl: its seeded flow)
    ipa = np.zeros(na + 1, dtype=np.int64)
    for a in range(na):
        ipa[a + 1] = ipa[a] + deg_x[rx[a]]
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
    ma = np.empty(na, dtype=np.int64)
    lighta = np.empty(na, dtype=np.bool_)
    for a in range(na):
        ma[a] = mx[rx[a]]
        lighta[a] = px[rx[a]] <= t
    mb = np.empty(nb, dtype=np.int64)
    lightb = np.empty(nb, dtype=np.bool_)
    for b in range(nb):
        mb[b] = my[ry[b]]
        lightb[b] = py[ry[b]] <= t
    ng, order, gs, sipa, sarcb, sfl, sm, sl = _merge_alike(na, nb, ipa, arcb, fl, ma, lighta)
    value, full = _max_flow(ng, nb, sipa, sarcb, sfl, sm, sl, mb, lightb)
    _spread(ng, order, gs, sipa, sarcb, sfl, ipa, arcb, fl, ma, nb)
    for r in range(kept):
        flow[arce[r]] = fl[r]
    return value == full, flow


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

"""Numba kernels of the block-decomposed persistence engine (private).

Two kernels, one rule set (see :mod:`topoeval.persistence.blocks` for why it is exact):

* :func:`block_union_find` - the union-find of one block over its cells in the *global*
  filtration order (the monolithic kernel's loop), which also keeps the block's *reduced
  graph*: a node for every boundary cell and for every minimum whose pair can still change,
  and at most ``#nodes - 1`` edges that keep the minimax connection key between them.
* :func:`reduce_graph` - Kruskal over the union of two regions' reduced graphs plus the
  edges across their interface; emits the pairs that became final and the merged region's
  reduced graph.

Reduced-graph conventions: a node is a cell (born = a minimum, unborn = a pure connector
whose component minimum is elsewhere); an edge ``(a, b, key)`` says that ``a`` and ``b``
are connected once the cell ``key`` has entered (its key is not below either end's).  A
component's *rep* is a node of the output graph (``-1``: the component touches no boundary,
so it is a whole component of the global filtration).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._kernels._persistence import _PREFETCH_AHEAD, _find, _grow, _prefetch, prefetch_neighbourhood, storage_coords



@njit(cache=True, nogil=True)
def block_union_find(order, n_active, parent, offsets, lmask, pf_offsets, mark, virtual, cap):
    """Union-find of one block (elder rule) that also builds its reduced graph.

    ``parent`` is the padded storage of the block (all ``-1``) except the frame cells that are
    cells of the array outside the block, which hold ``mark``: a cell with such a neighbour is
    a *boundary cell*.  Roots store ``-(slot + 2)`` (slot = birth rank inside the block) and
    are their component's birth cell, as in :func:`~topoeval._kernels._persistence.union_find_padded`.

    ``virtual >= 0`` (dimension d-1 by duality): the storage index of the cell outside the
    array, older than all, to which the frame cells outside the array are linked.  It takes
    birth slot 0 and is node 0 of the reduced graph (cell ``-1``), the one node every block
    shares (the glue identifies them).

    The neighbours are scanned as in the monolithic kernel (the elder root so far, no find for
    a neighbour that is or points at it); the components dying at ``p`` are collected, then the
    rules applied against ``A``, the eldest:

    * a younger ``R`` without rep dies at ``p`` for good (it is a whole global component, and
      ``A``'s global minimum is at most its local one): a final pair;
    * a younger ``R`` with a rep may be older than what lies outside: ``A``'s minimum becomes a
      born node (``A``'s rep) if it was none, and the edge ``(rep A, rep R, p)`` is kept;
    * a boundary ``p`` becomes a node (born if it has no active neighbour) tied to ``rep A``;
    * at the end a component without rep is a whole global component: an essential pair.

    ``cap``: the expected number of nodes (the outputs grow past it by doubling).

    Returns
    -------
    fb, fd : (m,) int64
        Storage indices of the birth and death cell of every final pair (``fd`` -1: essential).
    node_cell : (k,) int64, node_born : (k,) uint8
        The reduced graph's nodes.
    ea, eb : (e,) int64 node ids, ec : (e,) int64 storage index of each edge's key cell.
    """
    k = offsets.shape[1]
    npf = pf_offsets.shape[1]
    P = parent.shape[0]
    rep = np.empty(max(1024, n_active // 16), dtype=np.int64)  # per birth slot
    fb = np.empty(max(1024, n_active // 16), dtype=np.int64)
    fd = np.empty(fb.shape[0], dtype=np.int64)
    cap = max(cap, 64)
    node_cell = np.empty(cap, dtype=np.int64)
    node_born = np.empty(cap, dtype=np.uint8)
    ea = np.empty(cap, dtype=np.int64)
    eb = np.empty(cap, dtype=np.int64)
    ec = np.empty(cap, dtype=np.int64)
    nb = 0
    nf = 0
    nn = 0
    ne = 0
    if virtual >= 0:
        parent[virtual] = -2
        rep[0] = 0
        node_cell[0] = -1
        node_born[0] = 1
        nn = 1
        nb = 1
    act = np.empty(k, dtype=np.int64)
    dead = np.empty(k, dtype=np.int64)
    dslot = np.empty(k, dtype=np.int64)
    for r in range(n_active):
        if npf > 0 and r + _PREFETCH_AHEAD < n_active:
            prefetch_neighbourhood(parent, np.int64(order[r + _PREFETCH_AHEAD]), lmask, pf_offsets, P)
        p = np.int64(order[r])
        lp = p & lmask
        na = 0
        bnd = False
        for j in range(k):
            q = p + offsets[lp, j]
            v = parent[q]
            act[na] = q
            na += np.int64((v != -1) & (v != mark))
            bnd |= v == mark
        root = np.int64(-1)
        nd = 0
        for t in range(na):
            q = act[t]
            v = parent[q]
            if root >= 0 and (q == root or v == root):
                continue
            rq = q if v < 0 else _find(parent, q)
            if root < 0:
                root = rq
            elif rq != root:
                if parent[rq] < parent[root]:  # rq stores the larger slot: the younger
                    dead[nd] = rq
                    dslot[nd] = -parent[rq] - 2
                    parent[rq] = root
                else:
                    dead[nd] = root
                    dslot[nd] = -parent[root] - 2
                    parent[root] = rq
                    root = rq
                nd += 1
        if root < 0:
            if nb == rep.shape[0]:
                rep = _grow(rep, nb + 1)
            rep[nb] = -1
            if bnd:
                if nn == node_cell.shape[0]:
                    node_cell, node_born = _grow(node_cell, nn + 1), _grow(node_born, nn + 1)
                node_cell[nn] = p
                node_born[nn] = 1
                rep[nb] = nn
                nn += 1
            parent[p] = -(nb + 2)
            nb += 1
            continue
        parent[p] = root
        if nd == 0 and not bnd:
            continue
        # room for what this cell can add: 2 nodes, nd + 1 edges, nd final pairs
        if nn + 2 > node_cell.shape[0]:
            node_cell, node_born = _grow(node_cell, nn + 2), _grow(node_born, nn + 2)
        if ne + nd + 1 > ea.shape[0]:
            ea, eb, ec = _grow(ea, ne + nd + 1), _grow(eb, ne + nd + 1), _grow(ec, ne + nd + 1)
        if nf + nd > fb.shape[0]:
            fb, fd = _grow(fb, nf + nd), _grow(fd, nf + nd)
        sA = -parent[root] - 2
        for u in range(nd):
            sR = dslot[u]
            if rep[sR] >= 0:
                if rep[sA] < 0:
                    node_cell[nn] = root
                    node_born[nn] = 1
                    rep[sA] = nn
                    nn += 1
                ea[ne] = rep[sA]
                eb[ne] = rep[sR]
                ec[ne] = p
                ne += 1
            else:
                fb[nf] = dead[u]
                fd[nf] = p
                nf += 1
            rep[sR] = -2  # dead (its pair is final or its minimum is a born node)
        if bnd:
            if rep[sA] < 0:
                node_cell[nn] = root
                node_born[nn] = 1
                rep[sA] = nn
                nn += 1
            node_cell[nn] = p
            node_born[nn] = 0
            ea[ne] = rep[sA]
            eb[ne] = nn
            ec[ne] = p
            ne += 1
            nn += 1
    # never-dying components without boundary: essential pairs (in birth order)
    n_ess = 0
    for s in range(nb):
        n_ess += np.int64(rep[s] == -1)
    out_b = np.empty(nf + n_ess, dtype=np.int64)
    out_d = np.empty(nf + n_ess, dtype=np.int64)
    for j in range(nf):
        out_b[j] = fb[j]
        out_d[j] = fd[j]
    if n_ess > 0:
        # the root of slot s: scan the cells in order, roots are where parent == -(s+2)
        j = nf
        for r in range(n_active):
            p = np.int64(order[r])
            v = parent[p]
            if v <= -2 and v != mark and rep[-v - 2] == -1:
                out_b[j] = p
                out_d[j] = -1
                j += 1
    return (out_b, out_d, node_cell[:nn].copy(), node_born[:nn].copy(),
            ea[:ne].copy(), eb[:ne].copy(), ec[:ne].copy())


@njit(cache=True, nogil=True)
def storage_to_global(cells, src, bdims, nbricks, bshape, lo, gshape):
    """Global C-order flat indices and values of block storage indices (-1 -> -1, NaN).

    ``bdims``/``nbricks``: the block layout's brick shape and bricks per axis; ``bshape``: the
    block's shape, ``lo`` its first cell in the global (core) array of shape ``gshape``.
    """
    m = cells.shape[0]
    d = bshape.shape[0]
    bsize = np.int64(1)
    for i in range(d):
        bsize *= bdims[i]
    flats = np.empty(m, dtype=np.int64)
    vals = np.empty(m, dtype=np.float64)
    x = np.empty(d, dtype=np.int64)
    for j in range(m):
        s = cells[j]
        if s < 0:
            flats[j] = -1
            vals[j] = np.nan
            continue
        storage_coords(s, bsize, bdims, nbricks, x)
        lf = np.int64(0)
        gf = np.int64(0)
        for i in range(d):
            lf = lf * bshape[i] + x[i]
            gf = gf * gshape[i] + lo[i] + x[i]
        flats[j] = gf
        vals[j] = np.float64(src[lf])
    return flats, vals


@njit(cache=True, nogil=True)
def _older(kv, kf, a, b):
    """Is born node ``a`` older than ``b`` (-1 = no minimum, i.e. +inf)?"""
    if b < 0:
        return a >= 0
    if a < 0:
        return False
    return kv[a] < kv[b] or (kv[a] == kv[b] and kf[a] < kf[b])


@njit(cache=True, nogil=True)
def _uf_find(par, x):
    while par[x] != x:
        par[x] = par[par[x]]
        x = par[x]
    return x


@njit(cache=True, nogil=True)
def reduce_graph(kv, kf, born, outer, ea, eb):
    """Kruskal over a region's graph: final pairs and the reduced graph of its outer boundary.

    Parameters
    ----------
    kv, kf : (n,) float64, int64
        Node keys (signed value + 0.0, flat index): the filtration order of the node cells.
    born : (n,) uint8
        Born nodes (minima) carry their own key as component minimum; unborn ones none.
    outer : (n,) uint8
        Nodes on the region's outer boundary: they stay nodes of the output graph.
    ea, eb : (e,) int64
        Edge ends, the edges sorted by their key (ascending).

    Returns
    -------
    fb : (m,) int64 birth nodes of the final pairs; fe : (m,) int64 the index of the edge they
        die at (-1: essential).
    keep : (k,) int64 old ids of the output nodes; na, nb, ne : new edges (new node ids and the
        index of the old edge that gives their key).
    """
    n = kv.shape[0]
    par = np.arange(n)
    mn = np.full(n, -1, dtype=np.int64)
    rp = np.full(n, -1, dtype=np.int64)
    # every output is at most n long (distinct nodes; a forest; one pair per minimum): written
    # into preallocated arrays, never grown element by element
    keep = np.empty(n, dtype=np.int64)
    nk = 0
    for i in range(n):
        if born[i]:
            mn[i] = i
        if outer[i]:
            keep[nk] = i
            rp[i] = nk
            nk += 1
    fb = np.empty(n, dtype=np.int64)
    fe = np.empty(n, dtype=np.int64)
    nf = 0
    xa = np.empty(n, dtype=np.int64)
    xb = np.empty(n, dtype=np.int64)
    xe = np.empty(n, dtype=np.int64)
    nx = 0
    for j in range(ea.shape[0]):
        X = _uf_find(par, ea[j])
        Y = _uf_find(par, eb[j])
        if X == Y:
            continue
        if _older(kv, kf, mn[Y], mn[X]):
            X, Y = Y, X
        mx = mn[X]
        my = mn[Y]
        rx = rp[X]
        ry = rp[Y]
        if rx >= 0 and ry >= 0:
            xa[nx] = rx
            xb[nx] = ry
            xe[nx] = j
            nx += 1
        elif ry >= 0:
            if mx >= 0:
                keep[nk] = mx
                rx = nk
                nk += 1
                xa[nx] = rx
                xb[nx] = ry
                xe[nx] = j
                nx += 1
            else:
                rx = ry
        elif my >= 0:  # Y has no rep: it is a whole global component, dying here
            fb[nf] = my
            fe[nf] = j
            nf += 1
        par[Y] = X
        rp[X] = rx
    for i in range(n):
        if par[i] == i and rp[i] < 0 and mn[i] >= 0:
            fb[nf] = mn[i]
            fe[nf] = -1
            nf += 1
    return (fb[:nf].copy(), fe[:nf].copy(), keep[:nk].copy(),
            xa[:nx].copy(), xb[:nx].copy(), xe[:nx].copy())


@njit(cache=True, nogil=True)
def _sorted_by_key(kv, kf):
    """Permutation putting the cells with keys ``(kv, kf)`` (distinct) in filtration order.

    A natural merge sort: the interface nodes of a region come in a few ascending runs (a
    block's boundary nodes are made in filtration order; a merge keeps them in node order), so
    merging the runs pairwise is nearly linear.  Many short runs: two stable argsorts instead.
    """
    m = kv.shape[0]
    bounds = np.empty(m + 1, dtype=np.int64)
    nr = 0
    for i in range(m):
        if i == 0 or _before(kv[i], kf[i], kv[i - 1], kf[i - 1]):
            bounds[nr] = i
            nr += 1
    bounds[nr] = m
    if nr > 64 and nr > m // 64:
        by_flat = np.argsort(kf, kind="mergesort")
        return by_flat[np.argsort(kv[by_flat], kind="mergesort")]
    perm = np.arange(m)
    buf = np.empty(m, dtype=np.int64)
    while nr > 1:
        nn = 0
        for r in range(0, nr, 2):
            lo = bounds[r]
            if r + 1 == nr:  # an odd run out: copied
                for t in range(lo, m):
                    buf[t] = perm[t]
                bounds[nn] = lo
                nn += 1
                continue
            mid, hi = bounds[r + 1], bounds[r + 2]
            i, j, t = lo, mid, lo
            while i < mid and j < hi:
                a, b = perm[i], perm[j]
                if _before(kv[b], kf[b], kv[a], kf[a]):
                    buf[t] = b
                    j += 1
                else:
                    buf[t] = a
                    i += 1
                t += 1
            while i < mid:
                buf[t] = perm[i]
                i += 1
                t += 1
            while j < hi:
                buf[t] = perm[j]
                j += 1
                t += 1
            bounds[nn] = lo
            nn += 1
        bounds[nn] = m
        nr = nn
        perm, buf = buf, perm
    return perm


@njit(cache=True, nogil=True)
def _interface(flat, nl, axis, c, box_lo, box_hi, gshape):
    """Outer-face mask of the box, and the interface nodes: their ids, plane positions and
    coordinates in the plane ``x[axis] = c`` (left ones at ``c - 1``, right ones at ``c``).

    The cell outside the array (flat ``-1``, dimension d-1) is on no interface and on the outer
    boundary of every box but the whole array."""
    n = flat.shape[0]
    d = gshape.shape[0]
    outer = np.zeros(n, dtype=np.uint8)
    ids = np.empty(n, dtype=np.int64)
    x = np.empty(d, dtype=np.int64)
    part = False
    for j in range(d):
        part |= box_lo[j] > 0 or box_hi[j] < gshape[j]
    m = 0
    for i in range(n):
        f = flat[i]
        if f < 0:
            outer[i] = part
            continue
        for j in range(d - 1, -1, -1):
            q = f // gshape[j]
            x[j] = f - q * gshape[j]
            f = q
        o = False
        for j in range(d):
            o |= (box_lo[j] > 0 and x[j] == box_lo[j]) or (box_hi[j] < gshape[j] and x[j] == box_hi[j] - 1)
        outer[i] = o
        if x[axis] == (c - 1 if i < nl else c):
            ids[m] = i
            m += 1
    coords = np.empty((m, d), dtype=np.int64)
    for t in range(m):
        f = flat[ids[t]]
        for j in range(d - 1, -1, -1):
            q = f // gshape[j]
            coords[t, j] = 0 if j == axis else f - q * gshape[j] - box_lo[j]
            f = q
    return outer, ids[:m].copy(), coords


@njit(cache=True, nogil=True)
def cross_edges_sorted(kv, flat, nl, axis, c, box_lo, box_hi, gshape, full):
    """The edges between adjacent cells across the interface, already in key order.

    The interface nodes of both sides are visited in filtration order; a node emits an edge to
    every adjacent node across that came before it, keyed by itself (the later end).  Every
    adjacent pair is emitted once, and the edges come out sorted by key without sorting them.

    Returns
    -------
    outer : (n,) uint8 outer-face mask of the box ``[box_lo, box_hi)``; xa, xb : (x,) int64
        left and right node ids; xk : (x,) int64 the id of the key node.
    """
    d = gshape.shape[0]
    outer, ids, coords = _interface(flat, nl, axis, c, box_lo, box_hi, gshape)
    # the two sides' interface planes, padded by one cell on every axis but ``axis`` so that
    # a neighbour across is ``pos + offset`` without bounds checks
    ext = box_hi - box_lo + 2
    ext[axis] = 1
    psize = np.int64(1)
    for j in range(d):
        psize *= ext[j]
    planes = np.full((2, psize), -1, dtype=np.int64)  # left plane, right plane
    pos = np.empty(ids.shape[0], dtype=np.int64)
    for t in range(ids.shape[0]):
        p = np.int64(0)
        for j in range(d):
            p = p * ext[j] + (coords[t, j] + 1 if j != axis else 0)
        pos[t] = p
        planes[np.int64(ids[t] >= nl), p] = ids[t]
    nd = 1
    for j in range(d):
        if full and j != axis:
            nd *= 3
    offs = np.empty(nd, dtype=np.int64)
    for code in range(nd):
        rest = code
        o = np.int64(0)
        for j in range(d):
            dj = 0
            if full and j != axis:
                dj = rest % 3 - 1
                rest //= 3
            o = o * ext[j] + dj
        offs[code] = o
    order = _sorted_by_key(kv[ids], flat[ids])
    seen = np.zeros(flat.shape[0], dtype=np.uint8)
    cap = 4 * ids.shape[0] + nd
    xa = np.empty(cap, dtype=np.int64)
    xb = np.empty(cap, dtype=np.int64)
    xk = np.empty(cap, dtype=np.int64)
    nx = 0
    for t in order:
        u = ids[t]
        side = np.int64(u < nl)
        pu = pos[t]
        for code in range(nd):
            v = planes[side, pu + offs[code]]
            if v >= 0 and seen[v]:
                if nx == cap:  # grown here, not per element: no array returned per edge
                    cap *= 2
                    xa, xb, xk = _grow(xa, cap), _grow(xb, cap), _grow(xk, cap)
                xa[nx] = u if side else v
                xb[nx] = v if side else u
                xk[nx] = u
                nx += 1
        seen[u] = 1
    return outer, xa[:nx].copy(), xb[:nx].copy(), xk[:nx].copy()


@njit(cache=True, nogil=True)
def _before(ka, fa, kb, fb):
    return ka < kb or (ka == kb and fa < fb)


@njit(cache=True, nogil=True)
def merge_graphs(lg, rg, axis, c, box_lo, box_hi, gshape, full, sign):
    """One glue of two regions (see :func:`topoeval.persistence.glue.merge`), all in one kernel.

    ``lg``/``rg``: the regions' graphs as tuples ``(flat, val, born, ea, eb, eflat, eval)``
    with their edges in key order (as every block pass and merge emits them).  The cross edges
    come out of :func:`cross_edges_sorted` in key order, so the three edge lists are merged,
    not sorted.  Returns the final pairs ``(bval, bflat, dval, dflat)`` and the merged graph
    ``(flat, val, born, ea, eb, eflat, eval)``, its edges again in key order.
    """
    lflat, lval, lborn, lea, leb, leflat, leval = lg
    rflat, rval, rborn, rea, reb, reflat, reval = rg
    nl = lflat.shape[0]
    n = nl + rflat.shape[0]
    flat = np.concatenate((lflat, rflat))
    val = np.concatenate((lval, rval))
    born = np.concatenate((lborn, rborn))
    kv = sign * val + 0.0
    outer, xa, xb, xk = cross_edges_sorted(kv, flat, nl, axis, c, box_lo, box_hi, gshape, full)
    # dimension d-1: node 0 of each side is the one cell outside the array; the right one's
    # edges go to the left one, which it leaves as an isolated unborn node (dropped below)
    vr = np.int64(-1)
    if nl > 0 and n > nl and lflat[0] == -1 and rflat[0] == -1:
        vr = np.int64(nl)
        born[vr] = 0
        outer[vr] = 0
    nle, nre, nxe = lea.shape[0], rea.shape[0], xa.shape[0]
    E = nle + nre + nxe
    ea = np.empty(E, dtype=np.int64)
    eb = np.empty(E, dtype=np.int64)
    eflat = np.empty(E, dtype=np.int64)
    evals = np.empty(E, dtype=np.float64)
    i = j = k = 0
    inf = np.inf
    for e in range(E):
        # the next key of each list (exhausted: +inf); ties: left, right, cross
        ki = sign * leval[i] + 0.0 if i < nle else inf
        kj = sign * reval[j] + 0.0 if j < nre else inf
        kk = kv[xk[k]] if k < nxe else inf
        fi = leflat[i] if i < nle else -1
        fj = reflat[j] if j < nre else -1
        fk = flat[xk[k]] if k < nxe else -1
        if i < nle and (j >= nre or not _before(kj, fj, ki, fi)) and (k >= nxe or not _before(kk, fk, ki, fi)):
            ea[e], eb[e], eflat[e], evals[e] = lea[i], leb[i], fi, leval[i]
            i += 1
        elif j < nre and (k >= nxe or not _before(kk, fk, kj, fj)):
            ra, rb = rea[j] + nl, reb[j] + nl
            ea[e], eb[e], eflat[e], evals[e] = 0 if ra == vr else ra, 0 if rb == vr else rb, fj, reval[j]
            j += 1
        else:
            ea[e], eb[e], eflat[e], evals[e] = xa[k], xb[k], fk, val[xk[k]]
            k += 1
    fbn, fe, keep, na, nb, ne = reduce_graph(kv, flat, born, outer, ea, eb)
    m = fbn.shape[0]
    dflat = np.full(m, -1, dtype=np.int64)
    dval = np.full(m, np.nan)
    for t in range(m):
        if fe[t] >= 0:
            dflat[t] = eflat[fe[t]]
            dval[t] = evals[fe[t]]
    pairs = (val[fbn], flat[fbn], dval, dflat)
    graph = (flat[keep], val[keep], born[keep], na, nb, eflat[ne], evals[ne])
    return pairs, graph


@njit(cache=True, nogil=True)
def gather_pairs(pos, vals, flats):
    """The final pairs in the monolithic order: value order ``pos``, ties by flat index.

    ``vals``/``flats`` (2m,): one record per pair, (birth, death) interleaved, so that the
    gather in value order is one (prefetched) cache line per pair instead of four random reads.
    ``pos`` (m,): a stable sort of the pairs by birth value (ties in input order); runs of equal
    values are put in flat-index order here, which makes the order (value, flat index) of the
    monolithic engine.  Separate from :func:`unravel_pairs` so that the caller frees the
    records before the multi-indices are allocated (the peak of a diagram of 10^7 pairs).

    Returns births, deaths (m,) float64 and birth, death flat indices (m,) int64.
    """
    m = pos.shape[0]
    births = np.empty(m, dtype=np.float64)
    deaths = np.empty(m, dtype=np.float64)
    bf = np.empty(m, dtype=np.int64)
    df = np.empty(m, dtype=np.int64)
    for i in range(m):
        if i + 16 < m:
            _prefetch(vals, 2 * np.int64(pos[i + 16]))
            _prefetch(flats, 2 * np.int64(pos[i + 16]))
        r = 2 * np.int64(pos[i])
        births[i] = vals[r]
        deaths[i] = vals[r + 1]
        bf[i] = flats[r]
        df[i] = flats[r + 1]
    s = 0
    while s < m:  # runs of equal births: by flat index (distinct), deaths along
        e = s + 1
        while e < m and births[e] == births[s]:
            e += 1
        if e - s > 1:
            o = np.argsort(bf[s:e])
            rb, rd, rf = bf[s:e].copy(), deaths[s:e].copy(), df[s:e].copy()
            for t in range(e - s):
                bf[s + t] = rb[o[t]]
                deaths[s + t] = rd[o[t]]
                df[s + t] = rf[o[t]]
        s = e
    return births, deaths, bf, df


@njit(cache=True, nogil=True)
def unravel_pairs(bf, df, deaths, ess_value, core, keep_axes, ndim, flip):
    """Multi-indices of the pairs' cells (``deaths`` of essential pairs set to ``ess_value``).

    ``core``: the working array's shape; ``keep_axes`` (len(core),): the axis of the
    ``ndim``-axis output each core axis is (the others get index 0).  ``flip``: the working
    array is the input flipped on every axis (superlevel), so a coordinate ``x`` is
    ``core - 1 - x`` in the input.  Essential pairs (``df < 0``) get death index -1.

    Returns birth_index, death_index (m, ndim) int64.
    """
    m = bf.shape[0]
    d = core.shape[0]
    bidx = np.zeros((m, ndim), dtype=np.int64)
    didx = np.zeros((m, ndim), dtype=np.int64)
    for i in range(m):
        f = bf[i]
        for j in range(d - 1, -1, -1):
            q = f // core[j]
            x = f - q * core[j]
            bidx[i, keep_axes[j]] = core[j] - 1 - x if flip else x
            f = q
        f = df[i]
        if f < 0:
            deaths[i] = ess_value
            for j in range(ndim):
                didx[i, j] = -1
            continue
        for j in range(d - 1, -1, -1):
            q = f // core[j]
            x = f - q * core[j]
            didx[i, keep_axes[j]] = core[j] - 1 - x if flip else x
            f = q
    return bidx, didx


@njit(cache=True, nogil=True)
def take_pairs(perm, births, deaths, bidx, didx):
    """The pairs in the order ``perm`` (a permutation), copied: one pass, rows element-wise.
    About twice as fast as :func:`permute_pairs` for a scattered ``perm``, at the cost of a
    second copy of the pairs."""
    m = perm.shape[0]
    d = bidx.shape[1]
    ob = np.empty(m, dtype=np.float64)
    od = np.empty(m, dtype=np.float64)
    obi = np.empty((m, d), dtype=np.int64)
    odi = np.empty((m, d), dtype=np.int64)
    for i in range(m):
        r = perm[i]
        ob[i] = births[r]
        od[i] = deaths[r]
        for j in range(d):
            obi[i, j] = bidx[r, j]
            odi[i, j] = didx[r, j]
    return ob, od, obi, odi


@njit(cache=True, nogil=True)
def permute_pairs(perm, births, deaths, bidx, didx):
    """Put the pairs in the order ``perm`` (a permutation) in place: ``x[i] = x_old[perm[i]]``.

    Follows the cycles of ``perm``, marking the visited entries by complementing them (``perm`` is
    left as it was), so the only extra memory is one pair: a diagram of dimension d-1 of a 1024^3
    field is ~1.4 GB of pairs, and a permuted copy of them would double that.
    """
    m = perm.shape[0]
    d = bidx.shape[1]
    tbi = np.empty(d, dtype=np.int64)
    tdi = np.empty(d, dtype=np.int64)
    for start in range(m):
        if perm[start] < 0 or perm[start] == start:
            continue
        tb, td = births[start], deaths[start]
        for j in range(d):
            tbi[j] = bidx[start, j]
            tdi[j] = didx[start, j]
        i = start
        while True:
            r = perm[i]
            perm[i] = ~r
            if r == start:
                births[i], deaths[i] = tb, td
                for j in range(d):
                    bidx[i, j] = tbi[j]
                    didx[i, j] = tdi[j]
                break
            births[i], deaths[i] = births[r], deaths[r]
            for j in range(d):
                bidx[i, j] = bidx[r, j]
                didx[i, j] = didx[r, j]
            i = r
    for i in range(m):
        if perm[i] < 0:
            perm[i] = ~perm[i]

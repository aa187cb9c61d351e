"""The exact bottleneck distance of finite diagrams: threshold matchings and their search.

The value is one of the candidate values {pairwise distances} U {distances to the diagonal}.
A threshold ``t`` is feasible when the points farther than ``t`` from the diagonal ("heavy"
points) can all be matched within distance ``t``; light points may go to the diagonal.  With
the diagonal copies of the usual augmented graph, whose zero-cost diagonal-diagonal block is
replaced by the transposes of the point-point edges (enough: the transposes of any
point-point matching match the copies left over), that is a perfect matching, tested with
Hopcroft-Karp (:func:`bottleneck_threshold_matching`).  Pairs of two light points are never
needed.

Search (:func:`smallest_feasible`): the lower bound ``max over points of min(diagonal
distance, nearest-neighbour distance)`` first, then (large diagrams) an exponential search,
then a binary search over the exact candidate values, each matching started from the last.

Candidates: every pair for small diagrams (:func:`bottleneck_dense`, from a precomputed
distance matrix, no SciPy import), the pairs within the threshold listed by KD-trees for
large ones (:func:`bottleneck_finite`), a chunk of query points at a time, with a memory check
(:func:`_check_memory`) instead of SciPy's ``std::bad_alloc``.

Classes (:func:`_class_search`): when one diagram repeats its points (a quantised
reconstruction: 419 distinct points among 3.6 million), identical points are merged into
classes with multiplicities on both sides, the candidate pairs join classes (not copies), and a
threshold is tested by a max flow (:mod:`._bottleneck_flow`); the candidate values, and so the
value, are those of the point path.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._metric import _diag_dist, _pair_dist

__all__: list[str] = []


# ----------------------------------------------------------------------------- matching kernels


@njit(cache=True, nogil=True)
def hopcroft_karp(indptr, indices, n_right):
    """Maximum matching of a bipartite graph given as CSR rows (left vertices) of column indices.

    Returns ``match_left`` (-1 when unmatched).  Every phase finds a maximal set of
    shortest augmenting paths by a layered search that marks dead ends, so each
    vertex is expanded at most once per phase: ``O(E sqrt(V))``.  (SciPy's
    ``maximum_bipartite_matching`` does not mark dead ends and takes exponential
    time on layered graphs, scipy/scipy#26147: it never returned on the bottleneck
    graphs of 256 x 256 white noise.)
    """
    return _hopcroft_karp_from(indptr, indices, n_right, np.full(len(indptr) - 1, -1, dtype=np.int64))


@njit(cache=True, nogil=True)
def _hopcroft_karp_from(indptr, indices, n_right, match_l):
    """:func:`hopcroft_karp` starting from the matching ``match_l`` (modified in place)."""
    n_left = len(indptr) - 1
    unset = np.iinfo(np.int64).max
    match_r = np.full(n_right, -1, dtype=np.int64)
    for u in range(n_left):
        if match_l[u] >= 0:
            match_r[match_l[u]] = u
    for u in range(n_left):  # greedy start
        if match_l[u] >= 0:
            continue
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            if match_r[v] < 0:
                match_l[u] = v
                match_r[v] = u
                break
    dist = np.empty(n_left, dtype=np.int64)
    queue = np.empty(n_left, dtype=np.int64)
    edge = np.empty(n_left, dtype=np.int64)
    stack = np.empty(n_left, dtype=np.int64)
    while True:
        # BFS layers from the free left vertices up to the shortest augmenting length
        tail = 0
        for u in range(n_left):
            if match_l[u] < 0:
                dist[u] = 0
                queue[tail] = u
                tail += 1
            else:
                dist[u] = unset
        limit = unset
        head = 0
        while head < tail:
            u = queue[head]
            head += 1
            if dist[u] + 1 >= limit:
                continue
            for e in range(indptr[u], indptr[u + 1]):
                w = match_r[indices[e]]
                if w < 0:
                    limit = dist[u] + 1
                elif dist[w] == unset:
                    dist[w] = dist[u] + 1
                    queue[tail] = w
                    tail += 1
        if limit == unset:
            return match_l
        # layered DFS from every free left vertex; a vertex whose edges all fail is dead (unset)
        for u in range(n_left):
            edge[u] = indptr[u]
        for s in range(n_left):
            if match_l[s] >= 0 or dist[s] != 0:
                continue
            top = 0
            stack[0] = s
            while top >= 0:
                u = stack[top]
                pushed = False
                while edge[u] < indptr[u + 1]:
                    w = match_r[indices[edge[u]]]
                    if w < 0:
                        if dist[u] + 1 == limit:  # augment along the stack
                            for k in range(top + 1):
                                uu = stack[k]
                                vv = indices[edge[uu]]
                                match_l[uu] = vv
                                match_r[vv] = uu
                                dist[uu] = unset
                            top = -1
                            pushed = True
                            break
                    elif dist[w] != unset and dist[w] == dist[u] + 1:
                        top += 1
                        stack[top] = w
                        pushed = True
                        break
                    edge[u] += 1
                if not pushed:  # dead end: never expand u again in this phase
                    dist[u] = unset
                    top -= 1
                    if top >= 0:
                        edge[stack[top]] += 1


@njit(cache=True, nogil=True)
def _graph_vertices(pers, deg, t):
    """The points of one side in the threshold graph: heavy ones (``pers > t``) and light ones
    with a pair.  Returns (every heavy point has a pair, local index of each point or -1, the
    points by local index, how many)."""
    local = np.full(len(pers), -1, dtype=np.int64)
    points = np.empty(len(pers), dtype=np.int64)
    count = 0
    for i in range(len(pers)):
        if pers[i] > t or deg[i] > 0:
            if deg[i] == 0:
                return False, local, points, count
            local[i] = count
            points[count] = i
            count += 1
    return True, local, points, count


@njit(cache=True, nogil=True)
def bottleneck_threshold_matching(ii, jj, c, px, py, t, seed_x):
    """Whether threshold ``t`` is feasible for the bottleneck distance, from candidate pairs.

    ``ii``, ``jj``, ``c`` (k,): pairs of x and y with their distances, holding at least every
    pair within ``t`` with an endpoint farther than ``t`` from the diagonal (others are
    skipped).  The graph is the usual augmented one restricted to the vertices that matter:
    left = [points of x, diagonal copies of y], right = [points of y, diagonal copies of x];
    pair edges, their transposes between the copies, and light points to their own copy.
    ``t`` is feasible when it has a perfect matching.  ``seed_x`` (n,): pairs of a matching at
    a nearby threshold (-1 none) to start from; those still within ``t`` are kept, which saves
    most Hopcroft-Karp phases in a binary search.  Returns ``(feasible, match_x, match_y)``, -1
    for the diagonal (a maximum matching of the pairs when not feasible).
    """
    n = len(px)
    m = len(py)
    k = len(ii)
    match_x = np.full(n, -1, dtype=np.int64)
    match_y = np.full(m, -1, dtype=np.int64)
    keep = np.zeros(k, dtype=np.bool_)
    deg_x = np.zeros(n, dtype=np.int64)
    deg_y = np.zeros(m, dtype=np.int64)
    for e in range(k):
        i = ii[e]
        j = jj[e]
        if c[e] <= t and (px[i] > t or py[j] > t):
            keep[e] = True
            deg_x[i] += 1
            deg_y[j] += 1
    ok_x, lx, rx, nx = _graph_vertices(px, deg_x, t)
    ok_y, ly, ry, ny = _graph_vertices(py, deg_y, t)
    if not (ok_x and ok_y):
        return False, match_x, match_y  # a heavy point with no partner
    size = nx + ny
    # CSR by counting: row a < nx is x point rx[a], row nx + b the diagonal copy of y point ry[b]
    indptr = np.zeros(size + 1, dtype=np.int64)
    for a in range(nx):
        i = rx[a]
        indptr[a + 1] = deg_x[i] + (1 if px[i] <= t else 0)
    for b in range(ny):
        j = ry[b]
        indptr[nx + b + 1] = deg_y[j] + (1 if py[j] <= t else 0)
    for r in range(size):
        indptr[r + 1] += indptr[r]
    cursor = indptr[:-1].copy()
    indices = np.empty(indptr[size], dtype=np.int64)
    for e in range(k):
        if keep[e]:
            a = lx[ii[e]]
            b = ly[jj[e]]
            indices[cursor[a]] = b  # x point -> y point
            cursor[a] += 1
            indices[cursor[nx + b]] = ny + a  # copy of y -> copy of x (the transpose)
            cursor[nx + b] += 1
    for a in range(nx):
        if px[rx[a]] <= t:  # a light point may go to the diagonal
            indices[cursor[a]] = ny + a
            cursor[a] += 1
    for b in range(ny):
        if py[ry[b]] <= t:
            indices[cursor[nx + b]] = b
            cursor[nx + b] += 1
    match = np.full(size, -1, dtype=np.int64)
    for e in range(k):  # seed pairs still within t, with their transposes
        if keep[e] and seed_x[ii[e]] == jj[e]:
            a = lx[ii[e]]
            b = ly[jj[e]]
            if match[a] < 0 and match[nx + b] < 0:
                match[a] = b
                match[nx + b] = ny + a
    match = _hopcroft_karp_from(indptr, indices, size, match)
    feasible = True
    for r in range(size):
        if match[r] < 0:
            feasible = False
    for a in range(nx):
        b = match[a]
        if 0 <= b < ny:
            match_x[rx[a]] = ry[b]
            match_y[ry[b]] = rx[a]
    return feasible, match_x, match_y


# ----------------------------------------------------------------------------- the search


def smallest_feasible(vals, test, seed):
    """Smallest of the sorted values ``vals`` passing ``test(value, seed) -> (ok, match_x, match_y)``.

    ``vals[-1]`` must pass.  Each test starts from the matching of the previous one.
    Returns ``(value, match_x, match_y)`` of the smallest passing value.
    """
    left, right = 0, len(vals) - 1
    while left < right:
        mid = (left + right) // 2
        ok, seed, _ = test(vals[mid], seed)
        if ok:
            right = mid
        else:
            left = mid + 1
    value = float(vals[left])
    ok, match_x, match_y = test(value, seed)
    assert ok
    return value, match_x, match_y


def bottleneck_dense(d, px, py):
    """Exact bottleneck distance of finite diagrams from their distances.

    ``d`` (n, m) pair distances, ``px`` (n,), ``py`` (m,) diagonal distances,
    ``n, m >= 1``.  Returns ``(value, match_x, match_y)`` with -1 for the diagonal.
    Every pair is a candidate of :func:`bottleneck_threshold_matching`; the
    candidates are sorted by NumPy (a sort inside a kernel would add seconds to
    the first, compiling run).
    """
    n, m = d.shape
    ii = np.repeat(np.arange(n, dtype=np.int64), m)
    jj = np.tile(np.arange(m, dtype=np.int64), n)
    c = np.ascontiguousarray(d).ravel()

    def test(t, seed):
        return bottleneck_threshold_matching(ii, jj, c, px, py, t, seed)

    lower = float(max(np.minimum(px, d.min(axis=1)).max(), np.minimum(py, d.min(axis=0)).max()))
    ok, match_x, match_y = test(lower, np.full(n, -1, np.int64))
    if ok:
        return lower, match_x, match_y
    # candidates in (lower, upper]; upper (every point to the diagonal) is feasible
    upper = float(max(px.max(), py.max()))
    vals = np.unique(np.concatenate([c[(c > lower) & (c <= upper)], px[px > lower], py[py > lower]]))
    return smallest_feasible(vals, test, match_x)


# ----------------------------------------------------------------------------- large diagrams: KD-tree candidates

#: query points per KD-tree of a candidate listing: bounds SciPy's pair buffers (about 72 B a pair
#: while it lists them) to one chunk's pairs
_QUERY_CHUNK = 1 << 17
#: bytes a threshold search holds per candidate pair (the pair and its distance, 24 B; seed and
#: result flows or matchings; the threshold graph's arcs; a filtered copy): the listing stops with
#: an InsufficientMemoryError before the pairs outgrow the memory available
_PAIR_BYTES = 96
#: pairs listed before the memory available is checked (smaller listings never fail for memory)
_PAIR_CHECK = 1 << 22
#: the class path (identical points merged, max-flow tests) when the classes of one diagram are at
#: most this fraction of its points; Hopcroft-Karp on the points otherwise (CPU on this machine:
#: 256^2 noise diagrams, 7.3k points each, without duplicates: points 0.4-1.7 s, classes 3.6-12 s;
#: vs a 0.05-quantised copy, 1,444 classes of 7,195 points: 1.1 s both; 0.2-quantised, 162
#: classes: 0.96 vs 0.13 s; the 256^3 / 512^3 field vs its 0.02-quantised copy, 319 / 419 classes:
#: the points path runs out of memory, the classes take 4 / 58 s)
_CLASS_FRACTION = 0.25


def _tree(pts):
    from scipy.spatial import cKDTree

    return cKDTree(pts, balanced_tree=False, compact_nodes=False)


def _check_memory(pairs, n, m):
    """InsufficientMemoryError when ``pairs`` candidate pairs would not fit in the memory available."""
    from ..errors import InsufficientMemoryError
    from ..persistence.blocks import available_memory

    need = pairs * _PAIR_BYTES
    free = available_memory()
    if need > free:
        raise InsufficientMemoryError(
            f"the exact bottleneck distance needs more than {pairs} candidate pairs within one threshold between "
            f"{n} and {m} distinct points (about {need / 1e9:.1f} GB; {free / 1e9:.1f} GB available); "
            "run it on a machine with more memory, or on diagrams thinned by persistence"
        )


def _ball_pairs(pts_q, idx_q, pts_o, tree_o, r, q, held=0):
    """Pairs ``(i, j, c)`` of query points ``pts_q[idx_q]`` and points ``j`` of ``pts_o`` (the
    KD-tree ``tree_o``) within ground
    distance ``r``, ``c`` computed with :func:`._metric._pair_dist` (the KD-tree's own distance
    only selects them).  A tree over each chunk of query points and ``sparse_distance_matrix``
    keep the pairs in C arrays (``query_ball_point`` made millions of Python ints: 6 s for the 7
    million pairs of 256^2 noise); ``held`` pairs listed before count towards the memory check."""
    if len(idx_q) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    rr = r * (1.0 + 1e-9) + 1e-300
    parts = []
    for s in range(0, len(idx_q), _QUERY_CHUNK):
        ids = idx_q[s : s + _QUERY_CHUNK]
        found = _tree(pts_q[ids]).sparse_distance_matrix(tree_o, rr, p=q, output_type="ndarray")
        i = ids[found["i"]]
        j = found["j"].astype(np.int64)
        del found
        c = _pair_dist(pts_q[i, 0] - pts_o[j, 0], pts_q[i, 1] - pts_o[j, 1], q)
        keep = c <= r
        parts.append((i[keep], j[keep], c[keep]))
        held += len(parts[-1][0])
        if held > _PAIR_CHECK:
            _check_memory(held, len(pts_q), len(pts_o))
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


def _heavy_pairs(x, y, px, py, r, heavy, tree_x, tree_y, q, light_tree=True):
    """Pairs (i, j, c) with c <= r and an endpoint farther than ``heavy`` from the diagonal, each
    once: heavy points of x with all of y, heavy points of y with the light points of x.

    ``light_tree``: those last from a tree over the light points of x (the point path: about 25 %
    less CPU on noise diagrams, whose heavy pairs would be listed twice); else from ``tree_x``,
    the pairs with a heavy x dropped (the class path: no new tree of millions of x classes for a
    few hundred y classes, 5.3 -> 2.4 s of trees at 512^3)."""
    hx = np.flatnonzero(px > heavy)
    hy = np.flatnonzero(py > heavy)
    i1, j1, c1 = _ball_pairs(x, hx, y, tree_y, r, q)
    light_x = np.flatnonzero(px <= heavy)
    if not (len(hy) and len(light_x)):
        return i1, j1, c1
    if light_tree:
        j2, i2, c2 = _ball_pairs(y, hy, x[light_x], _tree(x[light_x]), r, q, len(i1))
        i2 = light_x[i2]
    else:
        j2, i2, c2 = _ball_pairs(y, hy, x, tree_x, r, q, len(i1))
        light = px[i2] <= heavy
        j2, i2, c2 = j2[light], i2[light], c2[light]
    return np.concatenate([i1, i2]), np.concatenate([j1, j2]), np.concatenate([c1, c2])


def _lower_bound(x, y, px, py, tree_x, tree_y, q):
    """``max over points of min(diagonal distance, nearest distance to the other diagram)``: a
    candidate value no larger than the bottleneck distance (nearest distances by our formula)."""
    _, jx = tree_y.query(x, k=1, p=q)
    _, iy = tree_x.query(y, k=1, p=q)
    nnx = _pair_dist(x[:, 0] - y[jx, 0], x[:, 1] - y[jx, 1], q)
    nny = _pair_dist(y[:, 0] - x[iy, 0], y[:, 1] - x[iy, 1], q)
    return float(max(np.minimum(px, nnx).max(), np.minimum(py, nny).max()))


def _first_step(lower, upper):
    """The exponential search's first step: small (the candidate pairs of the binary search are
    those within the feasible threshold found, millions on noise at 2 x lower)."""
    return lower / 4.0 if lower > 0 else upper * 2.0**-30


def _candidate_values(edges, px, py, lo, hi):
    """Exact candidate values in (lo, hi], sorted, ending with ``hi``: pair distances of pairs that
    some threshold s in [c, hi] uses (an endpoint farther than c from the diagonal) and the
    diagonal distances."""
    ii, jj, c = edges
    cands = c[(c > lo) & (np.maximum(px[ii], py[jj]) > c)]
    vals = np.concatenate([cands, px, py])
    vals = np.unique(vals[(vals > lo) & (vals <= hi)])
    if len(vals) == 0 or vals[-1] != hi:
        vals = np.append(vals, hi)
    return vals


def _bottleneck_feasible(x, y, px, py, t, tree_x, tree_y, q, edges=None, seed=None):
    """Test threshold t: (feasible, match_x, match_y).

    ``edges``: (i, j, c) holding every pair within t with an endpoint heavy at t (e.g. the pairs
    within a larger radius with an endpoint heavy at a lower threshold); else found with the trees.
    """
    if edges is None:
        edges = _heavy_pairs(x, y, px, py, t, t, tree_x, tree_y, q)
    if seed is None:
        seed = np.full(len(x), -1, np.int64)
    return bottleneck_threshold_matching(*edges, px, py, t, seed)


def bottleneck_finite(x, y, q):
    """Exact bottleneck distance of finite diagrams x (n, 2), y (m, 2) under the q-norm.

    Returns (value, match_x, match_y) with match_x[i] = j or -1 (diagonal).  Diagrams with many
    identical points (a quantised reconstruction) are solved on classes of identical points
    (:func:`_class_search`), others on their points (:func:`_point_search`): the same value.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    n, m = len(x), len(y)
    if n == 0 or m == 0:
        allp = np.concatenate([_diag_dist(x, q), _diag_dist(y, q)])
        return (float(allp.max()) if len(allp) else 0.0), np.full(n, -1, np.int64), np.full(m, -1, np.int64)
    cx, cy = _classes(x), _classes(y)
    if min(len(cx[0]) / n, len(cy[0]) / m) <= _CLASS_FRACTION:
        return _class_search(cx, cy, q)
    del cx, cy
    return _point_search(x, y, q)


def _point_search(x, y, q):
    """:func:`bottleneck_finite` by Hopcroft-Karp threshold matchings on the points."""
    px = _diag_dist(x, q)
    py = _diag_dist(y, q)
    tree_x = _tree(x)
    tree_y = _tree(y)
    lower = _lower_bound(x, y, px, py, tree_x, tree_y, q)
    upper = float(max(px.max(), py.max()))
    ok, mx, my = _bottleneck_feasible(x, y, px, py, lower, tree_x, tree_y, q)
    if ok:
        return lower, mx, my
    lo = lower
    step = _first_step(lower, upper)
    hi = min(lower + step, upper)
    while True:
        ok, mx, _ = _bottleneck_feasible(x, y, px, py, hi, tree_x, tree_y, q, None, mx)
        if ok:
            break
        lo = hi
        step *= 2.0
        hi = min(lower + step, upper)
    # the pairs within hi with an endpoint heavy at lo hold every graph of the binary search
    edges = _heavy_pairs(x, y, px, py, hi, lo, tree_x, tree_y, q)
    vals = _candidate_values(edges, px, py, lo, hi)

    def test(t, seed):
        nonlocal edges
        ok, match_x, match_y = _bottleneck_feasible(x, y, px, py, t, tree_x, tree_y, q, edges, seed)
        if ok:  # later thresholds are smaller: drop the longer pairs
            keep = edges[2] <= t
            if keep.sum() < 0.7 * len(keep):
                edges = tuple(e[keep] for e in edges)
        return ok, match_x, match_y

    return smallest_feasible(vals, test, mx)


# ----------------------------------------------------------------------------- classes of identical points


def _classes(pts):
    """Identical rows of ``pts`` (n, 2), n >= 1, merged: ``(reps, counts, order, start)``, the
    copies of class ``a`` being ``order[start[a]:start[a + 1]]``.  Sorted as complex numbers (by
    birth, then death): one argsort of n values, several times faster than ``np.unique(axis=0)``."""
    v = pts.view(np.complex128).ravel()
    order = np.argsort(v, kind="stable")
    s = v[order]
    new = np.empty(len(s), dtype=np.bool_)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    del s
    start = np.append(np.flatnonzero(new), len(pts)).astype(np.int64)
    return pts[order[start[:-1]]], np.diff(start), order.astype(np.int64, copy=False), start


def _carry_flow(edges, flow, new_edges, ny):
    """The flow of the pairs ``edges`` moved onto ``new_edges`` (pairs of both, by class pair)."""
    used = np.flatnonzero(flow)
    seed = np.zeros(len(new_edges[0]), dtype=np.int64)
    if len(used) == 0 or len(seed) == 0:
        return seed
    keys = edges[0][used] * ny + edges[1][used]
    order = np.argsort(keys)
    keys = keys[order]
    new_keys = new_edges[0] * ny + new_edges[1]
    at = np.minimum(np.searchsorted(keys, new_keys), len(keys) - 1)
    hit = keys[at] == new_keys
    seed[hit] = flow[used[order[at[hit]]]]
    return seed


def _class_search(cx, cy, q):
    """:func:`bottleneck_finite` on classes of identical points: the same search as
    :func:`_point_search` (the same candidate values, the distances between distinct points and
    to the diagonal), each threshold tested by the max flow of
    :func:`._bottleneck_flow.class_threshold_flow`, started from the flow of the previous test."""
    from ._bottleneck_flow import class_threshold_flow, expand_matching

    ux, mx, ox, sx = cx
    uy, my, oy, sy = cy
    px = _diag_dist(ux, q)
    py = _diag_dist(uy, q)
    tree_x = _tree(ux)
    tree_y = _tree(uy)

    def test(t, edges, seed):
        return class_threshold_flow(*edges, px, py, mx, my, t, seed)

    def matching(edges, flow):
        return expand_matching(edges[0], edges[1], flow, ox, sx, oy, sy)

    lower = _lower_bound(ux, uy, px, py, tree_x, tree_y, q)
    upper = float(max(px.max(), py.max()))
    edges = _heavy_pairs(ux, uy, px, py, lower, lower, tree_x, tree_y, q, False)
    ok, flow = test(lower, edges, np.zeros(len(edges[0]), dtype=np.int64))
    if ok:
        return lower, *matching(edges, flow)
    lo = lower
    step = _first_step(lower, upper)
    hi = min(lower + step, upper)
    while True:
        new = _heavy_pairs(ux, uy, px, py, hi, hi, tree_x, tree_y, q, False)
        seed = _carry_flow(edges, flow, new, len(uy))
        edges = new
        ok, flow = test(hi, edges, seed)
        if ok:
            break
        lo = hi
        step *= 2.0
        hi = min(lower + step, upper)
    new = _heavy_pairs(ux, uy, px, py, hi, lo, tree_x, tree_y, q, False)
    flow = _carry_flow(edges, flow, new, len(uy))  # still a full flow at hi: its pairs are in new
    edges = new
    vals = _candidate_values(edges, px, py, lo, hi)
    best = (edges, flow)
    left, right = 0, len(vals) - 1
    while left < right:
        mid = (left + right) // 2
        ok, flow = test(float(vals[mid]), edges, flow)
        if ok:
            right = mid
            keep = edges[2] <= vals[mid]  # later thresholds are smaller: drop the longer pairs
            if keep.sum() < 0.7 * len(keep):
                edges = tuple(e[keep] for e in edges)
                flow = flow[keep]
            best = (edges, flow)
        else:
            left = mid + 1
    return float(vals[left]), *matching(*best)

"""Dense exact solvers for small diagrams (finite points only), in Numba.

They let :mod:`topoeval.distances` solve the diagrams of small fields without
importing :mod:`scipy.optimize`, :mod:`scipy.spatial` or
:mod:`scipy.sparse.csgraph` (about 0.3 s of a 1.5 s command-line run).  The
ground distances come in precomputed by NumPy with the same formulas as the large
solvers, so every solver sees bit-identical costs.

Wasserstein
    The usual augmented assignment pairs the ``n + m`` points with the ``m + n``
    points and diagonal copies.  Because a diagonal copy costs nothing against
    another one, it reduces to a rectangular ``n x (m + n)`` assignment (``n <=
    m``): row ``i`` takes a point ``j`` at ``c[i, j] - py[j]`` or its own diagonal
    slot at ``px[i]``; the points of ``y`` left over go to the diagonal, which
    adds the constant ``sum(py)``.  Solved by the shortest-augmenting-path
    Hungarian method with potentials, ``O(n^2 (m + n))``.

Bottleneck
    A threshold ``t`` is feasible when some matching of pairs within ``t`` covers
    every *heavy* point (farther than ``t`` from the diagonal); light points go
    to the diagonal.  :func:`bottleneck_threshold_matching` tests it with a
    Hopcroft-Karp matching on the augmented graph of the candidate pairs (all
    pairs for small diagrams, KD-tree neighbours in :mod:`._distances`).  The
    value is the smallest feasible candidate (a pair distance or a diagonal
    distance): the lower bound ``max over points of min(diagonal distance,
    nearest distance)`` first, then a binary search over the sorted candidates
    (:func:`smallest_feasible`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def wasserstein_assignment(c, px, py):
    """Optimal matching of x (rows of ``c``) with y (columns) or the diagonal.

    ``c`` (n, m) holds the p-th powers of the pair distances, ``px`` (n,) and
    ``py`` (m,) those of the diagonal distances; needs ``n <= m``.  Returns
    ``match_x`` (n,): the column matched to row ``i``, or -1 for the diagonal.
    """
    n, m = c.shape
    ncol = m + n
    inf = np.inf
    # 1-based rows and columns, 0 = the virtual start (e-maxx formulation)
    u = np.zeros(n + 1)
    v = np.zeros(ncol + 1)
    row_of = np.zeros(ncol + 1, dtype=np.int64)
    way = np.zeros(ncol + 1, dtype=np.int64)
    minv = np.empty(ncol + 1)
    used = np.zeros(ncol + 1, dtype=np.bool_)
    for i in range(1, n + 1):
        row_of[0] = i
        j0 = 0
        minv[:] = inf
        used[:] = False
        while True:
            used[j0] = True
            i0 = row_of[j0]
            delta = inf
            j1 = 0
            ui0 = u[i0]
            for j in range(1, ncol + 1):
                if used[j]:
                    continue
                if j <= m:
                    cost = c[i0 - 1, j - 1] - py[j - 1]
                elif j - m == i0:
                    cost = px[i0 - 1]
                else:
                    cost = inf  # another row's diagonal slot: not an edge
                cur = cost - ui0 - v[j]
                if cur < minv[j]:
                    minv[j] = cur
                    way[j] = j0
                if minv[j] < delta:
                    delta = minv[j]
                    j1 = j
            for j in range(ncol + 1):
                if used[j]:
                    u[row_of[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if row_of[j0] == 0:
                break
        while j0 != 0:
            j1 = way[j0]
            row_of[j0] = row_of[j1]
            j0 = j1
    match_x = np.full(n, -1, dtype=np.int64)
    for j in range(1, m + 1):
        if row_of[j] != 0:
            match_x[row_of[j] - 1] = j - 1
    return match_x


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

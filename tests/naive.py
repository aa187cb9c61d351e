"""Slow, obviously-right reference implementations that the kernel tests compare against.

Each section belongs to one module of topoeval; keep them simple (plain loops, no Numba).
"""

from __future__ import annotations

import itertools

import numpy as np

# ---------------------------------------------------------------- persistence


def naive_persistence_pairs(a, filtration="sublevel", connectivity="full", keep_zero=False):
    """0-D persistence by plain union-find over a Python-sorted list of cells.

    Cells are multi-index tuples; order by (value, C-order flat index) (superlevel: both negated);
    non-finite cells are left out of the domain.  Neighbours are enumerated explicitly:
    every other cell whose multi-index differs by at most 1 on every axis ("full") or by
    exactly 1 on one axis ("face").  Returns a list of (birth, death, birth_index,
    death_index) in birth order, death_index None for never-dying classes.
    """
    a = np.asarray(a)
    shape = a.shape
    cells = [c for c in itertools.product(*[range(n) for n in shape]) if np.isfinite(float(a[c]))]
    sign = -1.0 if filtration == "superlevel" else 1.0

    def flat(c):
        return int(np.ravel_multi_index(c, shape))

    # ties: ascending flat index (sublevel), descending (superlevel: simulation of simplicity on -a)
    cells.sort(key=lambda c: (sign * float(a[c]) + 0.0, sign * flat(c)))
    rank = {c: r for r, c in enumerate(cells)}

    def neighbours(c):
        for delta in itertools.product((-1, 0, 1), repeat=len(shape)):
            if not any(delta):
                continue
            if connectivity == "face" and sum(map(abs, delta)) != 1:
                continue
            q = tuple(ci + di for ci, di in zip(c, delta))
            if all(0 <= qi < n for qi, n in zip(q, shape)):
                yield q

    parent = {}
    birth_cell = {}  # root -> cell where its component was born

    def find(c):
        while parent[c] != c:
            c = parent[c]
        return c

    pairs = {}
    for c in cells:
        roots = {find(q) for q in neighbours(c) if q in parent}
        parent[c] = c
        if not roots:
            birth_cell[c] = c
            pairs[c] = None
            continue
        elder = min(roots, key=lambda r: rank[birth_cell[r]])
        for r in roots:
            if r != elder:
                pairs[birth_cell[r]] = c  # the younger component dies at c
                parent[r] = elder
        parent[c] = elder
    inf = np.inf if filtration == "sublevel" else -np.inf
    out = []
    for b in sorted(pairs, key=lambda c: rank[c]):
        d = pairs[b]
        bv = float(a[b])
        dv = inf if d is None else float(a[d])
        if bv == dv and not keep_zero:
            continue
        out.append((bv, dv, b, d))
    return out


def naive_cubical_pairs(a, construction="T"):
    """Persistence of the whole cubical complex by a dense Z/2 boundary-matrix reduction.

    Cells are products of intervals ``[l_i, h_i]`` (``h_i - l_i`` in {0, 1}) in vertex
    coordinates.  T-construction: ``a`` gives the top cubes ``[j, j+1]`` (vertex coordinates
    0..n_i) and a cell takes the smallest value of the top cubes it is a face of;
    V-construction: ``a`` gives the vertices (0..n_i-1) and a cell takes the largest value
    of its corners.  Cells are ordered by (value, dimension, enumeration index) and the
    boundary matrix is reduced column by column (columns as Python int bitsets).

    Returns ``{k: (m, 2) float64 rows (birth, death)}`` for k = 0..d-1, zero-persistence
    pairs left out, never-dying classes with death ``inf``, rows sorted.
    """
    a = np.asarray(a, dtype=np.float64)
    shape, d = a.shape, a.ndim
    top = construction == "T"
    nv = [n + 1 if top else n for n in shape]
    per_axis = [[(x, x) for x in range(m)] + [(x, x + 1) for x in range(m - 1)] for m in nv]
    cells = list(itertools.product(*per_axis))

    def value(cell):
        if top:  # top cubes j with j <= l and h <= j + 1
            ranges = [range(max(l_ - (h_ == l_), 0), min(l_, n - 1) + 1) for (l_, h_), n in zip(cell, shape)]
            return min(float(a[j]) for j in itertools.product(*ranges))
        return max(float(a[j]) for j in itertools.product(*[sorted({l_, h_}) for l_, h_ in cell]))

    def dim(cell):
        return sum(h_ - l_ for l_, h_ in cell)

    vals = [value(c) for c in cells]
    order = sorted(range(len(cells)), key=lambda i: (vals[i], dim(cells[i]), i))
    pos = {cells[i]: r for r, i in enumerate(order)}
    lows = {}  # pivot row -> column
    paired = set()
    out = {k: [] for k in range(d)}
    for r, i in enumerate(order):
        cell = cells[i]
        col = 0
        for ax, (l_, h_) in enumerate(cell):
            if h_ != l_:
                for e in (l_, h_):
                    col ^= 1 << pos[cell[:ax] + ((e, e),) + cell[ax + 1 :]]
        while col and (col.bit_length() - 1) in lows:
            col ^= lows[col.bit_length() - 1]
        if col:
            low = col.bit_length() - 1
            lows[low] = col
            paired.update((low, r))
            b, dv = vals[order[low]], vals[i]
            if b != dv:
                out[dim(cell) - 1].append((b, dv))
    for r, i in enumerate(order):
        if r not in paired and r not in lows and dim(cells[i]) < d:
            out[dim(cells[i])].append((vals[i], np.inf))
    res = {}
    for k, rows in out.items():
        x = np.array(rows, dtype=np.float64).reshape(-1, 2)
        res[k] = x[np.lexsort((x[:, 1], x[:, 0]))]
    return res


def naive_kruskal_pairs(kv, kf, born, ea, eb):
    """Elder-rule pairs of a graph by plain Kruskal (block engine's glue, topoeval.persistence.blocks).

    Vertices ``i`` are born (a minimum with key ``(kv[i], kf[i])``) or not (no minimum);
    edges ``(ea[j], eb[j])`` are taken in the given order.  Joining two components that both
    have a minimum kills the younger at edge ``j``.  Returns sorted ``(birth vertex, edge)``
    with edge -1 for the minima that never die.
    """
    comp = {i: {i} for i in range(len(kv))}
    mins = {i: (i if born[i] else None) for i in range(len(kv))}

    def key(v):
        return (float(kv[v]), int(kf[v]))

    out = []
    for j, (a, b) in enumerate(zip(ea, eb)):
        ra = next(r for r, s in comp.items() if a in s)
        rb = next(r for r, s in comp.items() if b in s)
        if ra == rb:
            continue
        ma, mb = mins[ra], mins[rb]
        if ma is not None and mb is not None:
            young, old = (ma, mb) if key(ma) > key(mb) else (mb, ma)
            out.append((int(young), j))
            keep = old
        else:
            keep = ma if ma is not None else mb
        comp[ra] |= comp.pop(rb)
        mins[ra] = keep
        del mins[rb]
    out += [(int(m), -1) for m in mins.values() if m is not None]
    return sorted(out)


# ---------------------------------------------------------------- distances


def _naive_ground(u, v, q):
    d = np.abs(np.asarray(u, float) - np.asarray(v, float))
    return float(d.max()) if q == np.inf else float((d**q).sum() ** (1.0 / q))


def _naive_diag(u, q):
    mid = (u[0] + u[1]) / 2.0
    return _naive_ground(u, (mid, mid), q)


def naive_partial_matchings(n, m):
    """Every partial matching of range(n) with range(m), as a list of (i, j) pairs."""
    for k in range(min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                yield list(zip(rows, cols))


def naive_diagram_costs(x, y, q):
    """For each partial matching of finite diagrams x, y: the list of ground distances it pays."""
    x = np.asarray(x, float).reshape(-1, 2)
    y = np.asarray(y, float).reshape(-1, 2)
    for pairs in naive_partial_matchings(len(x), len(y)):
        used_x = {i for i, _ in pairs}
        used_y = {j for _, j in pairs}
        costs = [_naive_ground(x[i], y[j], q) for i, j in pairs]
        costs += [_naive_diag(x[i], q) for i in range(len(x)) if i not in used_x]
        costs += [_naive_diag(y[j], q) for j in range(len(y)) if j not in used_y]
        yield costs


def naive_wasserstein(x, y, order=1.0, internal_p=2.0):
    """W_order of two small FINITE diagrams by brute force over all partial matchings."""
    best = min(sum(c**order for c in costs) for costs in naive_diagram_costs(x, y, internal_p))
    return best ** (1.0 / order)


def assignment_wasserstein(x, y, order=1.0, internal_p=2.0):
    """W_order of two FINITE diagrams by scipy's exact assignment (no tolerance, unlike POT's
    simplex) on the full (n + m) x (m + n) augmented matrix: x_i -> y_j, x_i -> its own diagonal
    copy, diagonal copies of y -> y_j, diagonal -> diagonal at 0.  Memory 8 (n + m)^2 bytes."""
    from scipy.optimize import linear_sum_assignment

    x = np.asarray(x, float).reshape(-1, 2)
    y = np.asarray(y, float).reshape(-1, 2)
    n, m = len(x), len(y)
    big = 1e300  # forbidden: x_i with another point's diagonal copy
    cost = np.zeros((n + m, m + n))
    cost[:n, :] = big
    cost[:, :m] = big
    for i in range(n):
        cost[i, :m] = [_naive_ground(x[i], y[j], internal_p) ** order for j in range(m)]
        cost[i, m + i] = _naive_diag(x[i], internal_p) ** order
    for j in range(m):
        cost[n + j, j] = _naive_diag(y[j], internal_p) ** order
    cost[n:, m:] = 0.0
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].sum()) ** (1.0 / order)


def naive_bottleneck(x, y, internal_p=np.inf):
    """Bottleneck distance of two small FINITE diagrams by brute force over all partial matchings."""
    return min(max(costs, default=0.0) for costs in naive_diagram_costs(x, y, internal_p))


def _naive_category(u):
    """The category of a point: which coordinates are infinite and their signs (None: finite)."""
    kinds = tuple(0 if np.isfinite(c) else int(np.sign(c)) for c in u)
    return None if kinds == (0, 0) else kinds


def naive_essential_distance(x, y, order=1.0, internal_p=2.0):
    """W_order (order = inf: bottleneck) of small diagrams with points at infinity, by brute force:
    the finite points by :func:`naive_wasserstein` / :func:`naive_bottleneck`; the points of
    each category with one or two infinite coordinates of opposite kinds matched by trying every
    permutation (cost: the difference of the finite coordinates, 0 if none); inf when a
    category's counts differ; (-inf, -inf) and (+inf, +inf) on the diagonal (cost 0)."""
    x = [tuple(map(float, u)) for u in np.asarray(x, float).reshape(-1, 2)]
    y = [tuple(map(float, u)) for u in np.asarray(y, float).reshape(-1, 2)]
    fx = [u for u in x if _naive_category(u) is None]
    fy = [u for u in y if _naive_category(u) is None]
    costs = []
    cats = {_naive_category(u) for u in x + y} - {None, (1, 1), (-1, -1)}
    for cat in cats:
        cx = [u for u in x if _naive_category(u) == cat]
        cy = [u for u in y if _naive_category(u) == cat]
        if len(cx) != len(cy):
            return np.inf
        axis = [k for k in (0, 1) if cat[k] == 0]

        def cost(u, v):
            return abs(u[axis[0]] - v[axis[0]]) if axis else 0.0

        if order == np.inf:
            best = min(max((cost(u, v) for u, v in zip(cx, perm)), default=0.0)
                       for perm in itertools.permutations(cy))
        else:
            best = min(sum(cost(u, v) ** order for u, v in zip(cx, perm)) for perm in itertools.permutations(cy))
        costs.append(best)
    if order == np.inf:
        return max([naive_bottleneck(fx, fy, internal_p)] + costs)
    return (naive_wasserstein(fx, fy, order, internal_p) ** order + sum(costs)) ** (1.0 / order)


# ---------------------------------------------------------------- dsl


def _naive_sigma(sign):
    import math

    if sign == "tanh":
        return math.tanh
    if sign == "softsign":
        return lambda z: z / (1.0 + abs(z))
    if sign == "sign":
        return lambda z: float((z > 0) - (z < 0))
    if isinstance(sign, tuple):
        sign = sign[0]
    return lambda z: float(sign(np.array([z], dtype=np.float64))[0])


def _naive_step(a, idx, axis):
    """a[idx + e_axis] - a[idx] in exact Python arithmetic (ints stay ints, no overflow)."""
    nxt = list(idx)
    nxt[axis] += 1
    return a[tuple(nxt)].item() - a[idx].item()


def dsl_naive(x, y, *, sharpness=1.0, sign="tanh", weights=None, batch_axis=None,
              reduction="mean", normalize=True, per_axis=False):
    """Algorithm 1 with plain loops over every cell, one axis at a time (values in float64)."""
    x = np.asarray(x)
    y = np.asarray(y)
    if x.dtype == np.bool_:
        x = x.astype(np.int64)
    if y.dtype == np.bool_:
        y = y.astype(np.int64)
    sig = _naive_sigma(sign)
    s = 1.0 if sign == "sign" else float(sharpness)
    nd = x.ndim
    if batch_axis is not None:
        batch_axis %= nd
    axes = [a for a in range(nd) if a != batch_axis]
    w = [1.0] * len(axes) if weights is None else [float(v) for v in weights]
    nb = 1 if batch_axis is None else x.shape[batch_axis]
    sums = [[0.0] * len(axes) for _ in range(nb)]
    comparisons = 0.0
    for j, a in enumerate(axes):
        for idx in itertools.product(*(range(n) for n in x.shape)):
            if idx[a] == x.shape[a] - 1:
                continue
            b = 0 if batch_axis is None else idx[batch_axis]
            dx = _naive_step(x, idx, a)
            dy = _naive_step(y, idx, a)
            if sign == "sign":  # sign of the exact difference, no scaling or rounding
                m = abs(((dx > 0) - (dx < 0)) - ((dy > 0) - (dy < 0))) / 2
            else:
                m = abs(sig(s * float(dx)) - sig(s * float(dy))) / 2
            sums[b][j] += w[j] * m
            if b == 0:
                comparisons += w[j]
    denom = comparisons if normalize else 1.0
    values = np.array([[v / denom for v in row] for row in sums])  # (nb, n_axes)
    if not per_axis:
        values = values.sum(axis=1)
    if batch_axis is None:
        return values[0]
    if reduction == "mean":
        return values.mean(axis=0)
    if reduction == "sum":
        return values.sum(axis=0)
    return values


def exact_dsl_count_naive(x, y):
    """Exact DSL by direct counting: opposite directions count 1, flat against not flat 1/2."""
    x = np.asarray(x)
    y = np.asarray(y)
    opposite = half = 0
    for a in range(x.ndim):
        for idx in itertools.product(*(range(n) for n in x.shape)):
            if idx[a] == x.shape[a] - 1:
                continue
            dx = _naive_step(x, idx, a)
            dy = _naive_step(y, idx, a)
            if (dx > 0 and dy < 0) or (dx < 0 and dy > 0):
                opposite += 1
            elif (dx == 0) != (dy == 0):
                half += 1
    return opposite + half / 2


def mismatch_map_naive(x, y):
    """(ndim, *shape) float64: mismatch of cells k and k + e_i stored at k, last cell 0."""
    x = np.asarray(x)
    y = np.asarray(y)
    out = np.zeros((x.ndim, *x.shape))
    for a in range(x.ndim):
        for idx in itertools.product(*(range(n) for n in x.shape)):
            if idx[a] == x.shape[a] - 1:
                continue
            dx = _naive_step(x, idx, a)
            dy = _naive_step(y, idx, a)
            out[(a, *idx)] = abs(((dx > 0) - (dx < 0)) - ((dy > 0) - (dy < 0))) / 2
    return out


# ---------------------------------------------------------------- metrics


def naive_pointwise_metrics(orig, recon, data_range=None):
    """Pointwise metrics by plain Python loops over the flattened values (float math)."""
    xs = [float(v) for v in np.asarray(orig).ravel()]
    ys = [float(v) for v in np.asarray(recon).ravel()]
    n = len(xs)
    sq = [(b - a) ** 2 for a, b in zip(xs, ys)]
    ab = [abs(b - a) for a, b in zip(xs, ys)]
    mse = sum(sq) / n
    peak = (max(xs) - min(xs)) if data_range is None else data_range
    if mse == 0:
        psnr = float("inf")
    elif peak == 0:
        psnr = float("-inf")
    else:
        psnr = 10.0 * np.log10(peak * peak / mse)
    nx = sum(a * a for a in xs) ** 0.5
    rel = 0.0 if mse == 0 else (float("inf") if nx == 0 else sum(sq) ** 0.5 / nx)
    mx, my = sum(xs) / n, sum(ys) / n
    vx = sum((a - mx) ** 2 for a in xs)
    vy = sum((b - my) ** 2 for b in ys)
    cov = sum((a - mx) * (b - my) for a, b in zip(xs, ys))
    const = max(xs) == min(xs) or max(ys) == min(ys)
    denom = vx**0.5 * vy**0.5  # 0 when tiny non-constant values underflow: undefined, as in metrics
    pearson = float("nan") if const or denom == 0 else cov / denom
    return {
        "mse": mse,
        "rmse": mse**0.5,
        "mae": sum(ab) / n,
        "max_abs_error": max(ab),
        "psnr": psnr,
        "relative_l2_error": rel,
        "pearson": pearson,
    }


def naive_masked_exact_dsl(x, y, valid):
    """Sign mismatches of neighbouring differences, skipping pairs that touch an invalid cell.

    Returns (mismatches, number of differences compared), by explicit loops over cells and axes.
    """
    x, y, valid = np.asarray(x, float), np.asarray(y, float), np.asarray(valid, bool)
    mism = 0.0
    count = 0
    for idx in itertools.product(*(range(n) for n in x.shape)):
        for ax in range(x.ndim):
            if idx[ax] + 1 >= x.shape[ax]:
                continue
            nxt = idx[:ax] + (idx[ax] + 1,) + idx[ax + 1 :]
            if not (valid[idx] and valid[nxt]):
                continue
            sx = np.sign(x[nxt] - x[idx])
            sy = np.sign(y[nxt] - y[idx])
            mism += abs(sx - sy) / 2
            count += 1
    return mism, count


# ---------------------------------------------------------------- critical points
def naive_cp_offsets(ndim, connectivity):
    """Neighbour offsets of a cell: the 3**d - 1 surrounding cells, or the Freudenthal
    offsets o and -o for o in {0, 1}**d minus 0."""
    if connectivity == "full":
        return [o for o in itertools.product((-1, 0, 1), repeat=ndim) if any(o)]
    pos = [o for o in itertools.product((0, 1), repeat=ndim) if any(o)]
    return pos + [tuple(-x for x in o) for o in pos]


def naive_cp_joined(o1, o2, connectivity):
    """Are two neighbours of a cell joined by an edge (of the clique complex / Kuhn triangulation)?"""
    diff = [x - y for x, y in zip(o1, o2)]
    if not any(diff):
        return False
    if connectivity == "full":
        return max(abs(x) for x in diff) <= 1
    return all(x in (0, 1) for x in diff) or all(x in (0, -1) for x in diff)


def _naive_cp_components(verts, connectivity):
    seen, count = set(), 0
    for s in verts:
        if s in seen:
            continue
        count += 1
        seen.add(s)
        todo = [s]
        while todo:
            a = todo.pop()
            for b in verts:
                if b not in seen and naive_cp_joined(a, b, connectivity):
                    seen.add(b)
                    todo.append(b)
    return count


def _naive_cp_links(a, connectivity, omit):
    """Yield (cell, lower offsets, upper offsets) of every in-domain cell (SoS: (value, flat index))."""
    a = np.asarray(a)
    keep = [i for i, s in enumerate(a.shape) if s > 1] or [0]
    core = a.reshape([a.shape[i] for i in keep])
    shape = core.shape
    offsets = naive_cp_offsets(core.ndim, connectivity)
    domain = np.ones(shape, dtype=bool) if omit is None else ~np.asarray(omit).reshape(shape)
    flat = {c: i for i, c in enumerate(itertools.product(*[range(s) for s in shape]))}
    for cell, fc in flat.items():
        if not domain[cell]:
            yield cell, None, None, shape
            continue
        key = (core[cell], fc)
        lower, upper = [], []
        for o in offsets:
            nb = tuple(c + x for c, x in zip(cell, o))
            if not all(0 <= c < s for c, s in zip(nb, shape)) or not domain[nb]:
                continue
            (lower if (core[nb], flat[nb]) < key else upper).append(o)
        yield cell, lower, upper, shape


def naive_critical_points(a, connectivity="full", omit=None):
    """Types (codes of topoeval.critical_points), lower and upper link component counts.

    Explicit link construction and BFS per cell.  ``omit``: bool mask of cells left out.
    """
    a = np.asarray(a)
    types = np.zeros(a.size, dtype=np.int8)
    cm = np.zeros(a.size, dtype=np.int64)
    cp = np.zeros(a.size, dtype=np.int64)
    for i, (cell, lower, upper, shape) in enumerate(_naive_cp_links(a, connectivity, omit)):
        if lower is None:
            types[i] = -1
            continue
        nl = _naive_cp_components(lower, connectivity)
        nu = _naive_cp_components(upper, connectivity)
        cm[i], cp[i] = nl, nu
        d = len(shape)
        if nl == 0:
            t = 1  # minimum (also the lone cell of a one-cell array)
        elif nu == 0:
            t = 5  # maximum
        elif nl == 1 and nu == 1:
            t = 0  # regular
        elif d <= 2:
            t = 2  # 2-D saddle
        elif nu == 1:
            t = 3  # 1-saddle
        elif nl == 1:
            t = 4  # 2-saddle
        else:
            t = 6  # degenerate
        types[i] = t
    return types.reshape(a.shape), cm.reshape(a.shape), cp.reshape(a.shape)


def naive_lower_link_euler(a, connectivity="full"):
    """Euler characteristic of the lower link of every cell (the lower link is the flag complex
    of the joined lower neighbours; cliques enumerated explicitly)."""
    a = np.asarray(a)
    out = np.zeros(a.size, dtype=np.int64)
    for i, (cell, lower, upper, shape) in enumerate(_naive_cp_links(a, connectivity, None)):
        # every clique once: extend a clique only by later, joined vertices
        chi = 0
        todo = [((j,), j) for j in range(len(lower))]
        while todo:
            simplex, last = todo.pop()
            chi += (-1) ** (len(simplex) - 1)
            for j in range(last + 1, len(lower)):
                if all(naive_cp_joined(lower[j], lower[x], connectivity) for x in simplex):
                    todo.append((simplex + (j,), j))
        out[i] = chi
    return out.reshape(a.shape)


def naive_cell_persistence(a, connectivity="full", superlevel=False, omit=None):
    """Per-cell (birth persistence, death persistence) of the 0-D filtration by (value, flat index)
    (descending for superlevel), elder rule by entry order; plain union-find on a Python list.
    ``omit``: bool mask of cells left out of the domain."""
    a = np.asarray(a)
    keep = [i for i, s in enumerate(a.shape) if s > 1] or [0]
    core = a.reshape([a.shape[i] for i in keep]).astype(np.float64)
    shape = core.shape
    cells = list(itertools.product(*[range(s) for s in shape]))
    dom = np.ones(len(cells), bool) if omit is None else ~np.asarray(omit).reshape(-1)
    order = sorted((i for i in range(len(cells)) if dom[i]), key=lambda i: (core[cells[i]], i), reverse=superlevel)
    index = {c: i for i, c in enumerate(cells)}
    offsets = naive_cp_offsets(core.ndim, connectivity)
    parent, entered = {}, {}
    birth = np.zeros(len(cells))
    death = np.zeros(len(cells))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for t, i in enumerate(order):
        entered[i] = t
        parent[i] = i
        roots = set()
        for o in offsets:
            nb = tuple(c + x for c, x in zip(cells[i], o))
            if all(0 <= c < s for c, s in zip(nb, shape)) and index[nb] in entered and index[nb] != i:
                roots.add(find(index[nb]))
        if not roots:
            continue
        roots = sorted(roots, key=lambda r: entered[r])
        parent[i] = roots[0]
        for r in roots[1:]:
            p = abs(core[cells[i]] - core[cells[r]])
            birth[r] = p
            death[i] = max(death[i], p)
            parent[r] = roots[0]
    for i in parent:
        if parent[i] == i:
            birth[i] = np.inf
    return birth.reshape(a.shape), death.reshape(a.shape)


def naive_max_matching(adjacency, n_right):
    """Size of a maximum bipartite matching by Kuhn's augmenting paths (adjacency: list of lists)."""
    match_right = [-1] * n_right

    def augment(u, seen):
        for v in adjacency[u]:
            if not seen[v]:
                seen[v] = True
                if match_right[v] < 0 or augment(match_right[v], seen):
                    match_right[v] = u
                    return True
        return False

    return sum(augment(u, [False] * n_right) for u in range(len(adjacency)))


# ---------------------------------------------------------------- segmentation


def naive_seg_neighbours(c, shape, connectivity):
    """Cells next to multi-index ``c``: any other cell of the surrounding cube ("full"), the
    2 d axis neighbours ("face"), or the offsets whose non-zero entries share one sign
    ("freudenthal": o and -o for o in {0, 1}^d)."""
    for delta in itertools.product((-1, 0, 1), repeat=len(shape)):
        nz = [x for x in delta if x != 0]
        if not nz:
            continue
        if connectivity == "face" and len(nz) != 1:
            continue
        if connectivity == "freudenthal" and not (all(x > 0 for x in nz) or all(x < 0 for x in nz)):
            continue
        q = tuple(ci + di for ci, di in zip(c, delta))
        if all(0 <= qi < n for qi, n in zip(q, shape)):
            yield q


def naive_morse_segmentation(a, connectivity="full", omit=False):
    """(ascending, descending) labels by walking each cell's steepest path one step at a time.

    Order of cells: (float value, C-order flat index).  Steepest ascent goes to the largest
    neighbour in that order if it is above the cell; the walk ends at a maximum, whose flat
    index is the label (descent: smallest, minima).  With ``omit`` non-finite cells are out of
    the domain and labelled -1.
    """
    a = np.asarray(a, dtype=np.float64)
    shape = a.shape

    def key(c):
        return (float(a[c]), int(np.ravel_multi_index(c, shape)))

    def inside(c):
        return not omit or np.isfinite(a[c])

    def step(c, pick):
        cands = [c] + [q for q in naive_seg_neighbours(c, shape, connectivity) if inside(q)]
        return pick(cands, key=key)

    asc = np.full(shape, -1, dtype=np.int64)
    desc = np.full(shape, -1, dtype=np.int64)
    for c in itertools.product(*[range(n) for n in shape]):
        if not inside(c):
            continue
        for out, pick in ((asc, max), (desc, min)):
            cur = c
            while True:
                nxt = step(cur, pick)
                if nxt == cur:
                    break
                cur = nxt
            out[c] = np.ravel_multi_index(cur, shape)
    return asc, desc


def naive_segmentation_errors(x, y, connectivity="full"):
    """Counts of cells whose labels differ, and of the extrema of only one of the two fields."""
    ax, dx = naive_morse_segmentation(x, connectivity)
    ay, dy = naive_morse_segmentation(y, connectivity)
    own = np.arange(np.asarray(x).size).reshape(np.shape(x))
    false_max = int(np.sum((ax == own) != (ay == own)))
    false_min = int(np.sum((dx == own) != (dy == own)))
    return {
        "seg_false_labels": int(np.sum((ax != ay) | (dx != dy))),
        "seg_false_ascending": int(np.sum(ax != ay)),
        "seg_false_descending": int(np.sum(dx != dy)),
        "seg_false_maxima": false_max,
        "seg_false_minima": false_min,
        "seg_false_extrema": false_max + false_min,
    }


def naive_pair_errors(x, y, min_persistence=0.0, filtration="sublevel", connectivity="full"):
    """(preserved, false negatives, false positives) of the pairs, keyed by (birth cell, death
    cell), with persistence above ``min_persistence`` (a never-dying class always counts)."""

    def keys(a):
        return {
            (b_idx, d_idx)
            for b, d, b_idx, d_idx in naive_persistence_pairs(a, filtration, connectivity, keep_zero=True)
            if abs(d - b) > min_persistence
        }

    kx, ky = keys(x), keys(y)
    return len(kx & ky), len(kx - ky), len(ky - kx)


# ---------------------------------------------------------------- cubical gradient (3-D)
def _naive_grad_cells(code, kshape, pad):
    """{K coordinate: (L-dimension, partner coordinate or None)} of a 3-D gradient code array."""
    grid = np.asarray(code).reshape(tuple(kshape))
    out = {}
    for x in itertools.product(*[range(int(m)) for m in kshape]):
        c = int(grid[x])
        dirn = c & 7
        assert dirn != 7, f"cell {x} was never assigned"
        partner = None
        if dirn != 6:
            y = list(x)
            y[dirn >> 1] += 1 if dirn & 1 else -1
            partner = tuple(y)
        out[x] = (sum((v - pad) % 2 for v in x), partner)
    return out


def _naive_lfaces(x, kshape, pad):
    """The L-faces of the cell at K coordinate x: its neighbours +-1 along its L-odd axes."""
    faces = []
    for a, v in enumerate(x):
        if (v - pad) % 2:
            for s in (-1, 1):
                if 0 <= v + s < kshape[a]:
                    faces.append(x[:a] + (v + s,) + x[a + 1 :])
    return faces


def naive_check_gradient(code, kshape, pad, value):
    """Assert that ``code`` is a discrete gradient of the L complex compatible with ``value``.

    Every cell assigned; partners mutual, a face/coface pair of equal value
    (``value(x)`` is the real cell's value); no closed V-path in any dimension (depth-first
    search of tail -> other faces of its partner that are tails).
    """
    cells = _naive_grad_cells(code, kshape, pad)
    for x, (k, p) in cells.items():
        if p is not None:
            assert cells[p][1] == x, f"partner of {x} is not mutual"
            assert value(x) == value(p), f"pair {x}-{p} spans two values"
    succ = {}
    for x, (k, p) in cells.items():
        if p is not None and cells[p][0] == k + 1:  # x is a tail
            succ[x] = [f for f in _naive_lfaces(p, kshape, pad) if f != x and f in cells
                       and cells[f][1] is not None and cells[cells[f][1]][0] == k + 1]
    state = {}
    for root in succ:
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                raise AssertionError(f"closed V-path through {nxt}")
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    return cells


def naive_morse_boundary(code, kshape, pad, cell):
    """Critical L-1-cells (K coordinates) in the Z/2 Morse boundary of the critical L-2-cell
    ``cell``: every descending V-path enumerated one by one, counted mod 2."""
    cells = _naive_grad_cells(code, kshape, pad)
    count = {}

    def walk(sigma, skip):
        for e in _naive_lfaces(sigma, kshape, pad):
            if e == skip:
                continue
            p = cells[e][1]
            if p is None:
                count[e] = count.get(e, 0) + 1
            elif cells[p][0] == 2:  # e is a tail: the path goes on through its partner
                walk(p, e)

    walk(tuple(cell), None)
    return sorted(e for e, n in count.items() if n % 2)


# ---------------------------------------------------------------- bottleneck threshold feasibility


def naive_bottleneck_feasible(x, y, t, internal_p=np.inf):
    """Whether finite diagrams x, y (copies listed one by one) have a matching of cost <= t: a
    perfect matching of the augmented graph (x and diagonal copies of y on the left, y and
    diagonal copies of x on the right; point-point pairs within t, a point to its own diagonal
    copy within t, diagonal-diagonal free), by Kuhn's augmenting paths."""
    x = np.asarray(x, float).reshape(-1, 2)
    y = np.asarray(y, float).reshape(-1, 2)
    n, m = len(x), len(y)
    adjacency = []
    for i in range(n):
        row = [j for j in range(m) if _naive_ground(x[i], y[j], internal_p) <= t]
        if _naive_diag(x[i], internal_p) <= t:
            row.append(m + i)
        adjacency.append(row)
    for j in range(m):
        row = [m + i for i in range(n)]
        if _naive_diag(y[j], internal_p) <= t:
            row.append(j)
        adjacency.append(row)
    return naive_max_matching(adjacency, n + m) == n + m


def naive_critical_cells(code, kshape, pad, rank, dim):
    """Flat K indices and keys of the critical L-cells of dimension ``dim``, sorted by key.

    The key of a cell is ``rank(center) * 32 + time`` with the center its latest L-vertex
    (outside the array, T: rank -1) and the time bits 6.. of its code; found here from the
    vertices themselves, not from the code's side bits.
    """
    cells = _naive_grad_cells(code, kshape, pad)
    grid = np.asarray(code).reshape(tuple(kshape))
    out = []
    for x, (k, p) in cells.items():
        if p is not None or k != dim:
            continue
        choices = [[(v - pad) // 2] if (v - pad) % 2 == 0 else [(v - pad - 1) // 2, (v - pad + 1) // 2] for v in x]
        best = max(int(rank[i]) if all(0 <= i[a] < rank.shape[a] for a in range(3)) else -1
                   for i in itertools.product(*choices))
        out.append((best * 32 + (int(grid[x]) >> 6), int(np.ravel_multi_index(x, tuple(kshape)))))
    out.sort()
    return [c for _, c in out], [key for key, _ in out]


def dsl_f32_atol(x, y, **kw):
    """Absolute error bound of the tanh DSL computed in float32 (float32 inputs), vs float64.

    Each term |tanh(s dx) - tanh(s dy)| in float32 is off by a few float32 ulps of its two tanh
    values (difference rounding, <= 2 ulp tanh, the shared division: about 6 * 2**-24 (|tanh a| +
    |tanh b|)); 2**-20 (|tanh a| + |tanh b|) bounds that with a factor 2 to spare.  The sums of
    |tanh| are the DSL against zero (same weights, normalisation, batch), so the bound carries
    every option.  Returns an array/float like dsl_naive.
    """
    kw = dict(kw, sign="tanh")
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return 2.0 ** -20 * (np.asarray(dsl_naive(xa, np.zeros_like(xa), **kw))
                         + np.asarray(dsl_naive(ya, np.zeros_like(ya), **kw)))


def _naive_z2_rank(rows):
    """Rank over Z/2 of a 0/1 matrix given as a list of rows (lists)."""
    m = [list(r) for r in rows]
    rank = 0
    ncols = len(m[0]) if m else 0
    for c in range(ncols):
        pivot = next((i for i in range(rank, len(m)) if m[i][c]), None)
        if pivot is None:
            continue
        m[rank], m[pivot] = m[pivot], m[rank]
        for i in range(len(m)):
            if i != rank and m[i][c]:
                m[i] = [x ^ y for x, y in zip(m[i], m[rank])]
        rank += 1
    return rank


def naive_lower_link_acyclic(lower):
    """Whether the lower link of a vertex of a 3-D cubical complex has the Z/2 homology of
    a point, from its lower neighbours ``lower`` (a set of offsets in {-1, 0, 1}^3).

    The cells of the vertex's star are its 26 block neighbours' offsets ``o`` (an edge has
    one non-zero coordinate, a square two, a cube three); a cell is in the lower star when
    all its vertices but the center (the offsets with some of ``o``'s coordinates zeroed)
    are lower.  Its link simplex has dimension (non-zeros - 1); faces: one coordinate zeroed.
    The reduced Betti numbers come from the ranks of the two boundary matrices.
    """
    def verts(o):
        return [v for v in itertools.product(*[(0, x) if x else (0,) for x in o]) if any(v)]

    cells = [[], [], []]
    for o in itertools.product((-1, 0, 1), repeat=3):
        if any(o) and all(v in lower for v in verts(o)):
            cells[sum(1 for x in o if x) - 1].append(o)
    if not cells[0]:
        return False  # empty link: the vertex is a minimum

    def boundary(k):  # rows: the k-cells (link dimension k), columns: the (k-1)-cells
        index = {c: i for i, c in enumerate(cells[k - 1])}
        rows = []
        for o in cells[k]:
            row = [0] * len(cells[k - 1])
            for a in range(3):
                if o[a]:
                    row[index[tuple(0 if b == a else o[b] for b in range(3))]] = 1
            rows.append(row)
        return rows

    r1 = _naive_z2_rank(boundary(1)) if cells[1] else 0
    r2 = _naive_z2_rank(boundary(2)) if cells[2] else 0
    n0, n1, n2 = (len(c) for c in cells)
    return n0 - 1 - r1 == 0 and n1 - r1 - r2 == 0 and n2 - r2 == 0


def naive_by_birth_death(dgm):
    """``dgm`` with its pairs by (birth, death), ascending (sublevel) or descending
    (superlevel), ties in their current order: a stable lexsort."""
    if dgm.filtration == "superlevel":
        o = np.lexsort((-dgm.deaths, -dgm.births))
    else:
        o = np.lexsort((dgm.deaths, dgm.births))
    return dgm._take(o)

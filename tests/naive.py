"""Slow, obviously-right reference implementations that the kernel tests compare against.

Each section belongs to one module of topoeval; keep them simple (plain loops, no Numba).
"""

from __future__ import annotations

import itertools

import numpy as np

# ---------------------------------------------------------------- persistence


def naive_persistence_pairs(a, filtration="sublevel", connectivity="full", keep_zero=False):
    """0-D persistence by plain union-find over a Python-sorted list of cells.

    Cells are multi-index tuples; order by (value, C-order flat index) (superlevel: -value);
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

    cells.sort(key=lambda c: (sign * float(a[c]) + 0.0, flat(c)))
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


# ---------------------------------------------------------------- distances

# ---------------------------------------------------------------- dsl

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
    pearson = float("nan") if const else cov / (vx**0.5 * vy**0.5)
    return {
        "mse": mse,
        "rmse": mse**0.5,
        "mae": sum(ab) / n,
        "max_abs_error": max(ab),
        "psnr": psnr,
        "relative_l2_error": rel,
        "pearson": pearson,
    }


# ---------------------------------------------------------------- critical points

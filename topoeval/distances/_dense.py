"""The dense exact Wasserstein solvers for small diagrams (finite points only).

Hungarian method (Numba)
    The usual augmented assignment pairs the ``n + m`` points with the ``m + n``
    points and diagonal copies.  Because a diagonal copy costs nothing against
    another one, it reduces to a rectangular ``n x (m + n)`` assignment (``n <=
    m``): row ``i`` takes a point ``j`` at ``c[i, j] - py[j]`` or its own diagonal
    slot at ``px[i]``; the points of ``y`` left over go to the diagonal, which
    adds the constant ``sum(py)``.  Solved by the shortest-augmenting-path
    Hungarian method with potentials, ``O(n^2 (m + n))``, memory ``n * m``.  It lets
    :mod:`topoeval.distances` solve the diagrams of small fields without importing
    :mod:`scipy.optimize`, :mod:`scipy.spatial` or :mod:`scipy.sparse.csgraph` (about
    0.3 s of a 1.5 s command-line run).

POT (optional)
    POT's network simplex on the dense ``(n + 1) x (m + 1)`` transport form, used only in
    the window of sizes :mod:`.api` opens for it (empty by default; the tests force it as a
    third exact solver).

The costs come from :mod:`._metric`, the formulas of every other solver, so every solver
sees bit-identical costs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._metric import _cross_dist, _diag_dist

__all__: list[str] = []


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


def _dense_wasserstein(x: np.ndarray, y: np.ndarray, p: float, q: float):
    """Exact W_p^p of finite diagrams x (n, 2), y (m, 2) by a dense assignment (Numba).

    Returns (match_x, match_y): match_x[i] = j or -1 (diagonal), match_y[j] = i or -1.
    Memory n * m floats: for small diagrams (no SciPy or POT import).
    """
    n, m = len(x), len(y)
    match_x = np.full(n, -1, dtype=np.int64)
    match_y = np.full(m, -1, dtype=np.int64)
    if n == 0 or m == 0:
        return match_x, match_y
    if n > m:  # the kernel wants no more rows than columns
        match_y, match_x = _dense_wasserstein(y, x, p, q)
        return match_x, match_y
    c = _cross_dist(x, y, q) ** p
    match_x = wasserstein_assignment(c, _diag_dist(x, q) ** p, _diag_dist(y, q) ** p)
    sel = np.flatnonzero(match_x >= 0)
    match_y[match_x[sel]] = sel
    return match_x, match_y


def _pot_wasserstein(x: np.ndarray, y: np.ndarray, p: float, q: float):
    """Exact W_p^p matching by POT's network simplex on the (n+1) x (m+1) transport form
    (the last row/column is the diagonal); None when the plan is not a 0/1 matching."""
    import ot

    n, m = len(x), len(y)
    cost = np.zeros((n + 1, m + 1))
    cost[:n, :m] = _cross_dist(x, y, q) ** p
    cost[:n, m] = _diag_dist(x, q) ** p
    cost[n, :m] = _diag_dist(y, q) ** p
    # the network simplex works to an absolute tolerance: rescale the costs by a power of 2 (the
    # optimal matching does not change) so that the largest is about 1
    big = float(cost.max())
    if big > 0 and np.isfinite(big):
        cost *= 2.0 ** -np.round(np.log2(big))
    a = np.ones(n + 1)
    a[n] = m
    b = np.ones(m + 1)
    b[m] = n
    plan = ot.emd(a, b, cost, numItermax=2000000)
    block = plan[:n, :m]
    ones = block > 0.5
    if not (np.all((block == 0.0) | (block == 1.0)) and (ones.sum(axis=1) <= 1).all() and (ones.sum(axis=0) <= 1).all()):
        return None
    match_x = np.full(n, -1, dtype=np.int64)
    match_y = np.full(m, -1, dtype=np.int64)
    ii, jj = np.nonzero(ones)
    match_x[ii] = jj
    match_y[jj] = ii
    return match_x, match_y

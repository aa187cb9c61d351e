"""Essential points (an infinite coordinate): matched only within their own category.

As in gudhi and hera, a point with an infinite coordinate can only be matched at finite cost
with a point of the same *category* (which coordinates are infinite, and their signs):

========================  =====================  ==========================
category                  matched on             cost of a pair
========================  =====================  ==========================
(finite, +inf)            the birth              ``|b1 - b2|``
(finite, -inf)            the birth              ``|b1 - b2|``
(-inf, finite)            the death              ``|d1 - d2|``
(+inf, finite)            the death              ``|d1 - d2|``
(-inf, +inf)              (nothing finite)       0
(+inf, -inf)              (nothing finite)       0
========================  =====================  ==========================

Each category is a 1-D problem on its finite coordinate, solved exactly by matching in sorted
order (optimal for every ``|.|^p``, p >= 1, and for the maximum).  When the two diagrams have
different numbers of points of one category the distance is ``inf``; the surplus points go to
the "diagonal" at cost inf in the matching.  Points (-inf, -inf) and (+inf, +inf) lie on the
diagonal (gudhi's convention): matched with it at cost 0.  The (finite, -inf), (+inf, finite)
and (+inf, -inf) categories are the images of the others under negation (superlevel diagrams),
which keeps the distances invariant under that isometry.
"""

from __future__ import annotations

import numpy as np

__all__: list[str] = []

# (birth kind, death kind, the coordinate matched on or None); kinds: -1 = -inf, 0 finite, 1 = +inf
CATEGORIES = ((0, 1, 0), (0, -1, 0), (-1, 0, 1), (1, 0, 1), (-1, 1, None), (1, -1, None))


def _kind(v):
    return np.where(np.isfinite(v), 0, np.sign(v)).astype(np.int64)


def _split(a: np.ndarray):
    """Indices of the finite points, of each category of :data:`CATEGORIES` (a list), and of the
    points on the diagonal at infinity ((-inf, -inf), (+inf, +inf))."""
    kb, kd = _kind(a[:, 0]), _kind(a[:, 1])
    fin = np.flatnonzero((kb == 0) & (kd == 0))
    cats = [np.flatnonzero((kb == b) & (kd == d)) for b, d, _ in CATEGORIES]
    diag = np.flatnonzero((kb != 0) & (kb == kd))
    return fin, cats, diag


def _match_essential(a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray, axis):
    """Match the points ``a[ia]`` with ``b[ib]`` of one category by their sorted coordinate
    ``axis`` (None: no finite coordinate, every pair costs 0).

    Returns (rows of the matching as a list of (i, j, cost) arrays, costs array, equal_counts).
    Unequal counts: the surplus points go to the diagonal at cost inf.
    """
    if axis is None:
        sa, sb = ia, ib
    else:
        sa = ia[np.argsort(a[ia, axis], kind="stable")]
        sb = ib[np.argsort(b[ib, axis], kind="stable")]
    k = min(len(sa), len(sb))
    costs = np.zeros(k) if axis is None else np.abs(a[sa[:k], axis] - b[sb[:k], axis])
    rows = [np.column_stack([sa[:k], sb[:k], costs]).astype(np.float64)]
    if len(sa) > k:
        extra = sa[k:]
        rows.append(np.column_stack([extra, np.full(len(extra), -1.0), np.full(len(extra), np.inf)]))
    if len(sb) > k:
        extra = sb[k:]
        rows.append(np.column_stack([np.full(len(extra), -1.0), extra, np.full(len(extra), np.inf)]))
    return rows, costs, len(sa) == len(sb)


def essential_part(a, b, ca, cb, da, db):
    """Match every category of ``a`` (indices ``ca``, a list as from :func:`_split`) with the same
    of ``b``, and the diagonal points ``da``, ``db`` with the diagonal.

    Returns (matching rows, the cost arrays of the categories, whether all counts are equal)."""
    rows, costs, equal = [], [], True
    for (_, _, axis), ia, ib in zip(CATEGORIES, ca, cb):
        er, ec, eq = _match_essential(a, b, ia, ib, axis)
        rows.extend(er)
        costs.append(ec)
        equal &= eq
    rows.append(np.column_stack([da, np.full(len(da), -1.0), np.zeros(len(da))]))
    rows.append(np.column_stack([np.full(len(db), -1.0), db, np.zeros(len(db))]))
    return rows, costs, equal

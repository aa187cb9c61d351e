"""Essential (never-dying) points: matched only among their own kind, in order of birth.

Points whose death is ``+inf`` (sublevel diagrams) or ``-inf`` (superlevel diagrams) are matched
only with points of the same kind, by sorted birth, at cost ``|b1 - b2|``; when the two diagrams
have different numbers of one kind the distance is ``inf`` (as in gudhi), the surplus points
going to the "diagonal" at cost inf in the matching.
"""

from __future__ import annotations

import numpy as np

__all__: list[str] = []


def _split(a: np.ndarray):
    """Indices of the finite points, the +inf-death points and the -inf-death points."""
    d = a[:, 1]
    fin = np.flatnonzero(np.isfinite(d))
    pos = np.flatnonzero(d == np.inf)
    neg = np.flatnonzero(d == -np.inf)
    return fin, pos, neg


def _match_essential(a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray):
    """Match essential points of one kind by sorted birth.

    Returns (rows of the matching as a list of (i, j, cost) arrays, costs array, equal_counts).
    Unequal counts: the surplus points go to the diagonal at cost inf.
    """
    sa = ia[np.argsort(a[ia, 0], kind="stable")]
    sb = ib[np.argsort(b[ib, 0], kind="stable")]
    k = min(len(sa), len(sb))
    costs = np.abs(a[sa[:k], 0] - b[sb[:k], 0])
    rows = [np.column_stack([sa[:k], sb[:k], costs]).astype(np.float64)]
    if len(sa) > k:
        extra = sa[k:]
        rows.append(np.column_stack([extra, np.full(len(extra), -1.0), np.full(len(extra), np.inf)]))
    if len(sb) > k:
        extra = sb[k:]
        rows.append(np.column_stack([np.full(len(extra), -1.0), extra, np.full(len(extra), np.inf)]))
    return rows, costs, len(sa) == len(sb)

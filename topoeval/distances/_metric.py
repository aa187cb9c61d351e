"""The ground metric of the diagram distances, in NumPy, shared by every solver.

Every solver (dense, sparse, bottleneck, the essential categories) computes its costs with
these two functions, so all of them see bit-identical costs and their values agree exactly.
"""

from __future__ import annotations

import numpy as np


def _pair_dist(db, dd, q):
    """The ``q``-norm of the difference vectors ``(db, dd)`` (arrays of one shape)."""
    db = np.abs(db)
    dd = np.abs(dd)
    if q == np.inf:
        return np.maximum(db, dd)
    if q == 1.0:
        return db + dd
    if q == 2.0:
        return np.hypot(db, dd)
    return (db**q + dd**q) ** (1.0 / q)


def _diag_dist(pts, q):
    """Ground distance of each point (rows of ``pts``, shape (n, 2)) to its projection
    ((b + d) / 2, (b + d) / 2) on the diagonal.

    Computed from the projection (as gudhi does) so values agree bit for bit."""
    mid = (pts[:, 0] + pts[:, 1]) / 2.0
    return _pair_dist(pts[:, 0] - mid, pts[:, 1] - mid, q)


def _cross_dist(x, y, q):
    """The (n, m) matrix of ground distances between the rows of x (n, 2) and y (m, 2)."""
    return _pair_dist(x[:, None, 0] - y[None, :, 0], x[:, None, 1] - y[None, :, 1], q)

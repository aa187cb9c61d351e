"""The public distance functions: validation, the choice of solver, the assembled matching.

:func:`wasserstein_distance` and :func:`bottleneck_distance` check their options and diagrams,
split each diagram into finite and essential points (:mod:`._essential`), solve the finite part
with the solver its size calls for (:mod:`._dense`, :mod:`._sparse`, :mod:`._bottleneck`) and
assemble the matching rows of both parts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_diagram_array, check_choice
from ..errors import InvalidOptionError
from . import _bottleneck as _bn
from . import _sparse
from ._dense import _dense_wasserstein, _pot_wasserstein
from ._essential import _match_essential, _split
from ._metric import _cross_dist, _diag_dist, _pair_dist

__all__ = ["wasserstein_distance", "bottleneck_distance"]

_ESSENTIAL = ("match", "ignore")

# Solver by size: the dense assignment up to _DENSE_MAX_POINTS points in all, the sparse solver
# above (CPU time on this machine: 200 + 200 random points dense 0.006-0.008 s, sparse 0.005 s,
# POT 0.004-0.007 s; 368 + 373 (256^2 vs SZ3) dense 0.011 / 0.052 s (W1 / W2), POT 0.02 s,
# sparse 0.006 / 0.008 s; 1,360 + 1,360 (512^2 vs ZFP) dense 0.18 / 2.5 s, POT 0.20 / 0.23 s,
# sparse 0.02 / 0.04 s; 1,874 + 1,871 (noise 128^2) POT 0.9 s, sparse 0.08 / 0.09 s).  POT's
# network simplex on the dense (n+1) x (m+1) form is never clearly faster and `import ot` costs
# ~3 s of CPU (it loads torch): it is used only for n * m in [_POT_COLD_MIN_PAIRS,
# _POT_MAX_PAIRS], empty by default (the tests force it as a third exact solver).
_POT_MAX_PAIRS = 0
_DENSE_MAX_POINTS = 300
_DENSE_MAX_WORK = 8_000_000
_POT_COLD_MIN_PAIRS = 90_000
# the dense bottleneck (Numba, no SciPy import) up to this many pairs; KD-trees above
_DENSE_BOTTLENECK_MAX_PAIRS = 90_000


# ----------------------------------------------------------------------------- validation


def _check_norm(value: Any, name: str, *, allow_inf: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidOptionError(f"{name}={value!r} is not a number; pass a real number >= 1") from None
    if np.isnan(v) or v < 1 or (np.isinf(v) and not allow_inf):
        fin = " (or np.inf)" if allow_inf else ""
        raise InvalidOptionError(f"{name}={value!r} is not valid; pass a real number >= 1{fin}")
    return v


def _prepare(dgm1: Any, dgm2: Any, essential: str):
    check_choice(essential, "essential", _ESSENTIAL)
    a = as_diagram_array(dgm1, "dgm1")
    b = as_diagram_array(dgm2, "dgm2")
    return a, b


# ----------------------------------------------------------------------------- solver choice


def _solve_wasserstein(x: np.ndarray, y: np.ndarray, p: float, q: float):
    n, m = len(x), len(y)
    if n == 0 or m == 0:
        return _dense_wasserstein(x, y, p, q)
    if _POT_COLD_MIN_PAIRS <= n * m <= _POT_MAX_PAIRS:
        res = _pot_wasserstein(x, y, p, q)
        if res is not None:
            return res
    # the dense Hungarian costs ~min(n, m)**2 * (n + m): unbalanced pairs stay dense longer (54 x 308
    # points 0.7 ms vs sparse 3.5 ms; 50 x 3000 7 / 12 ms vs 29 / 33 ms, W1 / W2), which also spares a
    # small comparison the import of scipy.spatial (start-up, test_assignment.py)
    small = min(n, m) ** 2 * (n + m) <= _DENSE_MAX_WORK and n * m <= 1_000_000
    if n + m <= _DENSE_MAX_POINTS or small:
        return _dense_wasserstein(x, y, p, q)
    return _sparse.sparse_wasserstein(x, y, p, q)


def _matching_rows(x_idx, y_idx, match_x, match_y, x, y, q):
    """(k, 3) rows [i, j, cost] of a finite matching, indices mapped to the original diagrams."""
    ii = np.flatnonzero(match_x >= 0)
    jj = match_x[ii]
    pc = _pair_dist(x[ii, 0] - y[jj, 0], x[ii, 1] - y[jj, 1], q)
    ui = np.flatnonzero(match_x < 0)
    uj = np.flatnonzero(match_y < 0)
    rows = [
        np.column_stack([x_idx[ii], y_idx[jj], pc]),
        np.column_stack([x_idx[ui], np.full(len(ui), -1.0), _diag_dist(x[ui], q)]),
        np.column_stack([np.full(len(uj), -1.0), y_idx[uj], _diag_dist(y[uj], q)]),
    ]
    return rows


def _finish_matching(rows):
    rows = [np.asarray(r, dtype=np.float64).reshape(-1, 3) for r in rows]
    out = np.concatenate(rows, axis=0) if rows else np.empty((0, 3))
    # sort by dgm1 index (diagonal rows of dgm2 last), then dgm2 index
    key_i = np.where(out[:, 0] < 0, np.inf, out[:, 0])
    order = np.lexsort((out[:, 1], key_i))
    return out[order]


# ----------------------------------------------------------------------------- public API


def wasserstein_distance(
    dgm1: Any,
    dgm2: Any,
    *,
    order: float = 1.0,
    internal_p: float = 2.0,
    matching: bool = False,
    essential: str = "match",
):
    """Exact ``order``-Wasserstein distance between two persistence diagrams.

    Parameters
    ----------
    dgm1, dgm2 : Diagram or array_like, shape (n, 2) and (m, 2)
        Diagrams as ``[birth, death]`` rows (a :class:`topoeval.Diagram` or any
        array-like); empty diagrams are allowed.  Sublevel (birth <= death) and
        superlevel (birth >= death) diagrams are both handled; deaths may be
        ``+inf`` or ``-inf`` (never-dying classes), births must be finite.
    order : float, default 1.0
        The exponent ``p >= 1`` of the Wasserstein distance
        ``(sum of ground distances ** p) ** (1 / p)``.  ``np.inf`` gives the
        bottleneck distance.
    internal_p : float, default 2.0
        The norm ``q >= 1`` (``np.inf`` allowed) of the ground metric between
        points.  2 is the Euclidean metric used in the DSL paper.
    matching : bool, default False
        Also return an optimal matching.
    essential : {"match", "ignore"}, default "match"
        ``"match"``: points with infinite death are matched only with points
        with the same infinite death, by sorted birth, at cost
        ``|b1 - b2|``; different numbers of them give ``inf``.  ``"ignore"``:
        leave them out.

    Returns
    -------
    distance : float
        The Wasserstein distance (``inf`` when the essential parts differ in size).
    matching : ndarray, shape (k, 3), float64
        Only with ``matching=True``: rows ``[i, j, cost]``, ``i`` indexing
        rows of ``dgm1``, ``j`` rows of ``dgm2``, ``-1`` standing for the
        diagonal; ``cost`` is the ground distance (not its ``order``-th power)
        of the pair.  Every point of both diagrams appears exactly once (with
        ``essential="ignore"`` essential points are left out), and
        ``(matching[:, 2] ** order).sum() ** (1 / order)`` equals ``distance``.

    Raises
    ------
    InvalidInputError
        If a diagram is not an (n, 2) array, holds NaN or an infinite birth.
    InvalidOptionError
        If ``order < 1``, ``internal_p < 1`` or ``essential`` is unknown.

    See Also
    --------
    bottleneck_distance

    Notes
    -----
    Equals ``gudhi.wasserstein.wasserstein_distance(dgm1, dgm2, order=order,
    internal_p=internal_p, keep_essential_parts=True)`` up to rounding.  Small
    problems (``n + m <= 300``) are solved by a dense assignment; larger ones by a
    sparse max-weight flow on k-nearest-neighbour candidate pairs whose optimality
    over all pairs is certified with a KD-tree (memory proportional to the number
    of candidate pairs, not ``n * m``); see :mod:`topoeval.distances._sparse`.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> a = np.array([[0.0, 2.0], [1.0, 1.5]])
    >>> b = np.array([[0.0, 2.5]])
    >>> te.wasserstein_distance(a, b, order=1, internal_p=np.inf)
    0.75
    >>> d, m = te.wasserstein_distance(a, b, order=1, internal_p=np.inf, matching=True)
    >>> m
    array([[ 0.  ,  0.  ,  0.5 ],
           [ 1.  , -1.  ,  0.25]])
    """
    p = _check_norm(order, "order")
    q = _check_norm(internal_p, "internal_p")
    if not isinstance(matching, (bool, np.bool_)):
        raise InvalidOptionError(f"matching={matching!r} is not valid; pass True or False")
    a, b = _prepare(dgm1, dgm2, essential)
    if p == np.inf:
        return _bottleneck(a, b, q, bool(matching), essential)
    fa, pa, na = _split(a)
    fb, pb, nb = _split(b)
    x, y = a[fa], b[fb]
    match_x, match_y = _solve_wasserstein(x, y, p, q)
    rows = _matching_rows(fa, fb, match_x, match_y, x, y, q)
    costs = np.concatenate([r[:, 2] for r in rows]) if rows else np.empty(0)
    total = float(np.sum(costs**p)) if len(costs) else 0.0
    if essential == "match":
        equal = True
        for ia, ib in ((pa, pb), (na, nb)):
            er, ec, eq = _match_essential(a, b, ia, ib)
            rows.extend(er)
            equal &= eq
            total += float(np.sum(ec**p))
        if not equal:
            total = np.inf
    dist = float(total ** (1.0 / p)) if np.isfinite(total) else float(np.inf)
    if matching:
        return dist, _finish_matching(rows)
    return dist


def _bottleneck(a: np.ndarray, b: np.ndarray, q: float, want_matching: bool, essential: str):
    fa, pa, na = _split(a)
    fb, pb, nb = _split(b)
    x, y = a[fa], b[fb]
    if 0 < len(x) * len(y) <= _DENSE_BOTTLENECK_MAX_PAIRS:
        d = _cross_dist(x, y, q)
        value, match_x, match_y = _bn.bottleneck_dense(d, _diag_dist(x, q), _diag_dist(y, q))
    else:
        value, match_x, match_y = _bn.bottleneck_finite(x, y, q)
    rows = _matching_rows(fa, fb, match_x, match_y, x, y, q) if want_matching else []
    if essential == "match":
        for ia, ib in ((pa, pb), (na, nb)):
            er, ec, eq = _match_essential(a, b, ia, ib)
            rows.extend(er)
            if not eq:
                value = np.inf
            elif len(ec):
                value = max(value, float(ec.max()))
    value = float(value)
    if want_matching:
        return value, _finish_matching(rows)
    return value


def bottleneck_distance(
    dgm1: Any,
    dgm2: Any,
    *,
    internal_p: float = np.inf,
    matching: bool = False,
    essential: str = "match",
):
    """Exact bottleneck distance between two persistence diagrams.

    Parameters
    ----------
    dgm1, dgm2 : Diagram or array_like, shape (n, 2) and (m, 2)
        Diagrams as ``[birth, death]`` rows; empty diagrams are allowed; see
        :func:`wasserstein_distance`.
    internal_p : float, default np.inf
        The norm ``q >= 1`` (``np.inf`` allowed) of the ground metric.  The
        default ``np.inf`` is the usual (and gudhi's) bottleneck distance.
    matching : bool, default False
        Also return an optimal matching.
    essential : {"match", "ignore"}, default "match"
        How to treat points with infinite death; see :func:`wasserstein_distance`.

    Returns
    -------
    distance : float
        The smallest achievable largest ground distance of a matched pair.
    matching : ndarray, shape (k, 3), float64
        Only with ``matching=True``: rows ``[i, j, cost]`` as in
        :func:`wasserstein_distance`; ``matching[:, 2].max()`` equals
        ``distance``.

    Raises
    ------
    InvalidInputError
        If a diagram is not an (n, 2) array, holds NaN or an infinite birth.
    InvalidOptionError
        If ``internal_p < 1`` or ``essential`` is unknown.

    See Also
    --------
    wasserstein_distance

    Notes
    -----
    Equals ``gudhi.bottleneck_distance(dgm1, dgm2, e=0)`` for
    ``internal_p=np.inf``.  The value is always one of the pairwise or
    point-to-diagonal distances; it is found by testing the lower bound
    ``max over points of min(distance to the diagonal, distance to the nearest
    point of the other diagram)`` first, then by exponential and binary search
    over the exact candidate values with Hopcroft-Karp matchings.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> a = np.array([[0.0, 2.0], [1.0, 1.5]])
    >>> b = np.array([[0.0, 2.5]])
    >>> te.bottleneck_distance(a, b)
    0.5
    >>> te.bottleneck_distance([[0.0, np.inf]], [[1.0, np.inf]])
    1.0
    """
    q = _check_norm(internal_p, "internal_p")
    if not isinstance(matching, (bool, np.bool_)):
        raise InvalidOptionError(f"matching={matching!r} is not valid; pass True or False")
    a, b = _prepare(dgm1, dgm2, essential)
    return _bottleneck(a, b, q, bool(matching), essential)

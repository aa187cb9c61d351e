"""The public distance functions: validation, the choice of solver, the assembled matching.

:func:`wasserstein_distance` and :func:`bottleneck_distance` check their options and diagrams,
split each diagram into finite and essential points (:mod:`._essential`), solve the finite part
with the solver its size calls for (:mod:`._dense`, :mod:`._sparse`, :mod:`._bottleneck`) and
assemble the matching rows of both parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .._validation import as_diagram_array, check_choice
from ..errors import InsufficientMemoryError, InvalidOptionError
from . import _bottleneck as _bn
from . import _sparse
from ._dense import _dense_wasserstein, _pot_wasserstein
from ._essential import _split, essential_part
from ._metric import _cross_dist, _diag_dist, _pair_dist

__all__ = ["wasserstein_distance", "bottleneck_distance", "WassersteinResult"]

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
# with a tolerance > 0, the auction (_auction.py) from this many finite points in all: the sparse
# exact solver routes merged points slowly (a quantised copy's hundreds of copies per location:
# 30k + 24k points 6.7 s, 72k + 56k 65 s, 244k + 190k > 900 s; the auction solves 4.6 M + 3.6 M in
# ~10 s).  On duplicate-free diagrams it wins when they are close (a 420^2 noise field and a
# perturbed copy, 20k + 20k points, W1 at 1e-3: 4.6 s CPU vs 9.8 s for the sparse solver with the
# same tolerance) and loses when they are unrelated (two independent noise fields: 25.6 vs 11.2 s);
# the compressor case is the first, so the size alone decides.
_AUCTION_MIN_POINTS = 20_000
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
    a = as_diagram_array(dgm1, "dgm1", infinite_births=True)
    b = as_diagram_array(dgm2, "dgm2", infinite_births=True)
    return a, b


def _check_tolerance(value: Any) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidOptionError(f"tolerance={value!r} is not a number; pass a relative gap such as 1e-3, or None") from None
    if not (0.0 <= v < 1.0):
        raise InvalidOptionError(f"tolerance={value!r} is not valid; pass a relative gap in [0, 1) such as 1e-3, or None")
    return v


@dataclass(frozen=True)
class WassersteinResult:
    """A Wasserstein distance with its certified bounds (``tolerance=`` or ``details=True``).

    Attributes
    ----------
    value : float
        The cost of the returned matching (an upper bound; the distance itself when ``exact``).
    lower, upper : float
        Certified bounds: ``lower <= W <= upper`` (``upper == value``); the lower bound comes
        from a dual solution feasible for every pair (weak LP duality).
    order, internal_p : float
        ``p`` and ``q``.
    tolerance : float or None
        The relative gap asked for.
    matching : ndarray, shape (k, 3), or None
        With ``matching=True``: the rows ``[i, j, cost]`` (see :func:`wasserstein_distance`).

    Examples
    --------
    >>> import topoeval as te
    >>> r = te.wasserstein_distance([[0.0, 2.0]], [[0.0, 2.5]], tolerance=1e-3)
    >>> r.value, r.lower, r.exact
    (0.5, 0.5, True)
    >>> print(r)
    W1 = 0.5 (exact)
    """

    value: float
    lower: float
    upper: float
    order: float
    internal_p: float
    tolerance: float | None = None
    matching: np.ndarray | None = None

    @property
    def exact(self) -> bool:
        """Whether the bounds meet (the value is optimal)."""
        return self.lower == self.upper

    @property
    def gap(self) -> float:
        """The certified relative gap ``(upper - lower) / lower`` (0 when exact)."""
        if self.exact:
            return 0.0
        return (self.upper - self.lower) / self.lower if self.lower > 0 else float("inf")

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        name = "W" + ("inf" if self.order == np.inf else f"{self.order:g}")
        if self.exact:
            return f"{name} = {self.value:.6g} (exact)"
        return f"{name} = {self.value:.6g}, certified within +-{self.gap:.2g} (in [{self.lower:.6g}, {self.upper:.6g}])"


# ----------------------------------------------------------------------------- solver choice


def _solve_wasserstein(x: np.ndarray, y: np.ndarray, p: float, q: float, tolerance=None, progress=None):
    """(match_x, match_y, lower): an optimal matching of the finite points, or with
    ``tolerance`` one certified within it and the lower bound of W_p^p (None when optimal)."""
    n, m = len(x), len(y)
    if n == 0 or m == 0:
        return (*_dense_wasserstein(x, y, p, q), None)
    if _POT_COLD_MIN_PAIRS <= n * m <= _POT_MAX_PAIRS:
        res = _pot_wasserstein(x, y, p, q)
        if res is not None:
            return (*res, None)
    # the dense Hungarian costs ~min(n, m)**2 * (n + m): unbalanced pairs stay dense longer (54 x 308
    # points 0.7 ms vs sparse 3.5 ms; 50 x 3000 7 / 12 ms vs 29 / 33 ms, W1 / W2), which also spares a
    # small comparison the import of scipy.spatial (start-up, test_assignment.py)
    small = min(n, m) ** 2 * (n + m) <= _DENSE_MAX_WORK and n * m <= 1_000_000
    if n + m <= _DENSE_MAX_POINTS or small:
        return (*_dense_wasserstein(x, y, p, q), None)
    if tolerance is None and progress is None:  # (the exact call, as tests spy on it)
        return (*_sparse.sparse_wasserstein(x, y, p, q), None)
    if tolerance and n + m >= _AUCTION_MIN_POINTS:
        from ._auction import auction_wasserstein

        match_x, match_y, stats = auction_wasserstein(x, y, p, q, tolerance, progress)
        return match_x, match_y, None if stats["optimal"] else stats["lower"]
    match_x, match_y, stats = _sparse.sparse_wasserstein(x, y, p, q, return_stats=True, tolerance=tolerance,
                                                         progress=progress)
    return match_x, match_y, None if stats["optimal"] else stats["lower"]


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
    tolerance: float | None = None,
    details: bool = False,
    progress: Callable[[dict], None] | None = None,
):
    """Exact (or certified within ``tolerance``) ``order``-Wasserstein distance between two persistence diagrams.

    Parameters
    ----------
    dgm1, dgm2 : Diagram or array_like, shape (n, 2) and (m, 2)
        Diagrams as ``[birth, death]`` rows (a :class:`topoeval.Diagram` or any
        array-like); empty diagrams are allowed.  Sublevel (birth <= death) and
        superlevel (birth >= death) diagrams are both handled; coordinates may be
        ``+inf`` or ``-inf`` (essential points, matched within their category as
        in gudhi and hera: see :mod:`topoeval.distances._essential`), not NaN.
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
        ``"match"``: points with an infinite coordinate are matched only with
        points of the same category ((finite, +inf), (-inf, finite), (-inf, +inf)
        and their negatives), by their sorted finite coordinate, at cost
        ``|b1 - b2|`` (or ``|d1 - d2|``; 0 for (-inf, +inf)); different numbers
        of one category give ``inf``.  (-inf, -inf) and (+inf, +inf) lie on the
        diagonal (cost 0).  ``"ignore"``: leave every such point out.
    tolerance : float, optional
        A relative gap ``delta`` in [0, 1): stop the large-diagram solver once the
        value is certified within ``delta`` of the optimum (``lower <= W <= value
        <= (1 + delta) * lower``), and return a :class:`WassersteinResult` with the
        bounds.  Small problems, and any the solver finishes exactly, give
        ``lower == value``.  With ``tolerance > 0`` and at least 20,000 finite
        points in all, an auction with epsilon-scaling solves it (hera's, with
        duplicate points merged into classes of copies: :mod:`topoeval.distances._auction`;
        a 4.6 and a 3.6 million-point diagram, one quantised, in 12 s of CPU);
        ``tolerance=0`` keeps the exact solver.  None (default): the exact distance, returned as before.
    details : bool, default False
        Return a :class:`WassersteinResult` even without ``tolerance``.
    progress : callable, optional
        Called by the large-diagram solver with a dict: ``{"stage": "route",
        "round", "done", "total"}`` while it routes (about 20 calls a round) and
        ``{"stage": "round", "round", "lower", "upper", "violations"}`` after
        each round (bounds of ``W ** order`` on the finite points, with
        ``tolerance``; else None); the auction calls only the latter, once per
        epsilon phase (``violations`` None).

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
    result : WassersteinResult
        Instead of the above, with ``tolerance`` or ``details=True``: the value,
        its certified bounds and (with ``matching=True``) the matching.

    Raises
    ------
    InvalidInputError
        If a diagram is not an (n, 2) array or holds NaN.
    InvalidOptionError
        If ``order < 1``, ``internal_p < 1``, ``essential`` is unknown or
        ``tolerance`` is not in [0, 1).

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
    >>> te.wasserstein_distance([[-np.inf, 1.0]], [[-np.inf, 3.0]])
    2.0
    >>> print(te.wasserstein_distance(a, b, internal_p=np.inf, tolerance=1e-3))
    W1 = 0.75 (exact)
    """
    p = _check_norm(order, "order")
    q = _check_norm(internal_p, "internal_p")
    if not isinstance(matching, (bool, np.bool_)):
        raise InvalidOptionError(f"matching={matching!r} is not valid; pass True or False")
    tol = _check_tolerance(tolerance)
    if progress is not None and not callable(progress):
        raise InvalidOptionError(f"progress={progress!r} is not callable; pass a function of one dict or None")
    a, b = _prepare(dgm1, dgm2, essential)
    if p == np.inf:  # the bottleneck distance: always exact
        out = _bottleneck(a, b, q, bool(matching), essential)
        if tol is None and not details:
            return out
        dist, m = out if matching else (out, None)
        return WassersteinResult(dist, dist, dist, p, q, tol, m)
    fa, ca, da = _split(a)
    fb, cb, db = _split(b)
    x, y = a[fa], b[fb]
    match_x, match_y, lower = _solve_wasserstein(x, y, p, q, tol, progress)
    rows = _matching_rows(fa, fb, match_x, match_y, x, y, q)
    costs = np.concatenate([r[:, 2] for r in rows]) if rows else np.empty(0)
    total = float(np.sum(costs**p)) if len(costs) else 0.0
    if essential == "match":
        er, ecosts, equal = essential_part(a, b, ca, cb, da, db)
        rows.extend(er)
        for ec in ecosts:
            extra = float(np.sum(ec**p))
            total += extra
            if lower is not None:
                lower += extra
        if not equal:
            total = np.inf
    dist = float(total ** (1.0 / p)) if np.isfinite(total) else float(np.inf)
    m = _finish_matching(rows) if matching else None
    if tol is None and not details:
        return (dist, m) if matching else dist
    low = dist if lower is None or not np.isfinite(dist) else min(dist, max(lower, 0.0) ** (1.0 / p))
    return WassersteinResult(dist, low, dist, p, q, tol, m)


def _bottleneck(a: np.ndarray, b: np.ndarray, q: float, want_matching: bool, essential: str):
    fa, ca, da = _split(a)
    fb, cb, db = _split(b)
    x, y = a[fa], b[fb]
    if 0 < len(x) * len(y) <= _DENSE_BOTTLENECK_MAX_PAIRS:
        d = _cross_dist(x, y, q)
        value, match_x, match_y = _bn.bottleneck_dense(d, _diag_dist(x, q), _diag_dist(y, q))
    else:
        try:
            value, match_x, match_y = _bn.bottleneck_finite(x, y, q)
        except InsufficientMemoryError:  # the listing's own check: its message names the pairs
            raise
        except MemoryError as exc:  # scipy's pair lists (std::bad_alloc): one clear error, not a crash
            raise InsufficientMemoryError(
                f"the exact bottleneck distance of diagrams with {len(x)} and {len(y)} finite points ran out "
                "of memory listing its candidate pairs (many repeated points, e.g. a heavily quantised "
                "reconstruction, make them grow fast); run it on a machine with more memory, or on "
                "diagrams thinned by persistence"
            ) from exc
    rows = _matching_rows(fa, fb, match_x, match_y, x, y, q) if want_matching else []
    if essential == "match":
        er, ecosts, equal = essential_part(a, b, ca, cb, da, db)
        rows.extend(er)
        for ec in ecosts:
            if len(ec):
                value = max(value, float(ec.max()))
        if not equal:
            value = np.inf
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
        How to treat points with an infinite coordinate; see :func:`wasserstein_distance`.

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
        If a diagram is not an (n, 2) array or holds NaN.
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

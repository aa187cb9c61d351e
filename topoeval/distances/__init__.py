"""Exact Wasserstein and bottleneck distances between persistence diagrams.

Both distances match the points of two diagrams with each other or with their
orthogonal projections onto the diagonal and minimise, over all such partial
matchings, the ``order``-norm (Wasserstein) or the maximum (bottleneck) of the
ground distances of the matched pairs.  The ground distance between two points
is the ``internal_p``-norm of their difference; a point ``(b, d)`` is at
distance ``|d - b| / 2 * 2 ** (1 / internal_p)`` from the diagonal.

Both functions are exact (no approximation factor).  The package, one solver a module:

``api``           the public functions: validation, the choice of solver by size, the
                  assembled matching of finite and essential points
``_metric``       the ground metric (NumPy), shared by every solver so costs agree bit for bit
``_essential``    essential (never-dying) points, matched among their own kind
``_dense``        small Wasserstein problems: a Numba Hungarian method on the reduced
                  ``n x (m + n)`` assignment, and POT's network simplex (tests only by default)
``_sparse``       large Wasserstein problems: a max-weight flow by shortest augmenting paths on
                  pruned k-nearest-neighbour candidate pairs (duplicate points merged into
                  weighted points) ...
``_certificate``  ... whose optimality is proved over *all* omitted pairs with a KD-tree
``_bottleneck``   the bottleneck distance: Hopcroft-Karp threshold matchings and their search,
                  all pairs as candidates for small diagrams, KD-tree neighbours for large ones

Essential points (an infinite coordinate: (finite, +inf) of sublevel diagrams,
(finite, -inf) of superlevel ones, (-inf, finite), (-inf, +inf), ...) are
matched only within their category, by their sorted finite coordinate; when the
two diagrams have different numbers of one category the distance is ``inf`` (as
in gudhi and hera).  ``essential="ignore"`` leaves them out.

``wasserstein_distance(..., tolerance=1e-3)`` stops the large-diagram solver at a
certified relative gap and returns a :class:`WassersteinResult` with the bounds.
"""

from __future__ import annotations

from .api import WassersteinResult, bottleneck_distance, wasserstein_distance

__all__ = ["wasserstein_distance", "bottleneck_distance", "WassersteinResult"]

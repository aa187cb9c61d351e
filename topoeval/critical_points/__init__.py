"""Critical points of grid arrays, and how well a reconstruction preserves them.

Every cell of a d-dimensional array is a vertex of a simplicial complex built on the grid;
its *link* is the set of its neighbours (with the edges between them), its *lower link*
the neighbours below it and its *upper link* the neighbours above it.  Counting the
connected components ``c-`` / ``c+`` of the lower / upper link classifies the cell
(the convention of TTK's ``ScalarFieldCriticalPoints``):

* ``c- = 0``: **minimum** (code 1, multiplicity 1);
* ``c+ = 0`` (and ``c- >= 1``): **maximum** (code 5, multiplicity 1);
* ``c- = c+ = 1``: **regular** (code 0);
* otherwise, in 2-D: **saddle** (code 2, multiplicity ``max(c-, c+) - 1``);
* otherwise, in >= 3-D: **1-saddle** (code 3, a *join*: ``c- >= 2, c+ = 1``, multiplicity
  ``c- - 1``), **2-saddle** (code 4, a *split*: ``c- = 1, c+ >= 2``, multiplicity ``c+ - 1``)
  or **degenerate** (code 6: ``c- >= 2`` and ``c+ >= 2``, multiplicity ``c- + c+ - 2``);
* a non-finite cell left out with ``nan_policy="omit"``: code -1.

A saddle of multiplicity > 1 (a 2-D monkey saddle, a 3-D 1-saddle whose lower link has
three components ...) and every code-6 cell is *degenerate* (:attr:`CriticalPoints.degenerate`).
(A sampled monkey saddle ``Re((x + iy)**3)`` is resolved by the Freudenthal link; in the
8-neighbourhood the chords between axis neighbours usually merge two of its valleys and it
shows as a simple saddle.)
A 1-D array has only minima, maxima and regular cells; in >= 4-D the saddles of
intermediate index have connected lower and upper links and are classified regular.
The dimension that decides the kinds is the number of axes longer than 1 (a
``(1, n, m)`` array is classified like an ``(n, m)`` one).  A cell with an empty link (a
one-cell array, or a cell cut off by omitted non-finite cells) is a minimum.

Conventions
-----------
* **Ties: simulation of simplicity.**  Cell ``p`` is below cell ``q`` iff
  ``(a[p], p) < (a[q], q)``, ``p`` and ``q`` being C-order flat indices: the total order
  of TTK (vertex id as tie-breaker) and of :func:`topoeval.persistence_diagram`'s sublevel
  filtration.  On a plateau the minimum is therefore its first cell in C order and the
  maximum its last.  Values are compared exactly in the array's own dtype.
* **Connectivity.**  ``"full"`` (default): the ``3**d - 1`` cells of the surrounding cube
  are neighbours and two neighbours are joined in the link iff they are neighbours of
  each other (the clique complex of the grid graph; each unit cube is a simplex).  This is
  the neighbourhood of the persistence diagrams of :func:`topoeval.persistence_diagram`
  (``connectivity="full"``, as gudhi's ``CubicalComplex(top_dimensional_cells=a)`` and
  cripser, i.e. the paper-style diagrams): the minima are exactly the births of the
  sublevel diagram (``keep_zero=True``), the maxima those of the superlevel diagram (the
  engine breaks ties by the same simulation of simplicity: superlevel ties enter by
  descending flat index), and every death cell of the
  sublevel (superlevel) diagram has a disconnected lower (upper) link, with at most
  ``c - 1`` deaths (in 1-D these merge cells are the maxima / minima).  ``"freudenthal"``: the Freudenthal (Kuhn) triangulation of the grid used by TTK:
  neighbours are the offsets ``o`` and ``-o`` for every ``o`` in ``{0, 1}**d`` except 0
  (6 in 2-D, 14 in 3-D, ``2 * (2**d - 1)`` in d-D), i.e. every unit cube is cut into
  ``d!`` simplices along its main diagonal ``(i, j, ...) -> (i+1, j+1, ...)`` (index
  order).  Its links are circles (2-D) / 2-spheres (3-D), so the counts obey the Morse
  relations (see "Euler characteristic" below); the full link of the
  8-neighbourhood is not a circle (a cell whose four axis neighbours are all lower but a
  diagonal one is higher has a lower link with a hole, yet one component), so there only
  the persistence relations hold.
* **Boundary.**  The link is restricted to the domain: cells outside the array (and, with
  ``nan_policy="omit"``, non-finite cells) are simply not neighbours.  A cell on the edge
  whose in-domain neighbours are all higher is a minimum, as in the persistence diagrams.

Euler characteristic
--------------------
With ties broken by simulation of simplicity, every simplex of the triangulated box has a
highest vertex, and the simplices whose highest vertex is ``v`` form the cone over the lower
link minus the lower link itself; so ``sum over cells of (1 - chi(lower link)) = chi(box) = 1``
for both connectivities (``"full"``: the clique complex, a union of one simplex per unit cube,
is contractible).  On the Freudenthal triangulation ``chi(lower link)`` follows from the
classification:

* 2-D: interior links are hexagons, boundary links paths, so ``chi = c-`` except for an
  interior maximum (the whole circle, ``chi = 0``).  Hence, for every 2-D array,
  ``#minima - sum over saddles of (c- - 1) + #interior maxima == 1`` and, mirrored,
  ``#maxima - sum over saddles of (c+ - 1) + #interior minima == 1``.
* 3-D: an interior link is a triangulated 2-sphere (14 vertices, 36 edges, 24 triangles); by
  Alexander duality ``chi(lower link) = c- - c+ + 1`` (2 for a maximum), so an interior cell
  contributes ``+1`` (minimum), ``-(c- - 1)`` (1-saddle), ``+(c+ - 1)`` (2-saddle),
  ``(c+ - c-)`` (degenerate), ``-1`` (maximum): on a closed domain ``#min - #1-saddles +
  #2-saddles - #max = 0``.  A boundary link is a disk, where a lower link can have a hole
  without being disconnected (the top of a face on a higher interior: a boundary 2-saddle),
  which component counting - here as in TTK - classifies as regular.

With ``"full"`` connectivity the 8-neighbourhood link is not a circle (the four axis neighbours
form an unfilled square), a lower link can have a hole with a single component, and these
identities fail; what holds exactly instead are the persistence relations above.

The preservation measures (:func:`critical_point_errors`) compare the type of every cell
in the original with its type in the reconstruction (TopoSZ, Liang et al. 2023):
*false negatives* (critical in the original, regular in the reconstruction), *false
positives* (regular in the original, critical in the reconstruction) and *false types*
(critical in both, with different types).  The three are disjoint.

Modules: ``_codes`` (type codes and names, shared checks), ``_engine`` (the kernel drivers:
link tables, classification, simulation-of-simplicity order, per-cell persistence),
``points`` (:func:`critical_points`, :class:`CriticalPoints`), ``preservation``
(:func:`critical_point_errors`, :class:`CriticalPointErrors`).
"""

from __future__ import annotations

from ._codes import CONNECTIVITIES  # noqa: F401 - part of the module's documented surface
from ._engine import _link, _sos_order  # noqa: F401 - used by tests and benchmarks
from .points import CriticalPoints, critical_points
from .preservation import CriticalPointErrors, critical_point_errors

__all__ = ["CriticalPointErrors", "CriticalPoints", "critical_point_errors", "critical_points"]

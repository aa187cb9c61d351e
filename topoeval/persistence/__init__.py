"""0-D persistence diagrams of grid arrays (sublevel and superlevel sets).

A d-dimensional array is read as a cubical complex of top-dimensional cells (one cell
per array element, the *T-construction*).  Its 0-D persistence diagram records when
connected components of the sublevel sets ``{a <= t}`` are born (at local minima) and
when they merge (at saddles), by the elder rule: of two merging components the one
born later dies.  The superlevel variant does the same for the superlevel sets
``{a >= t}`` (maxima).

Conventions
-----------
* **Cells and neighbours.**  ``connectivity="full"`` joins cells that share any face,
  i.e. the ``3**d - 1`` cells of the surrounding cube; this is what
  ``gudhi.CubicalComplex(top_dimensional_cells=a)`` and ``cripser.computePH_T`` compute.
  ``connectivity="face"`` joins only the ``2*d`` cells that share a (d-1)-face.
* **Filtration order.**  Cells enter by value, ties broken by the C-order flat index
  of the cell (``np.ravel_multi_index``); the superlevel filtration orders by
  ``-value`` and then *descending* flat index (simulation of simplicity on ``-a``, as
  :func:`topoeval.critical_points` and TTK do, so maxima are exactly its birth cells).  Values are compared as float64 (``-0.0 == 0.0``).
  The diagram as a multiset does not depend on the tie-breaking, but the critical-cell
  indices do; with this rule they are deterministic.
* **Elder rule.**  When a cell joins several components, all but the one whose birth
  cell entered the filtration first die at the value of that cell (the *death cell*).
* **Values.**  Births and deaths are the array's own values, as float64.  A sublevel
  class that never dies has death ``+inf``.  **Superlevel diagrams are stored in the
  original values**: a maximum at 10 that merges at a saddle at 3 is the pair
  ``(10, 3)`` (birth above death) and a never-dying class has death ``-inf``; this is
  the sublevel diagram of ``-a`` with both coordinates negated.
* **Pair order.**  Pairs are listed in the order in which their birth cells enter the
  filtration: sublevel by ascending (birth, flat index of the birth cell), superlevel by
  descending (birth, flat index).
"""

from .diagram import Diagram
from .cubical import persistence_diagrams
from .grid import persistence_diagram
from .layout import _Layout  # noqa: F401  (tests build layouts directly)

__all__ = ["Diagram", "persistence_diagram", "persistence_diagrams"]

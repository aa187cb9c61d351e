"""Pictures of a comparison: persistence diagrams, matchings, mismatch maps, critical points, fields.

One module per kind of picture: :mod:`.diagrams` (:func:`plot_diagram`), :mod:`.matching`
(:func:`plot_matching`), :mod:`.fields` (:func:`plot_fields`), :mod:`.maps` (the maps of
wrong cells over the original: :func:`plot_mismatch`, :func:`plot_segmentation`), :mod:`.critical`
(:func:`plot_critical_points`); :mod:`.base` holds the style, the figure helpers and the
palette they share.

Every function here needs the optional extra ``plot`` (matplotlib); matplotlib is
imported inside the functions, so ``import topoeval`` never imports it.

Conventions
-----------
- Functions that draw one panel (:func:`plot_diagram`, :func:`plot_matching`,
  :func:`plot_critical_points`) take ``ax=None`` and return the
  :class:`matplotlib.axes.Axes` they drew into; functions that draw several
  panels (:func:`plot_fields`, :func:`plot_mismatch`) take ``fig=None`` and
  return the :class:`matplotlib.figure.Figure`.
- When no ``ax`` / ``fig`` is given, a new figure is made.  Inside a Jupyter /
  IPython kernel, or once the caller has imported :mod:`matplotlib.pyplot`, it is
  made with ``pyplot.figure`` so that it displays inline / with ``plt.show()`` as
  users expect; otherwise (scripts, servers) it is a bare
  :class:`matplotlib.figure.Figure` that touches no global pyplot state and never
  imports pyplot -- save it with ``ax.figure.savefig("out.png")``.  The report
  functions (:mod:`topoeval.report`) always use bare figures and the Agg renderer.
- Diagrams are drawn in the values in which topoeval stores them (see
  :class:`topoeval.persistence.Diagram`): a **sublevel** diagram has its points
  above the diagonal (death > birth) and its never-dying classes (death ``+inf``)
  on a dashed "+∞" line *above* the finite points, as gudhi and giotto-tda draw
  them; a **superlevel** diagram has its points below the diagonal (a maximum
  born at 10 that dies at a saddle of value 3 is drawn at (10, 3)) and its
  never-dying classes (death ``-inf``) on a dashed "−∞" line *below* the finite
  points.  Diagrams are not mirrored, so the axes read as data values in both
  conventions; the half-plane that cannot hold points is shaded.
"""

from .critical import plot_critical_points
from .diagrams import plot_diagram
from .fields import plot_fields
from .maps import plot_mismatch, plot_segmentation
from .matching import plot_matching

__all__ = [
    "plot_critical_points",
    "plot_diagram",
    "plot_fields",
    "plot_matching",
    "plot_mismatch",
    "plot_segmentation",
]

"""Compare an original array with its reconstruction: pointwise, DSL, persistence, critical points.

:func:`compare` is the main job of topoeval, from a notebook or (through
``topoeval compare``) from the shell.  It validates every option before doing any
work, then computes the parts that are switched on and returns a frozen
:class:`Comparison` holding the numbers, the options used, the persistence
diagrams and the Wasserstein matchings (for plots).

JSON convention
---------------
:meth:`Comparison.to_dict` is JSON-safe: ``inf`` / ``-inf`` are written as the
strings ``"inf"`` / ``"-inf"`` (JSON has no infinity; e.g. PSNR of identical
arrays, or a distance between diagrams with different numbers of never-dying
classes) and NaN (e.g. Pearson's r of a constant array) as ``null``.
:meth:`Comparison.to_row` is a flat dict of plain floats / ints / strings (inf and
NaN kept as floats) with stable keys; batch and sweep write one row per comparison.

Modules: ``options`` (:func:`check_options`), ``result`` (:class:`Comparison` and its
exports), ``parts`` (each metric part in memory), ``api`` (:func:`compare`).
"""

from __future__ import annotations

from .api import compare
from .options import (  # noqa: F401
    CONNECTIVITIES,
    CP_CONNECTIVITIES,
    DTYPES,
    FILTRATION_CHOICES,
    PARTS,
    check_options,
)
from .result import Comparison, _fmt, _jsonable, _scalar  # noqa: F401 - used by the CLI commands

__all__ = ["compare", "Comparison"]

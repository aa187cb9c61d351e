"""Morse segmentations and the metrics of topology-preserving compressors built on them.

* :func:`morse_segmentation`: for every cell, the maximum (minimum) that steepest ascent
  (descent) reaches, with MSz's tie rule by ``(value, flat index)``.
* :func:`segmentation_errors`: the cells whose ascending or descending label differs between
  an original and its reconstruction (MSz / pMSz's false labels) and the false extrema.
* :func:`persistence_pair_errors`: the persistence pairs, identified by their (birth cell,
  death cell), that a reconstruction keeps, loses or adds above a persistence threshold
  (the merge-tree reading of TopoA's and TopoSZ's false cases).

Modules: :mod:`.morse` (the segmentation and its thread driver), :mod:`._kernels` (the Numba
kernels), :mod:`.preservation` (segmentation errors), :mod:`.pairs` (pair errors).
"""

from .morse import MorseSegmentation, morse_segmentation
from .pairs import PersistencePairErrors, persistence_pair_errors
from .preservation import SegmentationErrors, segmentation_errors

__all__ = [
    "MorseSegmentation",
    "PersistencePairErrors",
    "SegmentationErrors",
    "morse_segmentation",
    "persistence_pair_errors",
    "segmentation_errors",
]

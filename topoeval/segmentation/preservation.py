"""How much of the Morse segmentation a reconstruction keeps: MSz's false labels and false extrema."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .._validation import check_choice, check_same_shape
from ..errors import InvalidInputError
from .morse import MorseSegmentation, _prepare, check_jobs, segment_flat

__all__ = ["SegmentationErrors", "segmentation_errors"]

_MASK_KINDS = ("any", "ascending", "descending", "extrema")


@dataclass(frozen=True, eq=False)
class SegmentationErrors:
    """The cells a reconstruction puts into another ascending or descending manifold.

    Attributes
    ----------
    orig, recon : MorseSegmentation
        The segmentations of the original and of the reconstruction.
    n_cells : int
        Cells compared (those finite in both arrays).
    false_ascending, false_descending : int
        Cells whose ascending (descending) label, the flat index of the maximum (minimum)
        their steepest path reaches, differs.
    false_labels : int
        Cells with either label different (MSz's count of wrongly segmented cells).
    false_maxima, false_minima : int
        Cells that are a maximum (minimum) in exactly one of the two fields.
    """

    orig: MorseSegmentation
    recon: MorseSegmentation
    n_cells: int

    @cached_property
    def _own(self) -> np.ndarray:
        return np.arange(int(np.prod(self.orig.shape)), dtype=np.int64).reshape(self.orig.shape)

    @cached_property
    def error_map(self) -> np.ndarray:
        """int8 array of the shape: 0 same labels, 1 ascending label differs, 2 descending
        label differs, 3 both."""
        asc = self.orig.ascending != self.recon.ascending
        desc = self.orig.descending != self.recon.descending
        return asc.astype(np.int8) + 2 * desc.astype(np.int8)

    @property
    def false_ascending(self) -> int:
        return int(np.count_nonzero(self.error_map & 1))

    @property
    def false_descending(self) -> int:
        return int(np.count_nonzero(self.error_map & 2))

    @property
    def false_labels(self) -> int:
        return int(np.count_nonzero(self.error_map))

    @property
    def false_label_ratio(self) -> float:
        return self.false_labels / self.n_cells if self.n_cells else 0.0

    def _extrema_flips(self, attr: str) -> np.ndarray:
        a = getattr(self.orig, attr) == self._own
        b = getattr(self.recon, attr) == self._own
        return a != b

    @property
    def false_maxima(self) -> int:
        return int(np.count_nonzero(self._extrema_flips("ascending")))

    @property
    def false_minima(self) -> int:
        return int(np.count_nonzero(self._extrema_flips("descending")))

    def mask(self, kind: str = "any") -> np.ndarray:
        """Boolean map of the wrong cells: ``"any"`` label, ``"ascending"``, ``"descending"``,
        or ``"extrema"`` (a maximum or minimum in only one of the two fields)."""
        check_choice(kind, "kind", _MASK_KINDS)
        if kind == "extrema":
            return self._extrema_flips("ascending") | self._extrema_flips("descending")
        code = {"any": 3, "ascending": 1, "descending": 2}[kind]
        return (self.error_map & code) != 0

    def to_row(self) -> dict[str, Any]:
        """Flat counts with a ``seg_`` prefix (the columns of batch and sweep rows)."""
        return {
            "seg_false_labels": self.false_labels,
            "seg_false_label_ratio": float(self.false_label_ratio),
            "seg_false_ascending": self.false_ascending,
            "seg_false_descending": self.false_descending,
            "seg_false_extrema": self.false_maxima + self.false_minima,
            "seg_false_maxima": self.false_maxima,
            "seg_false_minima": self.false_minima,
        }

    def __repr__(self) -> str:
        return (
            f"SegmentationErrors({self.false_labels} of {self.n_cells} cells mislabeled, "
            f"{self.false_maxima + self.false_minima} false extrema)"
        )


def segmentation_errors(
    orig: Any,
    recon: Any,
    connectivity: str = "full",
    *,
    nan_policy: str = "raise",
    jobs: int | None = None,
) -> SegmentationErrors:
    """Compare the Morse segmentations of an original and its reconstruction.

    A cell is *mislabeled* when the maximum its steepest-ascent path reaches, or the
    minimum its steepest-descent path reaches (see :func:`morse_segmentation`), is
    another cell in the reconstruction than in the original; this is the count of
    wrongly segmented cells by which MSz and pMSz judge a compressor (a preserved
    segmentation needs the extrema at the same cells and every path to end at the same
    one).  A *false extremum* is a cell that is a maximum (or a minimum) in one field
    and not in the other.

    Parameters
    ----------
    orig, recon : array_like, same shape, 1-D or more
        The original and its reconstruction (compared as float64).
    connectivity : {"full", "face", "freudenthal"}, default "full"
        The neighbourhood (see :func:`morse_segmentation`).
    nan_policy : {"raise", "omit"}, default "raise"
        Non-finite cells: raise, or leave every cell that is non-finite in either array
        out of both domains (they are not counted).
    jobs : int, optional
        Threads (default: all cores); the result does not depend on it.

    Returns
    -------
    SegmentationErrors
        Counts as attributes and in ``.to_row()`` (``seg_false_labels``,
        ``seg_false_label_ratio`` over the compared cells, ``seg_false_ascending``,
        ``seg_false_descending``, ``seg_false_extrema`` = ``seg_false_maxima`` +
        ``seg_false_minima``); ``.mask(kind)`` and ``.error_map`` for maps.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> orig = np.array([0.0, 2.0, 1.0, 3.0, 0.5])
    >>> recon = np.array([0.0, 2.0, 2.5, 3.0, 0.5])   # the maximum at 1, the minimum at 2 lost
    >>> err = te.segmentation_errors(orig, recon)
    >>> err.to_row()["seg_false_labels"], err.false_maxima, err.false_minima
    (3, 1, 1)
    >>> err.error_map                                 # 1: ascending label, 2: descending label
    array([1, 1, 2, 0, 0], dtype=int8)
    """
    jobs = check_jobs(jobs)
    x = _prepare(orig, "orig", connectivity, nan_policy)
    y = _prepare(recon, "recon", connectivity, nan_policy)
    check_same_shape(x, y)
    n = x.size
    if nan_policy == "omit":
        valid = np.isfinite(x) & np.isfinite(y)
        if not valid.any():
            raise InvalidInputError("no cell is finite in both orig and recon; nothing to compare")
        n = int(np.count_nonzero(valid))
        if n < x.size:  # one domain for both: a cell non-finite in either is left out of both
            x, y = np.where(valid, x, np.nan), np.where(valid, y, np.nan)
    segs = []
    for a in (x, y):
        up, down = segment_flat(a.ravel(), a.shape, connectivity, nan_policy == "omit", jobs)
        segs.append(MorseSegmentation(up.reshape(a.shape), down.reshape(a.shape), connectivity))
    return SegmentationErrors(segs[0], segs[1], n)

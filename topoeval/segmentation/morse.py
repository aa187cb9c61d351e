"""The Morse segmentation of a grid array: the extremum that steepest ascent / descent reaches."""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import NAN_POLICIES, as_real_array, check_choice, check_finite
from ..errors import InvalidOptionError

__all__ = ["MorseSegmentation", "morse_segmentation"]

CONNECTIVITIES = ("full", "face", "freudenthal")
#: below this many cells one thread does all (a thread pool costs more than it saves)
_PARALLEL_CELLS = 1 << 17


def neighbour_offsets(ndim: int, connectivity: str) -> np.ndarray:
    """(k, ndim) int64 offsets of a cell's neighbours, in lexicographic order.

    ``"full"``: the ``3**d - 1`` cells of the surrounding cube; ``"face"``: the ``2 d`` axis
    neighbours; ``"freudenthal"``: ``o`` and ``-o`` for every ``o`` in ``{0, 1}**d`` but 0,
    the Freudenthal (Kuhn) triangulation of :func:`topoeval.critical_points`.
    """
    out = []
    for o in itertools.product((-1, 0, 1), repeat=ndim):
        nz = [x for x in o if x]
        if not nz:
            continue
        if connectivity == "face" and len(nz) != 1:
            continue
        if connectivity == "freudenthal" and len(set(nz)) != 1:
            continue
        out.append(o)
    return np.array(out, dtype=np.int64).reshape(-1, ndim)


def check_jobs(jobs: Any) -> int:
    """Threads to use: ``jobs``, or the cores this process may run on when None."""
    if jobs is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
    if isinstance(jobs, (bool, np.bool_)) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise InvalidOptionError(
            f"jobs={jobs!r} is not valid; pass a positive number of threads (or None: all cores)"
        )
    return int(jobs)


def _ranges(n: int, jobs: int) -> list[tuple[int, int]]:
    """Flat cell ranges for the threads: a few per thread, so that uneven ones balance."""
    if jobs == 1 or n < _PARALLEL_CELLS:
        return [(0, n)]
    parts = min(4 * jobs, max(1, n // (_PARALLEL_CELLS // 4)))
    bounds = np.linspace(0, n, parts + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds) if b > a]


def segment_flat(values: np.ndarray, shape: tuple[int, ...], connectivity: str, omit: bool,
                 jobs: int) -> tuple[np.ndarray, np.ndarray]:
    """(ascending, descending) int64 (n,) labels of the C-order float64 cells ``values``."""
    from ._kernels import resolve_range, steepest_range, steepest_rows

    n = values.size
    offsets = neighbour_offsets(len(shape), connectivity)
    strides = np.array([int(np.prod(shape[i + 1:])) for i in range(len(shape))], dtype=np.int64)
    deltas = offsets @ strides
    shp = np.array(shape, dtype=np.int64)
    up = np.empty(n, dtype=np.int64)
    down = np.empty(n, dtype=np.int64)
    ranges = _ranges(n, jobs)
    n_last = shape[-1]
    # d >= 2: the steepest pass goes by whole rows of the last axis (ranges rounded to rows)
    rows = sorted({(lo + n_last - 1) // n_last for lo, _ in ranges} | {n // n_last})

    def steepest(lo, hi):
        if len(shape) == 1:
            steepest_range(values, shp, offsets, deltas, lo, hi, omit, up, down)
        else:
            r0 = (lo + n_last - 1) // n_last
            r1 = min((r for r in rows if r > r0), default=r0)
            steepest_rows(values, shp, offsets, deltas, r0, r1, omit, up, down)

    def resolve(lo, hi):
        resolve_range(up, lo, hi)
        resolve_range(down, lo, hi)

    for step in (steepest, resolve):  # every pointer is known before any path is followed
        if len(ranges) == 1:
            step(*ranges[0])
        else:
            with ThreadPoolExecutor(max_workers=min(jobs, len(ranges))) as pool:
                for f in [pool.submit(step, lo, hi) for lo, hi in ranges]:
                    f.result()
    return up, down


@dataclass(frozen=True, eq=False)
class MorseSegmentation:
    """The ascending and descending Morse segmentation of an array.

    Attributes
    ----------
    ascending : ndarray of int64, shape ``a.shape``
        For every cell, the C-order flat index of the maximum its steepest-ascent path
        reaches (a maximum labels itself); -1 for a non-finite cell with ``nan_policy="omit"``.
    descending : ndarray of int64, shape ``a.shape``
        The same for steepest descent and minima.
    connectivity : str
        The neighbourhood used.
    """

    ascending: np.ndarray
    descending: np.ndarray
    connectivity: str

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.ascending.shape)

    @property
    def maxima(self) -> np.ndarray:
        """Sorted flat indices of the maxima (the cells that label themselves ascending)."""
        flat = self.ascending.ravel()
        return np.flatnonzero(flat == np.arange(flat.size))

    @property
    def minima(self) -> np.ndarray:
        """Sorted flat indices of the minima."""
        flat = self.descending.ravel()
        return np.flatnonzero(flat == np.arange(flat.size))

    def __repr__(self) -> str:
        return (
            f"MorseSegmentation(shape={self.shape}, connectivity={self.connectivity!r}, "
            f"{self.maxima.size} maxima, {self.minima.size} minima)"
        )


def _prepare(a: Any, name: str, connectivity: str, nan_policy: str) -> np.ndarray:
    check_choice(connectivity, "connectivity", CONNECTIVITIES)
    check_choice(nan_policy, "nan_policy", NAN_POLICIES)
    x = as_real_array(a, name)
    if nan_policy == "raise":
        check_finite(x, name, hint=", or pass nan_policy='omit' to leave those cells out")
    return np.ascontiguousarray(x, dtype=np.float64)


def morse_segmentation(
    a: Any, connectivity: str = "full", *, nan_policy: str = "raise", jobs: int | None = None
) -> MorseSegmentation:
    """The Morse segmentation of a grid array by steepest ascent and descent.

    From every cell, steepest ascent moves to the neighbour with the largest
    ``(value, flat index)`` if that pair is above the cell's own, and stops at a cell
    with no such neighbour: a maximum, which labels itself.  Steepest descent does the
    same with the smallest pair, ending at a minimum.  Ties in value are broken by the
    C-order flat index (MSz's rule; the simulation of simplicity of
    :func:`topoeval.critical_points` and of the superlevel persistence diagram, so the
    maxima and minima here are exactly their maxima and minima with the same
    connectivity).  A cell's ascending (descending) label is the flat index of the
    maximum (minimum) its path reaches: the cells with one label form one ascending
    (descending) manifold, the pieces of the Morse-Smale complex.

    Parameters
    ----------
    a : array_like, 1-D or more
        Real values, compared as float64.
    connectivity : {"full", "face", "freudenthal"}, default "full"
        ``"full"``: the ``3**d - 1`` cells of the surrounding cube; ``"face"``: the
        ``2 d`` axis neighbours; ``"freudenthal"``: TTK's triangulation (the offsets
        ``o`` and ``-o`` for ``o`` in ``{0, 1}**d``, 6 in 2-D, 14 in 3-D).
    nan_policy : {"raise", "omit"}, default "raise"
        Non-finite cells: raise :class:`~topoeval.errors.NonFiniteError`, or leave them
        out of the domain (nobody's neighbour, label -1).
    jobs : int, optional
        Threads (default: the cores this process may use).  The result does not depend
        on it.

    Returns
    -------
    MorseSegmentation
        ``.ascending`` and ``.descending``: int64 arrays of ``a.shape``.

    Notes
    -----
    Two passes over the cells, each split into flat ranges run by nogil Numba kernels in
    a thread pool: the steepest neighbour of every cell, then every path followed to its
    end with full path compression (each cell is walked about once).  Extra memory: 16
    bytes per cell plus a float64 C-order copy of ``a`` when it is not one.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> seg = te.morse_segmentation(np.array([0.0, 2.0, 1.0, 1.0, 3.0]))
    >>> seg.ascending
    array([1, 1, 1, 4, 4])
    >>> seg.descending       # of the tie 1.0 = 1.0 the cell with the smaller index is lower
    array([0, 0, 2, 2, 2])
    >>> seg.maxima, seg.minima
    (array([1, 4]), array([0, 2]))
    """
    jobs = check_jobs(jobs)
    x = _prepare(a, "a", connectivity, nan_policy)
    up, down = segment_flat(x.ravel(), x.shape, connectivity, nan_policy == "omit", jobs)
    return MorseSegmentation(up.reshape(x.shape), down.reshape(x.shape), connectivity)

"""The classification of one array: :func:`critical_points` and its result :class:`CriticalPoints`."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from .._validation import check_choice, check_finite, nonfinite_mask
from ..errors import InvalidOptionError
from ..persistence.blocks import check_jobs
from ._codes import (
    _CODES,
    _CRITICAL,
    _NAN_HINT,
    _NAN_POLICIES,
    _check_connectivity,
    _kinds_for,
    _prepare,
    _resolve_kind,
)
from ._engine import _classify_jobs, _persistence

__all__ = ["CriticalPoints", "critical_points"]


@dataclasses.dataclass(frozen=True, eq=False)
class CriticalPoints:
    """The type of every cell of an array (made by :func:`critical_points`).

    Attributes
    ----------
    types : int8 ndarray, shape of the input
        Type code of every cell: -1 non-finite (omitted), 0 regular, 1 minimum,
        2 saddle (2-D), 3 1-saddle, 4 2-saddle, 6 degenerate saddle (>= 3-D), 5 maximum.
        The codes are also class attributes (``CriticalPoints.MINIMUM`` ...).
    lower_components, upper_components : uint8 ndarray, shape of the input
        Number of connected components of the lower / upper link of every cell.
    connectivity : str
        ``"full"`` or ``"freudenthal"``.
    ndim : int
        Effective dimension (number of axes longer than 1), which decides the kinds.
    persistence : float64 ndarray or None
        Only with ``critical_points(..., persistence=True)``: for a minimum, the persistence
        of the sublevel class it creates; for a maximum, that of the superlevel class it
        creates (``inf`` for classes that never die); for a saddle, the largest persistence
        among the classes it kills in the sublevel or superlevel filtration, and 0 for a
        saddle that kills no 0-D class (e.g. a 3-D 1-saddle that closes a loop); 0 for
        regular cells.  Persistence is ``|a[death cell] - a[birth cell]|``.
    """

    NONFINITE: ClassVar[int] = -1
    REGULAR: ClassVar[int] = 0
    MINIMUM: ClassVar[int] = 1
    SADDLE: ClassVar[int] = 2
    SADDLE1: ClassVar[int] = 3
    SADDLE2: ClassVar[int] = 4
    MAXIMUM: ClassVar[int] = 5
    DEGENERATE: ClassVar[int] = 6

    types: np.ndarray
    lower_components: np.ndarray
    upper_components: np.ndarray
    connectivity: str
    ndim: int
    persistence: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the classified array."""
        return self.types.shape

    @property
    def kinds(self) -> tuple[str, ...]:
        """The critical kinds possible at this dimension (column names of :attr:`counts`)."""
        return _kinds_for(self.ndim)

    @property
    def multiplicity(self) -> np.ndarray:
        """int64 array: 1 for extrema, the saddle multiplicity (see the module table), 0 else."""
        cm = self.lower_components.astype(np.int64)
        cp = self.upper_components.astype(np.int64)
        t = self.types
        m = np.zeros(t.shape, dtype=np.int64)
        m[(t == 1) | (t == 5)] = 1
        s = t == 2
        m[s] = np.maximum(cm[s], cp[s]) - 1
        s = t == 3
        m[s] = cm[s] - 1
        s = t == 4
        m[s] = cp[s] - 1
        s = t == 6
        m[s] = cm[s] + cp[s] - 2
        return m

    @property
    def degenerate(self) -> np.ndarray:
        """bool array: saddles of multiplicity > 1 (monkey saddles ...) and code-6 cells."""
        t = self.types
        saddle = (t == 2) | (t == 3) | (t == 4) | (t == 6)
        return saddle & ((self.multiplicity > 1) | (t == 6))

    def mask(self, kind: Any = "critical") -> np.ndarray:
        """bool array of the cells of ``kind``.

        ``kind`` is a name (``"minimum"``, ``"maximum"``, ``"saddle"``, ``"saddle1"`` /
        ``"1-saddle"``, ``"saddle2"`` / ``"2-saddle"``, ``"degenerate"``, ``"regular"``,
        ``"nonfinite"``), a type code, or ``"critical"`` (every minimum, saddle and maximum).
        """
        name = _resolve_kind(kind, (*_CODES, "critical"))
        if name == "critical":
            return self.types > 0
        return self.types == _CODES[name]

    def positions(self, kind: Any = "critical") -> np.ndarray:
        """(k, d) int64 multi-indices of the cells of ``kind`` (see :meth:`mask`), in C order."""
        return np.argwhere(self.mask(kind)).astype(np.int64)

    def count(self, kind: Any = "critical", *, multiplicity: bool = False) -> int:
        """Number of cells of ``kind``; with ``multiplicity=True`` the sum of their multiplicities."""
        m = self.mask(kind)
        if multiplicity:
            return int(self.multiplicity[m].sum())
        return int(np.count_nonzero(m))

    @property
    def counts(self) -> dict[str, int]:
        """Number of cells of each critical kind possible at this dimension."""
        return {k: self.count(k) for k in self.kinds}

    def to_row(self) -> dict[str, Any]:
        """Flat dict of scalars: ``cp_connectivity``, ``cp_n_<kind>`` for every kind, ``cp_n_degenerate_cells``."""
        row: dict[str, Any] = {"cp_connectivity": self.connectivity}
        for k in _CRITICAL:
            row[f"cp_n_{k}"] = self.count(k)
        row["cp_n_critical"] = self.count("critical")
        row["cp_n_degenerate_cells"] = int(np.count_nonzero(self.degenerate))
        return row

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.counts.items())
        return f"CriticalPoints(shape={self.shape}, connectivity={self.connectivity!r}, {counts})"


def critical_points(
    array: Any,
    *,
    connectivity: str = "full",
    nan_policy: str = "raise",
    persistence: bool = False,
    jobs: int | None = None,
) -> CriticalPoints:
    """Classify every cell of an array as regular, minimum, saddle or maximum.

    Parameters
    ----------
    array : array_like, shape (n_0, ..., n_{d-1}), d >= 1
        Real values (bool, integers, floats; any layout or byte order).
    connectivity : {"full", "freudenthal"}, default "full"
        The link: ``"full"`` = the ``3**d - 1`` surrounding cells (the neighbourhood of the
        persistence diagrams); ``"freudenthal"`` = TTK's Freudenthal triangulation
        (``2 * (2**d - 1)`` neighbours).  See the module docstring.
    nan_policy : {"raise", "omit"}, default "raise"
        NaN / +-inf cells: raise :class:`~topoeval.errors.NonFiniteError`, or leave them
        out of the domain (type code -1).
    persistence : bool, default False
        Also compute the per-cell persistence (:attr:`CriticalPoints.persistence`).
    jobs : int, optional
        Threads for the classification (default: the cores this process may use; arrays of
        fewer than 2**20 cells use one); the result is the same for every ``jobs``.  The
        per-cell persistence is computed in one thread.

    Returns
    -------
    CriticalPoints
        ``types`` (int8, same shape as ``array``), link component counts, counts and
        positions per kind.

    Raises
    ------
    InvalidDTypeError, InvalidInputError
        Complex / object / empty / 0-d input.
    NonFiniteError
        Non-finite values with ``nan_policy="raise"``.
    InvalidOptionError
        A keyword with an invalid value.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te

    A hill on a 4 x 4 grid: one maximum, a minimum in every corner, and between two
    corners on the edge a (boundary) saddle: 4 - 4 + 1 = 1, the Euler characteristic:

    >>> a = np.array([[59, 75, 71, 47],
    ...               [73, 89, 85, 61],
    ...               [67, 83, 79, 55],
    ...               [41, 57, 53, 29]])
    >>> cp = te.critical_points(a)
    >>> cp.types
    array([[1, 2, 0, 1],
           [2, 5, 0, 2],
           [0, 0, 0, 0],
           [1, 2, 0, 1]], dtype=int8)
    >>> cp.counts
    {'minimum': 4, 'saddle': 4, 'maximum': 1}
    >>> cp.positions("maximum").tolist()
    [[1, 1]]

    A saddle (code 2) between two hills, with the Freudenthal triangulation:

    >>> b = np.array([[0, 0, 0],
    ...               [3, 1, 3],
    ...               [0, 0, 0]])
    >>> te.critical_points(b, connectivity="freudenthal").types[1, 1]
    np.int8(2)
    >>> cp = te.critical_points(b, persistence=True)
    >>> cp.types[1]
    array([5, 2, 5], dtype=int8)
    >>> cp.persistence[1]
    array([ 2.,  2., inf])

    Both hills have height 3; by simulation of simplicity the right one (later in C order)
    is the higher, so it never dies and the left one dies at the saddle after 3 - 1 = 2.
    """
    conn = _check_connectivity(connectivity)
    check_choice(nan_policy, "nan_policy", _NAN_POLICIES)
    if not isinstance(persistence, (bool, np.bool_)):
        raise InvalidOptionError(f"persistence={persistence!r} is not valid; pass True or False")
    arr = _prepare(array, "array")
    bad = None
    if nan_policy == "raise":
        check_finite(arr, "array", hint=_NAN_HINT)
    else:
        bad = nonfinite_mask(arr)
    return _critical_points(arr, conn, bad, bool(persistence), check_jobs(jobs))


def _critical_points(
    arr: np.ndarray, conn: str, bad: np.ndarray | None, with_pers: bool, jobs: int = 1
) -> CriticalPoints:
    types, cm, cp, ndim = _classify_jobs(arr, conn, bad, jobs)
    pers = _persistence(arr, conn, bad, types) if with_pers else None
    for x in (types, cm, cp, pers):
        if x is not None:
            x.setflags(write=False)
    return CriticalPoints(types, cm, cp, conn, ndim, pers)

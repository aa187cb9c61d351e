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

from __future__ import annotations

import functools
import itertools
from typing import Any

import numpy as np

from ._validation import as_real_array, check_choice, check_finite, nonfinite_mask
from .errors import InvalidInputError, InvalidOptionError, NonFiniteError

__all__ = ["Diagram", "persistence_diagram"]

FILTRATIONS = ("sublevel", "superlevel")
CONNECTIVITIES = ("full", "face")
_NAN_POLICIES = ("raise", "omit")
_NAN_HINT = (
    ", or pass nan_policy='omit' to leave the non-finite cells out of the domain "
    "(the remaining cells may then form several components)"
)


class Diagram:
    """A 0-D persistence diagram of a grid array, with the critical cell of every pair.

    Usually made by :func:`persistence_diagram`.  A diagram can also be built from
    values alone, e.g. ``Diagram([0.0, 1.0], [np.inf, 3.0])``; then the index arrays
    are ``-1``.

    Parameters
    ----------
    births, deaths : (n,) array_like of float
        Birth and death values of the pairs.  ``deaths`` is ``+inf`` (sublevel) or
        ``-inf`` (superlevel) for classes that never die.
    birth_index, death_index : (n, d) array_like of int, optional
        Multi-indices of the creating cell (minimum / maximum) and of the killing cell
        (merge saddle) of every pair; ``death_index`` rows are ``-1`` for classes that
        never die.  Default: ``-1`` everywhere (``d = len(shape)``, or 0 without shape).
    filtration : {"sublevel", "superlevel"}
        Which sets the diagram describes (see the module docstring for the value
        convention of superlevel diagrams).
    shape : tuple of int, optional
        Shape of the array the diagram was computed from.

    Attributes
    ----------
    births, deaths : (n,) float64 ndarray
    birth_index, death_index : (n, d) int64 ndarray
    filtration : str
    shape : tuple of int or None

    Examples
    --------
    >>> import numpy as np
    >>> from topoeval import persistence_diagram
    >>> dgm = persistence_diagram(np.array([0.0, 3.0, 1.0, 4.0, 2.0]))
    >>> dgm
    Diagram(filtration='sublevel', shape=(5,), n_pairs=3, n_essential=1)
    >>> np.asarray(dgm)
    array([[ 0., inf],
           [ 1.,  3.],
           [ 2.,  4.]])
    >>> dgm.birth_index.tolist(), dgm.death_index.tolist()
    ([[0], [2], [4]], [[-1], [1], [3]])
    >>> dgm.persistence
    array([inf,  2.,  2.])
    >>> dgm.to_gudhi()
    [(0, (0.0, inf)), (0, (1.0, 3.0)), (0, (2.0, 4.0))]
    """

    __slots__ = ("births", "deaths", "birth_index", "death_index", "filtration", "shape")
    __hash__ = None  # mutable arrays inside; equality is by value

    def __init__(
        self,
        births: Any,
        deaths: Any,
        birth_index: Any = None,
        death_index: Any = None,
        *,
        filtration: str = "sublevel",
        shape: tuple[int, ...] | None = None,
    ) -> None:
        check_choice(filtration, "filtration", FILTRATIONS)
        b = np.array(births, dtype=np.float64).reshape(-1)
        de = np.array(deaths, dtype=np.float64).reshape(-1)
        if b.shape != de.shape:
            raise InvalidInputError(
                f"births has {b.shape[0]} values but deaths has {de.shape[0]}; pass one death per birth"
            )
        if shape is not None:
            shape = tuple(int(s) for s in shape)
        d = len(shape) if shape is not None else None
        n = b.shape[0]

        def _index(x, name):
            if x is None:
                return np.full((n, d or 0), -1, dtype=np.int64)
            x = np.array(x, dtype=np.int64)
            if x.ndim == 1 and n == x.shape[0] and (d == 1 or d is None):
                x = x.reshape(n, 1)
            if x.ndim != 2 or x.shape[0] != n or (d is not None and x.shape[1] != d):
                want = f"({n}, {d})" if d is not None else f"({n}, d)"
                raise InvalidInputError(f"{name} has shape {x.shape}; pass an int array of shape {want}")
            return x

        self.births = b
        self.deaths = de
        self.birth_index = _index(birth_index, "birth_index")
        self.death_index = _index(death_index, "death_index")
        self.filtration = filtration
        self.shape = shape

    @classmethod
    def _new(cls, births, deaths, birth_index, death_index, filtration, shape) -> "Diagram":
        """Internal constructor: takes the (already valid) arrays without copying them."""
        self = object.__new__(cls)
        self.births, self.deaths = births, deaths
        self.birth_index, self.death_index = birth_index, death_index
        self.filtration, self.shape = filtration, shape
        return self

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return int(self.births.shape[0])

    def __array__(self, dtype=None, copy=None):
        out = np.stack([self.births, self.deaths], axis=1) if len(self) else np.empty((0, 2))
        if dtype is not None:
            out = out.astype(dtype, copy=False)
        return out

    def __iter__(self):
        return iter(zip(self.births.tolist(), self.deaths.tolist()))

    def __repr__(self) -> str:
        return (
            f"Diagram(filtration={self.filtration!r}, shape={self.shape}, n_pairs={len(self)}, "
            f"n_essential={int(np.isinf(self.deaths).sum())})"
        )

    def __eq__(self, other: object) -> bool:
        """Multiset equality of the (birth, death) pairs and the same filtration."""
        if not isinstance(other, Diagram):
            return NotImplemented
        if self.filtration != other.filtration or len(self) != len(other):
            return False
        a = np.asarray(self)
        b = np.asarray(other)
        ia = np.lexsort((a[:, 1], a[:, 0]))
        ib = np.lexsort((b[:, 1], b[:, 0]))
        return bool(np.array_equal(a[ia], b[ib]))

    @property
    def persistence(self) -> np.ndarray:
        """(n,) float64: ``|death - birth|`` of every pair (``inf`` for never-dying classes)."""
        return np.abs(self.deaths - self.births)

    def _take(self, sel) -> "Diagram":
        return Diagram._new(
            self.births[sel],
            self.deaths[sel],
            self.birth_index[sel],
            self.death_index[sel],
            self.filtration,
            self.shape,
        )

    def finite(self) -> "Diagram":
        """The pairs with a finite death, as a new Diagram (same order)."""
        return self._take(np.isfinite(self.deaths))

    def essential(self) -> "Diagram":
        """The never-dying classes (infinite death), as a new Diagram (same order)."""
        return self._take(~np.isfinite(self.deaths))

    def sorted_by_persistence(self) -> "Diagram":
        """A new Diagram with the pairs by decreasing persistence (never-dying ones first).

        Ties keep the diagram's order (stable sort).
        """
        return self._take(np.argsort(-self.persistence, kind="stable"))

    def to_gudhi(self) -> list[tuple[int, tuple[float, float]]]:
        """The pairs in gudhi's persistence format ``[(0, (birth, death)), ...]``.

        Values are as stored: for a superlevel diagram (birth above death) negate both
        coordinates to compare with gudhi's diagram of ``-a``.
        """
        return [(0, (b, d)) for b, d in zip(self.births.tolist(), self.deaths.tolist())]


def _squeezed_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    core = tuple(s for s in shape if s > 1)
    return core if core else (1,)


def persistence_diagram(
    array: Any,
    *,
    filtration: str = "sublevel",
    connectivity: str = "full",
    nan_policy: str = "raise",
    keep_zero: bool = False,
) -> Diagram:
    """0-D persistence diagram of the sublevel (or superlevel) sets of a grid array.

    Parameters
    ----------
    array : array_like, shape (n_0, ..., n_{d-1}), d >= 1
        Real values (bool, integers, float16/32/64; any memory layout or byte order).
        Values are compared as float64.
    filtration : {"sublevel", "superlevel"}, default "sublevel"
        ``"sublevel"``: components of ``{a <= t}`` (born at minima).  ``"superlevel"``:
        components of ``{a >= t}`` (born at maxima), stored in the original values
        (birth above death, never-dying death ``-inf``).
    connectivity : {"full", "face"}, default "full"
        ``"full"``: ``3**d - 1`` neighbours (cells sharing any face; matches gudhi's
        ``CubicalComplex(top_dimensional_cells=a)`` and ``cripser.computePH_T``).
        ``"face"``: the ``2*d`` axis neighbours.
    nan_policy : {"raise", "omit"}, default "raise"
        What to do with NaN and +-inf cells: raise :class:`~topoeval.errors.NonFiniteError`,
        or leave them out of the domain (the rest may fall apart into several components,
        each with its own never-dying class).
    keep_zero : bool, default False
        Keep pairs with zero persistence (a minimum that merges at its own value).

    Returns
    -------
    Diagram
        ``n`` pairs with ``births``/``deaths`` (n,) and ``birth_index``/``death_index``
        (n, d); pairs in the order their birth cells enter the filtration (see the
        module docstring for the exact tie-breaking rule).

    Raises
    ------
    InvalidDTypeError
        Complex, object, string or structured input.
    InvalidInputError
        0-d or empty input.
    NonFiniteError
        NaN or +-inf values with ``nan_policy="raise"``.
    InvalidOptionError
        A keyword with an invalid value.

    Notes
    -----
    The cells are sorted by a radix sort of their float64 bit patterns (one pass into
    cache-sized buckets, each finished in cache), then merged by a union-find over a padded
    (and, in 2-D/3-D, cache-line-bricked) copy of the grid; see
    :mod:`topoeval._kernels._persistence`.  Extra memory is about 12 bytes per cell (plus a
    C-order copy of the input if it is not C-contiguous).  Kernels release the GIL.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> a = np.array([[0, 5, 1],
    ...               [6, 6, 6],
    ...               [2, 6, 3]])
    >>> dgm = te.persistence_diagram(a)
    >>> np.asarray(dgm)
    array([[ 0., inf],
           [ 1.,  5.],
           [ 2.,  6.],
           [ 3.,  6.]])
    >>> dgm.birth_index.tolist()
    [[0, 0], [0, 2], [2, 0], [2, 2]]
    >>> dgm.death_index.tolist()
    [[-1, -1], [0, 1], [1, 0], [1, 1]]

    With full connectivity the diagonal neighbours touch; with face connectivity
    the two low corners stay apart until a 9 enters:

    >>> b = np.array([[0, 9], [9, 1]])
    >>> np.asarray(te.persistence_diagram(b)).tolist()
    [[0.0, inf]]
    >>> np.asarray(te.persistence_diagram(b, connectivity="face")).tolist()
    [[0.0, inf], [1.0, 9.0]]

    Superlevel diagrams keep the original values (birth above death):

    >>> np.asarray(te.persistence_diagram([3.0, 1.0, 2.0], filtration="superlevel"))
    array([[ 3., -inf],
           [ 2.,  1.]])
    """
    check_choice(filtration, "filtration", FILTRATIONS)
    check_choice(connectivity, "connectivity", CONNECTIVITIES)
    check_choice(nan_policy, "nan_policy", _NAN_POLICIES)
    if not isinstance(keep_zero, (bool, np.bool_)):
        raise InvalidOptionError(f"keep_zero={keep_zero!r} is not valid; pass True or False")
    arr = as_real_array(array, "array")
    if filtration == "sublevel":
        return _compute(arr, filtration, connectivity, nan_policy, bool(keep_zero))
    # Equal values enter the superlevel filtration by descending flat index: simulation of
    # simplicity on -a, the convention of topoeval.critical_points (and TTK), so the maxima are
    # exactly the superlevel birth cells.  Flipping every axis reverses the flat index (and maps
    # the neighbourhood onto itself), so the kernel's ascending tie order does it.
    flipped = arr[(slice(None, None, -1),) * arr.ndim]
    try:
        dgm = _compute(flipped, filtration, connectivity, nan_policy, bool(keep_zero))
    except NonFiniteError:
        check_finite(arr, "array", hint=_NAN_HINT)  # the first position in the caller's array
        raise
    last = np.array(arr.shape, dtype=np.int64) - 1
    birth_index = last - dgm.birth_index
    death_index = np.where(dgm.death_index < 0, -1, last - dgm.death_index)
    return Diagram._new(dgm.births, dgm.deaths, birth_index, death_index, filtration, dgm.shape)


_MAX_INT32_CELLS = 2**31 - 2  # above: np.argsort and int64 union-find (no radix sort)
_BRICKS = {2: (4, 4), 3: (2, 2, 4)}  # 16 int32 = one 64-byte cache line per brick


def _grid(m: int, d: int) -> np.ndarray:
    """(m**d, d) int64: every point of {0, ..., m-1}**d in C order."""
    return np.array(list(itertools.product(range(m), repeat=d)), dtype=np.int64).reshape(m**d, d)


class _Layout:
    """Where every cell lives in the union-find array.

    The array gets a frame of never-active cells (so neighbours need no bounds checks) and,
    in 2-D and 3-D, is stored in bricks of 16 cells (4x4, 2x2x4) that fill one cache line,
    so a 3x3(x3) neighbourhood touches fewer lines.  The storage index of the cell at core
    coordinates ``x`` is ``sum(tables[i, x[i]])``; the offset to a neighbour depends on the
    cell's position in its brick, ``storage & lmask``.
    """

    def __init__(self, core: tuple[int, ...], connectivity: str, bricks: bool = True) -> None:
        d = len(core)
        B = _BRICKS.get(d, (1,) * d) if bricks else (1,) * d
        self.core, self.B = core, B
        self.NB = tuple(-(-(c + 2) // b) for c, b in zip(core, B))
        bsize = int(np.prod(B))
        self.bsize = bsize
        self.LS = _c_strides(B)
        self.BS = tuple(s * bsize for s in _c_strides(self.NB))
        self.size = int(np.prod(self.NB, dtype=np.int64)) * bsize
        self.lmask = bsize - 1
        tables = np.zeros((d, max(core)), dtype=np.int64)
        for i, c in enumerate(core):
            tables[i, :c] = self._tpad(i, np.arange(1, c + 1))
        self.tables = tables
        # neighbour offsets per position inside a brick
        deltas = _grid(3, d) - 1
        deltas = deltas[np.any(deltas != 0, axis=1)]
        if connectivity == "face":
            deltas = deltas[np.abs(deltas).sum(axis=1) == 1]
        local = np.array(list(np.ndindex(*B)), dtype=np.int64).reshape(bsize, d)
        self.offsets = self._diff(local, deltas)
        if bsize > 1:  # the 2**d corners cover every brick the neighbourhood touches
            corners = _grid(2, d) * 2 - 1
            self.pf = self._diff(local, corners)
        elif d <= 3:  # the first cell of every neighbour row
            rows = _grid(3, d - 1) - 1
            rows = np.concatenate([rows, -np.ones((rows.shape[0], 1), dtype=np.int64)], axis=1)
            self.pf = self._diff(local, rows)
        else:
            self.pf = np.empty((1, 0), dtype=np.int64)
        for arr in (self.tables, self.offsets, self.pf):
            arr.flags.writeable = False  # layouts are cached and shared

    def _tpad(self, i, p):
        return (p // self.B[i]) * self.BS[i] + (p % self.B[i]) * self.LS[i]

    def _diff(self, local, deltas):
        out = np.zeros((local.shape[0], deltas.shape[0]), dtype=np.int64)
        for i, b in enumerate(self.B):
            base = b + local[:, i][:, None]  # a position in the second brick: no negatives
            out += self._tpad(i, base + deltas[:, i][None, :]) - self._tpad(i, base)
        return out

    def to_core(self, s: np.ndarray) -> np.ndarray:
        """(m, d) core coordinates of storage indices ``s``."""
        s = np.asarray(s, dtype=np.int64)
        brick, loc = np.divmod(s, self.bsize)
        bc = np.unravel_index(brick, self.NB)
        lc = np.unravel_index(loc, self.B)
        out = np.empty((s.shape[0], len(self.core)), dtype=np.int64)
        for i, b in enumerate(self.B):
            out[:, i] = bc[i] * b + lc[i] - 1
        return out


@functools.lru_cache(maxsize=64)
def _layout(core: tuple[int, ...], connectivity: str, bricks: bool) -> _Layout:
    """Cached layouts: batches of equal-shape arrays reuse the tables (read-only)."""
    return _Layout(core, connectivity, bricks)


def _compute(
    arr: np.ndarray, filtration: str, connectivity: str, nan_policy: str, keep_zero: bool
) -> Diagram:
    from ._kernels._persistence import radix_sort_cells, union_find_padded

    shape = tuple(int(s) for s in arr.shape)
    core = _squeezed_shape(shape)
    n = arr.size
    lay = _layout(core, connectivity, True)
    if lay.size >= _MAX_INT32_CELLS:
        lay = _layout(core, connectivity, False)

    if lay.size < _MAX_INT32_CELLS:
        # values in C order as a dtype numba reads; a copy only for other layouts
        src = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
        if src.dtype == np.float16:
            src = src.astype(np.float32)
        elif src.dtype == np.bool_:
            src = src.view(np.uint8)
        src = src.reshape(-1)
        order, n_active, spare = radix_sort_cells(
            src, filtration == "superlevel", np.array(core, dtype=np.int64), lay.tables
        )
        if n_active < n and nan_policy == "raise":  # the sort counted the non-finite cells
            del order, spare
            check_finite(arr, "array", hint=_NAN_HINT)
        # the union-find array reuses the sort's spare buffer, 64-byte aligned so that a
        # brick of 16 int32 is exactly one cache line
        buf = spare.view(np.int32)
        if lay.size + 16 > buf.shape[0]:
            del spare, buf
            buf = np.empty(lay.size + 16, dtype=np.int32)
        start = (-buf.ctypes.data % 64) // 4
        parent = buf[start : start + lay.size]
        parent.fill(-1)
    else:  # more than 2**31 cells: argsort and int64 indices
        if nan_policy == "raise":
            check_finite(arr, "array", hint=_NAN_HINT)
        src = flat = np.asarray(arr, dtype=np.float64).reshape(-1)
        key = -flat if filtration == "superlevel" else flat
        mask = nonfinite_mask(flat)
        if mask is None:
            order = np.argsort(key, kind="stable")
        else:
            idx = np.flatnonzero(~mask)
            order = idx[np.argsort(key[idx], kind="stable")]
        del key, mask
        multi = np.unravel_index(order, core)
        order = np.zeros(order.shape[0], dtype=np.int64)
        for i in range(len(core)):
            order += lay.tables[i][multi[i]]
        del multi
        n_active = order.shape[0]
        parent = buf = np.full(lay.size, -1, dtype=np.int64)
    bcells, dcells = union_find_padded(order, n_active, parent, lay.offsets, lay.lmask, lay.pf)
    del order, parent, buf
    return _make_diagram(src, shape, lay, bcells, dcells, filtration, keep_zero)


def _c_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * shape[i + 1]
    return tuple(strides)


def _make_diagram(src, shape, lay, bcells, dcells, filtration, keep_zero) -> Diagram:
    """Diagram from the storage indices of the critical cells (``src``: values in C order)."""
    from ._kernels._persistence import cells_to_pairs

    births, deaths, bcore, dcore = cells_to_pairs(
        bcells,
        dcells,
        src,
        np.array(lay.core, dtype=np.int64),
        np.array(lay.B, dtype=np.int64),
        np.array(lay.NB, dtype=np.int64),
        filtration == "superlevel",
    )
    if not keep_zero:
        sel = births != deaths
        if not sel.all():
            births, deaths, bcore, dcore = births[sel], deaths[sel], bcore[sel], dcore[sel]
    if len(shape) == bcore.shape[1]:
        bidx, didx = bcore, dcore
    else:  # put the size-1 axes back
        keep_axes = [i for i, s in enumerate(shape) if s > 1]
        bidx = np.zeros((births.shape[0], len(shape)), dtype=np.int64)
        didx = np.zeros((births.shape[0], len(shape)), dtype=np.int64)
        didx[dcore[:, 0] < 0] = -1
        for j, ax in enumerate(keep_axes):
            bidx[:, ax] = bcore[:, j]
            didx[:, ax] = dcore[:, j]
    return Diagram._new(births, deaths, bidx, didx, filtration, shape)

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
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Any, ClassVar

import numpy as np

from ._validation import (
    as_real_array,
    check_choice,
    check_finite,
    check_positive,
    check_same_shape,
    nonfinite_mask,
)
from .errors import InvalidOptionError

__all__ = ["CriticalPointErrors", "CriticalPoints", "critical_point_errors", "critical_points"]

CONNECTIVITIES = ("full", "freudenthal")
_NAN_POLICIES = ("raise", "omit")
_NAN_HINT = (
    ", or pass nan_policy='omit' to leave the non-finite cells out of the domain "
    "(they are then nobody's neighbour and get the type code -1)"
)

# type codes: keep in sync with topoeval/_kernels/_critical.py
_CODES = {
    "nonfinite": -1,
    "regular": 0,
    "minimum": 1,
    "saddle": 2,
    "saddle1": 3,
    "saddle2": 4,
    "maximum": 5,
    "degenerate": 6,
}
_NAMES = {v: k for k, v in _CODES.items()}
_ALIASES = {"1-saddle": "saddle1", "2-saddle": "saddle2", "min": "minimum", "max": "maximum"}
#: critical kinds, in the order used for per-type columns
_CRITICAL = ("minimum", "saddle", "saddle1", "saddle2", "degenerate", "maximum")


def _kinds_for(ndim: int) -> tuple[str, ...]:
    """Critical kinds that can occur in an array of effective dimension ``ndim``."""
    if ndim <= 1:
        return ("minimum", "maximum")
    if ndim == 2:
        return ("minimum", "saddle", "maximum")
    return ("minimum", "saddle1", "saddle2", "degenerate", "maximum")


def _resolve_kind(kind: Any, allowed: tuple[str, ...]) -> str:
    if isinstance(kind, (int, np.integer)) and not isinstance(kind, (bool, np.bool_)):
        name = _NAMES.get(int(kind))
    elif isinstance(kind, str):
        name = _ALIASES.get(kind, kind)
    else:
        name = None
    if name is None or name not in allowed:
        raise InvalidOptionError(
            f"kind={kind!r} is not valid; use one of: {', '.join(map(repr, allowed))}"
        )
    return name


# --------------------------------------------------------------------------- neighbourhoods


@functools.cache
def _link(ndim: int, connectivity: str):
    """Neighbour offsets (n_nb, d) and the link graph (adjacency bit masks / lists)."""
    if connectivity == "full":
        offs = [o for o in itertools.product((-1, 0, 1), repeat=ndim) if any(o)]
    else:
        pos = [o for o in itertools.product((0, 1), repeat=ndim) if any(o)]
        offs = sorted(pos + [tuple(-x for x in o) for o in pos])
    offs = np.array(offs, dtype=np.int64).reshape(-1, ndim)
    n_nb = offs.shape[0]
    diff = offs[:, None, :] - offs[None, :, :]
    if connectivity == "full":
        adj = np.abs(diff).max(axis=2) <= 1
    else:  # Kuhn triangulation: joined iff the difference is a non-zero 0/1 or 0/-1 vector
        adj = np.all((diff >= 0) & (diff <= 1), axis=2) | np.all((diff <= 0) & (diff >= -1), axis=2)
    np.fill_diagonal(adj, False)
    deg = adj.sum(axis=1).astype(np.int64)
    lists = np.full((n_nb, max(1, int(deg.max(initial=0)))), -1, dtype=np.int64)
    for k in range(n_nb):
        nz = np.flatnonzero(adj[k])
        lists[k, : nz.size] = nz
    lut = np.empty(0, dtype=np.int8)
    dil = np.zeros((1, 256), dtype=np.int64)
    if n_nb <= 62:
        n_bytes = (n_nb + 7) // 8
        masks = np.array([sum(1 << int(j) for j in np.flatnonzero(adj[k])) for k in range(n_nb)], dtype=np.int64)
        dil = np.zeros((n_bytes, 256), dtype=np.int64)
        for b in range(n_bytes):
            for byte in range(256):
                m = 0
                for i in range(8):
                    k = 8 * b + i
                    if k < n_nb and (byte >> i) & 1:
                        m |= int(masks[k])
                dil[b, byte] = m
        if n_nb <= 16:
            from ._kernels._critical import build_lut

            lut = build_lut(n_nb, dil)
    return offs, adj, lists, deg, lut, dil


def _prepare(array: Any, name: str) -> np.ndarray:
    arr = as_real_array(array, name)
    # few kernel specialisations (compile time): exact conversions to float32 / int64
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "biu" and arr.dtype not in (np.int64, np.uint64):
        arr = arr.astype(np.int64)
    return arr


def _core_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    core = tuple(int(s) for s in shape if s > 1)
    return core if core else (1,)


def _classify(arr: np.ndarray, connectivity: str, bad: np.ndarray | None):
    """Run the kernel; returns (types, c-, c+) shaped like ``arr``."""
    from ._kernels import _critical as K

    shape = arr.shape
    core = _core_shape(shape)
    v = np.ascontiguousarray(arr).reshape(-1)
    ndim = len(core)
    offs, _adj, lists, deg, lut, dil = _link(ndim, connectivity)
    cstr = np.ones(ndim, dtype=np.int64)
    for i in range(ndim - 2, -1, -1):
        cstr[i] = cstr[i + 1] * core[i + 1]
    fo = offs @ cstr
    ok = np.ones(1, dtype=np.bool_) if bad is None else ~bad.reshape(-1)
    use_ok = bad is not None
    n = v.size
    types = np.empty(n, dtype=np.int8)
    cm = np.empty(n, dtype=np.uint8)
    cp = np.empty(n, dtype=np.uint8)
    sh = np.array(core, dtype=np.int64)
    inner2d = ndim == 2 and not use_ok and min(core) >= 3
    if inner2d:
        # unrolled kernels for the interior of 2-D arrays (the offsets order is fixed in _link)
        kern = K.classify_2d_full_inner if connectivity == "full" else K.classify_2d_freudenthal_inner
        ttab = K.type_table(2)
        kern(v.reshape(core), lut, ttab, types.reshape(core), cm.reshape(core), cp.reshape(core))
    inner3d = ndim == 3 and connectivity == "full" and not use_ok and min(core) >= 3
    if inner3d:
        K.classify_3d_full_inner(
            v.reshape(core), K.type_table(3), types.reshape(core), cm.reshape(core), cp.reshape(core)
        )
    if offs.shape[0] <= 62:
        K.classify_bits(v, sh, offs, fo, ok, use_ok, lut, dil, types, cm, cp, inner2d or inner3d)
    else:
        K.classify_bfs(v, sh, offs, fo, ok, use_ok, lists, deg, types, cm, cp)
    return types.reshape(shape), cm.reshape(shape), cp.reshape(shape), ndim


def _sos_order(v: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
    """Flat indices of the cells (all, or ``idx``) sorted by (value, flat index).

    float32 and narrow-range integers: one sort of uint64 keys (order-preserving 32-bit value
    pattern, flat index) - about 3x faster than a stable argsort; otherwise a stable argsort.
    """
    vals = v if idx is None else v[idx]
    n = v.size
    key = None
    if n < 2**32 and vals.size:
        if vals.dtype == np.float32:
            w = (vals + np.float32(0.0)).view(np.uint32)  # -0.0 -> +0.0: equal values tie
            key = np.where(w >> np.uint32(31), ~w, w | np.uint32(0x80000000)).astype(np.uint64)
        elif vals.dtype.kind in "iu":
            lo, hi = int(vals.min()), int(vals.max())
            if hi - lo < 2**32:
                key = (vals - vals.dtype.type(lo)).astype(np.uint64)
    if key is None:
        order = np.argsort(vals, kind="stable")
        return order if idx is None else idx[order]
    flat = np.arange(n, dtype=np.uint64) if idx is None else idx.astype(np.uint64)
    key = (key << np.uint64(32)) | flat
    key.sort()
    return (key & np.uint64(0xFFFFFFFF)).astype(np.int64)


def _persistence(arr: np.ndarray, connectivity: str, bad: np.ndarray | None, types: np.ndarray) -> np.ndarray:
    """Per-cell persistence (see CriticalPoints.persistence), two union-find passes."""
    from ._kernels import _critical as K

    shape = arr.shape
    core = _core_shape(shape)
    v = np.ascontiguousarray(arr).reshape(-1)
    ndim = len(core)
    offs = _link(ndim, connectivity)[0]
    pshape = tuple(s + 2 for s in core)
    pstr = np.ones(ndim, dtype=np.int64)
    for i in range(ndim - 2, -1, -1):
        pstr[i] = pstr[i + 1] * pshape[i + 1]
    pfo = offs @ pstr
    psize = int(np.prod(pshape))
    idx = None if bad is None else np.flatnonzero(~bad.reshape(-1))
    order = _sos_order(v, idx)
    porder = K.padded_index(order, np.array(core, dtype=np.int64))
    vals = v[order].astype(np.float64)
    inner = tuple(slice(1, -1) for _ in core)

    itype = np.int32 if psize < 2**31 - 2 else np.int64

    def run(po, vv):
        b = np.zeros(psize)
        d = np.zeros(psize)
        K.cell_persistence(vv, po, pfo, np.full(psize, -1, dtype=itype), b, d)
        return b.reshape(pshape)[inner].reshape(-1), d.reshape(pshape)[inner].reshape(-1)

    b_sub, d_sub = run(porder, vals)
    b_sup, d_sup = run(porder[::-1].copy(), vals[::-1].copy())
    t = types.reshape(-1)
    out = np.maximum(d_sub, d_sup)
    out[t == 1] = b_sub[t == 1]
    out[t == 5] = b_sup[t == 5]
    out[t <= 0] = 0.0
    return out.reshape(shape)


# --------------------------------------------------------------------------- classification


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


def _check_connectivity(connectivity: Any) -> str:
    if connectivity == "face":
        raise InvalidOptionError(
            "connectivity='face' is not valid for critical points (the 2*d axis neighbours do "
            "not triangulate the grid); use 'full' (the persistence diagrams' 3**d - 1 "
            "neighbours) or 'freudenthal' (TTK's triangulation)"
        )
    return check_choice(connectivity, "connectivity", CONNECTIVITIES)


def critical_points(
    array: Any,
    *,
    connectivity: str = "full",
    nan_policy: str = "raise",
    persistence: bool = False,
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
    return _critical_points(arr, conn, bad, bool(persistence))


def _critical_points(arr: np.ndarray, conn: str, bad: np.ndarray | None, with_pers: bool) -> CriticalPoints:
    types, cm, cp, ndim = _classify(arr, conn, bad)
    pers = _persistence(arr, conn, bad, types) if with_pers else None
    for x in (types, cm, cp, pers):
        if x is not None:
            x.setflags(write=False)
    return CriticalPoints(types, cm, cp, conn, ndim, pers)


# --------------------------------------------------------------------------- preservation

_ERROR_KINDS = {"false_negatives": 1, "false_positives": 2, "false_types": 3}


@dataclasses.dataclass(frozen=True, eq=False)
class CriticalPointErrors:
    """Critical points of an original lost, added or retyped by a reconstruction.

    Made by :func:`critical_point_errors`.  A cell is a

    * **false negative** if it is critical in the original (with persistence >=
      ``min_persistence`` there) and regular in the reconstruction;
    * **false positive** if it is regular in the original and critical in the reconstruction
      (with persistence >= ``min_persistence`` there);
    * **false type** if it is critical in both, with persistence >= ``min_persistence`` in
      the original, and the types differ.

    Attributes
    ----------
    orig, recon : CriticalPoints
        The classifications (with ``persistence`` when ``min_persistence > 0``).
    error_map : int8 ndarray, shape of the input
        0 no error, 1 false negative, 2 false positive, 3 false type.
    connectivity : str
    min_persistence : float
    n_critical_orig, n_critical_recon : int
        Critical cells of the original / reconstruction that pass the persistence threshold
        (the denominators of the rates).
    preserved : int
        Counted critical cells of the original with the same type in the reconstruction.
    """

    orig: CriticalPoints
    recon: CriticalPoints
    error_map: np.ndarray
    connectivity: str
    min_persistence: float
    n_critical_orig: int
    n_critical_recon: int
    preserved: int

    def _count(self, code: int) -> int:
        return int(np.count_nonzero(self.error_map == code))

    @property
    def false_negatives(self) -> int:
        """Number of critical cells of the original that are regular in the reconstruction."""
        return self._count(1)

    @property
    def false_positives(self) -> int:
        """Number of regular cells of the original that are critical in the reconstruction."""
        return self._count(2)

    @property
    def false_types(self) -> int:
        """Number of cells critical in both with different types."""
        return self._count(3)

    @property
    def total_errors(self) -> int:
        """``false_negatives + false_positives + false_types``."""
        return int(np.count_nonzero(self.error_map))

    @property
    def rates(self) -> dict[str, float]:
        """``fn_rate`` = FN / n_critical_orig, ``ft_rate`` = FT / n_critical_orig, ``fp_rate`` =
        FP / n_critical_recon, ``error_rate`` = total / (n_critical_orig + FP); 0 when empty."""

        def ratio(a: int, b: int) -> float:
            return float(a) / b if b else 0.0

        return {
            "fn_rate": ratio(self.false_negatives, self.n_critical_orig),
            "fp_rate": ratio(self.false_positives, self.n_critical_recon),
            "ft_rate": ratio(self.false_types, self.n_critical_orig),
            "error_rate": ratio(self.total_errors, self.n_critical_orig + self.false_positives),
        }

    def by_type(self, kind: str) -> dict[str, int]:
        """Errors of one kind per critical type: by the original's type for false negatives and
        false types, by the reconstruction's type for false positives."""
        name = _resolve_kind(kind, tuple(_ERROR_KINDS))
        code = _ERROR_KINDS[name]
        ref = self.recon.types if name == "false_positives" else self.orig.types
        sel = ref[self.error_map == code]
        return {k: int(np.count_nonzero(sel == _CODES[k])) for k in _CRITICAL}

    def mask(self, kind: str = "all") -> np.ndarray:
        """bool array of the cells with an error of ``kind`` (``"false_negatives"``,
        ``"false_positives"``, ``"false_types"`` or ``"all"``)."""
        name = _resolve_kind(kind, (*_ERROR_KINDS, "all"))
        if name == "all":
            return self.error_map > 0
        return self.error_map == _ERROR_KINDS[name]

    def positions(self, kind: str = "all") -> np.ndarray:
        """(k, d) int64 multi-indices of the cells with an error of ``kind`` (see :meth:`mask`)."""
        return np.argwhere(self.mask(kind)).astype(np.int64)

    def counts_per_region(self, block_shape: Any, kind: str = "all") -> np.ndarray:
        """Number of errors of ``kind`` in every block of a regular partition of the domain.

        Parameters
        ----------
        block_shape : int or tuple of int
            Block size along every axis (one int: the same along all axes).  The last block
            along an axis may be smaller.
        kind : str, default "all"
            As in :meth:`mask`.

        Returns
        -------
        int64 ndarray, shape ``ceil(shape / block_shape)``
        """
        m = self.mask(kind)
        d = m.ndim
        if isinstance(block_shape, (int, np.integer)) and not isinstance(block_shape, bool):
            block = (int(block_shape),) * d
        else:
            try:
                block = tuple(int(b) for b in block_shape)
            except (TypeError, ValueError):
                raise InvalidOptionError(
                    f"block_shape={block_shape!r} is not valid; pass an int or a tuple of {d} ints"
                ) from None
        if len(block) != d or any(b < 1 for b in block):
            raise InvalidOptionError(
                f"block_shape={block_shape!r} is not valid for a {d}-D array; pass {d} positive ints"
            )
        nb = tuple(-(-s // b) for s, b in zip(m.shape, block))
        padded = np.zeros(tuple(n * b for n, b in zip(nb, block)), dtype=np.int64)
        padded[tuple(slice(0, s) for s in m.shape)] = m
        inter = [x for pair in zip(nb, block) for x in pair]
        return padded.reshape(inter).sum(axis=tuple(range(1, 2 * d, 2)))

    def to_row(self) -> dict[str, Any]:
        """FLAT dict of scalars with stable ``cp_`` keys (one column each), for compare/batch rows.

        ``cp_connectivity``, ``cp_min_persistence``, ``cp_n_critical_orig``,
        ``cp_n_critical_recon``, ``cp_preserved``, ``cp_false_negatives``,
        ``cp_false_positives``, ``cp_false_types``, ``cp_total_errors``, ``cp_fn_rate``,
        ``cp_fp_rate``, ``cp_ft_rate``, ``cp_error_rate`` and per type
        ``cp_false_negatives_<t>``, ``cp_false_positives_<t>``, ``cp_false_types_<t>`` for
        ``<t>`` in minimum, saddle, saddle1, saddle2, degenerate, maximum (0 where a kind
        cannot occur at the array's dimension).
        """
        row: dict[str, Any] = {
            "cp_connectivity": self.connectivity,
            "cp_min_persistence": float(self.min_persistence),
            "cp_n_critical_orig": int(self.n_critical_orig),
            "cp_n_critical_recon": int(self.n_critical_recon),
            "cp_preserved": int(self.preserved),
            "cp_false_negatives": self.false_negatives,
            "cp_false_positives": self.false_positives,
            "cp_false_types": self.false_types,
            "cp_total_errors": self.total_errors,
        }
        row.update({f"cp_{k}": v for k, v in self.rates.items()})
        for kind in _ERROR_KINDS:
            for t, v in self.by_type(kind).items():
                row[f"cp_{kind}_{t}"] = v
        return row

    def to_dict(self, *, positions: bool = True) -> dict[str, Any]:
        """JSON-safe nested dict: the :meth:`to_row` scalars under ``"summary"``, the per-type
        counts under ``"by_type"`` and, with ``positions=True``, the (k, d) index lists of every
        error kind under ``"positions"`` (``json.dump`` it to export the locations)."""
        out: dict[str, Any] = {
            "summary": self.to_row(),
            "by_type": {k: self.by_type(k) for k in _ERROR_KINDS},
            "shape": list(self.error_map.shape),
        }
        if positions:
            out["positions"] = {k: self.positions(k).tolist() for k in _ERROR_KINDS}
        return out

    def __repr__(self) -> str:
        return (
            f"CriticalPointErrors(shape={self.error_map.shape}, connectivity={self.connectivity!r}, "
            f"min_persistence={self.min_persistence}, false_negatives={self.false_negatives}, "
            f"false_positives={self.false_positives}, false_types={self.false_types}, "
            f"n_critical_orig={self.n_critical_orig}, n_critical_recon={self.n_critical_recon})"
        )


def critical_point_errors(
    orig: Any,
    recon: Any,
    *,
    connectivity: str = "full",
    min_persistence: float = 0.0,
    nan_policy: str = "raise",
) -> CriticalPointErrors:
    """False negatives, false positives and false types of the critical points of a reconstruction.

    Both arrays are classified with :func:`critical_points` and compared cell by cell (see
    :class:`CriticalPointErrors` for the definitions; the three kinds are disjoint).

    Parameters
    ----------
    orig, recon : array_like, same shape (n_0, ..., n_{d-1})
        The original field and its reconstruction.
    connectivity : {"full", "freudenthal"}, default "full"
        The link used for both (see :func:`critical_points`).
    min_persistence : float, default 0.0
        Count only critical points whose persistence is at least this: in the original for
        false negatives, false types and preserved points, in the reconstruction for false
        positives (see :attr:`CriticalPoints.persistence`: extrema by the persistence of the
        class they create, saddles by the largest persistence among the classes they kill;
        a saddle that kills no 0-D class has persistence 0 and is dropped by any positive
        threshold; never-dying extrema are always kept).  0 counts every critical point.
    nan_policy : {"raise", "omit"}, default "raise"
        With ``"omit"`` the cells non-finite in *either* array are left out of both domains,
        so both are classified on the same domain.

    Returns
    -------
    CriticalPointErrors

    Raises
    ------
    ShapeMismatchError
        The arrays have different shapes.
    NonFiniteError, InvalidInputError, InvalidDTypeError, InvalidOptionError
        As for :func:`critical_points`; ``min_persistence`` must be a finite number >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> orig = np.array([0.0, 2.0, 1.0, 3.0, 0.5])
    >>> recon = np.array([0.0, 2.0, 2.5, 3.0, 0.5])
    >>> err = te.critical_point_errors(orig, recon)
    >>> err.false_negatives, err.false_positives, err.false_types
    (2, 0, 0)
    >>> err.positions("false_negatives").tolist()
    [[1], [2]]
    >>> te.critical_point_errors(orig, recon, min_persistence=1.5).false_negatives
    0
    """
    conn = _check_connectivity(connectivity)
    check_choice(nan_policy, "nan_policy", _NAN_POLICIES)
    t = check_positive(min_persistence, "min_persistence", strict=False, allow_inf=True)
    a = _prepare(orig, "orig")
    b = _prepare(recon, "recon")
    check_same_shape(a, b)
    bad = None
    if nan_policy == "raise":
        check_finite(a, "orig", hint=_NAN_HINT)
        check_finite(b, "recon", hint=_NAN_HINT)
    else:
        ma, mb = nonfinite_mask(a), nonfinite_mask(b)
        if ma is not None or mb is not None:
            bad = (ma if ma is not None else False) | (mb if mb is not None else False)
            bad = np.asarray(bad, dtype=bool)
    with_pers = t > 0
    co = _critical_points(a, conn, bad, with_pers)
    cr = _critical_points(b, conn, bad, with_pers)
    to, tr = co.types, cr.types
    crit_o = to > 0
    crit_r = tr > 0
    if with_pers:
        sig_o = crit_o & (co.persistence >= t)
        sig_r = crit_r & (cr.persistence >= t)
    else:
        sig_o, sig_r = crit_o, crit_r
    emap = np.zeros(to.shape, dtype=np.int8)
    emap[sig_o & ~crit_r] = 1
    emap[sig_r & ~crit_o] = 2
    emap[sig_o & crit_r & (to != tr)] = 3
    emap.setflags(write=False)
    preserved = int(np.count_nonzero(sig_o & (to == tr)))
    return CriticalPointErrors(
        co, cr, emap, conn, t, int(np.count_nonzero(sig_o)), int(np.count_nonzero(sig_r)), preserved
    )

"""The Diagram container: births, deaths and the critical cell of every pair."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice
from ..errors import InvalidInputError

__all__ = ["Diagram"]

FILTRATIONS = ("sublevel", "superlevel")


class Diagram:
    """A persistence diagram of a grid array (one dimension), with the critical cell of every pair.

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
    dim : int, default 0
        Homology dimension of the classes (0: components, 1: loops, 2: voids, ...).
        For ``dim >= 1`` the index arrays hold the array element whose value the birth
        (death) cell takes; see :func:`topoeval.persistence_diagrams`.

    Attributes
    ----------
    births, deaths : (n,) float64 ndarray
    birth_index, death_index : (n, d) int64 ndarray
    filtration : str
    shape : tuple of int or None
    dim : int

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

    __slots__ = ("birth_index", "births", "death_index", "deaths", "dim", "filtration", "shape")
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
        dim: int = 0,
    ) -> None:
        check_choice(filtration, "filtration", FILTRATIONS)
        if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)) or dim < 0:
            raise InvalidInputError(f"dim={dim!r} is not valid; pass a homology dimension 0, 1, 2, ...")
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
        self.dim = int(dim)

    @classmethod
    def _new(cls, births, deaths, birth_index, death_index, filtration, shape, dim=0) -> Diagram:
        """Internal constructor: takes the (already valid) arrays without copying them."""
        self = object.__new__(cls)
        self.births, self.deaths = births, deaths
        self.birth_index, self.death_index = birth_index, death_index
        self.filtration, self.shape, self.dim = filtration, shape, dim
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
        dim = f"dim={self.dim}, " if self.dim else ""  # 0-D reprs unchanged
        return (
            f"Diagram({dim}filtration={self.filtration!r}, shape={self.shape}, n_pairs={len(self)}, "
            f"n_essential={int(np.isinf(self.deaths).sum())})"
        )

    def __eq__(self, other: object) -> bool:
        """Multiset equality of the (birth, death) pairs, the same filtration and dimension."""
        if not isinstance(other, Diagram):
            return NotImplemented
        if self.filtration != other.filtration or self.dim != other.dim or len(self) != len(other):
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

    def _take(self, sel) -> Diagram:
        return Diagram._new(
            self.births[sel],
            self.deaths[sel],
            self.birth_index[sel],
            self.death_index[sel],
            self.filtration,
            self.shape,
            self.dim,
        )

    def finite(self) -> Diagram:
        """The pairs with a finite death, as a new Diagram (same order)."""
        return self._take(np.isfinite(self.deaths))

    def essential(self) -> Diagram:
        """The never-dying classes (infinite death), as a new Diagram (same order)."""
        return self._take(~np.isfinite(self.deaths))

    def sorted_by_persistence(self) -> Diagram:
        """A new Diagram with the pairs by decreasing persistence (never-dying ones first).

        Ties keep the diagram's order (stable sort).
        """
        return self._take(np.argsort(-self.persistence, kind="stable"))

    def to_gudhi(self) -> list[tuple[int, tuple[float, float]]]:
        """The pairs in gudhi's persistence format ``[(dim, (birth, death)), ...]``.

        Values are as stored: for a superlevel diagram (birth above death) negate both
        coordinates to compare with gudhi's diagram of ``-a``.
        """
        return [(self.dim, (b, d)) for b, d in zip(self.births.tolist(), self.deaths.tolist())]

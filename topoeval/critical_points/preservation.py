"""How well a reconstruction preserves the critical points of an original: false negatives,
false positives and false types (:func:`critical_point_errors`, :class:`CriticalPointErrors`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .._validation import (
    check_choice,
    check_finite,
    check_positive,
    check_same_shape,
    nonfinite_mask,
)
from ..errors import InvalidOptionError
from ..persistence.blocks import check_jobs
from ._codes import (
    _CODES,
    _CRITICAL,
    _NAN_HINT,
    _NAN_POLICIES,
    _check_connectivity,
    _prepare,
    _resolve_kind,
)
from .points import CriticalPoints, _critical_points

__all__ = ["CriticalPointErrors", "critical_point_errors"]

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
    jobs: int | None = None,
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
    jobs : int, optional
        Threads, as in :func:`critical_points` (same result for every ``jobs``).

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
    n_jobs = check_jobs(jobs)
    co = _critical_points(a, conn, bad, with_pers, n_jobs)
    cr = _critical_points(b, conn, bad, with_pers, n_jobs)
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

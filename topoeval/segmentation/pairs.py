"""Which persistence pairs a reconstruction keeps: the pairs identified by their critical cells."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import as_real_array, check_choice, check_positive, check_same_shape

__all__ = ["PersistencePairErrors", "persistence_pair_errors"]

_FILTRATIONS = ("sublevel", "superlevel", "both")


def _pair_keys(dgm: Any, min_persistence: float) -> np.ndarray:
    """Sorted unique int64 keys ``birth * (n + 1) + death + 1`` (flat cells; death -1 = never)
    of the pairs of ``dgm`` with persistence above ``min_persistence`` (exact below 3e9 cells)."""
    shape = tuple(dgm.shape)
    n = int(np.prod(shape))
    keep = np.abs(np.asarray(dgm.deaths) - np.asarray(dgm.births)) > min_persistence
    bi = np.asarray(dgm.birth_index)[keep]
    di = np.asarray(dgm.death_index)[keep]
    birth = np.ravel_multi_index(bi.T, shape) if bi.size else np.empty(0, np.int64)
    never = (di < 0).any(axis=1) if di.size else np.zeros(0, bool)
    death = np.full(birth.size, -1, dtype=np.int64)
    if (~never).any():
        death[~never] = np.ravel_multi_index(di[~never].T, shape)
    return np.unique(np.asarray(birth, np.int64) * (n + 1) + death + 1)


def _decode(keys: np.ndarray, n: int) -> np.ndarray:
    """(k, 2) int64 [birth cell, death cell] (flat; -1: never dies) of keys."""
    return np.stack([keys // (n + 1), keys % (n + 1) - 1], axis=1).astype(np.int64)


@dataclass(frozen=True, eq=False)
class PersistencePairErrors:
    """The persistence pairs of an original and a reconstruction above a threshold, matched by
    their cells.

    A pair is its (birth cell, death cell): the minimum (maximum, superlevel) that creates
    a component and the saddle where it merges into an older one, with the same
    tie-breaking as :func:`topoeval.persistence_diagram`.  It is *preserved* when the
    reconstruction has a pair with the same two cells, both with persistence above
    ``min_persistence``.

    Attributes
    ----------
    min_persistence : float
        The threshold (pairs with ``|death - birth| > min_persistence`` count; a
        never-dying class always counts).
    shape : tuple of int
    false_negative_pairs, false_positive_pairs, preserved_pairs : dict
        Per filtration, (k, 2) int64 arrays of [birth cell, death cell] as C-order flat
        indices (death -1: the class never dies): the original's pairs the reconstruction
        lost, those it added, those it kept.
    """

    min_persistence: float
    shape: tuple[int, ...]
    false_negative_pairs: Mapping[str, np.ndarray]
    false_positive_pairs: Mapping[str, np.ndarray]
    preserved_pairs: Mapping[str, np.ndarray]

    @property
    def filtrations(self) -> tuple[str, ...]:
        return tuple(self.preserved_pairs)

    @property
    def preserved(self) -> int:
        return sum(len(v) for v in self.preserved_pairs.values())

    @property
    def false_negatives(self) -> int:
        return sum(len(v) for v in self.false_negative_pairs.values())

    @property
    def false_positives(self) -> int:
        return sum(len(v) for v in self.false_positive_pairs.values())

    def to_row(self) -> dict[str, Any]:
        """Flat counts with a ``pairs_`` prefix: the totals over the filtrations, then (with two
        filtrations) each one's with a ``_sublevel`` / ``_superlevel`` suffix."""
        row: dict[str, Any] = {}
        filts = self.filtrations
        for suffix, keys in [("", filts)] + ([(f"_{f}", (f,)) for f in filts] if len(filts) > 1 else []):
            kept = sum(len(self.preserved_pairs[f]) for f in keys)
            lost = sum(len(self.false_negative_pairs[f]) for f in keys)
            added = sum(len(self.false_positive_pairs[f]) for f in keys)
            row[f"pairs_preserved{suffix}"] = kept
            row[f"pairs_false_negatives{suffix}"] = lost
            row[f"pairs_false_positives{suffix}"] = added
            row[f"pairs_n_orig{suffix}"] = kept + lost
            row[f"pairs_n_recon{suffix}"] = kept + added
        row["pairs_min_persistence"] = float(self.min_persistence)
        return row

    def __repr__(self) -> str:
        return (
            f"PersistencePairErrors({self.preserved} preserved, {self.false_negatives} false "
            f"negatives, {self.false_positives} false positives above {self.min_persistence:g})"
        )


def pair_errors_from_diagrams(
    diagrams: Mapping[str, tuple[Any, Any]], min_persistence: float
) -> PersistencePairErrors:
    """The pair errors of ``{filtration: (orig diagram, recon diagram)}`` (diagrams with
    ``birth_index`` / ``death_index``, e.g. from :func:`topoeval.persistence_diagram`)."""
    lost, added, kept = {}, {}, {}
    shape = ()
    for filt, (d1, d2) in diagrams.items():
        shape = tuple(d1.shape)
        n = int(np.prod(shape))
        k1, k2 = _pair_keys(d1, min_persistence), _pair_keys(d2, min_persistence)
        lost[filt] = _decode(np.setdiff1d(k1, k2, assume_unique=True), n)
        added[filt] = _decode(np.setdiff1d(k2, k1, assume_unique=True), n)
        kept[filt] = _decode(np.intersect1d(k1, k2, assume_unique=True), n)
    return PersistencePairErrors(float(min_persistence), shape, lost, added, kept)


def persistence_pair_errors(
    orig: Any,
    recon: Any,
    min_persistence: float = 0.0,
    filtration: str = "both",
    connectivity: str = "full",
    *,
    nan_policy: str = "raise",
) -> PersistencePairErrors:
    """Count the persistence pairs a reconstruction keeps, loses and adds above a threshold.

    The 0-D persistence pairs of the sublevel (superlevel) filtration are the edges of
    the join (split) tree: a minimum (maximum) and the saddle where its component merges
    into an older one.  Each pair is identified by its two cells (see
    :func:`topoeval.persistence_diagram` for the tie-breaking that makes them unique).
    With ``eps = min_persistence``: a *false negative* is a pair of the original with
    persistence ``> eps`` whose (birth cell, death cell) is not a pair of the
    reconstruction with persistence ``> eps``; a *false positive* the reverse; the rest
    are *preserved*.  This is the merge-tree reading of the false cases by which TopoA
    and TopoSZ judge a compressor after simplification at ``eps``.

    Parameters
    ----------
    orig, recon : array_like, same shape, 1-D or more
        The original and its reconstruction.
    min_persistence : float, default 0
        The simplification threshold ``eps`` (same units as the data); never-dying
        classes always count.
    filtration : {"both", "sublevel", "superlevel"}, default "both"
        The join tree (sublevel), the split tree (superlevel), or both (counts summed,
        and each one's in ``to_row()``).
    connectivity : {"full", "face"}, default "full"
        The neighbourhood of the persistence diagrams.
    nan_policy : {"raise", "omit"}, default "raise"
        As in :func:`topoeval.persistence_diagram`.

    Returns
    -------
    PersistencePairErrors
        ``.to_row()``: ``pairs_preserved``, ``pairs_false_negatives``,
        ``pairs_false_positives``, ``pairs_n_orig``, ``pairs_n_recon`` (and per filtration
        for ``"both"``); the pairs themselves as flat cell indices.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> orig = np.array([0.0, 3.0, 1.0, 4.0, 2.0])
    >>> recon = np.array([0.0, 3.0, 1.0, 4.0, 3.5])    # the dip at 4 (persistence 2) goes
    >>> err = te.persistence_pair_errors(orig, recon, min_persistence=0.5, filtration="sublevel")
    >>> err.preserved, err.false_negatives, err.false_positives
    (2, 1, 0)
    >>> err.false_negative_pairs["sublevel"]                 # [birth cell, death cell]
    array([[4, 3]])
    """
    from ..persistence import persistence_diagram

    check_choice(filtration, "filtration", _FILTRATIONS)
    eps = check_positive(min_persistence, "min_persistence", strict=False)
    x = as_real_array(orig, "orig")
    y = as_real_array(recon, "recon")
    check_same_shape(x, y)
    filts = ("sublevel", "superlevel") if filtration == "both" else (filtration,)
    kw = {"connectivity": connectivity, "nan_policy": nan_policy}  # zero pairs never count
    diagrams = {
        f: (persistence_diagram(x, filtration=f, **kw), persistence_diagram(y, filtration=f, **kw))
        for f in filts
    }
    return pair_errors_from_diagrams(diagrams, eps)

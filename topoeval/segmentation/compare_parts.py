"""The ``segmentation`` and ``pairs`` parts of :func:`topoeval.compare` (rows summed over samples)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .pairs import pair_errors_from_diagrams, persistence_pair_errors
from .preservation import segmentation_errors

__all__: list[str] = []


def _samples(a: np.ndarray, batch: int | None) -> Iterable[np.ndarray]:
    if batch is None:
        yield a
        return
    for i in range(a.shape[batch]):
        yield np.take(a, i, axis=batch)


def _sum_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts summed over the samples (the threshold kept as is)."""
    out: dict[str, Any] = {}
    for k, v in rows[0].items():
        out[k] = v if k.endswith("min_persistence") else type(v)(sum(r[k] for r in rows))
    return out


def segmentation_part(x, y, *, connectivity: str, nan_policy: str, batch: int | None):
    """(row, SegmentationErrors or a tuple of them per sample); with a batch axis the counts are
    summed and ``seg_false_label_ratio`` is over all compared cells."""
    errs = [
        segmentation_errors(xs, ys, connectivity, nan_policy=nan_policy)
        for xs, ys in zip(_samples(x, batch), _samples(y, batch))
    ]
    if batch is None:
        return errs[0].to_row(), errs[0]
    row = _sum_rows([e.to_row() for e in errs])
    cells = sum(e.n_cells for e in errs)
    row["seg_false_label_ratio"] = row["seg_false_labels"] / cells if cells else 0.0
    return row, tuple(errs)


def pairs_part(x, y, diagrams: Mapping[str, tuple] | None, *, filtrations, connectivity: str,
               min_persistence: float, nan_policy: str, batch: int | None):
    """(row, PersistencePairErrors or a tuple per sample), from the persistence part's diagrams
    when it computed them (``{filtration: (orig, recon)}``, per sample with a batch axis)."""
    if diagrams and all(f in diagrams for f in filtrations):
        if batch is None:
            per_sample = [{f: diagrams[f] for f in filtrations}]
        else:
            n = len(diagrams[filtrations[0]][0])
            per_sample = [{f: (diagrams[f][0][i], diagrams[f][1][i]) for f in filtrations} for i in range(n)]
        errs = [pair_errors_from_diagrams(d, min_persistence) for d in per_sample]
    else:
        filt = "both" if len(filtrations) > 1 else filtrations[0]
        errs = [
            persistence_pair_errors(xs, ys, min_persistence, filt, connectivity, nan_policy=nan_policy)
            for xs, ys in zip(_samples(x, batch), _samples(y, batch))
        ]
    if batch is None:
        return errs[0].to_row(), errs[0]
    return _sum_rows([e.to_row() for e in errs]), tuple(errs)

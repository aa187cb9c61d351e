"""The topology-aware rate-distortion sweep of lossy compressors (:func:`sweep`).

The sweep runs on the batch engine's executors and stores; its code lives in
:mod:`topoeval.batch.sweep` (the public function and the row columns),
:mod:`topoeval.batch.sweep_runs` (the work of one run) and
:mod:`topoeval.batch.sweep_result` (:class:`SweepResult`).  This module keeps the
public names where they have always been importable from.
"""

from __future__ import annotations

from .batch.sweep import DEFAULT_BOUNDS, DEFAULT_RATES, BoundViolationWarning, SweepResult, sweep  # noqa: F401

__all__ = ["BoundViolationWarning", "SweepResult", "sweep"]

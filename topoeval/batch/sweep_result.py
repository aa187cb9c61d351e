"""The result of a sweep: :class:`SweepResult`, one row per (field, compressor, bound).

The columns are listed in :mod:`topoeval.batch.sweep`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .result import RowTable
from .stores import json_safe

FORMAT = "topoeval-sweep"
FORMAT_VERSION = 1


@dataclass
class SweepResult(RowTable):
    """Rows of a sweep, one per (field, compressor, bound), in the order of the inputs.

    Attributes
    ----------
    rows : list of dict
        Flat rows (see the module docstring for the columns).
    options : dict
        The :func:`topoeval.compare` options and the sweep's mode.
    output : str or None
        The file the rows were written to.
    elapsed : float
        Wall time of the sweep in seconds.
    """

    rows: list[dict[str, Any]]
    options: dict[str, Any] = field(default_factory=dict)
    output: str | None = None
    elapsed: float = 0.0

    def __repr__(self) -> str:
        return (f"SweepResult({len(self.rows)} runs, {self.n_failed} failed, "
                f"{len(self.violations)} bound violation(s))")

    @property
    def violations(self) -> list[dict[str, Any]]:
        """The rows whose compressor exceeded its error bound."""
        return [r for r in self.rows if r.get("status") == "ok" and r.get("bound_ok") == 0.0]

    @property
    def column_names(self) -> list[str]:
        """Every column, in first-seen order with status and error last."""
        seen: dict[str, None] = {}
        for r in self.rows:
            for k in r:
                if k not in ("status", "error"):
                    seen.setdefault(k, None)
        return [*seen, "status", "error"]

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """The rows as a dict of NumPy columns (float64 with NaN where missing, or str)."""
        out: dict[str, np.ndarray] = {}
        for name in self.column_names:
            values = [r.get(name) for r in self.rows]
            if any(isinstance(v, str) for v in values) or name in ("field", "compressor", "mode",
                                                                   "status", "error"):
                out[name] = np.array(["" if v is None else str(v) for v in values], dtype=str)
            else:
                out[name] = np.array([np.nan if v is None else float(v) for v in values])
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (inf as "inf"/"-inf", NaN as None)."""
        from .. import __version__

        return json_safe({"format": FORMAT, "format_version": FORMAT_VERSION,
                           "topoeval_version": __version__, "options": self.options,
                           "columns": self.column_names, "rows": self.rows})

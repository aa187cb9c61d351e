"""The result of a batch: :class:`BatchResult`, one row per (reconstruction, sample).

Row columns
-----------
``recon`` (str, the reconstruction's name), ``sample`` (int64), every key of the
per-sample row (float64, NaN in failed rows; text values stay str), ``opt_<name>``
for every option of the per-sample function (its defaults filled in), ``status``
(``"ok"`` / ``"failed"``) and ``error`` (the message, ``""`` when ok).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import missing_dependency
from .stores import BASE, TAIL, json_safe, option_value
from .summary import summarize

FORMAT = "topoeval-batch"
FORMAT_VERSION = 1


def _column_kind(values: Iterable[Any]) -> str:
    kinds = {type(v) for v in values if v is not None and v != ""}
    if kinds and all(k is str for k in kinds):
        return "str"
    return "float"


class RowTable:
    """What batch and sweep results share: ``rows`` (flat dicts with a ``status``) seen as
    columns (``self.columns``), a structured array or a DataFrame."""

    rows: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def n_failed(self) -> int:
        """Number of rows with ``status == "failed"``."""
        return sum(r.get("status") != "ok" for r in self.rows)

    @property
    def n_ok(self) -> int:
        """Number of rows with ``status == "ok"``."""
        return len(self.rows) - self.n_failed

    def to_numpy(self) -> np.ndarray:
        """The rows as a structured NumPy array, shape (n_rows,)."""
        cols = self.columns
        dtype = [(k, v.dtype if v.dtype.kind != "U" else f"U{max(1, v.dtype.itemsize // 4)}")
                 for k, v in cols.items()]
        arr = np.empty(len(self.rows), dtype=dtype)
        for k, v in cols.items():
            arr[k] = v
        return arr

    def to_pandas(self):
        """The rows as a pandas DataFrame (needs the ``pandas`` extra)."""
        try:
            import pandas as pd
        except ImportError:
            raise missing_dependency("pandas", "pandas", f"{type(self).__name__}.to_pandas()") from None
        return pd.DataFrame(self.columns)


@dataclass
class BatchResult(RowTable):
    """Rows of a batch (one per (reconstruction, sample)) and a summary per reconstruction.

    Attributes
    ----------
    rows : list of dict
        One flat dict per (reconstruction, sample), ordered by reconstruction (in the order
        given) then sample; keys as in :attr:`columns`.
    recons : list of str
        The reconstructions' names.
    options : dict
        The options of the per-sample function (defaults filled in).
    orig : str
        The original's name.
    output : str or None
        The file the results were written to.
    elapsed : float
        Wall time of the batch in seconds.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> from topoeval.metrics import pointwise_metrics
    >>> orig = np.random.default_rng(0).random((4, 8, 8))
    >>> res = te.batch(orig, {"noisy": orig + 0.01}, jobs=1, sample_fn=pointwise_metrics)
    >>> len(res), res.n_failed
    (4, 0)
    >>> res.to_numpy()["max_abs_error"].round(6)
    array([0.01, 0.01, 0.01, 0.01])
    >>> round(res.summary["noisy"]["metrics"]["mae"]["mean"], 6)
    0.01
    """

    rows: list[dict[str, Any]]
    recons: list[str]
    options: dict[str, Any]
    orig: str = "orig"
    output: str | None = None
    elapsed: float = 0.0

    def __repr__(self) -> str:
        return (f"BatchResult({len(self.rows)} rows, {len(self.recons)} reconstruction(s), "
                f"{self.n_failed} failed)")

    @property
    def metric_names(self) -> list[str]:
        """Keys produced by the per-sample function, in first-seen order."""
        seen: dict[str, None] = {}
        for r in self.rows:
            for k in r:
                if k not in BASE and k not in TAIL and not k.startswith("opt_"):
                    seen.setdefault(k, None)
        return list(seen)

    @property
    def column_names(self) -> list[str]:
        """All columns: recon, sample, metrics, opt_<option>..., status, error."""
        return [*BASE, *self.metric_names, *(f"opt_{k}" for k in self.options), *TAIL]

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """The rows as a dict of NumPy columns (float64 with NaN where missing, or str)."""
        out: dict[str, np.ndarray] = {}
        for name in self.column_names:
            if name.startswith("opt_"):
                v = option_value(self.options[name[4:]])
                values = [v] * len(self.rows)
            else:
                values = [r.get(name) for r in self.rows]
            if name == "sample":
                out[name] = np.array(values, dtype=np.int64)
            elif name in ("recon", "status", "error") or _column_kind(values) == "str":
                out[name] = np.array(["" if v is None else str(v) for v in values], dtype=str)
            else:
                out[name] = np.array([np.nan if v is None or v == "" else float(v) for v in values],
                                     dtype=np.float64)
        return out

    @property
    def summary(self) -> dict[str, dict[str, Any]]:
        """Per reconstruction: n, n_ok, n_failed, mean/std/min/max of every numeric metric
        over the ok rows, and the worst samples by each ``wasserstein*`` column and by
        ``exact_dsl`` (see :func:`topoeval.batch.summary.summarize`)."""
        return summarize(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: format, inputs, options, columns, rows (each with every column, the
        ``opt_`` values included) and summary (inf as "inf", NaN as None)."""
        from .. import __version__

        return json_safe({
            "format": FORMAT, "format_version": FORMAT_VERSION, "topoeval_version": __version__,
            "orig": self.orig, "recons": self.recons, "options": self.options,
            "columns": self.column_names, "rows": self._full_rows(), "summary": self.summary,
        })

    def _full_rows(self) -> list[dict[str, Any]]:
        """The rows with every column in order (the ``opt_`` values included; a metric a row
        lacks, as in failed rows, is None)."""
        metrics = self.metric_names
        opts = {f"opt_{k}": option_value(v) for k, v in self.options.items()}
        return [{**{k: r[k] for k in BASE}, **{m: r.get(m) for m in metrics}, **opts,
                 **{k: r[k] for k in TAIL}} for r in self.rows]

"""The summary of a batch: per reconstruction, statistics of every metric and the worst samples.

For each reconstruction: ``n``, ``n_ok``, ``n_failed``; ``metrics``: mean, std, min and max
of every numeric column over the ok rows (NaN values left out); ``worst``: the
``_WORST`` samples with the largest value of each ``wasserstein*`` column and of
``exact_dsl`` (ties by sample index), as ``[sample, value]`` pairs.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from .stores import csv_cell

_WORST = 5  # samples listed per "worst" ranking


def summarize(result) -> dict[str, dict[str, Any]]:
    """The summary of a :class:`~topoeval.BatchResult` (see the module docstring)."""
    cols = result.columns
    out: dict[str, dict[str, Any]] = {}
    for name in result.recons:
        sel = cols["recon"] == name
        ok = sel & (cols["status"] == "ok")
        entry: dict[str, Any] = {"n": int(sel.sum()), "n_ok": int(ok.sum()),
                                 "n_failed": int(sel.sum() - ok.sum()), "metrics": {}, "worst": {}}
        for m in result.metric_names:
            v = cols[m]
            if v.dtype.kind != "f":
                continue
            x = v[ok]
            x = x[~np.isnan(x)]
            if x.size == 0:
                stats = dict(mean=math.nan, std=math.nan, min=math.nan, max=math.nan)
            else:
                with np.errstate(invalid="ignore", over="ignore"):
                    stats = dict(mean=float(x.mean()), std=float(x.std()),
                                 min=float(x.min()), max=float(x.max()))
            entry["metrics"][m] = stats
            if m.startswith("wasserstein") or m == "exact_dsl":
                idx = np.flatnonzero(ok)
                vals = v[idx]
                keep = ~np.isnan(vals)
                idx, vals = idx[keep], vals[keep]
                order = np.lexsort((cols["sample"][idx], -vals))[:_WORST]
                entry["worst"][m] = [[int(cols["sample"][idx[i]]), float(vals[i])] for i in order]
        out[name] = entry
    return out


def write_summary_csv(result, path: Path) -> None:
    """``<stem>.summary.csv``: one line per reconstruction, ``<metric>_<statistic>`` columns and
    the worst samples (space-separated indices) by each ranked metric."""
    summary = result.summary
    metrics = [m for m in result.metric_names if any(m in s["metrics"] for s in summary.values())]
    worst = sorted({w for s in summary.values() for w in s["worst"]})
    header = ["recon", "n", "n_ok", "n_failed"]
    header += [f"{m}_{s}" for m in metrics for s in ("mean", "std", "min", "max")]
    header += [f"worst_samples_by_{w}" for w in worst]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for name, s in summary.items():
            row = [name, s["n"], s["n_ok"], s["n_failed"]]
            for m in metrics:
                st = s["metrics"].get(m, {})
                row += [csv_cell(st.get(k)) for k in ("mean", "std", "min", "max")]
            row += [" ".join(str(i) for i, _ in s["worst"].get(x, [])) for x in worst]
            w.writerow(row)

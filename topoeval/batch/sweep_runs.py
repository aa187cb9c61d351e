"""The work of one sweep run (field, compressor, bound), in the workers: compress, decompress,
check the bound, time both, compare, and add W2.

A task is ``(field name, payload, compressor spec, bound, mode, compare options)``: the payload
is the array, or ``(spec, load_kwargs)`` of a file each worker reads itself; the compressor
spec a registered name or a (picklable) compressor object.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .inputs import error_text


def _load_field(payload: Any) -> np.ndarray:
    if isinstance(payload, np.ndarray):
        return payload
    from ..io import load_array

    spec, load_kwargs = payload
    return np.asarray(load_array(spec, **load_kwargs))


def compressor(spec: Any):
    if isinstance(spec, str):
        from ..compressors import get_compressor

        return get_compressor(spec)
    return spec


def _run_one(field_name: str, payload: Any, comp_spec: Any, bound: float, mode: str,
             options: Mapping[str, Any]) -> dict[str, Any]:
    from ..compare import compare

    comp = compressor(comp_spec)
    kind = getattr(comp, "bound_kind", "abs")
    orig = _load_field(payload)
    if orig.dtype not in (np.float32, np.float64):
        orig = orig.astype(np.float64)
    orig = np.ascontiguousarray(orig)
    if kind == "rate":
        abs_bound, row_mode = math.nan, "rate"
    elif mode == "rel":
        value_range = float(orig.max()) - float(orig.min())
        abs_bound, row_mode = bound * value_range, "rel"
        if abs_bound <= 0:
            raise InvalidInputError(
                f"field {field_name!r} is constant, so a relative bound is 0; use --mode abs")
    else:
        abs_bound, row_mode = bound, "abs"
    t0 = time.perf_counter()
    data = comp.compress(orig, abs_bound if kind != "rate" else bound)
    t1 = time.perf_counter()
    recon = np.asarray(comp.decompress(data, orig.shape, orig.dtype))
    t2 = time.perf_counter()
    if recon.shape != orig.shape:
        raise InvalidInputError(
            f"compressor {compressor_name(comp_spec)!r} returned shape {recon.shape} for an input of shape "
            f"{orig.shape}; its decompress() must return the original shape")
    n_values = int(orig.size)
    nbytes = len(data)
    max_error = float(np.max(np.abs(recon.astype(np.float64) - orig.astype(np.float64))))
    if kind == "rate":
        bound_ok = math.nan
    else:
        # one unit of rounding in the data's precision: the bound is on real numbers
        slack = float(np.finfo(orig.dtype).eps) * float(np.max(np.abs(orig)))
        bound_ok = 1.0 if max_error <= abs_bound + slack else 0.0
    row: dict[str, Any] = {
        "mode": row_mode,
        "abs_bound": abs_bound,
        "n_values": n_values,
        "original_bytes": int(orig.nbytes),
        "compressed_bytes": nbytes,
        "ratio": orig.nbytes / nbytes if nbytes else math.inf,
        "bit_rate": 8.0 * nbytes / n_values,
        "compress_time": t1 - t0,
        "decompress_time": t2 - t1,
        "max_error": max_error,
        "bound_ok": bound_ok,
    }
    comparison = compare(orig, recon, **options)
    row.update(comparison.to_row())
    row.update(_wasserstein2(comparison))
    return row


def _wasserstein2(comparison) -> dict[str, float]:
    """W2 of the comparison's diagrams (per filtration, and per homology dimension with ``dims``:
    ``wasserstein2_sublevel_dim1``), next to compare's own order (W1 by default).

    With a batch axis the per-sample distances combine as compare combines them:
    ``(sum_s W2_s**2) ** 0.5``.
    """
    from ..distances import wasserstein_distance

    if comparison.persistence is None:
        return {}
    order = float(comparison.options["order"])
    internal_p = comparison.options["internal_p"]
    out = {}
    for filt, (d_orig, d_recon) in comparison.diagrams.items():
        if order == 2.0:
            out[f"wasserstein2_{filt}"] = float(comparison.persistence[filt]["wasserstein"])
            continue
        if comparison.options.get("batch_axis") is None:
            d_orig, d_recon = (d_orig,), (d_recon,)
        total = 0.0
        for a, b in zip(d_orig, d_recon):
            w = wasserstein_distance(a, b, order=2.0, internal_p=internal_p)
            total += w * w
        out[f"wasserstein2_{filt}"] = math.sqrt(total)
    return out


def run_task(task) -> list[dict[str, Any]]:
    field_name, payload, comp_spec, bound, mode, options = task
    row: dict[str, Any] = {"field": field_name, "compressor": compressor_name(comp_spec), "bound": float(bound)}
    try:
        row.update(_run_one(field_name, payload, comp_spec, bound, mode, options))
        row["status"], row["error"] = "ok", ""
    except Exception as exc:  # noqa: BLE001 - one failing run is recorded, the sweep goes on
        row["status"], row["error"] = "failed", error_text(exc)
    return [row]


def failed_rows(task, message: str) -> list[dict[str, Any]]:
    field_name, _payload, comp_spec, bound, _mode, _options = task
    return [{"field": field_name, "compressor": compressor_name(comp_spec), "bound": float(bound),
             "status": "failed", "error": message}]


def compressor_name(comp_spec: Any) -> str:
    return comp_spec if isinstance(comp_spec, str) else str(getattr(comp_spec, "name", type(comp_spec).__name__))

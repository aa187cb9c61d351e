"""The parts of a comparison computed in memory: DSL, persistence diagrams and distances, critical points.

(Pointwise metrics come straight from :func:`topoeval.pointwise_metrics`.)
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np

from ..errors import InvalidInputError
from .result import _scalar, persistence_key


def _valid_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    ok = None
    for a in (x, y):
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            fin = np.isfinite(a)
            ok = fin if ok is None else ok & fin
    if ok is not None and not ok.any():
        raise InvalidInputError("no cell is finite in both orig and recon; nothing to compare")
    return ok


def _samples(a: np.ndarray, batch: int | None) -> Iterable[np.ndarray]:
    if batch is None:
        yield a
    else:
        for i in range(a.shape[batch]):
            yield np.take(a, i, axis=batch)


# --------------------------------------------------------------------------- parts


def _dsl_part(x, y, valid, *, sharpness, sign, weights, batch, jobs=None) -> dict[str, float]:
    from ..dsl import dsl as smooth_dsl
    from ..dsl import exact_dsl

    if valid is None:
        # x of topoeval.dsl is the reconstruction (the value is symmetric).  Both sums are taken
        # unnormalized and divided here by the weighted number of differences per sample (the
        # same for every sample), which is what normalize=True does, in one pass fewer, and
        # without failing on arrays with nothing to compare (rate 0 then).
        exact = exact_dsl(y, x, weights=weights, batch_axis=batch, normalize=False, jobs=jobs)
        total = smooth_dsl(y, x, sharpness=sharpness, sign=sign, weights=weights, batch_axis=batch,
                           normalize=False, jobs=jobs)
        axes = [a for a in range(x.ndim) if a != batch]
        w = np.ones(len(axes)) if weights is None else np.asarray(weights, dtype=np.float64)
        per_sample = math.prod(x.shape[a] for a in axes)
        denom = float(sum(wi * (per_sample // x.shape[a]) * (x.shape[a] - 1) for wi, a in zip(w, axes)))
        rate = exact / denom if denom else 0.0
        smooth = total / denom if denom else 0.0
    else:
        exact, rate, smooth = _masked_dsl(x, y, valid, sharpness=sharpness, sign=sign,
                                          weights=weights, batch=batch)
    return {"exact_dsl": float(exact), "exact_dsl_rate": float(rate), "dsl": float(smooth),
            "sharpness": float(sharpness)}


def _sign_function(sign: Any) -> Callable[[np.ndarray], np.ndarray]:
    if isinstance(sign, tuple):
        return sign[0]
    if callable(sign):
        return sign
    return {"tanh": np.tanh, "softsign": lambda z: z / (1.0 + np.abs(z)), "sign": np.sign}[sign]


def _masked_dsl(x, y, valid, *, sharpness, sign, weights, batch):
    """DSL values skipping every difference that touches a non-finite cell (nan_policy='omit').

    Returns (exact count, exact rate, smooth normalized value), means over samples with a batch axis.
    """
    f = _sign_function(sign)
    axes = [a for a in range(x.ndim) if a != batch]
    w = np.ones(len(axes)) if weights is None else np.asarray(weights, dtype=np.float64)
    exacts, rates, smooths = [], [], []
    for xs, ys, vs in zip(_samples(x, batch), _samples(y, batch), _samples(valid, batch)):
        sub_axes = [a - (batch is not None and a > batch) for a in axes]
        count = mism = smooth = 0.0
        for wi, ax in zip(w, sub_axes):
            if wi == 0 or xs.shape[ax] < 2:
                continue
            ok = vs[tuple(slice(1, None) if k == ax else slice(None) for k in range(xs.ndim))] & \
                vs[tuple(slice(None, -1) if k == ax else slice(None) for k in range(xs.ndim))]
            with np.errstate(invalid="ignore"):
                dx = np.diff(xs.astype(np.float64), axis=ax)[ok]
                dy = np.diff(ys.astype(np.float64), axis=ax)[ok]
            mism += wi * float(np.sum(np.abs(np.sign(dx) - np.sign(dy)))) / 2
            smooth += wi * float(np.sum(np.abs(f(sharpness * dy) - f(sharpness * dx)))) / 2
            count += wi * dx.size
        exacts.append(mism)
        rates.append(mism / count if count else 0.0)
        smooths.append(smooth / count if count else 0.0)
    return float(np.mean(exacts)), float(np.mean(rates)), float(np.mean(smooths))


def _sample_diagrams(a, filt, dims, *, connectivity, nan_policy, jobs) -> dict[int, Any]:
    """The diagrams of one sample in the dimensions ``dims``: dimension 0 by the union-find
    (threads, NaN omitted), the others in one :func:`persistence_diagrams` call (shared work)."""
    from ..persistence import persistence_diagram, persistence_diagrams

    out = {}
    if 0 in dims:
        out[0] = persistence_diagram(a, filtration=filt, connectivity=connectivity, nan_policy=nan_policy,
                                     jobs=jobs)
    higher = [k for k in dims if k > 0]
    if higher:
        # d-1 on the block engine's threads where dimension 0 takes them (the identical diagram)
        out.update(persistence_diagrams(a, higher, filtration=filt, connectivity=connectivity, jobs=jobs))
    return out


def _distance_ticks(progress, name):
    """The ``progress=`` of :func:`topoeval.wasserstein_distance` as ``progress(stage, done, total)``
    calls (the CLI's bar): a round's routing (done / total sources), or the auction's phases
    (done = phases, total unknown); None without ``progress``."""
    if progress is None:
        return None

    def tick(event):
        if event["stage"] == "route":
            progress(name, event["done"], event["total"])
        elif event.get("violations", 0) is None:
            progress(name, event["round"], None)

    return tick


def _distances(d_orig, d_recon, *, order, internal_p, distance_tolerance, progress=None, name="distance"):
    """The metrics of one (filtration, dimension) over the samples' diagrams, and the matchings.

    ``wasserstein = (sum_s W_s**order)**(1/order)``, ``bottleneck = max_s B_s``, counts summed.
    ``progress(stage, done, total)`` (optional) follows the large-diagram solvers as ``name``.
    """
    from ..distances import bottleneck_distance, wasserstein_distance

    kw = {} if progress is None else {"progress": _distance_ticks(progress, name)}
    match = []
    wp = 0.0
    low = 0.0  # the certified lower bound of wp (distance_tolerance)
    bott = 0.0
    for a, b in zip(d_orig, d_recon):
        if distance_tolerance is None:
            w, m = wasserstein_distance(a, b, order=order, internal_p=internal_p, matching=True, **kw)
        else:  # stopped at a certified relative gap: keep the lower bound beside the value
            r = wasserstein_distance(a, b, order=order, internal_p=internal_p, matching=True,
                                     tolerance=distance_tolerance, **kw)
            w, m = r.value, r.matching
            low += r.lower**order if math.isfinite(r.lower) else math.inf
        bd = bottleneck_distance(a, b)
        wp += w**order if math.isfinite(w) else math.inf
        bott = max(bott, bd)
        match.append(m)
    wass = wp ** (1.0 / order) if math.isfinite(wp) else math.inf
    vals = {
        "wasserstein": float(wass),
        "bottleneck": float(bott),
        "n_points_orig": sum(len(d) for d in d_orig),
        "n_points_recon": sum(len(d) for d in d_recon),
        "n_essential_orig": sum(int(np.isinf(d.deaths).sum()) for d in d_orig),
        "n_essential_recon": sum(int(np.isinf(d.deaths).sum()) for d in d_recon),
    }
    if distance_tolerance is not None:  # W certified within [lower, W]: the relative gap
        lower = low ** (1.0 / order) if math.isfinite(low) else math.inf
        vals["wasserstein_lower"] = float(lower)
        gap = 0.0 if lower >= wass else (wass - lower) / lower if lower > 0 else math.inf
        vals["wasserstein_gap"] = float(gap)
    return vals, match


def _persistence_part(x, y, filtrations, *, connectivity, order, internal_p, nan_policy, batch,
                      distance_tolerance=None, jobs=None, dims=(0,), progress=None):
    """(metrics, diagrams, matchings), each keyed by :func:`~topoeval.compare.result.persistence_key`:
    the filtration for dimension 0, ``"<filtration>_dim<k>"`` for dimension k >= 1; dimension by
    dimension, each in the order of ``filtrations``; ``progress(stage, done, total)``: the
    distance solves as stages "distance W<order> <key>"."""
    pers: dict[str, dict[str, Any]] = {}
    diagrams: dict[str, tuple] = {}
    matchings: dict[str, Any] = {}
    for filt in filtrations:
        per_dim: dict[int, tuple[list, list]] = {k: ([], []) for k in dims}
        for xs, ys in zip(_samples(x, batch), _samples(y, batch)):
            opts = {"connectivity": connectivity, "nan_policy": nan_policy, "jobs": jobs}
            a = _sample_diagrams(xs, filt, dims, **opts)
            b = _sample_diagrams(ys, filt, dims, **opts)
            for k in dims:
                per_dim[k][0].append(a[k])
                per_dim[k][1].append(b[k])
        for k in dims:
            d_orig, d_recon = per_dim[k]
            key = persistence_key(filt, k)
            pers[key], match = _distances(d_orig, d_recon, order=order, internal_p=internal_p,
                                          distance_tolerance=distance_tolerance, progress=progress,
                                          name=f"distance W{order:g} {key}")
            if batch is None:
                diagrams[key] = (d_orig[0], d_recon[0])
                matchings[key] = match[0]
            else:
                diagrams[key] = (tuple(d_orig), tuple(d_recon))
                matchings[key] = tuple(match)
    order_keys = [persistence_key(f, k) for k in dims for f in filtrations]
    return ({k: pers[k] for k in order_keys}, {k: diagrams[k] for k in order_keys},
            {k: matchings[k] for k in order_keys})


def _critical_part(x, y, *, connectivity, min_persistence, nan_policy, batch, jobs=None):
    from ..critical_points import critical_point_errors

    kwargs: dict[str, Any] = {"connectivity": connectivity, "min_persistence": min_persistence, "jobs": jobs}
    if nan_policy != "raise":
        kwargs["nan_policy"] = nan_policy
    errs = [critical_point_errors(xs, ys, **kwargs) for xs, ys in zip(_samples(x, batch), _samples(y, batch))]
    rows = [e.to_row() for e in errs]
    if batch is None:
        return {k: _scalar(v) for k, v in rows[0].items()}, errs[0]
    agg: dict[str, Any] = {}
    for k, v in rows[0].items():
        vals = [r[k] for r in rows]
        if isinstance(v, (bool, np.bool_, str)) or v is None:
            agg[k] = _scalar(v)
        elif isinstance(v, (int, np.integer)):
            agg[k] = int(sum(vals))
        else:
            agg[k] = float(np.mean(vals)) if not k.endswith("min_persistence") else float(v)
    return agg, tuple(errs)

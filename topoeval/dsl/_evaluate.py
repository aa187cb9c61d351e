"""The DSL sums of every axis and sample: the fused kernels, or NumPy for a user's sign callable.

:func:`_evaluate` is the common body of :func:`topoeval.dsl`, :func:`topoeval.exact_dsl` and
:func:`topoeval.dsl_per_axis`: prepare, sum per axis (:func:`_axis_sums`), weight, normalize, reduce.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._validation import check_choice, named_axes
from ..persistence.blocks import check_jobs
from ._prepare import (
    _CALLABLE,
    _REDUCTIONS,
    _call_sign,
    _check_finite_pair,
    _denominator,
    _flat_c,
    _prepare_pair,
    _reduce,
    _resolve_axes,
)


def _axis_sums(x, y, kind, s, f, batch, axes, w, jobs=1):
    """Sum of |sigma(s D_X) - sigma(s D_Y)| / 2 per non-batch axis and sample: float64 (len(axes), B)."""
    nb = 1 if batch is None else x.shape[batch]
    sums = np.zeros((len(axes), nb))
    on = [j for j, a in enumerate(axes) if w[j] != 0.0 and x.shape[a] > 1]
    if not on or kind == _CALLABLE:
        _check_finite_pair(x, y)
    if not on:
        return sums
    if kind == _CALLABLE:
        for j in on:
            a = axes[j]
            dx = np.diff(x.astype(np.float64, copy=False), axis=a) * s
            dy = np.diff(y.astype(np.float64, copy=False), axis=a) * s
            delta = np.abs(_call_sign(f, dx) - _call_sign(f, dy)) * 0.5
            if batch is None:
                sums[j, 0] = delta.sum()
            else:
                other = tuple(i for i in range(x.ndim) if i != batch)
                sums[j] = delta.sum(axis=other)
        return sums
    xf, yf, cshape, pos = _flat_c(x, y, batch, smooth=kind != 0)
    if kind == 1 and xf.dtype == np.float32 and not 2.0 ** -60 <= s <= 2.0 ** 60:
        # the float32 tanh path multiplies by float32(s): a sharpness near float32's range would
        # overflow (inf * 0 = NaN) or underflow there, so such rare values take the float64 path
        xf, yf = xf.astype(np.float64), yf.astype(np.float64)
    d = x.ndim
    active = np.zeros(d, dtype=np.int8)
    for j in on:
        active[pos[axes[j]]] = 1
    cb = -1 if batch is None else pos[batch]
    # the kernels check finiteness block by block while the data are in cache (no extra pass)
    check = xf.dtype.kind == "f" or yf.dtype.kind == "f"
    from .._kernels._dsl import BLOCK, BUF, exact_counts, smooth_sums

    # scratch arrays made here, per call (threads), not in the kernels (first-run compile time)
    if kind == 0:
        def run(xs, ys, shp, act, o):
            return exact_counts(xs, ys, shp, act, cb, check, o, np.empty(2 * d, np.int64))
    else:
        def run(xs, ys, shp, act, o):
            return smooth_sums(xs, ys, shp, act, cb, kind, s, check, o, np.empty(2 * d, np.int64),
                               np.empty(BUF), np.empty(BLOCK, np.float32))
    out = np.zeros((d, nb), dtype=np.int64 if kind == 0 else np.float64)
    finite = _run_slabs(run, xf, yf, cshape, active, cb, out, jobs)
    if not finite:
        _check_finite_pair(x, y)  # raises NonFiniteError naming the first bad value
    for j in on:
        sums[j] = out[pos[axes[j]]] * 0.5
    return sums


def _evaluate(x, y, *, kind, f, sharpness, weights, batch_axis, reduction, normalize, per_axis, jobs=None):
    batch_axis, weights = named_axes(x, batch_axis, weights)  # xarray dimension names -> axis numbers
    x, y = _prepare_pair(x, y, finite=False)  # finiteness: checked in _axis_sums
    check_choice(reduction, "reduction", _REDUCTIONS)
    batch, axes, w = _resolve_axes(x.ndim, batch_axis, weights)
    denom = _denominator(x.shape, batch, axes, w, normalize)
    sums = _axis_sums(x, y, kind, sharpness, f, batch, axes, w, check_jobs(jobs))  # (n_axes, B)
    contrib = (sums * w[:, None]).T / denom  # (B, n_axes)
    values = contrib if per_axis else contrib.sum(axis=1)
    return _reduce(values, batch, reduction)


#: arrays smaller than this run in one thread (threads cost more than they save); tests lower it
_THREAD_MIN_CELLS = 1 << 20


def _run_slabs(run, xf, yf, cshape, active, cb, out, jobs):
    """Run ``run`` (a nogil kernel call) over slabs of the first C-order axis in ``jobs`` threads.

    Every slab ``[a, b)`` is run on its own with all axes (its pairs along axis 0 stay inside it),
    and the pairs along axis 0 that straddle a cut (rows ``b - 1`` and ``b``) are counted by a
    second call on those two rows with only axis 0 on: every difference is counted exactly once.
    The partial results are added in slab order, so the value does not depend on the timing of
    the threads (integer counts equal the one-thread ones exactly; float sums to rounding).
    Returns False when a kernel met a non-finite value.
    """
    n0 = int(cshape[0])
    if jobs <= 1 or n0 < 2 or xf.shape[0] < max(_THREAD_MIN_CELLS, 2):
        return run(xf, yf, cshape, active, out)
    n_slabs = min(n0, 2 * jobs)
    cuts = [n0 * i // n_slabs for i in range(n_slabs + 1)]
    row = xf.shape[0] // n0
    edge = np.zeros_like(active)
    edge[0] = active[0]

    def slab(i):
        a, b = cuts[i], cuts[i + 1]
        shp = cshape.copy()
        shp[0] = b - a
        o = np.zeros((out.shape[0], b - a if cb == 0 else out.shape[1]), dtype=out.dtype)
        ok = run(xf[a * row:b * row], yf[a * row:b * row], shp, active, o)
        if ok and edge[0] and cb != 0 and b < n0:  # the pairs between rows b - 1 and b
            shp[0] = 2
            ok = run(xf[(b - 1) * row:(b + 1) * row], yf[(b - 1) * row:(b + 1) * row], shp, edge, o)
        return ok, o

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        parts = list(pool.map(slab, range(n_slabs)))
    for i, (ok, o) in enumerate(parts):
        if not ok:
            return False
        if cb == 0:
            out[:, cuts[i]:cuts[i + 1]] += o
        else:
            out += o
    return True

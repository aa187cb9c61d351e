"""Pointwise error metrics between an original array and its reconstruction.

Every function takes ``(orig, recon)`` in that order, arrays of the same shape
(no broadcasting) and any real dtype (bool, integers, floats, big-endian or
not).  Values are compared in float64 and accumulated in float64, streaming
over blocks of the flattened arrays, so memory-mapped inputs larger than RAM
work and no temporary of the input's size is made.

Conventions
-----------
* ``psnr`` uses the **value range of the original** (``max(orig) - min(orig)``)
  as the peak, as SZ, ZFP and SDRBench report it (not the dtype's range):
  ``psnr = 20 log10(range) - 10 log10(mse)``.  Identical arrays give ``inf``;
  a constant original reconstructed with an error gives ``-inf``.  Pass
  ``data_range`` to use another peak (e.g. 255 for 8-bit images).
* ``relative_l2_error`` is ``||recon - orig||_2 / ||orig||_2`` (0 for identical
  arrays, ``inf`` when the original is all zeros and the reconstruction not).
* ``pearson_correlation`` is NaN when either array is constant (undefined).
* ``nan_policy="raise"`` (default) rejects NaN/+-inf naming how many and the
  first position; ``"omit"`` leaves out every cell where either array is
  non-finite (all metrics then use the same cells).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._validation import (
    NAN_POLICIES,
    as_real_array,
    check_choice,
    check_finite,
    check_positive,
    check_same_shape,
)
from .errors import InvalidInputError

__all__ = [
    "mse",
    "rmse",
    "mae",
    "max_abs_error",
    "psnr",
    "relative_l2_error",
    "pearson_correlation",
    "pointwise_metrics",
]

#: elements per streamed block (8 MiB of float64 per temporary)
_BLOCK = 1 << 20

_HINT = ", or pass nan_policy='omit' to leave non-finite cells out"


def _prepare(orig: Any, recon: Any, nan_policy: str) -> tuple[np.ndarray, np.ndarray]:
    check_choice(nan_policy, "nan_policy", NAN_POLICIES)
    x = as_real_array(orig, "orig")
    y = as_real_array(recon, "recon")
    check_same_shape(x, y)
    if nan_policy == "raise":
        check_finite(x, "orig", hint=_HINT)
        check_finite(y, "recon", hint=_HINT)
    return x, y


def _blocks(x: np.ndarray, y: np.ndarray, nan_policy: str):
    """Yield float64 1-D blocks (xb, yb) of both arrays in the same (C) order."""
    n = x.size
    if x.ndim == 1 or (x.flags.c_contiguous and y.flags.c_contiguous):
        xf, yf = x.reshape(-1), y.reshape(-1)  # views
        for start in range(0, n, _BLOCK):
            xb = np.asarray(xf[start : start + _BLOCK], dtype=np.float64)
            yb = np.asarray(yf[start : start + _BLOCK], dtype=np.float64)
            yield _omit(xb, yb, nan_policy)
    else:
        # iterate over the leading axis in slabs so no full-size copy is made
        rows = max(1, _BLOCK // max(1, x[0].size))
        for start in range(0, x.shape[0], rows):
            xb = np.asarray(x[start : start + rows], dtype=np.float64).reshape(-1)
            yb = np.asarray(y[start : start + rows], dtype=np.float64).reshape(-1)
            yield _omit(xb, yb, nan_policy)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    # not np.dot: BLAS dot products change with the thread count, so the same sample would give
    # different last bits serially and in a one-thread worker; einsum's own loop is deterministic
    return float(np.einsum("i,i->", a, b))


def _omit(xb: np.ndarray, yb: np.ndarray, nan_policy: str) -> tuple[np.ndarray, np.ndarray]:
    if nan_policy == "omit":
        ok = np.isfinite(xb) & np.isfinite(yb)
        if not ok.all():
            return xb[ok], yb[ok]
    return xb, yb


def _accumulate(x: np.ndarray, y: np.ndarray, nan_policy: str, jobs: int = 1) -> dict[str, float]:
    return _accumulate_blocks(_blocks(x, y, nan_policy), jobs if x.size > _BLOCK else 1)


def _block_stats(pair: tuple[np.ndarray, np.ndarray]) -> tuple | None:
    """One block's sums, extremes, means and centred second moments (NumPy releases the GIL)."""
    xb, yb = pair
    if xb.size == 0:
        return None
    d = yb - xb
    sse = _dot(d, d)
    np.abs(d, out=d)
    bmx, bmy = float(xb.mean()), float(yb.mean())
    xc = xb - bmx
    yc = yb - bmy
    return (xb.size, sse, float(d.sum()), float(d.max()), float(xb.min()), float(xb.max()),
            float(yb.min()), float(yb.max()), _dot(xb, xb), bmx, bmy, _dot(xc, xc), _dot(yc, yc), _dot(xc, yc))


def _ordered_map(fn, items, jobs: int):
    """``map(fn, items)`` in ``jobs`` threads, in order, with at most ``2 * jobs`` items in flight
    (a lazy input is never read ahead further than that)."""
    if jobs <= 1:
        yield from map(fn, items)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        window: deque = deque()
        for item in items:
            window.append(pool.submit(fn, item))
            if len(window) >= 2 * jobs:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def _accumulate_blocks(blocks, jobs: int = 1, stats=None) -> dict[str, float]:
    """One streaming pass over float64 1-D block pairs: sums of squared / absolute errors, max
    error, range of x, and the co-moments for Pearson's r (Chan et al.'s pairwise update,
    numerically stable).  The blocks' statistics may be computed in ``jobs`` threads; they are
    merged in block order, so the result is the same bit for bit for every ``jobs``.  The
    streamed compare passes ``stats``, the blocks' ``_block_stats`` in block order (made per slab,
    on Dask workers too), instead of ``blocks``."""
    n = 0
    sse = sae = 0.0
    maxerr = 0.0
    xmin, xmax = math.inf, -math.inf
    ymin, ymax = math.inf, -math.inf
    sxx_total = 0.0  # sum of x^2 for the relative L2 error
    mx = my = 0.0  # running means
    m2x = m2y = cxy = 0.0  # running centred second moments
    for st in _ordered_map(_block_stats, blocks, jobs) if stats is None else stats:
        if st is None:
            continue
        nb, bsse, bsae, bmax, bxmin, bxmax, bymin, bymax, bsxx, bmx, bmy, bm2x, bm2y, bcxy = st
        sse += bsse
        sae += bsae
        maxerr = max(maxerr, bmax)
        xmin = min(xmin, bxmin)
        xmax = max(xmax, bxmax)
        ymin = min(ymin, bymin)
        ymax = max(ymax, bymax)
        sxx_total += bsxx
        tot = n + nb
        dx, dy = bmx - mx, bmy - my
        f = n * nb / tot
        m2x += bm2x + dx * dx * f
        m2y += bm2y + dy * dy * f
        cxy += bcxy + dx * dy * f
        mx += dx * nb / tot
        my += dy * nb / tot
        n = tot
    if n == 0:
        raise InvalidInputError(
            "no cell is finite in both orig and recon, so no metric can be computed; check the inputs"
        )
    return dict(n=n, sse=sse, sae=sae, maxerr=maxerr, xmin=xmin, xmax=xmax,
                ymin=ymin, ymax=ymax, sxx=sxx_total,
                m2x=m2x, m2y=m2y, cxy=cxy)


def _psnr(acc: dict[str, float], data_range: float | None) -> float:
    mse_ = acc["sse"] / acc["n"]
    peak = acc["xmax"] - acc["xmin"] if data_range is None else data_range
    if mse_ == 0.0:
        return math.inf
    if peak == 0.0:
        return -math.inf
    return 20.0 * math.log10(peak) - 10.0 * math.log10(mse_)


def _rel_l2(acc: dict[str, float]) -> float:
    if acc["sse"] == 0.0:
        return 0.0
    if acc["sxx"] == 0.0:
        return math.inf
    return math.sqrt(acc["sse"]) / math.sqrt(acc["sxx"])


def _pearson(acc: dict[str, float]) -> float:
    # a constant array: exactly (the centred moments could be rounding noise)
    if acc["xmin"] == acc["xmax"] or acc["ymin"] == acc["ymax"] or acc["m2x"] <= 0.0 or acc["m2y"] <= 0.0:
        return math.nan
    if acc["sse"] == 0.0:
        return 1.0  # identical arrays: exactly 1, not 1 - rounding
    denom = math.sqrt(acc["m2x"]) * math.sqrt(acc["m2y"])  # no underflow of the product
    if not denom > 0.0:
        return math.nan
    r = acc["cxy"] / denom
    return float(min(1.0, max(-1.0, r)))


def mse(orig: Any, recon: Any, *, nan_policy: str = "raise") -> float:
    """Mean squared error ``mean((recon - orig)**2)``.

    Parameters
    ----------
    orig, recon : array_like, shape (...)
        The original and the reconstruction, same shape, any real dtype.
    nan_policy : {'raise', 'omit'}, default 'raise'
        'raise' rejects NaN/+-inf; 'omit' leaves out cells where either is non-finite.

    Returns
    -------
    float

    Examples
    --------
    >>> from topoeval import mse
    >>> mse([0.0, 1.0, 2.0], [0.0, 1.0, 4.0])
    1.333...
    """
    x, y = _prepare(orig, recon, nan_policy)
    acc = _accumulate(x, y, nan_policy)
    return acc["sse"] / acc["n"]


def rmse(orig: Any, recon: Any, *, nan_policy: str = "raise") -> float:
    """Root mean squared error ``sqrt(mse(orig, recon))``.

    Parameters
    ----------
    orig, recon : array_like, shape (...)
        The original and the reconstruction, same shape, any real dtype.
    nan_policy : {'raise', 'omit'}, default 'raise'
        'raise' rejects NaN/+-inf; 'omit' leaves out cells where either is non-finite.

    Returns
    -------
    float

    Examples
    --------
    >>> from topoeval import rmse
    >>> rmse([0.0, 0.0], [3.0, 4.0])
    3.535...
    """
    return math.sqrt(mse(orig, recon, nan_policy=nan_policy))


def mae(orig: Any, recon: Any, *, nan_policy: str = "raise") -> float:
    """Mean absolute error ``mean(|recon - orig|)``.

    Parameters
    ----------
    orig, recon : array_like, shape (...)
        The original and the reconstruction, same shape, any real dtype.
    nan_policy : {'raise', 'omit'}, default 'raise'
        'raise' rejects NaN/+-inf; 'omit' leaves out cells where either is non-finite.

    Returns
    -------
    float

    Examples
    --------
    >>> from topoeval import mae
    >>> mae([0, 0, 0, 0], [1, -1, 2, 0])
    1.0
    """
    x, y = _prepare(orig, recon, nan_policy)
    acc = _accumulate(x, y, nan_policy)
    return acc["sae"] / acc["n"]


def max_abs_error(orig: Any, recon: Any, *, nan_policy: str = "raise") -> float:
    """Maximum absolute error ``max(|recon - orig|)`` (the bound error-bounded compressors promise).

    Parameters
    ----------
    orig, recon : array_like, shape (...)
        The original and the reconstruction, same shape, any real dtype.
    nan_policy : {'raise', 'omit'}, default 'raise'
        'raise' rejects NaN/+-inf; 'omit' leaves out cells where either is non-finite.

    Returns
    -------
    float

    Examples
    --------
    >>> from topoeval import max_abs_error
    >>> max_abs_error([[0, 1], [2, 3]], [[0, 1], [2.5, 2]])
    1.0
    """
    x, y = _prepare(orig, recon, nan_policy)
    return _accumulate(x, y, nan_policy)["maxerr"]


def psnr(orig: Any, recon: Any, *, data_range: float | None = None, nan_policy: str = "raise") -> float:
    """Peak signal-to-noise ratio in dB, with the original's value range as the peak.

    ``psnr = 20 log10(R) - 10 log10(mse)`` with ``R = max(orig) - min(orig)``
    (the SZ / ZFP / SDRBench convention for scientific data), or ``R = data_range``.

    Parameters
    ----------
    orig, recon : array_like, shape (...)
        The original and the reconstruction, same shape, any real dtype.
    data_range : float, optional
        Peak value to use instead of the original's value range (e.g. 255).
    nan_policy : {'raise', 'omit'}, default 'raise'
        'raise' rejects NaN/+-inf; 'omit' leaves out cells where either is non-finite.

    Returns
    -------
    float
        ``inf`` for identical arrays; ``-inf`` when the peak is 0 (constant original)
        and the arrays differ.

    Examples
    --------
    >>> from topoeval import psnr
    >>> psnr([0.0, 10.0], [1.0, 9.0])   # range 10, mse 1
    20.0
    >>> psnr([1, 2, 3], [1, 2, 3])
    inf
    """
    if data_range is not None:
        data_range = check_positive(data_range, "data_range")
    x, y = _prepare(orig, recon, nan_policy)
    return _psnr(_accumulate(x, y, nan_policy), data_range)


def relative_l2_error(orig: Any, recon: Any, *, nan_policy: str = "raise") -> float:
    """Relative L2 error ``||recon - orig||_2 / ||orig||_2``.

    Parameters
    ----------
    orig, recon : array_like, shape (...)
        The original and the reconstruction, same shape, any real dtype.
    nan_policy : {'raise', 'omit'}, default 'raise'
        'raise' rejects NaN/+-inf; 'omit' leaves out cells where either is non-finite.

    Returns
    -------
    float
        0 for identical arrays, ``inf`` when ``orig`` is all zeros and ``recon`` is not.

    Examples
    --------
    >>> from topoeval import relative_l2_error
    >>> relative_l2_error([3.0, 4.0], [3.0, 5.0])
    0.2
    """
    x, y = _prepare(orig, recon, nan_policy)
    return _rel_l2(_accumulate(x, y, nan_policy))


def pearson_correlation(orig: Any, recon: Any, *, nan_policy: str = "raise") -> float:
    """Pearson correlation coefficient of the values of ``orig`` and ``recon``.

    Parameters
    ----------
    orig, recon : array_like, shape (...)
        The original and the reconstruction, same shape, any real dtype.
    nan_policy : {'raise', 'omit'}, default 'raise'
        'raise' rejects NaN/+-inf; 'omit' leaves out cells where either is non-finite.

    Returns
    -------
    float
        In [-1, 1]; NaN when either array is constant (the coefficient is undefined).

    Examples
    --------
    >>> from topoeval import pearson_correlation
    >>> pearson_correlation([1, 2, 3, 4], [2, 4, 6, 8])
    1.0
    >>> pearson_correlation([1, 2, 3], [3, 2, 1])
    -1.0
    """
    x, y = _prepare(orig, recon, nan_policy)
    return _pearson(_accumulate(x, y, nan_policy))


def pointwise_metrics(
    orig: Any, recon: Any, *, data_range: float | None = None, nan_policy: str = "raise",
    jobs: int | None = None,
) -> dict[str, float]:
    """All pointwise metrics at once, in one streaming pass over both arrays.

    Parameters
    ----------
    orig, recon : array_like, shape (...)
        The original and the reconstruction, same shape, any real dtype.
    data_range : float, optional
        PSNR peak instead of the original's value range.
    nan_policy : {'raise', 'omit'}, default 'raise'
        'raise' rejects NaN/+-inf; 'omit' leaves out cells where either is non-finite.
    jobs : int, optional
        Threads for the blocks of 2**20 values (default: the cores this process may use);
        the blocks are merged in order, so the values are the same bit for bit for any ``jobs``.

    Returns
    -------
    dict
        Keys (in this order) ``mse``, ``rmse``, ``mae``, ``max_abs_error``,
        ``psnr``, ``relative_l2_error``, ``pearson``, ``value_range`` (max - min of
        the original) and ``n_values`` (cells used; fewer than ``size`` with
        ``nan_policy='omit'``).  Values as the single functions return them.

    Examples
    --------
    >>> from topoeval import pointwise_metrics
    >>> m = pointwise_metrics([0.0, 10.0], [1.0, 9.0])
    >>> m["mse"], m["psnr"], m["max_abs_error"]
    (1.0, 20.0, 1.0)
    """
    if data_range is not None:
        data_range = check_positive(data_range, "data_range")
    x, y = _prepare(orig, recon, nan_policy)
    from .persistence.blocks import check_jobs

    return _summary(_accumulate(x, y, nan_policy, check_jobs(jobs)), data_range)


def _summary(acc: dict[str, float], data_range: float | None) -> dict[str, Any]:
    """The dict of :func:`pointwise_metrics` from the accumulators of :func:`_accumulate_blocks`."""
    mse_ = acc["sse"] / acc["n"]
    return {
        "mse": mse_,
        "rmse": math.sqrt(mse_),
        "mae": acc["sae"] / acc["n"],
        "max_abs_error": acc["maxerr"],
        "psnr": _psnr(acc, data_range),
        "relative_l2_error": _rel_l2(acc),
        "pearson": _pearson(acc),
        "value_range": acc["xmax"] - acc["xmin"],
        "n_values": int(acc["n"]),
    }

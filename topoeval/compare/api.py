"""The entry point :func:`compare`: options first, then the arrays, then every part switched on."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .._validation import (
    as_real_array,
    check_finite,
    check_same_shape,
    named_axes,
    normalize_axis,
    unwrap_in_memory,
)
from ..errors import InvalidInputError
from .options import check_dims_range, check_options, resolve_dims
from .parts import _critical_part, _dsl_part, _persistence_part, _valid_mask
from .result import Comparison

__all__ = ["compare"]

_NAN_HINT = ", or pass nan_policy='omit' to leave non-finite cells out of every metric"


def _version() -> str:
    from .. import __version__

    return __version__


def compare(
    orig: Any,
    recon: Any,
    *,
    metrics: Any = "all",
    dims: Any = 0,
    filtration: str = "sublevel",
    connectivity: str = "full",
    order: float = 1.0,
    internal_p: float = 2.0,
    distance_tolerance: float | None = None,
    sharpness: float | None = None,
    sign: Any = "tanh",
    weights: Any = None,
    batch_axis: int | None = None,
    nan_policy: str = "raise",
    dtype: str = "float64",
    min_persistence: float = 0.0,
    cp_connectivity: str = "full",
    data_range: float | None = None,
    jobs: int | None = None,
    memory_limit: int | str | None = None,
    block_shape: tuple[int, ...] | None = None,
    progress: Any = None,
    scheduler: Any = None,
) -> Comparison:
    """Compare an original array with its reconstruction.

    Parameters
    ----------
    orig, recon : array_like, shape (n_0, ..., n_{d-1})
        The original and the reconstruction; same shape, any real dtypes (they may differ).
    metrics : 'all' or iterable of str, default 'all'
        Parts to compute: any of ``'pointwise'``, ``'dsl'``, ``'persistence'``,
        ``'critical_points'`` (a comma-separated string works too); ``'segmentation'``
        (:func:`topoeval.segmentation_errors` with ``cp_connectivity``) and ``'pairs'``
        (:func:`topoeval.persistence_pair_errors` above ``min_persistence``, reusing the
        persistence part's diagrams) are switched on by name only, e.g.
        ``"all,segmentation,pairs"``.
    dims : int, iterable of int or "all", default 0
        Homology dimensions of the persistence part, each in ``0 .. d-1`` (``d`` the axes
        of one sample; ``"all"``: every one): e.g. ``(0, 1)`` adds the loops of a 2-D field, ``(0, 1, 2)`` the
        tunnels and voids of a 3-D one (:func:`topoeval.persistence_diagrams`, one call for
        the dimensions >= 1 of each field).  Every metric of the persistence part is then
        computed per dimension and filtration; dimension 0 keeps its keys, dimension
        ``k >= 1`` is under ``"<filtration>_dim<k>"`` (row keys ``wasserstein_sublevel_dim1``
        ...).  ``distance_tolerance`` applies to each dimension.  Dimensions >= 1 need
        finite fields (not ``nan_policy='omit'`` with non-finite cells).  Streamed (lazy
        inputs, ``memory_limit``, ``block_shape``, ``scheduler``), dimensions 0 and d-1 run on
        the block engine (the same diagrams and distances); the middle ones ``1 .. d-2``
        (tunnels of a 3-D field) need both fields in memory and are refused.
    filtration : {'sublevel', 'superlevel', 'both'}, default 'sublevel'
        Persistence diagrams of the sublevel sets (minima), superlevel sets (maxima) or both.
    connectivity : {'full', 'face'}, default 'full'
        Neighbourhood of the persistence diagrams (``3**d - 1`` cells or the ``2d`` axis
        neighbours); see :func:`topoeval.persistence_diagram`.
    order : float >= 1, default 1.0
        Order ``p`` of the Wasserstein distance (recorded in the result).
    internal_p : float >= 1 or inf, default 2.0
        Ground metric of the Wasserstein distance (the bottleneck distance always uses
        the L-infinity ground metric).
    distance_tolerance : float, optional
        Stop the Wasserstein solver of large diagrams at this certified relative gap
        (:func:`topoeval.wasserstein_distance` ``tolerance``); the persistence part then
        also reports ``wasserstein_lower`` and ``wasserstein_gap`` (row keys
        ``wasserstein_lower_<filtration>``, ``wasserstein_gap_<filtration>``).  None: exact.
    sharpness : float, optional
        Sharpness ``s`` of the smooth DSL (default: :data:`topoeval.dsl.DEFAULT_SHARPNESS`);
        recorded in the result.
    sign : {'tanh', 'softsign', 'sign'} or callable, default 'tanh'
        Sign approximation of the smooth DSL.
    weights : sequence of float or mapping, optional
        DSL weight per non-batch axis (0 switches an axis off), e.g. ``(1, 1, 0)``; for
        xarray DataArrays also by dimension name, ``{"time": 0, "lat": 1, "lon": 1}``.
    batch_axis : int or str, optional
        Axis holding independent samples (a dimension name for DataArrays, ``"member"``).  The DSL is then the mean over samples; the
        persistence diagrams and critical points are computed per sample (no topology
        crosses samples): ``wasserstein = (sum_s W_s**order)**(1/order)`` (the distance
        between the sample-labelled unions of the diagrams), ``bottleneck = max_s B_s``,
        point counts summed, critical-point counts summed (rates averaged).
    nan_policy : {'raise', 'omit'}, default 'raise'
        ``'raise'``: NaN/inf anywhere raises NonFiniteError (count and first position).
        ``'omit'``: cells non-finite in either array are left out of every metric, for both
        arrays alike (the DSL skips the differences touching them; persistence and critical
        points leave them out of the domain of both arrays, so the domains match).
    dtype : {'float64', 'float32', 'input'}, default 'float64'
        Type both arrays are converted to before comparing (``'input'`` keeps them).
    min_persistence : float >= 0, default 0.0
        Only critical points of the original whose persistence exceeds this count.
    cp_connectivity : {'full', 'freudenthal'}, default 'full'
        Neighbourhood (link) used to classify critical points.
    data_range : float, optional
        PSNR peak instead of the original's value range.
    jobs : int, optional
        Threads for the DSL, critical points and persistence diagrams (default: the cores
        this process may use).  Counts and diagrams are the same for every ``jobs``.
    memory_limit : int or str, optional
        Bytes (or ``"3GB"``, ``"512MB"``) the comparison may hold.  When both fields as
        float64 exceed it, or when an input is lazy (an h5py Dataset, a zarr Array, anything
        with ``shape``, ``dtype`` and slicing that is not a NumPy array), every part is
        computed streamed, a slab at a time with halos (see :mod:`topoeval.compare.streamed`):
        the same values (counts, diagrams and distances exactly, sums to rounding);
        ``cp_errors`` is then a :class:`~topoeval.compare.streamed.StreamedErrorPositions`
        (``.positions(kind)`` as in memory, 8 bytes per error cell; no per-cell maps).
    block_shape : tuple of int, optional
        Streamed mode (also switched on by it): the persistence engine's block shape, and
        ``block_shape[k]`` rows per slab along the cut axis ``k`` (the first axis longer
        than 1); default: chosen from ``memory_limit``.
    progress : callable, optional
        Streamed mode: ``progress(stage, done, total)`` after every slab and persistence block.
        In memory: during the large distance solves (stages ``"distance W<order> <key>"``;
        ``total`` None for the phases of the auction that ``distance_tolerance`` uses).
    scheduler : distributed.Client, optional
        Streamed mode on a Dask cluster (also switched on by it): one task per slab and the
        block engine's tasks run on the workers, which read their own rows; the results are
        those of the streamed compare in this process.  The inputs must be readable there:
        file specifications (``"f.h5:/orig"``), dask arrays, or picklable lazy arrays.

    Returns
    -------
    Comparison

    Raises
    ------
    InvalidOptionError
        An option is invalid (checked before any computation).
    ShapeMismatchError, NonFiniteError, InvalidDTypeError, InvalidInputError
        Bad arrays.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> x = np.array([0.0, 3.0, 1.0, 4.0, 2.0])
    >>> y = np.array([0.0, 3.0, 3.5, 4.0, 2.0])      # the minimum at index 2 is gone
    >>> c = te.compare(x, y, metrics="pointwise,dsl,persistence")
    >>> c.pointwise["max_abs_error"], c.dsl["exact_dsl"]
    (2.5, 1.0)
    >>> c.persistence["sublevel"]["n_points_orig"], c.persistence["sublevel"]["n_points_recon"]
    (3, 2)
    >>> c.to_row()["wasserstein_sublevel"]    # the pair (1, 3) matched to the diagonal
    1.414...
    """
    t_start = time.perf_counter()
    batch_axis, weights = named_axes(orig, batch_axis, weights, "orig")  # xarray dimension names
    orig, recon = unwrap_in_memory(orig), unwrap_in_memory(recon)  # in-memory DataArrays are not streamed
    # ---- options first: nothing is computed before every option is known to be valid
    opts = check_options(
        metrics=metrics, dims=dims, filtration=filtration, connectivity=connectivity, order=order,
        internal_p=internal_p, distance_tolerance=distance_tolerance, sharpness=sharpness, sign=sign,
        weights=weights, batch_axis=batch_axis,
        nan_policy=nan_policy, dtype=dtype, min_persistence=min_persistence,
        cp_connectivity=cp_connectivity, data_range=data_range,
    )
    parts, filtrations, dims = opts["metrics"], opts["filtration"], opts["dims"]
    order, internal_p, sharpness = opts["order"], opts["internal_p"], opts["sharpness"]
    min_persistence, data_range = opts["min_persistence"], opts["data_range"]
    from ..dsl._prepare import _resolve_axes
    from ..persistence.blocks import check_jobs, parse_size
    from .streamed import needs_streaming

    n_jobs = check_jobs(jobs)
    limit = None if memory_limit is None else parse_size(memory_limit)
    if block_shape is not None or scheduler is not None or needs_streaming(orig, recon, limit):
        return _streamed(orig, recon, opts, n_jobs, limit, block_shape, progress, t_start, scheduler)

    # ---- arrays
    x = as_real_array(orig, "orig")
    y = as_real_array(recon, "recon")
    check_same_shape(x, y)
    dtypes = (str(x.dtype), str(y.dtype))
    batch = None if batch_axis is None else normalize_axis(batch_axis, x.ndim, "batch_axis")
    check_dims_range(dims, x.ndim - (batch is not None), "field" if batch is None else "sample")
    dims = resolve_dims(dims, x.ndim - (batch is not None))
    if "dsl" in parts:
        _, _, w = _resolve_axes(x.ndim, batch, weights)
        weights_used = tuple(float(v) for v in w)
    else:
        weights_used = None if weights is None else tuple(float(v) for v in weights)
    if dtype != "input":
        x = np.asarray(x, dtype=dtype)
        y = np.asarray(y, dtype=dtype)
    if nan_policy == "raise":
        check_finite(x, "orig", hint=_NAN_HINT)
        check_finite(y, "recon", hint=_NAN_HINT)
        valid = None
    else:
        valid = _valid_mask(x, y)
        if valid is not None:
            # one domain for both: a cell non-finite in either array is left out of both
            # (new arrays: the caller's inputs are never modified)
            x = np.where(valid, x, np.nan)
            y = np.where(valid, y, np.nan)
            if "persistence" in parts and dims != (0,):
                raise InvalidInputError(
                    f"{int(valid.size - np.count_nonzero(valid))} cell(s) are not finite in orig or recon, "
                    f"and homology dimensions >= 1 (dims={dims}) need finite fields; fill them "
                    "(e.g. np.nan_to_num) or pass dims=0 to leave them out with nan_policy='omit'")

    options = {
        "metrics": parts,
        "filtration": filtrations,
        "connectivity": connectivity,
        "order": order,
        "internal_p": internal_p,
        "sharpness": sharpness,
        "sign": sign,
        "weights": weights_used,
        "batch_axis": batch,
        "nan_policy": nan_policy,
        "dtype": dtype,
        "min_persistence": min_persistence,
        "cp_connectivity": cp_connectivity,
        "data_range": data_range,
    }
    if dims != (0,):  # recorded only when asked for: dimension-0 options read as before
        options["dims"] = dims
    elapsed: dict[str, float] = {}
    result: dict[str, Any] = {}

    if "pointwise" in parts:
        from ..metrics import pointwise_metrics

        t = time.perf_counter()
        result["pointwise"] = pointwise_metrics(x, y, data_range=data_range, nan_policy=nan_policy, jobs=n_jobs)
        elapsed["pointwise"] = time.perf_counter() - t

    if "dsl" in parts:
        t = time.perf_counter()
        result["dsl"] = _dsl_part(x, y, valid, sharpness=sharpness, sign=sign, weights=weights, batch=batch,
                                  jobs=n_jobs)
        elapsed["dsl"] = time.perf_counter() - t

    if "persistence" in parts:
        t = time.perf_counter()
        pers, diagrams, matchings = _persistence_part(
            x, y, filtrations, connectivity=connectivity, order=order, internal_p=internal_p,
            nan_policy=nan_policy, batch=batch, distance_tolerance=opts["distance_tolerance"], jobs=n_jobs,
            dims=dims, progress=progress,
        )
        result.update(persistence=pers, diagrams=diagrams, matchings=matchings)
        elapsed["persistence"] = time.perf_counter() - t

    if "critical_points" in parts:
        t = time.perf_counter()
        row, errs = _critical_part(
            x, y, connectivity=cp_connectivity, min_persistence=min_persistence,
            nan_policy=nan_policy, batch=batch, jobs=n_jobs,
        )
        result.update(critical_points=row, cp_errors=errs)
        elapsed["critical_points"] = time.perf_counter() - t

    if "segmentation" in parts:
        from ..segmentation.compare_parts import segmentation_part

        t = time.perf_counter()
        row, errs = segmentation_part(x, y, connectivity=cp_connectivity, nan_policy=nan_policy, batch=batch)
        result.update(segmentation=row, seg_errors=errs)
        elapsed["segmentation"] = time.perf_counter() - t

    if "pairs" in parts:
        from ..segmentation.compare_parts import pairs_part

        t = time.perf_counter()
        row, errs = pairs_part(
            x, y, result.get("diagrams"), filtrations=filtrations, connectivity=connectivity,
            min_persistence=min_persistence, nan_policy=nan_policy, batch=batch,
        )
        result.update(pairs=row, pair_errors=errs)
        elapsed["pairs"] = time.perf_counter() - t

    elapsed["total"] = time.perf_counter() - t_start
    return Comparison(
        shape=tuple(int(s) for s in x.shape),
        dtypes=dtypes,
        options=options,
        elapsed=elapsed,
        version=_version(),
        **result,
    )


def _streamed(orig, recon, opts, jobs, limit, block_shape, progress, t_start, scheduler=None) -> Comparison:
    """:func:`compare` of fields read a slab at a time (see :mod:`topoeval.compare.streamed`)."""
    from ..dsl._prepare import _resolve_axes
    from .streamed import streamed_compare

    from ..errors import InvalidOptionError

    extra = [p for p in opts["metrics"] if p not in ("pointwise", "dsl", "persistence", "critical_points")]
    if extra:
        raise InvalidOptionError(
            f"the part(s) {', '.join(extra)} are not computed streamed; pass in-memory arrays "
            "(and a larger memory_limit) for them"
        )
    if scheduler is not None:  # file specifications become openers the workers read
        from .streamed import for_workers

        orig, recon = for_workers(orig, "orig"), for_workers(recon, "recon")
    shape = tuple(int(s) for s in (np.shape(orig) if not hasattr(orig, "shape") else orig.shape))
    ndim = len(shape)
    opts = dict(opts, dims=_streamed_dims(opts, shape))
    w = None
    if "dsl" in opts["metrics"]:
        w = tuple(float(v) for v in _resolve_axes(ndim, None, opts["weights"])[2])
    result, elapsed, dtypes, shape = streamed_compare(
        orig, recon, opts, jobs=jobs, limit=limit, block_shape=block_shape, progress=progress, weights_used=w,
        scheduler=scheduler,
    )
    options = {k: opts[k] for k in ("metrics", "filtration", "connectivity", "order", "internal_p",
                                    "sharpness", "sign")}
    options.update(weights=w if w is not None else opts["weights"], batch_axis=None,
                   nan_policy=opts["nan_policy"], dtype=opts["dtype"], min_persistence=opts["min_persistence"],
                   cp_connectivity=opts["cp_connectivity"], data_range=opts["data_range"])
    if opts["dims"] != (0,):  # as in memory: recorded only when asked for
        options["dims"] = opts["dims"]
    elapsed["total"] = time.perf_counter() - t_start
    return Comparison(shape=shape, dtypes=dtypes, options=options, elapsed=elapsed, version=_version(), **result)


def _streamed_dims(opts, shape) -> tuple[int, ...]:
    """The dimensions of a streamed compare: 0 and d-1 (``d`` the axes longer than 1) run on the
    block engine, those above have no cells; the middle ones are refused with the way out."""
    from ..errors import InvalidOptionError

    check_dims_range(opts["dims"], len(shape))
    dims = resolve_dims(opts["dims"], len(shape))
    top = sum(s > 1 for s in shape) - 1
    middle = [k for k in dims if 0 < k < top]
    if middle and "persistence" in opts["metrics"]:
        raise InvalidOptionError(
            f"dims={dims}: homology dimension(s) {', '.join(map(str, middle))} of a {len(shape)}-D field need the "
            "whole cubical complex in memory and are not computed streamed (lazy inputs, memory_limit, "
            f"block_shape, scheduler; only dimensions 0 and {top} run block by block); compare both fields in "
            "memory (np.asarray, topoeval.load_array; CLI: leave out --memory-limit, --dask and --scheduler) "
            f"or pass dims='0,{top}'")
    return dims

"""The options of :func:`topoeval.compare`, validated before any array is read (:func:`check_options`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import NAN_POLICIES, check_choice, check_positive
from ..errors import InvalidOptionError

#: the parts of a comparison, in output order
PARTS = ("pointwise", "dsl", "persistence", "critical_points", "segmentation", "pairs")
#: what "all" (the default) switches on: segmentation and pairs (the MSz / TopoA metrics) are
#: asked for by name, e.g. "all,segmentation,pairs", so default rows and run times stay as they were
STANDARD_PARTS = PARTS[:4]
FILTRATION_CHOICES = ("sublevel", "superlevel", "both")
CONNECTIVITIES = ("full", "face")
CP_CONNECTIVITIES = ("full", "freudenthal")
DTYPES = ("float64", "float32", "input")


def _parse_metrics(metrics: Any) -> tuple[str, ...]:
    if metrics is None or metrics == "all":
        return STANDARD_PARTS
    if isinstance(metrics, str):
        metrics = [m for m in metrics.replace(",", " ").split() if m]
    try:
        chosen = list(metrics)
    except TypeError:
        raise InvalidOptionError(f"metrics={metrics!r} is not valid; pass 'all' or a list of {PARTS}") from None
    aliases = {"critical-points": "critical_points", "cp": "critical_points", "topology": "persistence",
               "seg": "segmentation", "persistence_pairs": "pairs", "persistence-pairs": "pairs"}
    out = []
    for m in chosen:
        m = aliases.get(m, m)
        for part in STANDARD_PARTS if m == "all" else (check_choice(m, "metrics", PARTS),):
            if part not in out:
                out.append(part)
    if not out:
        raise InvalidOptionError(f"metrics is empty; switch on at least one of {', '.join(PARTS)}")
    return tuple(p for p in PARTS if p in out)


def _check_order(order: Any) -> float:
    v = check_positive(order, "order")
    if v < 1:
        raise InvalidOptionError(f"order={order!r} is not valid; the Wasserstein order must be >= 1")
    return v


def _check_internal_p(p: Any) -> float:
    v = check_positive(p, "internal_p", allow_inf=True)
    if v < 1:
        raise InvalidOptionError(f"internal_p={p!r} is not valid; the ground metric needs internal_p >= 1 (inf allowed)")
    return v


def _parse_dims(dims: Any) -> tuple[int, ...] | str:
    """The homology dimensions asked for: sorted, distinct, non-negative ints ("0,1" works too),
    or ``"all"`` (every dimension ``0 .. d-1`` of the field, resolved by :func:`resolve_dims`).

    The range ``0 .. d-1`` depends on the array and is checked by :func:`check_dims_range`.
    """
    if isinstance(dims, str) and dims.strip().lower() == "all":
        return "all"
    if isinstance(dims, str):
        items: list[Any] = [v for v in dims.replace(",", " ").split() if v]
        try:
            items = [int(v) for v in items]
        except ValueError:
            raise InvalidOptionError(
                f"dims={dims!r} is not valid; pass homology dimensions as integers, e.g. dims=(0, 1)"
            ) from None
    elif isinstance(dims, (int, np.integer)) and not isinstance(dims, (bool, np.bool_)):
        items = [dims]
    else:
        try:
            items = list(dims)
        except TypeError:
            raise InvalidOptionError(
                f"dims={dims!r} is not valid; pass a homology dimension or a list of them, e.g. dims=(0, 1)"
            ) from None
    for k in items:
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 0:
            raise InvalidOptionError(
                f"dims={dims!r} is not valid; homology dimensions are integers 0, 1, ..., d-1"
            )
    if not items:
        raise InvalidOptionError("dims is empty; pass at least one homology dimension, e.g. dims=0")
    return tuple(sorted({int(k) for k in items}))


def resolve_dims(dims: tuple[int, ...] | str, ndim: int) -> tuple[int, ...]:
    """``dims`` as a tuple for a field of ``ndim`` axes (``"all"``: ``0 .. ndim-1``).

    >>> resolve_dims("all", 3), resolve_dims((0, 2), 3)
    ((0, 1, 2), (0, 2))
    """
    return tuple(range(max(ndim, 1))) if dims == "all" else tuple(dims)


def check_dims_range(dims: tuple[int, ...] | str, ndim: int, what: str = "field") -> None:
    """Refuse dimensions outside ``0 .. ndim-1`` (``ndim``: axes of one sample), naming the range."""
    if dims == "all":
        return
    bad = [k for k in dims if k >= ndim]
    if bad:
        raise InvalidOptionError(
            f"dims has {', '.join(map(str, bad))} but a {ndim}-D {what} has homology dimensions "
            f"0..{ndim - 1} only; pass dimensions within 0..{ndim - 1}"
        )


def check_options(
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
) -> dict[str, Any]:
    """Validate the options of :func:`compare` without any array; return them resolved.

    Everything that does not depend on the arrays is checked here (the number of
    ``weights`` and the range of ``batch_axis`` are checked against the arrays by
    :func:`compare`).  Commands call this before reading large inputs, and batch / sweep
    before starting workers.  ``filtration`` comes back as a tuple, ``metrics`` as a
    tuple of parts, ``sharpness`` with the default filled in, ``dims`` as a sorted tuple or
    ``"all"`` (its range ``0 .. d-1`` is checked, and ``"all"`` resolved, against the arrays
    by :func:`compare`).

    Examples
    --------
    >>> from topoeval.compare import check_options
    >>> check_options(filtration="both", order=2)["filtration"]
    ('sublevel', 'superlevel')
    >>> check_options(dims="1,0")["dims"]
    (0, 1)
    >>> check_options(dims="all")["dims"]
    'all'
    """
    parts = _parse_metrics(metrics)
    dims = _parse_dims(dims)
    check_choice(filtration, "filtration", FILTRATION_CHOICES)
    filtrations = ("sublevel", "superlevel") if filtration == "both" else (filtration,)
    check_choice(connectivity, "connectivity", CONNECTIVITIES)
    check_choice(cp_connectivity, "cp_connectivity", CP_CONNECTIVITIES)
    order = _check_order(order)
    internal_p = _check_internal_p(internal_p)
    if distance_tolerance is not None:
        distance_tolerance = check_positive(distance_tolerance, "distance_tolerance", strict=False)
        if distance_tolerance >= 1:
            raise InvalidOptionError(f"distance_tolerance={distance_tolerance!r} is not valid; pass a "
                                     "relative gap in [0, 1) such as 1e-3, or None for exact distances")
    check_choice(nan_policy, "nan_policy", NAN_POLICIES)
    check_choice(dtype, "dtype", DTYPES)
    min_persistence = check_positive(min_persistence, "min_persistence", strict=False)
    if data_range is not None:
        data_range = check_positive(data_range, "data_range")
    if batch_axis is not None and (isinstance(batch_axis, (bool, np.bool_))
                                   or not isinstance(batch_axis, (int, np.integer))):
        raise InvalidOptionError(f"batch_axis={batch_axis!r} is not an integer axis index")
    if weights is not None:
        try:
            w = np.asarray(weights, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidOptionError(
                f"weights={weights!r} is not a sequence of numbers; pass one weight per non-batch axis"
            ) from None
        if w.ndim != 1 or not np.isfinite(w).all() or (w < 0).any():
            raise InvalidOptionError(
                f"weights={weights!r} must be a flat sequence of finite non-negative numbers "
                "(0 switches an axis off)"
            )
    from ..dsl._prepare import DEFAULT_SHARPNESS, _resolve_sign

    sharpness = DEFAULT_SHARPNESS if sharpness is None else check_positive(sharpness, "sharpness")
    _resolve_sign(sign)
    return {
        "metrics": parts, "dims": dims, "filtration": filtrations, "connectivity": connectivity, "order": order,
        "internal_p": internal_p, "distance_tolerance": distance_tolerance, "sharpness": sharpness, "sign": sign, "weights": weights,
        "batch_axis": batch_axis, "nan_policy": nan_policy, "dtype": dtype,
        "min_persistence": min_persistence, "cp_connectivity": cp_connectivity, "data_range": data_range,
    }

"""Compare an original array with its reconstruction: pointwise, DSL, persistence, critical points.

:func:`compare` is the main job of topoeval, from a notebook or (through
``topoeval compare``) from the shell.  It validates every option before doing any
work, then computes the parts that are switched on and returns a frozen
:class:`Comparison` holding the numbers, the options used, the persistence
diagrams and the Wasserstein matchings (for plots).

JSON convention
---------------
:meth:`Comparison.to_dict` is JSON-safe: ``inf`` / ``-inf`` are written as the
strings ``"inf"`` / ``"-inf"`` (JSON has no infinity; e.g. PSNR of identical
arrays, or a distance between diagrams with different numbers of never-dying
classes) and NaN (e.g. Pearson's r of a constant array) as ``null``.
:meth:`Comparison.to_row` is a flat dict of plain floats / ints / strings (inf and
NaN kept as floats) with stable keys; batch and sweep write one row per comparison.
"""

from __future__ import annotations

import html
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ._validation import (
    NAN_POLICIES,
    as_real_array,
    check_choice,
    check_finite,
    check_positive,
    check_same_shape,
    normalize_axis,
)
from .errors import InvalidInputError, InvalidOptionError

__all__ = ["compare", "Comparison"]

#: the parts of a comparison, in output order
PARTS = ("pointwise", "dsl", "persistence", "critical_points")
FILTRATION_CHOICES = ("sublevel", "superlevel", "both")
CONNECTIVITIES = ("full", "face")
CP_CONNECTIVITIES = ("full", "freudenthal")
DTYPES = ("float64", "float32", "input")
# per-type critical-point counts (cp_false_negatives_minimum ...): one display line per kind
_CP_BY_TYPE = re.compile(r"^cp_(false_negatives|false_positives|false_types)_([a-z0-9]+)$")
_NAN_HINT = ", or pass nan_policy='omit' to leave non-finite cells out of every metric"


def _version() -> str:
    from . import __version__

    return __version__


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, repr=False, eq=False)
class Comparison:
    """Result of :func:`compare` (frozen).

    Attributes
    ----------
    shape : tuple of int
        Shape of both arrays.
    dtypes : tuple of str
        dtypes of the original and the reconstruction as given.
    options : dict
        Every option as used (defaults filled in): ``metrics``, ``filtration`` (a
        tuple), ``connectivity``, ``order``, ``internal_p``, ``sharpness``, ``sign``,
        ``weights``, ``batch_axis``, ``nan_policy``, ``dtype``, ``min_persistence``,
        ``cp_connectivity``, ``data_range``.
    pointwise : dict or None
        :func:`topoeval.pointwise_metrics` (``mse``, ``rmse``, ``mae``,
        ``max_abs_error``, ``psnr``, ``relative_l2_error``, ``pearson``,
        ``value_range``, ``n_values``).
    dsl : dict or None
        ``exact_dsl`` (number of sign mismatches of the finite differences, weighted;
        mean over samples with ``batch_axis``), ``exact_dsl_rate`` (the same divided by
        the weighted number of differences: a fraction in [0, 1]), ``dsl`` (the smooth
        loss, normalized) and ``sharpness``.
    persistence : dict or None
        Per filtration (``"sublevel"`` / ``"superlevel"``): ``wasserstein`` (order
        ``options["order"]``, ground metric ``internal_p``), ``bottleneck`` (L-infinity
        ground metric), ``n_points_orig``, ``n_points_recon`` (pairs of positive
        persistence incl. never-dying ones), ``n_essential_orig``, ``n_essential_recon``.
    critical_points : dict or None
        The flat ``cp_*`` row of :func:`topoeval.critical_point_errors`.
    diagrams : dict
        Per filtration, ``(orig_diagram, recon_diagram)``; with ``batch_axis`` each is a
        tuple of per-sample diagrams.
    matchings : dict
        Per filtration, the optimal Wasserstein matching ((k, 3) array ``[i, j, cost]``,
        -1 = diagonal); a tuple of per-sample matchings with ``batch_axis``.
    cp_errors : object or None
        The :class:`topoeval.CriticalPointErrors` (positions of each error kind), a tuple
        of them with ``batch_axis``.
    elapsed : dict
        Seconds spent on each part.
    version : str
        topoeval version that computed this.
    """

    shape: tuple
    dtypes: tuple
    options: Mapping[str, Any]
    pointwise: Mapping[str, Any] | None = None
    dsl: Mapping[str, Any] | None = None
    persistence: Mapping[str, Mapping[str, Any]] | None = None
    critical_points: Mapping[str, Any] | None = None
    diagrams: Mapping[str, tuple] = field(default_factory=dict)
    matchings: Mapping[str, Any] = field(default_factory=dict)
    cp_errors: Any = None
    elapsed: Mapping[str, float] = field(default_factory=dict)
    version: str = ""

    # ------------------------------------------------------------------ export
    def to_row(self) -> dict[str, Any]:
        """Flat dict of scalars with stable keys (one column each), for batch / sweep rows.

        Keys, for the parts switched on: ``mse, rmse, mae, max_abs_error, psnr,
        relative_l2_error, pearson, value_range, n_values``; ``exact_dsl,
        exact_dsl_rate, dsl, sharpness``; per filtration ``f``: ``wasserstein_f,
        bottleneck_f, n_points_orig_f, n_points_recon_f, n_essential_orig_f,
        n_essential_recon_f``; then the ``cp_*`` keys of the critical-point errors.
        Values are Python floats / ints / strings (inf and NaN stay floats).
        Diagrams, matchings and options are not in the row.
        """
        row: dict[str, Any] = {}
        if self.pointwise is not None:
            row.update(self.pointwise)
        if self.dsl is not None:
            row.update(self.dsl)
        if self.persistence is not None:
            for filt, vals in self.persistence.items():
                for k, v in vals.items():
                    row[f"{k}_{filt}"] = v
        if self.critical_points is not None:
            row.update(self.critical_points)
        return {k: _scalar(v) for k, v in row.items()}

    def to_dict(self) -> dict[str, Any]:
        """Full JSON-safe nested dict: metrics per part, options, diagram sizes, version.

        ``inf`` / ``-inf`` become the strings ``"inf"`` / ``"-inf"`` and NaN becomes
        ``None`` (JSON ``null``); tuples become lists; a callable ``sign`` is written as
        its ``__name__``.  ``json.dumps(c.to_dict(), allow_nan=False)`` always works.

        Keys: ``topoeval_version``, ``shape``, ``dtypes`` (``orig``, ``recon``), ``options``
        (every option as used), ``metrics`` (one dict per part switched on: ``pointwise``,
        ``dsl``, ``persistence`` -> per filtration, ``critical_points``) and ``elapsed_s``.

        Examples
        --------
        >>> import json
        >>> import numpy as np
        >>> import topoeval as te
        >>> d = te.compare(np.ones(4), np.ones(4), metrics="pointwise").to_dict()
        >>> d["metrics"]["pointwise"]["psnr"], d["metrics"]["pointwise"]["pearson"]
        ('inf', None)
        >>> sorted(d)
        ['dtypes', 'elapsed_s', 'metrics', 'options', 'shape', 'topoeval_version']
        >>> json.loads(json.dumps(d, allow_nan=False))["options"]["filtration"]
        ['sublevel']
        """
        metrics: dict[str, Any] = {}
        for part in PARTS:
            val = getattr(self, part)
            if val is not None:
                metrics[part] = dict(val)
        opts = dict(self.options)
        sign = opts.get("sign")
        if isinstance(sign, tuple) and sign and callable(sign[0]):  # (function, derivative)
            sign = sign[0]
        if callable(sign):
            opts["sign"] = getattr(sign, "__name__", "callable")
        return _jsonable(
            {
                "topoeval_version": self.version,
                "shape": list(self.shape),
                "dtypes": {"orig": self.dtypes[0], "recon": self.dtypes[1]},
                "options": opts,
                "metrics": metrics,
                "elapsed_s": dict(self.elapsed),
            }
        )

    # ------------------------------------------------------------------ display
    def _sections(self) -> list[tuple[str, list[tuple[str, Any]]]]:
        out = []
        if self.pointwise is not None:
            out.append(("Pointwise", list(self.pointwise.items())))
        if self.dsl is not None:
            out.append(("Directional sign loss", list(self.dsl.items())))
        if self.persistence is not None:
            for filt, vals in self.persistence.items():
                title = f"Persistence ({filt}, W order {_fmt(self.options.get('order'))}, " \
                        f"internal_p {_fmt(self.options.get('internal_p'))})"
                out.append((title, list(vals.items())))
        if self.critical_points is not None:
            out.append(("Critical points", list(self.critical_points.items())))
        return out

    def _display(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Sections with formatted values; the per-type critical-point counts on one line per kind."""
        out = []
        for title, items in self._sections():
            rows: list[tuple[str, str]] = []
            by_type: dict[str, list[str]] = {}
            for k, v in items:
                m = _CP_BY_TYPE.match(str(k))
                if m is None:
                    rows.append((str(k), _fmt(v)))
                    continue
                kind = f"cp_{m.group(1)} by type"
                if kind not in by_type:
                    by_type[kind] = []
                    rows.append((kind, ""))
                if v:
                    by_type[kind].append(f"{m.group(2)} {_fmt(v)}")
            rows = [(k, (", ".join(by_type[k]) or "none") if k in by_type else v) for k, v in rows]
            out.append((title, rows))
        return out

    def __repr__(self) -> str:
        sections = self._display()
        width = max((len(k) for _, rows in sections for k, _ in rows), default=0)
        lines = [f"Comparison(shape={self.shape}, dtypes={self.dtypes[0]}/{self.dtypes[1]})"]
        for title, rows in sections:
            lines.append(f"  {title}:")
            lines.extend(f"    {k:<{width}}  {v}" for k, v in rows)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = []
        for title, items in self._display():
            rows.append(f'<tr><th colspan="2" style="text-align:left">{html.escape(title)}</th></tr>')
            for k, v in items:
                rows.append(
                    f'<tr><td style="text-align:left">{html.escape(k)}</td>'
                    f'<td style="text-align:right"><code>{html.escape(v)}</code></td></tr>'
                )
        head = html.escape(f"Comparison: shape {self.shape}, {self.dtypes[0]} vs {self.dtypes[1]}")
        return f"<table><caption>{head}</caption>{''.join(rows)}</table>"


def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v) or math.isinf(v):
            return str(v)
        if v == 0:
            return "0"
        if 1e-4 <= abs(v) < 1e6:
            return f"{v:.6g}"
        return f"{v:.4e}"
    return str(v)


def _scalar(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if v is None or isinstance(v, str):
        return v
    return str(v)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if v is None or isinstance(v, str):
        return v
    return str(v)


# --------------------------------------------------------------------------- options


def _parse_metrics(metrics: Any) -> tuple[str, ...]:
    if metrics is None or metrics == "all":
        return PARTS
    if isinstance(metrics, str):
        metrics = [m for m in metrics.replace(",", " ").split() if m]
    try:
        chosen = list(metrics)
    except TypeError:
        raise InvalidOptionError(f"metrics={metrics!r} is not valid; pass 'all' or a list of {PARTS}") from None
    aliases = {"critical-points": "critical_points", "cp": "critical_points", "topology": "persistence"}
    out = []
    for m in chosen:
        m = aliases.get(m, m)
        if m == "all":
            return PARTS
        check_choice(m, "metrics", PARTS)
        if m not in out:
            out.append(m)
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


# --------------------------------------------------------------------------- compare


def check_options(
    *,
    metrics: Any = "all",
    filtration: str = "sublevel",
    connectivity: str = "full",
    order: float = 1.0,
    internal_p: float = 2.0,
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
    tuple of parts, ``sharpness`` with the default filled in.

    Examples
    --------
    >>> from topoeval.compare import check_options
    >>> check_options(filtration="both", order=2)["filtration"]
    ('sublevel', 'superlevel')
    """
    parts = _parse_metrics(metrics)
    check_choice(filtration, "filtration", FILTRATION_CHOICES)
    filtrations = ("sublevel", "superlevel") if filtration == "both" else (filtration,)
    check_choice(connectivity, "connectivity", CONNECTIVITIES)
    check_choice(cp_connectivity, "cp_connectivity", CP_CONNECTIVITIES)
    order = _check_order(order)
    internal_p = _check_internal_p(internal_p)
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
    from .dsl import DEFAULT_SHARPNESS, _resolve_sign

    sharpness = DEFAULT_SHARPNESS if sharpness is None else check_positive(sharpness, "sharpness")
    _resolve_sign(sign)
    return {
        "metrics": parts, "filtration": filtrations, "connectivity": connectivity, "order": order,
        "internal_p": internal_p, "sharpness": sharpness, "sign": sign, "weights": weights,
        "batch_axis": batch_axis, "nan_policy": nan_policy, "dtype": dtype,
        "min_persistence": min_persistence, "cp_connectivity": cp_connectivity, "data_range": data_range,
    }




def compare(
    orig: Any,
    recon: Any,
    *,
    metrics: Any = "all",
    filtration: str = "sublevel",
    connectivity: str = "full",
    order: float = 1.0,
    internal_p: float = 2.0,
    sharpness: float | None = None,
    sign: Any = "tanh",
    weights: Any = None,
    batch_axis: int | None = None,
    nan_policy: str = "raise",
    dtype: str = "float64",
    min_persistence: float = 0.0,
    cp_connectivity: str = "full",
    data_range: float | None = None,
) -> Comparison:
    """Compare an original array with its reconstruction.

    Parameters
    ----------
    orig, recon : array_like, shape (n_0, ..., n_{d-1})
        The original and the reconstruction; same shape, any real dtypes (they may differ).
    metrics : 'all' or iterable of str, default 'all'
        Parts to compute: any of ``'pointwise'``, ``'dsl'``, ``'persistence'``,
        ``'critical_points'`` (a comma-separated string works too).
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
    sharpness : float, optional
        Sharpness ``s`` of the smooth DSL (default: :data:`topoeval.dsl.DEFAULT_SHARPNESS`);
        recorded in the result.
    sign : {'tanh', 'softsign', 'sign'} or callable, default 'tanh'
        Sign approximation of the smooth DSL.
    weights : sequence of float, optional
        DSL weight per non-batch axis (0 switches an axis off), e.g. ``(1, 1, 0)``.
    batch_axis : int, optional
        Axis holding independent samples.  The DSL is then the mean over samples; the
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
    # ---- options first: nothing is computed before every option is known to be valid
    opts = check_options(
        metrics=metrics, filtration=filtration, connectivity=connectivity, order=order,
        internal_p=internal_p, sharpness=sharpness, sign=sign, weights=weights, batch_axis=batch_axis,
        nan_policy=nan_policy, dtype=dtype, min_persistence=min_persistence,
        cp_connectivity=cp_connectivity, data_range=data_range,
    )
    parts, filtrations = opts["metrics"], opts["filtration"]
    order, internal_p, sharpness = opts["order"], opts["internal_p"], opts["sharpness"]
    min_persistence, data_range = opts["min_persistence"], opts["data_range"]
    from .dsl import _resolve_axes

    # ---- arrays
    x = as_real_array(orig, "orig")
    y = as_real_array(recon, "recon")
    check_same_shape(x, y)
    dtypes = (str(x.dtype), str(y.dtype))
    batch = None if batch_axis is None else normalize_axis(batch_axis, x.ndim, "batch_axis")
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
    elapsed: dict[str, float] = {}
    result: dict[str, Any] = {}

    if "pointwise" in parts:
        from .metrics import pointwise_metrics

        t = time.perf_counter()
        result["pointwise"] = pointwise_metrics(x, y, data_range=data_range, nan_policy=nan_policy)
        elapsed["pointwise"] = time.perf_counter() - t

    if "dsl" in parts:
        t = time.perf_counter()
        result["dsl"] = _dsl_part(x, y, valid, sharpness=sharpness, sign=sign, weights=weights, batch=batch)
        elapsed["dsl"] = time.perf_counter() - t

    if "persistence" in parts:
        t = time.perf_counter()
        pers, diagrams, matchings = _persistence_part(
            x, y, filtrations, connectivity=connectivity, order=order, internal_p=internal_p,
            nan_policy=nan_policy, batch=batch,
        )
        result.update(persistence=pers, diagrams=diagrams, matchings=matchings)
        elapsed["persistence"] = time.perf_counter() - t

    if "critical_points" in parts:
        t = time.perf_counter()
        row, errs = _critical_part(
            x, y, connectivity=cp_connectivity, min_persistence=min_persistence,
            nan_policy=nan_policy, batch=batch,
        )
        result.update(critical_points=row, cp_errors=errs)
        elapsed["critical_points"] = time.perf_counter() - t

    elapsed["total"] = time.perf_counter() - t_start
    return Comparison(
        shape=tuple(int(s) for s in x.shape),
        dtypes=dtypes,
        options=options,
        elapsed=elapsed,
        version=_version(),
        **result,
    )


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


def _dsl_part(x, y, valid, *, sharpness, sign, weights, batch) -> dict[str, float]:
    from .dsl import dsl as smooth_dsl
    from .dsl import exact_dsl

    if valid is None:
        # x of topoeval.dsl is the reconstruction (the value is symmetric).  Both sums are taken
        # unnormalized and divided here by the weighted number of differences per sample (the
        # same for every sample), which is what normalize=True does, in one pass fewer, and
        # without failing on arrays with nothing to compare (rate 0 then).
        exact = exact_dsl(y, x, weights=weights, batch_axis=batch, normalize=False)
        total = smooth_dsl(y, x, sharpness=sharpness, sign=sign, weights=weights, batch_axis=batch,
                           normalize=False)
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


def _persistence_part(x, y, filtrations, *, connectivity, order, internal_p, nan_policy, batch):
    from .distances import bottleneck_distance, wasserstein_distance
    from .persistence import persistence_diagram

    pers: dict[str, dict[str, Any]] = {}
    diagrams: dict[str, tuple] = {}
    matchings: dict[str, Any] = {}
    for filt in filtrations:
        d_orig, d_recon, match = [], [], []
        wp = 0.0
        bott = 0.0
        for xs, ys in zip(_samples(x, batch), _samples(y, batch)):
            a = persistence_diagram(xs, filtration=filt, connectivity=connectivity, nan_policy=nan_policy)
            b = persistence_diagram(ys, filtration=filt, connectivity=connectivity, nan_policy=nan_policy)
            w, m = wasserstein_distance(a, b, order=order, internal_p=internal_p, matching=True)
            bd = bottleneck_distance(a, b)
            wp += w**order if math.isfinite(w) else math.inf
            bott = max(bott, bd)
            d_orig.append(a)
            d_recon.append(b)
            match.append(m)
        wass = wp ** (1.0 / order) if math.isfinite(wp) else math.inf
        pers[filt] = {
            "wasserstein": float(wass),
            "bottleneck": float(bott),
            "n_points_orig": sum(len(d) for d in d_orig),
            "n_points_recon": sum(len(d) for d in d_recon),
            "n_essential_orig": sum(int(np.isinf(d.deaths).sum()) for d in d_orig),
            "n_essential_recon": sum(int(np.isinf(d.deaths).sum()) for d in d_recon),
        }
        if batch is None:
            diagrams[filt] = (d_orig[0], d_recon[0])
            matchings[filt] = match[0]
        else:
            diagrams[filt] = (tuple(d_orig), tuple(d_recon))
            matchings[filt] = tuple(match)
    return pers, diagrams, matchings


def _critical_part(x, y, *, connectivity, min_persistence, nan_policy, batch):
    from .critical_points import critical_point_errors

    kwargs: dict[str, Any] = {"connectivity": connectivity, "min_persistence": min_persistence}
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


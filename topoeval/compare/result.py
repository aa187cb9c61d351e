"""The result of :func:`topoeval.compare`: :class:`Comparison`, its flat row, JSON dict and display."""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .options import PARTS

__all__ = ["Comparison"]

_DIM_KEY = re.compile(r"^(sublevel|superlevel)_dim([0-9]+)$")


def persistence_key(filtration: str, dim: int) -> str:
    """The key of one (filtration, homology dimension) in ``Comparison.persistence`` /
    ``diagrams`` / ``matchings``: the filtration for dimension 0 (as before dimensions
    existed; no ``_dim0`` alias), ``"<filtration>_dim<k>"`` for k >= 1.

    >>> persistence_key("sublevel", 0), persistence_key("superlevel", 2)
    ('sublevel', 'superlevel_dim2')
    """
    return filtration if dim == 0 else f"{filtration}_dim{dim}"


def split_persistence_key(key: str) -> tuple[str, int]:
    """(filtration, dimension) of a key made by :func:`persistence_key`.

    >>> split_persistence_key("superlevel_dim1"), split_persistence_key("sublevel")
    (('superlevel', 1), ('sublevel', 0))
    """
    m = _DIM_KEY.match(key)
    return (m.group(1), int(m.group(2))) if m else (key, 0)

# per-type critical-point counts (cp_false_negatives_minimum ...): one display line per kind
_CP_BY_TYPE = re.compile(r"^cp_(false_negatives|false_positives|false_types)_([a-z0-9]+)$")


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
        tuple), ``dims`` (a tuple; present only when not the default ``(0,)``, so that
        the options of a dimension-0 comparison read as before), ``connectivity``, ``order``, ``internal_p``, ``sharpness``, ``sign``,
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
        These are of homology dimension 0; with ``dims`` the same metrics of dimension
        ``k >= 1`` are under the key ``"<filtration>_dim<k>"`` (``"sublevel_dim1"``,
        :func:`persistence_key`), after all of dimension 0.
    critical_points : dict or None
        The flat ``cp_*`` row of :func:`topoeval.critical_point_errors`.
    diagrams : dict
        Per key of ``persistence``, ``(orig_diagram, recon_diagram)``; with ``batch_axis``
        each is a tuple of per-sample diagrams.  ``Diagram.dim`` tells the dimension.
    matchings : dict
        Per key of ``persistence``, the optimal Wasserstein matching ((k, 3) array ``[i, j, cost]``,
        -1 = diagonal); a tuple of per-sample matchings with ``batch_axis``.
    cp_errors : object or None
        The :class:`topoeval.CriticalPointErrors` (positions of each error kind), a tuple
        of them with ``batch_axis``; streamed, a ``StreamedErrorPositions`` (its ``positions``
        and ``to_row`` only).
    segmentation, pairs : dict or None
        The flat ``seg_*`` row of :func:`topoeval.segmentation_errors` and the ``pairs_*``
        row of :func:`topoeval.persistence_pair_errors` (counts summed over samples).
    seg_errors, pair_errors : object or None
        The :class:`topoeval.SegmentationErrors` (``.mask()`` for maps) and
        :class:`topoeval.PersistencePairErrors`; tuples of them with ``batch_axis``.
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
    segmentation: Mapping[str, Any] | None = None
    pairs: Mapping[str, Any] | None = None
    seg_errors: Any = None
    pair_errors: Any = None
    elapsed: Mapping[str, float] = field(default_factory=dict)
    version: str = ""

    # ------------------------------------------------------------------ export
    def to_row(self) -> dict[str, Any]:
        """Flat dict of scalars with stable keys (one column each), for batch / sweep rows.

        Keys, for the parts switched on: ``mse, rmse, mae, max_abs_error, psnr,
        relative_l2_error, pearson, value_range, n_values``; ``exact_dsl,
        exact_dsl_rate, dsl, sharpness``; per filtration ``f``: ``wasserstein_f,
        bottleneck_f, n_points_orig_f, n_points_recon_f, n_essential_orig_f,
        n_essential_recon_f`` (dimension 0); with ``dims`` the same per dimension
        ``k >= 1`` suffixed ``_dim<k>`` (``wasserstein_sublevel_dim1``, after those of
        dimension 0; dimension 0 has no ``_dim0`` alias); then the ``cp_*`` keys of the critical-point errors, the
        ``seg_*`` and the ``pairs_*`` keys.
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
        for part in (self.segmentation, self.pairs):
            if part is not None:
                row.update(part)
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
            several = tuple(self.options.get("dims", (0,))) != (0,)
            for key, vals in self.persistence.items():
                filt, dim = split_persistence_key(key)
                what = f"{filt}, H{dim}" if several else filt
                title = f"Persistence ({what}, W order {_fmt(self.options.get('order'))}, " \
                        f"internal_p {_fmt(self.options.get('internal_p'))})"
                out.append((title, list(vals.items())))
        if self.critical_points is not None:
            out.append(("Critical points", list(self.critical_points.items())))
        if self.segmentation is not None:
            out.append(("Morse segmentation", list(self.segmentation.items())))
        if self.pairs is not None:
            out.append(("Persistence pairs", list(self.pairs.items())))
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

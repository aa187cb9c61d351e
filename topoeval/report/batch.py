"""The report of a batch of comparisons (:func:`write_batch_report`)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError, InvalidOptionError, TopoevalError
from .comparison import _View
from .figures import _distribution_figure, _summary_figure
from .page import (
    _KEY_METRICS,
    _check_output,
    _esc,
    _note,
    _options_section,
    _picture,
    _plotting,
    _table,
    _write_page,
)

__all__ = ["write_batch_report"]


def _numeric_metrics(result: Any) -> list[str]:
    cols = result.columns
    names = [m for m in result.metric_names if cols[m].dtype.kind == "f"]
    first = [m for m in _KEY_METRICS if m in names]
    return first + [m for m in names if m not in first]


def _key_metrics(metrics: list[str]) -> list[str]:
    """The metrics whose distributions are drawn: the key ones (at most 12), and with ``dims``
    the Wasserstein distance of every homology dimension >= 1 after those of dimension 0."""
    import re

    key = [m for m in metrics if m in _KEY_METRICS][:12] or metrics[:9]
    per_dim = [m for m in metrics if re.fullmatch(r"wasserstein_(sub|super)level_dim[0-9]+", m)]
    if not per_dim:
        return key
    at = max((i + 1 for i, m in enumerate(key) if m.startswith(("wasserstein_", "bottleneck_"))), default=len(key))
    return key[:at] + per_dim + key[at:]


def _resolve(spec: Any, file: Any) -> Any:
    """An array-like of samples named by ``spec`` (an array, "file.h5:/dataset" or a dataset of
    ``file``), read lazily from HDF5; None when it cannot be found."""
    if spec is None:
        return None
    if not isinstance(spec, (str, os.PathLike)):
        return np.asarray(spec)
    from ..io import HDF5_EXTENSIONS, load_array, split_spec

    s = os.fspath(spec)
    p, ds = split_spec(s)
    if ds is None or not p.exists():
        if file is None:
            return None
        p, ds = Path(os.fspath(file)), s
    if p.suffix.lower() not in HDF5_EXTENSIONS:
        try:
            return load_array(f"{p}:{ds}")
        except TopoevalError:
            return None
    import h5py

    try:
        f = h5py.File(p, "r")  # read one sample at a time; closed when garbage-collected
        return f[ds]
    except (OSError, KeyError):
        return None


def _sample_loader(
    result: Any, orig: Any, recon: Any, file: Any
) -> Callable[[str, int], Any] | None:
    """A function (recon name, sample) -> (orig_i, recon_i), or None when the data is unknown."""
    if orig is None and file is None:
        return None
    o = _resolve(orig if orig is not None else result.orig, file)
    if o is None:
        return None
    recon_map: dict[str, Any] = {}
    if isinstance(recon, Mapping):
        recon_map = {str(k): v for k, v in recon.items()}
    elif recon is not None and len(result.recons) == 1:
        recon_map = {result.recons[0]: recon}
    cache: dict[str, Any] = {}

    def load(name: str, sample: int):
        if name not in cache:
            cache[name] = _resolve(recon_map.get(name, name), file)
        r = cache[name]
        if r is None:
            return None
        return np.asarray(o[sample]), np.asarray(r[sample])

    return load


def _check_batch(result: Any, n_worst: Any) -> None:
    if (
        isinstance(n_worst, (bool, np.bool_))
        or not isinstance(n_worst, (int, np.integer))
        or n_worst < 0
    ):
        raise InvalidOptionError(f"n_worst={n_worst!r} is not valid; pass a non-negative integer")
    if not all(
        hasattr(result, a) for a in ("rows", "recons", "columns", "summary", "metric_names")
    ):
        raise InvalidInputError(
            f"result is a {type(result).__name__}, not a topoeval BatchResult; pass the result of "
            "topoeval.batch(...)"
        )


def _head_section(result: Any) -> list[str]:
    summary = result.summary
    body = [
        "<h1>topoeval batch report</h1>",
        (
            f'<p class="meta">original <code>{_esc(getattr(result, "orig", "orig"))}</code>; '
            f"{len(result.recons)} reconstruction(s); {len(result.rows)} rows, {result.n_ok} ok, "
            f"{result.n_failed} failed.</p>"
        ),
        "<h2>Summary per reconstruction</h2>",
        _table(
            ["reconstruction", "samples", "ok", "failed"],
            [(name, s["n"], s["n_ok"], s["n_failed"]) for name, s in summary.items()],
        ),
    ]
    metrics = _numeric_metrics(result)
    key = _key_metrics(metrics)
    if key and result.n_ok:
        body.append("<h2>Distributions over samples</h2>")
        body.append(
            _picture(
                lambda: _distribution_figure(result, key),
                "metric distributions",
                "Box plots (median, quartiles, 1.5 IQR whiskers) and every sample as a dot, "
                "per reconstruction; non-finite values left out.",
            )
        )
    return body


def _stats_section(summary: Mapping[str, Any]) -> list[str]:
    body = ["<h2>Mean and standard deviation over samples</h2>"]
    names = list(summary)
    all_metrics = list(dict.fromkeys(m for s in summary.values() for m in s["metrics"]))
    nan = {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan}

    def stat_table(keys: Sequence[str]) -> str:
        header = ["metric"] + [f"{n}: {k}" for n in names for k in keys]
        rows = [
            [m] + [summary[n]["metrics"].get(m, nan)[k] for n in names for k in keys]
            for m in all_metrics
        ]
        return _table(header, rows)

    if not all_metrics:
        return [*body, _note("no numeric metric in the rows")]
    return [
        *body,
        stat_table(("mean", "std")),
        "<details><summary>Minimum and maximum over samples</summary>",
        stat_table(("min", "max")),
        "</details>",
    ]


def _worst_section(result: Any, loader: Callable | None, n_worst: int) -> list[str]:
    body = ["<h2>Worst samples</h2>"]
    if loader is None and n_worst:
        body.append(
            _note(
                "Pictures of the worst samples need the data: pass orig=/recon= arrays or "
                "file= (the HDF5 file of the batch) to write_batch_report."
            )
        )
    for name, s in result.summary.items():
        body.append(f"<h3>{_esc(name)}: worst samples</h3>")
        worst = s.get("worst", {})
        if worst:
            body.append(
                _table(
                    ["by", "sample", "value"],
                    [(m, smp, val) for m, lst in worst.items() for smp, val in lst],
                )
            )
        picks: list[int] = []
        for lst in worst.values():
            for smp, _ in lst:
                if smp not in picks:
                    picks.append(int(smp))
        if loader is None or not n_worst:
            continue
        for smp in picks[:n_worst]:
            body.extend(_worst_sample_pictures(result, loader, name, smp))
    return body


def _failed_section(result: Any) -> list[str]:
    failed = [r for r in result.rows if r.get("status") != "ok"]
    if not failed:
        return []
    body = [
        "<h2>Failed samples</h2>",
        _table(
            ["reconstruction", "sample", "error"],
            [(r.get("recon"), r.get("sample"), r.get("error")) for r in failed[:200]],
        ),
    ]
    if len(failed) > 200:
        body.append(_note(f"{len(failed) - 200} more failed rows not listed"))
    return body


def write_batch_report(
    path: Any,
    result: Any,
    *,
    force: bool = False,
    orig: Any = None,
    recon: Any = None,
    file: Any = None,
    n_worst: int = 2,
) -> Path:
    """Write a self-contained HTML report of a batch of comparisons.

    For every reconstruction: the number of ok and failed samples, mean / std /
    min / max of every metric, box plots of the distributions of the key metrics
    over the samples (all reconstructions side by side), the worst samples by
    each Wasserstein column and by exact DSL, and the failed samples with their
    errors.  When the data can be read (``orig`` / ``recon`` arrays, or HDF5
    datasets through ``file`` or ``"file.h5:/dataset"`` names), the ``n_worst``
    worst samples of each reconstruction also get their pictures (fields,
    matching, mismatch map, critical points), recomputed with the batch options.

    Parameters
    ----------
    path : str or path-like
        The ``.html`` file to write.
    result : BatchResult
        ``topoeval.batch(...)``.
    force : bool, default False
        Replace an existing file.
    orig : array_like or str, optional
        The originals (first axis = sample), or their dataset (``"/orig"`` with
        ``file``, or ``"file.h5:/orig"``); default ``result.orig`` read through ``file``.
    recon : array_like, str or dict, optional
        The reconstructions, ``{name: array_or_dataset}``; by default each
        reconstruction's name read through ``file``.
    file : str or path-like, optional
        The HDF5 file holding the batch (as given to ``topoeval.batch``).
    n_worst : int, default 2
        Samples with pictures per reconstruction (0: none).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import topoeval as te
    >>> from topoeval.report import write_batch_report
    >>> orig = np.random.default_rng(0).random((4, 8, 8))
    >>> res = te.batch(orig, {"noisy": orig + 0.01, "coarse": np.round(orig, 1)}, jobs=1)
    >>> out = write_batch_report(os.path.join(tempfile.mkdtemp(), "batch.html"), res, n_worst=1,
    ...                          orig=orig, recon={"noisy": orig + 0.01, "coarse": np.round(orig, 1)})
    >>> "worst samples" in out.read_text()
    True
    """
    _plotting()
    _check_batch(result, n_worst)
    _check_output(path, force)
    body = [
        *_head_section(result),
        *_stats_section(result.summary),
        *_worst_section(result, _sample_loader(result, orig, recon, file), n_worst),
        *_failed_section(result),
        *_options_section(dict(result.options)),
    ]
    return _write_page(path, "topoeval batch report", body, force)


def _worst_sample_pictures(result: Any, loader: Callable, name: str, sample: int) -> list[str]:
    from ..compare import compare

    try:
        data = loader(name, sample)
    except (OSError, IndexError, KeyError, ValueError) as exc:
        return [_note(f"sample {sample} of {name}: cannot read it ({exc})")]
    if data is None:
        return [
            _note(f"sample {sample} of {name}: data not found; pass recon={{name: array}} or file=")
        ]
    xo, xr = data
    options = {k: v for k, v in dict(result.options).items()}
    try:
        comp = compare(xo, xr, **options)
    except TypeError as exc:  # a custom per-sample function's options
        return [_note(f"sample {sample} of {name}: not compared again ({exc})")]
    except TopoevalError as exc:
        return [_note(f"sample {sample} of {name}: {exc}")]
    view = _View(comp, np.asarray(xo), np.asarray(xr))
    return [
        f"<h4>{_esc(name)}, sample {sample}</h4>",
        _picture(
            lambda: _summary_figure(view, comp, title=f"{name}, sample {sample}"),
            f"{name} sample {sample}",
        ),
    ]

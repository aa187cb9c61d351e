"""Incremental stores: the ``<output>.partial`` journal, resume, and the encoding of rows.

While a batch or a sweep runs, every finished row is appended to ``<output>.partial`` as
one JSON line and flushed, so a run stopped at any point (Ctrl-C, SIGTERM, a crash) keeps
what it finished; a line cut short by a kill is skipped when the journal is read back.
The final file is written atomically at the end (:mod:`topoeval.batch.files`) and the
journal removed.

:class:`Journal` is that file.  A batch journal starts with a header line (format, the
original, the reconstructions, the options) that resume checks; a sweep journal holds the
rows only (its format since the first release).  :func:`prepare_output` is the bookkeeping
before any work: refuse an existing output or journal without ``force``/``resume``, or
read the finished rows back for ``resume`` (refusing when the options differ).

Rows are flat dicts of scalars; in JSON (journal, ``.json`` outputs) inf is ``"inf"`` /
``"-inf"`` and NaN is ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FileFormatError, InvalidOptionError, OutputExistsError, TopoevalIOError

BASE = ("recon", "sample")  # the key columns of a batch row
TAIL = ("status", "error")  # last columns of every row
RESERVED = frozenset(BASE + TAIL)  # keys a per-sample function cannot set


# --------------------------------------------------------------------------------------------
# encoding of values
# --------------------------------------------------------------------------------------------
def scalar(v: Any) -> Any:
    """A NumPy scalar as the Python scalar (rows hold plain floats, ints, bools, str)."""
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    return v


def option_value(v: Any) -> Any:
    """An option as a scalar for the opt_ columns (sequences become comma-separated text)."""
    if isinstance(v, str) or v is None:
        return v
    v = scalar(v)
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    if isinstance(v, (list, tuple, np.ndarray)):
        return ",".join(str(scalar(x)) for x in v)
    return str(v)


def json_safe(obj: Any) -> Any:
    """``obj`` with NumPy scalars as Python ones, NaN as None and inf as "inf" / "-inf".

    >>> json_safe({"a": float("nan"), "b": [float("-inf"), np.float32(2)]})
    {'a': None, 'b': ['-inf', 2.0]}
    """
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    obj = scalar(obj)
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
    return obj


def from_json(v: Any) -> Any:
    """The inverse of :func:`json_safe` for one value (None -> NaN, "inf" -> inf)."""
    if v is None:  # NaN is written as null
        return math.nan
    if v == "inf":
        return math.inf
    if v == "-inf":
        return -math.inf
    return v


def csv_cell(v: Any, *, nan: str = "nan") -> str:
    """A value as CSV text: floats in full precision (``repr``; NaN as ``nan``), booleans as
    ``true`` / ``false``, None as empty."""
    if v is None:
        return ""
    if isinstance(v, float):
        return nan if math.isnan(v) else repr(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def parse_cell(v: str) -> Any:
    """The inverse of :func:`csv_cell` for a non-empty cell: bool, int, float or the text."""
    if v == "true":
        return True
    if v == "false":
        return False
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v


def same_options(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two option dicts are equal as they would be recorded."""
    norm = lambda d: json.dumps(  # noqa: E731
        json_safe({k: option_value(v) for k, v in d.items()}), sort_keys=True, default=str)
    return norm(a) == norm(b)


def options_diff(before: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """``"name=<before> in the output, <now> now; ..."`` for every option that differs."""
    parts = []
    for k in dict.fromkeys([*before, *now]):
        a = option_value(before[k]) if k in before else "(unset)"
        b = option_value(now[k]) if k in now else "(unset)"
        if json.dumps(json_safe(a), default=str) != json.dumps(json_safe(b), default=str):
            parts.append(f"{k}={a!r} in the output, {b!r} now")
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------
# the journal
# --------------------------------------------------------------------------------------------
def journal_path(output: Path) -> Path:
    """``<output>.partial``."""
    return output.with_name(output.name + ".partial")


class Journal:
    """``<output>.partial``: an optional header line, then one JSON line per finished row.

    Parameters
    ----------
    path : Path
        The journal file.
    header_format : str or None
        The ``format`` of the header line (None: a journal of rows only).
    """

    def __init__(self, path: Path, header_format: str | None = None):
        self.path = Path(path)
        self.header_format = header_format
        self._fh = None

    def read(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The header (``{}`` without one) and the rows, values decoded (a cut line is skipped)."""
        header, rows = None, []
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:  # a line cut short by a kill: that row was in flight
                    continue
                if header is None and self.header_format is not None:
                    header = rec
                else:
                    rows.append({k: from_json(v) for k, v in rec.items()})
        if self.header_format is not None and (not header or header.get("format") != self.header_format):
            raise FileFormatError(
                f"{str(self.path)!r} is not a topoeval {self.header_format.split('-')[1]} journal; "
                "remove it or pass --force"
            )
        return header or {}, rows

    def open(self, header: Mapping[str, Any] | None, carried: Iterable[Mapping[str, Any]] = (),
             *, append: bool = False) -> None:
        """Start writing: append to the journal, or create it with ``header`` and the rows
        ``carried`` over (from a finished output being resumed)."""
        try:
            if append:
                self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())
                return
            self._fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115
            if self.header_format is not None:
                self._fh.write(json.dumps({"format": self.header_format, **(header or {})}) + "\n")
            self.append(carried)
        except OSError as exc:
            raise TopoevalIOError(
                f"cannot write {str(self.path)!r} ({exc.strerror or exc}); choose a writable folder"
            ) from None

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Write the rows, one line each, and flush (a row is on disk when it is reported)."""
        if self._fh is None:
            return
        self._fh.write("".join(json.dumps(json_safe(r)) + "\n" for r in rows))
        self._fh.flush()

    def close(self) -> None:
        """Close the file (every row written so far stays; resume continues from it)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def remove(self) -> None:
        """Delete the journal (the final output holds its rows)."""
        self.close()
        self.path.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# before any work: refuse, start over, or read back what a previous run finished
# --------------------------------------------------------------------------------------------
def prepare_output(
    output: Path,
    journal: Journal,
    *,
    force: bool,
    resume: bool,
    read_output: Callable[[Path], tuple[dict[str, Any], str, list[dict[str, Any]]]],
    options: Mapping[str, Any],
    orig: str = "",
    also: Iterable[tuple[Path, str]] = (),
) -> list[dict[str, Any]]:
    """Check the output before any work and return the rows a previous run finished.

    Without ``force`` or ``resume`` an existing output, journal, or one of the files written
    beside it (``also``: (path, what it is) pairs) raises :class:`OutputExistsError`; ``force`` alone discards a journal;
    ``resume`` reads the journal (or, without one, the finished output through
    ``read_output(path) -> (options, orig, rows)``) and refuses when its options (or its
    original) differ from this run's.  Rows lost to a dead worker are not returned: they
    are computed again.
    """
    from ..io import check_output_path

    check_output_path(output, force=True)  # folder exists and is writable (existence below)
    if force and not resume:
        journal.path.unlink(missing_ok=True)
        return []
    if not resume:
        if output.exists():
            raise OutputExistsError(
                f"the output {str(output)!r} exists; pass --force (force=True) to replace it, "
                "or --resume to continue it"
            )
        if journal.path.exists():
            raise OutputExistsError(
                f"an interrupted run left {str(journal.path)!r}; pass --resume to continue it or "
                "--force to start over"
            )
        for path, what in also:
            if path.exists():
                raise OutputExistsError(f"{str(path)!r} ({what}) exists; pass --force to replace it")
        return []
    if journal.path.exists():
        header, rows = journal.read()
        prev_options, prev_orig = header.get("options"), header.get("orig", "")
    elif output.exists():
        prev_options, prev_orig, rows = read_output(output)
    else:
        return []
    if prev_options is not None and not same_options(prev_options, options):
        raise InvalidOptionError(
            f"cannot resume {str(output)!r}: the options differ ({options_diff(prev_options, options)}); "
            "rerun with the same options, or pass --force to start over"
        )
    if prev_orig and orig and prev_orig != orig:
        raise InvalidOptionError(
            f"cannot resume {str(output)!r}: it compares against {prev_orig!r}, this run "
            f"against {orig!r}; pass --force to start over"
        )
    return [r for r in rows if not str(r.get("error", "")).startswith("WorkerDied")]

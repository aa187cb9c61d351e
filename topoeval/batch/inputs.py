"""The inputs of a batch: HDF5 datasets (or in-memory arrays) read a block of samples at a time.

A spec (``"/orig"`` in a default file, ``"file.h5:/dataset"``, a glob such as ``"/sz3/*"``, or
an array) resolves to :class:`Source` objects up front, in the parent; the workers get only a
small payload per task and open the files themselves, read-only, keeping them open across
tasks (a per-process cache keyed by the file's inode and mtime).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    DatasetNotFoundError,
    FileFormatError,
    InvalidInputError,
    InvalidOptionError,
    ShapeMismatchError,
    TopoevalIOError,
)


def error_text(exc: BaseException) -> str:
    """``"ErrorClass: message"`` on one line (the ``error`` column of failed rows)."""
    msg = str(exc).strip().replace("\n", " ")
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


@dataclass(frozen=True)
class Source:
    """One input batch: an HDF5 dataset (path, dataset) or an in-memory array."""

    label: str
    path: str | None
    dataset: str | None
    shape: tuple[int, ...]
    dtype: str
    chunk0: int  # samples per chunk along axis 0 (1 for arrays)
    array: Any = field(default=None, repr=False, compare=False)

    def payload(self, start: int, stop: int):
        if self.path is None:
            return ("array", np.ascontiguousarray(self.array[start:stop]), start)
        return ("h5", self.path, self.dataset)


def split_spec(spec: str) -> tuple[str | None, str]:
    """'file.h5:/ds' -> ('file.h5', '/ds'); '/ds' -> (None, '/ds')."""
    if ":" in spec:
        path, ds = spec.rsplit(":", 1)
        if path and ds:
            return path, ds if ds.startswith("/") else "/" + ds
    return None, spec if spec.startswith("/") else "/" + spec


def _open_h5(path: str):
    import h5py

    p = Path(path)
    if not p.exists():
        raise TopoevalIOError(f"input file {path!r} does not exist; check the path")
    try:
        return h5py.File(p, "r")  # inputs are only ever opened read-only
    except OSError as exc:
        raise FileFormatError(
            f"cannot open {path!r} as an HDF5 file ({exc}); batch reads HDF5 files "
            "(first axis = sample)"
        ) from None


def _datasets(f) -> list[str]:
    import h5py

    names: list[str] = []
    f.visititems(lambda n, o: names.append("/" + n) if isinstance(o, h5py.Dataset) else None)
    return names


def resolve(spec: Any, default_file: str | None, what: str, *, many: bool) -> list[Source]:
    """Turn a spec (dataset path / 'file:/path' / glob / array) into sources."""
    if not isinstance(spec, (str, os.PathLike)):
        arr = np.asarray(spec)
        if arr.dtype.kind not in "biuf":
            raise InvalidInputError(f"{what} has dtype {arr.dtype}; pass a real-valued array")
        return [Source(what, None, None, tuple(arr.shape), str(arr.dtype), 1, arr)]
    spec = os.fspath(spec)
    path, ds = split_spec(spec)
    from_default = path is None
    if path is None:
        if default_file is None:
            raise InvalidOptionError(
                f"{what} {spec!r} names a dataset but no file; give the file (the FILE argument of "
                "`topoeval batch`, file=... in Python) or write it as 'file.h5:/dataset'"
            )
        path = os.fspath(default_file)
    with _open_h5(path) as f:
        if any(ch in ds for ch in "*?["):
            names = [n for n in _datasets(f) if fnmatch.fnmatchcase(n, ds)]
            if not names:
                raise DatasetNotFoundError(
                    f"the pattern {ds!r} matches no dataset in {path!r}; datasets there: "
                    f"{', '.join(_datasets(f)) or '(none)'}"
                )
            if not many:
                raise InvalidOptionError(f"{what} must name one dataset, not the pattern {ds!r}")
        else:
            names = [ds]
        out = []
        for name in names:
            import h5py

            obj = f.get(name)
            if not isinstance(obj, h5py.Dataset):
                kind = "a group" if obj is not None else "missing"
                raise DatasetNotFoundError(
                    f"{name!r} in {path!r} is {kind}, not a dataset; datasets there: "
                    f"{', '.join(_datasets(f)) or '(none)'}"
                )
            if obj.dtype.kind not in "biuf":
                raise InvalidInputError(
                    f"{path}:{name} has dtype {obj.dtype}, not real numbers; batch needs numeric data"
                )
            chunk0 = obj.chunks[0] if obj.chunks else 0
            label = name if from_default else f"{path}:{name}"
            out.append(Source(label, os.path.abspath(path), name, tuple(obj.shape),
                               str(obj.dtype), int(chunk0)))
    return out


# per-process cache of open input files (workers open the files themselves, read-only)
_OPEN: dict[str, Any] = {}


def _read(payload, start: int, stop: int) -> np.ndarray:
    if payload[0] == "array":  # ("array", the block's samples, index of its first sample)
        return payload[1][start - payload[2]:stop - payload[2]]
    _, path, ds = payload
    try:
        st = os.stat(path)
        key = (path, st.st_ino, st.st_mtime_ns)  # a file replaced on disk is opened afresh
    except OSError:
        key = (path, 0, 0)
    f = _OPEN.get(key)
    if f is None or not f.id.valid:
        for old in [k for k in _OPEN if k[0] == path]:
            _OPEN.pop(old).close()
        f = _OPEN[key] = _open_h5(path)
    return f[ds][start:stop]


def close_inputs() -> None:
    """Close this process's cached input files (before forking workers)."""
    while _OPEN:
        _, f = _OPEN.popitem()
        try:
            f.close()
        except Exception:  # pragma: no cover
            pass


def load_block(payload, start: int, stop: int, what: str) -> list[Any]:
    """The samples start..stop-1 of one input; a sample that cannot be read is its error message
    (a failed block read is retried sample by sample, so one corrupt chunk fails one sample)."""
    try:
        return list(_read(payload, start, stop))
    except Exception as exc:
        if stop - start == 1:
            return [f"reading {what} failed: {error_text(exc)}"]
    return [load_block(payload, i, i + 1, what)[0] for i in range(start, stop)]


def resolve_inputs(orig: Any, recon: Any, file: Any) -> tuple[Source, list[Source]]:
    """The original and the reconstructions of a batch as sources, checked up front: the
    original has a sample axis and every reconstruction its shape (all mismatches listed)."""
    default_file = None if file is None else os.fspath(file)
    orig_src = resolve(orig, default_file, "orig", many=False)[0]
    recon_srcs = []
    if isinstance(recon, Mapping):
        for name, spec in recon.items():
            for s in resolve(spec, default_file, str(name), many=True):
                recon_srcs.append(s if s.path is not None else Source(
                    str(name), None, None, s.shape, s.dtype, 1, s.array))
    else:
        specs = [recon] if isinstance(recon, (str, os.PathLike, np.ndarray)) else list(recon)
        if not specs:
            raise InvalidOptionError("no reconstruction given; pass at least one recon")
        for k, spec in enumerate(specs):
            recon_srcs.extend(resolve(spec, default_file, f"recon{k}", many=True))
    first: dict[str, Source] = {}  # a dataset named twice (a glob and its member) runs once
    for s in recon_srcs:
        first.setdefault(s.label, s)
    recon_srcs = list(first.values())
    if len(orig_src.shape) < 2:
        raise InvalidInputError(
            f"orig has shape {orig_src.shape}; a batch needs a first axis of samples and at least one "
            "more axis (n_samples, ...)"
        )
    bad = [f"{s.label} {s.shape}" for s in recon_srcs if s.shape != orig_src.shape]
    if bad:
        raise ShapeMismatchError(
            f"{len(bad)} reconstruction(s) do not have the original's shape {orig_src.shape} "
            f"({orig_src.label}): " + "; ".join(bad) + " - every reconstruction must have exactly "
            "the original's shape"
        )
    return orig_src, recon_srcs

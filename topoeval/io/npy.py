"""``.npy`` files (memory-mapped, never unpickled) and ``-``, a ``.npy`` stream on standard input."""

from __future__ import annotations

import io as _io
from pathlib import Path

import numpy as np

from ..errors import FileFormatError, TopoevalIOError
from .lazy import LazyArray
from .spec import check_real


def read_header(fh, where: str) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    """Return (shape, dtype, fortran_order, data_offset) of a .npy stream, with clear errors."""
    from numpy.lib import format as npformat

    try:
        version = npformat.read_magic(fh)
    except ValueError:
        if where == "standard input":
            raise FileFormatError(
                "standard input is not a .npy stream (bad magic bytes); '-' reads only .npy data, e.g. "
                "`cat x.npy | topoeval compare - recon.npy` (pass other formats by file name)"
            ) from None
        raise FileFormatError(
            f"{where} is not a .npy file (bad magic bytes); is it another format with a .npy name?"
        ) from None
    try:
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = npformat.read_array_header_2_0(fh)
        else:
            shape, fortran, dtype = npformat._read_array_header(fh, version)  # 3.0 (utf8 names)
    except (ValueError, SyntaxError, EOFError) as exc:
        raise FileFormatError(f"{where}: corrupt .npy header ({exc})") from None
    if dtype.hasobject:
        raise FileFormatError(
            f"{where} holds Python objects (dtype {dtype}), which would need unpickling; topoeval never "
            "loads pickles - save a numeric array, e.g. np.save(path, a.astype(np.float64))"
        )
    return tuple(shape), dtype, fortran, fh.tell()


def load_stream(fh, where: str) -> np.ndarray:
    """Read a whole ``.npy`` stream (standard input cannot be memory-mapped)."""
    try:
        data = fh.read()
    except OSError as exc:
        raise TopoevalIOError(f"{where}: cannot read ({exc})") from None
    if not data:
        raise FileFormatError(f"{where}: no data; pipe a .npy file, e.g. `cat x.npy | topoeval ... -`")
    shape, dtype, _, _ = read_header(_io.BytesIO(data), where)
    try:
        arr = np.load(_io.BytesIO(data), allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise FileFormatError(
            f"{where}: the .npy data of shape {shape} and dtype {dtype} is truncated or corrupt ({exc})"
        ) from None
    check_real(arr.dtype, where)
    return arr


def _checked_header(path: Path) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    with open(path, "rb") as fh:
        shape, dtype, fortran, offset = read_header(fh, str(path))
    check_real(dtype, str(path))
    need = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    have = path.stat().st_size
    if have < need:
        raise FileFormatError(
            f"{path} is truncated: its header announces shape {shape} of {dtype} ({need} bytes with "
            f"the header) but the file has {have} bytes; re-create or re-copy it"
        )
    return shape, dtype, fortran, offset


def load(path: Path, mmap: bool) -> np.ndarray:
    shape = _checked_header(path)[0]
    try:
        if mmap and int(np.prod(shape)) > 0:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FileFormatError(f"{path}: cannot read the .npy data ({exc})") from None


def open_lazy(path: Path, name: str, dtype: np.dtype | None) -> LazyArray:
    """A read-only memory map of the file's data (nothing is read until sliced)."""
    shape, stored, fortran, offset = _checked_header(path)
    if int(np.prod(shape, dtype=np.int64)) == 0:
        return LazyArray(np.empty(shape, stored), name=name, dtype=dtype)
    mm = np.memmap(path, dtype=stored, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")
    return LazyArray(mm, name=name, dtype=dtype)


def describe(path: Path, entry) -> list[dict]:
    with open(path, "rb") as fh:
        shp, dt, fortran, _ = read_header(fh, str(path))
    return [entry(str(path), shp, dt, order="F" if fortran else "C")]

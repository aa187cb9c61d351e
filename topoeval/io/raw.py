"""Raw binary as SDRBench distributes it (``field.f32`` + ``--shape 100x500x500``), memory-mapped.

Shapes are C order, slowest-varying axis first; data little-endian unless ``byteorder`` says
otherwise.  The dtype comes from the extension (``.f32``, ``.d64``, ``.u16``...; also inside a
longer name such as ``Uf48.f32.sz.out``) or from an explicit ``dtype``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FileFormatError, InvalidOptionError
from .lazy import LazyArray
from .spec import RAW_EXTENSIONS, parse_dtype, parse_shape, raw_extension


def raw_dtype(path: Path, dtype: Any, byteorder: str) -> np.dtype:
    """The file's element type in its byte order (``dtype`` or the one the extension implies)."""
    ext = raw_extension(path)
    implied = None if ext is None else RAW_EXTENSIONS[ext]
    if dtype is None:
        if implied is None:
            raise InvalidOptionError(
                f"{path}: a {ext or path.suffix} file carries no dtype; pass it, e.g. --dtype float32"
            )
        dt = np.dtype(implied)
    else:
        dt = parse_dtype(dtype)
    order = {"little": "<", "big": ">", "native": "="}[byteorder]
    return dt.newbyteorder(order) if dt.itemsize > 1 else dt


def checked_layout(path: Path, shape: Any, dtype: Any, byteorder: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, stored dtype) after checking the file's size against them (both numbers if not)."""
    dt = raw_dtype(path, dtype, byteorder)
    size = path.stat().st_size
    if shape is None:
        count = size // dt.itemsize
        raise InvalidOptionError(
            f"{path} is raw binary and needs its shape, e.g. --shape 100x500x500 (slowest axis first); "
            f"its {size} bytes hold {count} {dt.name} value(s)"
            + ("" if size % dt.itemsize == 0 else f" plus {size % dt.itemsize} stray byte(s)")
        )
    dims = parse_shape(shape)
    need = int(np.prod(dims, dtype=np.int64)) * dt.itemsize
    if need != size:
        raise FileFormatError(
            f"{path} has {size} bytes but shape {'x'.join(map(str, dims))} of {dt.name} needs {need} bytes"
            f" ({size // dt.itemsize if size % dt.itemsize == 0 else size / dt.itemsize:g} values in the "
            "file); check --shape and --dtype"
        )
    return dims, dt


def load(path: Path, shape: Any, dtype: Any, byteorder: str, mmap: bool) -> np.ndarray:
    dims, dt = checked_layout(path, shape, dtype, byteorder)
    if mmap:
        arr = np.memmap(path, dtype=dt, mode="r", shape=dims)
        arr = np.asarray(arr) if arr.dtype.isnative else arr
    else:
        arr = np.fromfile(path, dtype=dt).reshape(dims)
    return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))


def open_lazy(path: Path, name: str, shape: Any, dtype: Any, byteorder: str) -> LazyArray:
    """A read-only memory map; ``dtype`` is the element type in the file (slices come back native)."""
    dims, dt = checked_layout(path, shape, dtype, byteorder)
    return LazyArray(np.memmap(path, dtype=dt, mode="r", shape=dims), name=name)


def describe(path: Path, size: int, shape: Any, dtype: Any, byteorder: str, entry) -> list[dict]:
    ext = raw_extension(path)
    has_dtype = dtype is not None or (ext is not None and RAW_EXTENSIONS[ext] is not None)
    dt = raw_dtype(path, dtype, byteorder) if has_dtype else None
    if dt is not None and shape is None:
        shp = (size // dt.itemsize,)
    elif dt is not None:
        shp = parse_shape(shape)
    else:
        shp = None
    ent = entry(str(path), shp, dt)
    if shape is None and dt is not None:
        ent["note"] = "raw binary: the shape is not stored; pass --shape (slowest axis first)"
    return [ent]

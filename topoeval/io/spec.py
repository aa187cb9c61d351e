"""Input specifications: ``file.h5:/dataset`` / ``arrays.npz:key`` split, shapes, dtypes, format by name.

Everything here works on names and small headers only; no reader is imported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FileFormatError, InvalidDTypeError, InvalidOptionError, TopoevalIOError

HDF5_EXTENSIONS = (".h5", ".hdf5", ".he5", ".hdf", ".nc", ".nc4")
NPY_EXTENSIONS = (".npy",)
NPZ_EXTENSIONS = (".npz",)
NETCDF_EXTENSIONS = (".nc", ".nc4", ".cdf", ".netcdf")  # netCDF-3 or netCDF-4 by their first bytes
ZARR_EXTENSIONS = (".zarr",)  # a folder (any folder holding zarr.json / .zgroup / .zarray works too)
#: formats whose files hold named members, written ``file:KEY``
KEYED = (*HDF5_EXTENSIONS, *NPZ_EXTENSIONS, *NETCDF_EXTENSIONS, *ZARR_EXTENSIONS)
#: raw binary extensions and the dtype each implies (SDRBench naming)
RAW_EXTENSIONS = {
    ".f16": "float16",
    ".f32": "float32",
    ".f64": "float64",
    ".d64": "float64",
    ".i8": "int8",
    ".i16": "int16",
    ".i32": "int32",
    ".i64": "int64",
    ".u8": "uint8",
    ".u16": "uint16",
    ".u32": "uint32",
    ".u64": "uint64",
    ".dat": None,
    ".bin": None,
    ".raw": None,
}
BYTEORDERS = ("little", "big", "native")
_KNOWN = ", ".join(dict.fromkeys([*NPY_EXTENSIONS, *NPZ_EXTENSIONS, *HDF5_EXTENSIONS, *NETCDF_EXTENSIONS,
                                   *ZARR_EXTENSIONS, *RAW_EXTENSIONS]))
_MAX_LISTED = 25


def parse_shape(shape: Any) -> tuple[int, ...]:
    """Parse ``"100x500x500"`` / ``"100,500,500"`` / a sequence of ints into a tuple of positive ints.

    >>> parse_shape("8x64x64")
    (8, 64, 64)
    >>> parse_shape([3, 4])
    (3, 4)
    """
    if isinstance(shape, str):
        parts = [p for p in re.split(r"[x×,\s]+", shape.strip().lower()) if p]
        try:
            dims = tuple(int(p) for p in parts)
        except ValueError:
            raise InvalidOptionError(
                f"shape {shape!r} is not valid; write it as integers separated by 'x', slowest axis "
                "first, e.g. 100x500x500"
            ) from None
    else:
        try:
            dims = tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise InvalidOptionError(f"shape {shape!r} is not a sequence of integers") from None
    if not dims or any(d <= 0 for d in dims):
        raise InvalidOptionError(
            f"shape {shape!r} is not valid; every dimension must be a positive integer, e.g. 100x500x500"
        )
    return dims


def parse_dtype(dtype: Any, what: str = "dtype") -> np.dtype:
    """``dtype`` as a real NumPy dtype, or InvalidOptionError saying what to write instead."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise InvalidOptionError(
            f"{what}={dtype!r} is not a NumPy dtype; use e.g. float32, float64, int16, uint8"
        ) from None
    if dt.kind not in "biuf":
        raise InvalidOptionError(f"{what}={dtype!r} is not a real number type; use e.g. float32 or int32")
    return dt


def check_byteorder(byteorder: str) -> None:
    if byteorder not in BYTEORDERS:
        raise InvalidOptionError(f"byteorder={byteorder!r} is not valid; use one of: {', '.join(BYTEORDERS)}")


def split_spec(spec: str | os.PathLike) -> tuple[Path, str | None]:
    """Split ``"file.h5:/group/data"`` / ``"file.npz:key"`` into (path, key); key None when absent.

    A path that exists as written is never split (so names with colons work).

    >>> split_spec("run.h5:/fields/u")
    (PosixPath('run.h5'), '/fields/u')
    >>> split_spec("x.npy")
    (PosixPath('x.npy'), None)
    """
    text = os.fspath(spec)
    if os.path.exists(text) or ":" not in text:
        return Path(text), None
    head, _, key = text.rpartition(":")
    while True:
        ext = os.path.splitext(head)[1].lower()
        if ext in KEYED or _is_zarr(Path(head)):
            return Path(head), key
        if ":" not in head:  # e.g. C:\data\x.npy on Windows, or a plain name with a colon
            return Path(text), None
        # keys may contain ':' too (rare): try the next colon to the left
        head, _, more = head.rpartition(":")
        key = f"{more}:{key}"


def raw_extension(path: Path) -> str | None:
    """The raw extension of ``path``: the last suffix, or an earlier one for names such as
    ``Uf48.f32.sz.out`` (SZ's decompressed output keeps the original's ``.f32``)."""
    for ext in reversed([e.lower() for e in path.suffixes]):
        if ext in RAW_EXTENSIONS:
            return ext
    return None


def check_stray_key(path: Path) -> None:
    """``x.npy:key`` / ``x.f32:key``: a ``:key`` part on a file that takes none (clear message)."""
    text = os.fspath(path)
    if ":" not in text or os.path.exists(text):
        return
    head, _, key = text.rpartition(":")
    ext = os.path.splitext(head)[1].lower()
    if not os.path.isfile(head) and (ext in NPY_EXTENSIONS or raw_extension(Path(head)) is not None):
        check_readable(Path(head))  # x.npy:key with no x.npy: say the file is missing
    if os.path.isfile(head):
        raise InvalidOptionError(
            f"{text}: only .npz and HDF5 files take a ':key' part (and netCDF, Zarr), and {head} is "
            f"{'a .npy' if ext in NPY_EXTENSIONS else 'a raw binary' if ext else 'a'} file; drop ':{key}'"
        )


def _is_zarr(path: Path) -> bool:
    """A folder named ``*.zarr``, or one holding Zarr metadata at its root."""
    return path.is_dir() and (
        path.suffix.lower() in ZARR_EXTENSIONS or any((path / m).is_file() for m in ("zarr.json", ".zgroup", ".zarray"))
    )


def file_kind(path: Path, dtype: Any = None) -> str:
    """The reader for ``path``: ``"npy"``, ``"npz"``, ``"hdf5"``, ``"netcdf"``, ``"zarr"`` or ``"raw"``."""
    ext = path.suffix.lower()
    if _is_zarr(path) or (ext in ZARR_EXTENSIONS and not path.exists()):
        return "zarr"
    if ext in NETCDF_EXTENSIONS:
        return "netcdf"
    if ext in NPY_EXTENSIONS:
        return "npy"
    if ext in NPZ_EXTENSIONS:
        return "npz"
    if ext in HDF5_EXTENSIONS:
        return "hdf5"
    if raw_extension(path) is not None or dtype is not None:
        return "raw"
    raise FileFormatError(
        f"{path}: unknown file extension {ext or '(none)'!r}; topoeval reads {_KNOWN} "
        "(to read any other file as raw binary, pass its --dtype and --shape)"
    )


def check_readable(path: Path, *, folder: bool = False) -> None:
    """A clear TopoevalIOError when ``path`` is missing, unreadable or (unless ``folder``) a folder."""
    if not path.exists():
        parent = path.parent if str(path.parent) else Path(".")
        hint = "" if parent.is_dir() else f" (the folder {parent} does not exist either)"
        raise TopoevalIOError(f"{path}: no such file{hint}; check the path")
    if path.is_dir() and not folder:
        raise TopoevalIOError(f"{path} is a folder, not a file; name a file inside it")
    if not os.access(path, os.R_OK):
        raise TopoevalIOError(f"{path}: permission denied; make the file readable (chmod +r)")


def check_real(arr_dtype: np.dtype, where: str) -> None:
    if arr_dtype.kind not in "biuf":
        raise InvalidDTypeError(
            f"{where} has dtype {arr_dtype}, which is not a real number type; topoeval needs bool, "
            "integer or float data (complex, string, compound and object data are not accepted)"
        )


def listing(names: list[str]) -> str:
    """Names joined for an error message, at most ``_MAX_LISTED`` of them."""
    shown = ", ".join(names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f", ... ({len(names) - _MAX_LISTED} more; see `topoeval info`)"
    return shown


def choose_member(where: Path, key: str | None, names: list[str], what: str, how: str) -> str:
    """The member ``key`` names, or the only one when ``key`` is None (DatasetNotFoundError else).

    ``what`` is the noun ("array", "dataset", "variable"), ``how`` the spec to write (``KEY``).
    """
    from ..errors import DatasetNotFoundError

    if key is not None:
        return key
    if len(names) == 1:
        return names[0]
    if not names:
        raise DatasetNotFoundError(f"{where} holds no {what}")
    raise DatasetNotFoundError(f"{where} holds {len(names)} {what}s ({listing(names)}); name one as {where}:{how}")

"""Reading the arrays people really have, and writing output files atomically.

Input specifications understood by :func:`load_array` (and every command of the CLI):

=====================================  ===================================================
``field.npy``                          NumPy array, memory-mapped read-only; never unpickled
``-``                                  a ``.npy`` stream on standard input
``arrays.npz:key`` / ``arrays.npz``    a member of an ``.npz`` archive (the only one may be
                                       left out)
``data.h5:/group/dataset``             an HDF5 dataset (also ``.hdf5``, ``.he5``, ``.hdf``,
                                       and netCDF-4 ``.nc`` files, which are HDF5); the only
                                       dataset of the file may be left out
``field.f32`` (``--shape 100x500x500``) raw binary as SDRBench distributes it: ``.f32``,
                                       ``.f64`` / ``.d64``, ``.f16``, ``.i8`` ... ``.i64``,
                                       ``.u8`` ... ``.u64`` (also inside a longer name, as
                                       SZ's ``Uf48.f32.sz.out``); any other name with an
                                       explicit ``dtype``
=====================================  ===================================================

Raw shapes are given in **C order, slowest-varying axis first** -- the same order as a
NumPy ``shape`` and as SDRBench's tables write dimensions (Hurricane ISABEL
``100x500x500`` is z × y × x: x varies fastest in the file).  The SZ and ZFP command
lines take the same dimensions the other way round (``-3 500 500 100``).  Raw data are
read little-endian unless ``byteorder`` says otherwise (SDRBench files are little-endian).

Every problem raises a :mod:`topoeval.errors` exception whose message names the file
and says how to fix it: a missing file (:class:`~topoeval.errors.TopoevalIOError`),
an unknown extension, a corrupt or truncated file, pickled/object data
(:class:`~topoeval.errors.FileFormatError`), a missing dataset or key
(:class:`~topoeval.errors.DatasetNotFoundError`, listing those that exist), a raw size
that does not match the shape (both numbers).

:func:`atomic_output` writes an output file through a temporary file in the same folder
and ``os.replace``, so a crash never leaves half a file, and refuses to replace an
existing file unless ``force=True``.
"""

from __future__ import annotations

import contextlib
import io as _io
import os
import re
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import (
    DatasetNotFoundError,
    FileFormatError,
    InvalidDTypeError,
    InvalidOptionError,
    OutputExistsError,
    TopoevalIOError,
)

__all__ = ["load_array", "describe_file"]

HDF5_EXTENSIONS = (".h5", ".hdf5", ".he5", ".hdf", ".nc", ".nc4")
NPY_EXTENSIONS = (".npy",)
NPZ_EXTENSIONS = (".npz",)
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
_KNOWN = ", ".join([*NPY_EXTENSIONS, *NPZ_EXTENSIONS, *HDF5_EXTENSIONS, *RAW_EXTENSIONS])
_MAX_LISTED = 25


# --------------------------------------------------------------------------- parsing


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


def _parse_dtype(dtype: Any, what: str = "dtype") -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise InvalidOptionError(
            f"{what}={dtype!r} is not a NumPy dtype; use e.g. float32, float64, int16, uint8"
        ) from None
    if dt.kind not in "biuf":
        raise InvalidOptionError(f"{what}={dtype!r} is not a real number type; use e.g. float32 or int32")
    return dt


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
        if ext in HDF5_EXTENSIONS or ext in NPZ_EXTENSIONS:
            return Path(head), key
        if ":" not in head:  # e.g. C:\data\x.npy on Windows, or a plain name with a colon
            return Path(text), None
        # keys may contain ':' too (rare): try the next colon to the left
        head, _, more = head.rpartition(":")
        key = f"{more}:{key}"


def _raw_extension(path: Path) -> str | None:
    """The raw extension of ``path``: the last suffix, or an earlier one for names such as
    ``Uf48.f32.sz.out`` (SZ's decompressed output keeps the original's ``.f32``)."""
    for ext in reversed([e.lower() for e in path.suffixes]):
        if ext in RAW_EXTENSIONS:
            return ext
    return None


def _check_stray_key(path: Path) -> None:
    """``x.npy:key`` / ``x.f32:key``: a ``:key`` part on a file that takes none (clear message)."""
    text = os.fspath(path)
    if ":" not in text or os.path.exists(text):
        return
    head, _, key = text.rpartition(":")
    ext = os.path.splitext(head)[1].lower()
    if not os.path.isfile(head) and (ext in NPY_EXTENSIONS or _raw_extension(Path(head)) is not None):
        _check_readable(Path(head))  # x.npy:key with no x.npy: say the file is missing
    if os.path.isfile(head):
        raise InvalidOptionError(
            f"{text}: only .npz and HDF5 files take a ':key' part, and {head} is "
            f"{'a .npy' if ext in NPY_EXTENSIONS else 'a raw binary' if ext else 'a'} file; drop ':{key}'"
        )


def _kind(path: Path, dtype: Any = None) -> str:
    ext = path.suffix.lower()
    if ext in NPY_EXTENSIONS:
        return "npy"
    if ext in NPZ_EXTENSIONS:
        return "npz"
    if ext in HDF5_EXTENSIONS:
        return "hdf5"
    if _raw_extension(path) is not None or dtype is not None:
        return "raw"
    raise FileFormatError(
        f"{path}: unknown file extension {ext or '(none)'!r}; topoeval reads {_KNOWN} "
        "(to read any other file as raw binary, pass its --dtype and --shape)"
    )


def _check_readable(path: Path) -> None:
    if not path.exists():
        parent = path.parent if str(path.parent) else Path(".")
        hint = "" if parent.is_dir() else f" (the folder {parent} does not exist either)"
        raise TopoevalIOError(f"{path}: no such file{hint}; check the path")
    if path.is_dir():
        raise TopoevalIOError(f"{path} is a folder, not a file; name a file inside it")
    if not os.access(path, os.R_OK):
        raise TopoevalIOError(f"{path}: permission denied; make the file readable (chmod +r)")


def _check_real(arr_dtype: np.dtype, where: str) -> None:
    if arr_dtype.kind not in "biuf":
        raise InvalidDTypeError(
            f"{where} has dtype {arr_dtype}, which is not a real number type; topoeval needs bool, "
            "integer or float data (complex, string, compound and object data are not accepted)"
        )


# --------------------------------------------------------------------------- readers


def _load_npy_stream(fh, where: str) -> np.ndarray:
    try:
        data = fh.read()
    except OSError as exc:
        raise TopoevalIOError(f"{where}: cannot read ({exc})") from None
    if not data:
        raise FileFormatError(f"{where}: no data; pipe a .npy file, e.g. `cat x.npy | topoeval ... -`")
    shape, dtype, _, _ = _read_npy_header(_io.BytesIO(data), where)
    try:
        arr = np.load(_io.BytesIO(data), allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise FileFormatError(
            f"{where}: the .npy data of shape {shape} and dtype {dtype} is truncated or corrupt ({exc})"
        ) from None
    return arr


def _read_npy_header(fh, where: str) -> tuple[tuple[int, ...], np.dtype, bool, int]:
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


def _load_npy(path: Path, mmap: bool) -> np.ndarray:
    with open(path, "rb") as fh:
        shape, dtype, fortran, offset = _read_npy_header(fh, str(path))
    _check_real(dtype, str(path))
    need = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    have = path.stat().st_size
    if have < need:
        raise FileFormatError(
            f"{path} is truncated: its header announces shape {shape} of {dtype} ({need} bytes with "
            f"the header) but the file has {have} bytes; re-create or re-copy it"
        )
    try:
        if mmap and int(np.prod(shape)) > 0:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FileFormatError(f"{path}: cannot read the .npy data ({exc})") from None


def _load_npz(path: Path, key: str | None) -> np.ndarray:
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise FileFormatError(f"{path} is not a readable .npz archive (corrupt or truncated: {exc})") from None
    if not hasattr(archive, "files"):  # np.load recognised a plain .npy file by its magic bytes
        raise FileFormatError(f"{path} is a .npy file with a .npz name; rename it to .npy")
    with archive:
        keys = list(archive.files)
        if key is None:
            if len(keys) != 1:
                raise DatasetNotFoundError(
                    f"{path} holds {len(keys)} arrays ({_listing(keys)}); name one as {path}:KEY"
                    if keys
                    else f"{path} is an empty .npz archive (no arrays)"
                )
            key = keys[0]
        elif key not in keys:
            raise DatasetNotFoundError(
                f"{path} has no array {key!r}; it holds: {_listing(keys)} (write {path}:KEY)"
            )
        try:
            arr = archive[key]
        except ValueError as exc:
            if "pickle" in str(exc).lower() or "object" in str(exc).lower():
                raise FileFormatError(
                    f"{path}:{key} holds Python objects, which would need unpickling; topoeval never "
                    "loads pickles - save a numeric array"
                ) from None
            raise FileFormatError(f"{path}:{key} is corrupt or truncated ({exc})") from None
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:  # CRC / inflate errors
            raise FileFormatError(f"{path}:{key} is corrupt or truncated ({type(exc).__name__}: {exc})") from None
    _check_real(arr.dtype, f"{path}:{key}")
    return arr


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f", ... ({len(names) - _MAX_LISTED} more; see `topoeval info`)"
    return shown


def _open_h5(path: Path):
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        msg = str(exc)
        if "signature" in msg:
            raise FileFormatError(
                f"{path} is not an HDF5 file (no HDF5 signature); netCDF-3 classic files are not "
                "supported - convert with `nccopy -k nc4 in.nc out.nc`"
            ) from None
        if "truncated" in msg:
            raise FileFormatError(f"{path} is a truncated HDF5 file ({msg}); re-create or re-copy it") from None
        raise FileFormatError(f"{path}: cannot open as HDF5 ({msg})") from None


def _h5_datasets(f) -> list[str]:
    import h5py

    names: list[str] = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            names.append("/" + name)

    f.visititems(visit)
    return names


def _load_h5(path: Path, key: str | None) -> np.ndarray:
    import h5py

    with _open_h5(path) as f:
        datasets = _h5_datasets(f)
        if key is None:
            if len(datasets) != 1:
                raise DatasetNotFoundError(
                    f"{path} holds {len(datasets)} datasets ({_listing(datasets)}); name one as "
                    f"{path}:/path/to/dataset"
                    if datasets
                    else f"{path} holds no dataset"
                )
            key = datasets[0]
        name = "/" + key.strip("/")
        obj = f.get(name)
        if obj is None:
            raise DatasetNotFoundError(
                f"{path} has no dataset {name!r}; it holds: {_listing(datasets) or 'no datasets'}"
            )
        if isinstance(obj, h5py.Group):
            inside = [d for d in datasets if d.startswith(name.rstrip("/") + "/")]
            raise DatasetNotFoundError(
                f"{path}:{name} is a group, not a dataset; datasets under it: {_listing(inside) or 'none'}"
            )
        where = f"{path}:{name}"
        _check_real(obj.dtype, where)
        if obj.shape is None or obj.size == 0:
            return np.empty(obj.shape or (0,), dtype=obj.dtype.newbyteorder("="))
        # read straight into a native-endian array (HDF5 converts big-endian data while reading)
        out = np.empty(obj.shape, dtype=obj.dtype.newbyteorder("="))
        try:
            obj.read_direct(out)
        except OSError as exc:
            msg = str(exc)
            if "filter" in msg.lower() or "plugin" in msg.lower():
                raise FileFormatError(
                    f"{where} is compressed with an HDF5 filter that is not available ({msg}); install "
                    "the plugin, e.g. `python -m pip install hdf5plugin` and `import hdf5plugin`"
                ) from None
            raise FileFormatError(f"{where}: cannot read the data - corrupt or truncated file ({msg})") from None
        return out


def _raw_dtype(path: Path, dtype: Any, byteorder: str) -> np.dtype:
    ext = _raw_extension(path)
    implied = None if ext is None else RAW_EXTENSIONS[ext]
    if dtype is None:
        if implied is None:
            raise InvalidOptionError(
                f"{path}: a {ext or path.suffix} file carries no dtype; pass it, e.g. --dtype float32"
            )
        dt = np.dtype(implied)
    else:
        dt = _parse_dtype(dtype)
    order = {"little": "<", "big": ">", "native": "="}[byteorder]
    return dt.newbyteorder(order) if dt.itemsize > 1 else dt


def _load_raw(path: Path, shape: Any, dtype: Any, byteorder: str, mmap: bool) -> np.ndarray:
    dt = _raw_dtype(path, dtype, byteorder)
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
    if mmap:
        arr = np.memmap(path, dtype=dt, mode="r", shape=dims)
        arr = np.asarray(arr) if arr.dtype.isnative else arr
    else:
        arr = np.fromfile(path, dtype=dt).reshape(dims)
    return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))


def load_array(
    spec: str | os.PathLike,
    *,
    shape: Any = None,
    dtype: Any = None,
    byteorder: str = "little",
    mmap: bool = True,
) -> np.ndarray:
    """Load an array from ``.npy``, ``.npz``, HDF5, raw binary, or ``-`` (``.npy`` on stdin).

    Parameters
    ----------
    spec : str or path-like
        ``field.npy``, ``arrays.npz:key``, ``data.h5:/group/dataset`` (the ``:key`` part may
        be left out when the file holds exactly one array), ``field.f32`` (raw), or ``-``.
    shape : str or sequence of int, optional
        Shape of a raw binary file, C order (slowest-varying axis first, as SDRBench
        lists dimensions), e.g. ``"100x500x500"``.  For other formats it is optional and
        must equal the stored shape.
    dtype : str or numpy.dtype, optional
        Element type of a raw file (default: implied by the extension, ``.f32`` ->
        float32, ``.d64`` -> float64 ...); for other formats, when given, the loaded array
        is converted to it.
    byteorder : {'little', 'big', 'native'}, default 'little'
        Byte order of a raw file (SDRBench data are little-endian).  Other formats record
        their byte order; arrays are always returned in native byte order.
    mmap : bool, default True
        Memory-map ``.npy`` and raw files (read-only) instead of reading them into memory.

    Returns
    -------
    numpy.ndarray
        The array, native byte order, any real dtype (memory-mapped read-only where possible).

    Raises
    ------
    TopoevalIOError
        The file does not exist or is not readable.
    FileFormatError
        Unknown extension, corrupt/truncated file, pickled objects, raw size mismatch.
    DatasetNotFoundError
        The key / dataset does not exist (the message lists those that do).
    InvalidOptionError
        Bad ``shape`` / ``dtype`` / ``byteorder``, or a raw file without ``shape``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from topoeval import load_array
    >>> d = tempfile.mkdtemp()
    >>> np.arange(6, dtype="<f4").tofile(os.path.join(d, "field.f32"))
    >>> load_array(os.path.join(d, "field.f32"), shape="2x3")
    array([[0., 1., 2.],
           [3., 4., 5.]], dtype=float32)
    >>> np.savez(os.path.join(d, "a.npz"), u=np.ones(2), v=np.zeros(2))
    >>> load_array(os.path.join(d, "a.npz") + ":v")
    array([0., 0.])
    """
    if byteorder not in BYTEORDERS:
        raise InvalidOptionError(f"byteorder={byteorder!r} is not valid; use one of: {', '.join(BYTEORDERS)}")
    if dtype is not None:
        dtype = _parse_dtype(dtype)
    if os.fspath(spec) == "-":
        arr = _load_npy_stream(sys.stdin.buffer, "standard input")
        _check_real(arr.dtype, "standard input")
        where, kind = "standard input", "npy"
    else:
        path, key = split_spec(spec)
        _check_stray_key(path)
        kind = _kind(path, dtype)
        _check_readable(path)
        where = os.fspath(spec)
        if key is not None and kind not in ("npz", "hdf5"):
            raise InvalidOptionError(f"{where}: only .npz and HDF5 files take a ':key' part")
        if kind == "npy":
            arr = _load_npy(path, mmap)
        elif kind == "npz":
            arr = _load_npz(path, key)
        elif kind == "hdf5":
            arr = _load_h5(path, key)
        else:
            return _load_raw(path, shape, dtype, byteorder, mmap)  # dtype = the element type here
    if shape is not None and parse_shape(shape) != arr.shape:
        raise InvalidOptionError(
            f"{where} has shape {arr.shape} but --shape {'x'.join(map(str, parse_shape(shape)))} was "
            "given; --shape is only needed for raw binary files - drop it"
        )
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return _maybe_cast(arr, dtype)


def _maybe_cast(arr: np.ndarray, dtype: np.dtype | None) -> np.ndarray:
    if dtype is None or arr.dtype == dtype:
        return arr
    return arr.astype(dtype)


# --------------------------------------------------------------------------- describe


def describe_file(spec: str | os.PathLike, *, shape: Any = None, dtype: Any = None,
                  byteorder: str = "little") -> dict[str, Any]:
    """Describe what a file holds without reading its data (for ``topoeval info``).

    Parameters
    ----------
    spec : str or path-like
        A file path (a ``:key`` part, if any, is ignored: the whole file is described).
    shape, dtype, byteorder
        For raw binary files, as in :func:`load_array` (optional: without ``shape`` the
        number of values the file holds is reported).

    Returns
    -------
    dict
        ``{"path", "format", "size_bytes", "datasets": [...]}``; each dataset is a dict
        with ``name`` (the spec to pass to :func:`load_array`), ``shape``, ``dtype``,
        ``byteorder``, ``chunks``, ``compression``, ``compression_opts``,
        ``nbytes`` and ``attrs`` (HDF5 attributes as strings); keys that do not apply
        are None.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from topoeval import describe_file
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(p, np.zeros((3, 4), np.float32))
    >>> info = describe_file(p)
    >>> info["format"], info["datasets"][0]["shape"], info["datasets"][0]["dtype"]
    ('npy', (3, 4), 'float32')
    """
    if os.fspath(spec) == "-":
        raise InvalidOptionError(
            "describe_file reads files, not standard input; save the stream to a file first"
        )
    path, _ = split_spec(spec)
    _check_stray_key(path)
    kind = _kind(path, dtype)
    _check_readable(path)
    out: dict[str, Any] = {"path": os.fspath(path), "format": kind, "size_bytes": path.stat().st_size}
    if kind == "npy":
        with open(path, "rb") as fh:
            shp, dt, fortran, _ = _read_npy_header(fh, str(path))
        out["datasets"] = [_entry(os.fspath(path), shp, dt, order="F" if fortran else "C")]
    elif kind == "npz":
        out["datasets"] = _describe_npz(path)
    elif kind == "hdf5":
        out["datasets"] = _describe_h5(path)
    else:
        ext = _raw_extension(path)
        has_dtype = dtype is not None or (ext is not None and RAW_EXTENSIONS[ext] is not None)
        dt = _raw_dtype(path, dtype, byteorder) if has_dtype else None
        if dt is not None and shape is None:
            shp = (out["size_bytes"] // dt.itemsize,)
        elif dt is not None:
            shp = parse_shape(shape)
        else:
            shp = None
        ent = _entry(os.fspath(path), shp, dt)
        if shape is None and dt is not None:
            ent["note"] = "raw binary: the shape is not stored; pass --shape (slowest axis first)"
        out["datasets"] = [ent]
    return out


def _entry(name, shape, dtype, **extra) -> dict[str, Any]:
    dt = None if dtype is None else np.dtype(dtype)
    e = {
        "name": name,
        "shape": None if shape is None else tuple(int(s) for s in shape),
        "dtype": None if dt is None else dt.newbyteorder("=").name,
        "byteorder": None if dt is None else {"<": "little", ">": "big", "=": sys.byteorder, "|": None}[
            dt.byteorder
        ],
        "chunks": None,
        "compression": None,
        "compression_opts": None,
        "nbytes": None if (dt is None or shape is None) else int(np.prod(shape, dtype=np.int64)) * dt.itemsize,
        "attrs": {},
    }
    e.update(extra)
    return e


def _describe_npz(path: Path) -> list[dict[str, Any]]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileFormatError(f"{path} is not a readable .npz archive ({exc})") from None
    entries = []
    with zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            key = info.filename[:-4]
            try:
                with zf.open(info) as fh:
                    shp, dt, fortran, _ = _read_npy_header(fh, f"{path}:{key}")
                entries.append(_entry(f"{path}:{key}", shp, dt, compression="deflate"
                                      if info.compress_type == zipfile.ZIP_DEFLATED else None))
            except FileFormatError as exc:
                entries.append(_entry(f"{path}:{key}", None, None, note=str(exc)))
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise FileFormatError(f"{path} is corrupt ({exc})") from None
    return entries


def _describe_h5(path: Path) -> list[dict[str, Any]]:
    import h5py

    entries = []
    with _open_h5(path) as f:

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                attrs = {}
                for k, v in obj.attrs.items():
                    if isinstance(v, bytes):
                        v = v.decode("utf-8", "replace")
                    attrs[k] = str(v)
                entries.append(
                    _entry(
                        f"{path}:/{name}",
                        obj.shape,
                        obj.dtype if obj.dtype.fields is None and obj.dtype.kind in "biufc" else None,
                        chunks=obj.chunks,
                        compression=obj.compression,
                        compression_opts=obj.compression_opts,
                        attrs=attrs,
                        **({} if obj.dtype.kind in "biufc" else {"note": f"dtype {obj.dtype}: not numeric"}),
                    )
                )

        f.visititems(visit)
    return entries


# --------------------------------------------------------------------------- output


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, force: bool = False) -> Iterator[Path]:
    """Write a file atomically: yield a temporary path in the same folder, then rename it.

    The temporary file has the same suffix as ``path`` (so writers that pick the format
    from the extension, like matplotlib, work) and is removed if the block raises; on
    success it replaces ``path`` with ``os.replace`` (atomic on POSIX), so a crash never
    leaves half a file.  The final file gets the usual permissions (``0666 & ~umask``).

    Parameters
    ----------
    path : str or path-like
        The output file.
    force : bool, default False
        Replace ``path`` if it exists; otherwise an existing file raises OutputExistsError.

    Yields
    ------
    pathlib.Path
        The temporary file to write (it exists, empty; open it with mode ``"w"``/``"wb"``).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is False.
    TopoevalIOError
        The folder does not exist or is not writable, or ``path`` is a folder.

    Examples
    --------
    >>> import os, tempfile
    >>> from topoeval.io import atomic_output
    >>> out = os.path.join(tempfile.mkdtemp(), "result.csv")
    >>> with atomic_output(out) as tmp:
    ...     _ = tmp.write_text("a,b\\n1,2\\n")
    >>> open(out).read()
    'a,b\\n1,2\\n'
    """
    path = Path(path)
    check_output_path(path, force=force)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=parent)
    except OSError as exc:
        raise TopoevalIOError(f"cannot write {path}: {exc.strerror or exc}; choose a writable folder") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not force and path.exists():
            raise OutputExistsError(f"{path} appeared while it was being written; pass --force / force=True")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def check_output_path(path: str | os.PathLike, *, force: bool = False) -> None:
    """Raise before any work is done if ``path`` cannot be written (exists without force,
    missing or unwritable folder, a folder itself)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise TopoevalIOError(f"cannot write {path}: it is a folder; name a file")
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists already; pass --force (force=True) to replace it")
    if parent.exists() and not parent.is_dir():
        raise TopoevalIOError(f"cannot write {path}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise TopoevalIOError(f"cannot write {path}: the folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise TopoevalIOError(f"cannot write {path}: the folder {parent} is not writable (permission denied)")
    # a real probe: access() says yes to root on read-only or special file systems
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=parent)
    except OSError as exc:
        raise TopoevalIOError(
            f"cannot write {path}: {exc.strerror or exc} in the folder {parent}; choose a writable folder"
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)

"""describe_file: what a file holds (arrays, shapes, dtypes, chunks, compression), data unread."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from ..errors import InvalidOptionError
from . import hdf5, netcdf, npy, npz, raw
from . import zarr as zarr_store
from .spec import check_readable, check_stray_key, file_kind, split_spec


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
        ``nbytes`` and ``attrs`` (HDF5 / netCDF / Zarr attributes as strings), and
        ``dims`` (dimension names) for netCDF and Zarr; keys that do not apply are None.
        ``format`` is ``npy``, ``npz``, ``hdf5``, ``netcdf3``, ``netcdf4``, ``zarr`` or ``raw``.

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
    check_stray_key(path)
    kind = file_kind(path, dtype)
    check_readable(path, folder=kind == "zarr")
    out: dict[str, Any] = {"path": os.fspath(path), "format": kind, "size_bytes": _size(path)}
    if kind == "npy":
        out["datasets"] = npy.describe(path, entry)
    elif kind == "npz":
        out["datasets"] = npz.describe(path, entry)
    elif kind == "hdf5":
        out["datasets"] = hdf5.describe(path, entry)
    elif kind == "netcdf":
        out["format"], out["datasets"] = netcdf.describe(path, entry)
    elif kind == "zarr":
        out["datasets"] = zarr_store.describe(path, entry)
    else:
        out["datasets"] = raw.describe(path, out["size_bytes"], shape, dtype, byteorder, entry)
    return out


def _size(path) -> int:
    """Bytes of a file, or of every file in a folder (a Zarr store)."""
    if not path.is_dir():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def entry(name, shape, dtype, **extra) -> dict[str, Any]:
    """One array of describe_file's ``datasets`` list (keys that do not apply are None)."""
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

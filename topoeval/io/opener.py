"""The one opener: load_array (an array in memory or memory-mapped) and open_array (lazy)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidOptionError
from . import hdf5, netcdf, npy, npz, raw
from . import zarr as zarr_store
from .lazy import LazyArray
from .spec import check_byteorder, check_readable, check_stray_key, file_kind, parse_dtype, parse_shape, split_spec


#: the reader module of each format that names its members (``file:KEY``)
_KEYED = {"npz": npz, "hdf5": hdf5, "netcdf": netcdf, "zarr": zarr_store}
KEYED_KINDS = tuple(_KEYED)


def _resolve(spec: str | os.PathLike, dtype: np.dtype | None) -> tuple[Path, str | None, str, str]:
    """(path, key, format, name for messages) of a file spec, checked to be readable."""
    path, key = split_spec(spec)
    check_stray_key(path)
    kind = file_kind(path, dtype)
    check_readable(path, folder=kind == "zarr")
    where = os.fspath(spec)
    if key is not None and kind not in KEYED_KINDS:
        raise InvalidOptionError(f"{where}: only .npz and HDF5 files take a ':key' part (and netCDF, Zarr)")
    return path, key, kind, where


def _check_shape(where: str, stored: tuple[int, ...], shape: Any) -> None:
    if shape is not None and parse_shape(shape) != stored:
        raise InvalidOptionError(
            f"{where} has shape {stored} but --shape {'x'.join(map(str, parse_shape(shape)))} was "
            "given; --shape is only needed for raw binary files - drop it"
        )


def load_array(
    spec: str | os.PathLike,
    *,
    shape: Any = None,
    dtype: Any = None,
    byteorder: str = "little",
    mmap: bool = True,
) -> np.ndarray:
    """Load an array from ``.npy``, ``.npz``, HDF5, netCDF, Zarr, raw binary, or ``-`` (``.npy`` on stdin).

    Parameters
    ----------
    spec : str or path-like
        ``field.npy``, ``arrays.npz:key``, ``data.h5:/group/dataset``, ``file.nc:VARIABLE``,
        ``store.zarr:/group/array`` (the ``:key`` part may be left out when the file holds
        exactly one array), ``field.f32`` (raw), or ``-``.
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

    See Also
    --------
    open_array : the same inputs, left on disk and read a block at a time.

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
    check_byteorder(byteorder)
    if dtype is not None:
        dtype = parse_dtype(dtype)
    if os.fspath(spec) == "-":
        arr, where = npy.load_stream(sys.stdin.buffer, "standard input"), "standard input"
    else:
        path, key, kind, where = _resolve(spec, dtype)
        if kind == "raw":
            return raw.load(path, shape, dtype, byteorder, mmap)  # dtype = the element type here
        arr = npy.load(path, mmap) if kind == "npy" else _KEYED[kind].load(path, key)
    _check_shape(where, arr.shape, shape)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr if dtype is None or arr.dtype == dtype else arr.astype(dtype)


def open_array(
    spec: Any,
    *,
    shape: Any = None,
    dtype: Any = None,
    byteorder: str = "little",
) -> LazyArray:
    """Open an array without reading it: slices are read from the file when asked for.

    The inputs are those of :func:`load_array`; the data stay on disk (a read-only memory
    map for ``.npy``, uncompressed ``.npz`` members, raw and netCDF-3 files; the HDF5 /
    netCDF-4 dataset with its file kept open until :meth:`LazyArray.close`; the Zarr array,
    read chunk by chunk), so a field larger than memory can be
    processed a block at a time.  Standard input and deflated ``.npz`` members cannot be
    read in parts: they are read whole (``in_memory`` is True).  An object that already
    is an array (NumPy, h5py dataset, Zarr array, xarray DataArray, dask array, a
    LazyArray) is wrapped as it is, and closing the wrapper leaves it open.

    Parameters
    ----------
    spec : str, path-like or array-like
        As for :func:`load_array`, or an array object.
    shape, byteorder
        As for :func:`load_array` (``shape`` is required for raw files, checked otherwise).
    dtype : str or numpy.dtype, optional
        For raw files the element type in the file; for other inputs the dtype every slice
        is converted to.

    Returns
    -------
    LazyArray
        ``.shape``, ``.dtype``, ``.ndim``, ``.chunks``, ``.dims``; ``a[i0:i1, :, j]`` reads a
        block as a native-endian NumPy array; ``a.read()`` reads everything; use it as a
        context manager or call ``close()``.

    Raises
    ------
    Same as :func:`load_array`.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from topoeval import open_array
    >>> p = os.path.join(tempfile.mkdtemp(), "field.f64")
    >>> np.arange(24.0).astype("<f8").tofile(p)
    >>> with open_array(p, shape="2x3x4") as a:
    ...     print(a.shape, a.dtype, a.in_memory)
    ...     block = a[1, :2]
    (2, 3, 4) float64 False
    >>> block
    array([[12., 13., 14., 15.],
           [16., 17., 18., 19.]])
    """
    check_byteorder(byteorder)
    if dtype is not None:
        dtype = parse_dtype(dtype)
    if not isinstance(spec, (str, os.PathLike)):
        return _wrap(spec, shape, dtype)
    if os.fspath(spec) == "-":
        arr = npy.load_stream(sys.stdin.buffer, "standard input")
        out = LazyArray(arr, name="standard input", dtype=dtype)
    else:
        path, key, kind, where = _resolve(spec, dtype)
        if kind == "raw":
            return raw.open_lazy(path, where, shape, dtype, byteorder)
        if kind == "npy":
            out = npy.open_lazy(path, where, dtype)
        else:
            out = _KEYED[kind].open_lazy(path, key, where, dtype)
    try:
        _check_shape(out.name, out.shape, shape)
    except InvalidOptionError:
        out.close()
        raise
    return out


def _wrap(obj: Any, shape: Any, dtype: np.dtype | None) -> LazyArray:
    """A LazyArray over an array object the caller keeps (and closes) itself."""
    from .._validation import as_real_array

    if isinstance(obj, LazyArray):
        if dtype is not None and dtype != obj.dtype:
            raise InvalidOptionError(f"{obj.name} is already open with dtype {obj.dtype}; open it with dtype={dtype}")
        _check_shape(obj.name, obj.shape, shape)
        return obj
    if not all(hasattr(obj, a) for a in ("shape", "dtype", "__getitem__")):
        obj = as_real_array(obj, "array")  # lists, scalars ...: validated and in memory
    from .spec import check_real

    check_real(np.dtype(obj.dtype), "the array")
    dims = getattr(obj, "dims", None)
    read = None
    if hasattr(obj, "variable") and hasattr(obj, "coords"):  # xarray.DataArray: positional, no coords
        var = obj.variable
        read = lambda key: np.asarray(var[key].values)  # noqa: E731
    elif hasattr(obj, "compute") and hasattr(obj, "chunks"):  # dask.array
        read = lambda key: np.asarray(obj[key].compute())  # noqa: E731
    if not (isinstance(dims, tuple) and all(isinstance(d, str) for d in dims)):
        dims = None
    chunks = getattr(obj, "chunks", None)
    if not (isinstance(chunks, tuple) and all(isinstance(c, (int, np.integer)) for c in chunks)):
        chunks = None  # dask's chunks are tuples of tuples; h5py / zarr give one shape
    out = LazyArray(obj, name=type(obj).__name__, dtype=dtype, chunks=chunks, dims=dims, read=read)
    _check_shape(out.name, out.shape, shape)
    return out

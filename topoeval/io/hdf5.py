"""HDF5 datasets: ``data.h5:/group/dataset`` (the only dataset of a file may be left out).

h5py is imported on first use, and with it hdf5plugin when installed (the ``hdf5`` extra), so
datasets written with Blosc/Blosc2, bitshuffle, LZ4, Zstd, BZip2, SZ/SZ3, ZFP... filters read
like any other.  netCDF-4 files are HDF5 files: :mod:`topoeval.io.netcdf` names their
variables and dimensions on top of this module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DatasetNotFoundError, FileFormatError
from .lazy import LazyArray
from .spec import check_real, choose_member, listing

_PLUGIN: list = []  # [hdf5plugin module or None] once probed


def h5py_module():
    """``h5py``, with hdf5plugin's filters registered when that package is installed."""
    import h5py

    if not _PLUGIN:
        try:
            import hdf5plugin  # noqa: F401  (registers its filters with HDF5 on import)
        except ImportError:
            hdf5plugin = None
        _PLUGIN.append(hdf5plugin)
    return h5py


def open_file(path: Path):
    h5py = h5py_module()
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        msg = str(exc)
        if "signature" in msg:
            raise FileFormatError(
                f"{path} is not an HDF5 file (no HDF5 signature); is it another format? (netCDF-3 "
                "classic files are read under a .nc name)"
            ) from None
        if "truncated" in msg:
            raise FileFormatError(f"{path} is a truncated HDF5 file ({msg}); re-create or re-copy it") from None
        raise FileFormatError(f"{path}: cannot open as HDF5 ({msg})") from None


def datasets(f) -> list[str]:
    """Absolute names of every dataset in the open file ``f``."""
    h5py = h5py_module()
    names: list[str] = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            names.append("/" + name)

    f.visititems(visit)
    return names


def read_error(where: str, exc: OSError) -> FileFormatError:
    """The FileFormatError for a read that failed: a filter plugin is missing, or the file is corrupt."""
    msg = str(exc)
    if "filter" not in msg.lower() and "plugin" not in msg.lower():
        return FileFormatError(f"{where}: cannot read the data - corrupt or truncated file ({msg})")
    if _PLUGIN and _PLUGIN[0] is not None:
        fix = (f"hdf5plugin {_PLUGIN[0].version} is installed but does not provide it; point "
               "HDF5_PLUGIN_PATH to the folder holding the filter's plugin")
    else:
        fix = ("install the plugin, e.g. `python -m pip install hdf5plugin` (the `hdf5` extra: "
               "pip install 'topoeval[hdf5]'); topoeval then loads it automatically")
    return FileFormatError(f"{where} is compressed with an HDF5 filter that is not available ({msg}); {fix}")


def find_dataset(f, path: Path, key: str | None):
    """The dataset ``key`` names in the open file (DatasetNotFoundError listing those that exist)."""
    h5py = h5py_module()
    names = datasets(f)
    key = choose_member(path, key, names, "dataset", "/path/to/dataset")
    name = "/" + key.strip("/")
    obj = f.get(name)
    if obj is None:
        raise DatasetNotFoundError(f"{path} has no dataset {name!r}; it holds: {listing(names) or 'no datasets'}")
    if isinstance(obj, h5py.Group):
        inside = [d for d in names if d.startswith(name.rstrip("/") + "/")]
        raise DatasetNotFoundError(
            f"{path}:{name} is a group, not a dataset; datasets under it: {listing(inside) or 'none'}"
        )
    check_real(obj.dtype, f"{path}:{name}")
    return obj


def load(path: Path, key: str | None) -> np.ndarray:
    with open_file(path) as f:
        obj = find_dataset(f, path, key)
        if obj.shape is None or obj.size == 0:
            return np.empty(obj.shape or (0,), dtype=obj.dtype.newbyteorder("="))
        # read straight into a native-endian array (HDF5 converts big-endian data while reading)
        out = np.empty(obj.shape, dtype=obj.dtype.newbyteorder("="))
        try:
            obj.read_direct(out)
        except OSError as exc:
            raise read_error(f"{path}:{obj.name}", exc) from None
        return out


def dimension_names(obj) -> tuple[str, ...] | None:
    """Names of the dimension scales attached to each axis (netCDF-4 dimensions), or None."""
    names = []
    try:
        for dim in obj.dims:
            label = dim.label
            if not label and len(dim):
                label = dim[0].name.rsplit("/", 1)[-1]
            names.append(label)
    except (RuntimeError, OSError, KeyError, TypeError):  # dangling or malformed references
        return None
    return tuple(names) if names and all(names) else None


def lazy_dataset(f, obj, name: str, dtype: np.dtype | None, *, dims=None) -> LazyArray:
    """A LazyArray over the dataset ``obj`` of the open file ``f`` (closed with it)."""
    where = f"{f.filename}:{obj.name}"
    native = obj.dtype.newbyteorder("=")

    def read(key):
        try:
            return obj.astype(native)[key]  # HDF5 converts the byte order while reading
        except OSError as exc:
            raise read_error(where, exc) from None

    if obj.shape is None or obj.size == 0:
        source = np.empty(obj.shape or (0,), dtype=native)
        f.close()
        return LazyArray(source, name=name, dtype=dtype)
    return LazyArray(obj, name=name, dtype=dtype, chunks=obj.chunks, read=read, close=f.close,
                     dims=dims if dims is not None else dimension_names(obj))


def open_lazy(path: Path, key: str | None, name: str, dtype: np.dtype | None) -> LazyArray:
    f = open_file(path)
    try:
        obj = find_dataset(f, path, key)
    except BaseException:
        f.close()
        raise
    return lazy_dataset(f, obj, name, dtype)


def attributes(obj) -> dict[str, str]:
    attrs = {}
    for k, v in obj.attrs.items():
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        attrs[k] = str(v)
    return attrs


def describe(path: Path, entry) -> list[dict]:
    h5py = h5py_module()
    entries = []
    with open_file(path) as f:

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                entries.append(dataset_entry(entry, f"{path}:/{name}", obj))

        f.visititems(visit)
    return entries


def dataset_entry(entry, name: str, obj, **extra) -> dict:
    """describe_file's entry for an h5py dataset (shape, dtype, chunks, filter, attributes)."""
    numeric = obj.dtype.fields is None and obj.dtype.kind in "biufc"
    return entry(
        name,
        obj.shape,
        obj.dtype if numeric else None,
        chunks=obj.chunks,
        compression=compression_name(obj),
        compression_opts=obj.compression_opts,
        attrs=attributes(obj),
        **({} if obj.dtype.kind in "biufc" else {"note": f"dtype {obj.dtype}: not numeric"}),
        **extra,
    )


#: registered HDF5 filter ids (https://github.com/HDFGroup/hdf5_plugins/blob/master/docs/RegisteredFilterPlugins.md)
#: of the filters hdf5plugin provides; files often store "unknown" as the filter's name
FILTER_NAMES = {307: "bzip2", 32001: "blosc", 32004: "lz4", 32008: "bitshuffle", 32013: "zfp", 32015: "zstd",
                32017: "sz", 32018: "fcidecomp", 32024: "sz3", 32026: "blosc2", 32028: "sperr", 32033: "htj2k"}


def compression_name(obj) -> str | None:
    """The dataset's compression: h5py's name for gzip/lzf/szip, else the filter's registered name."""
    if obj.compression not in (None, "unknown"):  # h5py says "unknown" for a plugin filter
        return obj.compression
    try:
        plist = obj.id.get_create_plist()
        names = []
        for i in range(plist.get_nfilters()):
            code, _flags, _values, fname = plist.get_filter(i)
            fname = fname.decode("ascii", "replace") if isinstance(fname, bytes) else str(fname)
            if code in (1, 2, 3, 6):  # deflate, shuffle, fletcher32, scale-offset: h5py reports those
                continue
            known = FILTER_NAMES.get(code) or (fname.split()[0] if fname.strip() else "")
            names.append(known if known and known != "unknown" else f"filter {code}")
    except (OSError, RuntimeError, ValueError):
        return None
    return "+".join(names) or None

"""netCDF files by variable name: ``file.nc:VARIABLE`` (``file.nc:group/VARIABLE`` in netCDF-4).

* netCDF-4 (and netCDF-4 classic) files are HDF5 files: read through h5py as
  :mod:`topoeval.io.hdf5` does, lazily, with the variables' dimensions named from their
  dimension scales; the dimension-only datasets netCDF-4 writes are not listed as variables.
* netCDF-3 classic and 64-bit-offset files are read with SciPy's ``netcdf_file``,
  memory-mapped (no new dependency).  CDF-5 (64-bit data) files are refused with the
  ``nccopy`` command that converts them.

The variable may be left out when the file holds one data variable (coordinate variables,
named like their only dimension, do not count).  Values are the stored ones: packed
variables (``scale_factor`` / ``add_offset``) are not unpacked, ``_FillValue`` cells are not
masked (``topoeval info`` notes both).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DatasetNotFoundError, FileFormatError
from . import hdf5
from .lazy import LazyArray
from .spec import check_real, listing

#: attributes netCDF-4 and HDF5 dimension scales use for bookkeeping (not shown)
_HIDDEN = {"_Netcdf4Coordinates", "_Netcdf4Dimid", "DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME",
           "_nc3_strict", "_NCProperties"}
_PACKING = ("scale_factor", "add_offset")


def flavour(path: Path) -> str:
    """``"netcdf3"``, ``"netcdf4"`` (HDF5) or ``"cdf5"``, from the file's first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head[:4] in (b"CDF\x01", b"CDF\x02"):
        return "netcdf3"
    if head[:4] == b"CDF\x05":
        return "cdf5"
    return "netcdf4"  # HDF5 (h5py finds a signature after a user block too, and explains the rest)


def _refuse_cdf5(path: Path):
    raise FileFormatError(
        f"{path} is a CDF-5 (64-bit data) netCDF file, which SciPy cannot read; convert it with "
        f"`nccopy -k nc4 {path} out.nc` (netCDF-4) and read out.nc"
    )


def _describe_var(name: str, dims) -> str:
    return f"{name} ({', '.join(dims)})" if dims else name


def _choose(path: Path, key: str | None, variables: dict[str, tuple[str, ...]]) -> str:
    """The variable ``key`` names, or the only data variable (DatasetNotFoundError listing them)."""
    shown = [_describe_var(n, d) for n, d in variables.items()]
    if key is None:
        data = [n for n, d in variables.items() if not (len(d) == 1 and d[0] == n.rsplit("/", 1)[-1])]
        candidates = data or list(variables)
        if len(candidates) == 1:
            return candidates[0]
        if not variables:
            raise DatasetNotFoundError(f"{path} is a netCDF file that holds no variables")
        raise DatasetNotFoundError(
            f"{path} holds {len(candidates)} data variables ({listing(shown)}); name one as {path}:VARIABLE"
        )
    name = key.strip("/")
    if name not in variables:
        raise DatasetNotFoundError(
            f"{path} has no variable {name!r}; its variables: {listing(shown) or 'none'} (write {path}:VARIABLE)"
        )
    return name


# --------------------------------------------------------------------------- netCDF-3 (SciPy)


def _open3(path: Path):
    from scipy.io import netcdf_file

    try:
        return netcdf_file(path, "r", mmap=True, maskandscale=False)
    except (TypeError, ValueError, OSError, EOFError, IndexError) as exc:
        raise FileFormatError(f"{path} is not a readable netCDF-3 classic file (corrupt or truncated: {exc})") from None


def _variables3(f) -> dict[str, tuple[str, ...]]:
    return {name: tuple(var.dimensions) for name, var in f.variables.items()}


def _open_var3(path: Path, key: str | None):
    f = _open3(path)
    try:
        variables = _variables3(f)
        if not variables:
            raise DatasetNotFoundError(f"{path} is a netCDF-3 classic file that holds no variables")
        name = _choose(path, key, variables)
        var = f.variables[name]
        check_real(var.data.dtype, f"{path}:{name}")
    except BaseException:
        f.close()
        raise
    return f, name, var


def _lazy3(path: Path, key: str | None, spec: str, dtype: np.dtype | None) -> LazyArray:
    f, name, var = _open_var3(path, key)
    holder = {"data": var.data}

    def read(k):
        return np.array(holder["data"][k])  # a copy: nothing may point into the map when it closes

    def close():
        holder.clear()  # drop the mapped array first, so that SciPy can unmap the file
        f.variables.clear()
        f.close()

    return LazyArray(holder["data"], name=spec, dtype=dtype, dims=var.dimensions, read=read, close=close,
                     in_memory=False)


# --------------------------------------------------------------------------- netCDF-4 (h5py)


def _variables4(f) -> dict[str, tuple[str, ...]]:
    h5py = hdf5.h5py_module()
    out: dict[str, tuple[str, ...]] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and not _dimension_only(obj):
            out[name] = _dims4(obj) or ()

    f.visititems(visit)
    return out


def _dimension_only(obj) -> bool:
    label = obj.attrs.get("NAME", b"")
    label = label.decode("ascii", "replace") if isinstance(label, bytes) else str(label)
    return label.startswith("This is a netCDF dimension but not a netCDF variable")


def _dims4(obj) -> tuple[str, ...] | None:
    if obj.attrs.get("CLASS", b"") == b"DIMENSION_SCALE":  # a coordinate variable: its own dimension
        return (obj.name.rsplit("/", 1)[-1],)
    return hdf5.dimension_names(obj)


def _lazy4(path: Path, key: str | None, spec: str, dtype: np.dtype | None) -> LazyArray:
    f = hdf5.open_file(path)
    try:
        name = _choose(path, key, _variables4(f))
        obj = f[name]
        check_real(obj.dtype, f"{path}:{name}")
    except BaseException:
        f.close()
        raise
    return hdf5.lazy_dataset(f, obj, spec, dtype, dims=_dims4(obj))


# --------------------------------------------------------------------------- the reader


def open_lazy(path: Path, key: str | None, name: str, dtype: np.dtype | None) -> LazyArray:
    kind = flavour(path)
    if kind == "cdf5":
        _refuse_cdf5(path)
    return (_lazy3 if kind == "netcdf3" else _lazy4)(path, key, name, dtype)


def load(path: Path, key: str | None) -> np.ndarray:
    with open_lazy(path, key, os.fspath(path), None) as a:
        return np.ascontiguousarray(a.read())


def _notes(attrs: dict[str, str]) -> dict:
    packed = [k for k in _PACKING if k in attrs]
    if not packed:
        return {}
    return {"note": f"packed ({', '.join(packed)}): topoeval compares the stored values, not unpacked ones"}


def describe(path: Path, entry) -> tuple[str, list[dict]]:
    """(``"netcdf3"`` / ``"netcdf4"``, the variables' entries with their dimension names)."""
    kind = flavour(path)
    if kind == "cdf5":
        _refuse_cdf5(path)
    out = []
    if kind == "netcdf3":
        f = _open3(path)
        try:
            for name, var in f.variables.items():
                attrs = {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
                         for k, v in var._attributes.items()}
                dt = var.data.dtype
                out.append(entry(f"{path}:{name}", var.data.shape, dt if dt.kind in "biuf" else None,
                                 attrs=attrs, dims=tuple(var.dimensions), **_notes(attrs)))
            del var  # no reference into the map may outlive it
        finally:
            f.variables.clear()
            f.close()
        return kind, out
    with hdf5.open_file(path) as f:
        for name in _variables4(f):
            obj = f[name]
            ent = hdf5.dataset_entry(entry, f"{path}:{name}", obj, dims=_dims4(obj))
            ent["attrs"] = {k: v for k, v in ent["attrs"].items() if k not in _HIDDEN}
            ent.update(_notes(ent["attrs"]))
            out.append(ent)
    return kind, out

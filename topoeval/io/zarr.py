"""Zarr stores (format 2 and 3): ``store.zarr`` (an array at the root) or ``store.zarr:/group/array``.

Needs the optional ``zarr`` package (the ``zarr`` extra).  Arrays are opened lazily: a
:class:`~topoeval.io.LazyArray` over the Zarr array reads only the chunks a slice touches.
Dimension names come from Zarr 3's ``dimension_names`` or, for format 2, from xarray's
``_ARRAY_DIMENSIONS`` attribute.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DatasetNotFoundError, FileFormatError, MissingDependencyError, missing_dependency
from .lazy import LazyArray
from .spec import check_real, choose_member, listing

#: files that mark a folder as a Zarr store (format 3, format 2 group / array)
MARKERS = ("zarr.json", ".zgroup", ".zarray")


def _zarr():
    try:
        import zarr
    except ImportError:
        raise missing_dependency("zarr", "zarr", "reading Zarr stores") from None
    except ValueError as exc:  # numcodecs' zfpy shim parses zfpy's version with int(): '1.0.1.post0' breaks it
        raise MissingDependencyError(
            f"reading Zarr stores needs zarr, whose import failed in numcodecs ({exc}); with zfpy 1.0.1.post0 "
            "numcodecs <= 0.16.6 cannot import - install another zfpy: python -m pip install 'zfpy!=1.0.1.post0'"
        ) from None
    return zarr


def open_store(path: Path):
    """The store's root node (a Zarr group or array), read-only."""
    zarr = _zarr()
    if not any((path / m).is_file() for m in MARKERS):
        raise FileFormatError(
            f"{path} is not a Zarr store (no zarr.json, .zgroup or .zarray at its root); name the store's "
            "top folder"
        )
    try:
        return zarr.open(store=os.fspath(path), mode="r")
    except Exception as exc:  # noqa: BLE001 - zarr raises many kinds for bad metadata
        raise FileFormatError(f"{path}: cannot open as a Zarr store ({type(exc).__name__}: {exc})") from None


def _is_group(node) -> bool:
    return hasattr(node, "groups") and hasattr(node, "arrays")


def arrays(node, prefix: str = "") -> list[tuple[str, object]]:
    """(absolute name, array) of every array under ``node``, sorted by name."""
    if not _is_group(node):
        return [("/", node)] if not prefix else []
    out = [(f"{prefix}/{name}", arr) for name, arr in node.arrays()]
    for name, group in node.groups():
        out.extend(arrays(group, f"{prefix}/{name}"))
    return sorted(out, key=lambda t: t[0])


def find_array(root, path: Path, key: str | None):
    """The array ``key`` names (DatasetNotFoundError listing the arrays when it is missing or a group)."""
    if not _is_group(root):
        if key not in (None, "", "/"):
            raise DatasetNotFoundError(f"{path} is a single Zarr array, not a group; drop ':{key}'")
        check_real(np.dtype(root.dtype), str(path))
        return "/", root
    found = arrays(root)
    names = [name for name, _ in found]
    name = "/" + choose_member(path, key, names, "array", "/group/array").strip("/")
    try:
        node = root[name.strip("/")] if name != "/" else root
    except KeyError:
        raise DatasetNotFoundError(f"{path} has no array {name!r}; it holds: {listing(names) or 'no arrays'}") from None
    if _is_group(node):
        inside = [n for n in names if n.startswith(name.rstrip("/") + "/")]
        raise DatasetNotFoundError(
            f"{path}:{name} is a Zarr group, not an array; arrays under it: {listing(inside) or 'none'} "
            f"(write {path}:{(inside or [name + '/ARRAY'])[0]})"
        )
    check_real(np.dtype(node.dtype), f"{path}:{name}")
    return name, node


def dimension_names(arr) -> tuple[str, ...] | None:
    meta = getattr(arr, "metadata", None)
    names = getattr(meta, "dimension_names", None)
    if names is None:
        names = arr.attrs.get("_ARRAY_DIMENSIONS")  # xarray's convention for Zarr format 2
    if not names or any(n is None for n in names) or len(names) != len(arr.shape):
        return None
    return tuple(str(n) for n in names)


def _reader(where: str, arr):
    def read(key):
        try:
            return arr[key]
        except (ValueError, TypeError, IndexError):
            raise
        except Exception as exc:  # noqa: BLE001 - a codec that is missing or corrupt chunk data
            raise FileFormatError(
                f"{where}: cannot read the data ({type(exc).__name__}: {exc}); a chunk is corrupt or its "
                "codec is not installed (e.g. python -m pip install numcodecs zfpy)"
            ) from None

    return read


def open_lazy(path: Path, key: str | None, name: str, dtype: np.dtype | None) -> LazyArray:
    inner, arr = find_array(open_store(path), path, key)
    where = os.fspath(path) if inner == "/" else f"{path}:{inner}"
    return LazyArray(arr, name=name, dtype=dtype, chunks=getattr(arr, "chunks", None),
                     dims=dimension_names(arr), read=_reader(where, arr))


def load(path: Path, key: str | None) -> np.ndarray:
    with open_lazy(path, key, os.fspath(path), None) as a:
        return a.read()


def compression(arr) -> str | None:
    """The codecs of an array as one short string (``zstd``, ``blosc(lz4)+shuffle``...)."""
    codecs = list(getattr(arr, "filters", None) or ())
    comp = getattr(arr, "compressors", None)
    if comp is None:  # zarr-python 2
        comp = [arr.compressor] if getattr(arr, "compressor", None) is not None else []
    codecs.extend(comp or ())
    names = []
    for c in codecs:
        text = getattr(c, "codec_id", None) or type(c).__name__.removesuffix("Codec").lower()
        cname = getattr(c, "cname", None)
        if cname is not None:
            text += f"({getattr(cname, 'value', cname)})"
        names.append(str(text))
    return "+".join(names) or None


def describe(path: Path, entry) -> list[dict]:
    root = open_store(path)
    out = []
    for inner, arr in arrays(root):
        dt = np.dtype(arr.dtype)
        attrs = {k: str(v) for k, v in dict(arr.attrs).items() if k != "_ARRAY_DIMENSIONS"}
        dims = dimension_names(arr)
        extra = {} if dt.kind in "biuf" else {"note": f"dtype {dt}: not numeric"}
        out.append(entry(os.fspath(path) if inner == "/" else f"{path}:{inner}", arr.shape, dt,
                         chunks=getattr(arr, "chunks", None), compression=compression(arr), attrs=attrs,
                         dims=dims, zarr_format=getattr(getattr(arr, "metadata", None), "zarr_format", None),
                         **extra))
    return out

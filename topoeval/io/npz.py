"""``.npz`` archives: ``arrays.npz:key`` (the key may be left out when the archive holds one array).

Members stored uncompressed (``np.savez``) are memory-mapped straight from the archive by
:func:`open_lazy`; a deflated member (``np.savez_compressed``) cannot be read in parts and is
inflated into memory.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DatasetNotFoundError, FileFormatError
from .lazy import LazyArray
from .npy import read_header
from .spec import check_real, listing


def _archive(path: Path):
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise FileFormatError(f"{path} is not a readable .npz archive (corrupt or truncated: {exc})") from None
    if not hasattr(archive, "files"):  # np.load recognised a plain .npy file by its magic bytes
        raise FileFormatError(f"{path} is a .npy file with a .npz name; rename it to .npy")
    return archive


def _member(path: Path, key: str | None, keys: list[str]) -> str:
    if key is None:
        if len(keys) != 1:
            raise DatasetNotFoundError(
                f"{path} holds {len(keys)} arrays ({listing(keys)}); name one as {path}:KEY"
                if keys
                else f"{path} is an empty .npz archive (no arrays)"
            )
        return keys[0]
    if key not in keys:
        raise DatasetNotFoundError(f"{path} has no array {key!r}; it holds: {listing(keys)} (write {path}:KEY)")
    return key


def load(path: Path, key: str | None) -> np.ndarray:
    with _archive(path) as archive:
        key = _member(path, key, list(archive.files))
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
    check_real(arr.dtype, f"{path}:{key}")
    return arr


def _stored_offset(path: Path, info: zipfile.ZipInfo) -> int | None:
    """File offset of an uncompressed member's bytes (None when deflated or unreadable)."""
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:  # deflated / encrypted
        return None
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        return None
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_len + extra_len


def open_lazy(path: Path, key: str | None, name: str, dtype: np.dtype | None) -> LazyArray:
    """Memory-map an uncompressed member; inflate a compressed one into memory."""
    with _archive(path) as archive:
        key = _member(path, key, list(archive.files))
    where = f"{path}:{key}"
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(f"{key}.npy")
            with zf.open(info) as fh:
                shape, stored, fortran, header = read_header(fh, where)
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as exc:
        raise FileFormatError(f"{where} is corrupt or truncated ({type(exc).__name__}: {exc})") from None
    check_real(stored, where)
    start = _stored_offset(path, info)
    size = int(np.prod(shape, dtype=np.int64)) * stored.itemsize
    if start is None or size == 0 or start + header + size > path.stat().st_size:
        return LazyArray(load(path, key), name=name, dtype=dtype)
    order = "F" if fortran else "C"
    mm = np.memmap(path, dtype=stored, mode="r", offset=start + header, shape=shape, order=order)
    return LazyArray(mm, name=name, dtype=dtype)


def describe(path: Path, entry) -> list[dict]:
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
                    shp, dt, fortran, _ = read_header(fh, f"{path}:{key}")
                entries.append(entry(f"{path}:{key}", shp, dt, compression="deflate"
                                     if info.compress_type == zipfile.ZIP_DEFLATED else None))
            except FileFormatError as exc:
                entries.append(entry(f"{path}:{key}", None, None, note=str(exc)))
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise FileFormatError(f"{path} is corrupt ({exc})") from None
    return entries

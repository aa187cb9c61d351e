"""Read blocks of an input in the block engine's working coordinates, without loading it whole.

An input is anything with ``shape``, ``dtype`` and ``__getitem__`` (a tuple of slices): a
NumPy array or memmap, an h5py Dataset, a zarr Array, a dask array (its chunks are the
natural blocks), :class:`topoeval.io.LazyArray`.  :class:`BlockReader` is a small picklable
description of how to read one box: Dask ships it to the workers, which read their own slab.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidDTypeError, InvalidInputError
from .layout import _squeezed_shape

__all__: list[str] = []


def is_dask_array(a: Any) -> bool:
    return type(a).__module__.startswith("dask.") and hasattr(a, "chunks") and hasattr(a, "to_delayed")


def is_lazy(a: Any) -> bool:
    """Inputs the block engine reads a block at a time (not NumPy arrays: those are in memory)."""
    if isinstance(a, np.ndarray):
        return isinstance(a, np.memmap)
    return hasattr(a, "shape") and hasattr(a, "dtype") and _np_dtype(a) is not None


def _np_dtype(a):
    try:
        return np.dtype(a.dtype)
    except TypeError:
        return None


def check_lazy(a: Any, name: str = "array") -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a lazy input, with the checks of ``as_real_array``."""
    dt = _np_dtype(a)
    shape = tuple(int(s) for s in a.shape)
    if not callable(getattr(a, "__getitem__", None)):
        raise InvalidInputError(
            f"{name} ({type(a).__name__}) has a shape and dtype but cannot be sliced, so it cannot "
            "be read a block at a time; pass np.asarray(...) of it if it fits in memory, or open "
            "it with topoeval.io.open_array"
        )
    if dt.kind == "c":
        raise InvalidDTypeError(f"{name} is complex ({dt}); pass its real part, imaginary part or modulus")
    if dt.kind not in "biuf":
        raise InvalidDTypeError(
            f"{name} has dtype {dt}, which is not a real number type; pass bool, integers or floats"
        )
    if len(shape) < 1:
        raise InvalidInputError(f"{name} is 0-dimensional; pass an array with at least 1 dimension")
    if int(np.prod(shape, dtype=np.int64)) == 0:
        raise InvalidInputError(f"{name} is empty (shape {shape}); pass an array with at least one value")
    return shape, dt


def kernel_dtype(dt: np.dtype) -> np.dtype:
    """The dtype a block is handed to the Numba kernels in (native order, no float16/bool)."""
    dt = np.dtype(dt).newbyteorder("=")
    if dt == np.float16:
        return np.dtype(np.float32)
    if dt == np.bool_:
        return np.dtype(np.uint8)
    return dt


class BlockReader:
    """Reads boxes of the working array (squeezed; flipped on every axis when ``flip``).

    ``source`` is the array; for Dask workers a :class:`FileOpener` (a task opens the file
    itself instead of receiving the data).
    """

    def __init__(self, source: Any, shape: tuple[int, ...], flip: bool) -> None:
        self.source = source
        self.shape = tuple(int(s) for s in shape)
        self.core = _squeezed_shape(self.shape)
        self.axes = [i for i, s in enumerate(self.shape) if s > 1] or [len(self.shape) - 1]
        self.flip = bool(flip)

    def slices(self, lo, hi) -> tuple[slice, ...]:
        """The slices of the original array that hold the working box ``[lo, hi)``."""
        sl = [slice(0, 1)] * len(self.shape)
        for j, ax in enumerate(self.axes):
            n = self.core[j]
            a, b = (n - hi[j], n - lo[j]) if self.flip else (lo[j], hi[j])
            sl[ax] = slice(int(a), int(b))
        return tuple(sl)

    def read(self, lo, hi) -> np.ndarray:
        """C-contiguous block of shape ``hi - lo`` in a dtype the kernels read."""
        block = np.asarray(self.source[self.slices(lo, hi)])
        block = block.reshape(tuple(int(b) - int(a) for a, b in zip(lo, hi)))
        if self.flip:
            block = block[(slice(None, None, -1),) * block.ndim]
        return np.ascontiguousarray(block, dtype=kernel_dtype(block.dtype))

    def first_nonfinite(self, lo, hi):
        """Original multi-index and value of the first non-finite cell of the box (or None)."""
        block = self.read(lo, hi)
        bad = ~np.isfinite(block) if block.dtype.kind == "f" else None
        if bad is None or not bad.any():
            return None
        pos = np.argwhere(bad)
        # the first in the caller's C order: the last in working order when flipped
        x = pos[-1] if self.flip else pos[0]
        value = block[tuple(x)]
        full = [0] * len(self.shape)
        for j, ax in enumerate(self.axes):
            w = int(lo[j] + x[j])
            full[ax] = self.core[j] - 1 - w if self.flip else w
        return tuple(full), value, int(bad.sum())


class FileOpener:
    """A file input as a picklable lazy array: each process opens it on first use.

    ``spec`` and the keywords are those of :func:`topoeval.io.open_array` (``"f.h5:/orig"``,
    ``"f.npy"``, a raw file with ``shape``/``dtype``).  Pickling keeps only the description,
    so a Dask task reads its own slab from the shared file.
    """

    def __init__(self, spec: str, **open_kw: Any) -> None:
        self.spec, self.open_kw = spec, open_kw
        self._arr = None
        a = self._open()
        self.shape, self.dtype = tuple(a.shape), np.dtype(a.dtype)
        self.chunks = getattr(a, "chunks", None)

    def _open(self):
        if self._arr is None:
            from ..io import open_array

            self._arr = open_array(self.spec, **self.open_kw)
        return self._arr

    def __getitem__(self, key):
        return self._open()[key]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_arr"] = None
        return state

    def close(self) -> None:
        if self._arr is not None:
            self._arr.close()
            self._arr = None

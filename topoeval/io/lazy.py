"""LazyArray: an array left on disk, read a block at a time (what :func:`topoeval.open_array` returns)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import TopoevalIOError


class LazyArray:
    """A read-only array that stays in its file until sliced.

    Wraps a memory map (``.npy``, raw binary), an HDF5 / netCDF-4 dataset whose file stays
    open, a Zarr array, or (for sources that cannot be read in parts: standard input, a
    deflated ``.npz`` member) an array in memory.  Slicing reads only the cells asked for
    and returns a NumPy array in native byte order and the requested ``dtype``.

    Attributes
    ----------
    name : str
        The input specification it was opened from.
    shape : tuple of int
    dtype : numpy.dtype
        The dtype slices come back in (native byte order).
    ndim, size, nbytes : int
        As for a NumPy array (``nbytes`` of the whole array in ``dtype``).
    chunks : tuple of int or None
        The storage chunk shape (HDF5, Zarr, netCDF-4), None when contiguous: read blocks
        aligned with it.
    dims : tuple of str or None
        Dimension names (netCDF, Zarr v3 ``dimension_names``, xarray's Zarr attributes).
    in_memory : bool
        True when the whole array is already in memory (no lazy reading was possible).

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from topoeval import open_array
    >>> p = os.path.join(tempfile.mkdtemp(), "u.npy")
    >>> np.save(p, np.arange(12.0).reshape(3, 4))
    >>> with open_array(p) as a:
    ...     a.shape, a.dtype, a[1:, ::2]
    ((3, 4), dtype('float64'), array([[ 4.,  6.],
           [ 8., 10.]]))
    """

    def __init__(
        self,
        source: Any,
        *,
        name: str,
        dtype: np.dtype | None = None,
        chunks: tuple[int, ...] | None = None,
        dims: tuple[str, ...] | None = None,
        read: Callable[[Any], np.ndarray] | None = None,
        close: Callable[[], None] | None = None,
        in_memory: bool | None = None,
    ):
        self._source = source
        self._read = read if read is not None else source.__getitem__
        self._close = close
        self._closed = False
        self.name = name
        self.shape = tuple(int(s) for s in source.shape)
        stored = np.dtype(source.dtype)
        self.dtype = np.dtype(dtype) if dtype is not None else stored.newbyteorder("=")
        self.chunks = None if chunks is None else tuple(int(c) for c in chunks)
        self.dims = None if dims is None else tuple(str(d) for d in dims)
        self.in_memory = type(source) is np.ndarray if in_memory is None else bool(in_memory)

    # ------------------------------------------------------------------ array-like
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        """Read ``self[key]`` (basic indexing: ints, slices, ``...``) from the file."""
        if self._closed:
            raise TopoevalIOError(f"{self.name} is closed; open it again with topoeval.open_array")
        out = self._read(key)
        if isinstance(out, np.ndarray):
            # a memory-mapped view stays a view when no conversion is needed (read-only)
            if out.dtype == self.dtype:
                return out if type(out) is np.ndarray else out.view(np.ndarray)
            return out.astype(self.dtype)
        return np.asarray(out, dtype=self.dtype)  # a scalar from an integer index

    def read(self) -> np.ndarray:
        """The whole array in memory (``self[...]``)."""
        return self[...] if self.shape else self[()]

    def __array__(self, dtype=None, copy=None):
        out = self.read()
        return out if dtype is None else out.astype(dtype, copy=False)

    # ------------------------------------------------------------------ resources
    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release the file (idempotent).  Slices already read stay valid."""
        if self._closed:
            return
        self._closed = True
        self._source = self._read = None
        if self._close is not None:
            close, self._close = self._close, None
            close()

    def __enter__(self) -> LazyArray:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass

    def __repr__(self) -> str:
        state = "closed" if self._closed else "in memory" if self.in_memory else "on disk"
        dims = "" if self.dims is None else f", dims={self.dims}"
        return f"<LazyArray {self.name!r} shape={self.shape} dtype={self.dtype}{dims} ({state})>"


"""Lossy compressors behind one small protocol: SZ3, ZFP and two simple quantizers.

Every compressor has a ``name``, a ``bound_kind`` (``"abs"``: ``bound`` is an
absolute pointwise error bound; ``"rate"``: ``bound`` is a bit rate in bits per
value, with no error guarantee), and two methods::

    data = comp.compress(array, bound)           # -> bytes
    recon = comp.decompress(data, shape, dtype)  # -> np.ndarray of that shape and dtype

plus the convenience :meth:`roundtrip` (compress then decompress, returning the
reconstruction and the compressed size).

=============  ==========  ===================================================================
name           bound_kind  what it is
=============  ==========  ===================================================================
``sz3``        abs         SZ3 (PyPI ``pysz``), absolute error-bound mode
``zfp``        abs         ZFP (PyPI ``zfpy``), fixed-accuracy mode (``tolerance=bound``)
``zfp-rate``   rate        ZFP fixed-rate mode (``rate=bound`` bits per value)
``quantize``   abs         round to a power-of-two grid of step <= 2*bound, then zlib
``bitround``   abs         round float mantissas to the fewest bits keeping the bound, then zlib
=============  ==========  ===================================================================

``sz3``, ``zfp`` and ``zfp-rate`` need the optional ``compressors`` extra
(``pip install 'topoeval[compressors]'``); the packages are imported only when
a compressor is used.  ``quantize`` and ``bitround`` are NumPy-only
re-implementations of numcodecs' ``Quantize`` and ``BitRound`` filters
(power-of-two scale; round-half-to-even of the mantissa bits), bit-for-bit equal
to them for the same scale / kept bits (tests/test_compressors.py), driven by an
absolute bound and followed by zlib.  (numcodecs itself is not imported: it fails
to import next to zfpy releases with a version such as ``1.0.1.post0``.)

Inputs must be finite float32/float64 arrays with 1 to 4 dimensions (the limit of
SZ3 and ZFP; the quantizers accept any number of dimensions).

Examples
--------
>>> import numpy as np
>>> from topoeval.compressors import get_compressor
>>> a = np.linspace(0.0, 1.0, 101, dtype=np.float32)
>>> q = get_compressor("quantize")
>>> recon, nbytes = q.roundtrip(a, 1e-2)
>>> bool(np.abs(recon - a).max() <= 1e-2), recon.dtype, recon.shape
(True, dtype('float32'), (101,))
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import zlib
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ._validation import as_real_array, check_finite, check_positive
from .errors import InvalidDTypeError, InvalidInputError, InvalidOptionError, missing_dependency

__all__ = ["Compressor", "get_compressor", "available_compressors"]


@runtime_checkable
class Compressor(Protocol):
    """The protocol every compressor follows.

    Attributes
    ----------
    name : str
        The name :func:`get_compressor` knows it by.
    bound_kind : str
        ``"abs"`` when ``bound`` is an absolute error bound, ``"rate"`` when it is
        a bit rate (bits per value).
    """

    name: str
    bound_kind: str

    def compress(self, array: np.ndarray, bound: float) -> bytes:
        """Compress ``array`` (float32/float64, shape (n0, ..., nk)) under ``bound``."""
        ...

    def decompress(self, data: bytes, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """Rebuild the array of ``shape`` and ``dtype`` from ``data``."""
        ...


_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _import(module: str, what: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise missing_dependency(module, "compressors", what) from None


class _Base:
    name = ""
    bound_kind = "abs"
    max_ndim: int | None = 4

    def __repr__(self) -> str:
        return f"<topoeval compressor {self.name!r} (bound: {self._bound_text()})>"

    def _bound_text(self) -> str:
        return "bit rate, bits per value" if self.bound_kind == "rate" else "absolute error bound"

    # -- validation shared by every compressor -------------------------------------------------
    def _prepare(self, array: Any, bound: Any) -> tuple[np.ndarray, float]:
        arr = as_real_array(array, "array")
        if arr.dtype not in _FLOAT_DTYPES:
            raise InvalidDTypeError(
                f"the {self.name} compressor needs float32 or float64 data, got {arr.dtype}; "
                "convert it first, e.g. array.astype(np.float32)"
            )
        if self.max_ndim is not None and arr.ndim > self.max_ndim:
            raise InvalidInputError(
                f"the {self.name} compressor handles 1 to {self.max_ndim} dimensions, got an array of "
                f"shape {arr.shape}; compress it in slices along the leading axis"
            )
        check_finite(arr, "array", hint=f" before compressing it with {self.name}")
        b = check_positive(bound, "bound")
        return np.ascontiguousarray(arr), b

    @staticmethod
    def _target(shape: Any, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
        try:
            shape = tuple(int(s) for s in shape)
        except TypeError:
            raise InvalidOptionError(f"shape={shape!r} is not a tuple of integers") from None
        dt = np.dtype(dtype)
        if dt not in _FLOAT_DTYPES:
            raise InvalidDTypeError(f"dtype={dt} is not float32 or float64")
        return shape, dt

    def roundtrip(self, array: Any, bound: float) -> tuple[np.ndarray, int]:
        """Compress then decompress ``array``.

        Parameters
        ----------
        array : ndarray, float32 or float64, shape (n0, ..., nk)
        bound : float
            Absolute error bound (or bit rate for ``zfp-rate``).

        Returns
        -------
        recon : ndarray, same shape and dtype as ``array``
        nbytes : int
            Size of the compressed stream in bytes.
        """
        arr = as_real_array(array, "array")
        data = self.compress(arr, bound)
        return self.decompress(data, arr.shape, arr.dtype), len(data)


class _SZ3(_Base):
    name = "sz3"

    def compress(self, array, bound):
        arr, b = self._prepare(array, bound)
        pysz = _import("pysz", "the SZ3 compressor")
        config = pysz.szConfig(arr.shape)
        config.errorBoundMode = pysz.szErrorBoundMode.ABS
        config.absErrorBound = b
        compressed, _ratio = pysz.sz.compress(arr, config)
        return bytes(compressed)

    def decompress(self, data, shape, dtype):
        shape, dt = self._target(shape, dtype)
        pysz = _import("pysz", "the SZ3 compressor")
        out, _config = pysz.sz.decompress(np.frombuffer(data, dtype=np.uint8), dt.type, shape)
        return np.asarray(out, dtype=dt).reshape(shape)


class _ZFP(_Base):
    name = "zfp"

    def _compress(self, zfpy, arr, b):
        return zfpy.compress_numpy(arr, tolerance=b)

    def compress(self, array, bound):
        arr, b = self._prepare(array, bound)
        zfpy = _import("zfpy", f"the {self.name} compressor")
        return bytes(self._compress(zfpy, arr, b))

    def decompress(self, data, shape, dtype):
        shape, dt = self._target(shape, dtype)
        zfpy = _import("zfpy", f"the {self.name} compressor")
        out = zfpy.decompress_numpy(bytes(data))
        if out.size != math.prod(shape):
            raise InvalidInputError(
                f"the ZFP stream holds {out.size} values but shape {shape} needs {math.prod(shape)}; "
                "pass the shape of the array that was compressed"
            )
        return np.asarray(out, dtype=dt).reshape(shape)


class _ZFPRate(_ZFP):
    name = "zfp-rate"
    bound_kind = "rate"

    def _compress(self, zfpy, arr, b):
        # Below one exponent header (1 + 8 bits for float32, 1 + 11 for float64) per block of
        # 4**d values ZFP's fixed-rate mode corrupts memory (the process dies) or ignores the rate.
        header = 9 if arr.dtype == np.float32 else 12
        minimum = header / 4**arr.ndim
        if b < minimum:
            raise InvalidOptionError(
                f"zfp-rate needs a rate of at least {minimum:g} bits per value for a {arr.ndim}-D "
                f"{arr.dtype} array (each block of {4**arr.ndim} values holds a {header}-bit header), "
                f"got {b:g}; ZFP crashes or ignores the rate below that - pass a larger rate"
            )
        return zfpy.compress_numpy(arr, rate=b)


class _Quantize(_Base):
    """Round to multiples of 2**-bits with 2**-(bits+1) <= bound (exact in floating point)."""

    name = "quantize"
    max_ndim = None

    @staticmethod
    def _scale(b: float) -> float:
        bits = math.ceil(math.log2(0.5 / b))
        return math.ldexp(1.0, bits)

    def compress(self, array, bound):
        arr, b = self._prepare(array, bound)
        scale = arr.dtype.type(self._scale(b))
        # x * 2**k, round and / 2**k are exact (no overflow for finite data of sane range)
        with np.errstate(over="ignore"):
            q = np.round(arr * scale) / scale
        bad = ~np.isfinite(q)
        q[bad] = arr[bad]  # overflow of x * scale: keep the value itself (error 0)
        return zlib.compress(q.tobytes(), 6)

    def decompress(self, data, shape, dtype):
        shape, dt = self._target(shape, dtype)
        return np.frombuffer(zlib.decompress(data), dtype=dt).reshape(shape).copy()


class _BitRound(_Base):
    """Keep the fewest mantissa bits so that max|x| * 2**-(keepbits+1) <= bound."""

    name = "bitround"
    max_ndim = None

    def compress(self, array, bound):
        arr, b = self._prepare(array, bound)
        mbits = 23 if arr.dtype == np.float32 else 52
        itype = np.uint32 if arr.dtype == np.float32 else np.uint64
        amax = float(np.abs(arr).max())
        if amax == 0.0:
            keep = 0
        else:
            keep = min(mbits, max(0, math.ceil(math.log2(amax / b)) - 1))
        out = arr.copy()
        if keep < mbits:
            bits = out.view(itype)
            drop = itype(mbits - keep)
            one = itype(1)
            mask = ~((one << drop) - one)
            half = (one << (drop - one)) - one
            bits += ((bits >> drop) & one) + half  # round half to even on the kept bits
            bits &= mask
        return zlib.compress(out.tobytes(), 6)

    def decompress(self, data, shape, dtype):
        shape, dt = self._target(shape, dtype)
        return np.frombuffer(zlib.decompress(data), dtype=dt).reshape(shape).copy()


_REGISTRY = {
    "sz3": (_SZ3, "pysz"),
    "zfp": (_ZFP, "zfpy"),
    "zfp-rate": (_ZFPRate, "zfpy"),
    "quantize": (_Quantize, None),
    "bitround": (_BitRound, None),
}


def get_compressor(name: str) -> Compressor:
    """Return the compressor called ``name``.

    Parameters
    ----------
    name : {"sz3", "zfp", "zfp-rate", "quantize", "bitround"}

    Returns
    -------
    Compressor
        An object with ``name``, ``bound_kind``, ``compress(array, bound) -> bytes``,
        ``decompress(data, shape, dtype) -> ndarray`` and ``roundtrip(array, bound)``.

    Raises
    ------
    InvalidOptionError
        Unknown name.
    MissingDependencyError
        ``pysz`` (sz3) or ``zfpy`` (zfp, zfp-rate) is not installed; install the
        ``compressors`` extra.

    Examples
    --------
    >>> import numpy as np
    >>> from topoeval.compressors import get_compressor
    >>> c = get_compressor("bitround")
    >>> a = np.array([1.0, 2.5, -3.75], dtype=np.float64)
    >>> recon = c.decompress(c.compress(a, 0.1), a.shape, a.dtype)
    >>> bool(np.abs(recon - a).max() <= 0.1)
    True
    """
    if not isinstance(name, str) or name.lower() not in _REGISTRY:
        raise InvalidOptionError(
            f"unknown compressor {name!r}; use one of: {', '.join(map(repr, _REGISTRY))}"
        )
    cls, module = _REGISTRY[name.lower()]
    if module is not None:
        _import(module, f"the {cls.name} compressor")
    return cls()


def available_compressors() -> list[str]:
    """Names of the compressors usable in this environment (their packages import).

    Returns
    -------
    list of str
        A subset of ``["sz3", "zfp", "zfp-rate", "quantize", "bitround"]``, in that order.

    Examples
    --------
    >>> from topoeval.compressors import available_compressors
    >>> {"quantize", "bitround"} <= set(available_compressors())
    True
    """
    names = []
    for name, (_cls, module) in _REGISTRY.items():
        if module is None or importlib.util.find_spec(module) is not None:
            names.append(name)
    return names

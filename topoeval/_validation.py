"""Input checks shared by the public functions.

Public functions validate and prepare here, then hand plain contiguous arrays
to the private Numba kernels in :mod:`topoeval._kernels`.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from .errors import (
    InvalidDTypeError,
    InvalidInputError,
    InvalidOptionError,
    NonFiniteError,
    ShapeMismatchError,
)

NAN_POLICIES = ("raise", "omit")


def check_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise InvalidOptionError."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise InvalidOptionError(
            f"{name}={value!r} is not valid; use one of: {', '.join(map(repr, choices))}"
        )
    return value


def check_positive(value: Any, name: str, *, allow_inf: bool = False, strict: bool = True) -> float:
    """Return ``float(value)`` if it is a positive (or non-negative) real number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidOptionError(f"{name}={value!r} is not a number; pass a positive real number") from None
    bad = (v <= 0 if strict else v < 0) or np.isnan(v) or (np.isinf(v) and not allow_inf)
    if bad:
        kind = "positive" if strict else "non-negative"
        fin = "" if allow_inf else " finite"
        raise InvalidOptionError(f"{name}={value!r} is not valid; pass a{fin} {kind} number")
    return v


def as_real_array(a: Any, name: str = "array", *, min_ndim: int = 1) -> np.ndarray:
    """Convert ``a`` to a NumPy array of a real (bool, integer or float) dtype.

    Rejects complex, object, string and structured dtypes, 0-d and empty arrays,
    with a message that says how to fix the input.  Big-endian data is converted
    to native byte order (a copy only when needed); memory layout is preserved.
    """
    if isinstance(a, np.ndarray):
        arr = a
    else:
        if _is_xarray(a, "Dataset"):
            raise InvalidInputError(
                f"{name} is an xarray Dataset; pass one of its variables, e.g. ds[{next(iter(a.data_vars), 'NAME')!r}]"
            )
        if _is_xarray(a, "DataArray"):
            a = a.to_numpy()  # dask-backed: computed here; big inputs go through topoeval.open_array
        try:
            arr = np.asarray(a)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(
                f"{name} cannot be converted to a numeric array ({exc}); pass a rectangular "
                "array of real numbers"
            ) from None
    kind = arr.dtype.kind
    if kind == "c":
        raise InvalidDTypeError(
            f"{name} is complex ({arr.dtype}); topology of complex data is not defined - "
            "pass np.abs(a), a.real or a.imag"
        )
    if kind not in "biuf":
        raise InvalidDTypeError(
            f"{name} has dtype {arr.dtype}, which is not a real number type; pass an array of "
            "bool, integers or floats (object/string arrays are not accepted)"
        )
    if arr.ndim < min_ndim:
        raise InvalidInputError(
            f"{name} is {arr.ndim}-dimensional (shape {arr.shape}); pass an array with at least "
            f"{min_ndim} dimension(s), e.g. " + (f"np.atleast_{min_ndim}d(a)" if min_ndim <= 3 else "a.reshape(...)")
        )
    if arr.size == 0:
        raise InvalidInputError(f"{name} is empty (shape {arr.shape}); pass an array with at least one value")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def nonfinite_mask(arr: np.ndarray) -> np.ndarray | None:
    """Boolean mask of NaN/inf cells, or None when every value is finite (fast path)."""
    if arr.dtype.kind != "f":
        return None
    if np.isfinite(arr).all():
        return None
    return ~np.isfinite(arr)


def check_finite(arr: np.ndarray, name: str = "array", *, hint: str = "") -> None:
    """Raise NonFiniteError naming how many non-finite values and the first position."""
    mask = nonfinite_mask(arr)
    if mask is None:
        return
    count = int(mask.sum())
    first = tuple(int(i) for i in np.argwhere(mask)[0])
    value = arr[first]
    raise NonFiniteError(
        f"{name} holds {count} non-finite value(s) (NaN or +-inf), the first {value} at index "
        f"{first}; clean the data{hint}"
    )


def check_same_shape(x: np.ndarray, y: np.ndarray, names: tuple[str, str] = ("orig", "recon")) -> None:
    """Raise ShapeMismatchError unless ``x`` and ``y`` have exactly the same shape (no broadcasting)."""
    if x.shape != y.shape:
        raise ShapeMismatchError(
            f"{names[0]} has shape {x.shape} but {names[1]} has shape {y.shape}; they must have "
            "exactly the same shape (no broadcasting) - reshape or crop one of them"
        )


def normalize_axis(axis: Any, ndim: int, name: str = "axis") -> int:
    """Return a non-negative axis index, raising InvalidOptionError when out of range."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise InvalidOptionError(f"{name}={axis!r} is not an integer axis index")
    if not -ndim <= axis < ndim:
        raise InvalidOptionError(
            f"{name}={axis} is out of range for an array with {ndim} dimension(s); "
            f"use an index in [{-ndim}, {ndim - 1}]"
        )
    return int(axis) % ndim


def as_diagram_array(dgm: Any, name: str = "diagram", *, infinite_births: bool = False) -> np.ndarray:
    """Return ``dgm`` (a Diagram or an (n, 2) array-like [birth, death]) as a float64 (n, 2) array.

    NaN coordinates are rejected; births at +-inf too unless ``infinite_births``; deaths may be +-inf.
    """
    try:
        arr = np.asarray(dgm, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"{name} is not an (n, 2) array of [birth, death] pairs; pass a Diagram or an "
            "array-like of shape (n, 2)"
        ) from None
    if arr.size == 0:
        return np.empty((0, 2), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InvalidInputError(
            f"{name} has shape {arr.shape}; a diagram is an (n, 2) array of [birth, death] pairs"
        )
    if np.isnan(arr).any():
        i = int(np.argwhere(np.isnan(arr))[0, 0])
        raise NonFiniteError(f"{name} has a NaN coordinate in row {i}; remove it")
    if not infinite_births and np.isinf(arr[:, 0]).any():
        i = int(np.argwhere(np.isinf(arr[:, 0]))[0, 0])
        raise NonFiniteError(
            f"{name} has an infinite birth in row {i}; only deaths may be infinite (never-dying classes)"
        )
    return arr


# --------------------------------------------------------------------------- dimension names


def _is_xarray(a: Any, kind: str) -> bool:
    """``a`` is an ``xarray.<kind>`` (checked by type name: xarray is never imported here)."""
    return any(c.__name__ == kind and c.__module__.startswith("xarray") for c in type(a).__mro__)


def unwrap_in_memory(a: Any) -> Any:
    """The NumPy array inside an xarray DataArray held in memory; anything else unchanged (a
    dask-backed DataArray stays lazy, to be read a block at a time)."""
    if _is_xarray(a, "DataArray") and isinstance(a.data, np.ndarray):
        return a.data
    return a


def dims_of(a: Any) -> tuple[str, ...] | None:
    """The dimension names of ``a``: an xarray DataArray's or a :class:`topoeval.LazyArray`'s, else None."""
    dims = getattr(a, "dims", None)
    if isinstance(dims, tuple) and dims and all(isinstance(d, str) for d in dims):
        return dims
    return None


def dim_axis(axis: Any, dims: tuple[str, ...] | None, ndim: int, name: str = "axis", what: str = "x") -> int:
    """The axis number of ``axis``: an integer (normalised) or a dimension name of ``dims``.

    >>> dim_axis("member", ("member", "lat", "lon"), 3, "batch_axis")
    0
    >>> dim_axis(-1, None, 3)
    2
    """
    if not isinstance(axis, str):
        return normalize_axis(axis, ndim, name)
    if dims is None:
        raise InvalidOptionError(
            f"{name}={axis!r} names a dimension, but {what} has no dimension names; pass an xarray "
            "DataArray (or an array opened from netCDF / Zarr with topoeval.open_array) or an axis number"
        )
    if axis not in dims:
        raise InvalidOptionError(f"{name}={axis!r} is not a dimension of {what}; its dimensions: {', '.join(dims)}")
    return dims.index(axis)


def named_axes(a: Any, batch_axis: Any, weights: Any, what: str = "x") -> tuple[Any, Any]:
    """``batch_axis`` and ``weights`` with dimension names turned into axis numbers.

    ``batch_axis`` may name a dimension of ``a`` (``"member"``); ``weights`` may be a mapping
    from dimension names (or axis numbers) to weights, e.g. ``{"time": 0, "lat": 1, "lon": 1}``,
    with one entry per non-batch axis, returned as the list in axis order.  Anything else
    comes back unchanged (checked later by the caller).

    >>> class A:
    ...     dims, ndim = ("time", "lat", "lon"), 3
    >>> named_axes(A(), None, {"lon": 2.0, "time": 0, "lat": 1})
    (None, [0.0, 1.0, 2.0])
    >>> named_axes(A(), "time", {"lat": 1, "lon": 1})
    (0, [1.0, 1.0])
    """
    if not isinstance(batch_axis, str) and not isinstance(weights, Mapping):
        return batch_axis, weights
    dims = dims_of(a)
    ndim = int(getattr(a, "ndim", None) or np.ndim(a))
    if isinstance(batch_axis, str):
        batch_axis = dim_axis(batch_axis, dims, ndim, "batch_axis", what)
    if isinstance(weights, Mapping):
        weights = _weights_by_axis(weights, dims, ndim, batch_axis, what)
    return batch_axis, weights


def _weights_by_axis(weights: Mapping, dims, ndim: int, batch_axis: Any, what: str) -> list[float]:
    batch = None if batch_axis is None else normalize_axis(batch_axis, ndim, "batch_axis")
    by_axis: dict[int, Any] = {}
    for key, value in weights.items():
        axis = dim_axis(key, dims, ndim, "a weights key", what)
        if axis == batch:
            raise InvalidOptionError(f"weights gives {key!r} a weight, but it is the batch axis; drop it")
        if axis in by_axis:
            raise InvalidOptionError(f"weights names axis {axis} twice ({key!r}); give each dimension one weight")
        by_axis[axis] = value
    wanted = [i for i in range(ndim) if i != batch]
    missing = [i for i in wanted if i not in by_axis]
    if missing:
        names = ", ".join(repr(dims[i]) if dims else str(i) for i in missing)
        raise InvalidOptionError(
            f"weights has no entry for {names}; give one weight per non-batch dimension"
            + (f" ({', '.join(dims[i] for i in wanted)})" if dims else "")
        )
    try:
        return [float(by_axis[i]) for i in wanted]
    except (TypeError, ValueError):
        raise InvalidOptionError(f"weights={dict(weights)!r} holds a value that is not a number") from None

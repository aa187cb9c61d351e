"""Type codes and names of critical points, and the option and input checks shared by the module."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_real_array, check_choice
from ..errors import InvalidOptionError

CONNECTIVITIES = ("full", "freudenthal")
_NAN_POLICIES = ("raise", "omit")
_NAN_HINT = (
    ", or pass nan_policy='omit' to leave the non-finite cells out of the domain "
    "(they are then nobody's neighbour and get the type code -1)"
)

# type codes: keep in sync with topoeval/_kernels/_critical.py
_CODES = {
    "nonfinite": -1,
    "regular": 0,
    "minimum": 1,
    "saddle": 2,
    "saddle1": 3,
    "saddle2": 4,
    "maximum": 5,
    "degenerate": 6,
}
_NAMES = {v: k for k, v in _CODES.items()}
_ALIASES = {"1-saddle": "saddle1", "2-saddle": "saddle2", "min": "minimum", "max": "maximum"}
#: critical kinds, in the order used for per-type columns
_CRITICAL = ("minimum", "saddle", "saddle1", "saddle2", "degenerate", "maximum")


def _kinds_for(ndim: int) -> tuple[str, ...]:
    """Critical kinds that can occur in an array of effective dimension ``ndim``."""
    if ndim <= 1:
        return ("minimum", "maximum")
    if ndim == 2:
        return ("minimum", "saddle", "maximum")
    return ("minimum", "saddle1", "saddle2", "degenerate", "maximum")


def _resolve_kind(kind: Any, allowed: tuple[str, ...]) -> str:
    if isinstance(kind, (int, np.integer)) and not isinstance(kind, (bool, np.bool_)):
        name = _NAMES.get(int(kind))
    elif isinstance(kind, str):
        name = _ALIASES.get(kind, kind)
    else:
        name = None
    if name is None or name not in allowed:
        raise InvalidOptionError(
            f"kind={kind!r} is not valid; use one of: {', '.join(map(repr, allowed))}"
        )
    return name


# --------------------------------------------------------------------------- neighbourhoods


def _check_connectivity(connectivity: Any) -> str:
    if connectivity == "face":
        raise InvalidOptionError(
            "connectivity='face' is not valid for critical points (the 2*d axis neighbours do "
            "not triangulate the grid); use 'full' (the persistence diagrams' 3**d - 1 "
            "neighbours) or 'freudenthal' (TTK's triangulation)"
        )
    return check_choice(connectivity, "connectivity", CONNECTIVITIES)


def _prepare(array: Any, name: str) -> np.ndarray:
    arr = as_real_array(array, name)
    # few kernel specialisations (compile time): exact conversions to float32 / int64
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "biu" and arr.dtype not in (np.int64, np.uint64):
        arr = arr.astype(np.int64)
    return arr


def _core_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    core = tuple(int(s) for s in shape if s > 1)
    return core if core else (1,)

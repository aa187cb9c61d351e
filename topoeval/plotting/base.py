"""What every picture shares: the matplotlib check, the report style, new figures, the palette,
and the helpers that pick a 2-D slice of a field.

Private to :mod:`topoeval.plotting` and :mod:`topoeval.report`; nothing here is public API.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from typing import Any

import numpy as np

from .._validation import as_real_array, check_positive, check_same_shape, normalize_axis
from ..errors import InvalidInputError, InvalidOptionError, missing_dependency

__all__: list[str] = []

#: colours of successive diagrams (colour-blind-safe: blue, vermilion, green, purple, ...)
_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
#: markers of successive diagrams, so overlapping points stay distinguishable in grey print
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_HIGHLIGHT = "#C00000"
_INF_LINE = "0.35"

#: fixed rc settings of the reproducible report figures (see :func:`_style`)
_RC = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "legend.fontsize": 8.0,
    "legend.framealpha": 0.85,
    "image.interpolation": "nearest",
    "image.origin": "upper",
    "axes.grid": False,
    "svg.hashsalt": "topoeval",
}


# ---------------------------------------------------------------------------- helpers


def _require_matplotlib(what: str):
    try:
        import matplotlib
    except ImportError:
        raise missing_dependency("matplotlib", "plot", what) from None
    return matplotlib


#: True while report figures are drawn: new figures are bare (never pyplot-managed)
_BARE_FIGURES: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "topoeval_bare_figures", default=False
)


@contextlib.contextmanager
def _style():
    """Context manager with the fixed, reproducible style of the report figures.

    Starts from matplotlib's defaults (whatever the user's rcParams or style are)
    and applies :data:`_RC`, so that a figure drawn inside it renders the same
    pixels on every run and machine with the same matplotlib version.  Figures
    made inside it are bare :class:`~matplotlib.figure.Figure` objects, never
    registered with pyplot.
    """
    _require_matplotlib("topoeval's report figures")
    import matplotlib.style

    token = _BARE_FIGURES.set(True)
    try:
        with matplotlib.style.context(["default", _RC]):
            yield
    finally:
        _BARE_FIGURES.reset(token)


def _use_pyplot() -> bool:
    """Whether new figures should be pyplot-managed: in an IPython kernel or once pyplot is imported."""
    if _BARE_FIGURES.get():
        return False
    if "matplotlib.pyplot" in sys.modules:
        return True
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython install
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _figure_png(fig, *, dpi: float | None = None) -> bytes:
    """Render ``fig`` to PNG bytes with the Agg renderer, without timestamps or versions."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # Agg, whatever pyplot's backend is
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _new_figure(figsize: tuple[float, float]):
    if _use_pyplot():
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize, layout="constrained")
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _axes_or_new(ax: Any, figsize: tuple[float, float], name: str = "ax"):
    if ax is None:
        return _new_figure(figsize).add_subplot()
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise InvalidOptionError(
            f"{name} is a {type(ax).__name__}, not a matplotlib Axes; pass an Axes "
            "(e.g. fig.add_subplot() or plt.gca()) or None for a new figure"
        )
    return ax


def _figure_or_new(fig: Any, figsize: tuple[float, float]):
    if fig is None:
        return _new_figure(figsize)
    from matplotlib.figure import Figure, SubFigure

    if not isinstance(fig, (Figure, SubFigure)):
        raise InvalidOptionError(
            f"fig is a {type(fig).__name__}, not a matplotlib Figure; pass a Figure "
            "(e.g. plt.figure()) or None for a new one"
        )
    return fig


def _format_tick(t: float) -> str:
    s = f"{t:.6g}"
    return "0" if s in ("-0", "0") else s.replace("-", "\u2212")


def _check_alpha(alpha: Any) -> float:
    a = check_positive(alpha, "alpha")
    if a > 1:
        raise InvalidOptionError(f"alpha={alpha!r} is not valid; pass a number in (0, 1]")
    return a


# ---------------------------------------------------------------------------- slices of fields


def _prepare_pair(orig: Any, recon: Any) -> tuple[np.ndarray, np.ndarray]:
    x = as_real_array(orig, "orig")
    y = as_real_array(recon, "recon")
    check_same_shape(x, y)
    if x.ndim > 3:
        raise InvalidInputError(
            f"orig and recon are {x.ndim}-dimensional (shape {x.shape}); pictures are drawn for "
            "1-D, 2-D and 3-D arrays - pass a sub-array, e.g. orig[0] and recon[0]"
        )
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _slice_index(
    axis: Any, index: Any, shape: tuple[int, ...], score: np.ndarray | None
) -> tuple[int, int]:
    """(axis, index) of the 2-D slice of a 3-D array; index defaults to argmax of ``score``."""
    axis = normalize_axis(axis, len(shape))
    n = shape[axis]
    if index is None:
        if score is None:
            return axis, n // 2
        return axis, int(np.argmax(score))
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
        raise InvalidOptionError(f"index={index!r} is not an integer slice index")
    if not -n <= index < n:
        raise InvalidOptionError(
            f"index={index} is out of range for axis {axis} of length {n}; use [{-n}, {n - 1}]"
        )
    return axis, int(index) % n


def _take(a: np.ndarray, axis: int, index: int) -> np.ndarray:
    return np.take(a, index, axis=axis)


def _slice_label(axis: int, index: int, ndim: int) -> str:
    parts = [":"] * ndim
    parts[axis] = str(index)
    return "[" + ", ".join(parts) + "]"


def _aspect(shape: tuple[int, ...]) -> str:
    """Square pixels, unless one side of the image is more than 4 times the other."""
    return "auto" if max(shape) > 4 * min(shape) else "equal"


def _finite_range(*arrays: np.ndarray) -> tuple[float, float]:
    vals = [a[np.isfinite(a)] for a in arrays]
    vals = [v for v in vals if v.size]
    if not vals:
        return 0.0, 1.0
    lo = min(float(v.min()) for v in vals)
    hi = max(float(v.max()) for v in vals)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi

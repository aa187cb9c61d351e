"""topoeval: how much topology did a lossy compressor or an autoencoder destroy?

>>> import numpy as np
>>> import topoeval as te
>>> a = np.array([0.0, 3.0, 1.0, 4.0, 2.0])
>>> np.asarray(te.persistence_diagram(a))
array([[ 0., inf],
       [ 1.,  3.],
       [ 2.,  4.]])

The public API is flat: every public name of the submodules is available as
``topoeval.<name>``.  Submodules are imported lazily on first use, so
``import topoeval`` (and ``topoeval --help``) stays fast and never imports
numba, h5py, gudhi, torch or matplotlib until they are needed.
"""

from __future__ import annotations

import importlib
import sys
import types

from .errors import *  # noqa: F401,F403  (light: no third-party imports)
from .errors import __all__ as _errors_all

__version__ = "0.1.0"

# public name -> submodule that defines it (each submodule lists the same names in __all__;
# tests/test_api.py checks the two agree).
_LAZY = {
    # 0-D persistence
    "Diagram": "persistence",
    "persistence_diagram": "persistence",
    "persistence_diagrams": "persistence",
    # diagram distances
    "wasserstein_distance": "distances",
    "bottleneck_distance": "distances",
    "WassersteinResult": "distances",
    # directional sign loss
    "dsl": "dsl",
    "exact_dsl": "dsl",
    "dsl_gradient": "dsl",
    "dsl_per_axis": "dsl",
    "mismatch_map": "dsl",
    "find_sharpness": "dsl",
    "SharpnessFit": "dsl",
    # pointwise metrics
    "mse": "metrics",
    "rmse": "metrics",
    "mae": "metrics",
    "max_abs_error": "metrics",
    "psnr": "metrics",
    "relative_l2_error": "metrics",
    "pearson_correlation": "metrics",
    "pointwise_metrics": "metrics",
    # files
    "load_array": "io",
    "open_array": "io",
    "LazyArray": "io",
    "describe_file": "io",
    # comparison of an original with a reconstruction
    "compare": "compare",
    "Comparison": "compare",
    # critical points
    "critical_points": "critical_points",
    "CriticalPoints": "critical_points",
    "critical_point_errors": "critical_points",
    "CriticalPointErrors": "critical_points",
    # Morse segmentation and persistence-pair preservation
    "morse_segmentation": "segmentation",
    "MorseSegmentation": "segmentation",
    "segmentation_errors": "segmentation",
    "SegmentationErrors": "segmentation",
    "persistence_pair_errors": "segmentation",
    "PersistencePairErrors": "segmentation",
    # batches and sweeps
    "batch": "batch",
    "BatchResult": "batch",
    "sweep": "sweep",
    "SweepResult": "sweep",
    "BoundViolationWarning": "sweep",
    # lossy compressors behind one protocol (need the `compressors` extra)
    "Compressor": "compressors",
    "get_compressor": "compressors",
    "available_compressors": "compressors",
    # pictures (need the `plot` extra)
    "plot_diagram": "plotting",
    "plot_matching": "plotting",
    "plot_mismatch": "plotting",
    "plot_critical_points": "plotting",
    "plot_fields": "plotting",
    "plot_segmentation": "plotting",
    "write_report": "report",
    "save_summary_plot": "report",
    "write_batch_report": "report",
    "write_sweep_report": "report",
    "save_sweep_plot": "report",
}

__all__ = sorted([*_errors_all, *_LAZY, "__version__"])


class _Package(types.ModuleType):
    """The package's module type: a public function keeps its name when its submodule loads.

    Some public functions share their submodule's name (``te.compare`` in ``topoeval/compare.py``,
    ``te.dsl``, ``te.batch`` ...).  The import system binds a freshly loaded submodule as a package
    attribute, which would shadow the function; for those names the function is bound instead (as an
    eager ``from .dsl import *`` would leave it).  ``from topoeval.dsl import X`` and
    ``sys.modules["topoeval.dsl"]`` still reach the module.
    """

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == name and hasattr(value, name):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'topoeval' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

"""Directional sign loss (DSL) of Dam, Agarwal & Gopalakrishnan (arXiv 2504.04202).

The DSL compares the *directions* of two arrays rather than their values: for
every axis ``i`` it takes the finite differences ``D_X = diff(x, axis=i)`` and
``D_Y = diff(y, axis=i)`` and counts how often their signs disagree,

.. math::

    \\mathrm{DSL}(x, y) = \\sum_i w_i \\sum \\frac{|\\sigma(s D_X) - \\sigma(s D_Y)|}{2},

with ``sigma = sign`` for the exact (non-differentiable) loss -- opposite
directions count 1, a flat step against a rising or falling one 1/2 -- and a
smooth sign-like ``sigma`` (``tanh``, softsign ``z / (1 + |z|)``) of sharpness
``s`` for the differentiable loss of the paper's Algorithm 1.

Argument order
--------------
Every function takes ``(x, y)`` with **x the reconstruction / prediction** (the
``input`` of a PyTorch loss) and **y the original / target**.  The value is
symmetric in ``x`` and ``y``; :func:`dsl_gradient` differentiates with respect
to ``x``.

Conventions (docs/architecture.md, "DSL")
-----------------------------------------
- ``weights``: one non-negative weight per non-batch axis (length ``x.ndim``,
  or ``x.ndim - 1`` with a ``batch_axis``), default 1; a weight of 0 switches an
  axis off (e.g. the component axis of a vector field).
- ``normalize=True`` divides by the weighted number of comparisons
  ``sum_i w_i * (number of differences along axis i per sample)``, so the value
  lies in [0, 1] next to an MSE; ``normalize=False`` keeps count units (the
  exact loss is then the number of sign mismatches).
- ``batch_axis``: the axis holding independent samples; no differences are
  taken along it, every sample gets its own value and ``reduction`` ("mean",
  "sum" or "none") combines them as in PyTorch losses.  Without a batch axis
  the whole array is one sample and a Python float is returned.
- Values are accumulated and returned in float64 whatever the input dtype; the
  exact loss is counted in integers (no rounding at all).  The tanh terms of
  float32 inputs are computed in float32, like NumPy (relative error ~1e-6, see
  :func:`dsl`); the gradient and the sharpness fit compute in float64.  Gradients and
  mismatch maps are float32 for float16/float32 inputs, float64 otherwise.

Implementation: one fused Numba pass over the array (topoeval/_kernels/_dsl.py)
reads each input about once for all axes together, without temporaries of the
input's size.

Modules: ``_prepare`` (option checks, dtype/order preparation, normalisation),
``_evaluate`` (the per-axis sums behind every value), ``smooth`` (:func:`dsl`,
:func:`dsl_per_axis`), ``exact`` (:func:`exact_dsl`, :func:`mismatch_map`),
``gradient`` (:func:`dsl_gradient`), ``sharpness`` (:func:`find_sharpness`).
"""

from __future__ import annotations

from ._prepare import DEFAULT_SHARPNESS  # noqa: F401 - documented as topoeval.dsl.DEFAULT_SHARPNESS
from .exact import exact_dsl, mismatch_map
from .gradient import dsl_gradient
from .sharpness import SharpnessFit, find_sharpness
from .smooth import dsl, dsl_per_axis

__all__ = [
    "dsl",
    "exact_dsl",
    "dsl_gradient",
    "dsl_per_axis",
    "mismatch_map",
    "find_sharpness",
    "SharpnessFit",
]

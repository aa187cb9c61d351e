"""Slow, obviously-right reference implementations that the kernel tests compare against.

Each section belongs to one module of topoeval; keep them simple (plain loops, no Numba).
"""

from __future__ import annotations

import itertools

import numpy as np

# ---------------------------------------------------------------- persistence

# ---------------------------------------------------------------- distances

# ---------------------------------------------------------------- dsl

# ---------------------------------------------------------------- metrics

# ---------------------------------------------------------------- critical points

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Deterministic hypothesis runs: same examples on every machine and in CI.
settings.register_profile(
    "topoeval",
    derandomize=True,
    deadline=None,
    max_examples=int(os.environ.get("TOPOEVAL_HYPOTHESIS_EXAMPLES", "60")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile("topoeval")


@pytest.fixture
def rng():
    return np.random.default_rng(20250406)

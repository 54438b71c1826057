import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Fuzzing profiles: "ci" (default) is derandomized, so CI is reproducible; "long" explores.
settings.register_profile("ci", derandomize=True, max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.register_profile("long", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

import dropengine as de

TRANSFERS = [de.Linear(), de.Logistic(), de.Logistic(c=2.0, lam=1.5), de.Tanh(lam=0.7),
             de.ReLU(threshold=0.1, slope=1.3), de.Softplus(lam=2.0), de.Softmax(lam=1.2)]


def small_net(transfer, dtype=np.float64, bias=True, seed=0, sizes=(3, 2, 2)):
    rng = np.random.default_rng(seed)
    Ws = [rng.normal(0, 1.0, size=(o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(0, 0.5, size=o) if bias else None for o in sizes[1:]]
    return de.Network(Ws, bs, transfer, dtype=dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)

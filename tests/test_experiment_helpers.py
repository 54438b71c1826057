"""Helpers of the reproduce experiments against closed-form oracles: the per-layer growth
ratio of Fig. 11.3's claim, and the two approximations of |E - NWGM| of Figs. 9.4, 9.5."""
import numpy as np
import pytest

pytest.importorskip("matplotlib")
from dropengine.analysis import bounds as B  # noqa: E402
from dropengine.analysis.means import summary_numpy  # noqa: E402
from dropengine.experiments.consistency import layer_growth  # noqa: E402
from dropengine.experiments.nwgm_approximations import approximations  # noqa: E402


def test_layer_growth_recovers_a_geometric_growth():
    rng = np.random.default_rng(0)
    base = rng.random(500) + 0.5
    sds = [base * 1.5**k for k in range(4)]  # every layer 1.5x the one below, exactly
    g, se = layer_growth(sds, seed=0)
    assert g == pytest.approx(1.5, rel=1e-12)
    # the bootstrap resamples each layer separately, so the SE reflects the spread within layers
    assert 0 < se < 0.05
    flat = [rng.random(2000) + 0.5 for _ in range(4)]
    g, se = layer_growth(flat, seed=0)
    assert abs(g - 1) < 4 * se + 1e-3  # no growth, within the bootstrap's noise


def test_approximations_of_e_minus_nwgm():
    """Both approximations from E and V, against |E - NWGM| computed exactly for values
    close to their mean, where both second-order expansions hold: errors O(third moments)."""
    rng = np.random.default_rng(1)
    O = np.clip(0.3 + 0.02 * rng.standard_normal((50, 200)), 0.01, 0.99)
    s = summary_numpy(O)
    a1, a2 = approximations(s.E, s.V)
    exact = np.abs(s.E - s.G / (s.G + s.Gc))
    np.testing.assert_allclose(a1, np.abs(B.e_minus_nwgm_second_order(s.E, s.V)))
    np.testing.assert_allclose(a2, np.abs(s.E - B.nwgm_mean_expansion(s.E, s.V)))
    # around E (Eq. 202) is the sharper expansion here: its error is the smaller one
    assert np.mean(np.abs(a2 - exact)) < np.mean(np.abs(a1 - exact))
    assert np.max(np.abs(a2 - exact)) < 0.1 * exact.mean()

"""linear_moments (Eq. 15-20, 24-26) against exact enumeration of every subnetwork."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

import dropengine as de
from dropengine.exact import enumerate as enumerate_subnetworks
from dropengine.exact import linear_moments

rng0 = np.random.default_rng(21)
CASES = {
    # (sizes, gate): 16, 15, 17 and 14 free gates
    "units-0.5": ((6, 4, 3, 2), de.Dropout(0.5, keep_bias=0.7)),
    "units-per-unit": ((5, 4, 3, 2), de.Dropout([rng0.uniform(0.2, 0.9, 5), rng0.uniform(0.2, 0.9, 4), 0.6],
                                                keep_bias=0.5)),
    "connections": ((3, 2, 2, 1), de.Dropout([0.6, rng0.uniform(0.2, 0.9, (2, 2)), 0.5], on="connections",
                                             keep_bias=0.7)),
    "dropin": ((5, 4, 3, 2), de.Dropin([rng0.uniform(0.1, 0.5, 5), 0.3, 0.2])),
}


def _net(sizes, seed, bias=True):
    rng = np.random.default_rng(seed)
    Ws = [rng.normal(size=(o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(size=o) if bias else None for o in sizes[1:]]
    return de.Network(Ws, bs, de.Linear())


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", list(CASES))
def test_equals_enumeration_every_covariance(case, bias):
    sizes, gate = CASES[case]
    net = _net(sizes, seed=len(case), bias=bias)
    X = np.random.default_rng(2).normal(size=(2, sizes[0]))
    units = [(h, i) for h in range(len(sizes) - 1) for i in range(sizes[h + 1])]
    pairs = [(a, b) for a in units for b in units]
    ex = enumerate_subnetworks(net, X, gate, pairs=pairs)
    lm = linear_moments(net, X, gate)
    N = len(units)
    scale = np.abs(ex.cov).max()
    for h in range(len(sizes) - 1):
        assert_allclose(lm.E[h], ex.E[h], rtol=1e-12, atol=1e-13 * np.abs(ex.E[h]).max())
        assert_allclose(lm.var[h], ex.var[h], rtol=1e-11, atol=1e-13 * scale)
    assert lm.cov.shape == (2, N, N)
    assert_allclose(lm.cov, ex.cov.reshape(2, N, N), rtol=1e-11, atol=1e-13 * scale)


def test_eq20_first_layer_outputs_independent_under_connection_dropout():
    """Eq. 20 falls out of the recursion: Cov(S_i, S_l) = 0 within the first layer only."""
    net = _net((5, 4, 3), seed=3)
    lm = linear_moments(net, np.ones((1, 5)), de.Dropout(0.5, on="connections"))
    c1 = lm.cov[0, :4, :4]
    assert np.all(c1[~np.eye(4, dtype=bool)] == 0)
    c2 = lm.cov[0, 4:, 4:]
    assert np.abs(c2[~np.eye(3, dtype=bool)]).max() > 1e-3  # deeper layers are correlated


def test_eq15_17_single_layer_closed_forms():
    rng = np.random.default_rng(4)
    W, I, p = rng.normal(size=(3, 7)), rng.normal(size=7), rng.uniform(0.1, 0.9, 7)
    lm = linear_moments(de.Network([W], None, de.Linear()), I, de.Dropout([p]))
    assert_allclose(lm.E[0][0], W @ (p * I), rtol=1e-14)                      # Eq. 15
    assert_allclose(lm.cov[0], (W * (p * (1 - p) * I**2)) @ W.T, rtol=1e-13)  # Eq. 16, 17


def test_no_gate_has_zero_variance():
    net = _net((4, 3, 2), seed=5)
    lm = linear_moments(net, np.ones((2, 4)), None)
    _, W = de.forward(net, np.ones((2, 4)))
    assert_allclose(lm.E[1], W[1], rtol=1e-14)
    assert np.all(lm.cov == 0)


def test_refuses_nonlinear_units_and_bad_input():
    net = de.Network.random([4, 3, 2], ["linear", "logistic"], seed=0)
    with pytest.raises(ValueError, match="net: .*linear"):
        linear_moments(net, np.ones(4), de.Dropout(0.5))
    lin = _net((4, 3), seed=0)
    with pytest.raises(ValueError, match="inputs"):
        linear_moments(lin, np.ones(5), de.Dropout(0.5))
    with pytest.raises(ValueError, match="keep"):
        linear_moments(lin, np.ones(4), de.Dropout(-0.1))
    with pytest.raises(TypeError, match="net"):
        linear_moments([np.ones((3, 4))], np.ones(4))

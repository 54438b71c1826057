"""analysis.means / summary: the paper's numbers, the Cython kernel against its NumPy
twin, log-space precision, and the extreme cases of Section 8."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from dropengine import DropoutWarning
from dropengine.analysis import means, summary, summary_numpy

FIELDS = ("E", "V", "log_G", "log_Gc", "min", "max")


def test_paper_section8_example():
    """O = (0.622459, 0.731059), P = (1/2, 1/2): the numbers printed in Section 8."""
    s = summary([0.622459, 0.731059], [0.5, 0.5])
    r = np.round
    assert r(s.E, 6) == 0.676759
    assert r(s.G, 6) == 0.674577
    assert r(s.Gc, 6) == 0.318648
    assert r(s.nwgm, 6) == 0.679179
    assert r(s.E - s.G, 6) == 0.002182
    assert r(s.nwgm - s.E, 6) == 0.002420


def test_nwgm_equals_e_for_symmetric_pair():
    """O = (0.25, 0.75), P = (1/2, 1/2): G = G' and NWGM = E = 0.5 (Section 8)."""
    E, G, Gc, nw = means([0.25, 0.75])
    assert_allclose(G, Gc, rtol=1e-15)
    assert_allclose([E, nw], 0.5, rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axis", [((7,), 0), ((3, 1, 5), 1), ((2, 513, 3), 1), ((1000, 3), 0),
                                         ((4, 6, 1030), 2), ((5, 3, 2), -2), ((1, 1), 0), ((3, 2049, 600), 1)])
@pytest.mark.parametrize("weighted", [False, True])
def test_kernel_equals_numpy_twin(dtype, shape, axis, weighted):
    rng = np.random.default_rng(len(shape) + shape[0])
    O = rng.uniform(0.001, 0.999, shape).astype(dtype)
    P = None
    if weighted:
        P = rng.uniform(0, 1, shape[axis])
        if P.size > 1:
            P[0] = 0.0  # a value of weight zero takes no part
        P /= P.sum()
    a, b = summary(O, P, axis), summary_numpy(O, P, axis)
    for f in FIELDS:
        assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-12, atol=1e-13, err_msg=f)
    assert_allclose(a.nwgm, b.nwgm, rtol=1e-12)


def test_non_contiguous_and_int_inputs():
    O = np.random.default_rng(1).uniform(size=(6, 40))[:, ::2]
    assert_allclose(summary(O, axis=1).E, O.mean(axis=1), rtol=1e-14)
    assert_allclose(summary(np.array([0, 1, 1, 0]), axis=0).E, 0.5)


def test_million_values_near_zero_and_one_keep_precision():
    """10^6 values near 0 (and near 1): G underflows nowhere, log G is exact to rounding."""
    rng = np.random.default_rng(2)
    small = rng.uniform(1e-30, 1e-28, 10**6)
    s = summary(small)
    assert_allclose(s.log_G, np.log(small).mean(), rtol=1e-13)
    assert s.G > 0 and 1e-30 < s.nwgm < 1e-28
    near_one = 1 - rng.uniform(1e-14, 1e-12, 10**6)
    s1 = summary(near_one)
    assert_allclose(s1.log_Gc, np.log1p(-near_one).mean(), rtol=1e-13)
    assert 0 < s1.Gc and s1.nwgm < 1


def test_extreme_cases_of_section8():
    assert means([0.0, 0.3]).nwgm == 0.0            # G = 0
    assert means([1.0, 0.3]).nwgm == 1.0            # G' = 0
    with pytest.warns(DropoutWarning, match="0/0"):
        assert np.isnan(means([0.0, 1.0]).nwgm)     # 0/0
    # a zero of probability 0 does not count
    assert means([0.0, 0.3], [0.0, 1.0]).nwgm == pytest.approx(0.3)


@pytest.mark.parametrize("O, P, axis, exc, match", [
    ([0.5, 1.2], None, -1, ValueError, "O must lie in"),
    ([0.5, -0.1], None, -1, ValueError, "O must lie in"),
    ([0.5, np.nan], None, -1, ValueError, "NaN"),
    ([0.5, 0.5], [0.6, 0.6], -1, ValueError, "sum to 1"),
    ([0.5, 0.5], [1.5, -0.5], -1, ValueError, ">= 0"),
    ([0.5, 0.5], [1.0], -1, ValueError, "P must have shape"),
    ([[0.5, 0.5]], None, 2, ValueError, "axis"),
    ([[0.5, 0.5]], None, 1.0, TypeError, "axis"),
    ("x", None, -1, TypeError, "O"),
    (np.zeros((2, 0)), None, 1, ValueError, "empty"),
    ([0.5 + 1j], None, -1, TypeError, "O"),
])
def test_bad_input(O, P, axis, exc, match):
    with pytest.raises(exc, match=match):
        summary(O, P, axis)

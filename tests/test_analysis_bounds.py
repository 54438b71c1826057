"""Section 8 and Appendix B: the paper's stated maxima, and property tests (hypothesis)
of every inequality on random values and weights."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.optimize import minimize_scalar

from dropengine.analysis import bounds as B
from dropengine.analysis import ensemble_errors, summary
from dropengine.analysis.ensemble_error import squared_nwgm_region

SLACK = 1e-12


def _argmax(f, lo, hi):
    r = minimize_scalar(lambda e: -f(e), bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    return r.x, -r.fun


def test_bound2_peak_on_first_half():
    """E(1-E)|1-2E| / (1-2E(1-E)) peaks on [0, 0.5] at E = 0.5 - sqrt(sqrt5 - 2)/2 (Fig. 8.1)."""
    x, _ = _argmax(B.bound2, 0.0, 0.5)
    assert_allclose(x, 0.5 - np.sqrt(np.sqrt(5) - 2) / 2, atol=1e-7)
    assert_allclose(B.BOUND2_ARGMAX, 0.5 - np.sqrt(np.sqrt(5) - 2) / 2)
    assert B.bound2(0.0) == B.bound2(0.5) == B.bound2(1.0) == 0.0
    assert_allclose(B.bound2(0.2), B.bound2(0.8))


def test_loose_bound_peak():
    """2E(1-E)|1-2E| peaks on [0, 0.5] at E = 0.5 - sqrt(3)/6 (Fig. 8.2)."""
    x, _ = _argmax(B.bound_loose, 0.0, 0.5)
    assert_allclose(x, 0.5 - np.sqrt(3) / 6, atol=1e-7)
    assert_allclose(B.BOUND_LOOSE_ARGMAX, x, atol=1e-7)


def test_binomial_ratio_peaks_at_one_third():
    """E(1-E) / (1 - E(1-E)) is maximal at E = 1/2 with value 1/3 (Appendix B.2)."""
    x, v = _argmax(B.binomial_ratio, 0.0, 1.0)
    assert_allclose([x, v], [0.5, 1 / 3], atol=1e-7)


def test_bound_chain_of_eq87():
    """V|1-2E|/(1-2V) <= bound 1 <= bound 2 <= loose bound whenever V <= E(1-E)."""
    E = np.linspace(0, 1, 201)[:, None]
    V = E * (1 - E) * np.linspace(0, 1, 11)[None, :]
    a = np.abs(B.e_minus_nwgm_second_order(E, V))
    assert np.all(a <= B.bound1(E, V) + SLACK)
    assert np.all(B.bound1(E, V) <= B.bound2(E) + SLACK)
    assert np.all(B.bound2(E) <= B.bound_loose(E) + SLACK)


def test_appendix_b_closed_forms():
    E, V = 0.7, 0.01
    assert_allclose(B.nwgm_mean_expansion(E, V), (E - V / (2 * E)) / (1 - V / (2 * E * (1 - E))))
    assert_allclose(B.nwgm_expansion_01(E, V), (2 * E - V) / (2 - 2 * V))
    assert_allclose(E - B.nwgm_expansion_01(E, V), B.e_minus_nwgm_expansion_01(E, V))  # Eq. 208
    assert B.bound_209(V) <= B.binomial_ratio(E) / 2 <= 1 / 6
    assert B.bound_210(E) <= B.binomial_ratio(E) / 2


def test_second_order_approximations_error_is_third_order():
    """Around 0.5 (Eq. 84, 85) and around the mean (Eq. 202) the approximations err by
    O(eps^3): halving the spread divides the error by ~8."""
    shape = np.array([-1.0, 0.5, 1.0, -0.2])
    for center, approx in ((0.5, B.nwgm_second_order), (0.3, B.nwgm_mean_expansion)):
        errs = []
        for eps in (0.04, 0.02, 0.01):
            s = summary(center + eps * (shape + 0.7))  # every O - center scales with eps
            errs.append(abs(s.nwgm - approx(s.E, s.V)))
        assert 6 < errs[0] / errs[1] < 10 and 6 < errs[1] / errs[2] < 10, (center, errs)
    s = summary(0.5 + 0.01 * shape)
    assert abs(s.G - B.g_second_order(s.E, s.V)) < 1e-5 and abs(s.Gc - B.gc_second_order(s.E, s.V)) < 1e-5


values = st.lists(st.floats(1e-6, 1 - 1e-6), min_size=1, max_size=30)


@st.composite
def ensemble(draw, lo=1e-6, hi=1 - 1e-6):
    O = np.array(draw(st.lists(st.floats(lo, hi), min_size=1, max_size=30)))
    w = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=O.size, max_size=O.size)))
    return O, w / w.sum()


@given(ensemble())
def test_geometric_means_orderings(ow):
    """G <= E and G' <= 1 - E (Eq. 77), G <= NWGM (property 2 of Section 8)."""
    O, P = ow
    s = summary(O, P)
    assert s.G <= s.E + SLACK and s.Gc <= 1 - s.E + SLACK
    assert s.G <= s.nwgm + SLACK


@given(ensemble(hi=0.5))
def test_ky_fan_consistently_low(ow):
    """All O <= 0.5: G <= NWGM <= E (Eq. 81)."""
    s = summary(*ow)
    assert B.ky_fan_order(s) == -1 or s.max == s.min == 0.5
    assert s.G <= s.nwgm + SLACK and s.nwgm <= s.E + SLACK


@given(ensemble(lo=0.5))
def test_ky_fan_consistently_high(ow):
    """All O >= 0.5: NWGM >= E (Eq. 82)."""
    s = summary(*ow)
    assert B.ky_fan_order(s) == 1 or s.max == s.min == 0.5
    assert s.nwgm >= s.E - SLACK


@given(ensemble(lo=1e-3, hi=1 - 1e-3))
def test_cartwright_field_and_refinements(ow):
    """Eq. 78, 79 (with the factor max O - E restored) and 80 bracket E - G."""
    s = summary(*ow)
    gap = s.E - s.G
    tol = SLACK + 1e-9 * s.V
    for lo, hi in (B.cartwright_field(s), B.cartwright_field_refined(s), B.eq80_bounds(s)):
        assert lo - tol <= gap <= hi + tol
    lo78, hi78 = B.cartwright_field(s)
    lo79, hi79 = B.cartwright_field_refined(s)
    assert lo79 >= lo78 - tol and hi79 <= hi78 + tol  # a refinement indeed


@given(ensemble(lo=1e-3, hi=1 - 1e-3), st.floats(0, 1))
def test_ensemble_error_inequalities_relative_entropy(ow, t):
    """Relative entropy: Error(E), Error(WGM), Error(NWGM) <= E(Error) (Eq. 56-58)."""
    r = ensemble_errors(*ow[:1], t, ow[1], error="relative_entropy")
    tol = 1e-10 * (1 + abs(r.expected))
    assert r.of_E <= r.expected + tol and r.of_WGM <= r.expected + tol and r.of_NWGM <= r.expected + tol


@given(ensemble(lo=1e-3, hi=1 - 1e-3), st.floats(0, 1))
def test_ensemble_error_inequalities_squared(ow, t):
    """Squared error: Eq. 56 always; Eq. 57 when every O >= t/2; Eq. 58 when every O lies
    in the convexity region of (t - sigma(x))^2 (see ensemble_errors)."""
    O, P = ow
    r = ensemble_errors(O, t, P, error="squared")
    tol = 1e-10 * (1 + abs(r.expected))
    assert r.of_E <= r.expected + tol
    if O.min() >= t / 2:
        assert r.of_WGM <= r.expected + tol
    lo, hi = squared_nwgm_region(t)
    if O.min() >= lo and O.max() <= hi:
        assert r.of_NWGM <= r.expected + tol


@pytest.mark.parametrize("o", [1 - 1e-12, 1 - 1e-10, 1e-13, 0.3])
@pytest.mark.parametrize("t", [0.0, 0.3, 1.0])
def test_relative_entropy_of_identical_members_is_exact(o, t):
    """Members all equal: E = WGM = NWGM = o, so each combination's error is the expected
    error. Near 1 that needs each complement from its definition (1 - NWGM = G' / (G + G')):
    computed as 1 - NWGM, the error of NWGM was off by ~1e-4 at o = 1 - 1e-12."""
    r = ensemble_errors(np.full((2, 3), o), np.full(2, t), axis=1, error="relative_entropy")
    for got in (r.of_E, r.of_WGM, r.of_NWGM):
        np.testing.assert_allclose(got, r.expected, rtol=1e-12, atol=0)


def test_relative_entropy_inequalities_hold_to_1e12_at_the_extremes():
    """Eq. 56-58 for the relative entropy on ensembles crowding 0 and 1 (Beta(0.3, 0.3),
    clipped to [1e-12, 1 - 1e-12], as the `ensembles` experiment draws them): no violation
    beyond 1e-12, the identity check's tolerance (one of 800,000 broke it by 3.4e-7
    before the complements were computed from their definitions)."""
    rng = np.random.default_rng(57)
    O = np.clip(rng.beta(0.3, 0.3, size=(20000, 6)), 1e-12, 1 - 1e-12)
    t = rng.uniform(size=20000)
    t[:4000] = rng.integers(0, 2, 4000)
    for P in (None, rng.dirichlet(np.ones(6))):
        r = ensemble_errors(O, t, P, axis=1, error="relative_entropy")
        for got in (r.of_E, r.of_WGM, r.of_NWGM):
            assert np.max(got - r.expected) <= 1e-12


def test_paper_eq57_58_fail_for_the_squared_error():
    """Counterexamples to the paper's claim for the squared error (see ensemble_errors)."""
    r = ensemble_errors([0.5, 0.25], 1.0, error="squared")
    assert r.of_WGM > r.expected + 0.005       # Eq. 57 fails
    r = ensemble_errors([0.5, 0.875], 0.0, error="squared")
    assert r.of_NWGM > r.expected + 0.005      # Eq. 58 fails
    for O, t in (([0.5, 0.25], 1.0), ([0.5, 0.875], 0.0)):  # relative entropy: holds
        r = ensemble_errors(O, t, error="relative_entropy")
        assert r.of_WGM <= r.expected and r.of_NWGM <= r.expected


# |lam S| <= 12 keeps 1 - O representable to ~1e-11 relative in the float64 values O.
@given(st.lists(st.floats(-4, 4), min_size=1, max_size=20), st.floats(0.05, 5), st.floats(0.1, 3))
def test_nwgm_of_logistic_is_logistic_of_mean(S, c, lam):
    """NWGM(sigma(S)) = sigma(E(S)) for every logistic (c, lam) (Eq. 39), any weights."""
    S = np.array(S)
    P = np.linspace(1, 2, S.size)
    P /= P.sum()
    O = 1 / (1 + c * np.exp(-lam * S))
    lg, lgc = -np.log1p(c * np.exp(-lam * S)), np.log(c) - lam * S - np.log1p(c * np.exp(-lam * S))
    s = summary(O, P)
    assert_allclose(s.nwgm, 1 / (1 + c * np.exp(-lam * (P @ S))), rtol=1e-9, atol=1e-12)
    assert_allclose(s.log_G, P @ lg, rtol=1e-9, atol=1e-12)
    assert_allclose(s.log_Gc, P @ lgc, rtol=1e-9, atol=1e-12)


@given(st.integers(2, 5), st.integers(1, 12), st.floats(0.2, 2.0), st.integers(0, 10**6))
def test_nwgm_of_softmax_is_softmax_of_mean(k, m, lam, seed):
    """Normalized over the units, NWGM(softmax) = softmax(lam E(S)) (Eq. 44-47)."""
    rng = np.random.default_rng(seed)
    S = rng.normal(size=(m, k))
    P = rng.uniform(0.1, 1, m)
    P /= P.sum()
    z = lam * S
    O = np.exp(z - z.max(1, keepdims=True))
    O /= O.sum(1, keepdims=True)
    lg = summary(O, P, axis=0).log_G
    nw = np.exp(lg - lg.max())
    nw /= nw.sum()
    e = np.exp(lam * (P @ S) - (lam * (P @ S)).max())
    assert_allclose(nw, e / e.sum(), rtol=1e-10)


@pytest.mark.parametrize("error", ["squared", "relative_entropy"])
def test_ensemble_errors_bad_input(error):
    with pytest.raises(ValueError, match="t"):
        ensemble_errors([0.2, 0.4], 1.5, error=error)
    with pytest.raises(ValueError, match="error"):
        ensemble_errors([0.2, 0.4], 0.5, error="hinge")

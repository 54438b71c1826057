"""The sampler's float64 logistic (a vectorized polynomial exp and log1p, logistic_impl.h)
against NumPy's libm: O, log O, log(1 - O) and sigma'(S) to a few ulp over the whole
range of S, saturation included (Eq. 27, 220)."""
import numpy as np
import pytest

import dropengine as de


@pytest.mark.parametrize("c, lam", [(1.0, 1.0), (2.5, 0.7), (0.3, 4.0)])
def test_float64_logistic_matches_libm(c, lam):
    rng = np.random.default_rng(0)
    S = np.concatenate([rng.normal(0, 1, 2000), rng.normal(0, 30, 2000), rng.uniform(-800, 800, 500),
                        [0.0, -0.0, 1e-300, -1e-300, 5e-324, 700.0, -700.0]]) / lam
    net = de.Network([np.zeros((S.size, 1))], [S], [de.Logistic(c=c, lam=lam)], dtype=np.float64)
    st = de.sample(net, np.zeros((1, 1)), None, 1, seed=0)  # one sample: the statistics are the values
    z = lam * S - np.log(c)
    log_o, log_oc = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    # log O and log(1 - O): relative precision even where O or 1 - O underflows
    np.testing.assert_allclose(st.log_G[0][0], log_o, rtol=4e-15, atol=1e-300)
    np.testing.assert_allclose(st.log_Gc[0][0], log_oc, rtol=4e-15, atol=1e-300)
    # O and sigma' (absolute near 0: exp(-708) is the kernel's smallest e)
    np.testing.assert_allclose(st.E[0][0], np.exp(log_o), rtol=4e-15, atol=1e-300 + 4e-308)
    np.testing.assert_allclose(st.E_dsigma[0][0], lam * np.exp(log_o + log_oc), rtol=8e-15, atol=1e-300 + 4e-308)

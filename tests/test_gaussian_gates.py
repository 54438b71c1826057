"""Continuous gates (issue 17, "Noise beyond Bernoulli"): GaussianGate (multiplicative
delta ~ N(mean, std^2) on units or connections), AdditiveNoise (O_j + eps_j, Section 5)
and WeightNoise (w_ij + eps_ij, Section 4.1).

- the Philox/Box-Muller draws of the NumPy twin (``_reference.draw_normals``);
- ``exact.linear_moments`` in closed form against a plain NumPy Monte Carlo written here
  from the equations (its own generator, not Philox), on chains and DAGs;
- the C++ sampler against ``linear_moments``, against the twin sample by sample, for
  NWGM = sigma(E(S)) (Eq. 39), thread counts and split runs; ``ensemble`` (E(delta));
- the gates' argument checks and the engines that refuse continuous gates.

The tests that take the ``core`` fixture need a core whose ``GateKind`` has the Gaussian
kinds and an ``_engine.gate_spec`` that accepts these gates; without them they fail with
one line saying which is missing.
"""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats as sps

import dropengine as de
from dropengine import _reference as R
from dropengine._validation import seed_key
from dropengine.exact import linear_moments

KINDS = ("gaussian_units", "gaussian_connections", "additive_noise", "weight_noise")
TOPOLOGIES = {"chain": None, "dag": [(0, 2), (0, 3), (1, 3)]}  # the input feeds every layer; 1 feeds 3
SIZES = [3, 4, 3, 2]
FIELDS = ("count", "mean", "m2", "slog", "slogc", "mean_S", "m2_S", "mean_dO", "comoment")


@pytest.fixture
def core():
    if "gaussian_units" not in de._engine.GateKind.__members__:
        pytest.fail("the C++ core has no Gaussian gate kinds yet (GateKind.gaussian_units): copy the new _core*.so")
    try:
        de._engine.gate_spec(de.GaussianGate(), make_net("chain"))
    except TypeError as e:
        pytest.fail(f"dropengine._engine.gate_spec refuses the continuous gates ({e}); its type check needs "
                    f"gates.CONTINUOUS_GATES")


def make_net(topology, transfer="linear", dtype=np.float64, sizes=SIZES, seed=3):
    return de.Network.random(sizes, transfer, skips=TOPOLOGIES[topology], seed=seed, dtype=dtype)


# --- plain gate values: one array per source unit or per connection ------------------------
def plain_values(net, kind, seed=0):
    """(mean, std) as plain arrays: for the units kinds lists over source layers
    l = 0..L-1 of (n_l,) arrays; for the connection kinds lists over layers h = 1..L of
    dicts {l: (n_h, n_l)}. Additive and weight noise have mean 0."""
    rng = np.random.default_rng(seed)
    L = net.n_layers
    if kind in ("gaussian_units", "additive_noise"):
        std = [rng.uniform(0.2, 0.8, net.sizes[l]) for l in range(L)]
        mean = [rng.uniform(0.6, 1.4, net.sizes[l]) if kind == "gaussian_units" else np.zeros(net.sizes[l])
                for l in range(L)]
        return mean, std
    std, mean = [], []
    for h in range(1, L + 1):
        shapes = {l: (net.sizes[h], net.sizes[l]) for l in net.sources(h)}
        std.append({l: rng.uniform(0.2, 0.8, s) for l, s in shapes.items()})
        mean.append({l: (rng.uniform(0.6, 1.4, s) if kind == "gaussian_connections" else np.zeros(s))
                     for l, s in shapes.items()})
    return mean, std


def de_gate(kind, mean, std):
    if kind == "gaussian_units":
        return de.GaussianGate(mean=mean, std=std, on="units")
    if kind == "gaussian_connections":
        return de.GaussianGate(mean=mean, std=std, on="connections")
    if kind == "additive_noise":
        return de.AdditiveNoise(std=std)
    return de.WeightNoise(std=std)


# --- the Monte Carlo, from the equations ---------------------------------------------------
def monte_carlo(net, x, kind, mean, std, n, rng):
    """n draws of (S^1, ..., S^L) (concatenated, shape (n, N)) of a linear network for
    input x: S^h = sum_{l in sources(h)} W_hl y^l + b^h, where, per draw,
      gaussian_units        y^l_j = delta_j a^l_j, delta_j ~ N(mean[l]_j, std[l]_j^2), one
                            draw per unit shared by every layer that reads l (Eq. 22);
      additive_noise        y^l_j = a^l_j + eps_j, eps_j ~ N(0, std[l]_j^2), likewise shared;
      gaussian_connections  W_hl,ij a_j becomes W_hl,ij delta_ij a_j, delta_ij ~ N(mean, std^2);
      weight_noise          it becomes (W_hl,ij + eps_ij) a_j, eps_ij ~ N(0, std^2);
    with a^0 = x and a^l = S^l. Biases are never noisy."""
    L = net.n_layers
    a = {0: np.broadcast_to(np.asarray(x, np.float64), (n, len(x)))}
    y = {}
    for h in range(1, L + 1):
        b = net.biases[h - 1]
        S = np.zeros((n, net.sizes[h])) + (0.0 if b is None else np.asarray(b, np.float64))
        for l, W in net.layer_weights(h).items():
            W = np.asarray(W, np.float64)
            if kind in ("gaussian_units", "additive_noise"):
                if l not in y:
                    noise = rng.standard_normal(a[l].shape) * std[l]
                    y[l] = a[l] * (mean[l] + noise) if kind == "gaussian_units" else a[l] + noise
                S = S + y[l] @ W.T
            else:
                noise = rng.standard_normal((n,) + W.shape) * std[h - 1][l]
                Wn = W * (mean[h - 1][l] + noise) if kind == "gaussian_connections" else W + noise
                S = S + np.einsum("sij,sj->si", Wn, a[l])
        a[h] = S
    return np.hstack([a[h] for h in range(1, L + 1)])


def moments_with_errors(samples):
    """(mean, covariance, their standard errors) of samples (n, N), all in float64."""
    n = samples.shape[0]
    mu = samples.mean(0)
    d = samples - mu
    prod = d[:, :, None] * d[:, None, :]
    cov = prod.mean(0)
    se_mu = np.sqrt(np.diag(cov) / n)
    se_cov = prod.std(0) / np.sqrt(n)
    return mu, cov, se_mu, se_cov


def assert_within(got, want, se, k=5.0, what=""):
    got, want, se = (np.asarray(v, np.float64) for v in (got, want, se))
    bad = np.abs(got - want) > k * se + 1e-12 * (1 + np.abs(want))
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} beyond {k} SE; worst "
                           f"{np.max(np.abs(got - want) / np.maximum(se, 1e-300)):.2f} SE\n"
                           f"got {got[bad]}\nwant {want[bad]}\nse {se[bad]}")


X2 = np.array([[0.8, -1.1, 0.0], [1.5, 0.4, -0.7]])  # an exact zero: additive noise must still reach it


# --- the draws ------------------------------------------------------------------------------
def test_twin_normals_are_standard_normal():
    key = seed_key(2014)[:2]
    z = R.draw_normals(key, 14, 0, 3, np.arange(1000), np.arange(100)).ravel()  # 100,000 draws
    n = z.size
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert sps.kstest(z, "norm").pvalue > 1e-4
    # the two elements of one counter block, and neighbouring samples, are uncorrelated
    zz = R.draw_normals(key, 17, 2, 0, np.arange(20000), [0, 1, 2, 3])
    for a, b in ((0, 1), (2, 3), (1, 2)):
        assert abs(np.corrcoef(zz[:, a], zz[:, b])[0, 1]) < 5 / math.sqrt(len(zz))
    assert abs(np.corrcoef(zz[:-1, 0], zz[1:, 0])[0, 1]) < 5 / math.sqrt(len(zz))


@pytest.mark.parametrize("stream", [15, 16, 17])
def test_every_stream_is_standard_normal(stream):
    z = R.draw_normals((7, 9), stream, 1, 0, np.arange(500), np.arange(60)).ravel()
    assert abs(z.mean()) < 5 / math.sqrt(z.size) and abs(z.var() - 1) < 5 * math.sqrt(2 / z.size)
    assert sps.kstest(z, "norm").pvalue > 1e-4


def test_draw_normals_is_deterministic_and_addressed_by_element():
    key = (123, 456)
    s = np.array([0, 1, 63, 64, 2**32 + 5])
    a = R.draw_normals(key, 15, 2, 7, s, range(11))
    assert_array_equal(a, R.draw_normals(key, 15, 2, 7, s, range(11)))
    # an element's normal does not depend on which other elements are drawn
    assert_array_equal(a[:, [7]], R.draw_normals(key, 15, 2, 7, s, [7]))
    assert_array_equal(a[[1], :], R.draw_normals(key, 15, 2, 7, [1], range(11)))
    # every part of the address changes the draw: stream, layer, input, sample (high bits too), key
    for other in (R.draw_normals(key, 14, 2, 7, s, range(11)), R.draw_normals(key, 15, 3, 7, s, range(11)),
                  R.draw_normals(key, 15, 2, 8, s, range(11)), R.draw_normals((124, 456), 15, 2, 7, s, range(11))):
        assert not np.any(other == a)
    assert not np.any(R.draw_normals(key, 15, 2, 7, [5], range(11)) == a[4])


def test_draw_normals_layout_against_the_cores_philox():
    """Element e: counter block e // 2 of (c1 = sample low bits, c2 = input, c3 = stream
    << 24 | layer << 16 | sample bits 32..47), words 2 (e % 2) and 2 (e % 2) + 1,
    u = (w + 1/2) 2^-32, z = sqrt(-2 ln u1) cos(2 pi u2): computed here from the core's own
    Philox block."""
    key, stream, layer, x = (0xDEADBEEF, 0x01234567), 16, 3, 11
    for sample in (0, 5, 2**32 + 77):
        for e in (0, 1, 2, 5, 1000):
            c3 = (stream << 24) | (layer << 16) | ((sample >> 32) & 0xFFFF)
            v = de._engine.philox4x32_10((e // 2, sample & 0xFFFFFFFF, x, c3), key)
            w0, w1 = v[2 * (e % 2)], v[2 * (e % 2) + 1]
            u1, u2 = (w0 + 0.5) * 2.0**-32, (w1 + 0.5) * 2.0**-32
            want = math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
            got = R.draw_normals(key, stream, layer, x, [sample], [e])[0, 0]
            assert got == pytest.approx(want, rel=1e-14, abs=1e-15)


# --- linear_moments in closed form ------------------------------------------------------------
@pytest.mark.parametrize("topology", list(TOPOLOGIES))
@pytest.mark.parametrize("kind", KINDS)
def test_linear_moments_match_monte_carlo(topology, kind):
    """E, Var and every covariance (units of the same and of different layers) within 5
    SE of 200,000 plain NumPy draws per input."""
    net = make_net(topology)
    mean, std = plain_values(net, kind, seed=len(kind))
    lm = linear_moments(net, X2, de_gate(kind, mean, std))
    rng = np.random.default_rng(99)
    for x in range(len(X2)):
        mu, cov, se_mu, se_cov = moments_with_errors(monte_carlo(net, X2[x], kind, mean, std, 200_000, rng))
        assert_within(np.concatenate([e[x] for e in lm.E]), mu, se_mu, what=f"E, input {x}")
        assert_within(np.concatenate([v[x] for v in lm.var]), np.diag(cov), np.diag(se_cov), what=f"Var, input {x}")
        assert_within(lm.cov[x], cov, se_cov, what=f"Cov, input {x}")
        # the noise matters here: the checks above are not satisfied by the noiseless network
        plain = linear_moments(net, X2[x:x + 1])
        assert np.abs(lm.var[-1][0] - plain.var[-1][0]).max() > 1e-3


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
def test_scalar_and_per_element_forms_agree(topology):
    """A scalar mean/std is the same as writing it out for every unit or connection."""
    net = make_net(topology)
    L = net.n_layers
    units = lambda v: [np.full(net.sizes[l], v) for l in range(L)]  # noqa: E731
    conns = lambda v: [{l: np.full((net.sizes[h], net.sizes[l]), v) for l in net.sources(h)}  # noqa: E731
                       for h in range(1, L + 1)]
    pairs = [(de.GaussianGate(0.9, 0.4), de.GaussianGate(units(0.9), units(0.4))),
             (de.GaussianGate(0.9, 0.4, on="connections"), de.GaussianGate(conns(0.9), conns(0.4), on="connections")),
             (de.AdditiveNoise(0.3), de.AdditiveNoise(units(0.3))),
             (de.WeightNoise(0.2), de.WeightNoise(conns(0.2)))]
    for a, b in pairs:
        ma, mb = linear_moments(net, X2, a), linear_moments(net, X2, b)
        assert_array_equal(ma.cov, mb.cov)


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
def test_noiseless_continuous_gates_are_the_scaled_network(topology):
    """std = 0: a Gaussian gate multiplies by its mean; additive and weight noise vanish."""
    net = make_net(topology)
    plain = linear_moments(net, X2)
    for g in (de.AdditiveNoise(0.0), de.WeightNoise(0.0), de.GaussianGate(1.0, 0.0),
              de.GaussianGate(1.0, 0.0, on="connections")):
        m = linear_moments(net, X2, g)
        assert_allclose(m.cov, plain.cov, atol=1e-15)
        for e, e0 in zip(m.E, plain.E):
            assert_allclose(e, e0, rtol=1e-14)
    m = linear_moments(net, X2, de.GaussianGate([0.5, 2.0, 1.5], 0.0))
    scaled = scale_sources(net, [0.5, 2.0, 1.5])
    for e, e0 in zip(m.E, linear_moments(scaled, X2).E):
        assert_allclose(e, e0, rtol=1e-13)
    assert np.abs(m.cov).max() < 1e-12


def scale_sources(net, factor):
    """The network with every weight leaving source layer l multiplied by factor[l] (a
    scalar or a vector over layer l's units)."""
    weights = []
    for h in range(1, net.n_layers + 1):
        lw = {l: np.asarray(W, np.float64) * np.asarray(factor[l], np.float64) for l, W in net.layer_weights(h).items()}
        weights.append(lw[h - 1] if net.sources(h) == (h - 1,) else lw)
    return de.Network(weights, [None if b is None else np.asarray(b, np.float64) for b in net.biases],
                      list(net.transfers), dtype=net.dtype)


def scale_connections(net, factor):
    """The network with W_hl multiplied elementwise by factor[h - 1][l]."""
    weights = []
    for h in range(1, net.n_layers + 1):
        lw = {l: np.asarray(W, np.float64) * factor[h - 1][l] for l, W in net.layer_weights(h).items()}
        weights.append(lw[h - 1] if net.sources(h) == (h - 1,) else lw)
    return de.Network(weights, list(net.biases), list(net.transfers), dtype=net.dtype)


def inverted_dropout(net, keep, on):
    """(the network with weights divided by their keep probabilities, Dropout(keep))."""
    if on == "units":
        return scale_sources(net, [1.0 / np.asarray(k) for k in keep]), de.Dropout(keep, on="units")
    return (scale_connections(net, [{l: 1.0 / k for l, k in kh.items()} for kh in keep]),
            de.Dropout(keep, on="connections"))


def dropout_keeps(net, on, seed=4):
    rng = np.random.default_rng(seed)
    if on == "units":
        return [rng.uniform(0.3, 0.9, net.sizes[l]) for l in range(net.n_layers)]
    return [{l: rng.uniform(0.3, 0.9, (net.sizes[h], net.sizes[l])) for l in net.sources(h)}
            for h in range(1, net.n_layers + 1)]


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
@pytest.mark.parametrize("on", ["units", "connections"])
def test_gaussian_dropout_has_the_moments_of_inverted_dropout(topology, on):
    """GaussianGate(1, sqrt((1 - p) / p)) and Dropout(p) with the weights divided by p:
    the same E(S), Var(S) and covariances in closed form."""
    net = make_net(topology)
    keep = dropout_keeps(net, on)
    gauss = linear_moments(net, X2, de.GaussianGate.from_dropout(keep, on=on))
    inv_net, drop = inverted_dropout(net, keep, on)
    bern = linear_moments(inv_net, X2, drop)
    for a, b in zip(gauss.E + gauss.var, bern.E + bern.var):
        assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert_allclose(gauss.cov, bern.cov, rtol=1e-12, atol=1e-14)


# --- argument checks and refusals ----------------------------------------------------------------
@pytest.mark.parametrize("make,exc,word", [
    (lambda: de.GaussianGate(std=-0.1), ValueError, "std"),
    (lambda: de.GaussianGate(std=float("nan")), ValueError, "std"),
    (lambda: de.GaussianGate(std=True), TypeError, "std"),
    (lambda: de.GaussianGate(std="1"), TypeError, "std"),
    (lambda: de.GaussianGate(std=[0.1, -1.0, 0.2]), ValueError, "std[1]"),
    (lambda: de.GaussianGate(std=np.ones(3)), ValueError, "std"),
    (lambda: de.GaussianGate(mean=float("inf")), ValueError, "mean"),
    (lambda: de.GaussianGate(mean=False), TypeError, "mean"),
    (lambda: de.GaussianGate(mean=[1.0, None, 1.0]), TypeError, "mean[1]"),
    (lambda: de.GaussianGate(1.0, 0.5, on="weights"), ValueError, "on"),
    (lambda: de.GaussianGate(std=[{0: -1.0}], on="connections"), ValueError, "std[0][0]"),
    (lambda: de.GaussianGate.from_dropout(0.0), ValueError, "keep"),
    (lambda: de.GaussianGate.from_dropout(1.5), ValueError, "keep"),
    (lambda: de.AdditiveNoise(-1.0), ValueError, "std"),
    (lambda: de.AdditiveNoise(np.inf), ValueError, "std"),
    (lambda: de.AdditiveNoise(0.1, on="connections"), ValueError, "on"),
    (lambda: de.AdditiveNoise(), TypeError, "std"),
    (lambda: de.WeightNoise([0.1, -0.2]), ValueError, "std[1]"),
    (lambda: de.WeightNoise({0: 0.1}), TypeError, "std"),
    (lambda: de.WeightNoise(None), TypeError, "std"),
])
def test_construction_errors_name_the_argument(make, exc, word):
    with pytest.raises(exc, match=word.replace("[", r"\[").replace("]", r"\]")):
        make()


@pytest.mark.parametrize("gate,word", [
    (de.GaussianGate(std=[0.1, 0.2]), "std must have one entry per layer"),
    (de.GaussianGate(mean=[1.0, 1.0, 1.0, 1.0]), "mean must have one entry per layer"),
    (de.GaussianGate(std=[0.1, np.ones(3), 0.1]), r"std\[1\] must be a scalar or shape \(4,\)"),
    (de.AdditiveNoise([0.1, 0.1, np.ones(4)]), r"std\[2\] must be a scalar or shape \(3,\)"),
    (de.GaussianGate(std=[np.ones((3, 4)), 0.1, 0.1], on="connections"), r"std\[0\] must be a scalar"),
    (de.WeightNoise([0.1, {0: 0.1}, 0.1]), r"std\[1\] must have one entry per source layer"),
    (de.GaussianGate(1e39, 0.1), "mean must be finite in the network's float32"),
    (de.WeightNoise(1e39), "std must be finite in the network's float32"),
])
def test_resolve_checks_the_values_against_the_network(gate, word):
    net = make_net("dag", dtype=np.float32)
    with pytest.raises(ValueError, match=word):
        gate.resolve(net)


def test_resolve_returns_the_contracts_four_tuple():
    """(kind, std per layer, [], mean per layer), shaped as Dropout's keep on the same net."""
    net = make_net("dag")
    L = net.n_layers
    kind, std, kb, mean = de.GaussianGate([1.0, np.full(4, 0.9), 1.1], 0.3).resolve(net)
    assert kind == "gaussian_units" and kb == [] and len(std) == len(mean) == L
    assert [a.shape for a in mean] == [(1,), (4,), (1,)] and all(a.dtype == np.float64 for a in std + mean)
    kind, std, kb, mean = de.GaussianGate(1.0, [0.1, 0.2, np.ones((2, 10))], on="connections").resolve(net)
    assert kind == "gaussian_connections" and [a.shape for a in std] == [(1,), (1,), (20,)]
    assert [a.size for a in de.Dropout([1.0, 1.0, np.ones((2, 10))], on="connections").resolve(net)[1]] == \
        [a.size for a in std]
    for g, name in ((de.AdditiveNoise(0.2), "additive_noise"), (de.WeightNoise(0.2), "weight_noise")):
        kind, std, kb, mean = g.resolve(net)
        assert kind == name and kb == [] and len(mean) == L
        assert all(np.array_equal(m, np.zeros(1)) for m in mean)


def test_repr_round_trips():
    for g in (de.GaussianGate(0.9, 0.4, on="connections"), de.AdditiveNoise(0.2), de.WeightNoise([0.1, 0.2, 0.3])):
        again = eval(repr(g), {k: getattr(de, k) for k in ("GaussianGate", "AdditiveNoise", "WeightNoise")})
        assert repr(again) == repr(g)


@pytest.mark.parametrize("gate", [de.GaussianGate(1.0, 0.5), de.AdditiveNoise(0.1), de.WeightNoise(0.1)], ids=repr)
def test_bernoulli_only_engines_refuse_continuous_gates(gate):
    net = make_net("chain", transfer="logistic")
    msg = "exact.enumerate: Gaussian gates are continuous; use sample or exact.linear_moments"
    with pytest.raises(ValueError, match="^" + msg.replace(".", r"\.") + "$"):
        de.exact.enumerate(net, X2, gate)
    with pytest.raises(ValueError, match="Gaussian gates are continuous"):
        de.exact.n_subnetworks(net, gate)
    with pytest.raises(ValueError, match="Gaussian gates are continuous"):
        de.exact.dropout_gradient(net, X2, np.zeros((2, 2)), gate, loss="squared")


@pytest.mark.parametrize("gate", [de.GaussianGate(0.9, 0.4), de.GaussianGate(1.0, 0.3, on="connections"),
                                  de.AdditiveNoise(0.1), de.WeightNoise(0.1)], ids=repr)
def test_training_with_continuous_gates_learns_and_resumes(gate, tmp_path):
    # Forward noise in training (Sections 4.1, 5); the gradient of one noisy step is
    # checked against finite differences in tests/test_train_noise.py.
    rng = np.random.default_rng(6)
    centers = np.array([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0]])
    y = rng.integers(0, 3, 300)
    X = centers[y] + rng.normal(size=(300, 3)) * 0.5
    net = de.Network.random([3, 8, 3], ["logistic", "softmax"], seed=1, skips=None)
    tr = de.Trainer(net, gate, loss="cross_entropy", batch_size=20, learning_rate=0.5, momentum=0.5, seed=2)
    start = list(tr.history["train_error"])
    tr.fit(X, y, 3)
    again = de.Trainer.load(tr.save(tmp_path / "ck.npz"))
    assert repr(again.gate) == repr(gate)
    tr.fit(X, y, 6)
    again.fit(X, y, 6)
    for a, b in zip(tr.network.weights, again.network.weights):
        np.testing.assert_array_equal(a, b)  # resumed bit for bit, the same draws
    assert start == [] and tr.history["train_error"][-1] < 0.2, tr.history["train_error"]


# --- the C++ sampler (needs the core) ---------------------------------------------------------
def sampled_moments(net, gate, n, seed=5, threads=None):
    """The sampler's statistics and, from its raw records, the standard errors of E(S),
    Var(S) and of the covariances of the requested pairs (every pair of units)."""
    N = sum(net.sizes[1:])
    idx = [(h, i) for h in range(net.n_layers) for i in range(net.sizes[h + 1])]
    pairs = [(idx[a], idx[b]) for a in range(N) for b in range(a + 1, N)]
    st = de.sample(net, X2, gate, n, seed=seed, record=list(range(net.n_layers)), pairs=pairs, threads=threads)
    out = []
    for x in range(len(X2)):
        S = np.hstack([np.asarray(st.records[h][x], np.float64) for h in range(net.n_layers)])
        out.append(moments_with_errors(S))
    return st, pairs, out


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
@pytest.mark.parametrize("kind", KINDS)
def test_sampler_matches_linear_moments(core, topology, kind):
    net = make_net(topology)
    gate = de_gate(kind, *plain_values(net, kind, seed=len(kind)))
    lm = linear_moments(net, X2, gate)
    st, pairs, errs = sampled_moments(net, gate, 40_000)
    offsets = np.cumsum((0,) + net.sizes[1:])
    for x, (_, _, se_mu, se_cov) in enumerate(errs):
        assert_within(np.concatenate([e[x] for e in st.E_S]), np.concatenate([e[x] for e in lm.E]), se_mu,
                      what=f"E(S), input {x}")
        assert_within(np.concatenate([v[x] for v in st.var_S]), np.concatenate([v[x] for v in lm.var]),
                      np.diag(se_cov), what=f"Var(S), input {x}")
        ab = [(offsets[ha] + ia, offsets[hb] + ib) for (ha, ia), (hb, ib) in pairs]
        want = np.array([lm.cov[x, a, b] for a, b in ab])
        se = np.array([se_cov[a, b] for a, b in ab])
        assert_within(st.cov[x], want, se, what=f"Cov, input {x}")


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
@pytest.mark.parametrize("on", ["units", "connections"])
def test_sampled_gaussian_dropout_has_the_moments_of_inverted_dropout(core, topology, on):
    net = make_net(topology)
    keep = dropout_keeps(net, on)
    inv_net, drop = inverted_dropout(net, keep, on)
    bern = linear_moments(inv_net, X2, drop)
    st, _, errs = sampled_moments(net, de.GaussianGate.from_dropout(keep, on=on), 40_000, seed=8)
    for x, (_, _, se_mu, se_cov) in enumerate(errs):
        assert_within(np.concatenate([e[x] for e in st.E_S]), np.concatenate([e[x] for e in bern.E]), se_mu)
        assert_within(np.concatenate([v[x] for v in st.var_S]), np.concatenate([v[x] for v in bern.var]),
                      np.diag(se_cov))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_nwgm_is_sigma_of_the_sampled_mean(core, kind, dtype):
    """Eq. 39 (and Eq. 47 for the softmax output) for any distribution: NWGM from the
    samples' geometric means equals sigma(E(S)) from the same samples, to rounding."""
    net = make_net("dag", transfer=[de.Logistic(), de.Logistic(c=2.0, lam=1.5), de.Softmax(lam=1.2)], dtype=dtype)
    gate = de_gate(kind, *plain_values(net, kind))
    st = de.sample(net, X2, gate, 3000, seed=11)
    tol = dict(rtol=1e-10, atol=1e-13) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-6)
    for h, f in enumerate(net.transfers):
        assert_allclose(st.nwgm[h], R.transfer(f, st.E_S[h])[0], **tol, err_msg=f"layer {h}")
    assert np.abs(st.E[0] - st.nwgm[0]).max() > 1e-4  # the noise is there: E(O) is not NWGM


TWIN_TOL = {np.float32: dict(rtol=1e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def twin_gates(net):
    """Each kind with mixed forms: scalars, per-layer, per-unit and per-connection values."""
    L = net.n_layers
    rng = np.random.default_rng(6)
    last = (net.sizes[L], sum(net.sizes[l] for l in net.sources(L)))
    return [de.GaussianGate(mean=[1.0, rng.uniform(0.5, 1.5, net.sizes[1]), 0.8],
                            std=[rng.uniform(0.1, 0.9, net.sizes[0]), 0.5, 0.0]),
            de.GaussianGate(mean=1.0, std=[0.5, 0.0, rng.uniform(0, 1, last)], on="connections"),
            de.AdditiveNoise([0.3, rng.uniform(0.1, 0.9, net.sizes[1]), 0.2]),
            de.WeightNoise([rng.uniform(0, 0.4, (net.sizes[1], net.sizes[0])), 0.5, 0.3])]


@pytest.mark.parametrize("topology", ["chain", "dag"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("which", range(4), ids=KINDS)
def test_sampler_matches_the_twin_sample_by_sample(core, topology, dtype, which):
    net = make_net(topology, transfer=["tanh", "relu", "logistic"], dtype=dtype, sizes=[3, 5, 4, 2])
    gate = twin_gates(net)[which]
    n, first_sample, first_input = 130, 2**32 - 7, 3  # blocks cut mid-way; samples past 2^32
    st = de.sample(net, X2, gate, n, seed=99, record=[0, 1, 2], first_sample=first_sample, first_input=first_input)
    S, O = R.sample_reference(net, X2, gate, n, seed_key(99)[:2], first_sample=first_sample, first_input=first_input)
    for h in range(3):
        assert_allclose(st.records[h], O[h], **TWIN_TOL[dtype], err_msg=f"layer {h}")
    ref = R.stats_reference(net, S, O)
    for name in ("E", "var", "E_S", "var_S"):
        for h in range(3):
            assert_allclose(getattr(st, name)[h], ref[name][h], **TWIN_TOL[dtype], err_msg=f"{name}[{h}]")


@pytest.mark.parametrize("which", range(4), ids=KINDS)
def test_thread_count_and_split_runs_give_the_same_bits(core, which):
    net = make_net("dag", transfer=["logistic", "relu", "softmax"], dtype=np.float32, sizes=[6, 8, 7, 3])
    gate = twin_gates(net)[which]
    pairs = [((0, 1), (1, 2)), ((0, 3), (2, 1))]
    one, two = (de.sample(net, X2[:, :3].repeat(2, 1), gate, 500, seed=42, threads=t, pairs=pairs) for t in (1, 2))
    assert all(one._acc[k].tobytes() == two._acc[k].tobytes() for k in FIELDS)
    B = de.build_info()["block_samples"]
    n = 2 * 4 * B
    X6 = X2[:, :3].repeat(2, 1)
    whole = de.sample(net, X6, gate, n, seed=9, pairs=pairs)
    a = de.sample(net, X6, gate, n // 2, seed=9, pairs=pairs)
    b = de.sample(net, X6, gate, n // 2, seed=9, pairs=pairs, first_sample=n // 2)
    m = a.merge(b)
    assert all(m._acc[k].tobytes() == whole._acc[k].tobytes() for k in FIELDS)
    part = de.sample(net, X6[1:], gate, n, seed=9, pairs=pairs, first_input=1)
    assert all(whole._acc[k][1:].tobytes() == part._acc[k].tobytes() for k in FIELDS)


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ensemble_uses_the_mean_of_the_noise(core, topology, dtype):
    """E(delta) = mean: a units gate is the plain ensemble of the network whose weights
    leaving unit j are multiplied by mean_j, a connections gate of W * M; additive and
    weight noise have mean 0 and give the plain network."""
    net = make_net(topology, transfer=["tanh", "logistic", "softmax"], dtype=dtype)
    tol = TWIN_TOL[dtype]
    rng = np.random.default_rng(2)
    mu = [rng.uniform(0.5, 1.5, net.sizes[l]) for l in range(net.n_layers)]
    M = [{l: rng.uniform(0.5, 1.5, (net.sizes[h], net.sizes[l])) for l in net.sources(h)}
         for h in range(1, net.n_layers + 1)]
    cases = [(de.GaussianGate(mu, 0.7), scale_sources(net, mu)),
             (de.GaussianGate(M, 0.7, on="connections"), scale_connections(net, M)),
             (de.GaussianGate(0.6, 0.7), scale_sources(net, [0.6] * net.n_layers)),
             (de.AdditiveNoise(0.4), net), (de.WeightNoise(0.4), net)]
    for gate, plain in cases:
        U, W = de.ensemble(net, X2, gate)
        U0, W0 = de.ensemble(plain, X2, None)
        for h in range(net.n_layers):
            assert_allclose(U[h], U0[h], **tol, err_msg=f"{gate!r}: U[{h}]")
            assert_allclose(W[h], W0[h], **tol, err_msg=f"{gate!r}: W[{h}]")


# Golden hashes of short runs, one per kind (as tests/test_determinism.py does for the
# Bernoulli gates): they fail when the Gaussian streams or the reduction change. When that
# is intended, bump kStreamVersion (cpp/include/dropengine/rng_streams.h) and update them
# together. They assume IEEE float64 and the libm (log, cos) of x86-64 Linux. The kinds on
# units go through the zero-skipping product, whose AVX2/AVX-512 versions fuse
# multiply-adds: one hash per dispatched level for them (tests/test_determinism.py).
GOLDEN_HASHES = {
    "gaussian_units": {"generic": "6a9bf37f19d51164d306b6e47061d4aa4e2366742d0760c1c2264fbbbe99f6a2",
                       "avx2": "c8e4d7f7c93e7e79647356ff1535860ff6970a22079ecf64e35bd8d636f3ce65",
                       "avx512": "c8e4d7f7c93e7e79647356ff1535860ff6970a22079ecf64e35bd8d636f3ce65"},
    "gaussian_connections": "4394ff3ecc3e02ed0cd392058798a15bf2664566004cb851fd6ea22b4ffdb41c",
    "additive_noise": {"generic": "2c8c9590b7d49596450ec081e9f8b9143dc9dd785108e8a48b901a7f1f3f6dae",
                       "avx2": "438900e19fe0c8c015e42b0154379845124a5d97e3014d939896469c48fb940a",
                       "avx512": "438900e19fe0c8c015e42b0154379845124a5d97e3014d939896469c48fb940a"},
    "weight_noise": "d952f2db052b0ccd0288736fd2a6922a593df8564055450f84fba0aba7392539",
}


def golden_hash(gate):
    import hashlib

    net = de.Network([np.arange(12.0).reshape(4, 3) / 10 - 0.5, np.arange(8.0).reshape(2, 4) / 8 - 0.5],
                     [np.array([0.1, -0.1, 0.2, 0.0]), None], ["logistic", "logistic"], dtype=np.float64)
    st = de.sample(net, np.array([[1.0, -0.5, 0.25]]), gate, 500, seed=2014)
    return hashlib.sha256(b"".join(st._acc[k].tobytes() for k in FIELDS)).hexdigest()


GOLDEN_GATES = {"gaussian_units": de.GaussianGate(1.0, [0.6, 0.4]),
                "gaussian_connections": de.GaussianGate(0.9, 0.5, on="connections"),
                "additive_noise": de.AdditiveNoise([0.3, 0.2]), "weight_noise": de.WeightNoise(0.25)}


@pytest.mark.parametrize("kind", KINDS)
def test_golden_hash(core, kind):
    h = golden_hash(GOLDEN_GATES[kind])
    assert de.build_info()["stream_version"] == 4
    want = GOLDEN_HASHES[kind]
    assert h == (want[de.build_info()["simd"]] if isinstance(want, dict) else want), h


@pytest.mark.parametrize("gate", [de.AdditiveNoise(0.0), de.WeightNoise(0.0), de.GaussianGate(1.0, 0.0),
                                  de.GaussianGate(1.0, 0.0, on="connections")], ids=repr)
def test_no_noise_is_the_plain_network_bit_for_bit(gate, core):
    # std 0 (and mean 1) draws nothing: the layer takes the plain product, so the
    # statistics are those of no gate, to the bit.
    net = de.Network.random([5, 4, 3], ["logistic", "softmax"], seed=0, dtype=np.float64)
    X = np.random.default_rng(0).uniform(size=(2, 5))
    a, b = de.sample(net, X, gate, 256, seed=1), de.sample(net, X, de.NoGate(), 256, seed=1)
    for x, y in zip(a.E + a.var, b.E + b.var):
        np.testing.assert_array_equal(x, y)

"""from_torch through torch.fx (issue 17): modules with skip connections (+ of Linear
outputs) and concatenations become networks with skip connections (Eq. 21), checked
against PyTorch's own outputs; to_torch of a DAG and back; one-line errors naming nodes."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import dropengine as de  # noqa: E402
from dropengine.torch import from_torch, to_torch  # noqa: E402

nn = torch.nn
F = nn.functional


class Skips(nn.Module):
    """Layer 1 = sigmoid(fc1 x); layer 2 = relu(fc2 d1(h1) + skip x) (a sum of Linears of
    two lower layers, both with biases); layer 3 = tanh(fc3 cat[d1(h1), h2, x]) (one
    Dropout node shared by two receivers); layer 4 = softmax(out h3 + res h1)."""

    def __init__(self, p1=0.0, p3=0.0):
        super().__init__()
        self.fc1, self.fc2, self.skip = nn.Linear(4, 5), nn.Linear(5, 3), nn.Linear(4, 3)
        self.fc3, self.out, self.res = nn.Linear(5 + 3 + 4, 4), nn.Linear(4, 3), nn.Linear(5, 3, bias=False)
        self.d1, self.d3 = nn.Dropout(p1), nn.Dropout(p3)

    def forward(self, x):
        h1 = torch.sigmoid(self.fc1(x))
        d1 = self.d1(h1)
        h2 = F.relu(self.fc2(d1) + self.skip(x))
        h3 = torch.tanh(self.fc3(torch.cat([d1, h2, x], dim=1)))
        return F.softmax(self.out(self.d3(h3)) + self.res(d1), dim=-1)


class Functional(nn.Module):
    """Tensor methods, F.softplus(beta), F.dropout(training=...), torch.add, an inner
    nn.Sequential, Identity, a linear layer (no activation) feeding two layers through
    one dropout, and a final sum of Linears without activation (a linear output layer)."""

    def __init__(self):
        super().__init__()
        self.block = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
        self.lin, self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 2), nn.Linear(3, 2)
        self.c, self.d, self.g = nn.Linear(4, 3), nn.Linear(2, 3), nn.Linear(3, 2)
        self.e, self.f = nn.Linear(4, 3), nn.Linear(2, 3)
        self.ident = nn.Identity()

    def forward(self, x):
        h1 = self.block(x)  # layer 1
        dl = F.dropout(self.ident(self.lin(h1)), 0.25, training=self.training)  # layer 2, linear, keep 0.75
        h3 = F.softplus(torch.add(self.a(dl), self.b(x)), beta=2.0)  # layer 3 from layers 0 and 2
        h4 = (self.c(h1) + self.d(h3)).sigmoid()  # layer 4 from layers 1 and 3
        h5 = self.g(h4).tanh()  # layer 5
        return self.e(dl) + self.f(h5)  # layer 6, linear, from layers 2 and 5


def _eval(model, X):
    with torch.no_grad():
        return model.eval()(torch.from_numpy(X)).numpy()


X4 = np.random.default_rng(0).normal(size=(6, 4))


@pytest.mark.parametrize("dtype, tol", [(torch.float32, dict(rtol=2e-6, atol=1e-6)),
                                        (torch.float64, dict(rtol=1e-13, atol=1e-15))])
def test_skips_and_concatenation_equal_pytorch(dtype, tol):
    torch.manual_seed(0)
    model = Skips().to(dtype)
    net, gate = from_torch(model)
    assert isinstance(gate, de.NoGate)
    assert net.dtype == (np.float32 if dtype == torch.float32 else np.float64)
    assert [net.sources(h) for h in (1, 2, 3, 4)] == [(0,), (0, 1), (0, 1, 2), (1, 3)]
    assert [f.name for f in net.transfers] == ["logistic", "relu", "tanh", "softmax"]
    X = X4.astype(net.dtype)
    _, outs = de.forward(net, X)
    np.testing.assert_allclose(outs[-1], _eval(model, X), **tol)
    # the Linear over cat([h1, h2, x]) is split at the parts; the biases of a sum add up
    W3 = model.fc3.weight.detach().double().numpy()
    lw = net.layer_weights(3)
    np.testing.assert_array_equal(lw[1], W3[:, :5].astype(net.dtype))
    np.testing.assert_array_equal(lw[2], W3[:, 5:8].astype(net.dtype))
    np.testing.assert_array_equal(lw[0], W3[:, 8:].astype(net.dtype))
    want_b2 = (model.fc2.bias + model.skip.bias).detach().double().numpy()
    np.testing.assert_allclose(net.biases[1], want_b2, rtol=1e-7 if dtype == torch.float32 else 1e-15)


def test_dropout_keeps_carry_over_and_eval_mode_is_the_ensemble():
    torch.manual_seed(1)
    model = Skips(p1=0.4, p3=0.25).double()
    net, gate = from_torch(model)
    assert isinstance(gate, de.Dropout) and gate.on == "units"
    assert gate.keep == [1.0, 0.6, 1.0, 0.75]  # keep[l]: the units of layer l (0 = the input)
    # the weights reading a dropped layer are divided by its keep (inverted dropout)
    np.testing.assert_allclose(net.layer_weights(2)[1], model.fc2.weight.detach().numpy() / 0.6, rtol=1e-15)
    np.testing.assert_allclose(net.layer_weights(4)[3], model.out.weight.detach().numpy() / 0.75, rtol=1e-15)
    _, W = de.ensemble(net, X4, gate)
    np.testing.assert_allclose(W[-1], _eval(model, X4), rtol=1e-12, atol=1e-15)


def test_train_mode_samples_are_the_engines_subnetworks():
    """One Dropout node feeding two layers is one coin per unit shared by both (Eq. 22):
    the means of PyTorch's train-mode outputs and the engine's samples agree within 5
    standard errors (fixed seeds)."""
    torch.manual_seed(2)
    model = Skips(p1=0.5, p3=0.3).double().train()
    net, gate = from_torch(model)
    X = X4[:2]
    n = 20_000
    torch.manual_seed(3)
    with torch.no_grad():
        outs = model(torch.from_numpy(X).repeat(n, 1)).numpy().reshape(n, 2, -1)
    st = de.sample(net, X, gate, n, seed=4)
    se = np.sqrt(outs.var(axis=0) / n + st.var[-1] / n)
    assert np.all(np.abs(outs.mean(axis=0) - st.E[-1]) <= 5 * se)
    assert np.abs(outs.mean(axis=0) - _eval(model, X)).max() > 5 * se.max()  # not vacuous: E(O) != eval


def test_functional_forms_and_linear_layers():
    torch.manual_seed(3)
    model = Functional().double()
    net, gate = from_torch(model)
    assert [f.name for f in net.transfers] == ["tanh", "linear", "softplus", "logistic", "tanh", "linear"]
    assert [net.sources(h) for h in range(1, 7)] == [(0,), (1,), (0, 2), (1, 3), (4,), (2, 5)]
    assert net.transfers[2].lam == 2.0
    assert gate.keep == [1.0, 1.0, 0.75, 1.0, 1.0, 1.0]
    _, W = de.ensemble(net, X4[:, :3], gate)
    np.testing.assert_allclose(W[-1], _eval(model, X4[:, :3]), rtol=1e-12, atol=1e-15)


def test_to_torch_round_trip_of_a_dag():
    net = de.Network.random([4, 5, 3, 2], ["tanh", "logistic", "softmax"], seed=5, dtype=np.float64,
                            skips=[(0, 2), (0, 3), (1, 3)])
    net = de.Network([net.weights[0], dict(net.weights[1]), dict(net.weights[2])],
                     [net.biases[0], None, net.biases[2]], list(net.transfers), dtype=np.float64)
    gate = de.Dropout([0.8, 0.5, 0.7])
    model = to_torch(net, gate)
    _, W = de.ensemble(net, X4, gate)
    np.testing.assert_allclose(_eval(model, X4), W[-1], rtol=1e-12, atol=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one Dropout per source layer, shared: no warning
        back, gate2 = from_torch(model)
    assert gate2.keep == [0.8, 0.5, 0.7]
    assert [back.sources(h) for h in (1, 2, 3)] == [net.sources(h) for h in (1, 2, 3)]
    for h in (1, 2, 3):
        for l, Wl in net.layer_weights(h).items():
            np.testing.assert_allclose(back.layer_weights(h)[l], Wl, rtol=1e-15)
    assert back.biases[1] is None and np.array_equal(back.biases[2], net.biases[2])
    # no gate: a module without Dropout, whose outputs are de.forward's
    plain = to_torch(net)
    np.testing.assert_allclose(_eval(plain, X4), de.forward(net, X4)[1][-1], rtol=1e-12, atol=1e-15)
    assert isinstance(from_torch(plain)[1], de.NoGate)
    with pytest.raises(ValueError, match="per-unit keep"):
        to_torch(net, de.Dropout([0.8, [0.5, 0.6, 0.5, 0.5, 0.5], 0.7]))
    with pytest.raises(ValueError, match="only dropout on units"):
        to_torch(net, de.Dropout(0.5, on="connections"))


# --- refusals: one line, naming the node ----------------------------------------------------
class _Model(nn.Module):
    def __init__(self, forward, **modules):
        super().__init__()
        for k, m in modules.items():
            setattr(self, k, m)
        self._f = forward

    def forward(self, x):
        return self._f(self, x)


def _refused(model, pattern, exc=ValueError):
    with pytest.raises(exc, match=pattern) as info:
        from_torch(model)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("from_torch: "), msg
    return msg


def test_unsupported_nodes_are_named():
    conv = _Model(lambda s, x: s.fc(s.conv1(x).flatten(1)), conv1=nn.Conv2d(1, 2, 3), fc=nn.Linear(8, 2))
    _refused(conv, r"^from_torch: node 'conv1' \(Conv2d\) is not supported; supported: Linear")
    mul = _Model(lambda s, x: torch.sigmoid(s.a(x) * s.b(x)), a=nn.Linear(3, 2), b=nn.Linear(3, 2))
    _refused(mul, r"^from_torch: node 'mul' \(mul\) is not supported")
    # an activation of a sum with a non-Linear term: the addition is named
    res = _Model(lambda s, x: torch.sigmoid(s.fc(x) + x), fc=nn.Linear(3, 3))
    _refused(res, r"^from_torch: node 'add' \(add\) adds 'x', which is not the output of a Linear")
    act_in = _Model(lambda s, x: s.fc(torch.relu(x)), fc=nn.Linear(3, 3))
    _refused(act_in, r"^from_torch: node 'relu' \(relu\) applies an activation to 'x', which is not the output "
                     r"of a Linear")
    method = _Model(lambda s, x: s.fc(x).exp(), fc=nn.Linear(3, 3))
    _refused(method, r"^from_torch: node 'exp' \(Tensor.exp\) is not supported")
    param = _Model(lambda s, x: s.fc(x) + s.fc.bias, fc=nn.Linear(3, 3))
    _refused(param, r"^from_torch: node 'fc_bias' \(get_attr\) is not supported")
    _refused(_Model(lambda s, x: s.fc(s.drop(x)).softmax(dim=0), fc=nn.Linear(3, 3), drop=nn.Dropout(0.5)),
             r"node 'softmax' \(Tensor.softmax\) is not supported; Softmax must act on the last dimension")
    _refused(_Model(lambda s, x: torch.cat([s.a(x), s.b(x)], dim=0), a=nn.Linear(3, 2), b=nn.Linear(3, 2)),
             r"node 'cat' \(cat\) is not supported; torch.cat must join")
    _refused(_Model(lambda s, x: (s.a(x), s.b(x)), a=nn.Linear(3, 2), b=nn.Linear(3, 2)),
             r"must return one tensor")
    _refused(_Model(lambda s, x: torch.cat([torch.tanh(s.a(x)), x], dim=1), a=nn.Linear(3, 2)),
             r"node 'cat' \(output\): the model must return the output of one layer")
    _refused(_Model(lambda s, x: s.drop(torch.tanh(s.a(x))), a=nn.Linear(3, 2), drop=nn.Dropout(0.2)),
             r"node 'drop': a final Dropout")
    _refused(_Model(lambda s, x: s.a(x) if x.sum() > 0 else x, a=nn.Linear(3, 2)),
             r"^from_torch: torch.fx cannot trace _Model")
    _refused(_Model(lambda s, x: s.b(s.d2(s.d1(x))), b=nn.Linear(3, 2), d1=nn.Dropout(0.2), d2=nn.Dropout(0.3)),
             r"node 'd2' \(Dropout\) is not supported; two Dropouts in a row")


def test_one_keep_per_unit():
    # layer 1 read through a Dropout by one Linear and directly by another: refused
    two = _Model(lambda s, x: torch.tanh(s.b(s.drop(h := torch.tanh(s.a(x)))) + s.c(h)),
                 a=nn.Linear(3, 3), b=nn.Linear(3, 2), c=nn.Linear(3, 2), drop=nn.Dropout(0.5))
    _refused(two, r"^from_torch: node 'c' \(Linear\) reads layer 1 \(the output of 'tanh'\) with keep 1 \(no "
                  r"Dropout\), but node 'b' \(Linear\) reads it with keep 0.5 \(Dropout 'drop'\): the engine has "
                  r"one keep per unit")
    # two Dropout calls with the same p: accepted, with a warning (PyTorch draws twice)
    same = _Model(lambda s, x: torch.tanh(s.b(s.d1(h := torch.tanh(s.a(x)))) + s.c(s.d2(h))),
                  a=nn.Linear(3, 3), b=nn.Linear(3, 2), c=nn.Linear(3, 2), d1=nn.Dropout(0.5), d2=nn.Dropout(0.5))
    with pytest.warns(UserWarning, match=r"layer 1 \(the output of 'tanh'\) goes through 2 Dropout calls \(d1, d2\)"):
        net, gate = from_torch(same)
    assert gate.keep == [1.0, 0.5]


def test_a_wrapped_sequential_converts_as_the_sequential():
    torch.manual_seed(4)
    seq = nn.Sequential(nn.Dropout(0.2), nn.Linear(4, 5), nn.Sigmoid(), nn.Dropout(0.5), nn.Linear(5, 3),
                        nn.Softmax(dim=1)).double()
    a, ga = from_torch(seq)
    b, gb = from_torch(_Model(lambda s, x: s.seq(x), seq=seq))
    assert ga.keep == gb.keep == [0.8, 0.5]
    assert b.is_chain and [f.name for f in b.transfers] == [f.name for f in a.transfers]
    for u, v in zip(a.weights, b.weights):
        np.testing.assert_array_equal(u, v)
    # the Sequential path accepts Linear -> Dropout -> ReLU (dropout on sums commutes with
    # ReLU); the traced path asks for the Dropout after the activation
    pre = _Model(lambda s, x: s.b(torch.relu(s.drop(s.a(x)))), a=nn.Linear(3, 3), b=nn.Linear(3, 2),
                 drop=nn.Dropout(0.5))
    _refused(pre, r"^from_torch: node 'relu' \(relu\) applies an activation to the output of Dropout 'drop'")

"""PyTorch models in and out (dropengine.torch), against PyTorch itself."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import dropengine as de  # noqa: E402
from dropengine.torch import from_torch, to_torch  # noqa: E402

nn = torch.nn


def _trained(model, steps=300, lr=0.5):
    """Trains `model` with its dropout on (train mode) for a few hundred SGD steps on a
    fixed synthetic classification task, so the conversion is checked on learned weights."""
    g = torch.Generator().manual_seed(7)
    X = torch.rand(256, 8, generator=g, dtype=torch.float64)
    y = (X[:, :3].sum(1) > X[:, 3:6].sum(1)).long() + (X[:, 6] > 0.5).long()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    for step in range(steps):
        idx = torch.randint(0, 256, (32,), generator=g)
        out = model(X[idx])
        loss = nn.functional.nll_loss(torch.log(out.clamp_min(1e-12)), y[idx]) if isinstance(model[-1], nn.Softmax) \
            else ((out[:, 0] - y[idx].double()) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def _model():
    torch.manual_seed(0)
    return _trained(nn.Sequential(nn.Dropout(0.2), nn.Linear(8, 6), nn.Sigmoid(), nn.Dropout(0.5), nn.Linear(6, 5),
                                  nn.Tanh(), nn.Dropout(0.5), nn.Linear(5, 3), nn.Softmax(dim=1)).double())


def _relu_model():
    torch.manual_seed(1)
    return _trained(nn.Sequential(nn.Linear(8, 7), nn.ReLU(), nn.Dropout(0.3), nn.Linear(7, 4), nn.Identity(),
                                  nn.Dropout(0.5), nn.Linear(4, 1)).double(), lr=0.02)


def test_training_moved_the_weights():
    torch.manual_seed(0)
    fresh = nn.Sequential(nn.Dropout(0.2), nn.Linear(8, 6))
    assert not torch.equal(fresh[1].weight.double(), _model()[1].weight)


@pytest.mark.parametrize("make", [_model, _relu_model])
def test_eval_mode_equals_the_ensemble_network(make):
    """A model trained in PyTorch with dropout: PyTorch's eval-mode outputs are the engine's
    deterministic ensemble network (Eq. 167) on the converted network and gate."""
    model = make().eval()
    net, gate = from_torch(model)
    X = np.random.default_rng(1).uniform(size=(4, 8))
    with torch.no_grad():
        want = model(torch.from_numpy(X)).numpy()
    _, W = de.ensemble(net, X, gate)
    np.testing.assert_allclose(W[-1], want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("make", [_model, _relu_model])
def test_train_mode_monte_carlo_mean_matches_the_engine(make):
    """Stochastic (fixed seeds): the means of PyTorch's train-mode outputs and of the
    engine's samples agree within 5 standard errors."""
    model = make().train()
    outs, st = train_mode_and_engine(model, np.random.default_rng(2).uniform(size=(2, 8)), 20_000, 3, 4)
    se = np.sqrt(outs.var(axis=0) / len(outs) + st.var[-1] / len(outs))
    assert np.all(np.abs(outs.mean(axis=0) - st.E[-1]) <= 5 * se)


def train_mode_and_engine(model, X, n, torch_seed, seed):
    """n outputs of the model in train mode (its own dropout) for inputs X, and the
    engine's statistics of the converted network over n samples."""
    net, gate = from_torch(model)
    torch.manual_seed(torch_seed)
    with torch.no_grad():
        outs = np.stack([model(torch.from_numpy(X)).numpy() for _ in range(n)])
    return outs, de.sample(net, X, gate, n, seed=seed)


def test_round_trip_and_state_dict():
    model = _model()
    net, gate = from_torch(model)
    back, gate2 = from_torch(to_torch(net, gate))
    for a, b in zip(net.weights, back.weights):
        np.testing.assert_allclose(a, b, rtol=1e-15)
    assert [f.name for f in back.transfers] == ["logistic", "tanh", "softmax"]
    sd_net, sd_gate = from_torch(model.state_dict(), transfer=["logistic", "tanh", "softmax"], keep=[0.8, 0.5, 0.5])
    for a, b in zip(net.weights, sd_net.weights):
        np.testing.assert_allclose(a, b, rtol=1e-15)


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"model\[1\].*Conv1d"):
        from_torch(nn.Sequential(nn.Linear(3, 3), nn.Conv1d(1, 1, 1)))
    with pytest.raises(ValueError, match="final Dropout"):
        from_torch(nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)))
    with pytest.raises(TypeError, match="model"):
        from_torch("model.pt")
    with pytest.raises(ValueError, match="transfer"):
        to_torch(de.Network.random([3, 2], de.Logistic(c=2.0), seed=0))

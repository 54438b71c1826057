"""PyTorch models in and out (optional: ``pip install torch``).

``from_torch`` converts an ``nn.Sequential`` of ``Linear``, ``Sigmoid``, ``Tanh``,
``ReLU``, ``Softplus``, ``Softmax``, ``Identity`` and ``Dropout`` layers (or a state_dict
of its Linear layers) into a ``Network`` and the matching ``Dropout`` gate; ``to_torch``
goes back.

Scaling. PyTorch's dropout is *inverted*: in train mode it keeps each input with
probability q = 1 - p and multiplies the kept ones by 1/q; in eval mode it does nothing.
The paper's dropout (and this engine's) does not rescale during sampling and multiplies
the weights by q in the ensemble network (Eq. 24, 54). So a Linear layer preceded by
``Dropout(p)`` becomes weights W / q with keep probability q: the engine's subnetworks
then have exactly PyTorch's train-mode distribution, and its ensemble network
(``dropengine.ensemble``) computes PyTorch's eval-mode output, W x. ``to_torch`` applies
the inverse, W q.
"""
from __future__ import annotations

import numpy as np

from .gates import Dropout, NoGate, resolve_gate
from .network import Network
from .transfer import Linear, Logistic, ReLU, Softmax, Softplus, Tanh

__all__ = ["from_torch", "to_torch"]


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - exercised only without torch
        raise ImportError("dropengine.torch needs PyTorch: pip install torch") from None
    return torch


def _activation(module, k):
    nn = _torch().nn
    if isinstance(module, nn.Sigmoid):
        return Logistic()
    if isinstance(module, nn.Tanh):
        return Tanh()
    if isinstance(module, nn.ReLU):
        return ReLU()
    if isinstance(module, nn.Softplus):
        if module.threshold != 20:
            raise ValueError(f"model[{k}]: Softplus with a threshold other than 20 has no exact counterpart")
        return Softplus(lam=float(module.beta))
    if isinstance(module, nn.Softmax):
        if module.dim not in (-1, 1):
            raise ValueError(f"model[{k}]: Softmax must act on the last dimension (dim=-1 or 1), got dim={module.dim}")
        return Softmax()
    if isinstance(module, nn.Identity):
        return Linear()
    return None


def from_torch(model, *, transfer="logistic", keep=None, dtype=None):
    """A ``Network`` and its ``Dropout`` gate from a PyTorch model.

    Parameters
    ----------
    model : torch.nn.Sequential, or a state_dict (mapping of names to tensors) of Linear
        layers ("<i>.weight", "<i>.bias")
    transfer, keep : for a state_dict only: the transfer function(s), and the keep
        probability of each layer's inputs (default 1)
    dtype : numpy dtype of the network (default: that of the weights)

    Returns
    -------
    (Network, Dropout or NoGate): weights of a layer preceded by Dropout(p) are divided
    by q = 1 - p (see the module docstring), the gate keeps that layer's inputs with q.
    """
    torch = _torch()
    if isinstance(model, dict) or hasattr(model, "keys") and not isinstance(model, torch.nn.Module):
        return _from_state_dict(model, transfer, keep, dtype)
    if not isinstance(model, torch.nn.Sequential):
        raise TypeError(f"model must be a torch.nn.Sequential or a state_dict, got {type(model).__name__}")
    Ws, bs, fs, keeps = [], [], [], []
    pending_keep = 1.0
    for k, module in enumerate(model):
        if isinstance(module, torch.nn.Dropout):
            if pending_keep != 1.0:
                raise ValueError(f"model[{k}]: two Dropout layers in a row")
            pending_keep = 1.0 - float(module.p)
            if pending_keep <= 0:
                raise ValueError(f"model[{k}]: Dropout(p=1) drops everything")
            continue
        if isinstance(module, torch.nn.Linear):
            if len(Ws) > len(fs):
                fs.append(Linear())  # the previous Linear had no activation
            W = module.weight.detach().cpu().numpy().astype(np.float64) / pending_keep
            b = None if module.bias is None else module.bias.detach().cpu().numpy().astype(np.float64)
            Ws.append(W)
            bs.append(b)
            keeps.append(pending_keep)
            pending_keep = 1.0
            continue
        f = _activation(module, k)
        if f is None:
            raise ValueError(f"model[{k}]: cannot convert {type(module).__name__}; supported: Linear, Sigmoid, Tanh, "
                             "ReLU, Softplus, Softmax, Identity, Dropout")
        if len(Ws) == len(fs):
            raise ValueError(f"model[{k}]: {type(module).__name__} must follow a Linear layer")
        fs.append(f)
    if pending_keep != 1.0:
        raise ValueError("model: a final Dropout (after the last Linear) has no counterpart; remove it")
    if not Ws:
        raise ValueError("model: no Linear layer")
    if len(fs) < len(Ws):
        fs.append(Linear())
    out_dtype = dtype or _dtype_of(model)
    net = Network(Ws, bs, fs, dtype=out_dtype)
    gate = Dropout(keeps) if any(q < 1 for q in keeps) else NoGate()
    return net, gate


def _dtype_of(model):
    torch = _torch()
    for p in model.parameters():
        return np.float32 if p.dtype == torch.float32 else np.float64
    return np.float64


def _from_state_dict(sd, transfer, keep, dtype):
    names = sorted({n.rsplit(".", 1)[0] for n in sd if n.endswith(".weight")},
                   key=lambda s: [int(t) if t.isdigit() else t for t in s.split(".")])
    if not names:
        raise ValueError("model: the state_dict has no '<layer>.weight' entries")
    L = len(names)
    keeps = [1.0] * L if keep is None else (list(keep) if isinstance(keep, (list, tuple)) else [float(keep)] * L)
    if len(keeps) != L:
        raise ValueError(f"keep must have one entry per layer ({L})")
    Ws, bs = [], []
    for name, q in zip(names, keeps):
        W = sd[name + ".weight"].detach().cpu().numpy()
        if W.ndim != 2:
            raise ValueError(f"model: {name}.weight is not a Linear weight (shape {tuple(W.shape)})")
        Ws.append(W.astype(np.float64) / q)
        b = sd.get(name + ".bias")
        bs.append(None if b is None else b.detach().cpu().numpy().astype(np.float64))
    out_dtype = dtype or (np.float32 if sd[names[0] + ".weight"].dtype == _torch().float32 else np.float64)
    net = Network(Ws, bs, transfer, dtype=out_dtype)
    return net, Dropout(keeps) if any(q < 1 for q in keeps) else NoGate()


def to_torch(net: Network, gate=None):
    """An ``nn.Sequential`` equal to ``net`` under ``gate`` (unit dropout or none):
    ``Dropout(1 - q)`` before each gated layer and weights multiplied by q, so that its
    eval mode computes the ensemble network and its train mode samples the subnetworks.
    """
    torch = _torch()
    nn = torch.nn
    if not isinstance(net, Network):
        raise TypeError(f"net must be a dropengine.Network, got {type(net).__name__}")
    kind, p, keep_bias = resolve_gate(gate, net)
    if kind not in (0, 1):
        raise ValueError("gate: only dropout on units (or no gate) has a PyTorch counterpart")
    if kind == 1 and any(kb != 1.0 for kb in keep_bias):
        raise ValueError("gate: gated biases (keep_bias < 1) have no PyTorch counterpart")
    tdtype = torch.float32 if net.dtype == np.float32 else torch.float64
    layers = []
    for h, (W, b, f) in enumerate(zip(net.weights, net.biases, net.transfers)):
        q = np.broadcast_to(p[h], (W.shape[1],)) if kind == 1 else np.ones(W.shape[1])
        if not np.all(q == q[0]):
            raise ValueError(f"gate: layer {h} has per-unit keep probabilities; PyTorch's Dropout has one")
        q = float(q[0])
        if q < 1:
            layers.append(nn.Dropout(1.0 - q))
        lin = nn.Linear(W.shape[1], W.shape[0], bias=b is not None, dtype=tdtype)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(np.asarray(W, np.float64) * q))
            if b is not None:
                lin.bias.copy_(torch.tensor(np.array(b, np.float64)))
        layers.append(lin)
        layers.append(_to_activation(f, h))
    return nn.Sequential(*[m for m in layers if m is not None])


def _to_activation(f, h):
    nn = _torch().nn
    name = f.name
    if name == "linear":
        return None
    if name == "logistic" and f.c == 1 and f.lam == 1:
        return nn.Sigmoid()
    if name == "tanh" and f.lam == 1:
        return nn.Tanh()
    if name == "relu" and f.threshold == 0 and f.slope == 1:
        return nn.ReLU()
    if name == "softplus":
        return nn.Softplus(beta=f.lam)
    if name == "softmax" and f.lam == 1:
        return nn.Softmax(dim=-1)
    raise ValueError(f"net: layer {h}'s transfer {f!r} has no PyTorch module")

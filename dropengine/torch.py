"""PyTorch models in and out (optional: ``pip install torch``).

``from_torch`` converts an ``nn.Sequential`` of ``Linear``, ``Sigmoid``, ``Tanh``,
``ReLU``, ``Softplus``, ``Softmax``, ``Identity`` and ``Dropout`` layers (or a state_dict
of its Linear layers) into a ``Network`` and the matching ``Dropout`` gate; ``to_torch``
goes back.

Other modules are traced with ``torch.fx``: a forward that is a graph of Linear layers,
those activations (or ``torch.sigmoid``, ``torch.tanh``, ``F.relu``, ``F.softmax``,
``F.softplus`` and the Tensor methods), Dropout, sums of Linear outputs
(``self.fc2(h1) + self.skip(x)``: one layer with weights {l: W} over its source layers,
the biases added) and ``torch.cat`` of layer outputs fed to a Linear (its columns split
at the parts) becomes a network with skip connections (Eq. 21); anything else is refused
with a one-line ValueError naming the node. ``dropengine._torch_fx`` has the rules (one
keep per unit, shared by every receiver, Eq. 22). ``to_torch`` of such a network builds a
small module (``dropengine._torch_fx.DAGModule``) that ``from_torch`` reads back.

Scaling. PyTorch's dropout is *inverted*: in train mode it keeps each input with
probability q = 1 - p and multiplies the kept ones by 1/q; in eval mode it does nothing.
The paper's dropout (and this engine's) does not rescale during sampling and multiplies
the weights by q in the ensemble network (Eq. 24, 54). So a Linear layer preceded by
``Dropout(p)`` becomes weights W / q with keep probability q: the engine's subnetworks
then have exactly PyTorch's train-mode distribution, and its ensemble network
(``dropengine.ensemble``) computes PyTorch's eval-mode output, W x. ``to_torch`` applies
the inverse, W q.

Where the Dropout sits. ``Linear -> Activation -> Dropout -> Linear`` drops the outputs of
a layer, which is this engine's gate on the next layer's inputs. ``Linear -> Dropout ->
Activation`` drops terms of the layer's sums S instead: the output is f(d S / q) with d
in {0, 1}, which equals d f(S) / q (a gate on the outputs) only when f(0) = 0 and f is
positively homogeneous, f(c x) = c f(x) for c > 0: ReLU and Identity (or no activation).
For Sigmoid, Tanh, Softplus and Softmax it does not, and ``from_torch`` refuses the model.

State dicts. Layers are taken in the state_dict's own order (``model.state_dict()``
lists modules in registration order), and each layer's n_in must equal the previous
layer's n_out. If that order does not chain but the names' natural order does (fc1, fc2,
..., fc10, as a hand-built dict in any order would have it), the natural order is used,
with a warning; if neither chains, the conversion is refused, listing the keys and shapes.

Files. Reading a .pt/.pth file needs torch >= 2.6: before it, ``torch.load(...,
weights_only=True)`` could be made to run code from the file (CVE-2025-32434).
"""
from __future__ import annotations

import re
import warnings

import numpy as np

from . import _engine as engine
from ._engine import GateKind
from .gates import Dropout, NoGate
from .network import Network
from .transfer import Linear, Logistic, ReLU, Softmax, Softplus, Tanh

__all__ = ["from_torch", "to_torch", "require_safe_load"]

#: The first PyTorch whose weights_only loading is not bypassable (CVE-2025-32434).
SAFE_LOAD_VERSION = (2, 6)


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - exercised only without torch
        raise ImportError("dropengine.torch needs PyTorch: pip install torch") from None
    return torch


def require_safe_load(torch=None):
    """Raises ImportError unless this PyTorch's ``torch.load`` is safe on untrusted files.

    Examples
    --------
    Any object with a ``__version__`` stands in for the torch module:

    >>> from types import SimpleNamespace
    >>> import dropengine.torch as det
    >>> det.require_safe_load(SimpleNamespace(__version__="2.6.0"))       # passes
    >>> try:
    ...     det.require_safe_load(SimpleNamespace(__version__="2.5.1"))
    ... except ImportError:
    ...     print("too old")
    too old
    """
    torch = torch or _torch()
    version = str(torch.__version__)
    m = re.match(r"(\d+)\.(\d+)", version)
    if m is None or (int(m.group(1)), int(m.group(2))) < SAFE_LOAD_VERSION:
        need = ".".join(map(str, SAFE_LOAD_VERSION))
        raise ImportError(f"reading PyTorch files needs torch>={need} (found {version}): older versions' "
                          f"weights_only loading can run code from the file (CVE-2025-32434); "
                          f"pip install 'torch>={need}'")


def _numpy(t, name):
    """A float numpy copy of a tensor (or array) from a state_dict, or TypeError naming it."""
    torch = _torch()
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu()
        if t.dtype not in (torch.float32, torch.float64):  # float16, bfloat16, ints: numpy lacks some
            t = t.to(torch.float64)
        return t.numpy()
    if isinstance(t, np.ndarray) and t.dtype.kind in "iuf":
        return t
    raise TypeError(f"model: {name} must be a tensor of real numbers, got {type(t).__name__}")


def _fits(W, dtype, what):
    """W / q can overflow float32 even when W did not: refuse rather than store Inf."""
    if np.dtype(dtype) == np.float32 and np.isfinite(W).all() and \
            np.abs(W).max(initial=0.0) > np.finfo(np.float32).max:
        raise ValueError(f"{what}: a weight divided by the keep probability exceeds the float32 range; "
                         f"convert with dtype=numpy.float64")


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
    model : torch.nn.Sequential, another torch.nn.Module that torch.fx traces to a graph of
        supported nodes (skip connections by + and torch.cat; see the module docstring), or
        a state_dict (mapping of names to tensors) of Linear layers ("<name>.weight",
        "<name>.bias"), taken in the state_dict's order (the module docstring says where a
        Dropout may sit, and how the layers' order is checked)
    transfer, keep : for a state_dict only: the transfer function(s), and the keep
        probability of each layer's inputs (default 1), in the order of the layers
    dtype : numpy dtype of the network (default: that of the weights)

    Returns
    -------
    net : Network
        Weights of a layer preceded by Dropout(p) are divided by q = 1 - p (see the
        module docstring).
    gate : Dropout or NoGate
        Keeps that layer's inputs with probability q.

    Raises
    ------
    ValueError, TypeError
        A module or node that has no counterpart in the engine, named in the message.

    Examples
    --------
    >>> from torch import nn
    >>> from dropengine.torch import from_torch
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.Sigmoid(), nn.Dropout(0.5), nn.Linear(3, 2))
    >>> net, gate = from_torch(model)
    >>> net.sizes, gate
    ((4, 3, 2), Dropout(keep=[1.0, 0.5], on='units', keep_bias=1.0))
    """
    torch = _torch()
    if isinstance(model, dict) or hasattr(model, "keys") and not isinstance(model, torch.nn.Module):
        return _from_state_dict(model, transfer, keep, dtype)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Sequential, a torch.nn.Module or a state_dict, "
                        f"got {type(model).__name__}")
    if not isinstance(model, torch.nn.Sequential):
        from ._torch_fx import from_fx
        net, keeps = from_fx(model, dtype or _dtype_of(model))
        return net, Dropout(keeps) if any(q < 1 for q in keeps) else NoGate()
    Ws, bs, fs, keeps = [], [], [], []
    pending_keep = 1.0
    on_sums = None  # where a Dropout sits between a Linear and its activation
    for k, (name, module) in enumerate(model.named_children()):
        where = f"model[{k}]" if name == str(k) else f"model[{k}] ({name!r})"
        if isinstance(module, torch.nn.Dropout):
            if pending_keep != 1.0:
                raise ValueError(f"{where}: two Dropout layers in a row")
            pending_keep = 1.0 - float(module.p)
            if pending_keep <= 0:
                raise ValueError(f"{where}: Dropout(p=1) drops everything")
            if len(Ws) > len(fs) and pending_keep < 1:
                on_sums = where
            continue
        if isinstance(module, torch.nn.Linear):
            if len(Ws) > len(fs):
                fs.append(Linear())  # the previous Linear had no activation
            W = _numpy(module.weight, f"{where}.weight").astype(np.float64) / pending_keep
            b = None if module.bias is None else _numpy(module.bias, f"{where}.bias").astype(np.float64)
            _fits(W, dtype or _dtype_of(model), where)
            Ws.append(W)
            bs.append(b)
            keeps.append(pending_keep)
            pending_keep = 1.0
            on_sums = None  # no activation in between: a linear layer commutes with the scaling
            continue
        f = _activation(module, k)
        if f is None:
            raise ValueError(f"model[{k}]: cannot convert {type(module).__name__}; supported: Linear, Sigmoid, Tanh, "
                             "ReLU, Softplus, Softmax, Identity, Dropout")
        if len(Ws) == len(fs):
            raise ValueError(f"model[{k}]: {type(module).__name__} must follow a Linear layer")
        if on_sums is not None and not isinstance(module, (torch.nn.ReLU, torch.nn.Identity)):
            act = type(module).__name__
            raise ValueError(f"{on_sums}: this Dropout sits between a Linear layer and its {act}, so it drops "
                             f"terms of the layer's sums S: {act}(d S / q) is not d {act}(S) / q, and dropout on a "
                             f"layer's sums is not a dropout gate of this engine (it is only for ReLU and Identity); "
                             f"put the Dropout after the {act}")
        on_sums = None
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


def _natural(name):
    """fc2 before fc10: digit runs compare as numbers (re.split keeps str/int positions aligned)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _chains(names, shapes):
    return all(shapes[b][1] == shapes[a][0] for a, b in zip(names, names[1:]))


def _from_state_dict(sd, transfer, keep, dtype):
    # The state_dict's own order is the modules' registration order; sorting names would
    # put fc10 before fc2.
    names = [n[: -len(".weight")] for n in sd if isinstance(n, str) and n.endswith(".weight")]
    if not names:
        raise ValueError("model: the state_dict has no '<layer>.weight' entries")
    weights = {}
    for name in names:
        W = _numpy(sd[name + ".weight"], name + ".weight")
        if W.ndim != 2:
            raise ValueError(f"model: {name}.weight is not a Linear weight (shape {tuple(W.shape)})")
        weights[name] = W
    shapes = {n: W.shape for n, W in weights.items()}
    if not _chains(names, shapes):
        natural = sorted(names, key=_natural)
        listing = ", ".join(f"{n}.weight {tuple(shapes[n])}" for n in names)
        if not _chains(natural, shapes):
            raise ValueError(f"model: the state_dict's Linear weights (n_out, n_in) do not chain (each n_in equal "
                             f"to the previous n_out) in their order or in their names' natural order: {listing}")
        warnings.warn(f"from_torch: the state_dict's layers do not chain in their order ({listing}); "
                      f"using their names' natural order, which does: {', '.join(natural)}", UserWarning,
                      stacklevel=3)
        names = natural
    L = len(names)
    keeps = [1.0] * L if keep is None else (list(keep) if isinstance(keep, (list, tuple)) else [float(keep)] * L)
    if len(keeps) != L:
        raise ValueError(f"keep must have one entry per layer ({L})")
    keeps = [float(q) for q in keeps]
    if not all(0 < q <= 1 for q in keeps):
        raise ValueError(f"keep must lie in (0, 1] (the weights are divided by it), got {keeps}")
    first = sd[names[0] + ".weight"]
    out_dtype = dtype or (np.float32 if getattr(first, "dtype", None) in (_torch().float32, np.float32)
                          else np.float64)
    Ws, bs = [], []
    for name, q in zip(names, keeps):
        W = weights[name].astype(np.float64) / q
        _fits(W, out_dtype, f"model: {name}.weight")
        Ws.append(W)
        b = sd.get(name + ".bias")
        bs.append(None if b is None else _numpy(b, name + ".bias").astype(np.float64))
    net = Network(Ws, bs, transfer, dtype=out_dtype)
    return net, Dropout(keeps) if any(q < 1 for q in keeps) else NoGate()


def to_torch(net: Network, gate=None):
    """An ``nn.Sequential`` equal to ``net`` under ``gate`` (unit dropout or none):
    ``Dropout(1 - q)`` before each gated layer and weights multiplied by q, so that its
    eval mode computes the ensemble network and its train mode samples the subnetworks.
    A network with skip connections becomes a ``dropengine._torch_fx.DAGModule`` instead:
    a Linear per (layer, source), summed, the activation, and one ``Dropout(1 - q)`` per
    gated source layer whose output all its receivers share (Eq. 22).

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> from dropengine.torch import to_torch
    >>> net = de.Network.random([4, 3, 2], ["logistic", "softmax"], seed=0)
    >>> to_torch(net, de.Dropout([1.0, 0.5]))
    Sequential(
      (0): Linear(in_features=4, out_features=3, bias=True)
      (1): Sigmoid()
      (2): Dropout(p=0.5, inplace=False)
      (3): Linear(in_features=3, out_features=2, bias=True)
      (4): Softmax(dim=-1)
    )
    """
    torch = _torch()
    nn = torch.nn
    if not isinstance(net, Network):
        raise TypeError(f"net must be a dropengine.Network, got {type(net).__name__}")
    kind, p, keep_bias, *_ = engine.gate_spec(gate, net)
    if kind not in (GateKind.none, GateKind.units):
        raise ValueError("gate: only dropout on units (or no gate) has a PyTorch counterpart")
    if kind == GateKind.units and any(kb != 1.0 for kb in keep_bias):
        raise ValueError("gate: gated biases (keep_bias < 1) have no PyTorch counterpart")
    tdtype = torch.float32 if net.dtype == np.float32 else torch.float64
    if not net.is_chain:
        return _to_torch_dag(net, kind, p, tdtype)
    layers = []
    for h, (W, b, f) in enumerate(zip(net.weights, net.biases, net.transfers)):
        q = np.broadcast_to(p[h], (W.shape[1],)) if kind == GateKind.units else np.ones(W.shape[1])
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


def _layer_keep(kind, p, l, n):
    """The one keep probability of source layer l's units, or ValueError."""
    q = np.broadcast_to(p[l], (n,)) if kind == GateKind.units else np.ones(n)
    if not np.all(q == q[0]):
        raise ValueError(f"gate: layer {l} has per-unit keep probabilities; PyTorch's Dropout has one")
    return float(q[0])


def _to_torch_dag(net, kind, p, tdtype):
    torch = _torch()
    nn = torch.nn
    from ._torch_fx import DAGModule
    L = net.n_layers
    keeps = {l: _layer_keep(kind, p, l, net.sizes[l]) for l in range(L)}
    linears, acts = {}, []
    for h in range(1, L + 1):
        b = net.biases[h - 1]
        for k, (l, W) in enumerate(sorted(net.layer_weights(h).items())):
            with_bias = b is not None and k == 0
            lin = nn.Linear(W.shape[1], W.shape[0], bias=with_bias, dtype=tdtype)
            with torch.no_grad():
                lin.weight.copy_(torch.tensor(np.asarray(W, np.float64) * keeps[l]))
                if with_bias:
                    lin.bias.copy_(torch.tensor(np.array(b, np.float64)))
            linears[f"{h}_{l}"] = lin
        acts.append(_to_activation(net.transfers[h - 1], h - 1) or nn.Identity())
    dropouts = {str(l): nn.Dropout(1.0 - q) for l, q in keeps.items() if q < 1}
    return DAGModule([net.sources(h) for h in range(1, L + 1)], linears, acts, dropouts)


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

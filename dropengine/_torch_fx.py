"""PyTorch modules with skip connections in and out, through ``torch.fx`` (issue 17).

Imported by ``dropengine.torch`` only once PyTorch is known to be installed.

``from_fx(model)`` traces ``model`` with ``torch.fx.symbolic_trace`` and reads the graph
as a network of layers (Eq. 21): every value of the graph is either

- *units*: the outputs of layers, concatenated (the input is layer 0; ``torch.cat`` of
  units along the last dimension is units), each part carrying the keep probability of
  the Dropout it went through; or
- a *sum*: a layer's pre-activation, sum_l W_hl y^l + b^h, built by a ``Linear`` over
  units (its columns split at the parts' boundaries) and by ``+`` of sums (the biases
  add up).

An activation applied to a sum makes a new layer with that transfer function; a sum used
as anything else (fed to a Linear, concatenated, dropped, returned) becomes a layer with
the linear transfer function. ``Dropout(p)`` on units gives their layers keep 1 - p, and
the Linear that reads them divides its columns by the keep, as for ``nn.Sequential``
(``dropengine.torch``'s docstring: PyTorch's dropout is inverted). The engine has one
keep per unit, shared by all its outgoing connections (Eq. 22): two Linears that read a
layer with different keeps are refused. Two different Dropout calls on the same layer
with the same p are accepted with a warning: PyTorch draws a coin per call, the engine
one per unit for every receiver, so the ensemble network (PyTorch's eval mode) is the
same but the train-mode subnetworks are not. ``F.dropout(x, p, training=self.training)``
counts as Dropout only when the module was traced in train mode (torch.fx reads
``self.training`` while tracing); ``nn.Dropout`` counts in either mode.

``DAGModule`` is what ``to_torch`` builds for a network with skip connections: per
layer a Linear per source layer (the bias on the first), the sum, the activation, and
one Dropout per gated source layer whose output every receiver shares.
"""
from __future__ import annotations

import operator
import warnings
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .network import Network
from .transfer import Linear, Logistic, ReLU, Softmax, Softplus, Tanh

__all__ = ["from_fx", "DAGModule"]

SUPPORTED = ("supported: Linear, Dropout, Sigmoid, Tanh, ReLU, Softplus, Softmax, Identity (modules, or "
             "torch.sigmoid/tanh/relu/softmax, F.relu/softplus/softmax/dropout and their Tensor methods), "
             "+ of Linear outputs, torch.cat of layer outputs")


class _Units(NamedTuple):
    """Concatenated layer outputs: parts (layer l, keep, name of the Dropout node or None)."""
    parts: tuple


class _Sum(NamedTuple):
    """A pre-activation: terms {l: W over layer l's units, already divided by the keep},
    the summed bias (or None), the width, and the node that made it."""
    terms: dict
    bias: object
    n_out: int
    name: str


def _refuse(node, what: str, why: str = SUPPORTED):
    raise ValueError(f"from_torch: node {_name(node)!r} ({what}) is not supported; {why}")


def _name(node) -> str:
    return str(node.target) if node.op == "call_module" else node.name


def _numpy(t) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy()


def _module_kind(module):
    """('linear' | 'dropout' | 'identity' | 'act', transfer or p) of a module, or None."""
    if isinstance(module, nn.Linear):
        return "linear", None
    if type(module) is nn.Dropout:
        return "dropout", float(module.p)
    if isinstance(module, nn.Identity):
        return "identity", None
    if isinstance(module, nn.Sigmoid):
        return "act", ("sigmoid", {})
    if isinstance(module, nn.Tanh):
        return "act", ("tanh", {})
    if isinstance(module, nn.ReLU):
        return "act", ("relu", {})
    if isinstance(module, nn.Softplus):
        return "act", ("softplus", {"beta": module.beta, "threshold": module.threshold})
    if isinstance(module, nn.Softmax):
        return "act", ("softmax", {"dim": module.dim})
    return None


_FUNCTIONS = {torch.sigmoid: "sigmoid", torch.tanh: "tanh", torch.relu: "relu", F.relu: "relu",
              F.sigmoid: "sigmoid", F.tanh: "tanh", torch.softmax: "softmax", F.softmax: "softmax",
              F.softplus: "softplus"}
_METHODS = {"sigmoid", "tanh", "relu", "softmax"}
_ADDS = {operator.add, torch.add}
_CATS = {torch.cat, torch.concat, torch.concatenate}


def _arg(node, k: int, name: str, default):
    """Argument `name` of a call, given at position k (after the tensor) or by keyword."""
    if name in node.kwargs:
        return node.kwargs[name]
    return node.args[k] if len(node.args) > k else default


def _transfer(node, name: str, prm: dict, what: str):
    """The engine's transfer function of an activation, or ValueError naming the node."""
    if name == "sigmoid":
        return Logistic()
    if name == "tanh":
        return Tanh()
    if name == "relu":
        return ReLU()
    if name == "softplus":
        if float(prm.get("threshold", 20)) != 20:
            _refuse(node, what, "Softplus with a threshold other than 20 has no exact counterpart")
        return Softplus(lam=float(prm.get("beta", 1.0)))
    dim = prm.get("dim")
    if dim not in (-1, 1):
        _refuse(node, what, f"Softmax must act on the last dimension (dim=-1 or 1), got dim={dim}")
    return Softmax()


class _Reader:
    """Walks the traced graph once, in order, building the layers."""

    def __init__(self, gm, dtype):
        self.modules = dict(gm.named_modules())
        self.dtype = dtype
        self.layers = []  # per layer h = 1..L: (terms {l: W}, bias, transfer, node name)
        self.widths = {0: None}  # layer -> width (the input's from the first Linear that reads it)
        self.names = {0: None}  # layer -> the node that made it, for messages
        self.reads = {}  # layer -> [(keep, dropout node name, linear name)]
        self.finalized = {}  # id(_Sum) -> the layer it became
        self.values = {}

    # --- values ---------------------------------------------------------------------
    def units(self, node, v, what: str) -> _Units:
        """v as units: a sum becomes a layer with the linear transfer function."""
        if isinstance(v, _Units):
            return v
        if isinstance(v, _Sum):
            key = id(v)
            if key not in self.finalized:
                self.finalized[key] = self.new_layer(v, Linear(), v.name)
            return _Units(((self.finalized[key], 1.0, None),))
        _refuse(node, what, f"its argument is not a tensor computed from the input; {SUPPORTED}")

    def new_layer(self, s: _Sum, f, name: str) -> int:
        self.layers.append((s.terms, s.bias, f, name))
        h = len(self.layers)
        self.widths[h] = s.n_out
        self.names[h] = name
        return h

    def describe(self, l: int) -> str:
        return "the input" if l == 0 else f"layer {l} (the output of {self.names[l]!r})"

    def value(self, node, a, what: str):
        if not hasattr(a, "op") or a not in self.values:
            _refuse(node, what, f"one of its arguments ({a!r}) is not a tensor computed from the input; {SUPPORTED}")
        return self.values[a]

    # --- operations -----------------------------------------------------------------
    def linear(self, node, module) -> _Sum:
        what = "Linear"
        u = self.units(node, self.value(node, node.args[0], what), what)
        n_in = module.in_features
        unknown = sum(self.widths[l] is None for l, _, _ in u.parts)
        known = sum(self.widths[l] for l, _, _ in u.parts if self.widths[l] is not None)
        if unknown:  # the input's width: what the Linear leaves for it
            rest = n_in - known
            if rest <= 0 or rest % unknown:
                _refuse(node, what, f"its {n_in} inputs do not match the widths of what it reads")
            self.widths[0] = rest // unknown
        widths = [self.widths[l] for l, _, _ in u.parts]
        if sum(widths) != n_in:
            _refuse(node, what, f"it has in_features = {n_in}, but reads {sum(widths)} units "
                                f"({', '.join(self.describe(l) for l, _, _ in u.parts)})")
        W = _numpy(module.weight)
        terms = {}
        offsets = np.cumsum([0] + widths)
        for (l, q, drop), a, b in zip(u.parts, offsets[:-1], offsets[1:]):
            self.read(node, l, q, drop)
            Wl = W[:, a:b] / q
            if np.dtype(self.dtype) == np.float32 and np.isfinite(Wl).all() and \
                    np.abs(Wl).max(initial=0.0) > np.finfo(np.float32).max:
                _refuse(node, what, "a weight divided by the keep probability exceeds the float32 range; "
                                    "convert with dtype=numpy.float64")
            terms[l] = terms[l] + Wl if l in terms else Wl
        bias = None if module.bias is None else _numpy(module.bias)
        return _Sum(terms, bias, module.out_features, _name(node))

    def read(self, node, l: int, q: float, drop):
        """Linear `node` reads layer l with keep q: one keep per unit (Eq. 22)."""
        for q0, drop0, lin0 in self.reads.get(l, []):
            if q0 != q:
                how = lambda q_, d_: f"keep {q_:g}" + (f" (Dropout {d_!r})" if d_ else " (no Dropout)")  # noqa: E731
                raise ValueError(f"from_torch: node {_name(node)!r} (Linear) reads {self.describe(l)} with "
                                 f"{how(q, drop)}, but node {lin0!r} (Linear) reads it with {how(q0, drop0)}: the "
                                 f"engine has one keep per unit, shared by all its outgoing connections (Eq. 22)")
        self.reads.setdefault(l, []).append((q, drop, _name(node)))

    def add(self, node) -> _Sum:
        what = "add"
        if "alpha" in node.kwargs or len(node.args) != 2:
            _refuse(node, what, "only a + b of two Linear outputs (no alpha) is a layer's pre-activation")
        sums = []
        for a in node.args:
            v = self.value(node, a, what) if hasattr(a, "op") else None
            if not isinstance(v, _Sum):
                other = a.name if hasattr(a, "op") else repr(a)
                raise ValueError(f"from_torch: node {_name(node)!r} (add) adds {other!r}, which is not the output of "
                                 f"a Linear (or a sum of them): only sums of Linear outputs are a layer's "
                                 f"pre-activation; {SUPPORTED}")
            sums.append(v)
        a, b = sums
        if a.n_out != b.n_out:
            _refuse(node, what, f"it adds Linear outputs of widths {a.n_out} and {b.n_out}")
        terms = dict(a.terms)
        for l, W in b.terms.items():
            terms[l] = terms[l] + W if l in terms else W
        bias = a.bias if b.bias is None else (b.bias if a.bias is None else a.bias + b.bias)
        return _Sum(terms, bias, a.n_out, _name(node))

    def cat(self, node) -> _Units:
        what = "cat"
        tensors = _arg(node, 0, "tensors", None)
        dim = _arg(node, 1, "dim", 0)
        if not isinstance(tensors, (list, tuple)) or dim not in (-1, 1):
            _refuse(node, what, f"torch.cat must join layer outputs along the last dimension (dim=-1 or 1), "
                                f"got dim={dim}")
        parts = []
        for t in tensors:
            parts += self.units(node, self.value(node, t, what), what).parts
        return _Units(tuple(parts))

    def dropout(self, node, p: float, what: str) -> _Units:
        u = self.units(node, self.value(node, node.args[0], what), what)
        if not 0 <= p < 1:
            _refuse(node, what, f"Dropout(p={p:g}) drops everything" if p >= 1 else f"Dropout p={p!r}")
        if p == 0:
            return u
        if any(q != 1.0 for _, q, _ in u.parts):
            _refuse(node, what, "two Dropouts in a row on the same units")
        return _Units(tuple((l, 1.0 - p, _name(node)) for l, _, _ in u.parts))

    def activation(self, node, name: str, prm: dict, what: str) -> _Units:
        v = self.value(node, node.args[0], what)
        if isinstance(v, _Units) and any(q != 1.0 for _, q, _ in v.parts):
            raise ValueError(f"from_torch: node {_name(node)!r} ({what}) applies an activation to the output of "
                             f"Dropout {node.args[0].name!r}: dropout on a layer's sums is not a gate of this "
                             f"engine; put the Dropout after the activation")
        if not isinstance(v, _Sum):
            raise ValueError(f"from_torch: node {_name(node)!r} ({what}) applies an activation to "
                             f"{node.args[0].name!r}, which is not the output of a Linear (or a sum of them): an "
                             f"activation must follow the Linear layers whose sum it transforms; {SUPPORTED}")
        return _Units(((self.new_layer(v, _transfer(node, name, prm, what), _name(node)), 1.0, None),))

    # --- the graph ------------------------------------------------------------------
    def node(self, node):
        op = node.op
        if op == "call_module":
            module = self.modules[node.target]
            kind = _module_kind(module)
            what = type(module).__name__
            if kind is None:
                _refuse(node, what)
            if len(node.args) != 1 or node.kwargs:
                _refuse(node, what, "a module must be called on one tensor")
            k, prm = kind
            if k == "linear":
                return self.linear(node, module)
            if k == "dropout":
                return self.dropout(node, prm, what)
            if k == "identity":
                return self.value(node, node.args[0], what)
            return self.activation(node, *prm, what)
        if op == "call_function":
            fn = node.target
            what = getattr(fn, "__name__", str(fn))
            if fn in _ADDS:
                return self.add(node)
            if fn in _CATS:
                return self.cat(node)
            if fn is F.dropout:
                p = float(_arg(node, 1, "p", 0.5))
                if not _arg(node, 2, "training", True):
                    return self.value(node, node.args[0], what)
                return self.dropout(node, p, what)
            if fn in _FUNCTIONS:
                name = _FUNCTIONS[fn]
                prm = {}
                if name == "softmax":
                    prm["dim"] = _arg(node, 1, "dim", None)
                if name == "softplus":
                    prm = {"beta": _arg(node, 1, "beta", 1.0), "threshold": _arg(node, 2, "threshold", 20.0)}
                return self.activation(node, name, prm, what)
            _refuse(node, what)
        if op == "call_method":
            name = node.target
            if name == "add":
                return self.add(node)
            if name in _METHODS:
                prm = {"dim": _arg(node, 1, "dim", None)} if name == "softmax" else {}
                return self.activation(node, name, prm, f"Tensor.{name}")
            _refuse(node, f"Tensor.{name}")
        _refuse(node, op)  # get_attr: a parameter or buffer used directly


def _ancestors(out) -> set:
    seen, stack = set(), [out]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        stack.extend(n.all_input_nodes)
    return seen


def from_fx(model, dtype):
    """(Network, keeps per source layer 0..L-1) of a module traced by torch.fx; ValueError
    naming the first node that has no counterpart."""
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 - any tracing failure is the model's
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"from_torch: torch.fx cannot trace {type(model).__name__} ({first}); give an "
                         f"nn.Sequential or a module whose forward is a graph of supported nodes") from None
    nodes = list(gm.graph.nodes)
    out = [n for n in nodes if n.op == "output"][0]
    needed = _ancestors(out)
    inputs = [n for n in nodes if n.op == "placeholder"]
    if len(inputs) != 1:
        raise ValueError(f"from_torch: the model's forward must take one tensor, got {len(inputs)} "
                         f"({', '.join(n.name for n in inputs)})")
    r = _Reader(gm, dtype)
    r.values[inputs[0]] = _Units(((0, 1.0, None),))
    r.names[0] = inputs[0].name
    for node in nodes:
        if node in needed and node.op not in ("placeholder", "output"):
            r.values[node] = r.node(node)
    result = out.args[0]
    if not hasattr(result, "op"):
        raise ValueError(f"from_torch: the model must return one tensor, got {type(result).__name__}")
    v = r.value(out, result, "output")
    if isinstance(v, _Units) and any(q != 1.0 for _, q, _ in v.parts):
        raise ValueError(f"from_torch: node {result.name!r}: a final Dropout (after the last layer) has no "
                         f"counterpart; remove it")
    u = r.units(out, v, "output")
    L = len(r.layers)
    if L == 0:
        raise ValueError("from_torch: the model has no Linear layer")
    if u.parts != ((L, 1.0, None),):
        raise ValueError(f"from_torch: node {result.name!r} (output): the model must return the output of one "
                         f"layer (the last), got {', '.join(r.describe(l) for l, _, _ in u.parts)}")
    keeps = [1.0] * L
    for l, reads in r.reads.items():
        keeps[l] = reads[0][0]
        drops = sorted({d for _, d, _ in reads if d is not None})
        if len(drops) > 1:
            warnings.warn(f"from_torch: {r.describe(l)} goes through {len(drops)} Dropout calls ({', '.join(drops)}) "
                          f"with the same p: PyTorch draws a coin per call, the engine one per unit shared by all "
                          f"its receivers (Eq. 22); the ensemble network (eval mode) is the same, the train-mode "
                          f"subnetworks are not", UserWarning, stacklevel=3)
    weights = [dict(terms) for terms, _, _, _ in r.layers]
    net = Network(weights, [b for _, b, _, _ in r.layers], [f for _, _, f, _ in r.layers], dtype=dtype)
    return net, keeps


class DAGModule(nn.Module):
    """A network with skip connections as a PyTorch module (made by ``to_torch``).

    ``linears["<h>_<l>"]`` is W_hl (the bias of layer h on the Linear from its lowest
    source), ``activations[h - 1]`` layer h's activation (Identity for linear layers),
    ``dropouts["<l>"]`` the Dropout on layer l's outputs, applied once and shared by every
    layer that reads them (the engine's unit gate, Eq. 22).
    """

    def __init__(self, sources, linears: dict, activations: list, dropouts: dict):
        super().__init__()
        self.sources = tuple(tuple(int(l) for l in s) for s in sources)
        self.linears = nn.ModuleDict(linears)
        self.activations = nn.ModuleList(activations)
        self.dropouts = nn.ModuleDict(dropouts)

    def forward(self, x):
        ys = [self.dropouts["0"](x) if "0" in self.dropouts else x]
        for h, srcs in enumerate(self.sources, 1):
            s = None
            for l in srcs:
                t = self.linears[f"{h}_{l}"](ys[l])
                s = t if s is None else s + t
            o = self.activations[h - 1](s)
            ys.append(self.dropouts[str(h)](o) if str(h) in self.dropouts else o)
        return ys[-1]

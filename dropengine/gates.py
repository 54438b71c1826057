"""Bernoulli gates: dropout on units or connections (Eq. 6-23, 49), dropin (Section 11.6).

``keep[h]`` gates what feeds layer h: for ``on="units"`` the input units of layer h
(the network input for h = 0; Eq. 13, 22), scalar or one value per unit; for
``on="connections"`` the connections of layer h (Eq. 14, 23), scalar or an
(n_out, n_in) matrix.

In a network with skip connections (Eq. 21-23) the same lists mean: for units,
``keep[l]`` is over the units of layer l (0 = the input), one coin per unit and sample
shared by all its outgoing connections, into whichever layers they go (Eq. 22); for
connections, ``keep[k]`` is over the connections into layer k + 1, a scalar or a dict
{l: scalar, vector or (n_h, n_l) matrix} over its source layers (Eq. 23), resolved to
one flat array in the column order of ``Network.input_weights``.

Biases (Eq. 9-10) are gated with probability ``keep_bias`` (one per receiving layer):
under unit dropout the bias of a layer acts as one extra unit of the layer below
(one draw per sample and layer), under connection dropout each unit's bias is its
own connection.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._validation import as_count, as_probabilities, as_real_array

__all__ = ["Dropout", "Dropin", "NoGate", "Spikes"]


def _per_layer(value, net, name: str, matrix: bool, check=as_probabilities) -> list:
    """Expands a scalar or per-layer list into one flat float64 array per layer: over the
    units of source layer l (``matrix=False``) or over the connections of weights[k] in
    the concatenated order of ``net.input_weights(k + 1)`` (``matrix=True``)."""
    L = net.n_layers
    if isinstance(value, (list, tuple)):
        if len(value) != L:
            raise ValueError(f"{name} must have one entry per layer ({L}), got {len(value)}")
        items = list(value)
    else:
        arr = check(value, name)
        if arr.ndim != 0:
            raise ValueError(f"{name}: give a scalar, or a list with one entry per layer ({L})")
        items = [arr] * L
    one = _connections if matrix else _units
    return [one(v, net, h, name, check) for h, v in enumerate(items)]


def _units(value, net, l: int, name: str, check) -> np.ndarray:
    """value[l] over the units of layer l (0 = the input): one coin per unit and sample,
    shared by every connection leaving the unit, into any layer (Eq. 13, 22)."""
    a = check(value, f"{name}[{l}]")
    n = net.sizes[l]
    if a.shape not in ((), (n,)):
        raise ValueError(f"{name}[{l}] must be a scalar or shape ({n},), got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float64).reshape(-1)


def _connections(value, net, k: int, name: str, check) -> np.ndarray:
    """value[k] over the connections into layer h = k + 1 (Eq. 14, 23): a scalar, a vector
    or matrix over the concatenated inputs (for a chain: (n_in,) or (n_out, n_in)), or a
    dict {l: scalar, (n_l,) or (n_h, n_l)} with one entry per source layer l. Flat, row
    by row, in the column order of ``net.input_weights(h)``; a vector over the inputs is
    one keep per sending unit, for every connection."""
    W, blocks = net.input_weights(k + 1)
    n_out, n_in = W.shape
    if isinstance(value, Mapping):
        want = [l for l, _, _ in blocks]
        if set(value) != set(want):
            raise ValueError(f"{name}[{k}] must have one entry per source layer of layer {k + 1}, {want}; "
                             f"got the keys {sorted(map(repr, value))}")
        parts = []
        for l, _, n_l in blocks:
            a = check(value[l], f"{name}[{k}][{l}]")
            if a.shape not in ((), (n_l,), (n_out, n_l)):
                raise ValueError(f"{name}[{k}][{l}] must be a scalar or shape ({n_l},) or ({n_out}, {n_l}), "
                                 f"got shape {a.shape}")
            parts.append(np.broadcast_to(a, (n_out, n_l)))
        return np.ascontiguousarray(np.hstack(parts), dtype=np.float64).reshape(-1)
    a = check(value, f"{name}[{k}]")
    if a.shape not in ((), (n_in,), (n_out, n_in)):
        raise ValueError(f"{name}[{k}] must be a scalar or shape ({n_in},) or ({n_out}, {n_in}), got shape {a.shape}")
    if a.shape == (n_in,):
        a = np.broadcast_to(a, (n_out, n_in))
    return np.ascontiguousarray(a, dtype=np.float64).reshape(-1)


class Dropout:
    """Dropout with keep probabilities p = 1 - q (Eq. 6-8).

    Parameters
    ----------
    keep : float or list
        A scalar for every layer, or per layer: a scalar, a vector over the layer's
        input units, or (connections only) an (n_out, n_in) matrix.
    on : {"units", "connections"}
    keep_bias : float or list of float
        Probability that a bias is present (Eq. 9-10); 1 by default.
    """

    def __init__(self, keep=0.5, on: str = "units", keep_bias=1.0):
        if on not in ("units", "connections"):
            raise ValueError(f"on must be 'units' or 'connections', got {on!r}")
        if not isinstance(keep, (list, tuple)):
            as_probabilities(keep, "keep")
        self.keep, self.on, self.keep_bias = keep, on, keep_bias

    def __repr__(self) -> str:
        return f"Dropout(keep={self.keep!r}, on={self.on!r}, keep_bias={self.keep_bias!r})"

    def resolve(self, net):
        """(kind, keep per layer, keep_bias per layer) on ``net``; see ``dropengine._engine.gate_spec``."""
        p = _per_layer(self.keep, net, "keep", matrix=self.on == "connections")
        kb = _per_layer(self.keep_bias, net, "keep_bias", matrix=False)
        if any(b.size != 1 for b in kb):
            raise ValueError("keep_bias must be a scalar per layer")
        return self.on, p, [float(b[0]) for b in kb]


class Dropin:
    """Dropin (Section 11.6): each unit feeding layer h is set to 1 with probability
    ``rate`` (scalar, per layer, or per unit), and passed unchanged otherwise."""

    def __init__(self, rate=0.2):
        if not isinstance(rate, (list, tuple)):
            as_probabilities(rate, "rate")
        self.rate = rate

    def __repr__(self) -> str:
        return f"Dropin(rate={self.rate!r})"

    def resolve(self, net):
        """("dropin", rate per layer, [])."""
        return "dropin", _per_layer(self.rate, net, "rate", matrix=False), []


class NoGate:
    """No gating: plain deterministic propagation (Eq. 48)."""

    def __repr__(self) -> str:
        return "NoGate()"

    def resolve(self, net):
        """("none", ones per layer, [])."""
        return "none", [np.ones(1) for _ in range(net.n_layers)], []


class Spikes:
    """Stochastic spiking units (Section 10.1, Eq. 125-129).

    A spiking unit with output O in [0, 1] sends a spike of size r with probability O
    and 0 otherwise: the same spike on all its outgoing connections (``on="units"``,
    global firing, Eq. 125) or a separate coin per connection (``on="connections"``,
    Eq. 126). ``layers`` lists the layers whose *inputs* spike: 0 is the network input
    (its values must then be probabilities), h >= 1 the outputs of layer h - 1 (which
    must be logistic or softmax). By default every hidden layer spikes and the input and
    output do not.

    Parameters
    ----------
    r : float or list
        Spike sizes: a scalar, or per spiking layer a scalar, a vector over its units,
        or (connections) an (n_out, n_in) matrix r_ij. The duality with dropout (keep
        probability r) needs r <= 1.
    on : {"units", "connections"}
    layers : list of int, optional
    """

    def __init__(self, r=1.0, on: str = "units", layers=None):
        if on not in ("units", "connections"):
            raise ValueError(f"on must be 'units' or 'connections', got {on!r}")
        if not isinstance(r, (list, tuple)):
            a = as_real_array(r, "r", dtype=np.float64, finite=True)
            if (a < 0).any():
                raise ValueError("r: spike sizes must be >= 0")
        if layers is not None:
            if not isinstance(layers, (list, tuple)):
                raise TypeError(f"layers must be a list of layer indices, got {type(layers).__name__}")
            for k, h in enumerate(layers):
                as_count(h, f"layers[{k}]", minimum=0)
        self.r, self.on, self.layers = r, on, None if layers is None else list(layers)

    def __repr__(self) -> str:
        return f"Spikes(r={self.r!r}, on={self.on!r}, layers={self.layers!r})"

    def resolve(self, net):
        """("spikes" or "spikes_connections", spike sizes per layer (empty: no spikes), [])."""
        L = net.n_layers
        layers = list(range(1, L)) if self.layers is None else self.layers
        for h in layers:
            if h >= L:
                raise ValueError(f"layers: layer {h} does not exist (the network has {L}; the output does not spike)")
        if isinstance(self.r, (list, tuple)):
            if len(self.r) != L:
                raise ValueError(f"r must have one entry per layer ({L}), got {len(self.r)}")
            rs = list(self.r)
        else:
            rs = [self.r] * L

        def sizes_r(value, name):  # spike sizes, not probabilities
            a = as_real_array(value, name, dtype=np.float64)
            if (a < 0).any():
                raise ValueError(f"{name}: spike sizes must be >= 0")
            with np.errstate(over="ignore"):
                if not np.isfinite(a.astype(net.dtype)).all():
                    raise ValueError(f"{name}: spike sizes must be finite in the network's {net.dtype}")
            return a

        one = _connections if self.on == "connections" else _units
        out = [one(rs[h], net, h, "r", sizes_r) if h in layers else np.zeros(0) for h in range(L)]
        return ("spikes" if self.on == "units" else "spikes_connections"), out, []


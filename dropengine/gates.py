"""Gates: Bernoulli dropout on units or connections (Eq. 6-23, 49), dropin (Section 11.6),
spikes (Section 10.1), and continuous noise: Gaussian gates, additive noise on the units
(Section 5) and noise on the weights (Section 4.1).

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

__all__ = ["Dropout", "Dropin", "NoGate", "Spikes", "GaussianGate", "AdditiveNoise", "WeightNoise", "Gates",
           "CONTINUOUS_GATES", "refuse_continuous", "refuse_mixed"]


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

    Examples
    --------
    >>> import dropengine as de
    >>> de.Dropout([0.8, 0.5])             # inputs kept with 0.8, hidden units with 0.5
    Dropout(keep=[0.8, 0.5], on='units', keep_bias=1.0)
    >>> de.Dropout(0.5, on="connections").on
    'connections'
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
    ``rate`` (scalar, per layer, or per unit), and passed unchanged otherwise.

    Examples
    --------
    >>> import dropengine as de
    >>> de.Dropin(0.2)
    Dropin(rate=0.2)
    """

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
    """No gating: plain deterministic propagation (Eq. 48).

    Examples
    --------
    >>> import dropengine as de
    >>> de.NoGate()
    NoGate()
    """

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

    Examples
    --------
    >>> import dropengine as de
    >>> de.Spikes(0.5)
    Spikes(r=0.5, on='units', layers=None)
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
            return a

        one = _connections if self.on == "connections" else _units
        out = [one(rs[h], net, h, "r", _in_dtype(sizes_r, net)) if h in layers else np.zeros(0) for h in range(L)]
        return ("spikes" if self.on == "units" else "spikes_connections"), out, []



# --- continuous noise ----------------------------------------------------------------------
def _std_values(value, name: str) -> np.ndarray:
    """A float64 array of standard deviations: finite reals >= 0 (no bools)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a standard deviation (a real number >= 0), not a bool")
    a = as_real_array(value, name, dtype=np.float64, finite=True)
    if (a < 0).any():
        raise ValueError(f"{name} must be >= 0 (a standard deviation), got {a.min():g}")
    return a


def _mean_values(value, name: str) -> np.ndarray:
    """A float64 array of means: finite reals (no bools)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, not a bool")
    return as_real_array(value, name, dtype=np.float64, finite=True)


def _check_values(value, name: str, check, connections: bool) -> None:
    """The values a user gave, checked before any network is known: a scalar, or a
    per-layer list of scalars, arrays or (connections) dicts {l: ...}; the list's length
    and the arrays' shapes are checked by ``resolve``, which knows the network."""
    if isinstance(value, (list, tuple)):
        for k, v in enumerate(value):
            if connections and isinstance(v, Mapping):
                for l, w in v.items():
                    check(w, f"{name}[{k}][{l}]")
            else:
                check(v, f"{name}[{k}]")
        return
    if isinstance(value, Mapping):
        raise TypeError(f"{name}: a dict {{l: ...}} over source layers is one layer's entry; give a list with one "
                        f"entry per layer")
    if check(value, name).ndim != 0:
        raise ValueError(f"{name}: give a scalar, or a list with one entry per layer")


def _in_dtype(check, net):
    """``check``, then the values must stay finite in the network's dtype (the core
    casts the noise to it)."""
    def checked(value, name):
        a = check(value, name)
        with np.errstate(over="ignore"):
            if not np.isfinite(a.astype(net.dtype)).all():
                raise ValueError(f"{name} must be finite in the network's {net.dtype} "
                                 f"(|value| <= {float(np.finfo(net.dtype).max):.3g})")
        return a
    return checked


def _resolve_noise(kind: str, std, mean, net, matrix: bool):
    """(kind, std per layer, [], mean per layer): the 4-tuple of the continuous gates."""
    s = _per_layer(std, net, "std", matrix=matrix, check=_in_dtype(_std_values, net))
    m = ([np.zeros(1) for _ in range(net.n_layers)] if mean is None
         else _per_layer(mean, net, "mean", matrix=matrix, check=_in_dtype(_mean_values, net)))
    return kind, s, [], m


def _map_values(fn, value):
    """fn over every array of a scalar, per-layer list or dict {l: ...} (same structure)."""
    if isinstance(value, (list, tuple)):
        return [_map_values(fn, v) for v in value]
    if isinstance(value, Mapping):
        return {l: _map_values(fn, v) for l, v in value.items()}
    return fn(value)


class GaussianGate:
    """Multiplicative Gaussian noise in place of the Bernoulli coin: delta ~ N(mean, std^2).

    Gaussian dropout. Where unit dropout multiplies O_j by delta_j in {0, 1} (Eq. 6, 49),
    this gate multiplies by delta_j ~ N(mean_j, std_j^2). The paper's analysis needs only
    the independence of the gates from the activities and weights (Section 5, after Eq.
    54), so every result that uses the first two moments of delta carries over with

        E(delta) = mean,   E(delta^2) = mean^2 + std^2.

    In a linear network E(S) and every covariance depend only on these two moments
    (Eq. 15-20, 24-26; ``exact.linear_moments`` computes them in closed form). Inverted
    Bernoulli dropout at keep p multiplies by delta / p, with E = 1 and Var = (1 - p) / p:
    ``GaussianGate(1.0, sqrt((1 - p) / p))`` (see ``from_dropout``) has the same E(S) and
    Var(S) in every linear network, and Dropout(p) with the weights scaled by 1 / p gives
    them too. For logistic units NWGM = sigma(E(S)) holds for any distribution of S
    (Eq. 39-41), so the ensemble approximation of Eq. 52-54 applies with E(delta) = mean:
    ``dropengine.ensemble`` scales each weight by its mean.

    Parameters
    ----------
    mean : float or list
        E(delta): a scalar for every layer, or per layer a scalar, a vector over the
        layer's units (units) or an (n_out, n_in) matrix / dict {l: ...} (connections),
        exactly as ``Dropout``'s keep.
    std : float or list, >= 0
        Standard deviation of delta, in the same forms. The default 1 is Gaussian dropout
        at p = 1/2.
    on : {"units", "connections"}
        "units": unit j of source layer l (0 = the input) draws one delta_j per sample,
        shared by all its outgoing connections, into any layer (as unit dropout, Eq. 22).
        "connections": each connection w_ij of layer h draws its own delta_ij (as
        connection dropout, Eq. 23), values per receiving layer over its concatenated
        input (``Network.input_weights``).

    Biases get no noise. Draws: Philox streams GaussianUnit (14) and GaussianConnection
    (15), one Box-Muller normal per element (``dropengine._reference.draw_normals``).

    Examples
    --------
    Gaussian dropout with the mean and variance of Bernoulli dropout at p = 1/2:

    >>> import dropengine as de
    >>> de.GaussianGate.from_dropout(0.5)
    GaussianGate(mean=1.0, std=1.0, on='units')
    """

    def __init__(self, mean=1.0, std=1.0, on: str = "units"):
        if on not in ("units", "connections"):
            raise ValueError(f"on must be 'units' or 'connections', got {on!r}")
        _check_values(mean, "mean", _mean_values, on == "connections")
        _check_values(std, "std", _std_values, on == "connections")
        self.mean, self.std, self.on = mean, std, on

    @classmethod
    def from_dropout(cls, keep, on: str = "units") -> "GaussianGate":
        """Gaussian dropout with the first two moments of inverted Bernoulli dropout at
        ``keep`` (delta / p: mean 1, std sqrt((1 - p) / p)); keep in (0, 1], in any form
        ``Dropout`` takes."""
        def std(p):
            a = as_probabilities(p, "keep")
            if (a <= 0).any():
                raise ValueError("keep must be > 0: inverted dropout divides by it")
            s = np.sqrt((1.0 - a) / a)
            return float(s) if s.ndim == 0 else s
        return cls(mean=1.0, std=_map_values(std, keep), on=on)

    def __repr__(self) -> str:
        return f"GaussianGate(mean={self.mean!r}, std={self.std!r}, on={self.on!r})"

    def resolve(self, net):
        """("gaussian_units" or "gaussian_connections", std per layer, [], mean per
        layer) on ``net``: flat float64 arrays shaped as ``Dropout``'s keep (1 or n_l values
        over source layer l; 1 or n_out * n_in over the connections of weights[k])."""
        kind = "gaussian_units" if self.on == "units" else "gaussian_connections"
        return _resolve_noise(kind, self.std, self.mean, net, matrix=self.on == "connections")


class AdditiveNoise:
    """Gaussian noise added to the units' outputs: unit j sends O_j + eps_j (Section 5).

    eps_j ~ N(0, std_j^2), one draw per unit and sample shared by all its outgoing
    connections (as unit dropout, Eq. 22), independent of everything else. The paper
    notes (end of the derivation of Eq. 54) that the ensemble recursion applies "to
    Gaussian noise added to the unit activities": E(O + eps) = E(O), so
    ``dropengine.ensemble`` is the plain network, and in a linear network
    Var(O + eps) = Var(O) + std^2 (``exact.linear_moments``). For logistic units
    NWGM = sigma(E(S)) still holds (Eq. 39).

    Parameters
    ----------
    std : float or list, >= 0
        A scalar for every layer, or per source layer l (0 = the input; the output layer
        sends nothing) a scalar or a vector over its units.
    on : {"units"}
        The only choice; noise on the connections is ``WeightNoise``.

    Biases get no noise. Draws: Philox stream AdditiveNoise (16).

    Examples
    --------
    >>> import dropengine as de
    >>> de.AdditiveNoise(0.1)
    AdditiveNoise(std=0.1, on='units')
    """

    def __init__(self, std, on: str = "units"):
        if on != "units":
            raise ValueError(f"on must be 'units' (noise on the connections is WeightNoise), got {on!r}")
        _check_values(std, "std", _std_values, False)
        self.std, self.on = std, on

    def __repr__(self) -> str:
        return f"AdditiveNoise(std={self.std!r}, on={self.on!r})"

    def resolve(self, net):
        """("additive_noise", std per source layer, [], zeros(1) per layer)."""
        return _resolve_noise("additive_noise", self.std, None, net, matrix=False)


class WeightNoise:
    """Gaussian noise on the weights: each connection uses w_ij + eps_ij (Section 4.1).

    eps_ij ~ N(0, std_ij^2), drawn per connection and sample, independent of everything
    else. Section 4.1 remarks that NWGM = sigma(E(S)) (Eq. 39) holds for any distribution
    over the subnetworks, "if we add Gaussian or other noise to the weights" included.
    E(S_i) = sum_j w_ij E(a_j), so ``dropengine.ensemble`` is the plain network; in a
    linear network Cov(S_i, S_k) = (W Cov(a) W^T)_ik + [i = k] sum_j std_ij^2 E(a_j^2)
    (``exact.linear_moments``).

    Parameters
    ----------
    std : float or list, >= 0
        A scalar for every layer, or per layer (weights[k], the connections into layer
        k + 1) a scalar, a vector over its (concatenated) inputs, an (n_out, n_in) matrix,
        or a dict {l: ...} over its source layers, exactly as ``Dropout``'s keep on
        connections.

    Biases get no noise. Draws: Philox stream WeightNoise (17).

    Examples
    --------
    >>> import dropengine as de
    >>> de.WeightNoise(0.1)
    WeightNoise(std=0.1)
    """

    def __init__(self, std):
        _check_values(std, "std", _std_values, True)
        self.std = std

    def __repr__(self) -> str:
        return f"WeightNoise(std={self.std!r})"

    def resolve(self, net):
        """("weight_noise", std per layer over its connections, [], zeros(1) per layer)."""
        return _resolve_noise("weight_noise", self.std, None, net, matrix=True)


#: The gates whose noise is continuous: no subnetworks to enumerate, no Bernoulli masks.
CONTINUOUS_GATES = (GaussianGate, AdditiveNoise, WeightNoise)


def refuse_continuous(gate, where: str, hint: str = "use sample or exact.linear_moments") -> None:
    """The one-line ValueError of the engines that handle Bernoulli gates only."""
    if isinstance(gate, CONTINUOUS_GATES) or (isinstance(gate, Gates) and gate.continuous):
        raise ValueError(f"{where}: Gaussian gates are continuous; {hint}")


def refuse_mixed(gate, where: str) -> None:
    """The one-line ValueError of the routines written for one gate kind per network."""
    if isinstance(gate, Gates):
        raise ValueError(f"{where}: a Gates mix of kinds is not supported here; give one gate for the whole network")


# --- one gate per layer --------------------------------------------------------------------
#: The gates a Gates entry may hold (spikes are a network's mode, not mixed).
_ENTRY_GATES = (Dropout, Dropin, NoGate) + CONTINUOUS_GATES


def _resolve_entry(g, net, h: int) -> tuple:
    """(kind name, p, keep_bias, mean) of entry h, for Gates.resolve; p and mean as the
    whole-network gates resolve them for their layer h (``_units``: source layer h;
    ``_connections``: the connections into layer h + 1)."""
    name = f"gates[{h}]"
    if g is None or isinstance(g, NoGate):
        return "none", np.ones(1), 1.0, np.ones(1)
    if isinstance(g, Dropout):
        one = _connections if g.on == "connections" else _units
        p = one(g.keep, net, h, f"{name}.keep", as_probabilities)
        kb = as_probabilities(g.keep_bias, f"{name}.keep_bias")
        if kb.ndim != 0:
            raise ValueError(f"{name}.keep_bias must be a scalar")
        return g.on, p, float(kb), np.ones(1)
    if isinstance(g, Dropin):
        return "dropin", _units(g.rate, net, h, f"{name}.rate", as_probabilities), 1.0, np.ones(1)
    on_connections = isinstance(g, WeightNoise) or (isinstance(g, GaussianGate) and g.on == "connections")
    one = _connections if on_connections else _units
    std = one(g.std, net, h, f"{name}.std", _in_dtype(_std_values, net))
    if isinstance(g, GaussianGate):
        mean = one(g.mean, net, h, f"{name}.mean", _in_dtype(_mean_values, net))
        return ("gaussian_connections" if on_connections else "gaussian_units"), std, 1.0, mean
    return ("weight_noise" if on_connections else "additive_noise"), std, 1.0, np.ones(1)


class Gates:
    """One gate (or None) per layer: a network that mixes gate kinds (issue "General networks").

    ``gates[l]`` is a ``Dropout``, ``Dropin``, ``GaussianGate``, ``AdditiveNoise``,
    ``WeightNoise``, ``NoGate`` or None, and describes entry l only: its values are a
    scalar, a vector or a matrix (or, on connections, a dict {source layer: ...}); a list
    is read as an array, never as one value per layer. What entry l gates follows the kind, as in the whole-network gates:

    - unit kinds (``Dropout(on="units")``, ``Dropin``, ``GaussianGate(on="units")``,
      ``AdditiveNoise``): the units of layer l (0 = the input), one draw per unit and
      sample shared by all its outgoing connections, into any layer (Eq. 22);
    - connection kinds (``Dropout(on="connections")``, ``GaussianGate(on="connections")``,
      ``WeightNoise``): the connections into layer l + 1 (``weights[l]``), from all its
      sources (Eq. 23), with the bias gates of layer l + 1 for ``Dropout``.

    In a chain the two readings are the same layer's inputs. With skip connections a
    connection from layer l < k into layer k + 1 can meet a unit gate (entry l) and a
    connection gate (entry k): both apply and their draws multiply. They are independent,
    so the expectations factor: E(delta_unit delta_conn) = E(delta_unit) E(delta_conn)
    (Eq. 24-26; the ensemble network and ``exact.linear_moments`` use this). Every entry
    draws from its own kind's Philox stream, addressed as for the whole-network gate, so
    an entry of a Gates draws exactly what the same gate draws on that layer alone.

    Examples
    --------
    >>> import dropengine as de
    >>> gate = de.Gates([de.Dropout(0.8), de.GaussianGate(1.0, 0.5), None])
    """

    def __init__(self, gates):
        if isinstance(gates, (str, bytes)) or not isinstance(gates, (list, tuple)):
            raise TypeError(f"gates must be a list with one gate (or None) per layer, got {type(gates).__name__}")
        for k, g in enumerate(gates):
            if g is not None and not isinstance(g, _ENTRY_GATES):
                what = "spikes are a network's mode, not mixed" if isinstance(g, Spikes) else (
                    "Gates do not nest" if isinstance(g, Gates) else f"got {type(g).__name__}")
                raise TypeError(f"gates[{k}] must be Dropout, Dropin, GaussianGate, AdditiveNoise, WeightNoise, "
                                f"NoGate or None ({what})")
        self.gates = list(gates)

    @property
    def continuous(self) -> bool:
        """Whether some entry's noise is continuous (no subnetworks to enumerate)."""
        return any(isinstance(g, CONTINUOUS_GATES) for g in self.gates)

    def __len__(self) -> int:
        return len(self.gates)

    def __getitem__(self, l: int):
        return self.gates[l]

    def __repr__(self) -> str:
        return f"Gates({self.gates!r})"

    def resolve(self, net):
        """("mixed", p per entry, keep_bias per layer (empty: all 1), mean per entry,
        kind name per entry) on ``net``; see ``dropengine._engine.gate_spec``."""
        L = net.n_layers
        if len(self.gates) != L:
            raise ValueError(f"gates must have one entry per layer ({L}), got {len(self.gates)}")
        entries = [_resolve_entry(g, net, h) for h, g in enumerate(self.gates)]
        kinds = [e[0] for e in entries]
        kb = [e[2] for e in entries]
        return "mixed", [e[1] for e in entries], ([] if all(v == 1.0 for v in kb) else kb), \
            [e[3] for e in entries], kinds

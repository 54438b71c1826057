"""The one door to the C++ core: the only module that imports ``dropengine._core``.

Public modules check what their users pass (names, types, ranges they document), then
call one function here with a ``Network``, its inputs and a gate. This module owns what
each of them would otherwise repeat:

- the network check and input conversion (``check_net``, ``as_inputs``, ``unit_pairs``,
  ``check_ranges``);
- the typed descriptions the core takes: ``gate_spec`` (a ``GateSpec`` of ``GateKind``,
  per-layer probabilities and bias keeps) and ``net_args`` (weights, biases and
  ``TransferKind`` rows);
- the layout of results (statistics dicts and the input statistics).

The bindings pick the float32 or float64 engine from the network's dtype and check the
sizes of every buffer whose pointer they pass; the core validates its own arguments.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _core
from ._validation import as_count, as_real_array
from .gates import CONTINUOUS_GATES, Dropin, Dropout, Gates, NoGate, Spikes
from .network import Network

__all__ = ["GateKind", "TransferKind", "Loss", "LOSSES", "GateSpec", "OutOfMemory", "MAX_TOTAL_SAMPLES", "PARTS_LOG2_OFFSET",
           "check_net", "as_inputs", "unit_pairs", "check_ranges", "gate_spec", "require_chain", "net_args",
           "transfer_row",
           "sample", "sample_async", "ensemble", "enumerate_subnetworks", "free_gates", "merge", "transfer", "trainer",
           "build_info", "philox4x32_10"]

GateKind = _core.GateKind
TransferKind = _core.TransferKind
Loss = _core.Loss
OutOfMemory = _core.OutOfMemory
#: The losses, by name, in the order of dropengine::Loss (train.h): squared error (Eq. 55),
#: relative entropy (Eq. 156, logistic outputs), softmax cross entropy.
LOSSES = tuple(Loss.__members__)

#: n_inputs x n_samples above this is refused: the core numbers its jobs (input x block of
#: 64 samples) in a signed 64-bit integer; past 2^63 it wraps, the run does nothing and
#: returns all-zero statistics. 2^62 samples leave ample headroom (and years of work).
MAX_TOTAL_SAMPLES = 2**62
#: An enumeration splits into at most 2^max(0, free gates - PARTS_LOG2_OFFSET) parts.
PARTS_LOG2_OFFSET = int(_core.parts_log2_offset)


# --- arguments ---------------------------------------------------------------------------
def check_net(net) -> None:
    if not isinstance(net, Network):
        raise TypeError(f"net must be a dropengine.Network, got {type(net).__name__}")


def as_inputs(net: Network, inputs) -> np.ndarray:
    """inputs as a C-contiguous (n_inputs, n_in) array of the network's dtype."""
    X = as_real_array(inputs, "inputs", ndim=(1, 2), dtype=net.dtype)
    if X.ndim == 1:
        X = X[None, :]
    if X.shape[1] != net.n_in:
        raise ValueError(f"inputs must have {net.n_in} columns (the network's input width), got {X.shape[1]}")
    return X


def unit_pairs(net: Network, pairs) -> np.ndarray:
    """Global unit indices (n_pairs, 2) for pairs given as ((h_a, i_a), (h_b, i_b))."""
    if pairs is None:
        return np.zeros((0, 2), np.int64)
    if not isinstance(pairs, (list, tuple, np.ndarray)) or (isinstance(pairs, np.ndarray) and pairs.ndim == 0):
        raise TypeError(f"pairs must be a list of ((layer, unit), (layer, unit)), got {type(pairs).__name__}")
    offsets = np.cumsum((0,) + net.sizes[1:])
    out = []
    for k, pr in enumerate(pairs):
        try:
            (ha, ia), (hb, ib) = pr
        except (TypeError, ValueError):
            raise ValueError(f"pairs[{k}] must be ((layer, unit), (layer, unit))") from None
        for h, i in ((ha, ia), (hb, ib)):
            as_count(h, f"pairs[{k}] layer", minimum=0)
            as_count(i, f"pairs[{k}] unit", minimum=0)
            if h >= net.n_layers or i >= net.sizes[h + 1]:
                raise ValueError(f"pairs[{k}]: unit ({h}, {i}) does not exist in {net!r}")
        out.append((offsets[ha] + ia, offsets[hb] + ib))
    return np.asarray(out, np.int64).reshape(-1, 2)


def check_ranges(n_inputs: int, n_samples: int, first_sample: int = 0, first_input: int = 0) -> None:
    """The Philox addresses stay within their fields (samples < 2^48, inputs < 2^32) and
    the core's job count within int64 (MAX_TOTAL_SAMPLES)."""
    if n_samples > 2**48:
        raise ValueError(f"n_samples must be at most 2^48, got {n_samples}")
    if first_sample + n_samples > 2**48:
        raise ValueError("first_sample: sample indices first_sample + n_samples must stay below 2^48")
    if first_input + n_inputs > 2**32:
        raise ValueError("first_input: input indices must stay below 2^32")
    if n_inputs * n_samples > MAX_TOTAL_SAMPLES:
        raise ValueError(f"n_samples: {n_inputs} inputs x {n_samples} samples = 2^"
                         f"{np.log2(float(n_inputs * n_samples)):.1f} passes, more than the core can count "
                         f"(2^62); split the run with first_sample or first_input and merge the parts")


# --- typed descriptions ------------------------------------------------------------------
class GateSpec(NamedTuple):
    """What the core draws: ``kind``, per layer the flat float64 ``p`` (keep
    probabilities, dropin rates, spike sizes, or the noise's standard deviations; see
    cpp/include/dropengine/gate.h), ``keep_bias`` (empty when biases are never gated) and
    ``mean`` (per layer, the multiplicative Gaussian kinds' means; else empty) and ``kinds``
    (``GateKind.mixed`` only: each entry's kind; else empty)."""

    kind: GateKind
    p: list
    keep_bias: list
    mean: list = []
    kinds: list = []


def gate_spec(gate, net: Network, *, allow_spikes: bool = True) -> GateSpec:
    """The typed description of ``gate`` on ``net`` (None is ``NoGate()``); TypeError for
    anything that is not a gate, ValueError for Spikes where only dropout gates apply."""
    if gate is None:
        gate = NoGate()
    if not isinstance(gate, (Dropout, Dropin, NoGate, Spikes, Gates) + CONTINUOUS_GATES):
        raise TypeError(f"gate must be Dropout, Dropin, Spikes, GaussianGate, AdditiveNoise, WeightNoise, Gates, NoGate "
                        f"or None, got {type(gate).__name__}")
    if isinstance(gate, Spikes) and not allow_spikes:
        raise ValueError("gate: spiking networks (Spikes) are simulated with dropengine.sample, not handled here")
    kind, p, keep_bias, *rest = gate.resolve(net)
    mean = rest[0] if rest else []
    kinds = [GateKind.__members__[k] for k in rest[1]] if len(rest) > 1 else []
    return GateSpec(GateKind.__members__[kind], p, keep_bias, mean, kinds)


def transfer_row(f) -> tuple:
    """(TransferKind, c, lam, threshold, slope) of a Transfer, as the core takes it."""
    return (TransferKind.__members__[f.name],) + f.params()


def require_chain(net: Network, engines: str) -> None:
    """ValueError naming ``net`` when it has skip connections and ``engines`` handle chains
    only: the one wording of that refusal, raised before any work."""
    if not net.is_chain:
        raise ValueError(f"net: networks with skip connections (layer h receiving from layers other than h - 1) "
                         f"are not supported by {engines} yet; exact.linear_moments handles them")


def net_args(net: Network) -> tuple:
    """(weights, biases, transfer rows, sources) as the core takes them (network.h): a
    layer with skip connections as its ``input_weights`` (W_cat and its blocks), a chain's
    layer as its matrix with no blocks, so a chain reaches the core as it always did."""
    if net.is_chain:
        return list(net.weights), list(net.biases), [transfer_row(f) for f in net.transfers], [[]] * net.n_layers
    W, sources = zip(*(net.input_weights(h) for h in range(1, net.n_layers + 1)))
    return list(W), list(net.biases), [transfer_row(f) for f in net.transfers], list(sources)


def _n_in(net: Network) -> list:
    """The width of each layer's (concatenated) input."""
    return list(net.sizes[:-1]) if net.is_chain else [net.input_weights(h)[0].shape[1]
                                                       for h in range(1, net.n_layers + 1)]


def _input_stats(net: Network, acc: dict):
    """(the units' accumulators, E_in, var_in): the core returns the input statistics
    (input_stats=True) flat per layer; here they take the shape (n_inputs, n_in_h). Empty
    lists when they were not measured."""
    units = {k: v for k, v in acc.items() if k not in ("E_in", "var_in")}
    E_in = [e.reshape(-1, n) for e, n in zip(acc["E_in"], _n_in(net))]
    var_in = [v.reshape(-1, n) for v, n in zip(acc["var_in"], _n_in(net))]
    return units, E_in, var_in


# --- core calls --------------------------------------------------------------------------
def sample(net: Network, X: np.ndarray, gate: GateSpec, *, n_samples: int, first_sample: int, first_input: int,
           key: tuple, threads: int, pairs: np.ndarray, record: list, input_stats: bool, bf16: bool = False):
    """Monte Carlo statistics (sampler.h): (accumulators, raw outputs of the recorded
    layers, E_in, var_in)."""
    acc, records = _core.sample(net_args(net), tuple(gate), X, n_samples=n_samples, first_sample=first_sample,
                                first_input=first_input, key=key, threads=threads, pairs=pairs, record=record,
                                input_stats=input_stats, bf16=bf16)
    units, E_in, var_in = _input_stats(net, acc)
    return units, list(records), E_in, var_in


def sample_async(net: Network, X: np.ndarray, gate: GateSpec, *, n_steps: int, burn_in: int, key: tuple,
                 threads: int):
    """Asynchronous spiking chains (spiking.h): (accumulators, E_in, var_in)."""
    acc = _core.sample_async(net_args(net), tuple(gate), X, n_steps=n_steps, burn_in=burn_in, first_input=0,
                             key=key, threads=threads, input_stats=True)
    return _input_stats(net, acc)


def ensemble(net: Network, X: np.ndarray, gate: GateSpec, *, threads: int):
    """The ensemble network (ensemble.h): lists U[h], W[h] of (n_inputs, n_out_h)."""
    U, W = _core.ensemble(net_args(net), tuple(gate), X, threads=threads)
    return list(U), list(W)


def enumerate_subnetworks(net: Network, X: np.ndarray, gate: GateSpec, *, threads: int, pairs: np.ndarray,
                          max_log2: int, allow_halves: bool, part: int, n_parts: int) -> dict:
    """Exact statistics over every subnetwork (enumerate.h): the accumulators."""
    return _core.enumerate(net_args(net), tuple(gate), X, threads=threads, pairs=pairs, max_log2=max_log2,
                           allow_halves=allow_halves, part=part, n_parts=n_parts)


def free_gates(net: Network, gate: GateSpec) -> int:
    """Gates with 0 < p < 1: the gate induces 2^free_gates subnetworks."""
    return int(_core.free_gates(net_args(net), tuple(gate)))


def merge(a: dict, b: dict, pairs: np.ndarray) -> dict:
    """a's accumulators with b's samples added (SampleStats::merge, Chan et al.)."""
    return _core.merge(a, b, pairs)


def transfer(f, S: np.ndarray):
    """(O, log O, log(1 - O), dO/dS) of the core's transfer f on rows S (2-D, float32/64)."""
    return _core.transfer(transfer_row(f), S)


def trainer(net: Network, gate: GateSpec, *, loss: str, batch_size: int, momentum: float, weight_decay: float,
            max_norm: float, backward: tuple, key: tuple, threads: int):
    """The core's SGD trainer (train.h) on a copy of net's weights; ``backward`` is
    (modes, noise) per hidden layer (``training.options.core_backward``)."""
    modes, noise = backward
    return _core.Trainer(net_args(net), tuple(gate), loss=Loss.__members__[loss], batch_size=batch_size,
                         momentum=momentum, weight_decay=weight_decay, max_norm=max_norm, backward=modes,
                         backward_noise=noise, key=key, threads=threads)


def build_info() -> dict:
    return dict(_core.build_info())


def philox4x32_10(counter, key) -> tuple:
    """One Philox4x32-10 block of the core (philox.h), for the NumPy twin's tests."""
    return tuple(_core.philox4x32_10(list(counter), list(key)))

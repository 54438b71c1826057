"""Monte Carlo sampling of dropout subnetworks (Sections 5, 9) and the ensemble network."""
from __future__ import annotations

import numpy as np

from . import _core
from ._validation import as_count, as_real_array, as_threads, seed_key
from .gates import resolve_gate
from .network import Network
from .stats import SampleStats

__all__ = ["sample", "ensemble", "forward", "DEFAULT_MAX_RECORD_BYTES", "MAX_TOTAL_SAMPLES"]

#: Raw samples larger than this are refused before allocation (override with max_record_bytes).
DEFAULT_MAX_RECORD_BYTES = 2 * 1024**3
#: n_inputs x n_samples above this is refused: the core numbers its jobs (input x block of
#: 64 samples) in a signed 64-bit integer; past 2^63 it wraps, the run does nothing and
#: returns all-zero statistics. 2^62 samples leave ample headroom (and years of work).
MAX_TOTAL_SAMPLES = 2**62


def _check_net(net):
    if not isinstance(net, Network):
        raise TypeError(f"net must be a dropengine.Network, got {type(net).__name__}")


def _inputs(net: Network, inputs) -> np.ndarray:
    X = as_real_array(inputs, "inputs", ndim=(1, 2), dtype=net.dtype)
    if X.ndim == 1:
        X = X[None, :]
    if X.shape[1] != net.n_in:
        raise ValueError(f"inputs must have {net.n_in} columns (the network's input width), got {X.shape[1]}")
    return X


def _pairs(net: Network, pairs) -> np.ndarray:
    """Global unit indices for pairs given as ((h_a, i_a), (h_b, i_b))."""
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


def _check_ranges(n_inputs: int, n_samples: int, first_sample: int = 0, first_input: int = 0) -> None:
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


def sample(net: Network, inputs, gate=None, n_samples: int = 1000, *, seed=None, threads=None,
           pairs=None, record=None, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
           first_sample: int = 0, first_input: int = 0, input_stats: bool = False) -> SampleStats:
    """Draws `n_samples` dropout subnetworks per input and accumulates per-unit statistics.

    For input x and sample s, the gate draws Bernoulli selectors delta (Eq. 6) from
    Philox4x32-10 streams addressed by (seed, first_input + x, first_sample + s, layer,
    unit or connection), the subnetwork propagates O^h = f(W^h (delta * O^{h-1}) + b^h)
    (Eq. 49; Eq. 23 for connections), and E, Var, G, G', NWGM (Eq. 35-37), E(S),
    Var(S) and E(sigma'(S)) (Eq. 220) are accumulated in float64. Results are
    bit-identical for any `threads`.

    Parameters
    ----------
    net : Network
    inputs : array (n_inputs, n_in)
    gate : Dropout, Dropin, NoGate or None
    n_samples : int >= 1
    seed : int, numpy.random.SeedSequence or None (fresh entropy, kept in ``seed_entropy``)
    threads : int >= 1 or None (all cores)
    pairs : list of ((h_a, i_a), (h_b, i_b)), optional
        Unit pairs whose covariance E(O_a O_b) - E(O_a) E(O_b) is accumulated (Section 9.6).
    record : list of int, optional
        Layers whose raw outputs are returned in ``records[h]``, shape (n_inputs, n_samples, n_out_h).
    max_record_bytes : int
        Raw-sample requests larger than this are refused before anything is allocated.
    first_sample, first_input : int
        Global indices of the first sample and input, to split one run across calls or
        processes; merging the parts with ``SampleStats.merge`` reproduces the whole.
    input_stats : bool
        Also measure the gated inputs of every layer h (dropout delta O, dropin, spikes
        Delta; for connection gates averaged over a unit's outgoing connections):
        ``E_in[h]`` and ``var_in[h]``, shape (n_inputs, n_in_h). They are not merged or saved.

    Returns
    -------
    SampleStats
        Its ``provenance`` records the seed's key, the input range [first_input,
        first_input + n_inputs) and the sample range [first_sample, first_sample +
        n_samples), so that ``merge`` refuses to count the same samples twice.

    Ctrl-C stops the run within milliseconds with KeyboardInterrupt; the statistics
    accumulated so far are discarded (to keep partial work, split the run with
    ``first_sample`` and merge the parts).
    """
    _check_net(net)
    X = _inputs(net, inputs)
    kind, p, keep_bias = resolve_gate(gate, net)
    n_samples = as_count(n_samples, "n_samples")
    first_sample = as_count(first_sample, "first_sample", minimum=0)
    first_input = as_count(first_input, "first_input", minimum=0)
    _check_ranges(X.shape[0], n_samples, first_sample, first_input)
    threads = as_threads(threads)
    k0, k1, ss = seed_key(seed)
    pair_idx = _pairs(net, pairs)
    if record is None:
        record = []
    elif not isinstance(record, (list, tuple, np.ndarray)) or (isinstance(record, np.ndarray) and record.ndim != 1):
        raise TypeError(f"record must be a list of layer indices, got {type(record).__name__}")
    record = list(record)
    for k, h in enumerate(record):
        as_count(h, f"record[{k}]", minimum=0)
        if h >= net.n_layers:
            raise ValueError(f"record[{k}]: layer {h} does not exist (the network has {net.n_layers})")
    max_record_bytes = as_count(max_record_bytes, "max_record_bytes", minimum=0)
    need = sum(X.shape[0] * n_samples * net.sizes[h + 1] for h in record) * net.dtype.itemsize
    if need > max_record_bytes:
        raise MemoryError(f"record: raw samples would take {need / 2**30:.2f} GiB, above max_record_bytes = "
                          f"{max_record_bytes / 2**30:.2f} GiB; record fewer layers or samples, or raise the limit")
    fn = _core.sample_f32 if net.dtype == np.float32 else _core.sample_f64
    W, b, f = net._core_args()
    if not isinstance(input_stats, (bool, np.bool_)):
        raise TypeError(f"input_stats must be a bool, got {type(input_stats).__name__}")
    acc, recs = fn(W, b, f, kind, p, keep_bias, X, n_samples, first_sample, first_input, k0, k1, threads,
                   pair_idx, record, bool(input_stats))
    units, E_in, var_in = _split_input_stats(net, acc)
    cover = ((k0, k1), (first_input, first_input + X.shape[0]), (first_sample, first_sample + n_samples))
    st = SampleStats(units, net.sizes[1:], pair_idx, dict(zip(record, recs)), seed_entropy=ss.entropy,
                     softmax_layers=[f.name == "softmax" for f in net.transfers], provenance=[cover])
    if input_stats:
        st.E_in, st.var_in = E_in, var_in
    return st


def _split_input_stats(net: Network, acc: dict):
    """The core's accumulators of the network's units, and (with input_stats) E and Var of
    the gated inputs of every layer: returns (the units' accumulators, E_in, var_in), the
    last two lists over layers of (n_inputs, n_in_h) arrays (empty when absent)."""
    units = {k: v for k, v in acc.items() if k not in ("E_in", "var_in")}
    E_in = [e.reshape(-1, n) for e, n in zip(acc["E_in"], net.sizes[:-1])]
    var_in = [v.reshape(-1, n) for v, n in zip(acc["var_in"], net.sizes[:-1])]
    return units, E_in, var_in


def ensemble(net: Network, inputs, gate=None, *, threads=None):
    """The deterministic ensemble network (Eq. 24, 26, 54, 167).

    U^h = W^h (p^h * W^{h-1}) + p_b b^h and W^h = f(U^h), W^{-1} = I: each weight
    multiplied by its keep probability (for connections, p_ij w_ij, Eq. 26); for dropin
    each input is replaced by its expectation (1 - r) W + r.

    Returns
    -------
    U, W : lists over layers of arrays (n_inputs, n_out_h)
    """
    _check_net(net)
    X = _inputs(net, inputs)
    kind, p, keep_bias = resolve_gate(gate, net)
    threads = as_threads(threads)
    fn = _core.ensemble_f32 if net.dtype == np.float32 else _core.ensemble_f64
    W, b, f = net._core_args()
    U, Wout = fn(W, b, f, kind, p, keep_bias, X, threads)
    return list(U), list(Wout)


def forward(net: Network, inputs, *, threads=None):
    """Plain deterministic propagation (Eq. 48): lists S[h], O[h] of shape (n_inputs, n_out_h)."""
    return ensemble(net, inputs, None, threads=threads)

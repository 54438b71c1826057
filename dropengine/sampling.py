"""Monte Carlo sampling of dropout subnetworks (Sections 5, 9) and the ensemble network."""
from __future__ import annotations

import numpy as np

from . import _engine as engine
from ._engine import MAX_TOTAL_SAMPLES
from ._validation import as_count, as_precision, as_threads, seed_key
from .network import Network
from .stats import SampleStats

__all__ = ["sample", "ensemble", "forward", "DEFAULT_MAX_RECORD_BYTES", "MAX_TOTAL_SAMPLES"]

#: Raw samples larger than this are refused before allocation (override with max_record_bytes).
DEFAULT_MAX_RECORD_BYTES = 2 * 1024**3


def sample(net: Network, inputs, gate=None, n_samples: int = 1000, *, seed=None, threads=None,
           pairs=None, record=None, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
           first_sample: int = 0, first_input: int = 0, input_stats: bool = False,
           precision=None) -> SampleStats:
    """Draws `n_samples` dropout subnetworks per input and accumulates per-unit statistics.

    For input x and sample s, the gate draws Bernoulli selectors delta (Eq. 6) from
    Philox4x32-10 streams addressed by (seed, first_input + x, first_sample + s, layer,
    unit or connection), the subnetwork propagates O^h = f(W^h (delta * O^{h-1}) + b^h)
    (Eq. 49; Eq. 23 for connections), and E, Var, G, G', NWGM (Eq. 35-37), E(S),
    Var(S) and E(sigma'(S)) (Eq. 220) are accumulated in float64. Results are
    bit-identical for any `threads`. Continuous gates draw one Box-Muller normal per
    unit or connection from their own Philox streams instead of a coin: GaussianGate
    multiplies by delta ~ N(mean, std^2), AdditiveNoise adds eps ~ N(0, std^2) to a
    unit's output (Section 5), WeightNoise adds eps_ij to each weight (Section 4.1).

    Parameters
    ----------
    net : Network
    inputs : array (n_inputs, n_in)
    gate : Dropout, Dropin, Spikes, GaussianGate, AdditiveNoise, WeightNoise, NoGate or None
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
    precision : {None, "float32", "float64", "bf16"}
        None (or the network's dtype name) computes in the network's dtype. "bf16" (opt-in,
        float32 networks): the products of the layers gated on units or not gated round W
        and the gated inputs to bfloat16 (round to nearest even) and sum in float32; the
        statistics stay float64 and connection-gated layers stay float32. It runs on
        AVX512_BF16 (``vdpbf16ps``) where the CPU has it (``build_info()["bf16"]``),
        emulated with the same bits elsewhere. The rounding shifts S by about 2^-9 of the
        magnitude of its terms: ``bench/bench_bf16_accuracy.py`` measures the shift of E
        against float32 in standard errors of a 10,000-sample run.

    Returns
    -------
    SampleStats
        Its ``provenance`` records the seed's key, the input range [first_input,
        first_input + n_inputs) and the sample range [first_sample, first_sample +
        n_samples), so that ``merge`` refuses to count the same samples twice.

    Raises
    ------
    ValueError, TypeError
        A bad argument (named in the message), before any work.
    MemoryError
        ``record`` would need more than ``max_record_bytes``.
    KeyboardInterrupt
        Ctrl-C stops the run within milliseconds; the statistics accumulated so far are
        discarded (to keep partial work, split the run with ``first_sample`` and merge
        the parts).

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> net = de.Network.random([6, 4, 2], "logistic", seed=0)
    >>> X = np.random.default_rng(0).uniform(size=(3, 6))
    >>> st = de.sample(net, X, de.Dropout([0.8, 0.5]), n_samples=1000, seed=1)
    >>> st.E[1].shape, st.n_samples
    ((3, 2), 1000)
    """
    engine.check_net(net)
    X = engine.as_inputs(net, inputs)
    spec = engine.gate_spec(gate, net)
    n_samples = as_count(n_samples, "n_samples")
    first_sample = as_count(first_sample, "first_sample", minimum=0)
    first_input = as_count(first_input, "first_input", minimum=0)
    engine.check_ranges(X.shape[0], n_samples, first_sample, first_input)
    threads = as_threads(threads)
    k0, k1, ss = seed_key(seed)
    pair_idx = engine.unit_pairs(net, pairs)
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
    if not isinstance(input_stats, (bool, np.bool_)):
        raise TypeError(f"input_stats must be a bool, got {type(input_stats).__name__}")
    bf16 = as_precision(precision, net.dtype, X)
    units, recs, E_in, var_in = engine.sample(net, X, spec, n_samples=n_samples, first_sample=first_sample,
                                              first_input=first_input, key=(k0, k1), threads=threads,
                                              pairs=pair_idx, record=record, input_stats=bool(input_stats),
                                              bf16=bf16)
    cover = ((k0, k1), (first_input, first_input + X.shape[0]), (first_sample, first_sample + n_samples))
    st = SampleStats(units, net.sizes[1:], pair_idx, dict(zip(record, recs)), seed_entropy=ss.entropy,
                     softmax_layers=[f.name == "softmax" for f in net.transfers], provenance=[cover],
                     precision="bf16" if bf16 else None)
    if input_stats:
        st.E_in, st.var_in = E_in, var_in
    return st


def ensemble(net: Network, inputs, gate=None, *, threads=None):
    """The deterministic ensemble network (Eq. 24, 26, 54, 167).

    U^h = W^h (p^h * W^{h-1}) + p_b b^h and W^h = f(U^h), W^{-1} = I: each weight
    multiplied by its keep probability (for connections, p_ij w_ij, Eq. 26); for dropin
    each input is replaced by its expectation (1 - r) W + r. Continuous gates enter by
    their expectation too: GaussianGate multiplies by E(delta) = mean (per unit or per
    connection), AdditiveNoise and WeightNoise have zero-mean noise and give the plain
    network (Eq. 54 needs only that the noise is independent of the activities).

    Parameters
    ----------
    net : Network
    inputs : array (n_inputs, n_in)
    gate : a gate or None
        As for ``sample``; None is the plain network.
    threads : int >= 1 or None (all cores)

    Returns
    -------
    U, W : lists over layers of arrays (n_inputs, n_out_h)
        The sums U^h and the outputs W^h = f(U^h) of the ensemble network.

    Examples
    --------
    For a linear network the ensemble network is exact (Eq. 11, 24):

    >>> import numpy as np, dropengine as de
    >>> net = de.Network([np.array([[1.0, 2.0]])], transfer="linear")
    >>> U, W = de.ensemble(net, np.array([[1.0, 1.0]]), de.Dropout(0.5))
    >>> W[0]
    array([[1.5]])
    """
    engine.check_net(net)
    X = engine.as_inputs(net, inputs)
    spec = engine.gate_spec(gate, net)
    return engine.ensemble(net, X, spec, threads=as_threads(threads))


def forward(net: Network, inputs, *, threads=None):
    """Plain deterministic propagation (Eq. 48): lists S[h], O[h] of shape (n_inputs, n_out_h).

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> net = de.Network([np.array([[1.0, -1.0]])], transfer="relu")
    >>> S, O = de.forward(net, np.array([[1.0, 3.0]]))
    >>> S[0], O[0]
    (array([[-2.]]), array([[0.]]))
    """
    return ensemble(net, inputs, None, threads=threads)

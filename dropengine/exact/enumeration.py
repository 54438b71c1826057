"""Exact enumeration of every dropout subnetwork (Eq. 2-5, 7, 30-39), in the C++ core."""
from __future__ import annotations


from .. import _engine as engine
from ..gates import refuse_continuous
from .._validation import as_count, as_threads
from ..stats import SampleStats

__all__ = ["enumerate", "n_subnetworks", "max_parts", "DEFAULT_MAX_SUBNETWORKS"]

#: Enumerations with more subnetworks than this are refused unless the caller raises it.
DEFAULT_MAX_SUBNETWORKS = 2**30


def _free_gates(net, gate, where: str = "exact.enumerate"):
    """(free gates, the gate's typed description): one resolution, one core call.
    Continuous gates (Gaussian noise) have no subnetworks to count: ValueError."""
    engine.check_net(net)
    refuse_continuous(gate, where)
    spec = engine.gate_spec(gate, net, allow_spikes=False)
    return engine.free_gates(net, spec), spec


def _parts_for(free: int) -> int:
    return 2 ** max(0, free - engine.PARTS_LOG2_OFFSET)


def n_subnetworks(net, gate) -> int:
    """Number of subnetworks the gate induces: 2^(gates with 0 < p < 1), exactly (a
    Python integer, however large).

    Examples
    --------
    >>> import dropengine as de
    >>> net = de.Network.random([4, 3, 2], seed=0)
    >>> de.exact.n_subnetworks(net, de.Dropout(0.5))       # 4 + 3 gated units
    128
    """
    return 2 ** _free_gates(net, gate, "exact.n_subnetworks")[0]


def max_parts(net, gate) -> int:
    """The most parts one enumeration can be split into (``part=(k, n)``, n a power of
    two up to this): 2^max(0, gates - 16), parts of at least 2^16 subnetworks. Exact for
    any number of gates (a Python integer); only counts up to 2^62 can actually run.

    Examples
    --------
    >>> import dropengine as de
    >>> de.exact.max_parts(de.Network.random([4, 3, 2], seed=0), de.Dropout(0.5))   # 7 gates
    1
    >>> de.exact.max_parts(de.Network.random([20, 4, 1], seed=0), de.Dropout(0.5))  # 24 gates
    256
    """
    return _parts_for(_free_gates(net, gate, "exact.max_parts")[0])


def enumerate(net, inputs, gate=None, *, pairs=None, threads=None,
              max_subnetworks: int = DEFAULT_MAX_SUBNETWORKS, part=None, _halves: bool = True) -> SampleStats:
    """Exact statistics over every subnetwork the gate induces.

    Each configuration N of the Bernoulli selectors with 0 < p < 1 (gates with p = 0
    or 1 are fixed) is visited once and weighted by its probability
    P(N) = prod_k p_k^delta_k (1 - p_k)^(1 - delta_k), so that, per input and unit,

        E(O) = sum_N P(N) O(N)                         (Eq. 2, 7; Eq. 5 for p = 1/2)
        G = prod_N O(N)^P(N),  G' = prod_N (1 - O(N))^P(N)      (Eq. 35, 36)
        NWGM = G / (G + G')                            (Eq. 37; Eq. 44 for softmax)

    and likewise Var(O), E(S), Var(S), E(sigma'(S)) and the requested covariances.
    Subnetworks are walked in Gray-code order, so each differs from the previous one
    by one gate and the sums of that gate's layer are updated, not recomputed; the
    walk runs in float64 on all cores and gives the same bits for any ``threads``.

    Parameters
    ----------
    net : Network
    inputs : array (n_inputs, n_in)
    gate : Dropout, Dropin, NoGate or None
        Continuous gates (GaussianGate, AdditiveNoise, WeightNoise) have no subnetworks
        to enumerate and are refused with ValueError; use ``dropengine.sample``, or
        ``exact.linear_moments`` for linear networks.
    pairs : list of ((h_a, i_a), (h_b, i_b)), optional
        Unit pairs whose exact covariance is computed.
    threads : int >= 1 or None (all cores)
    max_subnetworks : int
        Requests for more subnetworks than this are refused before any work.
    part : (k, n), optional
        Enumerate only the k-th of n equal ranges of the code (n a power of two, at most
        ``max_parts(net, gate)``). The parts' statistics merge (``SampleStats.merge``)
        into the whole enumeration, to rounding: this is how one enumeration is spread
        over processes or machines (``dropengine.distributed``).

    Returns
    -------
    SampleStats
        With ``exact = True`` (``sem`` is zero, ``n_samples`` the number of
        subnetworks).

    Raises
    ------
    ValueError, TypeError
        A bad argument, or a continuous gate (no subnetworks to enumerate).
    MemoryError
        More than ``max_subnetworks`` subnetworks, before any work.
    KeyboardInterrupt
        Ctrl-C stops the walk; nothing is returned.

    Examples
    --------
    One logistic unit with 4 inputs kept with probability 1/2: 2^4 subnetworks, and the
    normalized geometric mean is the ensemble network's output exactly (Eq. 39):

    >>> import numpy as np, dropengine as de
    >>> net = de.Network([np.array([[0.5, -1.0, 2.0, 0.3]])], transfer="logistic")
    >>> x = np.array([[1.0, 0.5, 0.2, -1.0]])
    >>> st = de.exact.enumerate(net, x, de.Dropout(0.5))
    >>> st.n_samples, st.exact
    (16, True)
    >>> U, W = de.ensemble(net, x, de.Dropout(0.5))
    >>> bool(np.isclose(st.nwgm[0][0, 0], W[0][0, 0]))
    True
    """
    free, spec = _free_gates(net, gate)
    X = engine.as_inputs(net, inputs)
    threads = as_threads(threads)
    max_subnetworks = as_count(max_subnetworks, "max_subnetworks")
    pair_idx = engine.unit_pairs(net, pairs)
    n = 2**free
    if n > max_subnetworks:
        # 2^k written out only while it is short: 2^78400 has 23,601 digits.
        count = f"{n} = 2^{n.bit_length() - 1}" if n < 2**64 else f"2^{n.bit_length() - 1}"
        raise ValueError(f"max_subnetworks: the gate induces {count} subnetworks, more "
                         f"than max_subnetworks = {max_subnetworks}; raise it (the walk visits ~10^7-10^9 "
                         f"subnetworks per second) or use dropengine.sample")
    k, n_parts = _part(part, _parts_for(free))
    acc = engine.enumerate_subnetworks(net, X, spec, threads=threads, pairs=pair_idx,
                                       max_log2=min(max_subnetworks.bit_length() - 1, 62),
                                       allow_halves=bool(_halves), part=k, n_parts=n_parts)
    return SampleStats(acc, net.sizes[1:], pair_idx, softmax_layers=[t.name == "softmax" for t in net.transfers],
                       exact=True, n_subnetworks=n // n_parts)


def _part(part, most: int):
    if part is None:
        return 0, 1
    try:
        k, n = part
    except (TypeError, ValueError):
        raise TypeError(f"part must be a pair (k, n_parts), got {part!r}") from None
    n = as_count(n, "part n_parts")
    k = as_count(k, "part k", minimum=0)
    if n & (n - 1) or n > most:
        raise ValueError(f"part: n_parts must be a power of two <= {most} (max_parts), got {n}")
    if k >= n:
        raise ValueError(f"part: k must be < n_parts = {n}, got {k}")
    return k, n

"""Stochastic spiking networks and their duality with dropout (Section 10.1).

The spiking units are a gate of the engine (``dropengine.Spikes``): a unit with output
O in [0, 1] sends a spike of size r with probability O (Eq. 125-129), drawn from the
same counter-based Philox streams as dropout, so runs are reproducible for any thread
count. ``simulate`` runs a spiking network and measures its spikes; ``three_networks``
builds the three networks of Fig. 10.2 from one ``Network``.

Examples
--------
>>> import numpy as np, dropengine as de
>>> net = de.Network.random([5, 4, 3], "logistic", seed=0, dtype=np.float64)
>>> X = np.random.default_rng(0).uniform(size=(2, 5))
>>> run = de.spiking.simulate(net, X, de.Spikes(r=1.0), 200, seed=1)
>>> run.stats.E[-1].shape
(2, 3)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _engine as engine
from ._validation import as_count, as_real_array, as_threads, seed_key
from .gates import Dropout, Spikes
from .sampling import ensemble, sample
from .stats import SampleStats

__all__ = ["simulate", "simulate_async", "SpikingRun", "three_networks", "ThreeNetworks", "Spikes"]


@dataclass(frozen=True)
class SpikingRun:
    """A spiking simulation: ``stats`` holds E, Var, ... of the firing probabilities O
    and sums S of every unit (as ``dropengine.sample`` does); ``E_delta[h]`` and
    ``var_delta[h]`` the mean and variance of the spikes Delta sent into layer h (for
    connection-specific firing, averaged over a unit's outgoing connections), shape
    (n_inputs, n_in_h); for a layer whose inputs do not spike, the passed values.

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> net = de.Network.random([5, 4, 3], "logistic", seed=0, dtype=np.float64)
    >>> X = np.random.default_rng(0).uniform(size=(2, 5))
    >>> run = de.spiking.simulate(net, X, de.Spikes(r=1.0), 200, seed=1)
    >>> len(run.E_delta), run.E_delta[1].shape, run.var_delta[1].shape
    (2, (2, 4), (2, 4))
    """

    stats: SampleStats
    E_delta: list
    var_delta: list

    @property
    def sem_delta(self):
        n = self.stats.n_samples
        return [np.sqrt(v / max(n - 1, 1)) for v in self.var_delta]


def simulate(net, inputs, spikes: Spikes = None, n_samples: int = 1000, *, seed=None, threads=None,
             measure_delta: bool = True) -> SpikingRun:
    """Simulates a layer-synchronous stochastic spiking network (Eq. 125-129).

    For every input and sample, layer by layer: S_i = sum_j w_ij Delta_j + b_i
    (Eq. 128; Delta_ij per connection, Eq. 129), O_i = f(S_i) (Eq. 127), and a spiking
    unit sends Delta = r with probability O_i (Eq. 125, 126). ``spikes`` says which
    layers spike and the spike sizes (default: ``Spikes()``, every hidden layer with r = 1).
    ``measure_delta=False`` skips the spike statistics (``E_delta``, ``var_delta`` are then
    None), which costs about a quarter of the time with connection-specific firing.

    Parameters
    ----------
    net : Network
    inputs : array (n_inputs, n_in)
    spikes : Spikes, optional
    n_samples : int >= 1
    seed : int, numpy.random.SeedSequence or None
    threads : int >= 1 or None (all cores)
    measure_delta : bool

    Returns
    -------
    SpikingRun

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> net = de.Network.random([5, 4, 3], "logistic", seed=0, dtype=np.float64)
    >>> X = np.random.default_rng(0).uniform(size=(2, 5))
    >>> run = de.spiking.simulate(net, X, de.Spikes(r=1.0), 2000, seed=1)
    >>> run.stats.E[1].shape, run.E_delta[1].shape     # firing probabilities; spikes into layer 2
    ((2, 3), (2, 4))
    """
    spikes = Spikes() if spikes is None else spikes
    if not isinstance(spikes, Spikes):
        raise TypeError(f"spikes must be a dropengine.Spikes, got {type(spikes).__name__}")
    if not isinstance(measure_delta, (bool, np.bool_)):
        raise TypeError(f"measure_delta must be a bool, got {type(measure_delta).__name__}")
    st = sample(net, inputs, spikes, n_samples, seed=seed, threads=threads, input_stats=bool(measure_delta))
    if not measure_delta:
        return SpikingRun(st, None, None)
    return SpikingRun(st, st.E_in, st.var_in)


def simulate_async(net, inputs, spikes: Spikes = None, n_sweeps: int = 1000, *, burn_in_sweeps: int = 10,
                   seed=None, threads=None) -> SpikingRun:
    """Simulates an asynchronous stochastic spiking network (Section 10.1).

    One chain per input: at each step one non-input neuron, drawn uniformly, recomputes
    S from the current spikes (or outputs) feeding it (Eq. 128, 129) and O = f(S)
    (Eq. 127), and draws its new spikes (Eq. 125, 126). A sweep is as many steps as the
    network has non-input neurons. The statistics are time averages over ``n_sweeps``
    sweeps after ``burn_in_sweeps``: ``stats.E[h]`` the mean firing probabilities,
    ``E_delta[h]`` the firing rates (mean spikes per step) of the units feeding layer h.
    Elementwise transfer functions only (no softmax). Chains of different inputs run in
    parallel; each is reproducible from the seed.

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> net = de.Network.random([6, 4, 2], "logistic", seed=0, dtype=np.float64)
    >>> X = np.random.default_rng(0).uniform(size=(3, 6))
    >>> run = de.spiking.simulate_async(net, X, de.Spikes(1.0), n_sweeps=500, seed=0)
    >>> run.stats.E[1].shape                      # time-averaged firing probabilities
    (3, 2)
    """
    engine.check_net(net)
    X = engine.as_inputs(net, inputs)
    spikes = Spikes() if spikes is None else spikes
    if not isinstance(spikes, Spikes):
        raise TypeError(f"spikes must be a dropengine.Spikes, got {type(spikes).__name__}")
    spec = engine.gate_spec(spikes, net)
    n_sweeps = as_count(n_sweeps, "n_sweeps")
    burn_in_sweeps = as_count(burn_in_sweeps, "burn_in_sweeps", minimum=0)
    threads = as_threads(threads)
    k0, k1, ss = seed_key(seed)
    N = sum(net.sizes[1:])
    if (n_sweeps + burn_in_sweeps) * N >= 2**48:
        raise ValueError("n_sweeps: the chain's steps must stay below 2^48")
    units, E, V = engine.sample_async(net, X, spec, n_steps=n_sweeps * N, burn_in=burn_in_sweeps * N,
                                      key=(k0, k1), threads=threads)
    st = SampleStats(units, net.sizes[1:], seed_entropy=ss.entropy,
                     softmax_layers=[t.name == "softmax" for t in net.transfers])
    return SpikingRun(st, E, V)


@dataclass(frozen=True)
class ThreeNetworks:
    """The three networks of Fig. 10.2 on the same inputs (hidden layers h >= 1 gated):

    ``spiking``
        weights w, spikes of size r with probability O
    ``dropout``
        weights w, each unit's O sent with probability r
    ``W``
        the deterministic network with weights w r (list over layers)
    ``error_spiking[h]``, ``error_dropout[h]``
        mean |E(O) - W| of layer h's units: how well
        deterministic propagation predicts each stochastic network (Eq. 130-134)
    ``var_spiking[h]``, ``var_dropout[h]``
        measured variance of the signal sent into
        layer h (Delta, resp. delta O), beside ``eq136[h]`` = r^2 E(O)(1 - E(O)) and
        ``eq138[h]`` = r Var(O) + E(O)^2 r (1 - r), computed from each network's E(O), Var(O)
        (per unit and signal, so for ``on="units"``; with connection-specific firing the
        measured variances are of the mean over a unit's outgoing connections)

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> net = de.Network.random([5, 4, 3], "logistic", seed=0, dtype=np.float64)
    >>> X = np.random.default_rng(0).uniform(size=(2, 5))
    >>> t = de.spiking.three_networks(net, X, r=0.5, n_samples=200, seed=0)
    >>> t.W[-1].shape, t.dropout.E[-1].shape
    ((2, 3), (2, 3))
    """

    spiking: SpikingRun
    dropout: SampleStats
    W: list
    error_spiking: list
    error_dropout: list
    var_spiking: list
    var_dropout: list
    eq136: list
    eq138: list


def three_networks(net, inputs, r: float = 1.0, n_samples: int = 10_000, *, on: str = "units", seed=None,
                   threads=None) -> ThreeNetworks:
    """Spiking, dropout and deterministic networks from one ``Network`` (Fig. 10.2).

    Every hidden layer's output is gated: it spikes with size r (spiking network), or is
    kept with probability r (dropout network); the deterministic network multiplies the
    corresponding weights by r. Its forward propagation approximates the average firing
    rates of the first and the dropout averages of the second (Section 10.1).

    Parameters
    ----------
    net : Network
        At least one hidden layer.
    inputs : array (n_inputs, n_in)
    r : float in [0, 1]
        Spike size of the spiking network, keep probability of the dropout network.
    n_samples : int >= 1
    on : {"units", "connections"}
    seed : int, numpy.random.SeedSequence or None
    threads : int >= 1 or None (all cores)

    Returns
    -------
    ThreeNetworks

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> net = de.Network.random([5, 4, 3], "logistic", seed=0, dtype=np.float64)
    >>> X = np.random.default_rng(0).uniform(size=(2, 5))
    >>> t = de.spiking.three_networks(net, X, r=0.5, n_samples=2000, seed=0)
    >>> bool(t.error_spiking[-1] < 0.01 and t.error_dropout[-1] < 0.01)
    True
    """
    engine.check_net(net)
    r = float(as_real_array(r, "r", dtype=np.float64))
    if not 0 <= r <= 1:
        raise ValueError(f"r must lie in [0, 1] (a keep probability for the dropout network), got {r}")
    L = net.n_layers
    if L < 2:
        raise ValueError("net: three_networks needs at least one hidden layer (whose outputs spike)")
    spikes = Spikes(r, on=on, layers=list(range(1, L)))
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    s_seed, d_seed = ss.spawn(2)
    spk = simulate(net, inputs, spikes, n_samples, seed=s_seed, threads=threads)
    drop = sample(net, inputs, Dropout([1.0] + [r] * (L - 1), on=on), n_samples, seed=d_seed, threads=threads,
                  input_stats=True)
    _, W = ensemble(net, inputs, spikes)
    err_s = [float(np.mean(np.abs(spk.stats.E[h] - W[h]))) for h in range(L)]
    err_d = [float(np.mean(np.abs(drop.E[h] - W[h]))) for h in range(L)]
    # The signal sent into layer h >= 1 comes from layer h - 1's units.
    var_s = [spk.var_delta[h] for h in range(1, L)]
    var_d = [drop.var_in[h] for h in range(1, L)]
    eq136 = [r**2 * spk.stats.E[h - 1] * (1 - spk.stats.E[h - 1]) for h in range(1, L)]
    eq138 = [r * drop.var[h - 1] + drop.E[h - 1] ** 2 * r * (1 - r) for h in range(1, L)]
    return ThreeNetworks(spk, drop, W, err_s, err_d, var_s, var_d, eq136, eq138)

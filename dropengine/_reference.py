"""Plain NumPy twins of the engine's kernels, for tests and bench checks (slow, obvious).

`sample_reference` draws exactly the same Philox bits as the C++ sampler (see
cpp/include/dropengine/rng_streams.h), propagates in float64 and returns the raw
S and O of every layer, so the engine can be checked sample by sample. For the
continuous gates (GaussianGate, AdditiveNoise, WeightNoise) it draws the same
Box-Muller normals (`draw_normals`) and takes chains and DAGs alike.
"""
from __future__ import annotations

import numpy as np

from . import _engine as engine
from ._engine import GateKind
from .gates import CONTINUOUS_GATES, Gates
from .transfer import Transfer

__all__ = ["philox4x32_10", "draw_words", "draw_normals", "keep_threshold", "transfer", "sample_reference",
           "stats_reference", "round_bf16"]

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_MASK = np.uint64(0xFFFFFFFF)
STREAM = {"units": 1, "connections": 2, "bias": 3, "dropin": 4, "spike": 5, "spike_tie": 6, "connection_tie": 8,
          # the continuous gates, by their kind names (gates.py); layer = source layer l for
          # the units kinds, the receiving layer's index k (weights[k]) for the connection kinds
          "gaussian_units": 14, "gaussian_connections": 15, "additive_noise": 16, "weight_noise": 17}


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on broadcast uint32 arrays; returns four uint32 arrays."""
    c = [np.asarray(v, dtype=np.uint64) & _MASK for v in np.broadcast_arrays(c0, c1, c2, c3)]
    k0, k1 = int(k0), int(k1)
    for r in range(10):
        p0, p1 = _M0 * c[0], _M1 * c[2]
        hi0, lo0, hi1, lo1 = p0 >> np.uint64(32), p0 & _MASK, p1 >> np.uint64(32), p1 & _MASK
        c = [hi1 ^ c[1] ^ np.uint64(k0), lo1, hi0 ^ c[3] ^ np.uint64(k1), lo0]
        k0, k1 = (k0 + _W0) & 0xFFFFFFFF, (k1 + _W1) & 0xFFFFFFFF
    return [v.astype(np.uint32) for v in c]


def draw_words(key, stream: int, layer: int, x: int, s, elements) -> np.ndarray:
    """The 32-bit word gating `elements` of (stream, layer) for input x and samples s.
    Returns shape (len(s), len(elements))."""
    s = np.asarray(s, dtype=np.uint64)[:, None]
    e = np.asarray(elements, dtype=np.uint64)[None, :]
    c3 = (stream << 24) | ((layer & 0xFF) << 16)
    c3 = np.uint64(c3) | ((s >> np.uint64(32)) & np.uint64(0xFFFF))
    words = philox4x32_10(e >> np.uint64(2), s & _MASK, np.uint64(x), c3, key[0], key[1])
    w = np.stack(words, axis=-1)
    word = np.broadcast_to((e & np.uint64(3)).astype(np.intp), w.shape[:2])
    return np.take_along_axis(w, word[..., None], axis=-1)[..., 0]


def draw_normals(key, stream: int, layer: int, x: int, s, elements) -> np.ndarray:
    """The standard normal z of `elements` of (stream, layer) for input x and samples s,
    in float64: element e takes the two words v[2 (e % 2)], v[2 (e % 2) + 1] of counter
    block e // 2, u_k = (w_k + 1/2) 2^-32 (never 0 or 1) and z = sqrt(-2 ln u1) cos(2 pi u2)
    (Box-Muller, one normal per element). Addresses as ``draw_words``: c1 = sample low 32
    bits, c2 = input, c3 = stream << 24 | layer << 16 | sample bits 32..47. Returns shape
    (len(s), len(elements))."""
    s = np.asarray(s, dtype=np.uint64).reshape(-1)[:, None]
    e = np.asarray(elements, dtype=np.uint64).reshape(-1)[None, :]
    c3 = np.uint64((stream << 24) | ((layer & 0xFF) << 16)) | ((s >> np.uint64(32)) & np.uint64(0xFFFF))
    v = np.stack(philox4x32_10(e >> np.uint64(1), s & _MASK, np.uint64(x), c3, key[0], key[1]), axis=-1)
    odd = np.broadcast_to((e & np.uint64(1)).astype(bool), v.shape[:2])
    w0 = np.where(odd, v[..., 2], v[..., 0]).astype(np.float64)
    w1 = np.where(odd, v[..., 3], v[..., 1]).astype(np.float64)
    u1, u2 = (w0 + 0.5) * 2.0**-32, (w1 + 0.5) * 2.0**-32
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def draw_bits(key, stream: int, layer: int, x: int, s, elements) -> np.ndarray:
    """The random bit of each element (stream version 2, connection gates at keep 1/2):
    bit e % 32 of word e // 32, that word being word (e // 32) % 4 of counter block e // 128.
    Returns shape (len(s), len(elements)) of 0/1."""
    e = np.asarray(elements, dtype=np.uint64)
    words = draw_words(key, stream, layer, x, s, e >> np.uint64(5))
    return ((words.astype(np.uint64) >> (e & np.uint64(31))[None, :]) & np.uint64(1)).astype(np.uint8)


def draw_keep16(key, layer: int, x: int, s, elements, thr: float) -> np.ndarray:
    """Stream version 2, connection gates with one keep p (not 1/2) for the layer: the
    16 bits 16 (e % 2) of word e // 2, below thr // 2^16, a tie settled by the low 16 bits
    of word e of the ConnectionTie stream. Returns the keep decisions (len(s), len(elements))."""
    e = np.asarray(elements, dtype=np.uint64)
    words = draw_words(key, STREAM["connections"], layer, x, s, e >> np.uint64(1)).astype(np.uint64)
    u = (words >> (np.uint64(16) * (e & np.uint64(1)))[None, :]) & np.uint64(0xFFFF)
    t = int(thr)
    hi, lo = np.uint64(t >> 16), np.uint64(t & 0xFFFF)
    low = draw_words(key, STREAM["connection_tie"], layer, x, s, e).astype(np.uint64) & np.uint64(0xFFFF)
    return (u < hi) | ((u == hi) & (low < lo))


def draw_spike8(key, layer: int, x: int, s, n_in: int, elements, thr) -> np.ndarray:
    """Connection-specific firing (Spike stream): connection e = i * n_in + j draws byte
    e % 4 of word e // 4 and fires iff it is below the top 8 bits of its unit's threshold
    t_j = round(O_j 2^32) (capped at 255), a tie settled by the low 24 bits of word e of
    the SpikeTie stream against the rest: exactly the 32-bit rule word < t_j.
    ``thr`` has shape (len(s), n_in). Returns the firing decisions (len(s), len(elements))."""
    e = np.asarray(elements, dtype=np.uint64)
    words = draw_words(key, STREAM["spike"], layer, x, s, e >> np.uint64(2)).astype(np.uint64)
    u = (words >> (np.uint64(8) * (e & np.uint64(3)))[None, :]) & np.uint64(0xFF)
    t = np.asarray(thr, dtype=np.uint64)[:, (e % np.uint64(n_in)).astype(np.intp)]
    hi = np.minimum(t >> np.uint64(24), np.uint64(255))
    rest = t - (hi << np.uint64(24))
    low = draw_words(key, STREAM["spike_tie"], layer, x, s, e).astype(np.uint64) & np.uint64(0xFFFFFF)
    return (u < hi) | ((u == hi) & (low < rest))


def keep_threshold(p) -> np.ndarray:
    """round(p * 2^32) as in rng_streams.h: keep iff word < threshold."""
    p = np.asarray(p, dtype=np.float64)
    return np.where(p >= 1, 2.0**32, np.where(p > 0, np.floor(p * 2.0**32 + 0.5), 0.0))


def transfer(f: Transfer, S: np.ndarray):
    """O, log O, log(1 - O), dO/dS in float64 for sums S of shape (..., n)."""
    S = np.asarray(S, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if f.name == "softmax":
            z = f.lam * S
            n = z.shape[-1]
            imax = np.argmax(z, axis=-1)[..., None]
            M = np.take_along_axis(z, imax, -1)
            dominant = np.arange(n) == imax
            rest = np.where(dominant, 0.0, np.exp(z - M)).sum(-1, keepdims=True)
            logZ = np.log1p(rest)
            logO = z - M - logZ
            O = np.exp(logO)
            logOc = np.where(dominant, np.log(rest) - logZ, np.log1p(-O))
            return O, logO, logOc, f.lam * np.exp(logO + logOc)
        if f.name == "logistic":
            if f.c == 0:
                O = np.ones_like(S)
                return O, np.zeros_like(S), np.full_like(S, -np.inf), np.zeros_like(S)
            z = f.lam * S - np.log(f.c)
            logO, logOc = -np.logaddexp(0, -z), -np.logaddexp(0, z)
            O = np.exp(logO)
            return O, logO, logOc, f.lam * np.exp(logO + logOc)
        if f.name == "tanh":
            O = np.tanh(f.lam * S)
            d = f.lam * (1 - O**2)
        elif f.name == "relu":
            O = np.where(S <= f.threshold, 0.0, f.slope * (S - f.threshold))
            d = np.where(S <= f.threshold, 0.0, f.slope)
        elif f.name == "softplus":
            O = np.logaddexp(0, f.lam * S) / f.lam
            d = 1 / (1 + np.exp(-f.lam * S))
        else:
            O, d = S.copy(), np.ones_like(S)
        return O, np.log(O), np.log1p(-O), d


def round_bf16(a) -> np.ndarray:
    """float32 values rounded to bfloat16 (round to nearest even), as float64: the
    rounding of ``sample(..., precision="bf16")`` (cpp/src/kernels/bf16_impl.h)."""
    u = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32).astype(np.float64)


def sample_reference(net, X, gate, n_samples: int, key, first_sample: int = 0, first_input: int = 0,
                     bf16: bool = False):
    """Raw S[h], O[h] of shape (n_inputs, n_samples, n_out_h), float64, same draws as the engine.

    bf16: the products of layers 2..L gated on units (or not gated) take W and their
    float32 inputs rounded to bfloat16 (``round_bf16``), as ``sample(..., precision="bf16")``
    does; the products are then exact and only the engine's float32 sums differ.
    """
    if isinstance(gate, CONTINUOUS_GATES + (Gates,)):
        if bf16:
            raise NotImplementedError("the bf16 twin covers Dropout on units, Dropin and NoGate")
        return _sample_reference_entries(net, X, gate, n_samples, key, first_sample, first_input)
    kind, p, keep_bias, *_ = engine.gate_spec(gate, net)
    X = np.asarray(X, dtype=np.float64).reshape(-1, net.n_in)
    s = np.arange(first_sample, first_sample + n_samples)
    Ss = [np.empty((len(X), n_samples, n)) for n in net.sizes[1:]]
    Os = [np.empty_like(a) for a in Ss]
    for x in range(len(X)):
        gx = first_input + x
        a = np.broadcast_to(X[x], (n_samples, net.n_in)).copy()
        for h, (W, b, f) in enumerate(zip(net.weights, net.biases, net.transfers)):
            W = W.astype(np.float64)
            n_out, n_in = W.shape
            thr = keep_threshold(p[h])
            if kind == GateKind.spikes and np.size(p[h]):  # global spikes: unit j sends r_j with probability O_j
                fire = draw_words(key, STREAM["spike"], h, gx, s, range(n_in)) < keep_threshold(a)
                a = np.where(fire, np.broadcast_to(p[h], (n_in,)), 0.0)
            if kind == GateKind.spikes_connections and np.size(p[h]):  # connection-specific spikes: w_ij r_ij with probability O_j
                r = np.broadcast_to(p[h], (n_in,)) if np.size(p[h]) in (1, n_in) else p[h].reshape(n_out, n_in)
                fire = draw_spike8(key, h, gx, s, n_in, range(n_out * n_in), keep_threshold(a).astype(np.uint64))
                S = np.einsum("sij,ij->si", fire.reshape(n_samples, n_out, n_in), W * r)
            elif kind == GateKind.units:  # units
                a = np.where(draw_words(key, STREAM["units"], h, gx, s, range(n_in)) < thr, a, 0.0)
            elif kind == GateKind.dropin:  # dropin
                a = np.where(draw_words(key, STREAM["dropin"], h, gx, s, range(n_in)) < thr, 1.0, a)
            if kind == GateKind.connections and np.size(p[h]) == 1 and float(p[h][0]) == 0.5:  # one bit per connection
                m = draw_bits(key, STREAM["connections"], h, gx, s, range(n_out * n_in)) == 1
                S = np.einsum("sij,ij,sj->si", m.reshape(n_samples, n_out, n_in), W, a)
            elif kind == GateKind.connections and np.size(p[h]) == 1:  # one keep for the layer: 16-bit draws
                t = float(np.ravel(thr)[0])
                m = draw_keep16(key, h, gx, s, range(n_out * n_in), t) if t < 2.0**32 else \
                    np.ones((n_samples, n_out * n_in), bool)
                S = np.einsum("sij,ij,sj->si", m.reshape(n_samples, n_out, n_in), W, a)
            elif kind == GateKind.connections:  # connections
                m = draw_words(key, STREAM["connections"], h, gx, s, range(n_out * n_in)) < thr
                S = np.einsum("sij,ij,sj->si", m.reshape(n_samples, n_out, n_in), W, a)
            elif bf16 and h > 0 and kind in (GateKind.none, GateKind.units, GateKind.dropin):
                S = round_bf16(a) @ round_bf16(W).T
            elif kind != GateKind.spikes_connections or not np.size(p[h]):
                S = a @ W.T
            if b is not None:
                bt = keep_threshold(keep_bias[h]) if kind in (GateKind.units, GateKind.connections) else 2.0**32
                if kind == GateKind.connections:
                    gb = draw_words(key, STREAM["bias"], h, gx, s, range(n_out)) < bt
                else:
                    gb = draw_words(key, STREAM["bias"], h, gx, s, [0]) < bt
                S = S + gb * b.astype(np.float64)
            O = transfer(f, S)[0]
            Ss[h][x], Os[h][x] = S, O
            a = O
    return Ss, Os


def _sample_reference_entries(net, X, gate, n_samples: int, key, first_sample: int, first_input: int):
    """``sample_reference`` for the continuous gates and ``Gates`` mixes, on chains and
    DAGs (Eq. 21-23): each entry's kind and values, drawn from that kind's stream exactly
    as the core draws them (a continuous gate is the same kind at every entry).

    A unit kind at entry l turns source layer l's output a^l into y^l once per sample
    (dropout: a_j if word < t_j else 0; dropin: 1 if word < t_j else a_j; Gaussian:
    T(m_j + s_j z_j) a_j; additive: a_j + T(s_j z_j)), read by every layer l feeds. A
    connection kind at entry k acts on the concatenated y of layer k + 1's sources
    (``Network.input_weights``; dropout: one bit at keep 1/2, 16-bit draws for one other
    keep, words otherwise; Gaussian: T(m_ij + s_ij z_ij); weight noise: W_ij + T(s_ij z_ij)),
    then the biases (one draw per layer under a units dropout entry, one per unit under a
    connections one; the continuous kinds gate none). T(.) is the cast to the network's
    dtype, as in the core; the rest runs in float64."""
    if isinstance(gate, Gates):
        _, p, keep_bias, mean, kinds = gate.resolve(net)
    else:
        kind, p, keep_bias, mean = gate.resolve(net)
        kinds = [kind] * net.n_layers
    T = np.dtype(net.dtype)

    def cast(v):
        return np.asarray(v, dtype=T).astype(np.float64)

    X = np.asarray(X, dtype=np.float64).reshape(-1, net.n_in)
    s = np.arange(first_sample, first_sample + n_samples)
    L = net.n_layers
    Ss = [np.empty((len(X), n_samples, n)) for n in net.sizes[1:]]
    Os = [np.empty_like(a) for a in Ss]
    for x in range(len(X)):
        gx = first_input + x
        out = {0: np.broadcast_to(X[x], (n_samples, net.n_in))}
        gated = {}

        def source(l):
            if l not in gated:
                a, k, n = out[l], kinds[l], net.sizes[l]
                if k in ("units", "dropin"):
                    w = draw_words(key, STREAM[k], l, gx, s, range(n)) < keep_threshold(p[l])
                    a = np.where(w, a, 0.0) if k == "units" else np.where(w, 1.0, a)
                elif k == "gaussian_units":
                    a = cast(mean[l] + p[l] * draw_normals(key, STREAM[k], l, gx, s, range(n))) * a
                elif k == "additive_noise":
                    a = a + cast(p[l] * draw_normals(key, STREAM[k], l, gx, s, range(n)))
                gated[l] = a
            return gated[l]

        for h in range(1, L + 1):
            W, blocks = net.input_weights(h)
            W = np.asarray(W, dtype=np.float64)
            n_out, n_cat = W.shape
            a = np.hstack([source(l) for l, _, _ in blocks])
            k, ph, e = kinds[h - 1], p[h - 1], range(n_out * n_cat)
            if k == "connections":
                thr = keep_threshold(ph)
                if ph.size == 1 and float(ph[0]) == 0.5:
                    m = draw_bits(key, STREAM["connections"], h - 1, gx, s, e) == 1
                elif ph.size == 1:
                    t = float(thr[0])
                    m = draw_keep16(key, h - 1, gx, s, e, t) if t < 2.0**32 else np.ones((n_samples, len(e)), bool)
                else:
                    m = draw_words(key, STREAM["connections"], h - 1, gx, s, e) < thr
                S = np.einsum("sij,ij,sj->si", m.reshape(n_samples, n_out, n_cat), W, a)
            elif k in ("gaussian_connections", "weight_noise"):
                z = draw_normals(key, STREAM[k], h - 1, gx, s, e).reshape(n_samples, n_out, n_cat)
                sd = ph.reshape(n_out, n_cat) if ph.size > 1 else ph[0]
                if k == "gaussian_connections":
                    mu = mean[h - 1].reshape(n_out, n_cat) if mean[h - 1].size > 1 else mean[h - 1][0]
                    S = np.einsum("sij,ij,sj->si", cast(mu + sd * z), W, a)
                else:
                    S = np.einsum("sij,sj->si", W + cast(sd * z), a)
            else:
                S = a @ W.T
            b = net.biases[h - 1]
            if b is not None:
                bt = keep_threshold(keep_bias[h - 1]) if keep_bias and k in ("units", "connections") else 2.0**32
                gb = draw_words(key, STREAM["bias"], h - 1, gx, s, range(n_out) if k == "connections" else [0]) < bt
                S = S + gb * np.asarray(b, dtype=np.float64)
            O = transfer(net.transfers[h - 1], S)[0]
            Ss[h - 1][x], Os[h - 1][x] = S, O
            out[h] = O
    return Ss, Os


def stats_reference(net, S, O):
    """E, var, G, Gc, nwgm, E_S, var_S, E_dsigma from raw samples (axis 1), per layer."""
    out = {k: [] for k in ("E", "var", "G", "Gc", "nwgm", "E_S", "var_S", "E_dsigma")}
    for f, Sh, Oh in zip(net.transfers, S, O):
        _, lo, loc, d = transfer(f, Sh)
        out["E"].append(Oh.mean(1))
        out["var"].append(Oh.var(1))
        lg, lgc = lo.mean(1), loc.mean(1)
        out["G"].append(np.exp(lg))
        out["Gc"].append(np.exp(lgc))
        with np.errstate(invalid="ignore"):
            if f.name == "softmax":  # Eq. 44
                out["nwgm"].append(np.exp(lg) / np.exp(lg).sum(-1, keepdims=True))
            else:
                out["nwgm"].append(1 / (1 + np.exp(lgc - lg)))
        out["E_S"].append(Sh.mean(1))
        out["var_S"].append(Sh.var(1))
        out["E_dsigma"].append(d.mean(1))
    return out

"""SampleStats: streaming per-unit statistics of Monte Carlo dropout (Eq. 35-37, 220)."""
from __future__ import annotations

import numpy as np

from . import _core
from ._io import load_npz, save_npz_atomic
from ._nwgm import DropoutWarning, nwgm_from_logs

__all__ = ["SampleStats", "DropoutWarning"]

_FIELDS = ("count", "mean", "m2", "slog", "slogc", "mean_S", "m2_S", "mean_dO", "comoment")
_FORMAT = "dropengine.SampleStats/1"


def _split(a: np.ndarray, sizes) -> list:
    edges = np.cumsum((0,) + tuple(sizes))
    return [a[:, lo:hi] for lo, hi in zip(edges[:-1], edges[1:])]


class SampleStats:
    """Per-layer, per-input, per-unit statistics over sampled dropout subnetworks.

    Every derived quantity is a list over the non-input layers h of arrays of shape
    (n_inputs, n_out_h), computed from float64 accumulators:

    ``E``       E(O), the ensemble average (weighted arithmetic mean)
    ``var``     Var(O) = E(O^2) - E(O)^2 over the sampled subnetworks (divisor n)
    ``G``       prod O^(1/n) (Eq. 35), ``Gc`` prod (1 - O)^(1/n) (Eq. 36)
    ``nwgm``    G / (G + Gc) (Eq. 37); extreme cases as in Section 8: G = 0 gives 0,
                Gc = 0 gives 1, both give NaN with a DropoutWarning. For a softmax layer
                the normalization runs over the layer's units instead, G_i / sum_l G_l
                (Eq. 44), the quantity that equals softmax(lam E(S)) (Eq. 47)
    ``E_S``, ``var_S``  mean and variance of the sums S
    ``E_dsigma``        E(sigma'(S)) (Eq. 220)
    ``sem``     Monte Carlo standard error of E, sqrt(var / (n - 1)); 0 for exact results

    Results of ``dropengine.exact.enumerate`` have ``exact = True``: the accumulators are
    P(N)-weighted sums over every subnetwork N, ``count`` is sum P(N) = 1 (to rounding)
    and ``n_samples`` is the number of subnetworks visited.

    G, Gc and nwgm are meaningful for outputs in [0, 1] (logistic, softmax); for other
    transfer functions they are NaN where an output leaves that range.
    """

    def __init__(self, acc: dict, layer_sizes, pairs=None, records=None, seed_entropy=None,
                 softmax_layers=None, exact=False, n_subnetworks=0):
        self._acc = {k: np.asarray(acc[k], dtype=np.float64) for k in _FIELDS}
        self.layer_sizes = tuple(int(n) for n in layer_sizes)
        self.pairs = np.zeros((0, 2), np.int64) if pairs is None else np.asarray(pairs, np.int64).reshape(-1, 2)
        self.records = dict(records or {})
        self.seed_entropy = seed_entropy
        if softmax_layers is None:
            softmax_layers = [False] * len(self.layer_sizes)
        self.softmax_layers = tuple(bool(v) for v in softmax_layers)
        self.exact = bool(exact)
        self.n_subnetworks = int(n_subnetworks)
        n_units = self._acc["mean"].shape[1]
        if sum(self.layer_sizes) != n_units:
            raise ValueError("statistics: layer sizes do not add up to the number of units")

    # --- counts ----------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        return self._acc["count"].shape[0]

    @property
    def count(self) -> np.ndarray:
        """Samples seen for each input, shape (n_inputs,)."""
        return self._acc["count"]

    @property
    def n_samples(self) -> int:
        """Samples per input (all inputs see the same number); subnetworks when exact."""
        if self.exact:
            return self.n_subnetworks
        c = self._acc["count"]
        return int(c[0]) if c.size else 0

    def _layers(self, a):
        return _split(a, self.layer_sizes)

    # --- moments -----------------------------------------------------------------
    @property
    def E(self) -> list:
        return self._layers(self._acc["mean"])

    @property
    def var(self) -> list:
        return self._layers(self._acc["m2"] / self._n())

    @property
    def sem(self) -> list:
        if self.exact:
            return self._layers(np.zeros_like(self._acc["mean"]))
        n = self._n()
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._layers(np.sqrt(self._acc["m2"] / n / np.maximum(n - 1, 1)))

    @property
    def E_S(self) -> list:
        return self._layers(self._acc["mean_S"])

    @property
    def var_S(self) -> list:
        return self._layers(self._acc["m2_S"] / self._n())

    @property
    def E_dsigma(self) -> list:
        return self._layers(self._acc["mean_dO"])

    def _n(self) -> np.ndarray:
        return self._acc["count"][:, None]

    # --- geometric means (Eq. 35-37) ---------------------------------------------
    @property
    def log_G(self) -> list:
        return self._layers(self._acc["slog"] / self._n())

    @property
    def log_Gc(self) -> list:
        return self._layers(self._acc["slogc"] / self._n())

    @property
    def G(self) -> list:
        return [np.exp(a) for a in self.log_G]

    @property
    def Gc(self) -> list:
        return [np.exp(a) for a in self.log_Gc]

    @property
    def nwgm(self) -> list:
        """G / (G + G') computed as a logistic of log G - log G' (no underflow)."""
        out = []
        for lg, lgc, normalized in zip(self.log_G, self.log_Gc, self.softmax_layers):
            if normalized:  # Eq. 44: G_i / sum_l G_l, in log space
                with np.errstate(invalid="ignore"):
                    m = np.max(lg, axis=1, keepdims=True)
                    e = np.exp(lg - m)
                    out.append(e / e.sum(axis=1, keepdims=True))
                continue
            out.append(nwgm_from_logs(lg, lgc))
        return out

    # --- pairs (Section 9.6) -------------------------------------------------------
    @property
    def cov(self) -> np.ndarray:
        """Cov(O_a, O_b) for each requested pair, shape (n_inputs, n_pairs)."""
        return self._acc["comoment"] / self._n()

    @property
    def E_prod(self) -> np.ndarray:
        """E(O_a O_b) for each requested pair, shape (n_inputs, n_pairs)."""
        m = self._acc["mean"]
        return self.cov + m[:, self.pairs[:, 0]] * m[:, self.pairs[:, 1]]

    # --- merging and persistence ---------------------------------------------------
    def merge(self, other: "SampleStats") -> "SampleStats":
        """Statistics of both sample sets, as one run over them would give (Chan et al.).

        Exact statistics merge with exact ones: parts of one enumeration
        (``exact.enumerate(..., part=(k, n))``, disjoint by construction) give the whole.
        Runs over aligned halves (each 2^k whole blocks of dropengine.build_info()
        ["block_samples"] samples) merge to the same bits as a single run.
        """
        if not isinstance(other, SampleStats):
            raise TypeError(f"other must be SampleStats, got {type(other).__name__}")
        if other.layer_sizes != self.layer_sizes or other.n_inputs != self.n_inputs:
            raise ValueError("other: statistics of different networks or input sets cannot be merged")
        if not np.array_equal(other.pairs, self.pairs):
            raise ValueError("other: statistics track different unit pairs")
        if self.exact != other.exact:
            raise ValueError("other: exact and sampled statistics cannot be merged")
        acc = _core.merge(self._acc, other._acc, self.pairs)
        return SampleStats(acc, self.layer_sizes, self.pairs, softmax_layers=self.softmax_layers,
                           exact=self.exact, n_subnetworks=self.n_subnetworks + other.n_subnetworks)

    def save(self, path):
        """Saves the accumulators to `path` (.npz, atomic write); returns the path."""
        arrays = {f"acc_{k}": v for k, v in self._acc.items()}
        arrays.update(format=np.array(_FORMAT), layer_sizes=np.array(self.layer_sizes, np.int64),
                      pairs=self.pairs, softmax_layers=np.array(self.softmax_layers),
                      exact=np.array(self.exact), n_subnetworks=np.array(self.n_subnetworks, np.int64))
        return save_npz_atomic(path, arrays)

    @classmethod
    def load(cls, path) -> "SampleStats":
        z = load_npz(path)
        if str(z.get("format", "")) != _FORMAT:
            raise ValueError(f"path: {str(path)!r} is not a dropengine statistics file")
        try:
            acc = {k: z[f"acc_{k}"] for k in _FIELDS}
            n_in, n_units = acc["mean"].shape
            for k in _FIELDS:
                want = (n_in,) if k == "count" else (n_in, len(z["pairs"]) if k == "comoment" else n_units)
                if acc[k].shape != want:
                    raise ValueError(f"malformed field {k}")
            return cls(acc, z["layer_sizes"], z["pairs"], softmax_layers=z["softmax_layers"],
                       exact=bool(z.get("exact", False)), n_subnetworks=int(z.get("n_subnetworks", 0)))
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise ValueError(f"path: {str(path)!r} does not hold valid statistics: {exc}") from None

    def __repr__(self) -> str:
        what = "n_subnetworks" if self.exact else "n_samples"
        return (f"SampleStats(n_inputs={self.n_inputs}, {what}={self.n_samples}, "
                f"layers={list(self.layer_sizes)}, pairs={len(self.pairs)})")

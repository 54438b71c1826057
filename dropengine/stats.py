"""SampleStats: streaming per-unit statistics of Monte Carlo dropout (Eq. 35-37, 220)."""
from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from . import _engine as engine
from ._io import load_npz, save_npz_atomic
from ._nwgm import DropoutWarning, nwgm_from_logs

__all__ = ["SampleStats", "Coverage", "DropoutWarning", "OverlapWarning"]

_FIELDS = ("count", "mean", "m2", "slog", "slogc", "mean_S", "m2_S", "mean_dO", "comoment")
_FORMAT = "dropengine.SampleStats/1"
_META = ("format", "layer_sizes", "pairs", "softmax_layers", "exact", "n_subnetworks", "provenance", "precision")
#: Philox addresses (sampling.py, the core's SampleOptions): inputs below 2^32, samples below 2^48.
_MAX_INPUT, _MAX_SAMPLE = 2**32, 2**48
#: Exact counts are sums of P(N): 1 for a whole enumeration, up to rounding.
_EXACT_SLACK = 1e-9


class OverlapWarning(UserWarning):
    """Statistics sharing draws were merged with ``allow_overlap=True``: their standard
    errors are too small (the shared samples are counted as independent)."""


class Coverage(NamedTuple):
    """The draws one part of a statistics object covers (sample addresses, Section 5).

    ``key`` is the Philox key (k0, k1) of the seed (``dropengine._validation.seed_key``):
    equal keys mean equal random streams. Row x of the statistics used the global input
    ``inputs[0] + x``; every row saw the global samples ``samples[0] .. samples[1] - 1``.
    """

    key: tuple
    inputs: tuple
    samples: tuple


def _split(a: np.ndarray, sizes) -> list:
    edges = np.cumsum((0,) + tuple(sizes))
    return [a[:, lo:hi] for lo, hi in zip(edges[:-1], edges[1:])]


def _as_provenance(value, name: str):
    """A tuple of Coverage (or None: unknown) from Coverage-like triples or an (n, 6) int array."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iu" or value.ndim != 2 or value.shape[1] != 6:
            raise ValueError(f"{name}: provenance must be an integer array of shape (n, 6), got "
                             f"{value.dtype} {value.shape}")
        value = [((int(r[0]), int(r[1])), (int(r[2]), int(r[3])), (int(r[4]), int(r[5]))) for r in value.tolist()]
    out = []
    try:
        for key, inputs, samples in value:
            (k0, k1), (i0, i1), (s0, s1) = key, inputs, samples
            vals = (k0, k1, i0, i1, s0, s1)
            if any(isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) for v in vals):
                raise TypeError
            out.append(Coverage(*(tuple(int(v) for v in pair) for pair in (key, inputs, samples))))
    except (TypeError, ValueError):
        raise ValueError(f"{name}: provenance must be a list of ((k0, k1), (first_input, stop), "
                         f"(first_sample, stop)) of integers") from None
    for c in out:
        if not all(0 <= k < 2**32 for k in c.key):
            raise ValueError(f"{name}: provenance key {c.key} is not a pair of 32-bit words")
        if not 0 <= c.inputs[0] <= c.inputs[1] <= _MAX_INPUT:
            raise ValueError(f"{name}: provenance input range {c.inputs} is not within [0, 2^32)")
        if not 0 <= c.samples[0] < c.samples[1] <= _MAX_SAMPLE:
            raise ValueError(f"{name}: provenance sample range {c.samples} is not a non-empty range within [0, 2^48)")
    return tuple(out)


def _union(a: tuple, b: tuple) -> tuple:
    """Coverage of both: ranges of one stream that meet end to start become one range;
    overlapping ones (merged with allow_overlap) stay separate so that counts still add up."""
    out = []
    for c in sorted(a + b):
        last = out[-1] if out else None
        if last and (last.key, last.inputs) == (c.key, c.inputs) and last.samples[1] == c.samples[0]:
            out[-1] = last._replace(samples=(last.samples[0], c.samples[1]))
        else:
            out.append(c)
    return tuple(out)


def _shared(a: tuple, b: tuple):
    """A pair of coverages drawing the same samples of the same inputs, or None."""
    for ca in a:
        for cb in b:
            if (ca.key, ca.inputs) == (cb.key, cb.inputs) and ca.samples[0] < cb.samples[1] \
                    and cb.samples[0] < ca.samples[1]:
                return ca, cb
    return None


class SampleStats:
    """Per-layer, per-input, per-unit statistics over sampled dropout subnetworks.

    Every derived quantity is a list over the non-input layers h of arrays of shape
    (n_inputs, n_out_h), computed from float64 accumulators:

    ``E``
        E(O), the ensemble average (weighted arithmetic mean)
    ``var``
        Var(O) = E(O^2) - E(O)^2 over the sampled subnetworks (divisor n)
    ``G``, ``Gc``
        prod O^(1/n) (Eq. 35) and prod (1 - O)^(1/n) (Eq. 36)
    ``nwgm``
        G / (G + Gc) (Eq. 37); extreme cases as in Section 8: G = 0 gives 0,
        Gc = 0 gives 1, both give NaN with a DropoutWarning. For a softmax layer
        the normalization runs over the layer's units instead, G_i / sum_l G_l
        (Eq. 44), the quantity that equals softmax(lam E(S)) (Eq. 47)
    ``E_S``, ``var_S``
        mean and variance of the sums S
    ``E_dsigma``
        E(sigma'(S)) (Eq. 220)
    ``sem``
        Monte Carlo standard error of E, sqrt(var / (n - 1)); 0 for exact results

    Results of ``dropengine.exact.enumerate`` have ``exact = True``: the accumulators are
    P(N)-weighted sums over every subnetwork N, ``count`` is sum P(N) = 1 (to rounding)
    and ``n_samples`` is the number of subnetworks visited.

    ``provenance`` says which draws the statistics hold: a tuple of ``Coverage`` (seed
    key, input range, sample range), or None when unknown (exact results, spiking chains,
    files written before it was recorded). ``merge`` uses it to refuse counting the same
    samples twice.

    G, Gc and nwgm are meaningful for outputs in [0, 1] (logistic, softmax); for other
    transfer functions they are NaN where an output leaves that range.

    Examples
    --------
    Two halves of a run merge into the whole (the draws are addressed by sample index):

    >>> import numpy as np, dropengine as de
    >>> net = de.Network.random([5, 3], "logistic", seed=0)
    >>> X = np.random.default_rng(0).uniform(size=(2, 5))
    >>> a = de.sample(net, X, de.Dropout(0.5), 640, seed=3)
    >>> b = de.sample(net, X, de.Dropout(0.5), 640, seed=3, first_sample=640)
    >>> whole = a.merge(b)
    >>> whole.n_samples, whole.E[0].shape
    (1280, (2, 3))
    """

    def __init__(self, acc: dict, layer_sizes, pairs=None, records=None, seed_entropy=None,
                 softmax_layers=None, exact=False, n_subnetworks=0, provenance=None, precision=None):
        try:
            self._acc = {k: np.asarray(acc[k], dtype=np.float64) for k in _FIELDS}
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"acc must map {list(_FIELDS)} to real arrays: {exc}") from None
        self.layer_sizes = tuple(int(n) for n in layer_sizes)
        self.pairs = np.zeros((0, 2), np.int64) if pairs is None else np.asarray(pairs, np.int64).reshape(-1, 2)
        self.records = dict(records or {})
        self.seed_entropy = seed_entropy
        if softmax_layers is None:
            softmax_layers = [False] * len(self.layer_sizes)
        self.softmax_layers = tuple(bool(v) for v in softmax_layers)
        self.exact = bool(exact)
        self.n_subnetworks = int(n_subnetworks)
        self.provenance = _as_provenance(provenance, "provenance")
        if precision not in (None, "bf16"):
            raise ValueError(f"precision must be None (the network's dtype) or 'bf16', got {precision!r}")
        #: "bf16" when the products were rounded to bfloat16 (sample(..., precision="bf16")), else None.
        self.precision = precision
        self._check_structure("statistics")

    # --- validation --------------------------------------------------------------
    def _check_structure(self, name: str) -> None:
        """Shapes and indices, the things the core trusts (a pair beyond the units would
        make merge read and write outside the arrays)."""
        if not self.layer_sizes or min(self.layer_sizes) < 1:
            raise ValueError(f"{name}: layer_sizes must be one or more sizes >= 1, got {list(self.layer_sizes)}")
        mean = self._acc["mean"]
        if mean.ndim != 2 or mean.shape[1] != sum(self.layer_sizes):
            raise ValueError(f"{name}: layer sizes do not add up to the number of units "
                             f"(mean has shape {mean.shape}, layer_sizes {list(self.layer_sizes)})")
        n_in, n_units = mean.shape
        n_units = sum(self.layer_sizes)
        pairs = self.pairs
        if pairs.size and (pairs.min() < 0 or pairs.max() >= n_units):
            bad = pairs[((pairs < 0) | (pairs >= n_units)).any(axis=1)][0]
            raise ValueError(f"{name}: pairs entry {bad.tolist()} names a unit outside [0, {n_units}) "
                             f"(the network's {n_units} non-input units)")
        for k in _FIELDS:
            want = (n_in,) if k == "count" else (n_in, len(pairs) if k == "comoment" else n_units)
            if self._acc[k].shape != want:
                raise ValueError(f"{name}: accumulator acc_{k} has shape {self._acc[k].shape}, expected {want}")
        if len(self.softmax_layers) != len(self.layer_sizes):
            raise ValueError(f"{name}: softmax_layers has {len(self.softmax_layers)} entries, expected one per "
                             f"layer ({len(self.layer_sizes)})")

    def _check(self, name: str) -> None:
        """Everything merge and the derived quantities rely on: structure, counts,
        provenance and records (run on loaded files and on both operands of a merge)."""
        self._check_structure(name)
        c = self._acc["count"]
        if not np.isfinite(c).all() or (c <= 0).any():
            raise ValueError(f"{name}: count must be finite and > 0 for every input")
        if self.exact:
            if self.n_subnetworks < 1:
                raise ValueError(f"{name}: n_subnetworks must be >= 1 for exact statistics, got {self.n_subnetworks}")
            # sum P(N) over the visited subnetworks: at most 1, the same for every input
            if c.size and (c.max() > 1 + _EXACT_SLACK or c.max() - c.min() > _EXACT_SLACK):
                raise ValueError(f"{name}: count of exact statistics (sum of P(N)) must be the same for every "
                                 f"input and at most 1, got {c.min()} .. {c.max()}")
            if self.provenance is not None:
                raise ValueError(f"{name}: exact statistics carry no sample provenance")
        else:
            if self.n_subnetworks != 0:
                raise ValueError(f"{name}: n_subnetworks must be 0 for sampled statistics")
            if (c != np.floor(c)).any() or (c.size and c.min() != c.max()):
                raise ValueError(f"{name}: count of sampled statistics must be the same integer for every input")
        if self.provenance is not None:
            for cov in self.provenance:
                if cov.inputs[1] - cov.inputs[0] != self.n_inputs:
                    raise ValueError(f"{name}: provenance input range {cov.inputs} does not match the "
                                     f"{self.n_inputs} inputs")
            total = sum(cov.samples[1] - cov.samples[0] for cov in self.provenance)
            if c.size and total != c[0]:
                raise ValueError(f"{name}: provenance covers {total} samples per input but count is {c[0]:.0f}")
        for h, r in self.records.items():
            if isinstance(h, (bool, np.bool_)) or not isinstance(h, (int, np.integer)) \
                    or not 0 <= h < len(self.layer_sizes):
                raise ValueError(f"{name}: records key {h!r} is not a layer index in [0, {len(self.layer_sizes)})")
            want = (self.n_inputs, self.n_samples, self.layer_sizes[h])
            if not isinstance(r, np.ndarray) or r.dtype not in (np.float32, np.float64) or r.shape != want:
                raise ValueError(f"{name}: records[{h}] must be a float32/float64 array of shape {want}")

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
    def merge(self, other: "SampleStats", *, allow_overlap: bool = False) -> "SampleStats":
        """Statistics of both sample sets, as one run over them would give (Chan et al.).

        Exact statistics merge with exact ones: parts of one enumeration
        (``exact.enumerate(..., part=(k, n))``, disjoint by construction) give the whole.
        Runs over aligned halves (each 2^k whole blocks of dropengine.build_info()
        ["block_samples"] samples) merge to the same bits as a single run.

        Samples are independent draws only once: when both operands hold the same
        samples (same seed key, same input range, overlapping sample ranges) the merge is
        refused with ValueError, since it would count them twice and make the standard
        errors sqrt(2) too small; ``allow_overlap=True`` merges anyway, with an
        OverlapWarning. Exact statistics whose probabilities would add up to more than 1
        (one part merged twice) are always refused. Statistics of
        unknown provenance (files written before it was recorded) merge as before, and
        their result's provenance is unknown.
        """
        if not isinstance(other, SampleStats):
            raise TypeError(f"other must be SampleStats, got {type(other).__name__}")
        if not isinstance(allow_overlap, (bool, np.bool_)):
            raise TypeError(f"allow_overlap must be a bool, got {type(allow_overlap).__name__}")
        self._check("self")
        other._check("other")
        if other.layer_sizes != self.layer_sizes or other.n_inputs != self.n_inputs:
            raise ValueError("other: statistics of different networks or input sets cannot be merged")
        if not np.array_equal(other.pairs, self.pairs):
            raise ValueError("other: statistics track different unit pairs")
        if self.exact != other.exact:
            raise ValueError("other: exact and sampled statistics cannot be merged")
        if self.precision != other.precision:
            raise ValueError(f"other: statistics of {self.precision or 'full-precision'} products cannot be merged "
                             f"with statistics of {other.precision or 'full-precision'} products (bfloat16 "
                             f"rounding shifts E slightly: the parts would estimate different quantities)")
        # Parts of one enumeration hold disjoint subnetworks whose probabilities add up to
        # at most 1; more means a part is in both, and no flag makes that meaningful.
        if self.exact and self.n_inputs and self.count[0] + other.count[0] > 1 + _EXACT_SLACK:
            raise ValueError(f"other: the total probability would be {self.count[0] + other.count[0]:.6g} > 1: "
                             f"the same subnetworks (the same part) are in both")
        shared = None
        if self.provenance is not None and other.provenance is not None:
            shared = _shared(self.provenance, other.provenance)
            if shared:
                shared = (f"both hold samples of seed key {shared[0].key} for inputs {shared[0].inputs}: "
                          f"{shared[0].samples} and {shared[1].samples} overlap")
        if shared:
            if not allow_overlap:
                raise ValueError(f"other: {shared}; merging would count them twice (standard errors sqrt(2) "
                                 f"too small). Draw disjoint ranges (first_sample) or another seed, or pass "
                                 f"allow_overlap=True")
            warnings.warn(f"merge with allow_overlap=True: {shared}; they are counted twice", OverlapWarning,
                          stacklevel=2)
        acc = engine.merge(self._acc, other._acc, self.pairs)
        prov = None
        if self.provenance is not None and other.provenance is not None:
            prov = _union(self.provenance, other.provenance)
        return SampleStats(acc, self.layer_sizes, self.pairs, softmax_layers=self.softmax_layers,
                           exact=self.exact, n_subnetworks=self.n_subnetworks + other.n_subnetworks,
                           provenance=prov, precision=self.precision)

    def save(self, path):
        """Saves the accumulators, provenance and records to `path` (.npz, atomic write);
        returns the path."""
        arrays = {f"acc_{k}": v for k, v in self._acc.items()}
        arrays.update(format=np.array(_FORMAT), layer_sizes=np.array(self.layer_sizes, np.int64),
                      pairs=self.pairs, softmax_layers=np.array(self.softmax_layers, dtype=bool),
                      exact=np.array(self.exact), n_subnetworks=np.array(self.n_subnetworks, np.int64))
        if self.provenance is not None:
            arrays["provenance"] = np.array([c.key + c.inputs + c.samples for c in self.provenance],
                                            np.int64).reshape(-1, 6)
        if self.precision is not None:
            arrays["precision"] = np.array(self.precision)
        arrays.update({f"record_{h}": r for h, r in self.records.items()})
        return save_npz_atomic(path, arrays)

    @classmethod
    def load(cls, path) -> "SampleStats":
        """Loads statistics saved by `save`, validating every entry (no pickles): a file
        that is not what `save` writes raises ValueError naming the entry."""
        z = load_npz(path)
        fmt = z.get("format")
        if not (isinstance(fmt, np.ndarray) and fmt.shape == () and fmt.dtype.kind == "U" and str(fmt) == _FORMAT):
            raise ValueError(f"path: {str(path)!r} is not a dropengine statistics file")
        try:
            return cls._from_arrays(z)
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise ValueError(f"path: {str(path)!r} does not hold valid statistics: {exc}") from None

    @classmethod
    def _from_arrays(cls, z: dict) -> "SampleStats":
        records = {}
        for k in z:
            if k.startswith("record_") and k[7:].isdigit() and str(int(k[7:])) == k[7:]:
                records[int(k[7:])] = z[k]
            elif k not in _META and k not in {f"acc_{f}" for f in _FIELDS}:
                raise ValueError(f"unexpected entry {k!r}")
        missing = [k for k in ("layer_sizes", "pairs", "softmax_layers") + tuple(f"acc_{f}" for f in _FIELDS)
                   if k not in z]
        if missing:
            raise ValueError(f"missing entries {missing}")

        def entry(key, kinds, ndim):
            a = z[key]
            if a.dtype.kind not in kinds or a.ndim != ndim:
                raise ValueError(f"entry {key!r} must be a {ndim}-d array of kind {kinds!r}, got {a.dtype} "
                                 f"of shape {a.shape}")
            return a

        acc = {f: entry(f"acc_{f}", "f", 1 if f == "count" else 2) for f in _FIELDS}
        sizes = entry("layer_sizes", "iu", 1)
        pairs = entry("pairs", "iu", 2) if z["pairs"].size else np.zeros((0, 2), np.int64)
        if pairs.shape[1] != 2:
            raise ValueError(f"entry 'pairs' must have shape (n_pairs, 2), got {pairs.shape}")
        if (sizes.size and sizes.max() > 2**40) or (pairs.size and pairs.max() > 2**62):
            raise ValueError("entry 'layer_sizes' or 'pairs' holds values beyond any network")
        softmax = entry("softmax_layers", "b", 1)
        exact = entry("exact", "b", 0) if "exact" in z else np.array(False)
        n_sub = entry("n_subnetworks", "iu", 0) if "n_subnetworks" in z else np.array(0)
        prov = z.get("provenance")
        precision = z.get("precision")
        if precision is not None:
            if not (precision.shape == () and precision.dtype.kind == "U"):
                raise ValueError(f"entry 'precision' must be a string, got {precision.dtype} of shape {precision.shape}")
            precision = str(precision)
        for h, r in records.items():
            if r.dtype not in (np.float32, np.float64) or r.ndim != 3:
                raise ValueError(f"entry 'record_{h}' must be a 3-d float32/float64 array, got {r.dtype} {r.shape}")
        st = cls(acc, sizes.tolist(), pairs.astype(np.int64), records=records, softmax_layers=softmax.tolist(),
                 exact=bool(exact), n_subnetworks=int(n_sub), provenance=prov, precision=precision)
        st._check("statistics")
        return st

    def __repr__(self) -> str:
        what = "n_subnetworks" if self.exact else "n_samples"
        return (f"SampleStats(n_inputs={self.n_inputs}, {what}={self.n_samples}, "
                f"layers={list(self.layer_sizes)}, pairs={len(self.pairs)})")

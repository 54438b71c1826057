"""Feedforward networks (Eq. 1, 12, 21, 48): weights W[h] of shape (n_out, n_in),
the paper's w_ij with i the receiving unit and j the sending one."""
from __future__ import annotations

from types import MappingProxyType
from typing import Sequence

import numpy as np

from ._dag import DAG_FORMAT, check_widths, dag_arrays, dag_weights_from_arrays, parse_layers
from ._io import load_npz, save_npz_atomic
from ._validation import as_real_array
from .transfer import Transfer, resolve_transfer, transfer_from_spec

__all__ = ["Network"]

_FORMAT = "dropengine.Network/1"
#: Network.random refuses (MemoryError, before allocating) weights larger than this.
MAX_RANDOM_BYTES = 16 * 2**30


class Network:
    """A feedforward network of fully connected layers: a chain, or a DAG of layers.

    Layer h computes S^h = W[h] a^{h-1} + b[h] and O^h = f_h(S^h), with a^{-1} the input
    (Eq. 48). In a DAG, layer h = 1..L receives from any lower layers l < h (0 = the
    input): S^h = sum_{l in sources(h)} W_hl O^l + b^h (Eq. 21). Arrays are copied, made
    C-contiguous and read-only, so a network can be shared between threads.

    Parameters
    ----------
    weights : sequence of 2-D arrays or dicts
        weights[k] holds layer h = k + 1: a matrix of shape (n_out_h, n_in_h) fed by layer
        h - 1 (n_in_h must equal n_out_{h-1}), or a dict {l: W_hl} over source layers
        l < h, W_hl of shape (n_h, n_l). A dict {h - 1: W} is the same as the matrix W.
    biases : None or sequence of (1-D array or None)
        b[h] of shape (n_out_h,); None for no bias.
    transfer : str, Transfer, or a sequence of them (one per layer)
        "linear", "logistic", "tanh", "relu", "softplus", "softmax", or instances such as
        ``Logistic(c=1.0, lam=1.0)``. A single value applies to every layer.
    dtype : {None, numpy.float32, numpy.float64}
        Compute precision; None keeps float32 if every weight is float32, else float64.

    Raises
    ------
    ValueError, TypeError
        Shapes that do not chain, non-finite values, unknown transfer functions.

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> net = de.Network([np.ones((3, 4)), np.ones((2, 3))], transfer=["relu", "linear"])
    >>> net.sizes, net.n_layers
    ((4, 3, 2), 2)
    >>> dag = de.Network([np.ones((3, 4)), {0: np.ones((2, 4)), 1: np.ones((2, 3))}], transfer="linear")
    >>> dag.sources(2), dag.is_chain
    ((0, 1), False)
    """

    def __init__(self, weights: Sequence, biases=None, transfer="logistic", dtype=None):
        if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
            raise TypeError("weights must be a list of 2-D arrays, one per layer")
        if len(weights) == 0:
            raise ValueError("weights must hold at least one layer")
        if len(weights) > 255:
            raise ValueError("weights: at most 255 layers are supported")
        layers = parse_layers(weights)
        if dtype is None:
            dtype = np.float32 if all(w.dtype == np.float32 for ps in layers for _, w in ps) else np.float64
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        self.dtype = dtype
        self._sizes = check_widths(layers)
        # The canonical form: per layer the sorted (l, W_hl) pairs. A layer fed only by
        # h - 1 is a plain matrix whichever way it was given, so a chain written with dicts
        # is the same network (same file, same engines) as the chain of matrices.
        self._layers = tuple(tuple((l, self._freeze(w, f"weights[{k}]" if l == k and len(ps) == 1
                                                     else f"weights[{k}][{l}]", k)) for l, w in ps)
                             for k, ps in enumerate(layers))
        self._chain = all(len(ps) == 1 and ps[0][0] == k for k, ps in enumerate(self._layers))
        self._W = tuple(ps[0][1] if len(ps) == 1 and ps[0][0] == k else MappingProxyType(dict(ps))
                        for k, ps in enumerate(self._layers))
        self._cat = {}
        Ws = [ps[0][1] for ps in self._layers]  # the row counts are all biases need
        if biases is None:
            biases = [None] * len(Ws)
        if isinstance(biases, np.ndarray) or not isinstance(biases, (list, tuple)) or len(biases) != len(Ws):
            raise ValueError(f"biases must be None or a list of {len(Ws)} entries (arrays or None)")
        bs = []
        for h, b in enumerate(biases):
            if b is None:
                bs.append(None)
                continue
            b = as_real_array(b, f"biases[{h}]", ndim=1)
            if b.shape != (Ws[h].shape[0],):
                raise ValueError(f"biases[{h}] must have shape ({Ws[h].shape[0]},), got {b.shape}")
            bs.append(self._freeze(b, f"biases[{h}]", h))
        self._b = tuple(bs)
        if isinstance(transfer, (str, Transfer)):
            transfer = [transfer] * len(Ws)
        if not isinstance(transfer, (list, tuple)):
            raise TypeError(f"transfer must be a transfer name, a Transfer instance or a list of them, "
                            f"got {type(transfer).__name__}")
        if len(transfer) != len(Ws):
            raise ValueError(f"transfer must be one transfer or a list of {len(Ws)}")
        self._f = tuple(resolve_transfer(f, f"transfer[{h}]") for h, f in enumerate(transfer))

    def _freeze(self, a: np.ndarray, name: str, layer: int) -> np.ndarray:
        # Finiteness again after the cast: 1e39 passes the float64 check and becomes Inf
        # in float32, which would be saved and then refused by load.
        with np.errstate(over="ignore"):
            a = np.array(a, dtype=self.dtype, order="C", copy=True)
        if not np.isfinite(a).all():
            raise ValueError(f"{name} (layer {layer}) must be finite within the range of {self.dtype.name} "
                             f"(|value| <= {float(np.finfo(self.dtype).max):.3g}); casting it gives Inf")
        a.flags.writeable = False
        return a

    # --- shape -----------------------------------------------------------------
    @property
    def weights(self) -> tuple:
        """Per layer (``weights[k]`` is layer h = k + 1), read-only: the matrix W[k] of shape
        (n_h, n_{h-1}) when the layer receives from h - 1 only (every layer of a chain), else
        a read-only mapping {l: W_hl} over its source layers l < h (0 = the input)."""
        return self._W

    @property
    def is_chain(self) -> bool:
        """True when every layer h receives from h - 1 only (no skip connections)."""
        return self._chain

    def _layer(self, h) -> int:
        if isinstance(h, (bool, np.bool_)) or not isinstance(h, (int, np.integer)) or not 1 <= h <= len(self._W):
            raise ValueError(f"h must be a layer 1..{len(self._W)} (0, the input, has no sources), got {h!r}")
        return int(h) - 1

    def sources(self, h: int) -> tuple:
        """The sorted source layers l < h of layer h = 1..L (0 = the input; Eq. 21)."""
        return tuple(l for l, _ in self._layers[self._layer(h)])

    def layer_weights(self, h: int) -> dict:
        """{l: W_hl} for layer h = 1..L: W_hl of shape (n_h, n_l), read-only (Eq. 21)."""
        return dict(self._layers[self._layer(h)])

    def input_weights(self, h: int) -> tuple:
        """(W_cat, blocks): layer h's weights as one matrix over the concatenation of its
        sources' outputs, the form a core computes S^h = W_cat [a^l1; a^l2; ...] + b^h with.

        W_cat has shape (n_h, sum of n_l over the sources) and is read-only; blocks lists
        (l, offset, n_l) in source order: columns offset..offset + n_l - 1 are W_hl. For a
        layer fed by h - 1 only, W_cat is the weight matrix itself (no copy).
        """
        k = self._layer(h)
        pairs = self._layers[k]
        offsets = np.cumsum([0] + [w.shape[1] for _, w in pairs])
        blocks = [(l, int(o), w.shape[1]) for (l, w), o in zip(pairs, offsets)]
        if len(pairs) == 1:
            return pairs[0][1], blocks
        if k not in self._cat:  # built once; concurrent first calls build equal copies
            cat = np.ascontiguousarray(np.hstack([w for _, w in pairs]))
            cat.flags.writeable = False
            self._cat[k] = cat
        return self._cat[k], blocks

    @property
    def biases(self) -> tuple:
        """b[h] (n_out_h,) or None, read-only."""
        return self._b

    @property
    def transfers(self) -> tuple:
        return self._f

    @property
    def n_layers(self) -> int:
        return len(self._W)

    @property
    def sizes(self) -> tuple:
        """(n_in, n_out_0, n_out_1, ...): the widths n_0 (the input), n_1, ..., n_L."""
        return self._sizes

    @property
    def n_in(self) -> int:
        return self._sizes[0]

    def __repr__(self) -> str:
        sizes = "-".join(map(str, self.sizes))
        fs = ", ".join(f.name for f in self._f)
        skips = "" if self._chain else ", sources={" + ", ".join(
            f"{k + 1}: {tuple(l for l, _ in ps)}" for k, ps in enumerate(self._layers)
            if not (len(ps) == 1 and ps[0][0] == k)) + "}"
        return f"Network({sizes}{skips}, transfer=[{fs}], dtype={self.dtype.name})"

    # --- construction ----------------------------------------------------------
    @classmethod
    def random(cls, sizes: Sequence[int], transfer="logistic", *, bias: bool = True, scale=None,
               seed=None, dtype=np.float32, skips=None) -> "Network":
        """Random network with layer sizes (n_in, n_1, ..., n_L).

        Weights are N(0, scale^2) with scale = 1 / sqrt(fan-in) per layer unless given
        (fan-in: n_{h-1}, plus the widths of the skip sources); biases (if any) are
        N(0, scale^2) too. ``skips``: pairs (l, h), layer h also receiving from layer
        l < h - 1 (0 = the input). Without skips the draws are those of a chain.
        """
        if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
            raise ValueError("sizes must be a list (n_in, n_1, ..., n_L) with at least two entries")
        for k, n in enumerate(sizes):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"sizes[{k}] must be an integer >= 1, got {n!r}")
        srcs = [{h - 1} for h in range(1, len(sizes))]
        for k, pair in enumerate([] if skips is None else skips):
            try:
                l, h = (int(v) for v in pair)
            except (TypeError, ValueError):
                raise ValueError(f"skips[{k}] must be a pair (l, h) of layers, got {pair!r}") from None
            if not (1 <= h < len(sizes) and 0 <= l < h - 1):
                raise ValueError(f"skips[{k}] = {pair!r}: need layers 0 <= l < h - 1 and 1 <= h <= {len(sizes) - 1}")
            srcs[h - 1].add(l)
        need = sum(int(sizes[h + 1]) * (sum(int(sizes[l]) for l in ls) + 1) for h, ls in enumerate(srcs)) * 8
        if need > MAX_RANDOM_BYTES:
            raise MemoryError(f"sizes: the weights would take {need / 2**30:.1f} GiB, above the "
                              f"{MAX_RANDOM_BYTES / 2**30:.0f} GiB limit of Network.random")
        rng = np.random.default_rng(seed)
        Ws, bs = [], []
        for h, ls in enumerate(srcs):
            n_out, fan_in = sizes[h + 1], sum(sizes[l] for l in ls)
            s = 1.0 / np.sqrt(fan_in) if scale is None else float(scale)
            Wl = {l: rng.normal(0.0, s, size=(n_out, sizes[l])) for l in sorted(ls)}
            Ws.append(Wl[h] if len(Wl) == 1 else Wl)
            bs.append(rng.normal(0.0, s, size=n_out) if bias else None)
        return cls(Ws, bs, transfer, dtype=dtype)

    # --- persistence -----------------------------------------------------------
    def save(self, path):
        """Saves to `path` (.npz, written atomically); returns the path written. A chain's
        file is "dropengine.Network/1" with W{k}, b{k}; a DAG's "dropengine.NetworkDAG/1"
        with W{k}_{l} (layer k + 1's weights from source l) and b{k}."""
        arrays = {"format": np.array(_FORMAT if self._chain else DAG_FORMAT), "n_layers": np.array(self.n_layers),
                  "transfers": np.array([f.spec() for f in self._f], dtype=np.float64)}
        # W0, b0, W1, b1, ...: a chain's file keeps the entry order (and bytes) it always had.
        for k, b in enumerate(self._b):
            arrays.update({f"W{k}": self._W[k]} if self._chain else dag_arrays(self._layers[k:k + 1], k))
            if b is not None:
                arrays[f"b{k}"] = b
        return save_npz_atomic(path, arrays)

    @classmethod
    def load(cls, path) -> "Network":
        """Loads a network saved by `save` (a chain or a DAG), validating everything (no pickles)."""
        z = load_npz(path)
        fmt = str(z.get("format", ""))
        if fmt not in (_FORMAT, DAG_FORMAT):
            raise ValueError(f"path: {str(path)!r} is not a dropengine network file")
        try:
            n = z["n_layers"]
            if n.shape != () or n.dtype.kind not in "iu":
                raise ValueError(f"n_layers must be a 0-d integer array, got {n.dtype} of shape {n.shape}")
            L = int(n)
            specs = z["transfers"]
            if specs.dtype.kind not in "iuf" or specs.shape != (L, 5):
                raise ValueError("malformed transfer table")
            biases = [z.get(f"b{h}") for h in range(L)]
            if fmt == DAG_FORMAT:
                return cls(dag_weights_from_arrays(z, L), biases, [transfer_from_spec(s) for s in specs])
            missing = [f"W{h}" for h in range(L) if f"W{h}" not in z]
            if missing:
                raise ValueError(f"lacks {missing}")
            # An entry save never writes (W5 in a 2-layer file) means a damaged or foreign file.
            extra = sorted(set(z) - {"format", "n_layers", "transfers"} - {f"{c}{h}" for c in "Wb" for h in range(L)})
            if extra:
                raise ValueError(f"unexpected entries {extra}")
            return cls([z[f"W{h}"] for h in range(L)], biases, [transfer_from_spec(s) for s in specs])
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise ValueError(f"path: {str(path)!r} does not hold a valid network: {exc}") from None

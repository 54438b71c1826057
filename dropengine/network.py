"""Feedforward networks (Eq. 1, 12, 21, 48): weights W[h] of shape (n_out, n_in),
the paper's w_ij with i the receiving unit and j the sending one."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ._io import load_npz, save_npz_atomic
from ._validation import as_real_array
from .transfer import Transfer, resolve_transfer, transfer_from_spec

__all__ = ["Network"]

_FORMAT = "dropengine.Network/1"
#: Network.random refuses (MemoryError, before allocating) weights larger than this.
MAX_RANDOM_BYTES = 16 * 2**30


class Network:
    """A feedforward network of fully connected layers.

    Layer h computes S^h = W[h] a^{h-1} + b[h] and O^h = f_h(S^h), with a^{-1} the input
    (Eq. 48). Arrays are copied, made C-contiguous and read-only, so a network can be
    shared between threads.

    Parameters
    ----------
    weights : sequence of 2-D arrays
        W[h] of shape (n_out_h, n_in_h); n_in_h must equal n_out_{h-1}.
    biases : None or sequence of (1-D array or None)
        b[h] of shape (n_out_h,); None for no bias.
    transfer : str, Transfer, or a sequence of them (one per layer)
        "linear", "logistic", "tanh", "relu", "softplus", "softmax", or instances such as
        ``Logistic(c=1.0, lam=1.0)``. A single value applies to every layer.
    dtype : {None, numpy.float32, numpy.float64}
        Compute precision; None keeps float32 if every weight is float32, else float64.
    """

    def __init__(self, weights: Sequence, biases=None, transfer="logistic", dtype=None):
        if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
            raise TypeError("weights must be a list of 2-D arrays, one per layer")
        if len(weights) == 0:
            raise ValueError("weights must hold at least one layer")
        if len(weights) > 255:
            raise ValueError("weights: at most 255 layers are supported")
        Ws = [as_real_array(w, f"weights[{h}]", ndim=2, dtype=None) for h, w in enumerate(weights)]
        if dtype is None:
            dtype = np.float32 if all(w.dtype == np.float32 for w in Ws) else np.float64
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        self.dtype = dtype
        for h, w in enumerate(Ws):
            if 0 in w.shape:
                raise ValueError(f"weights[{h}] must have shape (n_out >= 1, n_in >= 1), got {w.shape}")
            if h and w.shape[1] != Ws[h - 1].shape[0]:
                raise ValueError(f"weights[{h}] has n_in = {w.shape[1]}, but layer {h - 1} has "
                                 f"n_out = {Ws[h - 1].shape[0]}")
        self._W = tuple(self._freeze(w, f"weights[{h}]", h) for h, w in enumerate(Ws))
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
        """W[h], each (n_out_h, n_in_h), read-only."""
        return self._W

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
        """(n_in, n_out_0, n_out_1, ...)."""
        return (self._W[0].shape[1],) + tuple(w.shape[0] for w in self._W)

    @property
    def n_in(self) -> int:
        return self._W[0].shape[1]

    def __repr__(self) -> str:
        sizes = "-".join(map(str, self.sizes))
        fs = ", ".join(f.name for f in self._f)
        return f"Network({sizes}, transfer=[{fs}], dtype={self.dtype.name})"

    # --- construction ----------------------------------------------------------
    @classmethod
    def random(cls, sizes: Sequence[int], transfer="logistic", *, bias: bool = True, scale=None,
               seed=None, dtype=np.float32) -> "Network":
        """Random network with layer sizes (n_in, n_1, ..., n_L).

        Weights are N(0, scale^2) with scale = 1 / sqrt(n_in) per layer unless given;
        biases (if any) are N(0, scale^2) too.
        """
        if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
            raise ValueError("sizes must be a list (n_in, n_1, ..., n_L) with at least two entries")
        for k, n in enumerate(sizes):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"sizes[{k}] must be an integer >= 1, got {n!r}")
        need = sum(int(o) * (int(i) + 1) for i, o in zip(sizes[:-1], sizes[1:])) * 8
        if need > MAX_RANDOM_BYTES:
            raise MemoryError(f"sizes: the weights would take {need / 2**30:.1f} GiB, above the "
                              f"{MAX_RANDOM_BYTES / 2**30:.0f} GiB limit of Network.random")
        rng = np.random.default_rng(seed)
        Ws, bs = [], []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            s = 1.0 / np.sqrt(n_in) if scale is None else float(scale)
            Ws.append(rng.normal(0.0, s, size=(n_out, n_in)))
            bs.append(rng.normal(0.0, s, size=n_out) if bias else None)
        return cls(Ws, bs, transfer, dtype=dtype)

    # --- persistence -----------------------------------------------------------
    def save(self, path):
        """Saves to `path` (.npz, written atomically); returns the path written."""
        arrays = {"format": np.array(_FORMAT), "n_layers": np.array(self.n_layers),
                  "transfers": np.array([f.spec() for f in self._f], dtype=np.float64)}
        for h, (w, b) in enumerate(zip(self._W, self._b)):
            arrays[f"W{h}"] = w
            if b is not None:
                arrays[f"b{h}"] = b
        return save_npz_atomic(path, arrays)

    @classmethod
    def load(cls, path) -> "Network":
        """Loads a network saved by `save`, validating everything (no pickles)."""
        z = load_npz(path)
        if str(z.get("format", "")) != _FORMAT:
            raise ValueError(f"path: {str(path)!r} is not a dropengine network file")
        try:
            n = z["n_layers"]
            if n.shape != () or n.dtype.kind not in "iu":
                raise ValueError(f"n_layers must be a 0-d integer array, got {n.dtype} of shape {n.shape}")
            L = int(n)
            specs = z["transfers"]
            if specs.dtype.kind not in "iuf" or specs.shape != (L, 5):
                raise ValueError("malformed transfer table")
            missing = [f"W{h}" for h in range(L) if f"W{h}" not in z]
            if missing:
                raise ValueError(f"lacks {missing}")
            # An entry save never writes (W5 in a 2-layer file) means a damaged or foreign file.
            extra = sorted(set(z) - {"format", "n_layers", "transfers"} - {f"{c}{h}" for c in "Wb" for h in range(L)})
            if extra:
                raise ValueError(f"unexpected entries {extra}")
            return cls([z[f"W{h}"] for h in range(L)], [z.get(f"b{h}") for h in range(L)],
                       [transfer_from_spec(s) for s in specs])
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise ValueError(f"path: {str(path)!r} does not hold a valid network: {exc}") from None

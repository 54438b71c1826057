"""Weight initialisation for training (the paper's networks start from small random
weights: Section 11.7, phase 1)."""
from __future__ import annotations

import numpy as np

from .._validation import seed_key
from ..network import Network

__all__ = ["init_network", "SCHEMES"]

SCHEMES = ("glorot", "normal", "uniform")


def init_network(sizes, transfer="logistic", *, scheme: str = "glorot", scale=None, bias: bool = True, seed=0,
                 dtype=np.float32) -> Network:
    """A network with random weights for training; biases start at zero.

    scheme:

    ``"glorot"``
        uniform on +-g sqrt(6 / (n_in + n_out)), g = 4 for logistic layers (whose
        slope at 0 is 1/4) and 1 otherwise, times `scale` if given;
    ``"normal"``
        N(0, scale^2), scale 0.01 by default;
    ``"uniform"``
        uniform on +-scale, scale 0.05 by default.

    Draws come from NumPy's Philox generator keyed by `seed` (int or SeedSequence).

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first.
    transfer : str, Transfer or a sequence of them (one per layer)
    scheme : {"glorot", "normal", "uniform"}
    scale : float, optional
    bias : bool
    seed : int or numpy.random.SeedSequence
    dtype : numpy.float32 or numpy.float64

    Returns
    -------
    Network

    Examples
    --------
    >>> import dropengine as de
    >>> net = de.training.init_network([784, 100, 10], ["logistic", "softmax"], seed=0)
    >>> net.sizes, net.dtype
    ((784, 100, 10), dtype('float32'))
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    tmp = Network([np.zeros((o, i)) for i, o in zip(sizes[:-1], sizes[1:])], None, transfer)
    _, _, ss = seed_key(seed)
    rng = np.random.Generator(np.random.Philox(ss))
    Ws = []
    for (n_in, n_out), f in zip(zip(sizes[:-1], sizes[1:]), tmp.transfers):
        if scheme == "glorot":
            g = 4.0 if f.name == "logistic" else 1.0
            lim = g * np.sqrt(6.0 / (n_in + n_out)) * (1.0 if scale is None else float(scale))
            Ws.append(rng.uniform(-lim, lim, (n_out, n_in)))
        elif scheme == "normal":
            Ws.append(rng.normal(0.0, 0.01 if scale is None else float(scale), (n_out, n_in)))
        else:
            s = 0.05 if scale is None else float(scale)
            Ws.append(rng.uniform(-s, s, (n_out, n_in)))
    bs = [np.zeros(o) if bias else None for o in sizes[1:]]
    return Network(Ws, bs, list(tmp.transfers), dtype=dtype)

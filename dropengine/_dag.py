"""Networks as DAGs (Eq. 21-26): checking the layers' sources and the DAG file format.

Layer numbers follow the paper: 0 is the input, 1..L the computed layers; ``weights[k]``
holds layer h = k + 1. A layer is a tuple of (source l, W_hl) pairs sorted by l, with
W_hl of shape (n_h, n_l). ``network.py`` keeps the public class; this module keeps what
only DAGs need, so a chain's code path stays what it was.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from ._validation import as_real_array

__all__ = ["DAG_FORMAT", "parse_layers", "check_widths", "dag_arrays", "dag_weights_from_arrays"]

#: The file tag of a network with skip connections; chains keep "dropengine.Network/1".
DAG_FORMAT = "dropengine.NetworkDAG/1"
_ENTRY = re.compile(r"W(\d+)_(\d+)\Z")


def _source(key, k: int) -> int:
    """A dict key of weights[k]: an int l with 0 <= l < h = k + 1."""
    if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
        raise TypeError(f"weights[{k}]: source layers are ints (0 = the input), got the key {key!r}")
    l = int(key)
    if not 0 <= l <= k:
        raise ValueError(f"weights[{k}][{l}]: layer {k + 1} can receive only from layers 0..{k} "
                         f"(0 = the input; a source must lie below the layer)")
    return l


def parse_layers(weights) -> list:
    """Per layer, the sorted (l, array) pairs of the user's entries: a matrix is
    {h - 1: matrix}. Arrays are converted (real, finite) but not yet cast or frozen."""
    layers = []
    for k, w in enumerate(weights):
        if isinstance(w, Mapping):
            if len(w) == 0:
                raise ValueError(f"weights[{k}] is an empty dict; give at least one source layer")
            pairs = sorted((_source(l, k), v) for l, v in w.items())
            layers.append([(l, as_real_array(v, f"weights[{k}][{l}]", ndim=2, dtype=None)) for l, v in pairs])
        else:
            layers.append([(k, as_real_array(w, f"weights[{k}]", ndim=2, dtype=None))])
    return layers


def check_widths(layers) -> tuple:
    """The widths (n_0, n_1, ..., n_L), or ValueError naming the entry whose shape disagrees."""
    sizes = [layers[0][0][1].shape[1]]  # layer 1 receives from the input only
    for k, pairs in enumerate(layers):
        n_h = pairs[0][1].shape[0]
        for l, w in pairs:
            name = f"weights[{k}]" if len(pairs) == 1 and l == k else f"weights[{k}][{l}]"
            if 0 in w.shape:
                raise ValueError(f"{name} must have shape (n_out >= 1, n_in >= 1), got {w.shape}")
            if name == f"weights[{k}]" and k and w.shape[1] != sizes[k]:  # the chain's message
                raise ValueError(f"weights[{k}] has n_in = {w.shape[1]}, but layer {k - 1} has n_out = {sizes[k]}")
            if w.shape != (n_h, sizes[l]):
                raise ValueError(f"{name} has shape {w.shape}, but layer {k + 1} has {n_h} units and its source "
                                 f"layer {l} has {sizes[l]} (expected ({n_h}, {sizes[l]}))")
        sizes.append(n_h)
    return tuple(sizes)


def dag_arrays(layers, first: int = 0) -> dict:
    """The weight entries of a DAG file: W{k}_{l} for every source l of weights[k]
    (layers[0] is weights[first])."""
    return {f"W{k}_{l}": w for k, pairs in enumerate(layers, first) for l, w in pairs}


def dag_weights_from_arrays(z: dict, L: int) -> list:
    """weights (a list of dicts) from a DAG file's entries, ValueError for a name save
    never writes or a layer without weights; shapes and sources are left to Network."""
    weights = [{} for _ in range(L)]
    for name in z:
        if name in ("format", "n_layers", "transfers") or (name[:1] == "b" and name[1:] in map(str, range(L))):
            continue
        m = _ENTRY.match(name)
        if not m or f"W{int(m[1])}_{int(m[2])}" != name or int(m[1]) >= L:
            raise ValueError(f"unexpected entry {name!r}")
        weights[int(m[1])][int(m[2])] = z[name]
    empty = [k for k, w in enumerate(weights) if not w]
    if empty:
        raise ValueError(f"lacks the weights of layer {empty[0] + 1} (entries W{empty[0]}_<source>)")
    return weights


def split_blocks(W_cat, blocks, h: int):
    """Layer h's weights as ``Network`` takes them, from its concatenated form
    (``Network.input_weights``): the matrix when its one source is h - 1, else the dict
    {l: columns offset..offset + n_l - 1} over the sources in ``blocks``."""
    if len(blocks) == 1 and blocks[0][0] == h - 1:
        return W_cat
    return {l: W_cat[:, o:o + n] for l, o, n in blocks}

"""The trainer's options that need more than a range check: losses and the backward pass."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._engine import LOSSES
from .._validation import as_real_array

__all__ = ["LOSSES", "BACKPROP", "BACKPERCOLATION", "backward_modes", "real_in"]

#: Codes of TrainOptions::backward (train.h): multiply by sigma'(S) (Eq. 173), or pass
#: the signal whole with probability sigma'(S) (Section 10.2); any other value in (0, 1]
#: is a fixed pass probability.
BACKPROP, BACKPERCOLATION = -1.0, 0.0


def backward_modes(backward, n_hidden: int) -> list:
    """Per hidden layer: -1 (backprop), 0 (backpercolation), a fixed keep p in (0, 1], or
    backpropagation with Gaussian noise of standard deviation s added to sigma'(S)
    (Section 10.2), given as ("gaussian", s) or "gaussian:s" and kept as "gaussian:s"."""
    def one(v, name):
        if isinstance(v, tuple) and len(v) == 2 and v[0] == "gaussian":
            return _gaussian(v[1], name)
        if isinstance(v, str) and v.startswith("gaussian:"):
            try:
                s = float(v[len("gaussian:"):])
            except ValueError:
                raise ValueError(f"{name}: 'gaussian:s' needs a number s, got {v!r}") from None
            return _gaussian(s, name)
        if isinstance(v, str):
            if v == "backprop":
                return BACKPROP
            if v == "backpercolation":
                return BACKPERCOLATION
            raise ValueError(f"{name} must be 'backprop', 'backpercolation', a keep probability in (0, 1] or "
                             f"('gaussian', std), got {v!r}")
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must be a string or a number, got {type(v).__name__}")
        if not 0 < float(v) <= 1:
            raise ValueError(f"{name}: a fixed backpercolation keep probability must lie in (0, 1], got {v}")
        return float(v)

    if isinstance(backward, tuple) and len(backward) == 2 and backward[0] == "gaussian":
        return [_gaussian(backward[1], "backward")] * n_hidden  # one spec for every layer, not a list
    if isinstance(backward, (list, tuple)):
        if len(backward) != n_hidden:
            raise ValueError(f"backward must have one entry per hidden layer ({n_hidden}), got {len(backward)}")
        return [one(v, f"backward[{h}]") for h, v in enumerate(backward)]
    return [one(backward, "backward")] * n_hidden


def _gaussian(s, name) -> str:
    if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Real) or not (0 <= float(s) < math.inf):
        raise ValueError(f"{name}: the Gaussian noise's standard deviation must be a finite number >= 0, got {s!r}")
    return f"gaussian:{float(s)!r}"


def core_backward(modes) -> tuple:
    """(modes, noise) as the core takes them (train.h): Gaussian entries are backprop
    with their standard deviation in noise, every other entry has noise 0."""
    noisy = [isinstance(m, str) for m in modes]
    return ([BACKPROP if g else m for m, g in zip(modes, noisy)],
            [float(m.split(":", 1)[1]) if g else 0.0 for m, g in zip(modes, noisy)])


def real_in(v, name, lo, hi, *, lo_open=False):
    """v as a float in [lo, hi) ((lo, hi) with lo_open), or ValueError naming it."""
    a = as_real_array(v, name, dtype=np.float64)
    x = float(a) if a.ndim == 0 else math.nan
    if not ((lo < x if lo_open else lo <= x) and x < hi):
        raise ValueError(f"{name} must be a number in {'(' if lo_open else '['}{lo}, {hi}), got {v!r}")
    return x

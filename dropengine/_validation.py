"""Argument checks shared by the public API: every error names the argument."""
from __future__ import annotations

import numbers
import operator

import numpy as np

__all__ = ["as_real_array", "as_probabilities", "as_count", "as_threads", "seed_key"]


def as_real_array(value, name: str, *, dtype=None, ndim=None, finite=True) -> np.ndarray:
    """Converts `value` to a C-contiguous real array, or raises TypeError/ValueError naming `name`."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a real-valued array, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a real-valued array: {exc}") from None
    if arr.dtype == object or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers (int or float), got dtype {arr.dtype}")
    if ndim is not None and arr.ndim not in ((ndim,) if isinstance(ndim, int) else ndim):
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    target = np.dtype(dtype if dtype is not None else np.result_type(arr.dtype, np.float32))
    with np.errstate(over="ignore"):  # a value beyond the target's range becomes Inf, refused below
        arr = np.asarray(arr, dtype=target, order="C")
    if finite and arr.size and not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite (no NaN or Inf) and within the range of {target}")
    return arr


def as_probabilities(value, name: str) -> np.ndarray:
    """A float64 array of probabilities in [0, 1] (NaN rejected)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a probability in [0, 1], not a bool")
    arr = as_real_array(value, name, dtype=np.float64, finite=False)
    if not ((arr >= 0) & (arr <= 1)).all():
        raise ValueError(f"{name} must lie in [0, 1] (and not be NaN)")
    return arr


def as_count(value, name: str, *, minimum: int = 1) -> int:
    """A Python int >= minimum; bools and floats are rejected."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = operator.index(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


#: More threads than this is surely a mistake (and would exhaust the process's resources).
MAX_THREADS = 4096


def as_threads(threads) -> int:
    """0 (all OpenMP threads) for None, else an int in [1, MAX_THREADS]."""
    if threads is None:
        return 0
    threads = as_count(threads, "threads", minimum=1)
    if threads > MAX_THREADS:
        raise ValueError(f"threads must be at most {MAX_THREADS}, got {threads}")
    return threads


def seed_key(seed) -> tuple[int, int, np.random.SeedSequence]:
    """The Philox key (two uint32 words) for a seed: int >= 0, SeedSequence, or None (fresh entropy)."""
    if isinstance(seed, np.random.SeedSequence):
        ss = seed
    elif seed is None:
        ss = np.random.SeedSequence()
    elif isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, a numpy.random.SeedSequence or None, got {type(seed).__name__}")
    elif seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    else:
        ss = np.random.SeedSequence(int(seed))
    k0, k1 = (int(v) for v in ss.generate_state(2, np.uint32))
    return k0, k1, ss


#: The largest finite bfloat16 (float32's exponent range, 8 significant bits).
BF16_MAX = float(np.float32(3.3895313892515355e38))


def as_precision(precision, dtype, X: np.ndarray) -> bool:
    """Whether `precision` (sample's argument) asks for bfloat16 products, for a network
    of `dtype` and inputs X; refuses what it cannot honour."""
    if precision is None:
        return False
    if not isinstance(precision, str):
        raise TypeError(f"precision must be None or a string ('float32', 'float64' or 'bf16'), "
                        f"got {type(precision).__name__}")
    if precision not in ("float32", "float64", "bf16"):
        raise ValueError(f"precision must be None, 'float32', 'float64' or 'bf16', got {precision!r}")
    if precision == "bf16":
        if np.dtype(dtype) != np.float32:
            raise ValueError("precision='bf16' needs a float32 network (Network(..., dtype=np.float32)); "
                             f"this one is {np.dtype(dtype).name}")
        if X.size and float(np.max(np.abs(X))) > BF16_MAX:
            raise ValueError(f"inputs: precision='bf16' rounds them to bfloat16, whose largest value is "
                             f"{BF16_MAX:.4g}; got {float(np.max(np.abs(X))):.4g}")
        return True
    if precision != np.dtype(dtype).name:
        raise ValueError(f"precision={precision!r} does not match the network's dtype {np.dtype(dtype).name}: "
                         f"build the network with dtype=np.{precision}")
    return False

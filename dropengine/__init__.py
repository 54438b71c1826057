"""dropengine: simulate, measure and train dropout networks.

An implementation of Baldi & Sadowski, "The dropout learning algorithm", Artificial
Intelligence 210 (2014), with a C++ core. Equation numbers in docstrings are the paper's.
"""
from __future__ import annotations

from . import _engine, datasets, exact, spiking, training
from .gates import AdditiveNoise, Dropin, Dropout, Gates, GaussianGate, NoGate, Spikes, WeightNoise
from .network import Network
from .sampling import ensemble, forward, sample
from .stats import DropoutWarning, SampleStats
from .training import Trainer, train
from .transfer import Linear, Logistic, ReLU, Softmax, Softplus, Tanh, Transfer

__version__ = _engine.build_info()["version"]

__all__ = ["Trainer", "train", "Network", "Dropout", "Dropin", "NoGate", "Spikes", "GaussianGate", "AdditiveNoise",
           "WeightNoise", "Gates", "sample", "ensemble", "forward", "SampleStats",
           "DropoutWarning", "Transfer", "Linear", "Logistic", "Tanh", "ReLU", "Softplus", "Softmax",
           "build_info", "exact", "spiking"]


def build_info() -> dict:
    """What was built: version, OpenMP, SIMD level in use, CUDA, RNG stream version, block size.

    Returns
    -------
    dict
        ``version``, ``openmp`` (bool), ``max_threads``, ``simd`` (the kernel level in use:
        "generic", "avx2" or "avx512", capped by DROPENGINE_SIMD), ``bf16`` (how
        ``sample(..., precision="bf16")`` runs: "avx512_bf16" or "emulated"), ``cuda`` (bool),
        ``stream_version`` (the version of the random-stream contract) and
        ``block_samples`` (samples per block of the engine).

    Examples
    --------
    >>> import dropengine as de
    >>> info = de.build_info()
    >>> info["version"] == de.__version__, info["simd"] in ("generic", "avx2", "avx512")
    (True, True)
    """
    return _engine.build_info()


# Submodules with heavier imports (SciPy's statistics, Dask, matplotlib, PyTorch) load
# on first use, as NumPy and SciPy do: ``de.analysis`` works without importing it first.
_LAZY = ("analysis", "distributed", "experiments", "torch")


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'dropengine' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

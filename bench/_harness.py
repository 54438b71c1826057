"""What every bench script shares: timing, machine description, appending results.
(Imported as `_harness`: the scripts run as `python bench/<script>.py`.)"""
from __future__ import annotations

import json
import os
import platform
import time

import numpy as np


def seconds(fn) -> float:
    """Wall-clock seconds of one call."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def timed_interleaved(fns: dict, repeats: int) -> dict:
    """name -> (median, min, max) seconds of `repeats` calls of each fn after one warm-up
    call each, the engines taking turns (round r starts at engine r mod k): this host's
    capacity drifts by tens of percent within minutes, and engines timed one after the
    other would each see a different machine."""
    names = list(fns)
    for name in names:
        fns[name]()
    ts = {name: [] for name in names}
    for r in range(repeats):
        for q in range(len(names)):
            name = names[(r + q) % len(names)]
            ts[name].append(seconds(fns[name]))
    return {name: (float(np.median(v)), float(np.min(v)), float(np.max(v))) for name, v in ts.items()}


def timed(fn, repeats: int):
    """(median, min, max) seconds of `repeats` calls after one warm-up call."""
    return timed_interleaved({"fn": fn}, repeats)["fn"]


def bits_mask(rng, shape, keep):
    """Bernoulli(keep) masks as a skilled NumPy user draws them: from random bytes, one
    bit per mask at keep 1/2; else one float32 uniform per mask."""
    if keep == 0.5:
        n = int(np.prod(shape))
        return np.unpackbits(rng.integers(0, 256, (n + 7) // 8, dtype=np.uint8))[:n].reshape(shape).view(bool)
    return rng.random(shape, dtype=np.float32) < keep


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), for every record: the machines change."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(threads=None) -> dict:
    """CPU, cores, threads used and dropengine's build_info, recorded with every result."""
    import dropengine as de

    return {"cpu": cpu_model(), "cores": os.cpu_count(),
            "threads": threads or os.cpu_count(), "build": de.build_info()}


def append_results(path: str, results) -> None:
    """Appends one JSON line per result to `path` (bench/results/*.jsonl)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    print(f"results appended to {path}")

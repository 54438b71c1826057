"""The analysis reductions (Cython kernel) against NumPy on the paper's sample array.

O of shape 10 inputs x 10,000 samples x 4,800 units, float32 (the raw outputs of the
four 1200-unit hidden layers of the MNIST network, Section 9): E, V, log G, log G',
min and max over the samples for every (input, unit), then NWGM. The NumPy version is
the straightforward vectorised one (float64 per input, two logarithms per value); the
dropengine kernel (dropengine.analysis.summary) is checked against it first. Reported:
seconds (median of repeats) and the speed-up. Target: at least 5x.

    python bench/bench_analysis.py --quick     # 10 x 2,000 x 4,800, about a minute
    python bench/bench_analysis.py             # 10 x 10,000 x 4,800 (1.9 GB), a few minutes
"""
from __future__ import annotations

import argparse
import os

import numpy as np

from _harness import append_results, machine as machine_info, timed
from dropengine.analysis import summary


def numpy_summary(O):
    """E, V, mean log O, mean log(1 - O), min, max over axis 1, one input at a time."""
    out = [np.empty((O.shape[0], O.shape[2])) for _ in range(6)]
    for a in range(O.shape[0]):
        x = O[a].astype(np.float64)
        out[0][a] = x.mean(axis=0)
        out[1][a] = x.var(axis=0)
        out[2][a] = np.log(x).mean(axis=0)
        out[3][a] = np.log1p(-x).mean(axis=0)
        out[4][a] = x.min(axis=0)
        out[5][a] = x.max(axis=0)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2,000 samples instead of 10,000, fewer repeats")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", default="bench/results/analysis.jsonl")
    args = ap.parse_args()
    shape = (10, 2000 if args.quick else 10_000, 4800)
    repeats = 2 if args.quick else 3
    machine = machine_info(args.threads)
    rng = np.random.default_rng(0)
    # Logistic outputs of Gaussian sums: a realistic spread, some values near 0 and 1.
    O = np.empty(shape, np.float32)
    for a in range(shape[0]):
        S = rng.normal(rng.normal(0, 2, shape[2]).astype(np.float32), 1.0, (shape[1], shape[2])).astype(np.float32)
        O[a] = 1 / (1 + np.exp(-S))
    print(f"machine: {machine['cpu']}, {args.threads} threads; O {shape} float32 ({O.nbytes / 2**30:.2f} GiB)")

    got = summary(O, axis=1, threads=args.threads)
    want = numpy_summary(O)
    for name, a, b in zip(("E", "V", "log_G", "log_Gc", "min", "max"),
                          (got.E, got.V, got.log_G, got.log_Gc, got.min, got.max), want):
        err = np.max(np.abs(a - b) / (np.abs(b) + 1e-300))
        if err > 1e-9:
            raise SystemExit(f"kernel and NumPy disagree on {name}: max relative difference {err:.2e}")
    print("kernel and NumPy agree (max relative difference < 1e-9)")

    rows = {}
    for name, fn in (("dropengine (Cython)", lambda: summary(O, axis=1, threads=args.threads)),
                     ("numpy", lambda: numpy_summary(O))):
        med, lo, hi = timed(fn, repeats)
        rows[name] = med
        print(f"  {name:<22} {med:8.2f} s  (min {lo:.2f}, max {hi:.2f})")
    speedup = rows["numpy"] / rows["dropengine (Cython)"]
    print(f"  speed-up = {speedup:.1f}x")
    append_results(args.out, [{"bench": "analysis-summary", "shape": shape, "seconds": rows, "speedup": speedup,
                               **machine}])


if __name__ == "__main__":
    main()

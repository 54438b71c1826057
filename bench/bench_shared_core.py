"""Sampling speed on a shared machine (issue 15): one core kept busy by another process,
threads = 1, all cores and None (the default), on a small network (many short blocks, so
many barriers) and on the paper's network.

    python bench/bench_shared_core.py [--quick]

Criterion fixed before the run: with one core busy, threads=None is not slower than
threads=1 (ratio >= 0.95, the run-to-run noise of this machine), on either network.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import cpu_model, machine, timed  # noqa: E402

import dropengine as de  # noqa: E402
from dropengine.datasets import PAPER_SIZES, mnist_like_inputs  # noqa: E402


def _spin(stop):
    while not stop.is_set():
        pass


def rates(net, X, n_samples, repeats):
    out = {}
    for threads in (1, os.cpu_count(), None):
        med, _, _ = timed(lambda: de.sample(net, X, de.Dropout(0.5), n_samples, seed=1, threads=threads), repeats)
        out[threads] = X.shape[0] * n_samples / med
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    repeats = 3 if args.quick else 7
    cases = [("20-20-1", de.Network.random([20, 20, 1], seed=0), np.random.default_rng(0).random((8, 20)),
              50_000 if args.quick else 200_000),
             ("paper 784-1200x4-10", de.Network.random(PAPER_SIZES, seed=0), mnist_like_inputs(2),
              500 if args.quick else 2000)]
    print(f"CPU: {cpu_model()}; {machine()['cores']} cores; build {de.build_info()}")
    for busy in (False, True):
        stop = mp.Event()
        spinner = mp.Process(target=_spin, args=(stop,)) if busy else None
        if spinner:
            spinner.start()
        try:
            for name, net, X, n in cases:
                r = rates(net, X, n, repeats)
                unit = "passes/s"
                print(f"{'one core busy' if busy else 'idle machine':14s} {name:22s} "
                      f"threads=1 {r[1]:12,.0f} {unit}  threads={os.cpu_count()} {r[os.cpu_count()]:12,.0f}  "
                      f"None {r[None]:12,.0f}  None/1 = {r[None] / r[1]:.2f}"
                      + (f"  criterion (>= 0.95): {'yes' if r[None] / r[1] >= 0.95 else 'no'}" if busy else ""))
        finally:
            if spinner:
                stop.set()
                spinner.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())

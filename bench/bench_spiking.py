"""Stochastic spiking simulation of the paper's 784-1200-1200-1200-1200-10 network
(Section 10.1) against a NumPy implementation in the same run.

The input is real-valued; the four hidden layers spike with size r = 1 (their outputs
are firing probabilities); the output does not spike. Both modes: global firing (one
coin per unit, Eq. 125) and connection-specific firing (one coin per connection,
Eq. 126). Reported: samples/s and the ratio (target: 20x NumPy for connection-specific).
Before timing, the engine's mean firing rates are checked against the NumPy
simulation's (different random streams: within 5 standard errors).

    python bench/bench_spiking.py --quick
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import dropengine as de
from _harness import append_results, machine as machine_info
from dropengine.datasets import PAPER_SIZES, mnist_like_inputs
from dropengine.spiking import simulate


def numpy_spiking(net, X, n, on, rng):
    """Mean firing probability of every unit, one sample at a time (float32)."""
    Ws = [w.astype(np.float32) for w in net.weights]
    bs = [b.astype(np.float32) for b in net.biases]
    means = [np.zeros((len(X), w.shape[0])) for w in Ws]
    for k, x in enumerate(X):
        for _ in range(n):
            a = x.astype(np.float32)
            for h, (W, b) in enumerate(zip(Ws, bs)):
                if h == 0:
                    S = W @ a + b
                elif on == "units":
                    S = W @ (rng.random(a.shape, dtype=np.float32) < a).astype(np.float32) + b
                else:
                    S = (W * (rng.random(W.shape, dtype=np.float32) < a[None, :])).sum(axis=1) + b
                a = 1 / (1 + np.exp(-S))
                means[h][k] += a / n
    return means


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer samples")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", default="bench/results/spiking.jsonl")
    args = ap.parse_args()
    net = de.Network.random(PAPER_SIZES, "logistic", seed=0, dtype=np.float32)
    X = mnist_like_inputs(2 if args.quick else 10)
    machine = machine_info(args.threads)
    print(f"machine: {machine['cpu']}, {args.threads} threads; {len(X)} inputs")
    results = []
    for on, n_de, n_np in (("units", 2000, 20), ("connections", 1000, 6 if args.quick else 10)):
        spikes = de.Spikes(1.0, on=on)
        simulate(net, X, spikes, 16, seed=0, threads=args.threads)  # warm-up
        t = time.perf_counter()
        # like the NumPy peer: firing probabilities only, no spike statistics
        run = simulate(net, X, spikes, n_de, seed=1, threads=args.threads, measure_delta=False)
        rate_de = len(X) * n_de / (time.perf_counter() - t)
        t = time.perf_counter()
        ref = numpy_spiking(net, X, n_np, on, np.random.default_rng(2))
        rate_np = len(X) * n_np / (time.perf_counter() - t)
        # the two simulations agree on the output layer's mean firing probability
        se = np.sqrt(run.stats.var[-1] / n_de + 0.25 / n_np)
        agree = bool(np.all(np.abs(run.stats.E[-1] - ref[-1]) <= 5 * se))
        print(f"\n[{on}] dropengine {rate_de:,.0f} samples/s, NumPy {rate_np:,.1f} samples/s: "
              f"{rate_de / rate_np:.1f}x; output rates agree within 5 SE: {agree}")
        results.append({"bench": "spiking", "mode": on, "dropengine": rate_de, "numpy": rate_np,
                        "ratio": rate_de / rate_np, "agree": agree, **machine})
    append_results(args.out, results)


if __name__ == "__main__":
    main()

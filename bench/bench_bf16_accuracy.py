"""What precision="bf16" costs in accuracy and buys in speed (issue 18).

The paper's 784-1200-1200-1200-1200-10 logistic network (float32), dropout keep 0.8 on
the inputs and 0.5 on the hidden units, 10 MNIST-like inputs x 10,000 samples. The same
seed in float32 and in bf16, so both runs see the same coins and the difference is the
rounding alone. Per layer: max and mean of |E_bf16 - E_f32| in standard errors of the
10,000-sample E (sqrt(Var / n)), and max |E_bf16 - E_f32|. The criterion, fixed before
the run (issue 18): the shift stays well below one standard error; here max < 1 and mean
< 0.25 in every layer. Then samples/s of both, median of repeats.

    python bench/bench_bf16_accuracy.py            # about a minute on 2 cores
"""
from __future__ import annotations

import argparse
import os

import numpy as np

import dropengine as de
from _harness import append_results, machine as machine_info, timed
from dropengine.datasets import PAPER_SIZES, mnist_like_inputs

KEEP = [0.8, 0.5, 0.5, 0.5, 0.5]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="bench/results/bf16_accuracy.jsonl")
    args = ap.parse_args()
    machine = machine_info(args.threads)
    info = de.build_info()
    net = de.Network.random(PAPER_SIZES, "logistic", seed=0, dtype=np.float32)
    X = mnist_like_inputs(10)
    gate, n = de.Dropout(KEEP), args.samples
    print(f"machine: {machine['cpu']}, {args.threads} threads; SIMD {info['simd']}, bf16 products {info['bf16']}")
    f32 = de.sample(net, X, gate, n, seed=1, threads=args.threads)
    b16 = de.sample(net, X, gate, n, seed=1, threads=args.threads, precision="bf16")
    print(f"\n|E_bf16 - E_f32| per layer, {len(X)} inputs x {n:,} samples, in standard errors of E")
    print(f"  {'layer':<6} {'units':>6} {'max / SE':>9} {'mean / SE':>10} {'max |dE|':>10}  verdict (max < 1, mean < 0.25)")
    rows, ok = [], True
    for h in range(net.n_layers):
        se = np.sqrt(f32.var[h] / n)
        d = np.abs(b16.E[h] - f32.E[h])
        z = np.divide(d, se, out=np.zeros_like(d), where=se > 0)
        good = bool(z.max() < 1 and z.mean() < 0.25)
        ok &= good
        note = " (inputs are data: float32)" if h == 0 else ""
        print(f"  {h + 1:<6} {net.sizes[h + 1]:>6} {z.max():>9.3f} {z.mean():>10.3f} {d.max():>10.2e}  "
              f"{'yes' if good else 'NO'}{note}")
        rows.append({"bench": "bf16-accuracy", "layer": h + 1, "max_se": float(z.max()), "mean_se": float(z.mean()),
                     "max_abs": float(d.max()), "n_samples": n, **machine})
    print(f"  well below one standard error in every layer: {'yes' if ok else 'NO'}")
    rates = {}
    for name, prec in (("float32", None), ("bf16", "bf16")):
        med, lo, hi = timed(lambda: de.sample(net, X, gate, n, seed=1, threads=args.threads, precision=prec),
                            args.repeats)
        rates[name] = len(X) * n / med
    print(f"\nsamples/s, median of {args.repeats}: float32 {rates['float32']:,.0f}, bf16 {rates['bf16']:,.0f}; "
          f"bf16 / float32 = {rates['bf16'] / rates['float32']:.2f}")
    rows.append({"bench": "bf16-speed", "samples_per_s": rates, "ratio": rates["bf16"] / rates["float32"], **machine})
    append_results(args.out, rows)


if __name__ == "__main__":
    main()

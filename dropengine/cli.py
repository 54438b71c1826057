"""The `dropengine` command. Subcommands grow with the engine (see issue tracker):
``demo`` samples the paper's MNIST-shaped network and prints E vs NWGM vs W per layer."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

PAPER_SIZES = [784, 1200, 1200, 1200, 1200, 10]


def mnist_like_inputs(n: int, seed: int = 0, dtype=np.float32) -> np.ndarray:
    """Synthetic stand-ins for MNIST digits: 784 pixels in [0, 1], about 19% nonzero
    (MNIST's density), clustered in the central 20 x 20 window."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 28, 28))
    X[:, 4:24, 4:24] = (rng.random((n, 20, 20)) < 0.37) * rng.uniform(0.3, 1.0, (n, 20, 20))
    return X.reshape(n, 784).astype(dtype)


def demo(args) -> int:
    import dropengine as de

    net = de.Network.random(PAPER_SIZES, "logistic", seed=args.seed, dtype=np.float32)
    X = mnist_like_inputs(args.inputs, seed=args.seed)
    gate = de.Dropout(keep=[0.8, 0.5, 0.5, 0.5, 0.5])
    info = de.build_info()
    print(f"dropengine {info['version']}  OpenMP={info['openmp']}  SIMD={info['simd']}  threads={args.threads or info['max_threads']}")
    print(f"{net!r}, dropout keep 0.8 (input) / 0.5 (hidden), {args.inputs} inputs x {args.samples} samples")
    t = time.perf_counter()
    st = de.sample(net, X, gate, args.samples, seed=args.seed, threads=args.threads)
    dt = time.perf_counter() - t
    U, W = de.ensemble(net, X, gate)
    print(f"sampled in {dt:.2f} s ({args.inputs * args.samples / dt:,.0f} samples/s)\n")
    print("layer  units   mean E    mean|E-NWGM|  mean|E-W|   mean|NWGM-W|  max sem(E)")
    for h in range(net.n_layers):
        E, N, Wh = st.E[h], st.nwgm[h], W[h].astype(np.float64)
        print(f"{h + 1:>5}  {E.shape[1]:>5}  {E.mean():8.4f}  {np.abs(E - N).mean():12.2e}  "
              f"{np.abs(E - Wh).mean():10.2e}  {np.abs(N - Wh).mean():12.2e}  {st.sem[h].max():10.2e}")
    print("\nE: Monte Carlo ensemble mean; NWGM: normalized geometric mean (Eq. 37); "
          "W: deterministic ensemble network (Eq. 167).")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dropengine", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="sample the paper's 784-1200x4-10 network; E vs NWGM vs W per layer")
    d.add_argument("--samples", type=int, default=2000, help="samples per input (default 2000)")
    d.add_argument("--inputs", type=int, default=10, help="number of inputs (default 10)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--threads", type=int, default=None)
    d.set_defaults(func=demo)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

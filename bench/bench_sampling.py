"""Monte Carlo dropout sampling of the paper's MNIST-shaped network, against NumPy and PyTorch.

Network 784-1200-1200-1200-1200-10, logistic, float32; dropout keep 0.8 on the inputs
and 0.5 on the hidden units (Section 9); 10 MNIST-like inputs. For each engine:
samples/s (median of repeats, with spread), the ratio to dropengine, and the fraction
of this machine's measured float32 GEMM peak (dense-equivalent FLOPs). Then the same
for dropout on connections with fewer samples, and the peak resident memory of a
10 x 1,000,000-sample run against a 10 x 10,000-sample run (streaming statistics).

Before timing, dropengine's statistics are checked against the plain NumPy twin
(dropengine._reference), which replays the same Philox draws.

    python bench/bench_sampling.py --quick       # about two minutes on 2 cores
    python bench/bench_sampling.py               # the paper's 10 x 10,000 samples
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

import dropengine as de
from _harness import append_results, bits_mask, machine as machine_info, seconds, timed, timed_interleaved
from dropengine import _reference as R
from dropengine._validation import seed_key
from dropengine.datasets import PAPER_SIZES, mnist_like_inputs

KEEP = [0.8, 0.5, 0.5, 0.5, 0.5]


def blas_name() -> str:
    """The BLAS behind NumPy (the peers' products), e.g. 'scipy-openblas 0.3.27 (Zen)'."""
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{cfg.get('name')} {cfg.get('version')}"
    except Exception:  # older NumPy: no dict mode
        return "unknown"


def dense_flops_per_sample(sizes):
    return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def gemm_peak(threads: int) -> float:
    """Measured float32 GEMM GFLOP/s of NumPy's BLAS on 2048^2 matrices (best of 5)."""
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    a @ a
    best = min(seconds(lambda: a @ a) for _ in range(5))
    return 2 * 2048**3 / best / 1e9


# ---- peers, as a skilled user writes them, streaming the same statistics ----
def numpy_units(net, X, n, rng, chunk=1000):
    """Masks from random bits (one bit per mask at keep 1/2), BLAS products, in-place
    ufuncs into preallocated buffers, the statistics in one pass over each chunk."""
    Ws = [np.ascontiguousarray(w.T, dtype=np.float32) for w in net.weights]
    bs = [b.astype(np.float32) for b in net.biases]
    bufs = [np.empty((chunk, w.shape[1]), np.float32) for w in Ws]
    logs = [np.empty_like(b) for b in bufs]
    gated = [np.empty((chunk, w.shape[0]), np.float32) for w in Ws]
    for x in X:
        acc = [np.zeros((3, w.shape[1])) for w in Ws]
        for s0 in range(0, n, chunk):
            m = min(chunk, n - s0)
            a = np.broadcast_to(x, (m, x.size))
            for h, (W, b) in enumerate(zip(Ws, bs)):
                g = gated[h][:m]
                np.multiply(a, bits_mask(rng, (m, W.shape[0]), KEEP[h]), out=g)
                S = bufs[h][:m]
                np.matmul(g, W, out=S)
                S += b
                np.negative(S, out=S)
                np.exp(S, out=S)
                S += 1
                a = np.reciprocal(S, out=S)
                acc[h][0] += a.sum(0)
                acc[h][1] += np.einsum("ij,ij->j", a, a)
                acc[h][2] += np.log(a, out=logs[h][:m]).sum(0)
    return acc


def _torch_layers(net, threads):
    """The network's transposed weights and biases as float32 tensors, threads set."""
    import torch

    torch.set_num_threads(threads)
    return ([torch.from_numpy(np.ascontiguousarray(w.T.astype(np.float32))) for w in net.weights],
            [torch.from_numpy(b.astype(np.float32)) for b in net.biases])


def _torch_mask(shape, keep):
    """Bernoulli(keep) masks from random bytes (uint8 at keep 1/2, else rand < keep)."""
    import torch

    return torch.randint(0, 2, shape, dtype=torch.uint8) if keep == 0.5 else torch.rand(shape) < keep


def _torch_run(Ws, bs, X, n, chunk, step):
    """The PyTorch peers' sampling loop: chunks of samples of each input through
    step(a, W, b, keep) -> (outputs, sum O, sum O^2, sum log O), sums kept in float64."""
    import torch

    with torch.inference_mode():
        for x in torch.from_numpy(X):
            acc = [torch.zeros(3, w.shape[1], dtype=torch.float64) for w in Ws]
            for s0 in range(0, n, chunk):
                a = x.expand(min(chunk, n - s0), -1)
                for h, (W, b) in enumerate(zip(Ws, bs)):
                    a, s1, s2, s3 = step(a, W, b, KEEP[h])
                    acc[h][0] += s1
                    acc[h][1] += s2
                    acc[h][2] += s3
    return acc


def torch_units(net, X, n, threads, chunk=1000):
    """Masks from random bytes (torch.randint as uint8 at keep 1/2, else rand < keep: both
    measured 3-4x faster than bernoulli_ or F.dropout here), fused addmm and in-place
    sigmoid_, threads set, no autograd."""
    import torch

    def step(a, W, b, keep):
        m = _torch_mask((a.shape[0], W.shape[0]), keep)
        a = torch.addmm(b, m.mul(a), W).sigmoid_()
        return a, a.sum(0), (a * a).sum(0), torch.log(a).sum(0)

    return _torch_run(*_torch_layers(net, threads), X, n, chunk, step)


def torch_compiled_units(net, threads, chunk=1000):
    """torch_units with each layer's step (mask, addmm, sigmoid, the three sums) compiled
    by torch.compile (Inductor's C++ backend, fixed shapes): the fused form a user who
    reaches for torch.compile gets. Returns a function of (X, n) like torch_units, or None
    (with the reason printed) where compilation fails on this machine."""
    import torch

    Ws, bs = _torch_layers(net, threads)

    def step(a, W, b, keep: float):
        m = _torch_mask((a.shape[0], W.shape[0]), keep)
        a = torch.sigmoid(torch.addmm(b, m * a, W))
        return a, a.sum(0, dtype=torch.float64), (a * a).sum(0, dtype=torch.float64), \
            torch.log(a).sum(0, dtype=torch.float64)

    cstep = torch.compile(step, dynamic=False)

    def run(X, n):
        return _torch_run(Ws, bs, X, n, chunk, cstep)

    t = time.perf_counter()
    try:
        run(np.zeros((1, net.sizes[0]), np.float32), chunk)
    except Exception as e:  # Inductor needs a working C++ toolchain; say why and go on
        print(f"  torch.compile: failed here ({type(e).__name__}: {str(e).splitlines()[0][:120]}); skipped")
        return None
    print(f"  torch.compile: compiled in {time.perf_counter() - t:.0f} s (not timed)")
    return run


def numpy_connections(net, X, n, rng):
    Ws = [w.astype(np.float32) for w in net.weights]
    for x in X:
        for _ in range(n):
            a = x
            for h, W in enumerate(Ws):
                a = 1 / (1 + np.exp(-((W * (rng.random(W.shape, dtype=np.float32) < KEEP[h])) @ a)))


def torch_connections(net, X, n, threads):
    import torch

    torch.set_num_threads(threads)
    Ws = [torch.from_numpy(w.astype(np.float32)) for w in net.weights]
    with torch.no_grad():
        for x in torch.from_numpy(X):
            for _ in range(n):
                a = x
                for h, W in enumerate(Ws):
                    a = torch.sigmoid((W * (torch.rand(W.shape) < KEEP[h])) @ a)


def check_against_reference(net, X, on: str):
    """dropengine vs the NumPy twin on the same draws: every recorded output and E."""
    n = 64 if on == "units" else 4  # the twin draws connection masks as uint64 arrays: memory
    gate = de.Dropout(KEEP, on=on)
    st = de.sample(net, X[:1], gate, n, seed=5, record=list(range(net.n_layers)))
    S, O = R.sample_reference(net, X[:1], gate, n, seed_key(5)[:2])
    worst = 0.0
    for h in range(net.n_layers):
        np.testing.assert_allclose(st.records[h], O[h], rtol=1e-4, atol=1e-5)
        worst = max(worst, float(np.abs(st.E[h] - O[h].mean(1)).max()))
    print(f"[{on}] all {n} samples of every layer match the NumPy reference (max |dE| = {worst:.1e}). "
          "Starting benchmarks.")


def peak_rss_of_run(n_samples: int, sizes) -> int:
    code = ("import resource, numpy as np, dropengine as de;"
            f"net = de.Network.random({list(sizes)}, 'logistic', seed=0);"
            "from dropengine.datasets import mnist_like_inputs;"
            f"de.sample(net, mnist_like_inputs(10)[:, :{sizes[0]}], de.Dropout(0.5), {n_samples}, seed=1);"
            "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])")
    # VmHWM, not ru_maxrss: the latter is inherited across fork/exec from this (large) process.
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout.strip()) * 1024


def connections_per_sample(net) -> int:
    return sum(int(np.prod(net.input_weights(h)[0].shape)) for h in range(1, net.n_layers + 1))


def skip_connections(chain, X, n, repeats, threads, machine) -> list:
    """The paper's network with the input also feeding every hidden layer (Eq. 21), beside
    the chain in the same run: samples/s, and connections (multiply-adds of the dense
    network) per second, which is what the extra inputs cost."""
    sizes = list(chain.sizes)
    dag = de.Network.random(sizes, "logistic", seed=0, dtype=np.float32, skips=[(0, h) for h in range(2, len(sizes) - 1)])
    gate = de.Dropout(KEEP)
    print(f"\n[skip connections] the input also feeds hidden layers 2..{len(sizes) - 2}; unit dropout, "
          f"{len(X)} inputs x {n} samples, median of {repeats}")
    print(f"  {'network':<7} {'connections':>12} {'samples/s':>12} {'connections/s':>15}")
    rows = []
    for name, net in (("chain", chain), ("dag", dag)):
        med, lo, hi = timed(lambda: de.sample(net, X, gate, n, seed=1, threads=threads), repeats)
        rate, conn = len(X) * n / med, connections_per_sample(net)
        print(f"  {name:<7} {conn:>12,} {rate:>12,.0f} {rate * conn:>15.3e}")
        rows.append({"bench": "sampling-skips", "network": name, "samples_per_s": rate, "connections": conn,
                     "connections_per_s": rate * conn, "median_s": med, "min_s": lo, "max_s": hi,
                     "n_inputs": len(X), "n_samples": n, **machine})
    print(f"  dag / chain: samples/s {rows[1]['samples_per_s'] / rows[0]['samples_per_s']:.2f}, "
          f"connections/s {rows[1]['connections_per_s'] / rows[0]['connections_per_s']:.2f}")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer samples and repeats")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", default="bench/results/sampling.jsonl")
    ap.add_argument("--skip-memory", action="store_true",
                    help="skip the 10 x 1,000,000-sample memory run (about 10 minutes at full size)")
    args = ap.parse_args()
    n_units = 2000 if args.quick else 10_000
    n_conn = 10 if args.quick else 50
    repeats = 3 if args.quick else 5
    info = de.build_info()
    machine = machine_info(args.threads)
    net = de.Network.random(PAPER_SIZES, "logistic", seed=0, dtype=np.float32)
    X = mnist_like_inputs(10)
    peak = gemm_peak(args.threads)
    flops = dense_flops_per_sample(PAPER_SIZES)
    print(f"machine: {machine['cpu']}, {args.threads} threads; float32 GEMM peak (NumPy BLAS) {peak:.0f} GFLOP/s; "
          f"dropengine SIMD {info['simd']}, bf16 {info['bf16']}; NumPy BLAS {blas_name()}")
    results = []

    for on, n, engines in (
        ("units", n_units, {
            "dropengine": lambda n: de.sample(net, X, de.Dropout(KEEP), n, seed=1, threads=args.threads),
            "dropengine bf16": lambda n: de.sample(net, X, de.Dropout(KEEP), n, seed=1, threads=args.threads,
                                                   precision="bf16"),
            "numpy": lambda n: numpy_units(net, X, n, np.random.default_rng(1)),
            "torch": lambda n: torch_units(net, X, n, args.threads),
            "torch compiled": lambda n: compiled(X, n)}),
        ("connections", n_conn, {
            "dropengine": lambda n: de.sample(net, X, de.Dropout(KEEP, on="connections"), n, seed=1,
                                              threads=args.threads),
            "numpy": lambda n: numpy_connections(net, X, n, np.random.default_rng(1)),
            "torch": lambda n: torch_connections(net, X, n, args.threads)}),
    ):
        check_against_reference(net, X, on)
        runnable = {}
        for name, fn in engines.items():
            if name.startswith("torch"):
                try:
                    import torch  # noqa: F401
                except ImportError:
                    print(f"  {name}: not installed (pip install torch==2.13.0); skipped")
                    continue
            if name == "torch compiled":
                compiled = torch_compiled_units(net, args.threads)
                if compiled is None:
                    continue
            runnable[name] = (lambda fn: lambda: fn(n))(fn)
        rows = {}
        for name, (med, lo, hi) in timed_interleaved(runnable, repeats).items():
            rate = len(X) * n / med
            rows[name] = rate
            results.append({"bench": "sampling", "gate": on, "engine": name, "samples_per_s": rate,
                            "median_s": med, "min_s": lo, "max_s": hi, "n_inputs": len(X), "n_samples": n,
                            "peak_fraction": rate * flops / 1e9 / peak, "interleaved": True, **machine})
        best_peer = max(v for k, v in rows.items() if not k.startswith("dropengine"))
        print(f"\n[{on}] {len(X)} inputs x {n} samples, median of {repeats} (engines take turns)")
        print(f"  {'engine':<16} {'samples/s':>12} {'x dropengine':>13} {'of GEMM peak':>13}")
        for name, rate in rows.items():
            print(f"  {name:<16} {rate:>12,.0f} {rate / rows['dropengine']:>13.2f} "
                  f"{rate * flops / 1e9 / peak:>12.0%}")
        print(f"  dropengine / best peer = {rows['dropengine'] / best_peer:.2f}x")
        if "dropengine bf16" in rows:
            print(f"  dropengine bf16 / best peer = {rows['dropengine bf16'] / best_peer:.2f}x "
                  f"(opt-in; bf16 products on {info['bf16']})")

    results += skip_connections(net, X, n_units, repeats, args.threads, machine)
    results += float64_rows(X, n_units, repeats, args.threads, machine)

    # Streaming statistics: memory independent of the sample count.
    if args.skip_memory:
        append_results(args.out, results)
        return
    sizes = PAPER_SIZES if not args.quick else [784, 256, 256, 10]
    small, big = peak_rss_of_run(10_000, sizes), peak_rss_of_run(1_000_000, sizes)
    print(f"\npeak RSS, network {'-'.join(map(str, sizes))}: 10 x 10,000 samples {small / 2**20:.0f} MiB, "
          f"10 x 1,000,000 samples {big / 2**20:.0f} MiB")
    results.append({"bench": "sampling-memory", "sizes": sizes, "rss_10k": small, "rss_1m": big, **machine})
    append_results(args.out, results)


def float64_rows(X, n_units, repeats, threads, machine):
    """float64 against float32, unit dropout, same run: the paper's network and a small one
    (20-64-64-5, where the transfer function's cost is not hidden behind the products).
    Issue 18's target: float64 at >= 0.45x the float32 speed (SIMD width explains 2x)."""
    out = []
    print(f"\n[float64] unit dropout, {len(X)} inputs, median of {repeats}")
    print(f"  {'network':<16} {'float32 /s':>12} {'float64 /s':>12} {'f64 / f32':>10}")
    for name, sizes, Xs, n in (("784-1200x4-10", PAPER_SIZES, X, n_units),
                               ("20-64-64-5", [20, 64, 64, 5], X[:, :20], 50 * n_units)):
        rates = {}
        for dt in (np.float32, np.float64):
            net = de.Network.random(sizes, "logistic", seed=0, dtype=dt)
            Xd = np.ascontiguousarray(Xs, dtype=dt)
            gate = de.Dropout([KEEP[0]] + [KEEP[-1]] * (len(sizes) - 2))
            med, _, _ = timed(lambda: de.sample(net, Xd, gate, n, seed=1, threads=threads), repeats)
            rates[np.dtype(dt).name] = len(Xd) * n / med
        ratio = rates["float64"] / rates["float32"]
        print(f"  {name:<16} {rates['float32']:>12,.0f} {rates['float64']:>12,.0f} {ratio:>10.2f}")
        out.append({"bench": "sampling-float64", "network": name, "samples_per_s": rates, "ratio": ratio,
                    "n_samples": n, **machine})
    return out


if __name__ == "__main__":
    main()

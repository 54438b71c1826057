"""Training speed: minibatch SGD with dropout on the paper's MNIST network, against
PyTorch CPU and NumPy in the same run.

Network 784-1200-1200-1200-1200-10, logistic hidden units, softmax output, float32;
dropout keep 0.8 on the inputs and 0.5 on the hidden units (Section 9); batch size 100;
SGD with momentum 0.9; softmax cross entropy. Data: MNIST (dropengine.datasets) when
available, else synthetic MNIST-like digits (stated in the output). Every engine gets
the same examples in the same order and the same number of threads.

Before timing, one engine minibatch gradient is checked against the NumPy twin of the
trainer (dropengine.training._reference), which replays the same Philox draws.

A second table times dropout on connections (Eq. 14, 23: every connection of every
example its own coin, keep 0.8 / 0.5 as above) on the same network, against NumPy and
PyTorch written as a skilled user would: masks from random bits (one byte per eight
connections at keep 1/2), the gated weights of the whole minibatch as one batched
product, in-place updates. --skip-connections leaves it out.

    python bench/bench_training.py --quick      # about two minutes
    python bench/bench_training.py              # more batches, more repeats
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import dropengine as de
from _harness import append_results, bits_mask, machine as machine_info
from dropengine.datasets import PAPER_SIZES, mnist_like_inputs
from dropengine.training._reference import gradient_reference

KEEP = [0.8, 0.5, 0.5, 0.5, 0.5]
BATCH, LR, MOMENTUM = 100, 0.1, 0.9


def data(n: int):
    try:
        m = de.datasets.load_mnist(download=False)
        X, y, _, _ = m.arrays()
        return X[:n], y[:n], f"MNIST ({m.source})"
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        rng = np.random.default_rng(0)
        return mnist_like_inputs(n, seed=0), rng.integers(0, 10, n), f"MNIST-like synthetic ({exc})"


def init_weights(seed=0):
    rng = np.random.default_rng(seed)
    return ([(rng.standard_normal((o, i)) * 0.01).astype(np.float32) for i, o in zip(PAPER_SIZES[:-1], PAPER_SIZES[1:])],
            [np.zeros(o, np.float32) for o in PAPER_SIZES[1:]])


# ---- peers: the obvious implementations of the same training step ----------------
class NumpyTrainer:
    def __init__(self, Ws, bs, seed=0):
        self.W = [w.copy() for w in Ws]
        self.b = [b.copy() for b in bs]
        self.V = [np.zeros_like(w) for w in Ws]
        self.Vb = [np.zeros_like(b) for b in bs]
        self.rng = np.random.default_rng(seed)

    def batch(self, x, t):
        # As a skilled user writes it: masks from random bits (bits_mask), in-place ufuncs,
        # and A (1 - A) as the derivative of a dropped-or-kept logistic unit (0 where dropped).
        acts, a = [], x
        L = len(self.W)
        for h in range(L):
            a = a * bits_mask(self.rng, a.shape, KEEP[h])
            acts.append(a)
            S = a @ self.W[h].T
            S += self.b[h]
            if h < L - 1:
                np.negative(S, out=S)
                np.exp(S, out=S)
                S += 1
                a = np.reciprocal(S, out=S)
            else:
                S -= S.max(1, keepdims=True)
                np.exp(S, out=S)
                S /= S.sum(1, keepdims=True)
                a = S
        d = a
        d[np.arange(len(t)), t] -= 1
        d /= len(t)
        for h in range(L - 1, -1, -1):
            A = acts[h]
            gW, gb = d.T @ A, d.sum(0)
            if h:
                d = d @ self.W[h]
                d *= A
                d *= 1 - A
            self.V[h] *= MOMENTUM
            self.V[h] -= LR * gW
            self.W[h] += self.V[h]
            self.Vb[h] *= MOMENTUM
            self.Vb[h] -= LR * gb
            self.b[h] += self.Vb[h]


class TorchTrainer:
    def __init__(self, Ws, bs, threads):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        layers = []
        for h, (w, b) in enumerate(zip(Ws, bs)):
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            layers += [torch.nn.Dropout(1 - KEEP[h]), lin]
            if h < len(Ws) - 1:
                layers.append(torch.nn.Sigmoid())
        self.model = torch.nn.Sequential(*layers).train()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR, momentum=MOMENTUM)
        self.loss = torch.nn.CrossEntropyLoss()

    def batch(self, x, t):
        self.opt.zero_grad()
        self.loss(self.model(x), t).backward()
        self.opt.step()


# ---- connection dropout: every example its own mask over every connection ----------
class NumpyConnectionTrainer(NumpyTrainer):
    def batch(self, x, t):
        acts, masks, a = [], [], x
        L = len(self.W)
        for h in range(L):
            M = bits_mask(self.rng, (len(x),) + self.W[h].shape, KEEP[h])
            GW = M * self.W[h]  # (B, n_out, n_in): each example's gated weights
            acts.append(a)
            masks.append(M)
            S = np.matmul(GW, a[:, :, None])[:, :, 0]
            S += self.b[h]
            if h < L - 1:
                np.negative(S, out=S)
                np.exp(S, out=S)
                S += 1
                a = np.reciprocal(S, out=S)
            else:
                S -= S.max(1, keepdims=True)
                np.exp(S, out=S)
                S /= S.sum(1, keepdims=True)
                a = S
        d = a
        d[np.arange(len(t)), t] -= 1
        d /= len(t)
        for h in range(L - 1, -1, -1):
            A, M = acts[h], masks[h]
            gW = np.einsum("bij,bi,bj->ij", M, d, A, optimize=True)
            gb = d.sum(0)
            if h:
                d = np.matmul(d[:, None, :], M * self.W[h])[:, 0, :]
                d *= A * (1 - A)
            self.V[h] *= MOMENTUM
            self.V[h] -= LR * gW
            self.W[h] += self.V[h]
            self.Vb[h] *= MOMENTUM
            self.Vb[h] -= LR * gb
            self.b[h] += self.Vb[h]


class TorchConnectionTrainer:
    def __init__(self, Ws, bs, threads):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        self.W = [torch.from_numpy(w.copy()).requires_grad_() for w in Ws]
        self.b = [torch.from_numpy(b.copy()).requires_grad_() for b in bs]
        self.opt = torch.optim.SGD(self.W + self.b, lr=LR, momentum=MOMENTUM)
        self.loss = torch.nn.CrossEntropyLoss()

    def batch(self, x, t):
        torch = self.torch
        self.opt.zero_grad()
        a = x
        for h, (W, b) in enumerate(zip(self.W, self.b)):
            M = torch.bernoulli(torch.full((x.shape[0],) + tuple(W.shape), KEEP[h]))
            S = torch.baddbmm(b[None, :, None], M * W, a[:, :, None])[:, :, 0]
            a = torch.sigmoid(S) if h < len(self.W) - 1 else S
        self.loss(a, t).backward()
        self.opt.step()


def check_engine(X, y, threads):
    """One minibatch gradient of the engine against the NumPy twin (float64, same draws)."""
    rng = np.random.default_rng(1)
    sizes = [784, 64, 64, 10]
    net = de.Network([rng.normal(0, 0.1, (o, i)) for i, o in zip(sizes[:-1], sizes[1:])],
                     [rng.normal(0, 0.1, o) for o in sizes[1:]], ["logistic", "logistic", "softmax"], dtype=np.float64)
    gate = de.Dropout([0.8, 0.5, 0.5])
    tr = de.Trainer(net, gate, seed=3, threads=threads)
    gW, gb, _ = tr.gradient(X[:BATCH], y[:BATCH], step=5)
    rW, rb, _ = gradient_reference(net, X[:BATCH], y[:BATCH], gate, (tr._k0, tr._k1), 5)
    err = max(float(np.abs(a - b).max()) for a, b in zip(gW + gb, rW + rb))
    assert err < 1e-10, f"engine gradient differs from the NumPy reference by {err}"
    return err


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--skip-connections", action="store_true")
    args = ap.parse_args()
    n_batches, repeats = (30, 3) if args.quick else (100, 5)
    X, y, source = data((n_batches + 5) * BATCH)
    m = machine_info(args.threads)
    print(f"machine: {m['cpu']}, {m['cores']} cores, {args.threads} threads; dropengine SIMD {m['build']['simd']}, "
          f"bf16 {m['build']['bf16']}")
    print(f"data: {source}")
    err = check_engine(X, y, args.threads)
    print(f"check: engine minibatch gradient = NumPy reference (max abs difference {err:.1e})")
    Ws, bs = init_weights()
    compare(X, y, Ws, bs, args, gate=de.Dropout(KEEP), peers=(NumpyTrainer, TorchTrainer), batches=(n_batches, repeats),
            warm=2, peer_warm=(True, True), digits=0,
            title=f"784-1200x4-10 logistic/softmax, float32, dropout 0.8/0.5, batch {BATCH}, SGD momentum {MOMENTUM}",
            tag="training", target="1.75x, issue 18", record={"bench": "training", "data": source.split(" (")[0]})
    if not args.skip_connections:
        # A few minibatches per repeat; the NumPy peer takes seconds per minibatch, so it
        # gets no warm-up batch.
        compare(X, y, Ws, bs, args, gate=de.Dropout(KEEP, on="connections"),
                peers=(NumpyConnectionTrainer, TorchConnectionTrainer), batches=(3, 3) if args.quick else (5, 5),
                warm=1, peer_warm=(False, True), digits=1,
                title="the same network with dropout on connections (a coin per connection and example)",
                tag="training, connections", target="10x", record={"bench": "training_connections"})


def compare(X, y, Ws, bs, args, *, gate, peers, batches, warm, peer_warm, digits, title, tag, target, record):
    """One table: the engine with `gate` against the NumPy and PyTorch peers (classes with
    .batch(x, t)), interleaved repeats; appended to bench/results/training.jsonl."""
    n_batches, repeats = batches
    n_ex = n_batches * BATCH

    def engine_run():
        net = de.Network(Ws, bs, ["logistic"] * 4 + ["softmax"])
        tr = de.Trainer(net, gate, learning_rate=LR, momentum=MOMENTUM, batch_size=BATCH, seed=0,
                        threads=args.threads)
        Xe, ye = X[: (n_batches + warm) * BATCH], y[: (n_batches + warm) * BATCH]
        tr.run_batches(Xe, ye, warm)  # warm-up: buffers, page faults
        t = time.perf_counter()
        tr.run_batches(Xe, ye, n_batches)
        return time.perf_counter() - t

    def peer_run(make, Xp, yp, warm_up):
        def run():
            tr = make()
            if warm_up:
                tr.batch(Xp[:BATCH], yp[:BATCH])
            t = time.perf_counter()
            for k in range(n_batches):
                tr.batch(Xp[k * BATCH:(k + 1) * BATCH], yp[k * BATCH:(k + 1) * BATCH])
            return time.perf_counter() - t
        return run

    numpy_cls, torch_cls = peers
    runs = {"dropengine": engine_run, "numpy": peer_run(lambda: numpy_cls(Ws, bs), X, y, peer_warm[0])}
    if not args.skip_torch:
        try:
            import torch

            Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
            runs["pytorch"] = peer_run(lambda: torch_cls(Ws, bs, args.threads), Xt, yt, peer_warm[1])
        except ImportError:
            print("PyTorch not installed: pip install torch==2.13.0")
    # Interleaved repeats, so slow drifts of the machine hit every engine alike.
    times = {k: [] for k in runs}
    for _ in range(repeats):
        for k, fn in runs.items():
            times[k].append(fn())
    rate = {k: n_ex / float(np.median(v)) for k, v in times.items()}
    best_peer = max((v for k, v in rate.items() if k != "dropengine"), default=float("nan"))
    print(f"\n{title}, {args.threads} threads, {n_batches} batches x {repeats} repeats")
    print(f"{'engine':<12}{'examples/s':>12}{'spread':>22}{'dropengine / engine':>22}")
    for k, v in times.items():
        lo, hi = n_ex / max(v), n_ex / min(v)
        print(f"{k:<12}{rate[k]:>12.{digits}f}{f'{lo:.{digits}f}-{hi:.{digits}f}':>22}"
              f"{rate['dropengine'] / rate[k]:>22.2f}")
    print(f"\n[{tag}] dropengine / best peer = {rate['dropengine'] / best_peer:.2f}x (target {target})")
    append_results(os.path.join(os.path.dirname(__file__), "results", "training.jsonl"), [{
        **record, "quick": args.quick, "batches": n_batches, "repeats": repeats, "examples_per_s": rate,
        "ratio_best_peer": rate["dropengine"] / best_peer, "machine": machine_info(args.threads),
        "time": time.strftime("%Y-%m-%d %H:%M:%S")}])

if __name__ == "__main__":
    main()

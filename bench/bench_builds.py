"""Two builds of dropengine on the same workloads, in the same run: before/after a change.

    python bench/bench_builds.py OLD_TREE NEW_TREE [--rounds 3] [--threads 2]

Each tree is a source checkout with its compiled modules in place (``dropengine/_core*.so``,
e.g. a ``git archive`` of the old commit plus a build of it). The trees run in alternating
subprocesses (old, new, old, new, ...) so that load drifting over the run hits both
alike; each subprocess reports the median of its repeats, and the table gives the median
over rounds and new / old. Results are the same bits by contract; only time is compared.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import cpu_model  # noqa: E402

# Run inside each subprocess: the public API only, so any build since the package's
# first release can be measured.
WORKLOADS = r'''
import json, sys, time
import numpy as np
import dropengine as de

threads, only = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
X = rng.random((4, 784)).astype(np.float32)
net = de.Network.random([784, 256, 256, 10], seed=0)
paper = de.Network.random([784, 1200, 1200, 1200, 1200, 10], seed=0)
unit = de.Network.random([18, 1], seed=0, dtype=np.float64)
train_X = rng.random((2000, 784)).astype(np.float32)
train_y = rng.integers(0, 10, 2000)


def med(fn, reps=5):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def train():
    tr = de.Trainer(de.Network.random([784, 256, 256, 10], transfer=["logistic", "logistic", "softmax"], seed=0),
                    de.Dropout([0.8, 0.5, 0.5]), batch_size=100, seed=0, threads=threads)
    tr.run_batches(train_X, train_y, 20)


def train_paper():
    tr = de.Trainer(de.Network.random([784, 1200, 1200, 1200, 1200, 10], transfer=["logistic"] * 4 + ["softmax"],
                                      seed=0), de.Dropout([0.8, 0.5, 0.5, 0.5, 0.5]), batch_size=100, seed=0,
                    threads=threads)
    tr.run_batches(train_X, train_y, 10)


work = {
    "sample units 784-256-256-10, 4 x 2048": lambda: med(lambda: de.sample(net, X, de.Dropout([0.8, 0.5, 0.5]), 2048,
                                                                     seed=1, threads=threads)),
    "sample units 784-1200x4-10, 4 x 1024": lambda: med(lambda: de.sample(
        paper, X, de.Dropout([0.8, 0.5, 0.5, 0.5, 0.5]), 1024, seed=1, threads=threads)),
    "sample connections 784-256-256-10, 4 x 64": lambda: med(lambda: de.sample(
        net, X, de.Dropout([0.8, 0.5, 0.5], on="connections"), 64, seed=1, threads=threads)),
    "ensemble 784-1200x4-10, 4 inputs": lambda: med(lambda: de.ensemble(paper, X, de.Dropout([0.8, 0.5, 0.5, 0.5, 0.5]),
                                                                threads=threads)),
    "enumerate one logistic unit, 2^18": lambda: med(lambda: de.exact.enumerate(unit, rng.random((1, 18)), de.Dropout(0.5),
                                                                        threads=threads)),
    "train 20 minibatches of 100, 784-256-256-10": lambda: med(train, reps=3),
    "train 10 minibatches of 100, 784-1200x4-10": lambda: med(train_paper, reps=3),
}
print(json.dumps({k: f() for k, f in work.items() if only in k}))
'''


def run(tree: str, threads: int, only: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    out = subprocess.run([sys.executable, "-c", WORKLOADS, str(threads), only], env=env, capture_output=True, text=True,
                         cwd="/", check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--only", default="", help="run the workloads whose name contains this")
    args = ap.parse_args()
    simd = subprocess.run([sys.executable, "-c", "import dropengine; print(dropengine.build_info()['simd'])"],
                          env=dict(os.environ, PYTHONPATH=os.path.abspath(args.new)), capture_output=True, text=True,
                          cwd="/").stdout.strip()
    print(f"[builds] CPU: {cpu_model()}, {os.cpu_count()} cores, SIMD level {simd}, threads {args.threads}, "
          f"load average at start {os.getloadavg()[0]:.1f}")
    times = {"old": [], "new": []}
    for _ in range(args.rounds):
        for which in ("old", "new"):
            times[which].append(run(getattr(args, which), args.threads, args.only))
    import numpy as np

    print(f"{'workload':<48} {'old s':>9} {'new s':>9} {'new/old':>8}")
    for name in times["old"][0]:
        o = float(np.median([r[name] for r in times["old"]]))
        n = float(np.median([r[name] for r in times["new"]]))
        print(f"{name:<48} {o:9.4f} {n:9.4f} {n / o:8.3f}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

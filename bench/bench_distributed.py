"""dropengine.distributed on a LocalCluster against the in-process engine.

The same job (the 784-1200x4-10 logistic network of Section 9, 10 inputs, keep 0.8 /
0.5, float32) runs in-process with all cores, then on a LocalCluster with 1 and with
2 worker processes (1 thread each per core of the machine). Reported: samples/s and the
ratio to the in-process engine; the overhead of distribution is 1 - ratio for the
2-worker cluster, whose total cores equal the in-process run's. Results equal the
in-process run to rounding (checked).

    python bench/bench_distributed.py --quick
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import dropengine as de
from _harness import append_results, machine as machine_info
from dropengine import distributed as dd
from dropengine.datasets import PAPER_SIZES, mnist_like_inputs


def main():
    import dask
    from dask.distributed import Client, LocalCluster

    # The worker's statistical profiler samples every thread's stack every 10 ms: on a
    # machine whose cores all compute, that is time taken from the engine.
    dask.config.set({"distributed.worker.profile.enabled": False})

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="4,096 samples per input instead of 16,384")
    ap.add_argument("--out", default="bench/results/distributed.jsonl")
    args = ap.parse_args()
    n = 4096 if args.quick else 16_384
    cores = os.cpu_count() or 1
    net = de.Network.random(PAPER_SIZES, "logistic", seed=0, dtype=np.float32)
    X = mnist_like_inputs(10)
    gate = de.Dropout([0.8, 0.5, 0.5, 0.5, 0.5])
    print(f"machine: {platform.processor() or platform.machine()}, {cores} cores; {len(X)} inputs x {n} samples")

    de.sample(net, X, gate, 256, seed=1)  # warm-up
    t = time.perf_counter()
    ref = de.sample(net, X, gate, n, seed=1)
    local = len(X) * n / (time.perf_counter() - t)
    rows = {"in-process": local}
    for workers in (1, 2):
        threads = max(1, cores // workers)
        with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            dd.sample(net, X, gate, 256, seed=1, client=client)  # workers import and receive the network
            t = time.perf_counter()
            got = dd.sample(net, X, gate, n, seed=1, client=client, threads_per_task=threads)
            rows[f"{workers} worker(s)"] = len(X) * n / (time.perf_counter() - t)
        for k in ref._acc:
            np.testing.assert_allclose(got._acc[k], ref._acc[k], rtol=1e-9, atol=1e-12)
    print(f"  {'engine':<14} {'samples/s':>12} {'x in-process':>13}")
    for name, rate in rows.items():
        print(f"  {name:<14} {rate:>12,.0f} {rate / local:>13.2f}")
    overhead = 1 - rows["2 worker(s)"] / local
    print(f"  overhead of distribution (2 workers = the same cores): {overhead:.1%}")
    append_results(args.out, [{"bench": "distributed", "n_samples": n, "rates": rows, "overhead": overhead,
                               **machine_info()}])


if __name__ == "__main__":
    main()

"""One Network shared by several Python threads at once (the GIL is released inside the
engine, so this is real concurrency) gives exactly the results of sequential calls."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import dropengine as de
from dropengine import exact


def test_concurrent_calls_equal_sequential_calls():
    net = de.Network.random([30, 40, 20, 5], ["tanh", "logistic", "softmax"], seed=0)
    small = de.Network.random([12, 3], "logistic", seed=1, dtype=np.float64)
    X = np.random.default_rng(2).normal(size=(3, 30))
    gates = [de.Dropout(0.5), de.Dropout(0.7, on="connections"), de.Dropin(0.2)]

    def job(k):
        gate = gates[k % 3]
        st = de.sample(net, X, gate, 500, seed=k, threads=1 + k % 2)
        U, W = de.ensemble(net, X, gate)
        ex = exact.enumerate(small, X[:, :12], de.Dropout(0.5 + 0.01 * k), threads=1 + k % 2)
        return st._acc, W, ex._acc

    sequential = [job(k) for k in range(12)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        concurrent = list(pool.map(job, range(12)))
    for (a1, w1, e1), (a2, w2, e2) in zip(sequential, concurrent):
        for k in a1:
            assert np.array_equal(a1[k], a2[k], equal_nan=True)
            assert np.array_equal(e1[k], e2[k], equal_nan=True)
        for u, v in zip(w1, w2):
            assert np.array_equal(u, v)

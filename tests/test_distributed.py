"""dropengine.distributed on a LocalCluster of two worker processes: the same results as
a single process, and the same results when a worker is killed mid-run."""
import os
import signal
import threading
import time

import numpy as np
import pytest

import dropengine as de
from dropengine import exact

distributed = pytest.importorskip("dask.distributed")
from dropengine import distributed as dd  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       worker_dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _bits(st):
    return {k: v.tobytes() for k, v in st._acc.items()}


def test_sampling_equals_single_process(client):
    net = de.Network.random([30, 20, 5], ["logistic", "softmax"], seed=0)
    X = np.random.default_rng(1).uniform(size=(5, 30)).astype(np.float32)
    gate = de.Dropout([0.8, 0.5])
    pairs = [((0, 1), (1, 2))]
    one = de.sample(net, X, gate, 5000, seed=3, pairs=pairs)
    # aligned power-of-two chunks (1024 samples = 16 blocks): the merge tree is the engine's
    many = dd.sample(net, X, gate, 4096, seed=3, client=client, chunk_samples=1024, chunk_inputs=2, pairs=pairs)
    ref = de.sample(net, X, gate, 4096, seed=3, pairs=pairs)
    assert _bits(many) == _bits(ref)
    odd = dd.sample(net, X, gate, 5000, seed=3, client=client, chunk_samples=700, pairs=pairs)
    for k in one._acc:
        np.testing.assert_allclose(odd._acc[k], one._acc[k], rtol=1e-11, atol=1e-13)


def test_enumeration_equals_single_process(client):
    net = de.Network.random([12, 6, 2], ["tanh", "logistic"], seed=4, dtype=np.float64)
    X = np.random.default_rng(5).normal(size=(3, 12))
    gate = de.Dropout(0.5, keep_bias=0.7)
    one = exact.enumerate(net, X, gate, pairs=[((0, 0), (1, 1))])
    many = dd.enumerate(net, X, gate, client=client, parts=8, chunk_inputs=2, pairs=[((0, 0), (1, 1))])
    assert many.exact and many.n_samples == one.n_samples
    for k in one._acc:
        np.testing.assert_allclose(many._acc[k], one._acc[k], rtol=1e-12, atol=1e-14)


def test_killed_worker_gives_the_same_result(client):
    """SIGKILL one worker process mid-run: its tasks are recomputed elsewhere."""
    net = de.Network.random([200, 300, 300, 10], "logistic", seed=6)
    X = np.random.default_rng(7).uniform(size=(2, 200)).astype(np.float32)
    gate = de.Dropout(0.5)
    n = 128 * 1024  # about 2 s on two 1-thread workers
    want = de.sample(net, X, gate, n, seed=8)
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]

    def kill():
        time.sleep(0.4)
        os.kill(victim, signal.SIGKILL)

    killer = threading.Thread(target=kill)
    killer.start()
    t = time.monotonic()
    got = dd.sample(net, X, gate, n, seed=8, client=client, chunk_samples=2048, threads_per_task=1)
    killer.join()
    assert time.monotonic() - t > 0.4  # the kill happened while the job ran
    assert _bits(got) == _bits(want)
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the worker


def test_errors(client):
    net = de.Network.random([4, 3], "logistic", seed=0)
    with pytest.raises(TypeError, match="client"):
        dd.sample(net, np.ones(4), de.Dropout(0.5), 10, client="tcp://nowhere")
    with pytest.raises(ValueError, match="parts"):
        dd.enumerate(net, np.ones(4), de.Dropout(0.5), client=client, parts=3)
    with pytest.raises(ValueError, match="n_samples"):
        dd.sample(net, np.ones(4), de.Dropout(0.5), 0, client=client)

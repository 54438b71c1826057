"""dropengine.distributed on a LocalCluster of two worker processes: the same results as
a single process, and the same results when a worker is killed mid-run."""
import collections
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


class _TaskLog(distributed.diagnostics.plugin.SchedulerPlugin):
    """Records, on the scheduler, every task's entries into processing and memory (with
    the worker that holds the result) and every worker removed."""

    name = "dropengine-test-task-log"

    def __init__(self):
        self.transitions, self.removed = [], []

    def transition(self, key, start, finish, *args, **kwargs):
        if finish in ("processing", "memory"):
            self.transitions.append((str(key), start, finish, kwargs.get("worker")))

    def remove_worker(self, scheduler, worker, **kwargs):
        self.removed.append(worker)


def test_killed_worker_gives_the_same_result(client):
    """SIGKILL one worker process mid-run, as soon as it holds a finished task: the
    scheduler sees the worker removed, tasks it held (running, or finished with the
    result in its memory) are started again and finish on the other worker, and the
    result is bit-identical to a single process."""
    net = de.Network.random([200, 300, 300, 10], "logistic", seed=6)
    X = np.random.default_rng(7).uniform(size=(2, 200)).astype(np.float32)
    gate = de.Dropout(0.5)
    n = 128 * 1024  # about 2 s on two 1-thread workers
    want = de.sample(net, X, gate, n, seed=8)
    pids = client.run(os.getpid)
    victim_addr, victim = sorted(pids.items(), key=lambda kv: kv[1])[0]
    client.register_plugin(_TaskLog())
    seen = client.cluster.scheduler.plugins[_TaskLog.name]  # the scheduler runs in this process
    killed = []

    def kill():
        # Deterministic: the moment the victim holds its first finished sample task (a
        # result no merge has consumed yet: merges need two, and the victim's one thread
        # was busy with this one), kill it: that result is lost and must be recomputed.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(k.startswith("_sample_task") and finish == "memory" and w == victim_addr
                   for k, _, finish, w in list(seen.transitions)):
                os.kill(victim, signal.SIGKILL)
                killed.append(time.monotonic())
                return
            time.sleep(0.001)

    killer = threading.Thread(target=kill)
    killer.start()
    try:
        got = dd.sample(net, X, gate, n, seed=8, client=client, chunk_samples=2048, threads_per_task=1)
        killer.join()
        log = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.plugins[_TaskLog.name].__dict__.copy())
    finally:
        client.unregister_scheduler_plugin(_TaskLog.name)
    assert killed, "the victim never finished a task"
    assert victim_addr in log["removed"], log["removed"]
    tasks = [tr for tr in log["transitions"] if tr[0].startswith(("_sample_task", "_merge"))]
    starts = collections.Counter(k for k, _, finish, _ in tasks if finish == "processing")
    on_victim = {k for k, _, finish, w in tasks if finish == "memory" and w == victim_addr}
    done = {k for k, _, finish, _ in tasks if finish == "memory" and k.startswith("_sample_task")}
    assert len(done) >= n // 2048  # every sample range was computed
    # some tasks started twice: lost with the victim and recomputed
    again = {k for k, c in starts.items() if c >= 2}
    assert again, f"no task was recomputed: {len(starts)} tasks, each started once"
    assert on_victim & again, "the result the victim held was not recomputed"
    survivor = {k for k, _, finish, w in tasks if finish == "memory" and w not in (None, victim_addr)}
    assert again <= survivor, "a recomputed task did not finish on the surviving worker"
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


def test_a_network_with_skip_connections_runs_on_the_cluster(client):
    # Eq. 21: the input also feeds layer 2; the workers compute exactly what one process does.
    rng = np.random.default_rng(5)
    net = de.Network([rng.normal(size=(6, 8)), {0: rng.normal(size=(4, 8)), 1: rng.normal(size=(4, 6))}],
                     transfer=["logistic", "softmax"])
    X = rng.uniform(size=(3, 8)).astype(np.float32)
    gate = de.Dropout([0.8, 0.5])
    one = de.sample(net, X, gate, 2048, seed=3)
    many = dd.sample(net, X, gate, 2048, seed=3, client=client, chunk_samples=1024, chunk_inputs=2)
    assert _bits(one) == _bits(many)
    small = de.Network([rng.normal(size=(2, 3)), {0: rng.normal(size=(2, 3)), 1: rng.normal(size=(2, 2))}],
                       transfer=["logistic", "logistic"], dtype=np.float64)
    x = rng.uniform(size=(2, 3))
    ex = de.exact.enumerate(small, x, gate)
    dex = dd.enumerate(small, x, gate, client=client)
    for a, b in zip(ex.E, dex.E):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


def test_sampling_with_bf16_products_equals_single_process(client):
    net = de.Network.random([30, 40, 20, 5], "logistic", seed=0, dtype=np.float32)
    X = np.random.default_rng(1).uniform(size=(4, 30)).astype(np.float32)
    gate = de.Dropout([0.8, 0.5, 0.5])
    one = de.sample(net, X, gate, 2048, seed=3, precision="bf16")
    many = dd.sample(net, X, gate, 2048, seed=3, client=client, chunk_samples=1024, chunk_inputs=2, precision="bf16")
    assert many.precision == "bf16"
    assert _bits(many) == _bits(one)
    with pytest.raises(ValueError, match="precision must be"):
        dd.sample(net, X, gate, 64, seed=3, client=client, precision="half")

"""Ctrl-C during a long sample() or exact.enumerate() returns control promptly with KeyboardInterrupt."""
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import dropengine as de

SCRIPT = """
import sys, numpy as np, dropengine as de
net = de.Network.random([200, 400, 400, 10], "logistic", seed=0)
print("ready", flush=True)
try:
    de.sample(net, np.ones((4, 200)), de.Dropout(0.5), 10**9, seed=1)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
"""


ENUMERATE = """
import sys, numpy as np, dropengine as de
net = de.Network.random([20, 20, 5], "logistic", seed=0)  # 2^40 subnetworks: hours
print("ready", flush=True)
try:
    de.exact.enumerate(net, np.ones((2, 20)), de.Dropout(0.5), max_subnetworks=2**40)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
"""


@pytest.mark.parametrize("script", [SCRIPT, ENUMERATE], ids=["sample", "enumerate"])
def test_sigint_stops_long_calls(tmp_path, script):
    """Control returns within one second of SIGINT, with KeyboardInterrupt."""
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path) as p:
        try:
            assert p.stdout.readline().strip() == "ready"
            time.sleep(1.0)  # well inside the long call
            t = time.monotonic()
            p.send_signal(signal.SIGINT)
            line = p.stdout.readline().strip()
            latency = time.monotonic() - t
            p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert line == "interrupted" and p.returncode == 3
    assert latency < 1.0, f"KeyboardInterrupt after {latency:.2f} s"


SAVER = """
import sys, numpy as np, dropengine as de
path = sys.argv[1]
net = de.Network.random([300, 300, 10], "logistic", seed=0)
st = de.sample(net, np.ones((50, 300)), de.Dropout(0.5), 64, seed=1)
print("ready", flush=True)
while True:  # rewrite both files until killed
    net.save(path + "/net.npz")
    st.save(path + "/stats.npz")
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_or_killed_saves_leave_good_files(tmp_path, sig):
    """Saving is atomic: whenever the writer is stopped, the files on disk load and hold
    the network and statistics that were written (never a torn file)."""
    net = de.Network.random([300, 300, 10], "logistic", seed=0)
    want = de.sample(net, np.ones((50, 300)), de.Dropout(0.5), 64, seed=1)
    for delay in (0.3, 0.55, 0.8):
        # cwd: not the repository root, whose source folder would shadow the installed package
        with subprocess.Popen([sys.executable, "-c", SAVER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              cwd=tmp_path) as p:
            try:
                assert p.stdout.readline().strip() == "ready"
                time.sleep(delay)
                p.send_signal(sig)
                p.communicate(timeout=30)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.communicate()
        back = de.Network.load(tmp_path / "net.npz")
        assert all(np.array_equal(a, b) for a, b in zip(back.weights, net.weights))
        got = de.SampleStats.load(tmp_path / "stats.npz")
        assert np.array_equal(got.E[1], want.E[1])


TRAINER = """
import sys, numpy as np, dropengine as de
path = sys.argv[1]
rng = np.random.default_rng(0)
X = rng.random((20000, 300)).astype(np.float32)
y = rng.integers(0, 10, 20000)
net = de.Network.random([300, 600, 600, 10], ["logistic", "logistic", "softmax"], seed=0, scale=0.05)
tr = de.Trainer(net, de.Dropout([0.8, 0.5, 0.5]), learning_rate=0.1, batch_size=50, seed=3, momentum=0.5)
tr.fit(X, y, 1)  # one whole epoch in the history
print("ready", flush=True)
try:
    tr.fit(X, y, 1000, checkpoint=path)
except KeyboardInterrupt:
    epoch, batch, step = tr.position
    print("interrupted", epoch, batch, step, len(tr.history["epoch"]), flush=True)
    # Weights intact: a fresh trainer from the checkpoint holds the same ones, and the
    # same run replayed to the same step from the start gives them too.
    back = de.Trainer.load(path)
    same = all(np.array_equal(a, b) for a, b in zip(back.network.weights, tr.network.weights))
    replay = de.Trainer(net, de.Dropout([0.8, 0.5, 0.5]), learning_rate=0.1, batch_size=50, seed=3, momentum=0.5)
    replay.fit(X, y, epoch)
    if batch:
        replay.run_batches(X, y, batch)
    same_replay = all(np.array_equal(a, b) for a, b in zip(replay.network.weights, tr.network.weights))
    print("checked", same, same_replay, back.position == tr.position, flush=True)
    sys.exit(3)
"""


def test_sigint_stops_training_at_a_batch_boundary(tmp_path):
    """Ctrl-C during Trainer.fit: KeyboardInterrupt within a second, weights and position
    those after a whole number of minibatches, the history kept, a checkpoint written."""
    ckpt = str(tmp_path / "ckpt.npz")
    with subprocess.Popen([sys.executable, "-c", TRAINER, ckpt], stdout=subprocess.PIPE, text=True,
                          cwd=tmp_path) as p:
        try:
            assert p.stdout.readline().strip() == "ready"
            time.sleep(1.5)
            t = time.monotonic()
            p.send_signal(signal.SIGINT)
            line = p.stdout.readline().split()
            latency = time.monotonic() - t
            checked = p.stdout.readline().split()
            rest, _ = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
    said = f"child printed {line} then {checked}, {rest!r}; exit status {p.returncode}"
    assert line[:1] == ["interrupted"] and p.returncode == 3, said
    epoch, batch, step, n_hist = map(int, line[1:])
    assert step == epoch * 400 + batch and step >= 400 and n_hist == epoch, said
    assert latency < 1.0, f"KeyboardInterrupt after {latency:.2f} s"
    assert checked == ["checked", "True", "True", "True"], said

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
import sys, numpy as np, numpy.lib.format as fmt, dropengine as de
folder, target = sys.argv[1], sys.argv[2]
old, new = (de.Network.random([300, 300, 10], "logistic", seed=s) for s in (0, 1))
if target == "stats":
    old, new = (de.sample(old, np.ones((50, 300)), de.Dropout(0.5), 64, seed=s) for s in (1, 2))
old.save(folder + "/" + target + ".npz")
write_array, calls = fmt.write_array, [0]

def halfway(*args, **kwargs):  # np.savez writes the arrays one by one: stop after the first
    calls[0] += 1
    if calls[0] == 2:
        print("halfway", flush=True)
        sys.stdin.readline()  # blocks until the signal
    return write_array(*args, **kwargs)

fmt.write_array = halfway
new.save(folder + "/" + target + ".npz")
print("finished", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
@pytest.mark.parametrize("target", ["net", "stats"])
def test_interrupted_or_killed_saves_leave_good_files(tmp_path, sig, target):
    """Saving is atomic: a writer stopped halfway through writing a new file (held there
    deterministically: it blocks after np.savez has written the first array) leaves the
    old file intact, loading and holding the old network or statistics (never a torn
    file); under SIGINT the temporary file is removed too."""
    old = de.Network.random([300, 300, 10], "logistic", seed=0)
    if target == "stats":
        old = de.sample(old, np.ones((50, 300)), de.Dropout(0.5), 64, seed=1)
    path = tmp_path / f"{target}.npz"
    # cwd: not the repository root, whose source folder would shadow the installed package
    with subprocess.Popen([sys.executable, "-c", SAVER, str(tmp_path), target], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, cwd=tmp_path) as p:
        try:
            assert p.stdout.readline().strip() == "halfway"
            partial = [q for q in tmp_path.iterdir() if q != path]
            assert partial and all(q.stat().st_size > 0 for q in partial), partial  # the new file, being written
            p.send_signal(sig)
            out, _ = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert "finished" not in out and p.returncode != 0  # stopped in the middle of the save
    if target == "net":
        back = de.Network.load(path)
        assert all(np.array_equal(a, b) for a, b in zip(back.weights, old.weights))
    else:
        back = de.SampleStats.load(path)
        assert all(np.array_equal(back._acc[k], old._acc[k], equal_nan=True) for k in old._acc)
    if sig == signal.SIGINT:  # a clean stop: no temporary file left behind
        assert sorted(tmp_path.iterdir()) == [path]


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

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

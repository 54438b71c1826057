"""Ctrl-C during a long sample() or exact.enumerate() returns control promptly with KeyboardInterrupt."""
import signal
import subprocess
import sys
import time

import pytest

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
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    t = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 3, out
    assert "interrupted" in out
    assert time.monotonic() - t < 5.0

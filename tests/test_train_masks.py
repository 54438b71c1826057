"""Connection dropout in training keeps the forward pass's masks (one bit per connection)
for the backward pass instead of drawing the Philox words again (issue 18); above a memory
budget (DROPENGINE_TRAIN_MASK_BYTES, 512 MiB by default) a layer redraws them. Both ways
give the same bits: the twin tests of test_training.py check the kept masks against
NumPy, and this test the redrawn ones against the kept ones, whole layers and a budget
that keeps some layers only."""
import os
import subprocess
import sys

import pytest

_TRAIN = r"""
import hashlib, numpy as np, dropengine as de
rng = np.random.default_rng(0)
X = rng.random((300, 40)).astype(np.{dtype}); y = rng.integers(0, 4, 300)
net = de.Network.random([40, 70, 30, 4], transfer=["logistic", "tanh", "softmax"], seed=1, dtype=np.{dtype})
gates = [de.Dropout([0.8, 0.5, 0.5], on="connections"),
         de.Dropout([0.8, rng.random((30, 70)), 0.5], on="connections"),
         de.Gates([de.Dropout(0.8), de.Dropout(0.5, on="connections"), de.Dropout(0.6, on="connections")])]
h = hashlib.sha256()
for g in gates:
    tr = de.Trainer(net, g, batch_size=50, seed=3, backward={backward!r})
    tr.run_batches(X, y, 5)
    for w in tr.network.weights + tr.network.biases:
        h.update(np.ascontiguousarray(w).tobytes())
print(h.hexdigest())
"""


def _digest(budget, dtype, backward):
    env = dict(os.environ)
    env.pop("DROPENGINE_TRAIN_MASK_BYTES", None)
    if budget is not None:
        env["DROPENGINE_TRAIN_MASK_BYTES"] = str(budget)
    out = subprocess.run([sys.executable, "-c", _TRAIN.format(dtype=dtype, backward=backward)], env=env,
                         capture_output=True, text=True, check=True, cwd=os.path.dirname(os.path.abspath(__file__)))
    return out.stdout.strip()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("backward", ["backprop", "backpercolation"])
def test_kept_masks_and_redrawn_words_train_the_same_bits(dtype, backward):
    kept = _digest(None, dtype, backward)
    # 50 rows x 70 outputs x 1 word x 8 B = 28,000 B for the first layer: a budget of
    # 30,000 B keeps it and redraws the others.
    assert _digest(30_000, dtype, backward) == kept
    assert _digest(0, dtype, backward) == kept

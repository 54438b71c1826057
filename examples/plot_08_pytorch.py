"""
A PyTorch model in and out
==========================

:func:`dropengine.torch.from_torch` reads a PyTorch model (an ``nn.Sequential`` of
Linear layers, activations and Dropout, or a module that ``torch.fx`` can trace) into a
:class:`dropengine.Network` and its dropout gate; :func:`dropengine.torch.to_torch`
writes one back.

PyTorch's dropout is *inverted* (kept inputs are scaled by 1/q in train mode), the
paper's is not: a Linear layer after ``Dropout(p)`` becomes weights W/q with keep
probability q = 1 - p. So the engine samples exactly PyTorch's train-mode subnetworks,
and the ensemble network (Eq. 167) is PyTorch's eval-mode output.
"""
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

import dropengine as de
from dropengine.torch import from_torch, to_torch

torch.manual_seed(0)
model = nn.Sequential(nn.Dropout(0.2), nn.Linear(30, 64), nn.Sigmoid(),
                      nn.Dropout(0.5), nn.Linear(64, 64), nn.Sigmoid(),
                      nn.Dropout(0.5), nn.Linear(64, 5), nn.Sigmoid()).double()
X = np.random.default_rng(0).normal(size=(40, 30))

net, gate = from_torch(model)
print(net.sizes, gate)

# %%
# Eval mode is the ensemble network; the mean of train-mode passes is the ensemble
# average E(O) that :func:`dropengine.sample` estimates.
_, W = de.ensemble(net, X, gate)
st = de.sample(net, X, gate, n_samples=20_000, seed=0)
with torch.no_grad():
    xt = torch.from_numpy(X)
    model.eval()
    eval_out = model(xt).numpy()
    model.train()
    train_mean = torch.stack([model(xt) for _ in range(2000)]).mean(0).numpy()
print("max |ensemble - eval mode|:", np.abs(W[-1] - eval_out).max())

back = to_torch(net, gate).double().eval()            # and out again
with torch.no_grad():
    print("max |to_torch(from_torch(model)) - model|, eval mode:",
          np.abs(back(xt).numpy() - eval_out).max())

fig, axs = plt.subplots(1, 2, figsize=(10, 4))
axs[0].scatter(eval_out.ravel(), W[-1].ravel(), s=8)
axs[0].set_xlabel("PyTorch, eval mode")
axs[0].set_ylabel("dropengine.ensemble")
axs[0].set_title("Deterministic: identical to rounding", fontsize=10)
axs[1].scatter(train_mean.ravel(), st.E[-1].ravel(), s=8)
axs[1].set_xlabel("PyTorch, mean of 2,000 train-mode passes")
axs[1].set_ylabel("dropengine.sample: E(O), 20,000 samples")
axs[1].set_title("Stochastic: the same ensemble average", fontsize=10)
for ax in axs:
    lim = np.array(ax.get_xlim())
    ax.plot(lim, lim, color="0.5", lw=1)
fig.tight_layout()
plt.show()

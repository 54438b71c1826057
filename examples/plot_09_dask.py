"""
Scale-out on a Dask cluster
===========================

:mod:`dropengine.distributed` cuts a Monte Carlo run into (input block x sample range)
tasks and an exact enumeration into (input block x part of the Gray code) tasks, runs
them on Dask workers and merges the statistics along a tree on the cluster. Every draw
is addressed by (seed, input, sample, layer, unit), so the distributed run draws exactly
the samples of a single-process run with the same seed: the results agree to rounding.

Here a local cluster (``Client(processes=False)``, threads in this process) stands in
for ``Client("tcp://scheduler:8786")``; nothing else changes on a real cluster.
"""
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import Client

import dropengine as de
import dropengine.distributed as dd

net = de.Network.random([100, 200, 200, 10], "logistic", seed=0, dtype=np.float64)
X = np.random.default_rng(0).uniform(size=(8, 100))
gate = de.Dropout([0.8, 0.5, 0.5])

with Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None) as client:
    st_dask = dd.sample(net, X, gate, 40_000, seed=7, client=client, chunk_samples=5000)
    print("tasks:", 40_000 // 5000, "sample ranges x 1 input block")
st_local = de.sample(net, X, gate, 40_000, seed=7)

diff = [np.abs(a - b).max() for a, b in zip(st_dask.E, st_local.E)]
print("largest |E(dask) - E(local)| per layer:", diff)

# %%
# The distributed statistics against the single-process ones, and the per-unit
# Monte Carlo error bars of the run (the two differ by float64 rounding of the merge
# order only).
fig, axs = plt.subplots(1, 2, figsize=(10, 3.8))
axs[0].scatter(st_local.E[-1].ravel(), st_dask.E[-1].ravel(), s=10)
axs[0].set_xlabel("E(O), de.sample (one process)")
axs[0].set_ylabel("E(O), distributed.sample (8 tasks)")
axs[0].set_title("Same seed, same samples", fontsize=10)
layers = np.arange(1, net.n_layers + 1)
axs[1].semilogy(layers, [max(d, 1e-18) for d in diff], "o-", label="|dask - local|, largest")
axs[1].semilogy(layers, [s.mean() for s in st_local.sem], "s-", label="Monte Carlo standard error")
axs[1].set_xticks(layers)
axs[1].set_xlabel("layer")
axs[1].legend(fontsize=8)
axs[1].set_title("Differences are rounding, far below the noise", fontsize=10)
fig.tight_layout()
plt.show()

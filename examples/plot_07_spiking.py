r"""
Spiking networks and Fig. 10.2
==============================

Section 10.1 compares three networks built from the same weights: a *spiking* network
whose units emit a spike of size :math:`r` with probability :math:`O` (their output), a
*dropout* network whose units send :math:`O` with probability :math:`r`, and the
*deterministic* network with weights :math:`w r`. Deterministic propagation predicts the
average activity of both stochastic networks (Eq. 130-134), and the signals' variances
are

.. math::

    r^2 E(O)(1 - E(O)) \;\text{for spikes (Eq. 136)}, \qquad
    r\,\mathrm{Var}(O) + E(O)^2 r (1 - r) \;\text{for dropout (Eq. 138)}.

:func:`dropengine.spiking.three_networks` runs the three on one network.
"""
import matplotlib.pyplot as plt
import numpy as np

import dropengine as de

net = de.Network.random([50, 40, 30, 10], "logistic", seed=0, scale=0.5, dtype=np.float64)
X = np.random.default_rng(0).normal(size=(10, 50))
rs = [0.25, 0.5, 0.75, 1.0]
err_s, err_d, runs = [], [], {}
for r in rs:
    t = de.spiking.three_networks(net, X, r=r, n_samples=5000, seed=0)
    err_s.append(t.error_spiking[-1])
    err_d.append(t.error_dropout[-1])
    runs[r] = t

# %%
# Left: how far each stochastic network's average output is from the deterministic
# network (Fig. 10.2). Right: the measured variance of the signal into the second
# hidden layer against Eq. 136 and 138, at r = 0.5.
t = runs[0.5]
fig, axs = plt.subplots(1, 2, figsize=(10, 3.8))
axs[0].plot(rs, err_s, marker="o", label="spiking network")
axs[0].plot(rs, err_d, marker="s", label="dropout network")
axs[0].set_xlabel("spike size r = keep probability")
axs[0].set_ylabel("mean |E(O) - W|, output layer")
axs[0].set_title("Fig. 10.2: deterministic vs stochastic", fontsize=10)
axs[0].legend()
axs[1].scatter(t.eq136[1].ravel(), t.var_spiking[1].ravel(), s=6, label="spikes vs Eq. 136")
axs[1].scatter(t.eq138[1].ravel(), t.var_dropout[1].ravel(), s=6, label="dropout vs Eq. 138")
lim = np.array(axs[1].get_xlim())
axs[1].plot(lim, lim, color="0.4", lw=1)
axs[1].set_xlabel("predicted variance")
axs[1].set_ylabel("measured variance")
axs[1].set_title("Signal variances, r = 0.5", fontsize=10)
axs[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

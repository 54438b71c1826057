r"""
Exact enumeration and the moments of linear networks
====================================================

Sections 2 and 3 of the paper solve dropout exactly in linear networks: the mean of
every unit is the ensemble network's output (Eq. 11, 24); for one unit
:math:`S = \sum_j w_j \delta_j I_j` with keep probabilities :math:`p_j`,

.. math::

    E(S) = \sum_j w_j p_j I_j, \qquad \mathrm{Var}(S) = \sum_j w_j^2 I_j^2 p_j (1 - p_j),

and the variances and covariances of deeper units follow from recursions over the
layers (Eq. 15-20, 24-26), in polynomial time. :func:`dropengine.exact.linear_moments` implements those recursions;
:func:`dropengine.exact.enumerate` visits all 2^n subnetworks of a small network and is
the ground truth; :func:`dropengine.sample` converges to both at rate :math:`1/\sqrt{n}`.
"""
import matplotlib.pyplot as plt
import numpy as np

import dropengine as de

rng = np.random.default_rng(4)
net = de.Network([rng.normal(size=(4, 6)), rng.normal(size=(3, 4))], transfer="linear", dtype=np.float64)
X = rng.normal(size=(1, 6))
gate = de.Dropout([0.7, 0.5])          # inputs kept with 0.7, hidden units with 0.5: 2^10 subnetworks

lm = de.exact.linear_moments(net, X, gate)
ex = de.exact.enumerate(net, X, gate)
print("E, recursions :", lm.E[1][0])
print("E, enumeration:", ex.E[1][0])
print("Var, recursions :", lm.var[1][0])
print("Var, enumeration:", ex.var[1][0])
print("covariance matrix of the 7 non-input units:", lm.cov.shape)

# %%
# Monte Carlo estimates of the output units' variance converge to the exact value.
ns = np.unique(np.logspace(1.5, 5, 12).astype(int))
err_E, err_V = [], []
for k, n in enumerate(ns):
    st = de.sample(net, X, gate, int(n), seed=k)
    err_E.append(np.abs(st.E[1][0] - lm.E[1][0]).mean())
    err_V.append(np.abs(st.var[1][0] - lm.var[1][0]).mean())

fig, axs = plt.subplots(1, 2, figsize=(10, 3.8))
axs[0].loglog(ns, err_E, "o-", label="|E - exact|")
axs[0].loglog(ns, err_V, "s-", label="|Var - exact|")
axs[0].loglog(ns, err_V[0] * np.sqrt(ns[0] / ns), "k--", lw=1, label="1/sqrt(n)")
axs[0].set_xlabel("Monte Carlo samples")
axs[0].set_ylabel("mean absolute error, output units")
axs[0].legend(fontsize=8)
axs[0].set_title("Sampling converges to the exact moments", fontsize=10)
im = axs[1].imshow(lm.cov[0], cmap="RdBu_r", vmin=-np.abs(lm.cov[0]).max(), vmax=np.abs(lm.cov[0]).max())
axs[1].set_title("Exact covariance of the 4 + 3 units (Eq. 15-20)", fontsize=10)
fig.colorbar(im, ax=axs[1])
fig.tight_layout()
plt.show()

r"""
Dropout as an ensemble: E, G, G' and NWGM of one unit
=====================================================

Dropout trains an ensemble: every coin toss picks a *subnetwork* :math:`\mathcal{N}` with
probability :math:`P(\mathcal{N})`, and the network's prediction is meant to be the
ensemble average :math:`E(O) = \sum_{\mathcal{N}} P(\mathcal{N}) O(\mathcal{N})`.
Section 8 of the paper compares :math:`E` with the geometric means

.. math::

    G = \prod_{\mathcal{N}} O(\mathcal{N})^{P(\mathcal{N})} \;\text{(Eq. 35)}, \qquad
    G' = \prod_{\mathcal{N}} (1 - O(\mathcal{N}))^{P(\mathcal{N})} \;\text{(Eq. 36)}, \qquad
    \mathrm{NWGM} = \frac{G}{G + G'} \;\text{(Eq. 37)},

and for a logistic unit NWGM is exactly what the deterministic ensemble network
computes: :math:`\mathrm{NWGM}(O) = \sigma(E(S))` (Eq. 39).

Here one logistic unit has 12 inputs kept with probability 1/2, so it has
:math:`2^{12} = 4096` subnetworks. :func:`dropengine.exact.enumerate` visits every one of them; a Monte Carlo
run with ``record`` keeps the sampled outputs for the histogram.
"""
import matplotlib.pyplot as plt
import numpy as np

import dropengine as de

rng = np.random.default_rng(0)
n = 12
net = de.Network([rng.normal(0, 1.0, size=(1, n))], transfer="logistic", dtype=np.float64)
x = rng.normal(0.5, 1.0, size=(1, n))
gate = de.Dropout(0.5)

ex = de.exact.enumerate(net, x, gate)                  # all 4096 subnetworks, exactly
mc = de.sample(net, x, gate, 20_000, seed=1, record=[0])
U, W = de.ensemble(net, x, gate)                        # the ensemble network (Eq. 167)

E, G, Gc, nwgm = (float(a[0][0, 0]) for a in (ex.E, ex.G, ex.Gc, ex.nwgm))
print(f"{ex.n_samples} subnetworks: E = {E:.4f}  G = {G:.4f}  G' = {Gc:.4f}  "
      f"NWGM = {nwgm:.4f}  ensemble network W = {W[0][0, 0]:.4f}")

# %%
# The distribution of the unit's output over the subnetworks, with the four means.
# NWGM and the ensemble network's output coincide (Eq. 39), and both sit close to E:
# the approximation that makes dropout's deterministic prediction work.

O = mc.records[0][0, :, 0]
fig, ax = plt.subplots(figsize=(7, 3.8))
ax.hist(O, bins=60, color="0.8", density=True, label="O(N), 20,000 sampled subnetworks")
for v, name, c in ((E, "E (arithmetic)", "C0"), (G, "G (geometric)", "C1"),
                   (1 - Gc, "1 - G'", "C2"), (nwgm, "NWGM = ensemble network", "C3")):
    ax.axvline(v, color=c, lw=2, label=f"{name}: {v:.3f}")
ax.set_xlabel("output O of the unit")
ax.set_ylabel("density")
ax.set_title("One logistic unit under dropout (p = 1/2): G <= NWGM ~ E (Section 8)")
ax.legend(fontsize=8, loc="upper left")
fig.tight_layout()

# %%
# The same comparison on 200 random inputs: E against NWGM, exact for every input.
X = rng.normal(0.5, 1.0, size=(200, n))
ex = de.exact.enumerate(net, X, gate)
fig, ax = plt.subplots(figsize=(5, 4))
ax.plot([0, 1], [0, 1], color="0.6", lw=1)
ax.scatter(ex.E[0][:, 0], ex.nwgm[0][:, 0], s=8, label="NWGM")
ax.scatter(ex.E[0][:, 0], ex.G[0][:, 0], s=8, label="G")
ax.set_xlabel("E(O), exact")
ax.set_ylabel("geometric means, exact")
ax.legend()
ax.set_title("NWGM tracks E; G falls below it", fontsize=10)
fig.tight_layout()
plt.show()

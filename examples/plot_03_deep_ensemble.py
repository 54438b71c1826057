r"""
The ensemble network against Monte Carlo on a deep network
==========================================================

In a deep network, the deterministic *ensemble network* (Eq. 167) propagates

.. math::

    W^h_i = \sigma\Big(\sum_j w^h_{ij}\, p^{h-1}_j\, W^{h-1}_j\Big):

every weight scaled by its keep probability. Section 9 shows that :math:`W` approximates
both the ensemble average :math:`E(O)` and :math:`\mathrm{NWGM}(O)` of every unit, layer
after layer, with errors that stay small (Figs. 9.6, 9.7).

We sample 4,000 subnetworks of a 100-200-200-200-10 logistic network on 20 inputs with
:func:`dropengine.sample`, compute the ensemble network with :func:`dropengine.ensemble`,
and compare layer by layer.
"""
import matplotlib.pyplot as plt
import numpy as np

import dropengine as de

net = de.Network.random([100, 200, 200, 200, 10], "logistic", seed=3, dtype=np.float64)
X = np.random.default_rng(3).uniform(0, 1, size=(20, 100))
gate = de.Dropout([0.8, 0.5, 0.5, 0.5])

st = de.sample(net, X, gate, n_samples=4000, seed=1)
U, W = de.ensemble(net, X, gate)
for r in de.analysis.approximation_report(st, (U, W)):
    print(f"layer {r.layer + 1}: E - W {r.e_minus_w.mean:+.1e} +- {r.e_minus_w.std:.1e}, "
          f"NWGM - W {r.nwgm_minus_w.mean:+.1e} +- {r.nwgm_minus_w.std:.1e}, "
          f"within bound 2: {100 * r.inside_bound2:.0f}%")

# %%
# Per layer: the ensemble network's output W against the Monte Carlo E and NWGM of each
# unit and input. The points hug the diagonal; the spread of E - W is mostly Monte Carlo
# noise (the standard error ``st.sem`` is shown as the grey band's half width).
fig, axs = plt.subplots(1, 4, figsize=(12, 3.4), sharey=True)
for h, ax in enumerate(axs):
    w = W[h].ravel()
    ax.axhline(0, color="0.5", lw=0.8)
    ax.fill_between(np.sort(w), -2 * np.median(st.sem[h]), 2 * np.median(st.sem[h]), color="0.9")
    ax.scatter(w, (st.E[h] - W[h]).ravel(), s=3, alpha=0.4, label="E - W")
    ax.scatter(w, (st.nwgm[h] - W[h]).ravel(), s=3, alpha=0.4, label="NWGM - W")
    ax.set_title(f"layer {h + 1}", fontsize=10)
    ax.set_xlabel("W (ensemble network)")
axs[0].set_ylabel("difference")
axs[0].legend(fontsize=8, markerscale=3)
fig.suptitle("Section 9: the ensemble network approximates E and NWGM in every layer")
fig.tight_layout()
plt.show()

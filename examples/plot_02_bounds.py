r"""
Bounds and approximations of E - NWGM
=====================================

How far can the normalized geometric mean be from the arithmetic one? Section 8 bounds
the gap with functions of :math:`E` alone (Eq. 87, Figs. 8.1, 8.2),

.. math::

    |E - \mathrm{NWGM}| \lesssim \frac{E(1-E)\,|1-2E|}{1-2E(1-E)} \le 2E(1-E)\,|1-2E|,

and with :math:`E` and the variance :math:`V` (bound 1,
:math:`E(1-E)|1-2E| / (1-2V)`). Appendix B expands NWGM around the mean (Eq. 202).

We draw many sets of values :math:`O \in (0, 1)`, the outputs of a logistic unit over
subnetworks, summarize each set with :func:`dropengine.analysis.summary` (:math:`E`, :math:`V`,
:math:`\log G`, :math:`\log G'` in one pass) and compare the measured gap with the bounds.
"""
import matplotlib.pyplot as plt
import numpy as np

from dropengine import analysis as A

rng = np.random.default_rng(1)
n_sets, n_values = 3000, 400
mu = rng.uniform(-4, 4, size=(n_sets, 1))
sd = rng.uniform(0.05, 1.5, size=(n_sets, 1))
O = 1 / (1 + np.exp(-(mu + sd * rng.standard_normal((n_sets, n_values)))))
s = A.summary(O, axis=1)                      # one row per set of values
gap = np.abs(s.E - s.nwgm)

e = np.linspace(0, 1, 401)
fig, ax = plt.subplots(figsize=(7, 4))
ax.scatter(s.E, gap, s=3, color="0.5", label="|E - NWGM|, random sets of outputs")
ax.plot(e, A.bounds.bound2(e), lw=2, label="bound 2: E(1-E)|1-2E| / (1-2E(1-E))")
ax.plot(e, A.bounds.bound_loose(e), lw=2, ls="--", label="2E(1-E)|1-2E| (Eq. 87)")
ax.axvline(A.bounds.BOUND2_ARGMAX, color="C0", lw=0.8, ls=":")
ax.set_xlabel("E")
ax.set_ylabel("|E - NWGM|")
ax.set_title("Section 8: the gap between E and NWGM is small and vanishes at 0, 1/2, 1")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# Bound 1 uses the variance too, and is tight where V is small. Appendix B's
# expansion around the mean (Eq. 202) approximates NWGM itself from E and V.
b1 = A.bounds.bound1(s.E, s.V)
approx = A.bounds.nwgm_mean_expansion(s.E, s.V)
fig, axs = plt.subplots(1, 2, figsize=(9, 3.8))
axs[0].loglog(b1, gap, ".", ms=2)
lim = [1e-7, 1]
axs[0].plot(lim, lim, color="0.4", lw=1)
axs[0].set_xlabel("bound 1: E(1-E)|1-2E| / (1-2V)")
axs[0].set_ylabel("|E - NWGM|")
axs[0].set_title("Bound 1 (Eq. 87)", fontsize=10)
axs[1].scatter(s.V, np.abs(approx - s.nwgm), s=2)
axs[1].set_yscale("log")
axs[1].set_xlabel("V")
axs[1].set_ylabel("|expansion - NWGM|")
axs[1].set_title("Expansion around the mean (Eq. 202)", fontsize=10)
fig.tight_layout()
plt.show()

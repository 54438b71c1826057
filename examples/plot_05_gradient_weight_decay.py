r"""
The dropout gradient and its adaptive weight decay
==================================================

Section 11 shows that, on average over the subnetworks, the dropout gradient is the
gradient of the ensemble network plus a regularizer. For a single linear unit with the
squared error (Eq. 147)

.. math::

    E\Big(\frac{\partial E_D}{\partial w_i}\Big) = \frac{\partial E_{ENS}}{\partial w_i}
    + w_i\, p_i (1 - p_i)\, I_i^2,

a weight decay whose strength adapts to each input's variance. For a logistic unit with
the relative entropy, Eq. 164 gives the approximation
:math:`\partial E_{ENS}/\partial w + \lambda \sigma'(U)\, w\, \mathrm{Var}(\delta I)`.

:func:`dropengine.exact.dropout_gradient` enumerates every subnetwork and returns the
expected gradient beside the ensemble gradient and the paper's terms, per input.
"""
import matplotlib.pyplot as plt
import numpy as np

import dropengine as de

rng = np.random.default_rng(5)
n, m = 10, 50                                    # 10 inputs, 50 training examples
X = rng.normal(size=(m, n))
T = rng.normal(size=(m, 1))
p = rng.uniform(0.3, 0.9, size=n)                # a keep probability per input
lin = de.Network([rng.normal(size=(1, n))], transfer="linear", dtype=np.float64)
g = de.exact.dropout_gradient(lin, X, T, de.Dropout([p]), loss="squared")

decay = g.expected[0] - g.ensemble[0]            # (inputs, 1, n): what dropout adds
eq147 = lin.weights[0] * p * (1 - p) * X[:, None, :] ** 2
print("largest |expected - ensemble - Eq. 147 term|:", np.abs(decay - eq147).max())

# %%
# The logistic unit: Eq. 164's approximation against the exact expected gradient.
logi = de.Network([rng.normal(size=(1, n))], transfer="logistic", dtype=np.float64)
targets = rng.uniform(size=(m, 1))
gl = de.exact.dropout_gradient(logi, X, targets, de.Dropout([p]), loss="relative_entropy")

fig, axs = plt.subplots(1, 2, figsize=(10, 4))
axs[0].scatter(eq147.ravel(), decay.ravel(), s=6)
axs[0].set_xlabel("w p (1 - p) I^2 (Eq. 147)")
axs[0].set_ylabel("E(dE_D/dw) - dE_ENS/dw, exact")
axs[0].set_title("Linear unit: an adaptive weight decay, exactly", fontsize=10)
ens = gl.ensemble[0].ravel()
axs[1].scatter(gl.expected[0].ravel(), ens, s=6, label="ensemble gradient alone")
axs[1].scatter(gl.expected[0].ravel(), gl.approx_164[0].ravel(), s=6, label="with Eq. 164's decay")
lim = np.array(axs[1].get_xlim())
axs[1].plot(lim, lim, color="0.4", lw=1)
axs[1].set_xlabel("E(dE_D/dw), exact (all 2^10 subnetworks)")
axs[1].set_ylabel("approximation")
axs[1].set_title("Logistic unit, relative entropy (Eq. 164)", fontsize=10)
axs[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

"""
Embedding the C++ library
=========================

The engine is a C++17 library, ``dropengine::core``, usable without Python. ``cpp/`` is
a CMake project; install it and link it from your own project:

.. code-block:: bash

    cmake -S cpp -B build -DCMAKE_INSTALL_PREFIX=$HOME/.local
    cmake --build build && cmake --install build

``cpp/examples/consume/`` is such a downstream project (CI builds and runs it). Its
``CMakeLists.txt`` finds the installed package:

.. literalinclude:: ../../cpp/examples/consume/CMakeLists.txt
   :language: cmake

and its ``main.cpp`` samples a 3-2-1 logistic network with unit dropout, then prints
E(O), NWGM and the ensemble network's W for each unit:

.. literalinclude:: ../../cpp/examples/consume/main.cpp
   :language: c++

The headers are described in :doc:`/cpp/index`. The Python package calls the same
functions, so the program's numbers can be checked from Python, as below (this page
does not build the C++ example).
"""
import matplotlib.pyplot as plt
import numpy as np

import dropengine as de

W1 = np.array([[0.5, -0.3, 0.8], [0.1, 0.9, -0.7]])      # 2 x 3, as in main.cpp
W2 = np.array([[1.2, -0.4]])                              # 1 x 2
x = np.array([[1.0, 0.5, -1.0]])
net = de.Network([W1, W2], transfer="logistic", dtype=np.float64)
gate = de.Dropout([0.8, 0.5])
st = de.sample(net, x, gate, 100_000, seed=2014)
_, W = de.ensemble(net, x, gate)

E = np.concatenate([st.E[0][0], st.E[1][0]])
nwgm = np.concatenate([st.nwgm[0][0], st.nwgm[1][0]])
Wens = np.concatenate([W[0][0], W[1][0]])
for u in range(3):
    print(f"unit {u}: E = {E[u]:.6f}  NWGM = {nwgm[u]:.6f}  W = {Wens[u]:.6f}")

# %%
# What ``consume`` prints, as a figure: per unit, the three quantities agree closely.
fig, ax = plt.subplots(figsize=(6, 3.5))
k = np.arange(3)
for j, (v, name) in enumerate(((E, "E(O), 100,000 samples"), (nwgm, "NWGM"), (Wens, "ensemble W"))):
    ax.bar(k + (j - 1) * 0.27, v, width=0.27, label=name)
ax.set_xticks(k, ["hidden 1", "hidden 2", "output"])
ax.set_ylabel("value")
ax.set_ylim(0, 1)
ax.legend(fontsize=8)
ax.set_title("The consume example's network, from Python", fontsize=10)
fig.tight_layout()
plt.show()

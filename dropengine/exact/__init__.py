"""Exact methods: ground truth that no sampling can give (Sections 2, 3, 4.1, 11.2, 11.3).

``enumerate``
    every subnetwork, weighted by P(N): exact E, Var, G, G', NWGM, ...
``linear_moments``
    E, Var and every covariance of a linear network, chain or DAG, by the recursions of
    Eq. 15-20 and 24-26, in polynomial time
``dropout_gradient``
    E(dE_D/dw) over all subnetworks beside the ensemble gradient and the decompositions
    of Eq. 147, 155 and 164, chain or DAG

Examples
--------
>>> import numpy as np, dropengine as de
>>> net = de.Network([np.array([[0.5, -1.0, 2.0, 0.3]])], transfer="logistic")
>>> x = np.array([[1.0, 0.5, 0.2, -1.0]])
>>> de.exact.enumerate(net, x, de.Dropout(0.5)).n_samples     # 2^4 subnetworks
16
"""
from .enumeration import DEFAULT_MAX_SUBNETWORKS, enumerate, max_parts, n_subnetworks
from .gradient import dropout_gradient
from .linear import linear_moments

__all__ = ["enumerate", "n_subnetworks", "max_parts", "linear_moments", "dropout_gradient", "DEFAULT_MAX_SUBNETWORKS"]

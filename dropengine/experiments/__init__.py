"""The paper's experiments, each a function the ``dropengine reproduce`` command and the
tests call: ``run(out_dir, quick, seed, threads, progress) -> Result`` (figures and
claims; ``progress`` shows a bar for steps long enough to need one).

`ensembles` checks Section 6 (the ensemble's error, Eq. 56-58) and Section 7.1 (Eq. 59-64);
`training` trains on MNIST (dropout, no dropout, dropin, backpercolation) and measures
the trained network (Figs. 9.3-9.15 after training, 9.10-9.11, 11.1-11.3); `regularizer`
sets Section 11.5's approximations beside the exact expected gradient of small deep nets;
`general` takes Section 9.5 to a network with skip connections and sets Gaussian gates
beside Bernoulli dropout.
"""
from . import (approximations, ensembles, general_networks, gradients, regularizer, sampling_distributions, section8,
               spiking, training, transfer_functions)
from .base import Claim, Result

EXPERIMENTS = {
    "ensembles": ensembles,
    "section8": section8,
    "sampling": sampling_distributions,
    "approximations": approximations,
    "transfer": transfer_functions,
    "spiking": spiking,
    "gradients": gradients,
    "regularizer": regularizer,
    "general": general_networks,
    "training": training,
}

__all__ = ["EXPERIMENTS", "Claim", "Result"]

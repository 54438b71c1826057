"""The paper's experiments, each a function the ``dropengine reproduce`` command and the
tests call: ``run(out_dir, quick, seed, threads) -> Result`` (figures and claims).

Experiments that need training (Fig. 9.3-9.15 after training, 9.10-9.11, 11.1-11.3,
dropin, backpercolation) join when the training engine lands.
"""
from . import approximations, gradients, sampling_distributions, section8, spiking, transfer_functions
from .base import Claim, Result

EXPERIMENTS = {
    "section8": section8,
    "sampling": sampling_distributions,
    "approximations": approximations,
    "transfer": transfer_functions,
    "spiking": spiking,
    "gradients": gradients,
}

__all__ = ["EXPERIMENTS", "Claim", "Result"]

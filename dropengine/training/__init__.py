"""Training dropout networks (Sections 10.2 and 11): `Trainer`, `train`, the
measurements taken during training, and the check of the regularisation that dropout
adds to the ensemble gradient (Eq. 164, 179-182)."""
from .init import init_network
from .probes import measure
from .regularization import ensemble_gradient, regularization_check
from .trainer import LOSSES, Trainer, TrainingDiverged, train

__all__ = ["Trainer", "TrainingDiverged", "train", "init_network", "measure", "ensemble_gradient", "regularization_check", "LOSSES"]

"""Transfer functions of the paper (Eq. 27, 43, 69, 76).

Each is a small frozen dataclass; `resolve_transfer` also accepts the names
"linear", "logistic", "tanh", "relu", "softplus" and "softmax" (default parameters).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Transfer", "Linear", "Logistic", "Tanh", "ReLU", "Softplus", "Softmax", "resolve_transfer"]


class Transfer:
    """Base class. ``name`` is the member of dropengine::TransferKind (cpp/include/dropengine/transfer.h).

    Examples
    --------
    Every transfer function exposes its parameters, the bound on its derivative and
    whether its outputs lie in [0, 1]:

    >>> import dropengine as de
    >>> de.Tanh(2.0).params()                # (c, lam, threshold, slope)
    (1.0, 2.0, 0.0, 1.0)
    >>> de.Tanh(2.0).max_derivative, de.Logistic().bounded01
    (2.0, True)
    """

    name: str = ""

    def params(self) -> tuple:
        """(c, lam, threshold, slope); a function ignores the ones it does not have."""
        return (float(getattr(self, "c", 1.0)), float(getattr(self, "lam", 1.0)),
                float(getattr(self, "threshold", 0.0)), float(getattr(self, "slope", 1.0)))

    def spec(self) -> tuple:
        """(file code, c, lam, threshold, slope): the row of a saved network's transfer table."""
        return (float(FILE_CODES.index(self.name)),) + self.params()

    @property
    def max_derivative(self) -> float:
        """sup_S |f'(S)| (elementwise; softmax counts as 1), the bound backpercolation needs."""
        return 1.0

    @property
    def bounded01(self) -> bool:
        """True when outputs lie in [0, 1], where G, G' and NWGM are defined (Section 8)."""
        return False

    def _check(self, **params) -> None:
        for key, v in params.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"{self.name}: {key} must be a real number, got {type(v).__name__}")
            if not math.isfinite(v):
                raise ValueError(f"{self.name}: {key} must be finite, got {v}")


@dataclass(frozen=True)
class Linear(Transfer):
    """O = S (Eq. 1, 12, 21).

    Examples
    --------
    >>> import dropengine as de
    >>> de.Linear(), de.Linear().bounded01
    (Linear(), False)
    """

    name = "linear"


@dataclass(frozen=True)
class Logistic(Transfer):
    """O = 1 / (1 + c exp(-lam S)), c >= 0 (Eq. 27). NWGM(O) = sigma(E(S)) (Eq. 39).

    Examples
    --------
    >>> import dropengine as de
    >>> de.Logistic(lam=2.0)
    Logistic(c=1.0, lam=2.0)
    """

    c: float = 1.0
    lam: float = 1.0
    name = "logistic"

    def __post_init__(self):
        self._check(c=self.c, lam=self.lam)
        if self.c < 0:
            raise ValueError(f"logistic: c must be >= 0 (Eq. 27), got {self.c}")

    @property
    def bounded01(self) -> bool:
        return True

    @property
    def max_derivative(self) -> float:
        return abs(self.lam) / 4


@dataclass(frozen=True)
class Tanh(Transfer):
    """O = tanh(lam S).

    Examples
    --------
    >>> import dropengine as de
    >>> de.Tanh(lam=2.0), de.Tanh(lam=2.0).max_derivative
    (Tanh(lam=2.0), 2.0)
    """

    lam: float = 1.0
    name = "tanh"

    def __post_init__(self):
        self._check(lam=self.lam)

    @property
    def max_derivative(self) -> float:
        return abs(self.lam)


@dataclass(frozen=True)
class ReLU(Transfer):
    """Rectified linear: O = 0 if S <= threshold else slope (S - threshold) (Eq. 69).

    Examples
    --------
    >>> import dropengine as de
    >>> de.ReLU(threshold=0.5, slope=2.0)
    ReLU(threshold=0.5, slope=2.0)
    >>> de.ReLU(threshold=0.5, slope=2.0).max_derivative
    2.0
    """

    threshold: float = 0.0
    slope: float = 1.0
    name = "relu"

    def __post_init__(self):
        self._check(threshold=self.threshold, slope=self.slope)

    @property
    def max_derivative(self) -> float:
        return abs(self.slope)


@dataclass(frozen=True)
class Softplus(Transfer):
    """O = log(1 + exp(lam S)) / lam, the integral of the logistic (Eq. 76).

    Examples
    --------
    >>> import dropengine as de
    >>> de.Softplus(lam=2.0)
    Softplus(lam=2.0)
    """

    lam: float = 1.0
    name = "softplus"

    def __post_init__(self):
        self._check(lam=self.lam)
        if self.lam <= 0:
            raise ValueError(f"softplus: lam must be > 0, got {self.lam}")


@dataclass(frozen=True)
class Softmax(Transfer):
    """Normalized exponential over the layer: O_i = exp(lam S_i) / sum_j exp(lam S_j) (Eq. 43).
    NWGM(O_i) = softmax(lam E(S))_i (Eq. 47).

    Examples
    --------
    >>> import dropengine as de
    >>> de.Softmax(), de.Softmax().bounded01
    (Softmax(lam=1.0), True)
    """

    lam: float = 1.0
    name = "softmax"

    def __post_init__(self):
        self._check(lam=self.lam)

    @property
    def bounded01(self) -> bool:
        return True


_BY_NAME = {cls.name: cls for cls in (Linear, Logistic, Tanh, ReLU, Softplus, Softmax)}
#: Codes of the transfer table in saved networks and checkpoints (a file's code is the
#: position here). Frozen: files depend on it; new functions go at the end.
FILE_CODES = ("linear", "logistic", "tanh", "relu", "softplus", "softmax")


def resolve_transfer(value, name: str = "transfer") -> Transfer:
    """A Transfer instance from an instance or one of the names in `_BY_NAME`."""
    if isinstance(value, Transfer):
        return value
    if isinstance(value, str):
        try:
            return _BY_NAME[value.lower()]()
        except KeyError:
            raise ValueError(f"{name}: unknown transfer function {value!r}; expected one of "
                             f"{sorted(_BY_NAME)} or a Transfer instance") from None
    raise TypeError(f"{name} must be a transfer name or a Transfer instance, got {type(value).__name__}")


def transfer_from_spec(spec) -> Transfer:
    """Inverse of Transfer.spec() (used when loading networks)."""
    code, c, lam, threshold, slope = spec
    if not (float(code).is_integer() and 0 <= code < len(FILE_CODES)):
        raise ValueError(f"unknown transfer code {code}")
    cls = _BY_NAME[FILE_CODES[int(code)]]
    params = {"c": c, "lam": lam, "threshold": threshold, "slope": slope}
    fields = cls.__dataclass_fields__
    return cls(**{k: float(v) for k, v in params.items() if k in fields})

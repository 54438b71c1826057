"""Learning-rate schedules: the factor eta_e / eta_0 of epoch e.

Section 11.1: stochastic gradient descent (dropout included) converges almost surely to
a neighbourhood of a local minimum when the learning rates decrease with
sum eta_e = infinity and sum eta_e^2 < infinity; ("inverse", tau) satisfies both.
An optional warm-up of w epochs ramps the rate linearly, (e + 1) / w, before the decay
starts: deep logistic networks saturate if the first steps are large.
"""
from __future__ import annotations

import numbers

__all__ = ["resolve_schedule", "normalize_schedule"]

_FORMS = "None, ('exponential', gamma[, warmup]), ('inverse', tau[, warmup]) or a callable"


def normalize_schedule(schedule):
    """The schedule in plain Python types, checked: None, a callable (kept as is), or a
    tuple (name: str, parameter: float[, warmup: int]). NumPy scalars and other Real
    numbers become float/int here, so that the schedule can always be written to a
    checkpoint's JSON (a problem found after the first epoch would lose the run)."""
    if schedule is None or callable(schedule):
        return schedule
    if not isinstance(schedule, (list, tuple)) or len(schedule) not in (2, 3) or not isinstance(schedule[0], str):
        raise TypeError(f"schedule must be {_FORMS}, got {schedule!r}")
    name, v = str(schedule[0]), schedule[1]
    warm = schedule[2] if len(schedule) == 3 else 0
    if name not in ("exponential", "inverse"):
        raise ValueError(f"schedule must be 'exponential' or 'inverse', got {name!r}")
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"schedule: the parameter of {name!r} must be a number, got {type(v).__name__}")
    if isinstance(warm, bool) or not isinstance(warm, numbers.Integral) or warm < 0:
        raise ValueError(f"schedule: warmup must be an integer number of epochs >= 0, got {warm!r}")
    v, warm = float(v), int(warm)
    if name == "exponential" and not 0 < v <= 1:
        raise ValueError(f"schedule: gamma must lie in (0, 1], got {v}")
    if name == "inverse" and not (v > 0 and v < float("inf")):
        raise ValueError(f"schedule: tau must be a finite number > 0, got {v}")
    return (name, v) if len(schedule) == 2 else (name, v, warm)


def resolve_schedule(schedule):
    """A function epoch -> factor, from None (constant), ("exponential", gamma[, warmup])
    with gamma in (0, 1] (factor gamma^(e - warmup) after the warm-up), ("inverse",
    tau[, warmup]) with tau > 0 (factor tau / (tau + e - warmup)), or a callable."""
    schedule = normalize_schedule(schedule)
    if schedule is None:
        return lambda e: 1.0
    if callable(schedule):
        return schedule
    name, v = schedule[:2]
    warm = schedule[2] if len(schedule) == 3 else 0
    if name == "exponential":
        decay = lambda e: v ** e  # noqa: E731
    else:
        decay = lambda e: v / (v + e)  # noqa: E731
    return lambda e: (e + 1) / warm if e < warm else decay(e - warm)

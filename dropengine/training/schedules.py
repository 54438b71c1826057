"""Learning-rate schedules: the factor eta_e / eta_0 of epoch e.

Section 11.1: stochastic gradient descent (dropout included) converges almost surely to
a neighbourhood of a local minimum when the learning rates decrease with
sum eta_e = infinity and sum eta_e^2 < infinity; ("inverse", tau) satisfies both.
An optional warm-up of w epochs ramps the rate linearly, (e + 1) / w, before the decay
starts: deep logistic networks saturate if the first steps are large.
"""
from __future__ import annotations

import numbers

__all__ = ["resolve_schedule"]


def resolve_schedule(schedule):
    """A function epoch -> factor, from None (constant), ("exponential", gamma[, warmup])
    with gamma in (0, 1] (factor gamma^(e - warmup) after the warm-up), ("inverse",
    tau[, warmup]) with tau > 0 (factor tau / (tau + e - warmup)), or a callable."""
    if schedule is None:
        return lambda e: 1.0
    if callable(schedule):
        return schedule
    if not isinstance(schedule, (list, tuple)) or len(schedule) not in (2, 3) or not isinstance(schedule[0], str):
        raise TypeError("schedule must be None, ('exponential', gamma[, warmup]), ('inverse', tau[, warmup]) "
                        f"or a callable, got {schedule!r}")
    name, v = schedule[:2]
    warm = schedule[2] if len(schedule) == 3 else 0
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"schedule: the parameter of {name!r} must be a number, got {type(v).__name__}")
    if isinstance(warm, bool) or not isinstance(warm, numbers.Integral) or warm < 0:
        raise ValueError(f"schedule: warmup must be an integer number of epochs >= 0, got {warm!r}")
    v, warm = float(v), int(warm)
    if name == "exponential":
        if not 0 < v <= 1:
            raise ValueError(f"schedule: gamma must lie in (0, 1], got {v}")
        decay = lambda e: v ** e  # noqa: E731
    elif name == "inverse":
        if not v > 0:
            raise ValueError(f"schedule: tau must be > 0, got {v}")
        decay = lambda e: v / (v + e)  # noqa: E731
    else:
        raise ValueError(f"schedule must be 'exponential' or 'inverse', got {name!r}")
    return lambda e: (e + 1) / warm if e < warm else decay(e - warm)

"""Learning-rate schedules: the factor eta_e / eta_0 of epoch e.

Section 11.1: stochastic gradient descent (dropout included) converges almost surely to
a neighbourhood of a local minimum when the learning rates decrease with
sum eta_e = infinity and sum eta_e^2 < infinity; ("inverse", tau) satisfies both.
"""
from __future__ import annotations

import numbers

__all__ = ["resolve_schedule"]


def resolve_schedule(schedule):
    """A function epoch -> factor, from None (constant), ("exponential", gamma) with
    gamma in (0, 1], ("inverse", tau) with tau > 0 (factor tau / (tau + e)), or a callable
    epoch -> factor."""
    if schedule is None:
        return lambda e: 1.0
    if callable(schedule):
        return schedule
    if not isinstance(schedule, (list, tuple)) or len(schedule) != 2 or not isinstance(schedule[0], str):
        raise TypeError("schedule must be None, ('exponential', gamma), ('inverse', tau) or a callable, "
                        f"got {schedule!r}")
    name, v = schedule
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"schedule: the parameter of {name!r} must be a number, got {type(v).__name__}")
    v = float(v)
    if name == "exponential":
        if not 0 < v <= 1:
            raise ValueError(f"schedule: gamma must lie in (0, 1], got {v}")
        return lambda e: v ** e
    if name == "inverse":
        if not v > 0:
            raise ValueError(f"schedule: tau must be > 0, got {v}")
        return lambda e: v / (v + e)
    raise ValueError(f"schedule must be 'exponential' or 'inverse', got {name!r}")

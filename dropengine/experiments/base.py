"""What every experiment returns, and the plotting setup (matplotlib, Agg).

A ``Claim`` states what the paper asserts, where (section, equation), the criterion that
decides it (fixed in the code before the run: a tolerance from the run's own Monte Carlo
standard errors, or an effect size with its reason), the measured number with its
uncertainty, and the verdict. ``kind`` separates findings (the paper's claims about
dropout, which could come out either way) from identity checks (theorems and closed-form
identities: a test of the code, not a finding).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("finding", "identity")


@dataclass
class Claim:
    """One claim of the paper, the number measured for it, and whether they agree.

    ``key``        stable identifier within its experiment (for claims.json and --compare)
    ``section``    the paper's section or figure ("Section 9.5", "Fig. 9.14")
    ``equation``   the equation(s) ("Eq. 99"), or "" where the paper gives none
    ``statement``  in one sentence, what the paper asserts
    ``criterion``  how the verdict is decided, fixed before the run
    ``measured``   the number the criterion reads (float)
    ``uncertainty``  its Monte Carlo standard error (or 0 for exact computations; None if n/a)
    ``agrees``     the verdict
    ``kind``       "finding" or "identity"
    ``detail``     the measured numbers in words (shown beside ``measured``)
    ``reason``     for a "no": one sentence on whether the paper, the setting or the code is at fault
                   (an experiment may set it either way; it is shown and recorded for a "no" only)
    """

    key: str
    section: str
    equation: str
    statement: str
    criterion: str
    measured: float
    uncertainty: float | None
    agrees: bool
    kind: str = "finding"
    detail: str = ""
    reason: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        self.measured = float(self.measured)
        self.uncertainty = None if self.uncertainty is None else float(self.uncertainty)
        self.agrees = bool(self.agrees)

    @property
    def verdict(self) -> str:
        return "yes" if self.agrees else "no"

    def measured_text(self) -> str:
        """measured ± uncertainty, then the detail."""
        m = f"{self.measured:.3g}"
        if self.uncertainty is not None and self.uncertainty > 0 and math.isfinite(self.uncertainty):
            m += f" ± {self.uncertainty:.2g}"
        return m + (f" ({self.detail})" if self.detail else "")

    def to_dict(self, experiment: str) -> dict:
        def num(x):
            return None if x is None or not math.isfinite(x) else x
        return {"id": f"{experiment}/{self.key}", "experiment": experiment, "kind": self.kind,
                "section": self.section, "equation": self.equation, "statement": self.statement,
                "criterion": self.criterion, "measured": num(self.measured), "uncertainty": num(self.uncertainty),
                "detail": self.detail, "verdict": self.verdict, "reason": "" if self.agrees else self.reason}


def identity(key, section, equation, statement, criterion, measured, uncertainty, agrees, detail=""):
    """A theorem or closed-form identity checked numerically (a test of the code)."""
    return Claim(key, section, equation, statement, criterion, measured, uncertainty, agrees, "identity", detail)


@dataclass
class Result:
    name: str
    title: str
    figures: list = field(default_factory=list)  # PNG paths
    claims: list = field(default_factory=list)
    notes: str = ""


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError('the report needs matplotlib: pip install "dropengine[report]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, out: Path, name: str) -> Path:
    """Saves a figure as out/name.png, atomically."""
    from .._io import write_atomic

    out.mkdir(parents=True, exist_ok=True)
    path = write_atomic(out / f"{name}.png", lambda f: fig.savefig(f, format="png", dpi=100, bbox_inches="tight"))
    pyplot().close(fig)  # pyplot keeps every figure open until closed
    return path

"""What every experiment returns, and the plotting setup (matplotlib, Agg)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Claim:
    """A claim of the paper, the number measured for it, and whether they agree."""

    text: str
    measured: str
    agrees: bool


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

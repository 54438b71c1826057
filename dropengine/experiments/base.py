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
    """Saves a figure atomically (temporary file, then rename)."""
    import os
    import tempfile

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=out)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    fig.clf()
    return path

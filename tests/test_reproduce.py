"""`dropengine reproduce`: every experiment runs, writes its figures, and the report
states each claim with its measured number."""
import re

import pytest

pytest.importorskip("matplotlib")
from dropengine.cli import main  # noqa: E402
from dropengine.experiments import EXPERIMENTS  # noqa: E402


def test_quick_report_has_every_figure_and_claim(tmp_path, capsys):
    assert main(["reproduce", "--quick", "--out", str(tmp_path), "--quiet"]) == 0
    md = (tmp_path / "report.md").read_text()
    page = (tmp_path / "report.html").read_text()
    figures = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(figures) >= len(EXPERIMENTS)
    for f in figures:
        assert f"]({f})" in md  # linked from the markdown report
    assert page.count("data:image/png;base64,") == len(figures)  # embedded in the HTML report
    rows = re.findall(r"^\| .* \| (yes|\*\*no\*\*) \|$", md, flags=re.M)
    assert len(rows) >= 20
    assert all(r == "yes" for r in rows), [line for line in md.splitlines() if line.endswith("| **no** |")]
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temporary files


def test_only_and_bad_names(tmp_path, capsys):
    assert main(["reproduce", "--only", "section8", "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "fig8_1.png").exists() and not (tmp_path / "fig9_1.png").exists()
    assert main(["reproduce", "--only", "nope", "--out", str(tmp_path), "--quiet"]) == 2
    assert "unknown experiment" in capsys.readouterr().err

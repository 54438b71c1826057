"""`dropengine reproduce`: every experiment runs, writes its figures, claims.json and a
report whose findings and identity checks are separate tables; the quick run's verdicts
are pinned to tests/data/quick_verdicts.json, so that a verdict changes only by a
deliberate, reviewed edit of that file (a "no" is a result, not a failure)."""
import json
import math
import re
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
from dropengine.cli import main  # noqa: E402
from dropengine.experiments import EXPERIMENTS  # noqa: E402
from dropengine.experiments.report import compare  # noqa: E402

PINNED = Path(__file__).parent / "data" / "quick_verdicts.json"


def test_quick_report_has_every_figure_and_claim(tmp_path, capsys):
    assert main(["reproduce", "--quick", "--out", str(tmp_path), "--quiet"]) == 0
    md = (tmp_path / "report.md").read_text()
    page = (tmp_path / "report.html").read_text()
    figures = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(figures) >= len(EXPERIMENTS)
    for f in figures:
        assert f"]({f})" in md  # linked from the markdown report
    assert page.count("data:image/png;base64,") == len(figures)  # embedded in the HTML report
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temporary files
    for f in ("fig9_6.png", "fig9_7.png", "section6_7_ensembles.png",  # Section 9.5's histograms; Sections 6, 7.1
              "fig9_4.png", "fig9_5.png", "fig11_3_consistency.png",  # the paper's Figs. 9.4, 9.5, 11.3
              "fig9_12_covariance.png", "fig9_15.png",  # Figs. 9.12-9.15, before and after training
              "appendix_d_dsigma.png"):  # Appendix D, Eq. 220-223
        assert f in figures
    data = json.loads((tmp_path / "claims.json").read_text())
    assert data["mode"] == "quick" and data["seed"] == 0 and data["version"]
    # each experiment's wall time, in claims.json and in the report's Run time table
    secs = data["wall_seconds"]
    assert set(secs) == set(EXPERIMENTS) | {"total"} and all(v >= 0 for v in secs.values())
    assert "## Run time" in md and "<table class='timing'" in page
    claims = data["claims"]
    for c in claims:
        for k in ("section", "statement", "criterion", "verdict", "kind", "mode", "seed", "version"):
            assert c[k] not in (None, ""), (c["id"], k)
        assert c["kind"] in ("finding", "identity") and c["verdict"] in ("yes", "no")
        assert c["measured"] is None or math.isfinite(c["measured"])
        if c["kind"] == "finding" and c["verdict"] == "no":
            assert c["reason"], f"{c['id']}: a 'no' needs its one-sentence reason"
    # findings and identity checks are separate tables, one row per claim, verdict last
    rows = re.findall(r"^\| .* \| (yes|\*\*no\*\*) \|$", md, flags=re.M)
    assert len(rows) == len(claims)
    assert "**Findings**" in md and "**Identity checks**" in md
    assert "<table class='finding'" in page and "<table class='identity'" in page
    # every identity holds (they test the code); the findings' verdicts are pinned
    assert all(c["verdict"] == "yes" for c in claims if c["kind"] == "identity"), \
        [c["id"] for c in claims if c["kind"] == "identity" and c["verdict"] != "yes"]
    got = {c["id"]: c["verdict"] for c in claims}
    pinned = json.loads(PINNED.read_text())
    moved = {k: (pinned.get(k), got.get(k)) for k in set(pinned) | set(got) if pinned.get(k) != got.get(k)}
    assert not moved, f"verdicts moved (pinned, now); edit {PINNED.name} only after review: {moved}"


def test_only_and_bad_names(tmp_path, capsys):
    assert main(["reproduce", "--only", "section8", "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "fig8_1.png").exists() and not (tmp_path / "fig9_1.png").exists()
    assert (tmp_path / "claims.json").exists()
    assert main(["reproduce", "--only", "nope", "--out", str(tmp_path), "--quiet"]) == 2
    assert "unknown experiment" in capsys.readouterr().err


def test_compare(tmp_path, capsys):
    old, new = tmp_path / "old", tmp_path / "new"
    assert main(["reproduce", "--only", "section8", "--out", str(old), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["reproduce", "--only", "section8", "--out", str(new), "--quiet", "--compare", str(old)]) == 0
    assert "0 claim(s) moved" in capsys.readouterr().out
    # a folder without claims.json: a one-line error, exit 2, before anything runs
    assert main(["reproduce", "--only", "section8", "--out", str(new), "--quiet", "--compare", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--compare" in err and "claims.json" in err and len(err.strip().splitlines()) == 1


def test_compare_lists_moved_verdicts_and_numbers():
    base = {"id": "x/a", "verdict": "yes", "measured": 1.0, "uncertainty": 0.1}
    old = {"x/a": base, "x/b": {**base, "id": "x/b"}, "x/c": {**base, "id": "x/c"}, "x/gone": base}
    new = {"x/a": {**base, "measured": 1.1},  # within 2 combined SE: not moved
           "x/b": {**base, "measured": 2.0},  # moved
           "x/c": {**base, "verdict": "no"},  # verdict moved
           "x/new": base}
    lines = compare(old, new)
    assert len(lines) == 4
    assert any(s.startswith("number") and "x/b" in s for s in lines)
    assert any(s.startswith("verdict") and "x/c" in s and "yes -> no" in s for s in lines)
    assert any(s.startswith("new") and "x/new" in s for s in lines)
    assert any(s.startswith("gone") and "x/gone" in s for s in lines)
    # without uncertainties any change beyond rounding counts
    exact = {"x/e": {"id": "x/e", "verdict": "yes", "measured": 0.5, "uncertainty": 0.0}}
    assert compare(exact, {"x/e": {**exact["x/e"], "measured": 0.5 + 1e-6}})
    assert not compare(exact, exact)

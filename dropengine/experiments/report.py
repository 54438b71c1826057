"""report.md, a self-contained report.html (figures embedded) and claims.json from
experiment results; ``compare`` lists the claims that moved between two runs.

Findings (the paper's claims, each with its criterion, measured value ± uncertainty and
verdict) and identity checks (theorems and closed-form identities, a test of the code)
are separate tables.
"""
from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

from .._io import write_text_atomic

CLAIMS_FILE = "claims.json"
_FIND_COLS = ("section, equation", "the paper says", "criterion (fixed before the run)", "measured ± uncertainty",
              "agrees")
_ID_COLS = ("section, equation", "identity", "criterion", "measured ± uncertainty", "holds")


def _cells(c):
    where = c.section + (f", {c.equation}" if c.equation else "")
    measured = c.measured_text() + (f" — {c.reason}" if c.reason and not c.agrees else "")
    return where, c.statement, c.criterion, measured


def claims_data(results, meta: dict) -> dict:
    """The claims of a run as plain data (what claims.json holds)."""
    rows = []
    for r in results:
        for c in r.claims:
            rows.append({**c.to_dict(r.name), **{k: meta.get(k) for k in ("mode", "seed", "version")}})
    return {**meta, "claims": rows}


def write(results, out: Path, header: str, meta: dict | None = None) -> tuple:
    meta = dict(meta or {})
    fnd = [c for r in results for c in r.claims if c.kind == "finding"]
    ids = [c for r in results for c in r.claims if c.kind == "identity"]
    n_f, n_i = sum(c.agrees for c in fnd), sum(c.agrees for c in ids)
    summary = (f"Findings: {n_f} of {len(fnd)} agree with the paper. Identity checks (theorems and closed forms, "
               f"a test of the code): {n_i} of {len(ids)} hold.")
    md = ["# dropengine: reproducing \"The dropout learning algorithm\"", "", header, "", f"**{summary}**", "",
          "Every criterion is fixed in the code before the run: a tolerance from the run's own Monte Carlo "
          "standard errors, or an effect size with its reason. A \"no\" is a result: the reason beside it says "
          "whether the paper, the setting or the code is at fault. The claims as data: "
          f"[{CLAIMS_FILE}]({CLAIMS_FILE}).", ""]
    body = ["<h1>dropengine: reproducing &ldquo;The dropout learning algorithm&rdquo;</h1>",
            f"<p>{html.escape(header)}</p>", f"<p><b>{html.escape(summary)}</b></p>",
            f"<p>Every criterion is fixed in the code before the run. The claims as data: "
            f"<a href='{CLAIMS_FILE}'>{CLAIMS_FILE}</a>.</p>"]
    cell = lambda t: t.replace("|", "\\|").replace("\n", " ")  # noqa: E731  (|E - W| inside a table)
    for r in results:
        md += [f"## {r.title}", ""]
        body.append(f"<h2>{html.escape(r.title)}</h2>")
        if r.notes:
            md += [r.notes, ""]
            body.append(f"<p><i>{html.escape(r.notes)}</i></p>")
        for kind, title, cols in (("finding", "Findings", _FIND_COLS), ("identity", "Identity checks", _ID_COLS)):
            cs = [c for c in r.claims if c.kind == kind]
            if not cs:
                continue
            md += [f"**{title}**", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            rows = []
            for c in cs:
                mark = "yes" if c.agrees else "**no**"
                md.append("| " + " | ".join(cell(x) for x in _cells(c)) + f" | {mark} |")
                rows.append("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in _cells(c))
                            + f"<td style='color:{'green' if c.agrees else 'red'}'>{c.verdict}</td></tr>")
            md.append("")
            body.append(f"<h3>{title}</h3><table class='{kind}' border='1' cellpadding='4' "
                        "style='border-collapse:collapse'><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in cols)
                        + "</tr>" + "".join(rows) + "</table>")
        for f in r.figures:
            f = Path(f)
            md += [f"![{f.stem}]({f.name})", ""]
            data = base64.b64encode(f.read_bytes()).decode()
            body.append(f"<p><img alt='{f.stem}' src='data:image/png;base64,{data}'></p>")
    secs = meta.get("wall_seconds")
    if secs:  # what each experiment took on the machine that wrote the report
        names = [k for k in secs if k != "total"]
        md += ["## Run time", "", "Wall-clock seconds per experiment on the machine that wrote this report "
               "(shared machines run slower).", "", "| experiment | seconds |", "|---|---|"]
        md += [f"| {k} | {secs[k]:.1f} |" for k in names]
        if "total" in secs:
            md.append(f"| **total** | **{secs['total']:.1f}** |")
        md.append("")
        body.append("<h2>Run time</h2><p>Wall-clock seconds per experiment on the machine that wrote this report "
                    "(shared machines run slower).</p><table class='timing' border='1' cellpadding='4' "
                    "style='border-collapse:collapse'><tr><th>experiment</th><th>seconds</th></tr>"
                    + "".join(f"<tr><td>{html.escape(k)}</td><td>{secs[k]:.1f}</td></tr>" for k in names)
                    + (f"<tr><td><b>total</b></td><td><b>{secs['total']:.1f}</b></td></tr>" if "total" in secs
                       else "") + "</table>")
    # On load, the page counts the figures the browser could decode (a headless-browser
    # test reads it back): <p id="figures-loaded" data-loaded=... data-total=...>.
    check = ("<p id='figures-loaded'></p><script>window.addEventListener('load', function () {"
             "var im = document.images, ok = 0; for (var i = 0; i < im.length; i++) "
             "{ if (im[i].complete && im[i].naturalWidth > 0) ok++; }"
             "var p = document.getElementById('figures-loaded'); p.dataset.loaded = ok; p.dataset.total = im.length;"
             "p.textContent = ok + ' of ' + im.length + ' figures loaded'; });</script>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>dropengine report</title></head><body "
            "style='font-family:sans-serif;max-width:75em'>" + "\n".join(body) + check + "</body></html>")
    data = json.dumps(claims_data(results, meta), indent=1, allow_nan=False)
    write_text_atomic(out / CLAIMS_FILE, data + "\n")
    return write_text_atomic(out / "report.md", "\n".join(md) + "\n"), write_text_atomic(out / "report.html", page)


def load_claims(folder) -> dict:
    """claims.json of a report folder -> {id: claim}; ValueError naming the folder if absent or unreadable."""
    path = Path(folder) / CLAIMS_FILE
    if not path.is_file():
        raise ValueError(f"--compare: {str(folder)!r} has no {CLAIMS_FILE} (not a report folder, or written before "
                         "claims were recorded)")
    try:
        data = json.loads(path.read_text())
        return {c["id"]: c for c in data["claims"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"--compare: cannot read {str(path)!r}: {exc}") from None


def _moved(a, b) -> bool:
    """The measured number moved: beyond 2 combined standard errors (where both runs give
    one), else beyond a relative 1e-9."""
    x, y = a.get("measured"), b.get("measured")
    if x is None or y is None:
        return (x is None) != (y is None)
    ua, ub = a.get("uncertainty") or 0.0, b.get("uncertainty") or 0.0
    tol = 2 * math.hypot(ua, ub) if ua > 0 and ub > 0 else 1e-9 * max(abs(x), abs(y), 1e-300)
    return abs(x - y) > tol


def compare(old: dict, new: dict) -> list:
    """One line per claim whose verdict or number moved, or that appeared or disappeared."""
    lines = []
    for cid in sorted(set(old) | set(new)):
        a, b = old.get(cid), new.get(cid)
        if a is None:
            lines.append(f"new       {cid}: {b['verdict']} (measured {b['measured']})")
        elif b is None:
            lines.append(f"gone      {cid}: was {a['verdict']} (measured {a['measured']})")
        elif a["verdict"] != b["verdict"]:
            lines.append(f"verdict   {cid}: {a['verdict']} -> {b['verdict']} (measured {a['measured']:.4g} -> "
                         f"{b['measured']:.4g})" if a["measured"] is not None and b["measured"] is not None else
                         f"verdict   {cid}: {a['verdict']} -> {b['verdict']}")
        elif _moved(a, b):
            u = b.get("uncertainty")
            lines.append(f"number    {cid}: {a['measured']:.4g} -> {b['measured']:.4g}"
                         + (f" (± {u:.2g})" if u else "") + f", verdict {b['verdict']}")
    return lines

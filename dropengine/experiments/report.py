"""report.md and a self-contained report.html (figures embedded) from experiment results."""
from __future__ import annotations

import base64
import html
from pathlib import Path

from .._io import write_text_atomic


def write(results, out: Path, header: str) -> tuple:
    n_ok = sum(c.agrees for r in results for c in r.claims)
    n_all = sum(len(r.claims) for r in results)
    md = [f"# dropengine: reproducing \"The dropout learning algorithm\"", "", header, "",
          f"**{n_ok} of {n_all} claims agree.**", ""]
    body = [f"<h1>dropengine: reproducing &ldquo;The dropout learning algorithm&rdquo;</h1>",
            f"<p>{html.escape(header)}</p>", f"<p><b>{n_ok} of {n_all} claims agree.</b></p>"]
    for r in results:
        md += [f"## {r.title}", ""]
        body.append(f"<h2>{html.escape(r.title)}</h2>")
        if r.notes:
            md += [r.notes, ""]
            body.append(f"<p><i>{html.escape(r.notes)}</i></p>")
        md += ["| claim | measured | agrees |", "|---|---|---|"]
        rows = []
        for c in r.claims:
            mark = "yes" if c.agrees else "**no**"
            cell = lambda t: t.replace("|", "\\|")  # noqa: E731  (|E - W| inside a table)
            md.append(f"| {cell(c.text)} | {cell(c.measured)} | {mark} |")
            rows.append(f"<tr><td>{html.escape(c.text)}</td><td>{html.escape(c.measured)}</td>"
                        f"<td style='color:{'green' if c.agrees else 'red'}'>{'yes' if c.agrees else 'no'}</td></tr>")
        body.append("<table border='1' cellpadding='4' style='border-collapse:collapse'>"
                    "<tr><th>claim</th><th>measured</th><th>agrees</th></tr>" + "".join(rows) + "</table>")
        md.append("")
        for f in r.figures:
            f = Path(f)
            md += [f"![{f.stem}]({f.name})", ""]
            data = base64.b64encode(f.read_bytes()).decode()
            body.append(f"<p><img alt='{f.stem}' src='data:image/png;base64,{data}'></p>")
    # On load, the page counts the figures the browser could decode (a headless-browser
    # test reads it back): <p id="figures-loaded" data-loaded=... data-total=...>.
    check = ("<p id='figures-loaded'></p><script>window.addEventListener('load', function () {"
             "var im = document.images, ok = 0; for (var i = 0; i < im.length; i++) "
             "{ if (im[i].complete && im[i].naturalWidth > 0) ok++; }"
             "var p = document.getElementById('figures-loaded'); p.dataset.loaded = ok; p.dataset.total = im.length;"
             "p.textContent = ok + ' of ' + im.length + ' figures loaded'; });</script>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>dropengine report</title></head><body "
            "style='font-family:sans-serif;max-width:60em'>" + "\n".join(body) + check + "</body></html>")
    return write_text_atomic(out / "report.md", "\n".join(md) + "\n"), write_text_atomic(out / "report.html", page)

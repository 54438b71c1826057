"""Runs the bench scripts and prints one table of their ratio lines (dropengine against
the best NumPy / PyTorch peer of the same run).

    python bench/run_all.py [--only sampling,enumerate] [--full] [--quiet]

Each script also appends its full results to bench/results/*.jsonl.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

BENCHES = ("sampling", "enumerate", "analysis", "spiking", "distributed", "training")


def run(args) -> int:
    root = Path(__file__).resolve().parent
    names = list(BENCHES) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        raise SystemExit(f"run_all.py: --only: unknown benchmark(s) {unknown}; choose from {list(BENCHES)}")
    rows = []
    for name in names:
        script = root / f"bench_{name}.py"
        cmd = [sys.executable, str(script)] + (["--skip-memory"] if name == "sampling" else []) + \
            ([] if args.full else ["--quick"])
        if not args.quiet:
            print(f"running {script.name} ...", flush=True)
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=root.parent)
        if out.returncode != 0:
            raise SystemExit(f"run_all.py: {script.name} failed: {out.stderr.strip().splitlines()[-1:]}")
        # the scripts' own summary lines (ratios to the peers), with their section tag
        tag = ""
        for line in out.stdout.splitlines():
            m = re.match(r"\s*\[([^\]]+)\]", line)
            if m:
                tag = m.group(1).split(",")[0]
            if re.search(r"dropengine / best peer =|speed-up =|samples/s: [\d.]+x|overhead of distribution", line):
                rows.append((name, f"[{tag}] {line.strip()}" if tag and not line.strip().startswith("[") else line.strip()))
    print(f"{'bench':<12} result")
    for name, line in rows:
        print(f"{name:<12} {line}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=None, help=f"comma-separated, from {', '.join(BENCHES)}")
    ap.add_argument("--full", action="store_true", help="full sizes instead of --quick")
    ap.add_argument("--quiet", action="store_true")
    return run(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())

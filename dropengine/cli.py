"""The `dropengine` command.

``demo``       samples the paper's MNIST-shaped network; E vs NWGM vs W per layer
``sample``     Monte Carlo statistics of a saved network on saved inputs -> .npz
               (the network: Network.save's .npz, or a PyTorch model file .pt/.pth)
``ensemble``   the deterministic ensemble network's U and W -> .npz
``enumerate``  exact statistics over every subnetwork -> .npz
``reproduce``  the paper's experiments: one PNG per figure, report.md and report.html

Errors are one line, never a traceback: exit status 2 for bad input or options (files
that cannot be read, or an --out that cannot be written, found before any work), 1 for a
failure inside the engine (set DROPENGINE_DEBUG=1 to see its traceback), 130 for Ctrl-C.
Outputs are written atomically (temporary file, then rename).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

from .datasets import PAPER_SIZES, mnist_like_inputs


def demo(args) -> int:
    import dropengine as de
    from ._validation import as_count, as_threads

    as_count(args.samples, "--samples")
    as_count(args.inputs, "--inputs")
    as_threads(args.threads)
    net = de.Network.random(PAPER_SIZES, "logistic", seed=args.seed, dtype=np.float32)
    X = mnist_like_inputs(args.inputs, seed=args.seed)
    gate = de.Dropout(keep=[0.8, 0.5, 0.5, 0.5, 0.5])
    info = de.build_info()
    print(f"dropengine {info['version']}  OpenMP={info['openmp']}  SIMD={info['simd']}  threads={args.threads or info['max_threads']}")
    print(f"{net!r}, dropout keep 0.8 (input) / 0.5 (hidden), {args.inputs} inputs x {args.samples} samples")
    t = time.perf_counter()
    st = de.sample(net, X, gate, args.samples, seed=args.seed, threads=args.threads)
    dt = time.perf_counter() - t
    U, W = de.ensemble(net, X, gate)
    print(f"sampled in {dt:.2f} s ({args.inputs * args.samples / dt:,.0f} samples/s)\n")
    print("layer  units   mean E    mean|E-NWGM|  mean|E-W|   mean|NWGM-W|  max sem(E)")
    for h in range(net.n_layers):
        E, N, Wh = st.E[h], st.nwgm[h], W[h].astype(np.float64)
        print(f"{h + 1:>5}  {E.shape[1]:>5}  {E.mean():8.4f}  {np.abs(E - N).mean():12.2e}  "
              f"{np.abs(E - Wh).mean():10.2e}  {np.abs(N - Wh).mean():12.2e}  {st.sem[h].max():10.2e}")
    print("\nE: Monte Carlo ensemble mean; NWGM: normalized geometric mean (Eq. 37); "
          "W: deterministic ensemble network (Eq. 167).")
    return 0


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


def _load_inputs(path: str) -> np.ndarray:
    from ._io import load_npz

    if path.endswith(".npz"):
        z = load_npz(path, "inputs")
        for key in ("inputs", "X"):
            if key in z:
                return z[key]
        if len(z) == 1:
            return next(iter(z.values()))
        raise CliError(f"inputs: {path!r} holds {sorted(z)}; name the array 'inputs' or 'X'")
    try:
        X = np.load(path, allow_pickle=False)
    except Exception as exc:  # any parse failure of an untrusted file (EOFError when truncated, ...)
        raise CliError(f"inputs: cannot read {path!r} as a .npy file: {exc}") from None
    if not isinstance(X, np.ndarray):  # np.load reads a zip whatever the file's name says
        X.close()
        raise CliError(f"inputs: {path!r} is an .npz archive, not a .npy file; name it .npz")
    return X


def _floats(text: str, name: str):
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        raise CliError(f"{name}: expected a number or a comma-separated list, got {text!r}") from None
    return vals[0] if len(vals) == 1 else vals


def _gate(args, model_gate=None):
    """The gate the options ask for. A PyTorch model's own Dropout layers are the default
    when no --keep is given (keep 0.5 otherwise)."""
    import dropengine as de

    if args.gate == "none":
        return de.NoGate()
    if args.gate == "dropin":
        return de.Dropin(_floats(args.rate, "--rate"))
    if args.keep is None and model_gate is not None and args.on == "units" and float(args.keep_bias) == 1.0:
        return model_gate
    keep = _floats("0.5" if args.keep is None else args.keep, "--keep")
    return de.Dropout(keep, on=args.on, keep_bias=float(args.keep_bias))


def _load_torch(path: str, args):
    """(Network, the model's gate) from a PyTorch file: a whole pickled nn.Sequential (with
    --trust-pickle: unpickling runs code), or a state_dict of Linear layers (read safely,
    weights only; its gate is None)."""
    try:
        import torch
    except ImportError:
        raise CliError(f"network: reading the PyTorch file {path!r} needs PyTorch: pip install torch") from None
    from pathlib import Path

    from .torch import from_torch, require_safe_load

    if not Path(path).is_file():
        raise CliError(f"network: no such file {path!r}")
    try:
        require_safe_load(torch)
    except ImportError as exc:
        raise CliError(f"network: {exc}") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not args.trust_pickle)
    except Exception as exc:  # torch raises several types (UnpicklingError, RuntimeError, EOFError ...)
        if not args.trust_pickle and "Weights only load failed" in str(exc):
            raise CliError(f"network: {path!r} holds a whole pickled model, and unpickling runs code from the file; "
                           "if you trust it, pass --trust-pickle (or save model.state_dict() instead)") from None
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CliError(f"network: cannot read {path!r} as a PyTorch file: {first}") from None
    if isinstance(obj, torch.nn.Module):
        return from_torch(obj)
    if not hasattr(obj, "keys"):
        raise CliError(f"network: {path!r} holds a {type(obj).__name__}, not a model or a state_dict")
    transfer = [t.strip() for t in args.transfer.split(",")]
    net, _ = from_torch(obj, transfer=transfer[0] if len(transfer) == 1 else transfer)
    return net, None  # a state_dict says nothing of dropout: --keep (default 0.5) decides


def _common(args):
    import dropengine as de

    if args.network.endswith((".pt", ".pth")):
        net, model_gate = _load_torch(args.network, args)
    else:
        net, model_gate = de.Network.load(args.network), None
    return net, _load_inputs(args.inputs), _gate(args, model_gate)


def _out(args):
    """The output file, checked writable before any work: a late failure would lose the run."""
    from pathlib import Path

    from ._io import check_writable

    path = Path(args.out)
    if not path.name:
        raise CliError(f"--out: expected a file name, got {args.out!r}")
    if path.suffix != ".npz":  # where save_npz_atomic will write
        path = path.with_name(path.name + ".npz")
    try:
        return check_writable(path, "--out")
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _save_stats(st, path, quiet: bool, what: str) -> int:
    """Saves statistics atomically and, unless quiet, prints a per-layer summary."""
    path = st.save(path)
    if quiet:
        return 0
    print("layer  units   mean E    mean Var   mean|E-NWGM|")
    for h, (E, V, N) in enumerate(zip(st.E, st.var, st.nwgm)):
        with np.errstate(invalid="ignore"):
            gap = np.nanmean(np.abs(E - N)) if np.isfinite(N).any() else float("nan")
        print(f"{h + 1:>5}  {E.shape[1]:>5}  {E.mean():8.4f}  {V.mean():9.2e}  {gap:12.2e}")
    print(f"{what} written to {path}")
    return 0


def cmd_sample(args) -> int:
    import dropengine as de

    out = _out(args)
    net, X, gate = _common(args)
    st = de.sample(net, X, gate, args.samples, seed=args.seed, threads=args.threads, precision=args.precision)
    return _save_stats(st, out, args.quiet, f"statistics of {st.n_inputs} inputs x {st.n_samples} samples")


def cmd_enumerate(args) -> int:
    from .exact import enumerate as enumerate_subnetworks

    out = _out(args)
    net, X, gate = _common(args)
    st = enumerate_subnetworks(net, X, gate, threads=args.threads, max_subnetworks=args.max_subnetworks)
    return _save_stats(st, out, args.quiet, f"exact statistics over {st.n_samples} subnetworks")


def cmd_ensemble(args) -> int:
    import dropengine as de
    from ._io import save_npz_atomic

    out = _out(args)
    net, X, gate = _common(args)
    U, W = de.ensemble(net, X, gate, threads=args.threads)
    arrays = {f"U{h}": u for h, u in enumerate(U)}
    arrays.update({f"W{h}": w for h, w in enumerate(W)})
    path = save_npz_atomic(out, arrays)
    if not args.quiet:
        print(f"U0..U{len(U) - 1} and W0..W{len(W) - 1} of {X.shape[0] if X.ndim > 1 else 1} inputs written to {path}")
    return 0


def cmd_reproduce(args) -> int:
    from pathlib import Path

    from . import build_info
    from .experiments import EXPERIMENTS
    from .experiments.report import write

    names = list(EXPERIMENTS) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise CliError(f"--only: unknown experiment(s) {unknown}; choose from {list(EXPERIMENTS)}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out: {str(out)!r} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"--out: cannot create the folder {str(out)!r}: {exc.strerror or exc}") from None
    from ._io import check_writable

    try:  # a read-only folder would otherwise fail at the first figure, after minutes of work
        check_writable(out / "report.md", "--out")
    except ValueError as exc:
        raise CliError(str(exc)) from None
    old = None
    if args.compare is not None:  # before the run: a wrong folder should not cost minutes
        from .experiments.report import load_claims

        old = load_claims(args.compare)
    quick = not args.full
    try:
        from tqdm import tqdm
    except ImportError:  # progress bars are optional
        tqdm = None
    bar = tqdm(names, desc="experiments", disable=args.quiet) if tqdm else names
    results, seconds = [], {}
    t_run = time.perf_counter()
    for name in bar:
        if tqdm is None and not args.quiet:
            print(f"running {name} ...", flush=True)
        if tqdm:
            bar.set_postfix_str(name)
        t = time.perf_counter()
        results.append(EXPERIMENTS[name].run(out, quick=quick, seed=args.seed, threads=args.threads,
                                             progress=bool(tqdm) and not args.quiet))
        seconds[name] = round(time.perf_counter() - t, 1)
    info = build_info()
    threads = args.threads or info["max_threads"]
    header = (f"{'quick' if quick else 'full'} run, seed {args.seed}, dropengine {info['version']} "
              f"(OpenMP {info['openmp']}, SIMD {info['simd']}, {threads} threads).")
    meta = {"mode": "quick" if quick else "full", "seed": args.seed, "version": info["version"],
            "threads": threads, "wall_seconds": {**seconds, "total": round(time.perf_counter() - t_run, 1)}}
    md, page = write(results, out, header, meta)
    if not args.quiet:
        fnd = [c for r in results for c in r.claims if c.kind == "finding"]
        ids = [c for r in results for c in r.claims if c.kind == "identity"]
        print(f"findings: {sum(c.agrees for c in fnd)}/{len(fnd)} agree; identity checks: "
              f"{sum(c.agrees for c in ids)}/{len(ids)} hold; {meta['wall_seconds']['total']:.0f} s; report: {page} "
              f"and {md}")
    if old is not None:
        from .experiments.report import compare, load_claims

        new = load_claims(out)
        ran = {r.name for r in results}
        old = {k: v for k, v in old.items() if v.get("experiment") in ran}  # --only: compare what ran
        lines = compare(old, new)
        print(f"compared with {args.compare}: {len(lines)} claim(s) moved")
        for line in lines:
            print(line)
    return 0


def _add_io(p, out_default: str) -> None:
    p.add_argument("network", help="network saved with Network.save (.npz), or a PyTorch model file (.pt, .pth)")
    p.add_argument("inputs", help="inputs (n_inputs, n_in): .npy, or .npz with an array 'inputs' or 'X'")
    p.add_argument("--gate", choices=["dropout", "dropin", "none"], default="dropout")
    p.add_argument("--keep", default=None, help="keep probability: one value, or one per layer (0.8,0.5,...); "
                   "default 0.5, or a PyTorch model's own Dropout layers")
    p.add_argument("--transfer", default="logistic",
                   help="PyTorch state_dict files: transfer function(s), one or one per layer (logistic,tanh,softmax)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="PyTorch files: also read a whole pickled model (runs code from the file)")
    p.add_argument("--on", choices=["units", "connections"], default="units")
    p.add_argument("--keep-bias", default="1.0", help="probability that a bias is kept (Eq. 9)")
    p.add_argument("--rate", default="0.2", help="dropin rate (with --gate dropin)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=out_default, help=f"output file (default {out_default})")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, like every other error of the command."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="dropengine", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    d = sub.add_parser("demo", help="sample the paper's 784-1200x4-10 network; E vs NWGM vs W per layer")
    d.add_argument("--samples", type=int, default=2000, help="samples per input (default 2000)")
    d.add_argument("--inputs", type=int, default=10, help="number of inputs (default 10)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--threads", type=int, default=None)
    d.set_defaults(func=demo)
    sp = sub.add_parser("sample", help="Monte Carlo statistics of a saved network -> .npz")
    _add_io(sp, "stats.npz")
    sp.add_argument("--samples", type=int, default=1000)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--precision", choices=["bf16"], default=None,
                    help="bf16: bfloat16 products for the layers fed by hidden units (opt-in; faster where the "
                         "CPU has AVX512_BF16; see build_info)")
    sp.set_defaults(func=cmd_sample)
    en = sub.add_parser("enumerate", help="exact statistics over every subnetwork -> .npz")
    _add_io(en, "exact.npz")
    en.add_argument("--max-subnetworks", type=int, default=2**30)
    en.set_defaults(func=cmd_enumerate)
    ens = sub.add_parser("ensemble", help="U and W of the deterministic ensemble network -> .npz")
    _add_io(ens, "ensemble.npz")
    ens.set_defaults(func=cmd_ensemble)
    rp = sub.add_parser("reproduce", help="run the paper's experiments; figures, report.md, report.html")
    mode = rp.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller sizes (the default)")
    mode.add_argument("--full", action="store_true", help="the paper's sizes")
    rp.add_argument("--out", default="dropengine-report", help="output folder (default dropengine-report)")
    rp.add_argument("--only", default=None, help="comma-separated experiment names")
    rp.add_argument("--seed", type=int, default=0)
    rp.add_argument("--threads", type=int, default=None)
    rp.add_argument("--quiet", action="store_true")
    rp.add_argument("--compare", default=None, metavar="OLD_DIR",
                    help="after the run, list the claims whose verdict or number moved against OLD_DIR/claims.json")
    rp.set_defaults(func=cmd_reproduce)
    return p


def _one_line(exc) -> str:
    return " ".join(str(exc).split())


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    prog = f"dropengine {args.command}"

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {_one_line(message)}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show  # one line too, not the source line Python adds
            return args.func(args)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except (CliError, ValueError, TypeError, MemoryError, OSError, ImportError) as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # the engine failed (RuntimeError from the core, a bug): not the user's input
        if os.environ.get("DROPENGINE_DEBUG"):
            raise
        print(f"{prog}: internal error: {type(exc).__name__}: {_one_line(exc)} "
              "(DROPENGINE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

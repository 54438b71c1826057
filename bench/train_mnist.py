"""Trains the paper's MNIST network with dropout, and the same network without dropout,
with dropin and with backpercolation, on 2 cores (Sections 10.2, 11.6).

Network 784-1200-1200-1200-1200-10, logistic hidden units, softmax output, float32,
Glorot-uniform initial weights (x4 for logistic units), minibatches of 100, SGD with
momentum and a decreasing learning rate, max-norm on every unit's incoming weights.

  main run     dropout keep 0.8 on the inputs, 0.5 on the hidden units, backpropagation,
               until --minutes have passed (or --epochs are done): test error (ensemble
               network, Eq. 167) and examples/s per epoch, and when it first reached
               --target (1.6%).
  comparisons  --compare-epochs epochs each, same initial weights and settings:
               no dropout; dropin (units set to 1 with probability 0.2 on the inputs and
               0.5 on the hidden units: the mirror image of the main run, Section 11.6);
               dropout with backpercolation in the backward pass (Section 10.2), at a
               tenth of the learning rate (at the full rate it stays at chance).
               Each is set beside the main run's error after the same number of epochs.

    python bench/train_mnist.py                      # about 30 + 3 x compare minutes
    python bench/train_mnist.py --minutes 5 --compare-epochs 3
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import time

import numpy as np

import dropengine as de
from _harness import append_results, machine as machine_info
from dropengine.datasets import PAPER_SIZES

TRANSFER = ["logistic"] * 4 + ["softmax"]
KEEP = [0.8, 0.5, 0.5, 0.5, 0.5]


def settings(args):
    return dict(learning_rate=args.lr, momentum=args.momentum, schedule=("exponential", args.decay, args.warmup),
                max_norm=args.max_norm, batch_size=100, seed=args.seed, threads=args.threads)


def run(name, gate, data, args, *, epochs, minutes=None, backward="backprop", log=functools.partial(print, flush=True)):
    X, y, Xt, yt = data
    net = de.training.init_network(PAPER_SIZES, TRANSFER, scheme="glorot", seed=args.seed)
    opts = settings(args)
    if backward == "backpercolation":
        opts["learning_rate"] = args.backpercolation_lr
    tr = de.Trainer(net, gate, backward=backward, **opts)
    t0 = time.perf_counter()
    reached = {}

    def progress(row):
        el = time.perf_counter() - t0
        if row["test_error"] <= args.target and "epoch" not in reached:
            reached.update(epoch=row["epoch"], minutes=el / 60)
        log(f"  {name:<16} epoch {row['epoch']:>3}  train loss {row['train_loss']:.4f}  "
            f"test error {100 * row['test_error']:6.2f}%  {row['examples_per_s']:7.0f} examples/s  {el / 60:5.1f} min")

    tr.fit(X, y, epochs, X_test=Xt, y_test=yt, progress=progress,
           time_limit=None if minutes is None else 60 * minutes)
    h = tr.history
    return tr, {"name": name, "epochs": len(h["epoch"]), "test_error": h["test_error"],
                "train_loss": h["train_loss"], "examples_per_s": float(np.median(h["examples_per_s"])),
                "minutes": (time.perf_counter() - t0) / 60, "reached_target": reached or None}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0, help="time budget of the main run")
    ap.add_argument("--epochs", type=int, default=1000, help="epoch limit of the main run")
    ap.add_argument("--compare-epochs", type=int, default=20)
    ap.add_argument("--skip-compare", action="store_true")
    ap.add_argument("--compare", default="no dropout,dropin,backpercolation",
                    help="which comparison runs (comma-separated)")
    ap.add_argument("--skip-main", action="store_true", help="comparison runs only")
    ap.add_argument("--target", type=float, default=0.016)
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--backpercolation-lr", type=float, default=0.05,
                    help="learning rate of the backpercolation run: its coins pass the whole signal, so the "
                         "step must be smaller (at --lr it stays at chance)")
    ap.add_argument("--momentum", type=float, default=0.95)
    ap.add_argument("--decay", type=float, default=0.98, help="learning rate factor per epoch after the warm-up")
    ap.add_argument("--warmup", type=int, default=4, help="epochs of linear learning-rate warm-up")
    ap.add_argument("--max-norm", type=float, default=3.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--save", help="save the main run's trained network here (.npz)")
    args = ap.parse_args()

    m = de.datasets.load_mnist()
    data = m.arrays()
    print(f"MNIST from {m.source}; {args.threads} threads; settings {settings(args)}")
    results, main_run = [], None
    if not args.skip_main:
        print("main run: dropout keep 0.8 / 0.5, backpropagation")
        tr, main_run = run("dropout", de.Dropout(KEEP), data, args, epochs=args.epochs, minutes=args.minutes)
        results.append(main_run)
        if args.save:
            tr.network.save(args.save)
            print(f"trained network saved to {args.save}")
    comparisons = {"no dropout": (None, "backprop"), "dropin": (de.Dropin([0.2, 0.5, 0.5, 0.5, 0.5]), "backprop"),
                   "backpercolation": (de.Dropout(KEEP), "backpercolation")}
    wanted = [c.strip() for c in args.compare.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in comparisons]
    if unknown:
        ap.error(f"--compare: unknown {unknown}; choose from {list(comparisons)}")
    if not args.skip_compare:
        for name in wanted:
            gate, backward = comparisons[name]
            print(f"comparison: {name}, {args.compare_epochs} epochs")
            results.append(run(name, gate, data, args, epochs=args.compare_epochs, backward=backward)[1])
    if main_run is None:
        for res in results:
            print(f"  {res['name']}: {100 * res['test_error'][-1]:.2f}% after {res['epochs']} epochs")
        append_results(os.path.join(os.path.dirname(__file__), "results", "train_mnist.jsonl"), [{
            "bench": "train_mnist", "settings": vars(args), "runs": results, "claims": {},
            "machine": machine_info(args.threads), "time": time.strftime("%Y-%m-%d %H:%M:%S")}])
        return
    print("\nsummary (test error of the ensemble network)")
    best = min(main_run["test_error"])
    r = main_run["reached_target"]
    print(f"  dropout: {100 * main_run['test_error'][-1]:.2f}% after {main_run['epochs']} epochs "
          f"({main_run['minutes']:.1f} min, best {100 * best:.2f}%, {main_run['examples_per_s']:.0f} examples/s); "
          + (f"reached {100 * args.target:.1f}% at epoch {r['epoch']} ({r['minutes']:.1f} min)" if r
             else f"did not reach {100 * args.target:.1f}%"))
    claims = {}
    if len(results) > 1:
        k = args.compare_epochs
        ref = main_run["test_error"][k - 1] if main_run["epochs"] >= k else float("nan")
        print(f"  after {k} epochs: dropout {100 * ref:.2f}%", end="")
        for res in results[1:]:
            print(f", {res['name']} {100 * res['test_error'][-1]:.2f}% (best {100 * min(res['test_error']):.2f}%)",
                  end="")
        print()
        errs = {res["name"]: res["test_error"][-1] for res in results[1:]}
        if "no dropout" in errs:
            claims["dropout beats no dropout (same epochs)"] = ref < errs["no dropout"]
            claims["dropout's final error beats no dropout's best"] = main_run["test_error"][-1] < min(
                results[1 + list(errs).index("no dropout")]["test_error"])
        if "dropin" in errs:
            claims["dropin does worst"] = errs["dropin"] > max([ref] + [v for n, v in errs.items() if n != "dropin"])
        if "backpercolation" in errs:
            claims["backpercolation trains (well below chance 90%)"] = errs["backpercolation"] < 0.5
        for c, ok in claims.items():
            print(f"  {c}: {'yes' if ok else 'NO'}")
    append_results(os.path.join(os.path.dirname(__file__), "results", "train_mnist.jsonl"), [{
        "bench": "train_mnist", "settings": {k: v for k, v in vars(args).items()}, "runs": results,
        "claims": claims, "machine": machine_info(args.threads), "time": time.strftime("%Y-%m-%d %H:%M:%S")}])
    print(json.dumps({"best_test_error": best, "reached_target": r}, default=str))


if __name__ == "__main__":
    main()

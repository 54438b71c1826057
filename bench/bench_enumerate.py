"""Exact enumeration of a single logistic layer, against NumPy and PyTorch enumerations.

One logistic unit with n = 20 and n = 24 inputs, each dropped with p = 1/2 (2^n
subnetworks), float64. Every engine computes the same exact statistics: E(O), Var(O),
log G, log G' (Eq. 35-36, hence NWGM) and E(S), Var(S). The peers are the obvious
vectorised enumeration, given the same algebra: the gates split in two halves so that
S = a + b is a broadcast sum and P = P_A P_B an outer product (every weighted sum is a
BLAS product pa @ F @ pb), the moments of S come from the halves, log(1 - O) = log O - S,
and only O and log O are evaluated per subnetwork (sigmoid and log-sigmoid for PyTorch,
exp and log1p for NumPy), in cache-sized chunks. All engines'
results are checked against each other before timing. Reported: subnetworks/s and the
ratio to the best peer (target: 5x at n = 24). Also timed: dropengine's general
Gray-code walk on the same layer (the route every other network takes), and
linear_moments on a 784-200-200-10 linear network (Eq. 15-26; target well under 1 s).

    python bench/bench_enumerate.py --quick     # about a minute on 2 cores
"""
from __future__ import annotations

import argparse
import os

import numpy as np

import dropengine as de
from _harness import append_results, machine as machine_info, timed
from dropengine.exact import enumerate as enumerate_subnetworks
from dropengine.exact import dropout_gradient, linear_moments

FIELDS = ("E", "var", "log_G", "log_Gc", "E_S", "var_S")


def halves(w, x, p):
    """Subset sums and probabilities of the two halves of the gates (a: outer, b: inner)."""
    n = w.size
    m = n // 2
    c = w * x

    def part(cs, ps):
        k = cs.size
        bits = (np.arange(2**k)[:, None] >> np.arange(k)) & 1
        return bits @ cs, np.prod(np.where(bits == 1, ps, 1 - ps), axis=1)

    b, pb = part(c[:m], p[:m])
    a, pa = part(c[m:], p[m:])
    return a, pa, b, pb


def stats_from_sums(s, a, pa, b, pb):
    """s = (sum P O, sum P O^2, sum P log O); the moments of S = a + b come from the halves."""
    o, o2, lo = s
    W = pa.sum() * pb.sum()
    Ea, Eb = pa @ a / pa.sum(), pb @ b / pb.sum()
    ES = Ea + Eb
    var_S = pa @ (a - Ea) ** 2 / pa.sum() + pb @ (b - Eb) ** 2 / pb.sum()
    E = o / W
    # log(1 - O) = log O - S, so sum P log(1 - O) needs no extra transcendental
    return {"E": E, "var": o2 / W - E**2, "log_G": lo / W, "log_Gc": lo / W - ES, "E_S": ES, "var_S": var_S}


def numpy_enumerate(w, x, p, chunk_rows=16):
    """P = P_A P_B is an outer product, so every P-weighted sum is pa @ F @ pb (BLAS)."""
    a, pa, b, pb = halves(w, x, p)
    s = np.zeros(3)
    for r0 in range(0, a.size, chunk_rows):
        T = np.exp(-(a[r0:r0 + chunk_rows, None] + b[None, :]))
        O = 1.0 / (1.0 + T)
        logO = -np.log1p(T)
        q = pa[r0:r0 + chunk_rows]
        s += (q @ O @ pb, q @ (O * O) @ pb, q @ logO @ pb)
    return stats_from_sums(s, a, pa, b, pb)


def torch_enumerate(w, x, p, threads, chunk_rows=16):
    import torch
    torch.set_num_threads(threads)
    ha = halves(w, x, p)
    a, pa, b, pb = (torch.from_numpy(v) for v in ha)
    s = torch.zeros(3, dtype=torch.float64)
    with torch.no_grad():
        for r0 in range(0, a.numel(), chunk_rows):
            S = a[r0:r0 + chunk_rows, None] + b[None, :]
            O = torch.sigmoid(S)
            logO = torch.nn.functional.logsigmoid(S)
            q = pa[r0:r0 + chunk_rows]
            s += torch.stack([q @ O @ pb, q @ (O * O) @ pb, q @ logO @ pb])
    return stats_from_sums(s.numpy(), *ha)


def dropengine_enumerate(net, x, threads, halves_route=True):
    st = enumerate_subnetworks(net, x[None, :], de.Dropout(0.5), threads=threads, _halves=halves_route)
    return {k: float(getattr(st, k)[0][0, 0]) for k in FIELDS}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", default="bench/results/enumerate.jsonl")
    args = ap.parse_args()
    repeats = 3 if args.quick else 7
    info = de.build_info()
    machine = machine_info(args.threads)
    print(f"machine: {machine['cpu']}, {args.threads} threads; dropengine SIMD {info['simd']}")
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        print("torch: not installed (pip install torch==2.13.0); skipped")
    results = []
    rng = np.random.default_rng(0)
    for n in (20, 24):
        w, x, p = rng.normal(size=n), rng.normal(size=n), np.full(n, 0.5)
        net = de.Network([w[None, :]], None, de.Logistic(), dtype=np.float64)
        engines = {"dropengine": lambda: dropengine_enumerate(net, x, args.threads),
                   "numpy": lambda: numpy_enumerate(w, x, p)}
        if have_torch:
            engines["torch"] = lambda: torch_enumerate(w, x, p, args.threads)
        if n == 20:
            engines["dropengine (general walk)"] = lambda: dropengine_enumerate(net, x, args.threads, False)
        ref = engines["dropengine"]()
        for name, fn in engines.items():
            got = fn()
            for k in FIELDS:
                if not np.isclose(got[k], ref[k], rtol=1e-9, atol=1e-12):
                    raise SystemExit(f"{name} disagrees with dropengine on {k} at n={n}: {got[k]} vs {ref[k]}")
        rows = {}
        for name, fn in engines.items():
            med, lo, hi = timed(fn, repeats)
            rows[name] = 2**n / med
            results.append({"bench": "enumerate", "n": n, "engine": name, "subnetworks_per_s": rows[name],
                            "median_s": med, "min_s": lo, "max_s": hi, **machine})
        best_peer = max(v for k, v in rows.items() if not k.startswith("dropengine"))
        print(f"\n[single logistic unit, n = {n}, p = 1/2, float64] 2^{n} subnetworks, median of {repeats}; "
              f"statistics agree to 1e-9")
        print(f"  {'engine':<26} {'subnetworks/s':>15} {'x best peer':>12}")
        for name, rate in rows.items():
            print(f"  {name:<26} {rate:>15,.0f} {rate / best_peer:>12.2f}")
        print(f"  dropengine / best peer = {rows['dropengine'] / best_peer:.2f}x")

    # Exact linear moments of a 784-200-200-10 network (Eq. 15-26).
    sizes = (784, 200, 200, 10)
    Ws = [rng.normal(size=(o, i)) / np.sqrt(i) for i, o in zip(sizes[:-1], sizes[1:])]
    lin = de.Network(Ws, None, de.Linear(), dtype=np.float64)
    X = rng.uniform(size=(10, 784))
    print(f"\n[linear_moments, {'-'.join(map(str, sizes))}, full {sum(sizes[1:])}^2 covariance]")
    for on in ("units", "connections"):
        for n_in in (1, 10):
            med, lo, hi = timed(lambda: linear_moments(lin, X[:n_in], de.Dropout(0.5, on=on)), repeats)
            print(f"  {on:<12} {n_in:>2} input(s): {med * 1e3:8.1f} ms")
            results.append({"bench": "linear_moments", "sizes": sizes, "gate": on, "n_inputs": n_in,
                            "median_s": med, "min_s": lo, "max_s": hi, **machine})
    # Not a timing: how close Eq. 164 comes to the exact expected dropout gradient.
    print("\n[Eq. 164, one logistic unit, 10 inputs, p = 1/2, relative entropy, target 0.8]")
    print(f"  {'weight scale':>12} {'|E(dE_D/dw) - Eq.164| / |E(dE_D/dw)|':>38} {'same, regulariser only':>24}")
    w0, I = rng.normal(size=(1, 10)), rng.normal(size=(1, 10))
    for scale in (2.0, 1.0, 0.5, 0.25):
        g = dropout_gradient(de.Network([w0 * scale], None, de.Logistic()), I, [[0.8]], de.Dropout(0.5),
                             loss="relative_entropy")
        full = np.linalg.norm(g.expected[0] - g.approx_164[0]) / np.linalg.norm(g.expected[0])
        reg = np.linalg.norm(g.expected[0] - g.approx_164[0]) / np.linalg.norm(g.expected[0] - g.ensemble[0])
        print(f"  {scale:>12.2f} {full:>38.2e} {reg:>24.2e}")
        results.append({"bench": "eq164_gap", "scale": scale, "rel_gap": full, "rel_gap_regulariser": reg})
    append_results(args.out, results)


if __name__ == "__main__":
    main()

// Exact enumeration (enumerate.h): closed forms of the paper, the split-halves route
// against the Gray-code walk, every ISA's kernel against the portable one, and the
// refusal of oversized requests.
#include <cmath>
#include <random>
#include <vector>

#include "check.h"
#include "dropengine/enumerate.h"
#include "kernels/kernels.h"

using namespace dropengine;

namespace {

NetworkView<double> one_layer(const std::vector<double>& W, std::int64_t n_out, std::int64_t n_in, TransferKind k) {
    NetworkView<double> net;
    LayerView<double> l;
    l.W = W.data();
    l.n_out = n_out;
    l.n_in = n_in;
    l.f.kind = k;
    net.layers.push_back(l);
    return net;
}

Gate dropout(double p, std::size_t layers) {
    Gate g;
    g.kind = GateKind::Units;
    g.p.assign(layers, std::vector<double>{p});
    return g;
}

}  // namespace

int main() {
    std::mt19937_64 rng(7);
    std::normal_distribution<double> N01;

    // Eq. 5: one linear unit, p = 1/2: E(S) = sum w_i I_i / 2; Eq. 11: Var(S) = sum w^2 I^2 / 4.
    {
        const std::int64_t n = 12;
        std::vector<double> W(n), I(n);
        for (auto& v : W) v = N01(rng);
        for (auto& v : I) v = N01(rng);
        const auto net = one_layer(W, 1, n, TransferKind::Linear);
        const SampleStats st = enumerate<double>(net, dropout(0.5, 1), I.data(), 1, EnumerateOptions{});
        double half = 0, var = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            half += W[i] * I[i] / 2;
            var += W[i] * W[i] * I[i] * I[i] / 4;
        }
        CHECK_NEAR(st.mean_S[0], half, 1e-13);
        CHECK_NEAR(st.m2_S[0] / st.count[0], var, 1e-12);
        CHECK_NEAR(st.count[0], 1.0, 1e-14);
    }

    // Split halves vs the Gray-code walk, one logistic layer of 3 units with 16 gates.
    {
        const std::int64_t n = 16, k = 3;
        std::vector<double> W(k * n), I(2 * n);
        for (auto& v : W) v = N01(rng);
        for (auto& v : I) v = N01(rng);
        const auto net = one_layer(W, k, n, TransferKind::Logistic);
        EnumerateOptions fast, slow;
        slow.allow_halves = false;
        const SampleStats a = enumerate<double>(net, dropout(0.3, 1), I.data(), 2, fast);
        const SampleStats b = enumerate<double>(net, dropout(0.3, 1), I.data(), 2, slow);
        for (std::size_t u = 0; u < a.mean.size(); ++u) {
            CHECK_NEAR(a.mean[u], b.mean[u], 1e-13);
            CHECK_NEAR(a.m2[u], b.m2[u], 1e-13);
            CHECK_NEAR(a.slog[u], b.slog[u], 1e-12 * std::fabs(b.slog[u]) + 1e-14);
            CHECK_NEAR(a.slogc[u], b.slogc[u], 1e-12 * std::fabs(b.slogc[u]) + 1e-14);
            CHECK_NEAR(a.mean_dO[u], b.mean_dO[u], 1e-13);
            // Eq. 39: NWGM = sigma(E(S)) for a logistic layer
            const double nwgm = 1.0 / (1.0 + std::exp(b.slogc[u] - b.slog[u]));
            CHECK_NEAR(nwgm, 1.0 / (1.0 + std::exp(-b.mean_S[u])), 1e-13);
        }
    }

    // Every compiled ISA variant of the kernel against the portable one, awkward lengths.
    {
        std::vector<double> B(1000);
        for (auto& v : B) v = std::exp(N01(rng));
        for (std::int64_t n : {0, 1, 15, 16, 17, 999}) {
            double r1[3], r2[3];
            detail::kernels_generic<double>().logistic_run(B.data(), n, 0.7, 0.4, r1);
            detail::kernels<double>().logistic_run(B.data(), n, 0.7, 0.4, r2);
            double s1 = 0, s2 = 0, lp = 0;
            for (std::int64_t r = 0; r < n; ++r) {
                const double u = 1 + 0.7 * B[r], d = 1 / u - 0.4;
                s1 += d; s2 += d * d; lp += std::log(u);
            }
            for (const double* r : {r1, r2}) {
                CHECK_NEAR(r[0], s1, 1e-12);
                CHECK_NEAR(r[1], s2, 1e-12);
                CHECK_NEAR(r[2], lp, 1e-12 * (1 + std::fabs(lp)));
            }
        }
    }

    // Deep network, connection gates, pairs: same bits for 1 and 3 threads (and under
    // the sanitizers, a multi-threaded walk over every code path of the general route).
    {
        std::vector<double> W1(4 * 3), b1(4), W2(2 * 4), I(2 * 3);
        for (auto* v : {&W1, &b1, &W2, &I})
            for (auto& x : *v) x = N01(rng);
        NetworkView<double> net;
        LayerView<double> l1, l2;
        l1.W = W1.data(); l1.b = b1.data(); l1.n_out = 4; l1.n_in = 3; l1.f.kind = TransferKind::Tanh;
        l2.W = W2.data(); l2.n_out = 2; l2.n_in = 4; l2.f.kind = TransferKind::Softmax;
        net.layers = {l1, l2};
        for (GateKind kind : {GateKind::Units, GateKind::Connections, GateKind::Dropin}) {
            Gate g;
            g.kind = kind;
            g.p = {{0.6}, {kind == GateKind::Connections ? 1.0 : 0.3}};  // 2^16 subnetworks at most
            if (kind != GateKind::Dropin) g.keep_bias = {0.5, 1.0};
            EnumerateOptions o1, o3;
            o1.threads = 1;
            o3.threads = 3;
            o1.pairs = o3.pairs = {{0, 5}, {4, 5}, {1, 1}};
            const SampleStats a = enumerate<double>(net, g, I.data(), 2, o1);
            const SampleStats b = enumerate<double>(net, g, I.data(), 2, o3);
            CHECK(a.mean == b.mean && a.m2 == b.m2 && a.comoment == b.comoment && a.mean_S == b.mean_S);
            CHECK_NEAR(a.count[1], 1.0, 1e-13);
            // The softmax layer's expected outputs sum to 1.
            CHECK_NEAR(a.mean[4] + a.mean[5], 1.0, 1e-13);
        }
    }

    // Refusal before any work.
    {
        std::vector<double> W(40, 0.1), I(40, 1.0);
        const auto net = one_layer(W, 1, 40, TransferKind::Logistic);
        EnumerateOptions opt;
        opt.max_log2 = 30;
        CHECK(free_gates<double>(net, dropout(0.5, 1)) == 40);
        CHECK_THROWS(enumerate<double>(net, dropout(0.5, 1), I.data(), 1, opt));
        CHECK(free_gates<double>(net, dropout(1.0, 1)) == 0);
    }
    return finish("test_enumerate");
}

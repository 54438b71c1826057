// The trainer without Python: its kernels against the portable ones and plain loops,
// the gradient of a tiny network against finite differences, bit-identity across
// thread counts and across saved state, and input validation.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "aligned.h"
#include "check.h"
#include "dropengine/dropengine.h"
#include "kernels/kernels.h"

using namespace dropengine;

namespace {

template <class T>
void check_kernels() {
    using namespace detail;
    const auto& fast = kernels<T>();
    const auto& plain = kernels_generic<T>();
    std::mt19937 g(3);
    std::uniform_real_distribution<double> u(-1, 1);
    constexpr std::int64_t TILE = kTile<T>;
    const std::int64_t B = 37, n_in = 150, n_out = 141, nt = n_tiles<T>(n_out), ldo = nt * TILE + 64 / sizeof(T);
    AlignedVector<T> Wp(static_cast<std::size_t>(nt * n_in * TILE), T(0)), D(static_cast<std::size_t>(B * ldo), T(0));
    std::vector<T> W(static_cast<std::size_t>(n_out * n_in));
    for (std::int64_t i = 0; i < n_out; ++i)
        for (std::int64_t j = 0; j < n_in; ++j) {
            W[i * n_in + j] = static_cast<T>(u(g));
            Wp[((i / TILE) * n_in + j) * TILE + i % TILE] = W[i * n_in + j];
        }
    for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t i = 0; i < n_out; ++i) D[b * ldo + i] = u(g) < 0 ? T(0) : static_cast<T>(u(g));
    // dot_rows: G = D W, each fast variant against plain loops (and the portable kernel).
    std::vector<T> G1(static_cast<std::size_t>(B * n_in)), G2(G1.size());
    fast.dot_rows(D.data(), ldo, 0, B, Wp.data(), n_in, n_out, 0, n_in, G1.data(), n_in);
    plain.dot_rows(D.data(), ldo, 0, B, Wp.data(), n_in, n_out, 0, n_in, G2.data(), n_in);
    double err = 0;
    for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t j = 0; j < n_in; ++j) {
            double s = 0;
            for (std::int64_t i = 0; i < n_out; ++i) s += static_cast<double>(D[b * ldo + i]) * W[i * n_in + j];
            err = std::max({err, std::fabs(s - G1[b * n_in + j]), std::fabs(s - G2[b * n_in + j])});
        }
    CHECK(err < (sizeof(T) == 4 ? 1e-4 : 1e-12));
    // skip_gemm over the columns of D (the weight-gradient form), split into two row ranges.
    std::vector<std::int32_t> idx(static_cast<std::size_t>(n_out * B)), start(static_cast<std::size_t>(n_out * (B / kSlabRows + 2)));
    std::vector<T> val(idx.size());
    AlignedVector<T> A(static_cast<std::size_t>(B * n_in)), out(static_cast<std::size_t>(nt * n_in * TILE)),
        out2(out.size());
    for (auto& a : A) a = u(g) < 0 ? T(0) : static_cast<T>(u(g));
    std::vector<std::int32_t> idx2(static_cast<std::size_t>(n_in * B)), start2(static_cast<std::size_t>(n_in * (B / kSlabRows + 2)));
    std::vector<T> val2(idx2.size());
    fast.sparse_lists(A.data(), 1, n_in, 0, n_in, B, idx2.data(), val2.data(), start2.data());
    const SparseRows<T> At{idx2.data(), val2.data(), start2.data(), B};
    for (std::int64_t t = 0; t < nt; ++t) {
        fast.skip_gemm(At, 0, 70, D.data(), TILE, ldo, t, t + 1, n_out, out.data(), TILE, n_in * TILE, false);
        fast.skip_gemm(At, 70, n_in, D.data(), TILE, ldo, t, t + 1, n_out, out.data(), TILE, n_in * TILE, false);
        plain.skip_gemm(At, 0, n_in, D.data(), TILE, ldo, t, t + 1, n_out, out2.data(), TILE, n_in * TILE, false);
    }
    err = 0;
    for (std::int64_t i = 0; i < n_out; ++i)
        for (std::int64_t j = 0; j < n_in; ++j) {
            double s = 0;
            for (std::int64_t b = 0; b < B; ++b) s += static_cast<double>(D[b * ldo + i]) * A[b * n_in + j];
            const std::size_t e = static_cast<std::size_t>(((i / TILE) * n_in + j) * TILE + i % TILE);
            err = std::max({err, std::fabs(s - out[e]), std::fabs(s - out2[e])});
        }
    CHECK(err < (sizeof(T) == 4 ? 1e-4 : 1e-12));
    // sgd_momentum: every variant gives the same bits (elementwise, contraction aside).
    std::vector<T> w1(1000), v1(1000), gr(1000);
    for (std::size_t e = 0; e < w1.size(); ++e) { w1[e] = static_cast<T>(u(g)); v1[e] = static_cast<T>(u(g)); gr[e] = static_cast<T>(u(g)); }
    auto w2 = w1, v2 = v1;
    fast.sgd_momentum(w1.data(), v1.data(), gr.data(), 1000, T(0.9), T(0.1), T(0.01));
    plain.sgd_momentum(w2.data(), v2.data(), gr.data(), 1000, T(0.9), T(0.1), T(0.01));
    err = 0;
    for (std::size_t e = 0; e < w1.size(); ++e) err = std::max(err, std::fabs(static_cast<double>(w1[e]) - w2[e]));
    CHECK(err < (sizeof(T) == 4 ? 1e-6 : 1e-15));
}

struct Tiny {
    std::vector<double> W1, b1, W2;
    NetworkView<double> net;
    Tiny() {
        std::mt19937 g(1);
        std::normal_distribution<double> n(0, 0.7);
        W1.resize(6 * 4);
        b1.resize(6);
        W2.resize(3 * 6);
        for (auto* v : {&W1, &b1, &W2})
            for (auto& x : *v) x = n(g);
        LayerView<double> l1{W1.data(), b1.data(), 6, 4, {}}, l2{W2.data(), nullptr, 3, 6, {}};
        l1.f.kind = TransferKind::Logistic;
        l2.f.kind = TransferKind::Softmax;
        net.layers = {l1, l2};
    }
};

double loss_of(const NetworkView<double>& net, const double* X, const std::int32_t* y, std::int64_t n) {
    TrainOptions o;
    Trainer<double> t(net, Gate{}, o);
    TrainData<double> d{X, y, nullptr, n};
    std::vector<std::vector<double>> gW, gb;
    return t.gradient(d, 0, gW, gb) / static_cast<double>(n);
}

}  // namespace

int main() {
    check_kernels<float>();
    check_kernels<double>();

    Tiny tiny;
    const double X[3 * 4] = {0.1, 0.5, -0.3, 1.0, 0.7, 0.2, 0.0, -0.5, 0.4, 0.4, 0.9, 0.1};
    const std::int32_t y[3] = {2, 0, 1};
    TrainData<double> data{X, y, nullptr, 3};
    // Without a gate the gradient is the derivative of the mean loss (finite differences).
    {
        TrainOptions o;
        Trainer<double> t(tiny.net, Gate{}, o);
        std::vector<std::vector<double>> gW, gb;
        t.gradient(data, 0, gW, gb);
        const double eps = 1e-6;
        for (std::size_t k : {0u, 7u, 23u}) {
            const double w = tiny.W1[k];
            tiny.W1[k] = w + eps;
            const double up = loss_of(tiny.net, X, y, 3);
            tiny.W1[k] = w - eps;
            const double dn = loss_of(tiny.net, X, y, 3);
            tiny.W1[k] = w;
            CHECK_NEAR(gW[0][k], (up - dn) / (2 * eps), 1e-7);
        }
    }
    // Unit dropout and backpercolation: same weights for 1 and 3 threads, and a run
    // stopped, saved and restored continues to the same bits.
    Gate gate;
    gate.kind = GateKind::Units;
    gate.p = {{0.8}, {0.5}};
    auto options = [&](int threads) {
        TrainOptions o;
        o.batch_size = 2;
        o.momentum = 0.9;
        o.max_norm = 2.0;
        o.backward = {kBackpercolation};
        o.key[0] = 5;
        o.threads = threads;
        return o;
    };
    // Four epochs in one go.
    auto straight = [&](int threads) {
        Trainer<double> t(tiny.net, gate, options(threads));
        for (int e = 0; e < 4; ++e) t.run(data, 0.5, 100);
        std::vector<double> W(24);
        t.get_layer(0, W.data(), nullptr, nullptr, nullptr);
        return W;
    };
    // One minibatch, then the state handed to a fresh trainer, which finishes the four epochs.
    auto resumed = [&](int threads) {
        Trainer<double> t(tiny.net, gate, options(threads));
        std::vector<double> W(24), b(6), vW(24), vb(6), W2(18), b2(3), vW2(18), vb2(3);
        t.run(data, 0.5, 1);
        t.get_layer(0, W.data(), b.data(), vW.data(), vb.data());
        t.get_layer(1, W2.data(), b2.data(), vW2.data(), vb2.data());
        Trainer<double> r(tiny.net, gate, options(threads));
        r.set_layer(0, W.data(), b.data(), vW.data(), vb.data());
        r.set_layer(1, W2.data(), b2.data(), vW2.data(), vb2.data());
        r.set_position(t.position());
        for (int e = 0; e < 4; ++e) r.run(data, 0.5, 100);
        r.get_layer(0, W.data(), nullptr, nullptr, nullptr);
        return W;
    };
    const auto a = straight(1), b = straight(3), c = resumed(2);
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
    CHECK(std::memcmp(a.data(), c.data(), a.size() * sizeof(double)) == 0);
    CHECK(std::memcmp(a.data(), tiny.W1.data(), a.size() * sizeof(double)) != 0);  // it did train
    // save_state / restore_state undo a run, position included; finite sees the weights.
    {
        Trainer<double> t(tiny.net, gate, options(1));
        CHECK_THROWS(t.restore_state());
        t.run(data, 0.5, 1);
        std::vector<double> W0(24), vW0(24), W1(24), vW1(24), b0(6), b1(6);
        t.get_layer(0, W0.data(), b0.data(), vW0.data(), nullptr);
        const TrainPosition p0 = t.position();
        t.save_state();
        t.run(data, 0.5, 2);
        t.get_layer(0, W1.data(), nullptr, nullptr, nullptr);
        CHECK(W1 != W0);
        CHECK(t.finite());
        t.restore_state();
        t.get_layer(0, W1.data(), b1.data(), vW1.data(), nullptr);
        CHECK(W1 == W0 && vW1 == vW0 && b1 == b0);
        CHECK(t.position().step == p0.step && t.position().batch == p0.batch && t.position().epoch == p0.epoch);
        std::vector<double> bad(W0);
        bad[5] = std::numeric_limits<double>::infinity();
        t.set_layer(0, bad.data(), nullptr, nullptr, nullptr);
        CHECK(!t.finite());
        t.restore_state();  // the slot survives a restore
        CHECK(t.finite());
    }
    // Validation before any work.
    {
        TrainOptions o;
        o.backward = {kBackpercolation};
        NetworkView<double> steep = tiny.net;
        steep.layers[0].f.lam = 5.0;
        CHECK_THROWS(Trainer<double>(steep, Gate{}, o));
        o.backward = {};
        o.momentum = 1.0;
        CHECK_THROWS(Trainer<double>(tiny.net, Gate{}, o));
        o.momentum = 0.0;
        Trainer<double> t(tiny.net, Gate{}, o);
        const std::int32_t bad[3] = {0, 3, 1};
        CHECK_THROWS(t.run(TrainData<double>{X, bad, nullptr, 3}, 0.1, 1));
        CHECK_THROWS(t.run(data, 0.0, 1));
        CHECK(t.position().step == 0);
    }
    return finish("test_train");
}

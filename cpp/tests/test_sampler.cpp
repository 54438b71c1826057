// End-to-end checks of the C++ API without Python: a single logistic unit under
// unit dropout, against exact enumeration (2^3 subnetworks), thread invariance,
// kernel variants against the portable kernel, and input validation.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "check.h"
#include "dropengine/dropengine.h"
#include "kernels/kernels.h"
#include "pack.h"

using namespace dropengine;

int main() {
    const double W[3] = {0.5, -1.0, 2.0}, x[3] = {1.0, 0.5, -0.25}, p = 0.6;
    NetworkView<double> net;
    LayerView<double> l;
    l.W = W; l.n_out = 1; l.n_in = 3; l.f.kind = TransferKind::Logistic;
    net.layers.push_back(l);
    Gate gate;
    gate.kind = GateKind::Units;
    gate.p = {{p}};
    // exact E(O) over the 8 subnetworks
    double E = 0, V = 0;
    for (int m = 0; m < 8; ++m) {
        double S = 0, P = 1;
        for (int j = 0; j < 3; ++j) {
            const bool k = (m >> j) & 1;
            S += k ? W[j] * x[j] : 0.0;
            P *= k ? p : 1 - p;
        }
        const double O = 1 / (1 + std::exp(-S));
        E += P * O;
        V += P * O * O;
    }
    V -= E * E;
    SampleOptions opt;
    opt.n_samples = 50000;
    opt.key[0] = 1; opt.key[1] = 2;
    opt.threads = 1;
    const SampleStats st = sample(net, gate, x, 1, opt);
    CHECK(std::fabs(st.mean[0] - E) < 5 * std::sqrt(V / 50000));  // stochastic: 5 standard errors
    opt.threads = 3;
    const SampleStats st3 = sample(net, gate, x, 1, opt);
    CHECK(std::memcmp(&st.mean[0], &st3.mean[0], sizeof(double)) == 0);
    CHECK(std::memcmp(&st.m2[0], &st3.m2[0], sizeof(double)) == 0);

    // Ensemble: U = p sum w x (Eq. 24), W = sigma(U) = NWGM (Eq. 39)
    double U1, W1;
    std::vector<double*> U{&U1}, Wv{&W1};
    ensemble(net, gate, x, 1, U, Wv);
    CHECK_NEAR(U1, p * (0.5 - 0.5 - 0.5), 1e-15);
    const double nwgm = 1 / (1 + std::exp((st.slogc[0] - st.slog[0]) / st.count[0]));
    CHECK_NEAR(nwgm, 1 / (1 + std::exp(-st.mean_S[0])), 1e-12);

    // Every kernel variant against the portable one on awkward sizes.
    for (std::int64_t n_in : {1, 3, 17, 130}) {
        // Output widths that take every part size of the last tile (1 to 8 vectors, and 8 that
        // end inside the last vector: 30 and 60 at the narrower ISAs).
        for (std::int64_t n_out : {1, 2, 20, 30, 40, 60, 64, 65, 90, 100, 128, 129, 300}) {
            const std::int64_t B = 5;
            std::vector<float> A(static_cast<std::size_t>(B * n_in)), Wm(static_cast<std::size_t>(n_out * n_in));
            for (std::size_t k = 0; k < A.size(); ++k) A[k] = (k % 3 == 0) ? 0.0f : static_cast<float>(k % 7) - 3;
            for (std::size_t k = 0; k < Wm.size(); ++k) Wm[k] = static_cast<float>(k % 5) - 2;
            const auto Wp = detail::pack_weights<float>(Wm.data(), n_out, n_in, [](std::int64_t, std::int64_t) { return 1.0; });
            const std::int64_t ld = detail::n_tiles<float>(n_out) * detail::kTile<float>;
            // NaN where nothing is written: a product that read its output before writing it would show.
            std::vector<float> S1(static_cast<std::size_t>(B * ld), NAN), S2(S1.size(), NAN), val(A.size());
            std::vector<std::int32_t> idx(static_cast<std::size_t>(B * n_in + B * ((n_in + detail::kSlabRows - 1) / detail::kSlabRows + 1)));
            detail::kernels_generic<float>().matmul_skip(A.data(), B, n_in, Wp.data(), n_out, S1.data(), ld, idx.data(), val.data());
            detail::kernels<float>().matmul_skip(A.data(), B, n_in, Wp.data(), n_out, S2.data(), ld, idx.data(), val.data());
            for (std::int64_t s = 0; s < B; ++s)
                for (std::int64_t i = 0; i < n_out; ++i) {
                    double want = 0;  // integer-valued data: exact in float
                    for (std::int64_t j = 0; j < n_in; ++j) want += A[s * n_in + j] * Wm[i * n_in + j];
                    CHECK(S1[s * ld + i] == want);
                    CHECK(S2[s * ld + i] == want);
                }
        }
    }

    // Validation before work.
    Gate bad = gate;
    bad.p = {{1.5}};
    CHECK_THROWS(sample(net, bad, x, 1, opt));
    SampleOptions zero = opt;
    zero.n_samples = 0;
    CHECK_THROWS(sample(net, gate, x, 1, zero));
    const double nanx[3] = {0.0, NAN, 1.0};
    CHECK_THROWS(sample(net, gate, nanx, 1, opt));
    // Connection-gate kernels of every ISA against the portable ones, awkward lengths.
    for (std::int64_t n : {1, 15, 16, 17, 63, 64, 65, 100, 1024, 1201, 2500}) {
        std::vector<float> WR(static_cast<std::size_t>(n)), a(static_cast<std::size_t>(n), 1.0f);
        std::vector<std::uint16_t> u(static_cast<std::size_t>(n));
        std::vector<std::uint32_t> thi(static_cast<std::size_t>(n)), words(static_cast<std::size_t>(n));
        std::vector<std::uint64_t> thr(static_cast<std::size_t>(n));
        for (std::int64_t j = 0; j < n; ++j) {
            const auto jj = static_cast<std::size_t>(j);
            WR[jj] = static_cast<float>(j % 13) - 6.0f;
            u[jj] = static_cast<std::uint16_t>((j * 40503) & 0xFFFF);
            thi[jj] = (j % 7 == 0) ? u[jj] : static_cast<std::uint32_t>((j * 2654435761u) >> 16);  // some ties
            words[jj] = static_cast<std::uint32_t>(j * 2654435761u);
            thr[jj] = (static_cast<std::uint64_t>(j) * 2246822519u) % (std::uint64_t{1} << 32);  // keeps about half
        }
        // 8-bit spike draws: the fast kernel lists the same ties, in the same order, and
        // sums the same firing connections as the portable one and as a plain loop.
        std::vector<std::uint8_t> u8(static_cast<std::size_t>(n)), th8(static_cast<std::size_t>(n));
        float plain = 0.0f;
        std::vector<std::int32_t> want;
        for (std::int64_t j = 0; j < n; ++j) {
            const auto jj = static_cast<std::size_t>(j);
            u8[jj] = static_cast<std::uint8_t>(u[jj] >> 8);
            th8[jj] = (j % 5 == 0) ? u8[jj] : static_cast<std::uint8_t>(thi[jj] >> 8);  // some ties
            if (u8[jj] < th8[jj]) plain += WR[jj];
            if (u8[jj] == th8[jj]) want.push_back(static_cast<std::int32_t>(j));
        }
        std::vector<std::int32_t> ties1(static_cast<std::size_t>(n)), ties2(static_cast<std::size_t>(n));
        std::int64_t t1 = 0, t2 = 0;
        const float s1 = detail::kernels_generic<float>().spike_dot8(WR.data(), u8.data(), th8.data(), n, ties1.data(), &t1);
        const float s2 = detail::kernels<float>().spike_dot8(WR.data(), u8.data(), th8.data(), n, ties2.data(), &t2);
        CHECK(t1 == static_cast<std::int64_t>(want.size()) && t2 == t1);
        CHECK(std::equal(want.begin(), want.end(), ties1.begin()) && std::equal(want.begin(), want.end(), ties2.begin()));
        CHECK(std::fabs(s1 - plain) <= 1e-3f * (1.0f + std::fabs(plain)));
        CHECK(std::fabs(s2 - plain) <= 1e-3f * (1.0f + std::fabs(plain)));
        for (std::uint64_t t : {std::uint64_t{0}, std::uint64_t{1} << 31, (std::uint64_t{1} << 32) - 5}) {
            const float d1 = detail::kernels_generic<float>().gated_dot(WR.data(), a.data(), words.data(), t, n);
            const float d2 = detail::kernels<float>().gated_dot(WR.data(), a.data(), words.data(), t, n);
            CHECK(std::fabs(d1 - d2) <= 1e-3f * (1.0f + std::fabs(d1)));
        }
        // gated_axpy: the same bits on every ISA and as the plain loop (product and sum rounded
        // separately), with one threshold, per-element thresholds, and none.
        for (std::uint64_t t : {std::uint64_t{0}, std::uint64_t{1} << 31, (std::uint64_t{1} << 32) - 5, std::uint64_t{1} << 32}) {
            for (const std::uint64_t* each : std::vector<const std::uint64_t*>{nullptr, thr.data()}) {
                std::vector<float> y0(a.size()), y1, y2;
                for (std::size_t q = 0; q < y0.size(); ++q) y0[q] = 0.3f + 0.0137f * static_cast<float>(q % 97);
                y1 = y0;
                y2 = y0;
                const std::vector<float> y_start = y0;
                const float d = -0.37f;
                for (std::int64_t j = 0; j < n; ++j) {
                    const auto jj = static_cast<std::size_t>(j);
                    if (static_cast<std::uint64_t>(words[jj]) < (each ? each[jj] : t)) {
                        const float p = d * WR[jj];
                        y0[jj] = y0[jj] + p;
                    }
                }
                detail::kernels_generic<float>().gated_axpy(y1.data(), d, WR.data(), words.data(), t, each, n);
                detail::kernels<float>().gated_axpy(y2.data(), d, WR.data(), words.data(), t, each, n);
                CHECK(std::memcmp(y0.data(), y1.data(), y0.size() * sizeof(float)) == 0);
                CHECK(std::memcmp(y0.data(), y2.data(), y0.size() * sizeof(float)) == 0);
                // The masks stored once (keep_bits) and read back (bits_axpy): the same bits
                // again, on every ISA (the trainer's backward pass takes this path).
                if (t < (std::uint64_t{1} << 32) || each) {
                    std::vector<std::uint64_t> b1(static_cast<std::size_t>((n + 63) / 64), ~0ull), b2 = b1;
                    detail::kernels_generic<float>().keep_bits(words.data(), t, each, n, b1.data());
                    detail::kernels<float>().keep_bits(words.data(), t, each, n, b2.data());
                    CHECK(b1 == b2);
                    std::vector<float> y3 = y_start, y4 = y_start;
                    detail::kernels_generic<float>().bits_axpy(y3.data(), d, WR.data(), b1.data(), n);
                    detail::kernels<float>().bits_axpy(y4.data(), d, WR.data(), b2.data(), n);
                    CHECK(std::memcmp(y0.data(), y3.data(), y0.size() * sizeof(float)) == 0);
                    CHECK(std::memcmp(y0.data(), y4.data(), y0.size() * sizeof(float)) == 0);
                }
            }
        }
        const float g1 = detail::kernels_generic<float>().gated_dot_each(WR.data(), a.data(), words.data(), thr.data(), n);
        const float g2 = detail::kernels<float>().gated_dot_each(WR.data(), a.data(), words.data(), thr.data(), n);
        CHECK(std::fabs(g1 - g2) <= 1e-3f * (1.0f + std::fabs(g1)));
    }

    // matmul_bf16 (the opt-in bfloat16 product): the portable body, the dispatched one
    // (vdpbf16ps where the CPU has it) and a plain loop over the rounded values give the
    // same bits: per output, over the nonzero pairs in order, the odd product then the
    // even one, each added in float32 (bf16_impl.h). Odd n_in and n_out (the padding),
    // last tiles of 1, 3, 7 and 8 vectors (and of one output), dropped units (zeros, whole
    // zero pairs) and values that round up and down.
    for (const std::int64_t n_out : {10, 100, 129, 131, 176, 256}) {
        const std::int64_t B = 3, n_in = 203;
        const std::int64_t np = detail::n_pairs(n_in), nkb = (np + detail::kSlabRows - 1) / detail::kSlabRows;
        const std::int64_t ldS = detail::n_tiles<float>(n_out) * detail::kTile<float> + 16;
        std::vector<float> Wf(static_cast<std::size_t>(n_out * n_in)), A(static_cast<std::size_t>(B * n_in));
        std::uint32_t st = 12345u;
        const auto next = [&st] { st = st * 1664525u + 1013904223u; return static_cast<float>(st >> 8) / 16777216.0f; };
        for (auto& w : Wf) w = (next() - 0.5f) * 0.2f;
        for (std::size_t k = 0; k < A.size(); ++k) A[k] = next() < 0.5f ? 0.0f : next();  // about half dropped
        const auto Wp2 = detail::pack_pairs_bf16(Wf.data(), n_out, n_in);
        std::vector<float> S1(static_cast<std::size_t>(B * ldS), -1.0f), S2 = S1;
        std::vector<std::int32_t> idx(static_cast<std::size_t>(B * np + B * (nkb + 1)));
        std::vector<std::uint32_t> val(static_cast<std::size_t>(B * np));
        detail::kernels_generic<float>().matmul_bf16(A.data(), B, n_in, Wp2.data(), n_out, S1.data(), ldS, idx.data(), val.data());
        detail::kernels<float>().matmul_bf16(A.data(), B, n_in, Wp2.data(), n_out, S2.data(), ldS, idx.data(), val.data());
        const auto bf = [](float x) { return detail::from_bf16(detail::to_bf16(x)); };
        bool same1 = true, same2 = true, close = true;
        for (std::int64_t r = 0; r < B; ++r)
            for (std::int64_t i = 0; i < n_out; ++i) {
                float acc = 0.0f;
                double exact = 0.0, mag = 0.0;
                for (std::int64_t q = 0; q < np; ++q) {
                    const float ae = A[static_cast<std::size_t>(r * n_in + 2 * q)];
                    const float ao = 2 * q + 1 < n_in ? A[static_cast<std::size_t>(r * n_in + 2 * q + 1)] : 0.0f;
                    if (ae == 0.0f && ao == 0.0f) continue;
                    const float we = Wf[static_cast<std::size_t>(i * n_in + 2 * q)];
                    const float wo = 2 * q + 1 < n_in ? Wf[static_cast<std::size_t>(i * n_in + 2 * q + 1)] : 0.0f;
                    const float po = bf(wo) * bf(ao), pe = bf(we) * bf(ae);
                    acc = acc + po;
                    acc = acc + pe;
                    exact += static_cast<double>(wo) * ao + static_cast<double>(we) * ae;
                    mag += std::fabs(static_cast<double>(wo) * ao) + std::fabs(static_cast<double>(we) * ae);
                }
                const auto e = static_cast<std::size_t>(r * ldS + i);
                same1 = same1 && S1[e] == acc;
                same2 = same2 && S2[e] == acc;
                // And it is the float32 product up to bfloat16's rounding of W and A (2^-8 relative).
                close = close && std::fabs(acc - exact) <= 0x1p-7 * mag;
            }
        CHECK(same1);
        CHECK(same2);
        CHECK(close);
    }

    // Every table this CPU can run is complete (kernels.h, complete()).
    CHECK(detail::complete(detail::kernels<float>()) && detail::complete(detail::kernels<double>()));
    CHECK(detail::complete(detail::kernels_generic<float>()) && detail::complete(detail::kernels_generic<double>()));

    // Input statistics (SampleStats::E_in, var_in): one (n_inputs, n_in(h)) array per layer,
    // and the units' arrays hold exactly the network's units; without input_stats, none.
    {
        const double W1[6] = {0.5, -1.0, 2.0, 0.25, 1.5, -0.5}, W2[2] = {1.0, -2.0};
        const double X2[6] = {1.0, 0.5, -0.25, 0.0, 1.0, 0.75};
        NetworkView<double> net2;
        LayerView<double> l1, l2;
        l1.W = W1; l1.n_out = 2; l1.n_in = 3; l1.f.kind = TransferKind::Logistic;
        l2.W = W2; l2.n_out = 1; l2.n_in = 2; l2.f.kind = TransferKind::Logistic;
        net2.layers = {l1, l2};
        for (const GateKind kind : {GateKind::Units, GateKind::Connections}) {
            Gate g;
            g.kind = kind;
            g.p = {{0.8}, {0.5}};
            SampleOptions o;
            o.n_samples = 200;
            o.threads = 2;
            o.input_stats = true;
            const SampleStats si = sample(net2, g, X2, 2, o);
            CHECK(si.n_units == 3 && si.mean.size() == 6 && si.m2.size() == 6 && si.mean_dO.size() == 6);
            CHECK(si.E_in.size() == 2 && si.var_in.size() == 2);
            CHECK(si.E_in[0].size() == 6 && si.var_in[0].size() == 6);  // 2 inputs x 3
            CHECK(si.E_in[1].size() == 4 && si.var_in[1].size() == 4);  // 2 inputs x 2
            // The units' statistics do not depend on input_stats.
            o.input_stats = false;
            const SampleStats sn = sample(net2, g, X2, 2, o);
            CHECK(sn.E_in.empty() && sn.var_in.empty());
            CHECK(std::memcmp(sn.mean.data(), si.mean.data(), 6 * sizeof(double)) == 0);
            // Unit dropout at keep 0.8 on layer 0: E(delta x_j) = 0.8 x_j within 5 standard errors.
            if (kind == GateKind::Units)
                for (int j = 0; j < 3; ++j)
                    CHECK(std::fabs(si.E_in[0][static_cast<std::size_t>(j)] - 0.8 * X2[j]) <=
                          5 * std::sqrt(0.16 * X2[j] * X2[j] / 200) + 1e-12);
            SampleStats merged = si;
            merged.merge(si);
            CHECK(merged.E_in.empty() && merged.var_in.empty());
        }
    }
    return finish("test_sampler");
}

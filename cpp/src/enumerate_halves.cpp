// Exact enumeration of one logistic layer by splitting the gates in two halves
// (see enumerate.h). With the free gates split into an outer set (patterns G) and an
// inner set (patterns g), every sum is S_i = a_i(G) + b_i(g), P = P_A(G) P_B(g), and
//   O = sigma(S) = 1 / (1 + A B),  A = c e^{-lam a},  B = e^{-lam b}     (Eq. 27)
// so the 2^n subnetworks cost one multiply-add and one reciprocal each. The moments
// of S are those of a sum of two independent parts; log O = -log(1 + A B) is summed
// as a product (kernel logistic_run) over runs of inner patterns of equal P_B, and
// log(1 - O) = log O + log c - lam S needs no extra work.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "dropengine/errors.h"  // physical_memory
#include "enumerate_detail.h"
#include "kernels/kernels.h"

namespace dropengine::detail {
namespace {

/// Inner bits: a run of 2^12 doubles per unit stays in L1.
constexpr int kInnerLog2 = 12;
/// Outer patterns per job.
constexpr int kOuterJobLog2 = 4;
/// Below this many free gates the general walk is as fast.
constexpr int kMinGates = 10;
/// Largest log(A B) the kernel may see (its running product stays finite).
constexpr double kMaxLogAB = 690.0;

struct Run {
    std::int64_t start, len;
    double p;  // P_B of each pattern in the run
};

}  // namespace

template <class T>
bool enumerate_halves(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows,
                      const EnumerateOptions& opt, SampleStats& out) {
    if (net.layers.size() != 1 || !opt.pairs.empty()) return false;
    const auto& l = net.layers[0];
    if (l.f.kind != TransferKind::Logistic || !(l.f.c > 0)) return false;
    if (gate.kind_of(0) != GateKind::Units && gate.kind_of(0) != GateKind::Dropin) return false;
    std::vector<Site> free, fixed;
    for (const auto& s : all_sites(net, gate)) (s.p > 0.0 && s.p < 1.0 ? free : fixed).push_back(s);
    const int n = static_cast<int>(free.size());
    if (n < kMinGates) return false;
    const int m = std::min(n, kInnerLog2), no = n - m;
    const std::int64_t NI = std::int64_t{1} << m, NO = std::int64_t{1} << no;

    // Inner patterns ordered by probability, in runs of equal P_B.
    const std::vector<Site> inner(free.begin(), free.begin() + m), outer(free.begin() + m, free.end());
    const std::vector<double> PB = pattern_probabilities(inner, m), PA = pattern_probabilities(outer, no);
    std::vector<std::int64_t> perm(static_cast<std::size_t>(NI));
    std::iota(perm.begin(), perm.end(), 0);
    std::stable_sort(perm.begin(), perm.end(), [&](std::int64_t u, std::int64_t v) {
        return PB[static_cast<std::size_t>(u)] < PB[static_cast<std::size_t>(v)];
    });
    std::vector<Run> runs;
    for (std::int64_t r = 0; r < NI; ++r) {
        const double p = PB[static_cast<std::size_t>(perm[static_cast<std::size_t>(r)])];
        if (runs.empty() || runs.back().p != p) runs.push_back({r, 0, p});
        ++runs.back().len;
    }
    if (static_cast<std::int64_t>(runs.size()) * 16 > NI) return false;  // per-gate p: general walk
    double sumPB = 0.0;
    for (const auto& r : runs) sumPB += r.p * static_cast<double>(r.len);

    const std::int64_t k = l.n_out, nin = l.n_in;
    // The outer table holds n_out x 2^(gates - 12) sums: when it would take more than a
    // quarter of the memory, the general walk (no table) gives the same statistics.
    const double table_bytes = 8.0 * static_cast<double>(k) * static_cast<double>(NO + NI);
    if (physical_memory() > 0 && table_bytes > 0.25 * static_cast<double>(physical_memory())) return false;
    const double lam = l.f.lam, logc = std::log(l.f.c);
    const bool dropin = gate.kind_of(0) == GateKind::Dropin;
    const int threads = detail::resolve_threads(opt.threads);
    const auto& kern = kernels<double>();
    out = SampleStats(n_rows, k, {});

    // Per input: sums of the two halves for every unit, then the outer patterns in jobs.
    std::vector<double> a(static_cast<std::size_t>(k * NO)), Bf(static_cast<std::size_t>(k * NI)),
        eb(static_cast<std::size_t>(k)), m2b(static_cast<std::size_t>(k));
    std::vector<double> bsum(static_cast<std::size_t>(NI));
    for (std::int64_t x = 0; x < n_rows; ++x) {
        const T* in = X + x * nin;
        // Contribution of site s to S_i when its bit is 1 rather than 0.
        auto delta = [&](const Site& s, std::int64_t i) {
            if (s.kind == SiteKind::Bias) return static_cast<double>(l.b[i]);
            const double w = static_cast<double>(l.W[i * nin + s.j]), v = static_cast<double>(in[s.j]);
            return dropin ? w * (1.0 - v) : w * v;
        };
        bool fits = true;
        for (std::int64_t i = 0; i < k && fits; ++i) {
            // Base: the gates fixed at 0 or 1, and every free gate at bit 0.
            double base = 0.0;
            for (std::int64_t j = 0; j < nin; ++j)
                if (dropin) base += static_cast<double>(l.W[i * nin + j]) * static_cast<double>(in[j]);
            for (const auto& s : fixed)
                if (s.p >= 1.0) base += delta(s, i);
            if (l.b && dropin) base += static_cast<double>(l.b[i]);
            // Subset sums by doubling, in site order (fixed rounding).
            auto subset_sums = [&](const std::vector<Site>& sites, double start, double* dst) {
                dst[0] = start;
                for (std::size_t q = 0; q < sites.size(); ++q) {
                    const double d = delta(sites[q], i);
                    const std::int64_t half = std::int64_t{1} << q;
                    for (std::int64_t g = 0; g < half; ++g) dst[g + half] = dst[g] + d;
                }
            };
            double* ai = a.data() + i * NO;
            subset_sums(outer, base, ai);
            subset_sums(inner, 0.0, bsum.data());
            // Moments of the inner part: its mean and weighted second central moment.
            double mean = 0.0, m2 = 0.0;
            for (std::int64_t g = 0; g < NI; ++g) mean += PB[static_cast<std::size_t>(g)] * bsum[static_cast<std::size_t>(g)];
            mean /= sumPB;
            for (std::int64_t g = 0; g < NI; ++g) {
                const double d = bsum[static_cast<std::size_t>(g)] - mean;
                m2 += PB[static_cast<std::size_t>(g)] * d * d;
            }
            eb[static_cast<std::size_t>(i)] = mean;
            m2b[static_cast<std::size_t>(i)] = m2;
            double* Bi = Bf.data() + i * NI;
            double hi_b = -INFINITY, hi_a = -INFINITY;
            for (std::int64_t r = 0; r < NI; ++r) {
                const double b = bsum[static_cast<std::size_t>(perm[static_cast<std::size_t>(r)])];
                Bi[r] = std::exp(-lam * b);
                hi_b = std::max(hi_b, -lam * b);
            }
            for (std::int64_t G = 0; G < NO; ++G) hi_a = std::max(hi_a, -lam * ai[G]);
            fits = std::isfinite(hi_a + hi_b) && logc + hi_a + hi_b < kMaxLogAB;
        }
        if (!fits) return false;  // huge sums: the general walk keeps log space

        const int jl = std::min(no, kOuterJobLog2);
        const std::int64_t per_job = std::int64_t{1} << jl, n_jobs = NO >> jl;
        const auto [first, count] = part_range(n_jobs, opt);
        SampleStats one = run_blocks(1, first, count, k, {}, threads, opt.interrupted,
                                     [&](int, std::int64_t, std::int64_t job, const RowRef& acc) {
            RowBuf tmp(k, 0);
            const RowRef t = tmp.ref(k);
            double sums[3];
            for (std::int64_t G = job * per_job; G < (job + 1) * per_job; ++G) {
                const double pa = PA[static_cast<std::size_t>(G)], w = pa * sumPB;
                *t.count = w;
                for (std::int64_t i = 0; i < k; ++i) {
                    const double ag = a[static_cast<std::size_t>(i * NO + G)], ES = ag + eb[static_cast<std::size_t>(i)];
                    const double A = std::exp(logc - lam * ag), shift = 1.0 / (1.0 + std::exp(logc - lam * ES));
                    double S1 = 0.0, S2 = 0.0, LP = 0.0;
                    for (const auto& r : runs) {
                        kern.logistic_run(Bf.data() + i * NI + r.start, r.len, A, shift, sums);
                        S1 += r.p * sums[0];
                        S2 += r.p * sums[1];
                        LP += r.p * sums[2];
                    }
                    const double mean = shift + S1 / sumPB, m2 = S2 - S1 * S1 / sumPB;
                    const double var = m2 / sumPB;
                    t.field[0][i] = mean;
                    t.field[1][i] = pa * m2;
                    t.field[2][i] = -pa * LP;                                    // sum P log O
                    t.field[3][i] = pa * (sumPB * (logc - lam * ES) - LP);       // sum P log(1 - O)
                    t.field[4][i] = ES;
                    t.field[5][i] = pa * m2b[static_cast<std::size_t>(i)];
                    t.field[6][i] = lam * (mean * (1.0 - mean) - var);           // E(lam O (1 - O))
                }
                merge_row(acc, t, k, nullptr, 0);
            }
        });
        const RowRef r1{one.count.data(),
                        {one.mean.data(), one.m2.data(), one.slog.data(), one.slogc.data(), one.mean_S.data(),
                         one.m2_S.data(), one.mean_dO.data()},
                        one.comoment.data()};
        store_row(out, x, r1);
    }
    return true;
}

template bool enumerate_halves<float>(const NetworkView<float>&, const Gate&, const float*, std::int64_t,
                                      const EnumerateOptions&, SampleStats&);
template bool enumerate_halves<double>(const NetworkView<double>&, const Gate&, const double*, std::int64_t,
                                       const EnumerateOptions&, SampleStats&);

}  // namespace dropengine::detail

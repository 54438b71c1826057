// Chan et al. merging of streaming moments: the only place the formula lives.
#include "dropengine/stats.h"

#include <stdexcept>
#include <string>

namespace dropengine {

SampleStats::SampleStats(std::int64_t ni, std::int64_t nu, std::vector<UnitPair> pr)
    : n_inputs(ni), n_units(nu), pairs(std::move(pr)) {
    if (ni < 0 || nu < 0) throw std::invalid_argument("statistics: negative number of inputs or units");
    // Every co-moment update indexes the means by these: an index out of range is a
    // read past the buffer, so accumulators never hold one.
    for (const auto& p : pairs)
        if (p.a < 0 || p.a >= nu || p.b < 0 || p.b >= nu)
            throw std::invalid_argument("statistics: pair unit index out of range [0, " + std::to_string(nu) + ")");
    const auto nf = static_cast<std::size_t>(ni * nu);
    count.assign(static_cast<std::size_t>(ni), 0.0);
    for (auto* v : {&mean, &m2, &slog, &slogc, &mean_S, &m2_S, &mean_dO}) v->assign(nf, 0.0);
    comoment.assign(static_cast<std::size_t>(ni) * pairs.size(), 0.0);
}

namespace {
detail::RowRef row(SampleStats& s, std::int64_t x) {
    const auto o = static_cast<std::size_t>(x * s.n_units);
    return {&s.count[static_cast<std::size_t>(x)],
            {s.mean.data() + o, s.m2.data() + o, s.slog.data() + o, s.slogc.data() + o, s.mean_S.data() + o,
             s.m2_S.data() + o, s.mean_dO.data() + o},
            s.comoment.data() + static_cast<std::size_t>(x) * s.pairs.size()};
}
}  // namespace

void SampleStats::merge(const SampleStats& b) {
    if (b.n_inputs != n_inputs || b.n_units != n_units || b.pairs.size() != pairs.size())
        throw std::invalid_argument("merge: statistics have different shapes");
    for (std::size_t k = 0; k < pairs.size(); ++k)
        if (pairs[k].a != b.pairs[k].a || pairs[k].b != b.pairs[k].b)
            throw std::invalid_argument("merge: statistics track different unit pairs");
    auto& bb = const_cast<SampleStats&>(b);  // row() only forms pointers; b is not written
    for (std::int64_t x = 0; x < n_inputs; ++x)
        detail::merge_row(row(*this, x), row(bb, x), n_units, pairs.data(), n_pairs());
    // The input statistics are kept as E and Var, which do not merge exactly.
    E_in.clear();
    var_in.clear();
}

namespace detail {

void merge_row(const RowRef& a, const RowRef& b, std::int64_t n_units, const UnitPair* pairs,
               std::int64_t n_pairs) {
    const double na = *a.count, nb = *b.count;
    if (nb == 0) return;
    const double n = na + nb, wb = nb / n, wab = na * nb / n;
    double *ma = a.field[0], *m2a = a.field[1], *msa = a.field[4], *m2sa = a.field[5], *mda = a.field[6];
    const double *mb = b.field[0], *m2b = b.field[1], *msb = b.field[4], *m2sb = b.field[5], *mdb = b.field[6];
    // Co-moments first: they need the means before the update.
    for (std::int64_t k = 0; k < n_pairs; ++k) {
        const double dx = mb[pairs[k].a] - ma[pairs[k].a], dy = mb[pairs[k].b] - ma[pairs[k].b];
        a.comoment[k] = a.comoment[k] + b.comoment[k] + dx * dy * wab;
    }
    for (std::int64_t u = 0; u < n_units; ++u) {
        const double d = mb[u] - ma[u];
        ma[u] = ma[u] + d * wb;
        m2a[u] = m2a[u] + m2b[u] + d * d * wab;
        const double ds = msb[u] - msa[u];
        msa[u] = msa[u] + ds * wb;
        m2sa[u] = m2sa[u] + m2sb[u] + ds * ds * wab;
        mda[u] = mda[u] + (mdb[u] - mda[u]) * wb;
        a.field[2][u] += b.field[2][u];
        a.field[3][u] += b.field[3][u];
    }
    *a.count = n;
}

}  // namespace detail
}  // namespace dropengine

// Chan merging: a merged pair of accumulators equals one accumulator over both sets.
#include <vector>

#include "check.h"
#include "dropengine/stats.h"

using namespace dropengine;

static void fill(SampleStats& s, const std::vector<double>& x) {
    // one input, one unit; two-pass moments
    double m = 0;
    for (double v : x) m += v;
    m /= static_cast<double>(x.size());
    double m2 = 0;
    for (double v : x) m2 += (v - m) * (v - m);
    s.count[0] = static_cast<double>(x.size());
    s.mean[0] = m;
    s.m2[0] = m2;
}

int main() {
    const std::vector<double> a = {0.1, 0.4, 0.35, 0.9}, b = {0.2, 0.7, 0.65};
    std::vector<double> ab = a;
    ab.insert(ab.end(), b.begin(), b.end());
    SampleStats sa(1, 1, {}), sb(1, 1, {}), sab(1, 1, {});
    fill(sa, a);
    fill(sb, b);
    fill(sab, ab);
    sa.merge(sb);
    CHECK(sa.count[0] == 7);
    CHECK_NEAR(sa.mean[0], sab.mean[0], 1e-15);
    CHECK_NEAR(sa.m2[0], sab.m2[0], 1e-15);
    SampleStats other(2, 1, {});
    CHECK_THROWS(sa.merge(other));
    return finish("test_stats");
}

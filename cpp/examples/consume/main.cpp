// Samples a small logistic network with unit dropout through the installed C++
// library and prints E(O), NWGM and the ensemble W of each output unit.
#include <cmath>
#include <cstdio>
#include <vector>

#include <dropengine/dropengine.h>

int main() {
    using namespace dropengine;
    const std::vector<double> W1 = {0.5, -0.3, 0.8, 0.1, 0.9, -0.7};  // 2 x 3
    const std::vector<double> W2 = {1.2, -0.4};                       // 1 x 2
    const std::vector<double> x = {1.0, 0.5, -1.0};
    NetworkView<double> net;
    LayerView<double> l1, l2;
    l1.W = W1.data(); l1.n_out = 2; l1.n_in = 3; l1.f.kind = TransferKind::Logistic;
    l2.W = W2.data(); l2.n_out = 1; l2.n_in = 2; l2.f.kind = TransferKind::Logistic;
    net.layers = {l1, l2};
    Gate gate;
    gate.kind = GateKind::Units;
    gate.p = {{0.8}, {0.5}};
    SampleOptions opt;
    opt.n_samples = 100000;
    opt.key[0] = 2014;
    const SampleStats st = sample(net, gate, x.data(), 1, opt);
    std::vector<double> U1(2), Wo1(2), U2(1), Wo2(1);
    ensemble(net, gate, x.data(), 1, {U1.data(), U2.data()}, {Wo1.data(), Wo2.data()});
    std::printf("dropengine %s (OpenMP %s, %s kernels)\n", version(), has_openmp() ? "on" : "off", simd_level().c_str());
    for (int u = 0; u < 3; ++u) {
        const double n = st.count[0];
        const double nwgm = 1.0 / (1.0 + std::exp((st.slogc[u] - st.slog[u]) / n));
        const double w = u < 2 ? Wo1[u] : Wo2[0];
        std::printf("unit %d: E = %.6f  NWGM = %.6f  W = %.6f\n", u, st.mean[u], nwgm, w);
        if (!(std::fabs(st.mean[u] - w) < 0.05)) return 1;
    }
    return 0;
}

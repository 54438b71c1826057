// Skip connections from C++ (network.h, Eq. 21-26): a linear network whose input also
// feeds its second layer. For a linear network the expectation passes through every
// layer, so exact enumeration must equal the ensemble network (Eq. 24, 167) and a brute
// force written here; sampling must agree within 5 standard errors, for any thread
// count bit for bit; bad sources are refused before any work.
#include <cmath>
#include <cstring>
#include <vector>

#include "check.h"
#include "dropengine/dropengine.h"

using namespace dropengine;

int main() {
    // Layer 1: 2 units from the 3 inputs; layer 2: 1 unit from [x (3); O^1 (2)].
    const double W1[6] = {0.5, -1.0, 2.0, 1.5, 0.25, -0.5}, b1[2] = {0.1, -0.2};
    const double W2[5] = {0.3, -0.7, 1.1, 0.9, -1.3}, x[3] = {1.0, 0.5, -0.25};
    const double p0 = 0.6, p1 = 0.7;
    NetworkView<double> net;
    LayerView<double> l1, l2;
    l1.W = W1; l1.b = b1; l1.n_out = 2; l1.n_in = 3; l1.f.kind = TransferKind::Linear;
    l2.W = W2; l2.n_out = 1; l2.n_in = 5; l2.f.kind = TransferKind::Linear;
    l2.sources = {{0, 0, 3}, {1, 3, 2}};
    net.layers = {l1, l2};
    CHECK(!net.is_chain());
    Gate gate;
    gate.kind = GateKind::Units;
    gate.p = {{p0}, {p1}};  // per source layer: the input's units, then layer 1's (gate.h)

    // Brute force over the 2^5 unit coins: an input coin gates x_j in both layers.
    double E = 0, M2 = 0;
    for (int m = 0; m < 32; ++m) {
        double P = 1, a[3], o[2];
        for (int j = 0; j < 3; ++j) {
            const bool k = (m >> j) & 1;
            a[j] = k ? x[j] : 0.0;
            P *= k ? p0 : 1 - p0;
        }
        for (int i = 0; i < 2; ++i) o[i] = W1[3 * i] * a[0] + W1[3 * i + 1] * a[1] + W1[3 * i + 2] * a[2] + b1[i];
        double S = W2[0] * a[0] + W2[1] * a[1] + W2[2] * a[2];
        for (int i = 0; i < 2; ++i) {
            const bool k = (m >> (3 + i)) & 1;
            S += k ? W2[3 + i] * o[i] : 0.0;
            P *= k ? p1 : 1 - p1;
        }
        E += P * S;
        M2 += P * S * S;
    }
    const double V = M2 - E * E;

    EnumerateOptions eo;
    const SampleStats ex = enumerate(net, gate, x, 1, eo);
    CHECK_NEAR(ex.mean[2], E, 1e-12);
    CHECK_NEAR(ex.m2[2] / ex.count[0], V, 1e-12);
    double U[3], Wo[3];
    std::vector<double*> Uv{U, U + 2}, Wv{Wo, Wo + 2};
    ensemble(net, gate, x, 1, Uv, Wv);
    CHECK_NEAR(Wo[2], E, 1e-12);

    SampleOptions opt;
    opt.n_samples = 40000;
    opt.key[0] = 7; opt.key[1] = 9;
    opt.threads = 1;
    const SampleStats st = sample(net, gate, x, 1, opt);
    CHECK(std::fabs(st.mean[2] - E) < 5 * std::sqrt(V / 40000));
    opt.threads = 2;
    const SampleStats st2 = sample(net, gate, x, 1, opt);
    CHECK(std::memcmp(st.mean.data(), st2.mean.data(), 3 * sizeof(double)) == 0);

    // Refused before any work: unsorted, a block of the wrong width, a source above the layer.
    for (const std::vector<Source>& bad : {std::vector<Source>{{1, 0, 2}, {0, 2, 3}},
                                           std::vector<Source>{{0, 0, 2}, {1, 2, 3}},
                                           std::vector<Source>{{0, 0, 3}, {2, 3, 2}}}) {
        NetworkView<double> b = net;
        b.layers[1].sources = bad;
        CHECK_THROWS(b.validate());
        CHECK_THROWS(sample(b, gate, x, 1, opt));
    }
    Gate wrong = gate;
    wrong.p = {{p0, p0}, {p1}};  // 2 values for the 3 inputs
    CHECK_THROWS(sample(net, wrong, x, 1, opt));

    // One network, two kinds (GateKind::Mixed): the input's units (entry 0) and layer 2's
    // connections (entry 1). The skip connections from the input meet both gates.
    Gate mixed;
    mixed.kind = GateKind::Mixed;
    mixed.kinds = {GateKind::Units, GateKind::Connections};
    const double q = 0.45;
    mixed.p = {{p0}, {q}};
    double Em = 0, M2m = 0;
    for (int m = 0; m < 256; ++m) {
        double P = 1, a[3], o[2];
        for (int j = 0; j < 3; ++j) {
            const bool k = (m >> j) & 1;
            a[j] = k ? x[j] : 0.0;
            P *= k ? p0 : 1 - p0;
        }
        for (int i = 0; i < 2; ++i) o[i] = W1[3 * i] * a[0] + W1[3 * i + 1] * a[1] + W1[3 * i + 2] * a[2] + b1[i];
        const double in[5] = {a[0], a[1], a[2], o[0], o[1]};
        double S = 0;
        for (int j = 0; j < 5; ++j) {
            const bool c = (m >> (3 + j)) & 1;
            S += c ? W2[j] * in[j] : 0.0;
            P *= c ? q : 1 - q;
        }
        Em += P * S;
        M2m += P * S * S;
    }
    const SampleStats exm = enumerate(net, mixed, x, 1, eo);
    CHECK_NEAR(exm.mean[2], Em, 1e-12);
    CHECK_NEAR(exm.m2[2] / exm.count[0], M2m - Em * Em, 1e-12);
    ensemble(net, mixed, x, 1, Uv, Wv);
    CHECK_NEAR(Wo[2], Em, 1e-12);
    opt.threads = 1;
    const SampleStats sm = sample(net, mixed, x, 1, opt);
    CHECK(std::fabs(sm.mean[2] - Em) < 5 * std::sqrt((M2m - Em * Em) / 40000));
    Gate bad_kinds = mixed;
    bad_kinds.kinds = {GateKind::Units};  // one kind for two entries
    CHECK_THROWS(sample(net, bad_kinds, x, 1, opt));
    bad_kinds.kinds = {GateKind::Units, GateKind::Spikes};  // spikes are not mixed
    CHECK_THROWS(sample(net, bad_kinds, x, 1, opt));
    return finish("test_dag");
}

// The trainer's driver: validation, order of the examples, epochs and saved state.
#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <stdexcept>
#include <string>

#include "pack.h"
#include "dropengine/sampler.h"  // Interrupted
#include "reduce.h"  // resolve_threads
#include "train_detail.h"

namespace dropengine {
namespace {

std::string layer_name(std::size_t h) { return "layer " + std::to_string(h); }

/// Largest sigma'(S) of a transfer function: backpercolation reads sigma' as a probability.
double max_derivative(const Transfer& f) {
    switch (f.kind) {
        case TransferKind::Linear: return 1.0;
        case TransferKind::Logistic: return std::fabs(f.lam) / 4.0;  // lam O (1 - O), any c
        case TransferKind::Tanh: return std::fabs(f.lam);
        case TransferKind::ReLU: return std::fabs(f.slope);
        case TransferKind::Softplus: return 1.0;
        case TransferKind::Softmax: return 1.0;
    }
    return 1.0;
}

}  // namespace

template <class T>
Trainer<T>::Impl::Impl(const NetworkView<T>& net, const Gate& g, TrainOptions o)
    : gate(g), opt(std::move(o)), k(detail::kernels<T>()) {
    net.validate();
    const std::size_t nL = net.layers.size();
    if (nL == 0) throw std::invalid_argument("train: the network has no layers");
    gate.validate(net);
    if (gate.any_spiking())
        throw std::invalid_argument("train: spiking gates are for simulation; train with Dropout, Dropin or no gate");
    for (double kb : gate.keep_bias)
        if (kb != 1.0) throw std::invalid_argument("train: gated biases (keep_bias < 1) are not supported in training");
    if (opt.batch_size < 1) throw std::invalid_argument("train: batch_size must be >= 1");
    if (!(opt.momentum >= 0.0 && opt.momentum < 1.0)) throw std::invalid_argument("train: momentum must lie in [0, 1)");
    if (!(opt.weight_decay >= 0.0 && std::isfinite(opt.weight_decay)))
        throw std::invalid_argument("train: weight_decay must be finite and >= 0");
    if (!(opt.max_norm >= 0.0 && std::isfinite(opt.max_norm)))
        throw std::invalid_argument("train: max_norm must be finite and >= 0 (0: off)");
    if (!opt.backward_noise.empty() && opt.backward_noise.size() != nL - 1)
        throw std::invalid_argument("train: backward_noise must have one entry per hidden layer (" +
                                    std::to_string(nL - 1) + "), got " + std::to_string(opt.backward_noise.size()));
    for (std::size_t h = 0; h < opt.backward_noise.size(); ++h) {
        const double v = opt.backward_noise[h];
        if (!(v >= 0.0 && std::isfinite(v)))
            throw std::invalid_argument("train: backward_noise[" + std::to_string(h) + "] must be finite and >= 0");
        if (v > 0.0 && !opt.backward.empty() && opt.backward[h] != kBackprop)
            throw std::invalid_argument("train: backward_noise[" + std::to_string(h) + "] needs backpropagation there");
    }
    if (!opt.backward.empty() && opt.backward.size() != nL - 1)
        throw std::invalid_argument("train: backward must have one entry per hidden layer (" + std::to_string(nL - 1) +
                                    "), got " + std::to_string(opt.backward.size()));
    const Transfer& top = net.layers.back().f;
    if (opt.loss == Loss::CrossEntropy && top.kind != TransferKind::Softmax)
        throw std::invalid_argument("train: loss 'cross_entropy' needs a softmax output layer, got " + top.describe());
    if (opt.loss == Loss::RelativeEntropy && top.kind != TransferKind::Logistic)
        throw std::invalid_argument("train: loss 'relative_entropy' (Eq. 156) needs a logistic output layer, got " +
                                    top.describe());
    threads = detail::resolve_threads(opt.threads);
    L.resize(nL);
    for (std::size_t h = 0; h < nL; ++h) {
        const auto& v = net.layers[h];
        Layer& l = L[h];
        l.n_out = v.n_out;
        l.n_in = v.n_in;
        l.ldo = detail::padded<T>(v.n_out);
        l.ldi = detail::padded<T>(v.n_in);
        l.f = v.f;
        l.sources = net.sources_of(static_cast<std::int64_t>(h));
        if (h + 1 < nL && v.f.kind == TransferKind::Softmax)
            throw std::invalid_argument("train: softmax is supported as the output layer only (" + layer_name(h) + ")");
        l.has_bias = v.b != nullptr;
        l.Wp = detail::pack_weights(v.W, v.n_out, v.n_in, [](std::int64_t, std::int64_t) { return 1.0; });
        l.Vp.assign(l.Wp.size(), T(0));
        l.gWp.assign(l.Wp.size(), T(0));
        l.b.assign(static_cast<std::size_t>(v.n_out), T(0));
        if (v.b) std::copy(v.b, v.b + v.n_out, l.b.begin());
        l.vb.assign(l.b.size(), T(0));
        l.gb.assign(l.b.size(), T(0));
        l.kind = gate.kind_of(h);
        l.need_Wr = gate.per_connection(h);  // (spikes are refused above)
        if (l.need_Wr) l.Wr.assign(static_cast<std::size_t>(l.n_out * l.ldi), T(0));
        if (gate.gaussian(h)) {
            l.sd = gate.p[h];
            l.mu = gate.noise_mean(h);
            l.gated = gate.noisy(h);
            if (l.kind == GateKind::GaussianUnits)  // the ensemble's E(delta) = mean
                for (std::int64_t j = 0; j < net.n_source(static_cast<std::int64_t>(h)); ++j)
                    l.expect.push_back(static_cast<T>(gate.mean_of(h, j)));
        } else if (l.kind != GateKind::None) {
            for (double p : gate.p[h]) l.thr.push_back(keep_threshold(p));
            const std::uint64_t full = l.kind == GateKind::Dropin ? 0 : std::uint64_t{1} << 32;
            l.gated = std::any_of(l.thr.begin(), l.thr.end(), [&](std::uint64_t t) { return t != full; });
            if (l.kind == GateKind::Units || l.kind == GateKind::Dropin)
                for (std::int64_t j = 0; j < net.n_source(static_cast<std::int64_t>(h)); ++j)
                    l.expect.push_back(static_cast<T>(gate.prob(h, j)));
        }
        if (h + 1 < nL) {
            l.back = opt.backward.empty() ? kBackprop : opt.backward[h];
            l.back_noise = opt.backward_noise.empty() ? 0.0 : opt.backward_noise[h];
            if (!(l.back == kBackprop || (l.back >= 0.0 && l.back <= 1.0)))
                throw std::invalid_argument("train: backward[" + std::to_string(h) +
                                            "] must be -1 (backprop), 0 (backpercolation) or a keep p in (0, 1]");
            if (l.back == kBackpercolation && max_derivative(l.f) > 1.0)
                throw std::invalid_argument(
                    "train: backpercolation reads sigma'(S) as a probability, so it needs sigma' <= 1; " +
                    layer_name(h) + " is " + l.f.describe() + " (logistic: lam <= 4; tanh: lam <= 1)");
        }
        refresh_rows(l);
    }
    // A hidden layer whose outputs go anywhere but to all the inputs of the layer above
    // (more layers, other columns, or none) sums the errors of its receivers (Eq. 173 over
    // every layer it feeds) instead of taking the one above's.
    const auto receivers = net.receivers();
    for (std::size_t h = 0; h + 1 < nL; ++h) {
        const auto& r = receivers[h + 1];  // layer h's outputs are source h + 1
        L[h].fan_out = !(r.size() == 1 && r[0].first == h + 1 && L[h + 1].sources.size() == 1);
        if (L[h].fan_out) ones.assign(std::max(ones.size(), static_cast<std::size_t>(L[h].n_out)), 1);
    }
    // Per-thread scratch at its largest now: an allocation inside a parallel region
    // cannot report running out of memory (the exception would end the process).
    std::size_t most_words = 0;
    for (const auto& l : L) {
        const auto unit_words = static_cast<std::size_t>(4 * ((l.n_in + 1) / 2 + 16));  // two per Gaussian draw
        const auto row_words = static_cast<std::size_t>(4 * ((l.n_in / 2 + 2 + 15) / 16 * 16));
        most_words = std::max({most_words, unit_words, row_words});
    }
    std::int64_t widest = 1;
    for (const auto& l : L) widest = std::max(widest, l.n_in);
    noise.assign(static_cast<std::size_t>(threads), std::vector<T>(static_cast<std::size_t>(widest)));
    words.resize(static_cast<std::size_t>(threads));
    for (auto& w : words) w.reserve(most_words);
    top_scratch.assign(static_cast<std::size_t>(threads), std::vector<double>(static_cast<std::size_t>(5 * L.back().n_out)));
}

template <class T>
void Trainer<T>::Impl::reserve(std::int64_t rows) {
    if (rows <= B) return;
    B = rows;
    std::int64_t lists = 0, starts = 0, ldmax = 0, nmax = 0;
    for (auto& l : L) {
        l.A.assign(static_cast<std::size_t>(B * l.n_in), T(0));
        l.pass.assign(l.A.size(), 1);
        // delta of multiplicative Gaussian units, 1 elsewhere (blocks of other kinds).
        if (std::any_of(l.sources.begin(), l.sources.end(),
                        [&](const Source& src) { return gate.kind_of(static_cast<std::size_t>(src.layer)) == GateKind::GaussianUnits; }))
            l.mult.assign(l.A.size(), T(1));
        l.S.assign(static_cast<std::size_t>(B * l.ldo), T(0));
        l.O.assign(l.S.size(), T(0));
        l.D.assign(l.S.size(), T(0));
        if (l.fan_out) l.Gout.assign(l.S.size(), T(0));
        const std::int64_t nmx = std::max(l.n_in, l.n_out);
        lists = std::max(lists, B * nmx);
        const auto slabs = [](std::int64_t n) { return (n + detail::kSlabRows - 1) / detail::kSlabRows + 1; };
        starts = std::max({starts, B * slabs(nmx), l.n_in * slabs(B)});
        ldmax = std::max(ldmax, l.ldi);
        nmax = std::max(nmax, l.n_out * l.n_in);
    }
    // Connection masks kept from the forward pass, while they fit the budget
    // (DROPENGINE_TRAIN_MASK_BYTES, default 512 MiB; 0 redraws them, as a larger network does).
    const char* budget_env = std::getenv("DROPENGINE_TRAIN_MASK_BYTES");
    const double budget = budget_env ? std::strtod(budget_env, nullptr) : 512.0 * (1 << 20);
    double mask_bytes = 0;
    for (auto& l : L) {
        l.masks.clear();
        if (!(l.need_Wr && l.gated && !gate.gaussian(static_cast<std::size_t>(&l - L.data())))) continue;
        const double bytes = 8.0 * static_cast<double>(B * l.n_out * detail::mask_words(l.n_in));
        if (mask_bytes + bytes > budget) continue;
        mask_bytes += bytes;
        l.masks.assign(static_cast<std::size_t>(B * l.n_out * detail::mask_words(l.n_in)), 0u);
    }
    idx.assign(static_cast<std::size_t>(lists), 0);
    val.assign(static_cast<std::size_t>(lists), T(0));
    start.assign(static_cast<std::size_t>(starts), 0);
    G.assign(static_cast<std::size_t>(B * ldmax), T(0));
    if (std::any_of(L.begin(), L.end(), [](const Layer& l) { return l.need_Wr; })) gr.assign(static_cast<std::size_t>(nmax), T(0));
    loss.assign(static_cast<std::size_t>(B), 0.0);
    wrong.assign(static_cast<std::size_t>(B), 0);
}

template <class T>
const std::vector<std::int64_t>& Trainer<T>::Impl::epoch_order(std::int64_t n) {
    if (perm_epoch == pos.epoch && perm_n == n) return perm;
    perm.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) perm[static_cast<std::size_t>(i)] = i;
    // Fisher-Yates; position i swaps with a uniform j <= i taken from 64 random bits
    // (the bias of the multiply-shift map is below 2^-32 for n < 2^32).
    const DrawSite site = DrawSite::make(opt.key[0], opt.key[1], Stream::Shuffle, 0,
                                         static_cast<std::uint64_t>(pos.epoch), 0);
    for (std::int64_t i = n - 1; i > 0; --i) {
        const auto blk = site.block(static_cast<std::uint64_t>(i));
        const std::uint64_t u = (static_cast<std::uint64_t>(blk.v[0]) << 32) | blk.v[1];
        const auto j = static_cast<std::int64_t>(
            (static_cast<unsigned __int128>(u) * static_cast<unsigned __int128>(i + 1)) >> 64);
        std::swap(perm[static_cast<std::size_t>(i)], perm[static_cast<std::size_t>(j)]);
    }
    perm_epoch = pos.epoch;
    perm_n = n;
    return perm;
}

template <class T>
Trainer<T>::Trainer(const NetworkView<T>& net, const Gate& gate, TrainOptions opt)
    : impl_(new Impl(net, gate, std::move(opt))) {}

template <class T>
Trainer<T>::~Trainer() {
    delete impl_;
}

namespace {
template <class T>
void check_data(const TrainData<T>& d, std::int64_t n_in, std::int64_t n_out) {
    if (d.n < 1) throw std::invalid_argument("train: no examples");
    if (!d.X) throw std::invalid_argument("train: X is missing");
    if ((d.labels == nullptr) == (d.targets == nullptr))
        throw std::invalid_argument("train: give exactly one of labels and targets");
    if (d.labels)
        for (std::int64_t r = 0; r < d.n; ++r)
            if (d.labels[r] < 0 || d.labels[r] >= n_out)
                throw std::invalid_argument("train: label " + std::to_string(d.labels[r]) + " of example " +
                                            std::to_string(r) + " is outside [0, " + std::to_string(n_out) + ")");
    for (std::int64_t k = 0; k < d.n * n_in; ++k)
        if (!std::isfinite(static_cast<double>(d.X[k]))) throw std::invalid_argument("train: X must be finite");
    if (d.targets)
        for (std::int64_t k = 0; k < d.n * n_out; ++k)
            if (!std::isfinite(static_cast<double>(d.targets[k])))
                throw std::invalid_argument("train: targets must be finite");
}
}  // namespace

template <class T>
TrainProgress Trainer<T>::run(const TrainData<T>& data, double eta, std::int64_t max_batches) {
    Impl& m = *impl_;
    if (!(eta > 0.0 && std::isfinite(eta))) throw std::invalid_argument("train: learning rate must be finite and > 0");
    check_data(data, m.L.front().n_in, m.L.back().n_out);
    const std::int64_t Bs = m.opt.batch_size, n_batches = (data.n + Bs - 1) / Bs;
    if (m.pos.batch >= n_batches) throw std::invalid_argument("train: position is past the end of the epoch");
    m.reserve(std::min(Bs, data.n));
    const auto& order = m.epoch_order(data.n);
    TrainProgress pr;
    while (pr.batches < max_batches && m.pos.batch < n_batches) {
        if (m.opt.interrupted && m.opt.interrupted()) {
            pr.interrupted = true;
            return pr;
        }
        const std::int64_t r0 = m.pos.batch * Bs, nb = std::min(Bs, data.n - r0);
        m.step(data, order.data() + r0, nb, static_cast<std::uint64_t>(m.pos.step), eta);
        for (std::int64_t r = 0; r < nb; ++r) {
            pr.loss_sum += m.loss[static_cast<std::size_t>(r)];
            pr.errors += m.wrong[static_cast<std::size_t>(r)];
        }
        pr.examples += nb;
        ++pr.batches;
        ++m.pos.batch;
        ++m.pos.step;
    }
    if (m.pos.batch == n_batches) {
        m.pos.batch = 0;
        ++m.pos.epoch;
        pr.epoch_done = true;
    }
    return pr;
}

template <class T>
double Trainer<T>::gradient(const TrainData<T>& data, std::int64_t step, std::vector<std::vector<T>>& gW,
                            std::vector<std::vector<T>>& gb) {
    Impl& m = *impl_;
    check_data(data, m.L.front().n_in, m.L.back().n_out);
    if (step < 0) throw std::invalid_argument("gradient: step must be >= 0");
    m.reserve(data.n);
    std::vector<std::int64_t> rows(static_cast<std::size_t>(data.n));
    for (std::int64_t r = 0; r < data.n; ++r) rows[static_cast<std::size_t>(r)] = r;
    m.step(data, rows.data(), data.n, static_cast<std::uint64_t>(step), 0.0);
    gW.resize(m.L.size());
    gb.resize(m.L.size());
    for (std::size_t h = 0; h < m.L.size(); ++h) {
        gW[h].resize(static_cast<std::size_t>(m.L[h].n_out * m.L[h].n_in));
        m.unpack(m.L[h].gWp, m.L[h], gW[h].data());
        gb[h] = m.L[h].gb;
    }
    double s = 0;
    for (std::int64_t r = 0; r < data.n; ++r) s += m.loss[static_cast<std::size_t>(r)];
    return s;
}

template <class T>
void Trainer<T>::predict(const T* X, std::int64_t n, T* out) {
    Impl& m = *impl_;
    if (n < 0 || (n > 0 && !X)) throw std::invalid_argument("predict: bad inputs");
    for (std::int64_t k = 0; k < n * m.L.front().n_in; ++k)
        if (!std::isfinite(static_cast<double>(X[k]))) throw std::invalid_argument("predict: X must be finite");
    // Chunks of about 2^29 multiply-adds (tens of milliseconds): Ctrl-C is polled
    // between them, and large enough for the product kernels' row blocking.
    std::int64_t macs = 0;
    for (const auto& l : m.L) macs += l.n_out * l.n_in;
    const std::int64_t chunk = std::clamp<std::int64_t>((std::int64_t{1} << 29) / std::max<std::int64_t>(macs, 1), 16,
                                                        std::max<std::int64_t>(m.B, 256)),
                       no = m.L.back().n_out;
    m.reserve(chunk);
    std::vector<std::int64_t> rows(static_cast<std::size_t>(chunk));
    for (std::int64_t r0 = 0; r0 < n; r0 += chunk) {
        if (r0 > 0 && m.opt.interrupted && m.opt.interrupted()) throw Interrupted{};
        const std::int64_t nb = std::min(chunk, n - r0);
        for (std::int64_t r = 0; r < nb; ++r) rows[static_cast<std::size_t>(r)] = r0 + r;
        m.forward(X, rows.data(), nb, 0, true);
        const auto& O = m.L.back().O;
        for (std::int64_t r = 0; r < nb; ++r)
            std::copy(O.begin() + r * m.L.back().ldo, O.begin() + r * m.L.back().ldo + no, out + (r0 + r) * no);
    }
}

template <class T>
std::int64_t Trainer<T>::n_layers() const {
    return static_cast<std::int64_t>(impl_->L.size());
}

template <class T>
std::array<std::int64_t, 2> Trainer<T>::layer_shape(std::int64_t h) const {
    const auto& l = impl_->L.at(static_cast<std::size_t>(h));
    return {l.n_out, l.n_in};
}

template <class T>
void Trainer<T>::get_layer(std::int64_t h, T* W, T* b, T* vW, T* vb) const {
    const auto& l = impl_->L.at(static_cast<std::size_t>(h));
    if (W) impl_->unpack(l.Wp, l, W);
    if (vW) impl_->unpack(l.Vp, l, vW);
    if (b) std::copy(l.b.begin(), l.b.end(), b);
    if (vb) std::copy(l.vb.begin(), l.vb.end(), vb);
}

template <class T>
void Trainer<T>::set_layer(std::int64_t h, const T* W, const T* b, const T* vW, const T* vb) {
    auto& l = impl_->L.at(static_cast<std::size_t>(h));
    if (W) impl_->pack(W, l, l.Wp);
    if (vW) impl_->pack(vW, l, l.Vp);
    if (b) std::copy(b, b + l.n_out, l.b.begin());
    if (vb) std::copy(vb, vb + l.n_out, l.vb.begin());
    impl_->refresh_rows(l);
}

template <class T>
TrainPosition Trainer<T>::position() const {
    return impl_->pos;
}

template <class T>
void Trainer<T>::set_position(const TrainPosition& p) {
    if (p.epoch < 0 || p.batch < 0 || p.step < 0) throw std::invalid_argument("train: position must be >= 0");
    impl_->pos = p;
}

template <class T>
void Trainer<T>::save_state() {
    auto& sv = impl_->saved;
    const auto n = impl_->L.size();
    sv.Wp.resize(n);
    sv.Vp.resize(n);
    sv.b.resize(n);
    sv.vb.resize(n);
    // assign into the kept buffers: after the first call, no allocation and no page faults.
    for (std::size_t h = 0; h < n; ++h) {
        const auto& l = impl_->L[h];
        sv.Wp[h].assign(l.Wp.begin(), l.Wp.end());
        sv.Vp[h].assign(l.Vp.begin(), l.Vp.end());
        sv.b[h].assign(l.b.begin(), l.b.end());
        sv.vb[h].assign(l.vb.begin(), l.vb.end());
    }
    sv.pos = impl_->pos;
    sv.valid = true;
}

template <class T>
void Trainer<T>::restore_state() {
    const auto& sv = impl_->saved;
    if (!sv.valid) throw std::logic_error("train: restore_state without save_state");
    for (std::size_t h = 0; h < impl_->L.size(); ++h) {
        auto& l = impl_->L[h];
        std::copy(sv.Wp[h].begin(), sv.Wp[h].end(), l.Wp.begin());
        std::copy(sv.Vp[h].begin(), sv.Vp[h].end(), l.Vp.begin());
        std::copy(sv.b[h].begin(), sv.b[h].end(), l.b.begin());
        std::copy(sv.vb[h].begin(), sv.vb[h].end(), l.vb.begin());
        impl_->refresh_rows(l);
    }
    impl_->pos = sv.pos;
}

template <class T>
bool Trainer<T>::finite() const {
    // An OR of isfinite over everything: the padding of the packed tiles is zero.
    bool ok = true;
    for (const auto& l : impl_->L)
        for (const auto* v : {&l.b, &l.vb})
            for (const T x : *v) ok &= std::isfinite(x);
    for (const auto& l : impl_->L)
        for (const auto* v : {&l.Wp, &l.Vp})
            for (const T x : *v) ok &= std::isfinite(x);
    return ok;
}

template class Trainer<float>;
template class Trainer<double>;

}  // namespace dropengine

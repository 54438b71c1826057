// dropengine._core: the only file that includes pybind11. It converts arrays,
// releases the GIL, makes one core call and maps errors; validation of Python-level
// types, defaults and docstrings live in the Python wrappers (dropengine/*.py).
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <memory>
#include <optional>

#include "dropengine/dropengine.h"

namespace py = pybind11;
using namespace dropengine;

namespace {

// C-contiguous and aligned: NumPy copies a misaligned view (a slice of a byte buffer)
// rather than handing the kernels a pointer they may not dereference.
template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast | py::detail::npy_api::NPY_ARRAY_ALIGNED_>;

using TransferSpec = std::tuple<int, double, double, double, double>;  // kind, c, lam, threshold, slope

/// Views over the Python-owned arrays; `keep` holds them alive for the call.
template <class T>
NetworkView<T> make_net(const std::vector<carray<T>>& Ws, const std::vector<std::optional<carray<T>>>& bs,
                        const std::vector<TransferSpec>& fs) {
    if (Ws.size() != bs.size() || Ws.size() != fs.size())
        throw std::invalid_argument("network: weights, biases and transfers must have one entry per layer");
    NetworkView<T> net;
    for (std::size_t h = 0; h < Ws.size(); ++h) {
        if (Ws[h].ndim() != 2) throw std::invalid_argument("network: weights must be 2-D");
        LayerView<T> l;
        l.W = Ws[h].data();
        l.n_out = Ws[h].shape(0);
        l.n_in = Ws[h].shape(1);
        if (bs[h]) {
            if (bs[h]->ndim() != 1 || bs[h]->shape(0) != l.n_out) throw std::invalid_argument("network: bias shape");
            l.b = bs[h]->data();
        }
        const auto& [k, c, lam, t, s] = fs[h];
        l.f.kind = static_cast<TransferKind>(k);
        l.f.c = c; l.f.lam = lam; l.f.threshold = t; l.f.slope = s;
        net.layers.push_back(l);
    }
    return net;
}

Gate make_gate(int kind, const std::vector<carray<double>>& p, const std::vector<double>& keep_bias) {
    Gate g;
    g.kind = static_cast<GateKind>(kind);
    for (const auto& a : p) g.p.emplace_back(a.data(), a.data() + a.size());
    g.keep_bias = keep_bias;
    return g;
}

py::dict stats_to_dict(SampleStats&& st) {
    const py::ssize_t ni = st.n_inputs, nu = st.n_units, np_ = st.n_pairs();
    auto arr = [](std::vector<double>& v, std::vector<py::ssize_t> shape) {
        auto* heap = new std::vector<double>(std::move(v));
        py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<double>*>(p); });
        return py::array_t<double>(shape, heap->data(), owner);
    };
    py::dict d;
    d["count"] = arr(st.count, {ni});
    d["mean"] = arr(st.mean, {ni, nu});
    d["m2"] = arr(st.m2, {ni, nu});
    d["slog"] = arr(st.slog, {ni, nu});
    d["slogc"] = arr(st.slogc, {ni, nu});
    d["mean_S"] = arr(st.mean_S, {ni, nu});
    d["m2_S"] = arr(st.m2_S, {ni, nu});
    d["mean_dO"] = arr(st.mean_dO, {ni, nu});
    d["comoment"] = arr(st.comoment, {ni, np_});
    py::list E_in, var_in;
    for (std::size_t h = 0; h < st.E_in.size(); ++h) {
        const py::ssize_t n = ni > 0 ? static_cast<py::ssize_t>(st.E_in[h].size()) / ni : 0;
        E_in.append(arr(st.E_in[h], {ni, n}));
        var_in.append(arr(st.var_in[h], {ni, n}));
    }
    d["E_in"] = E_in;
    d["var_in"] = var_in;
    return d;
}

/// The core's poll for Ctrl-C: Python's signal handlers run on the main thread.
bool python_interrupted() {
    py::gil_scoped_acquire g;
    return PyErr_CheckSignals() != 0;
}

/// Runs a long core call without the GIL. A core call stopped by python_interrupted
/// throws Interrupted; it surfaces as the KeyboardInterrupt Python raised.
template <class Call>
auto without_gil(Call call) {
    try {
        py::gil_scoped_release nogil;
        return call();
    } catch (const Interrupted&) {
        throw py::error_already_set();
    }
}

/// without_gil for the calls whose options carry the interrupt callback.
template <class Options, class Call>
auto run_interruptible(Options& opt, Call call) {
    opt.interrupted = python_interrupted;
    return without_gil(call);
}

std::vector<UnitPair> make_pairs(const carray<std::int64_t>& pairs) {
    if (pairs.ndim() != 2 || pairs.shape(1) != 2) throw std::invalid_argument("pairs must have shape (n_pairs, 2)");
    std::vector<UnitPair> v;
    for (py::ssize_t k = 0; k < pairs.shape(0); ++k) v.push_back({pairs.at(k, 0), pairs.at(k, 1)});
    return v;
}

template <class T>
py::tuple sample_py(const std::vector<carray<T>>& Ws, const std::vector<std::optional<carray<T>>>& bs,
                    const std::vector<TransferSpec>& fs, int gate_kind, const std::vector<carray<double>>& p,
                    const std::vector<double>& keep_bias, const carray<T>& X, std::uint64_t n_samples,
                    std::uint64_t first_sample, std::uint64_t first_input, std::uint32_t k0, std::uint32_t k1,
                    int threads, const carray<std::int64_t>& pairs, const std::vector<std::int64_t>& record_layers,
                    bool input_stats) {
    const auto net = make_net<T>(Ws, bs, fs);
    const Gate gate = make_gate(gate_kind, p, keep_bias);
    if (X.ndim() != 2) throw std::invalid_argument("inputs must be 2-D");
    SampleOptions opt;
    opt.n_samples = n_samples;
    opt.first_sample = first_sample;
    opt.first_input = first_input;
    opt.key[0] = k0;
    opt.key[1] = k1;
    opt.threads = threads;
    opt.pairs = make_pairs(pairs);
    opt.record_layers = record_layers;
    opt.input_stats = input_stats;
    py::list records;
    for (auto h : record_layers) {
        if (h < 0 || h >= net.n_layers()) throw std::invalid_argument("record: layer out of range");
        py::array_t<T> a({static_cast<py::ssize_t>(X.shape(0)), static_cast<py::ssize_t>(n_samples),
                          static_cast<py::ssize_t>(net.layers[static_cast<std::size_t>(h)].n_out)});
        opt.record_out.push_back(a.mutable_data());
        records.append(a);
    }
    SampleStats st = run_interruptible(opt, [&] { return sample<T>(net, gate, X.data(), X.shape(0), opt); });
    return py::make_tuple(stats_to_dict(std::move(st)), records);
}

template <class T>
py::dict sample_async_py(const std::vector<carray<T>>& Ws, const std::vector<std::optional<carray<T>>>& bs,
                         const std::vector<TransferSpec>& fs, int gate_kind, const std::vector<carray<double>>& p,
                         const carray<T>& X, std::uint64_t n_steps, std::uint64_t burn_in, std::uint64_t first_input,
                         std::uint32_t k0, std::uint32_t k1, int threads, bool input_stats) {
    const auto net = make_net<T>(Ws, bs, fs);
    const Gate gate = make_gate(gate_kind, p, {});
    if (X.ndim() != 2) throw std::invalid_argument("inputs must be 2-D");
    AsyncOptions opt;
    opt.n_steps = n_steps;
    opt.burn_in = burn_in;
    opt.first_input = first_input;
    opt.key[0] = k0;
    opt.key[1] = k1;
    opt.threads = threads;
    opt.input_stats = input_stats;
    SampleStats st = run_interruptible(opt, [&] { return sample_async<T>(net, gate, X.data(), X.shape(0), opt); });
    return stats_to_dict(std::move(st));
}

template <class T>
py::tuple ensemble_py(const std::vector<carray<T>>& Ws, const std::vector<std::optional<carray<T>>>& bs,
                      const std::vector<TransferSpec>& fs, int gate_kind, const std::vector<carray<double>>& p,
                      const std::vector<double>& keep_bias, const carray<T>& X, int threads) {
    const auto net = make_net<T>(Ws, bs, fs);
    const Gate gate = make_gate(gate_kind, p, keep_bias);
    if (X.ndim() != 2) throw std::invalid_argument("inputs must be 2-D");
    py::list Us, Wo;
    std::vector<T*> up, wp;
    for (const auto& l : net.layers) {
        py::array_t<T> u({X.shape(0), static_cast<py::ssize_t>(l.n_out)}), w({X.shape(0), static_cast<py::ssize_t>(l.n_out)});
        up.push_back(u.mutable_data());
        wp.push_back(w.mutable_data());
        Us.append(u);
        Wo.append(w);
    }
    without_gil([&] { ensemble<T>(net, gate, X.data(), X.shape(0), up, wp, threads, python_interrupted); });
    return py::make_tuple(Us, Wo);
}

template <class T>
py::dict enumerate_py(const std::vector<carray<T>>& Ws, const std::vector<std::optional<carray<T>>>& bs,
                      const std::vector<TransferSpec>& fs, int gate_kind, const std::vector<carray<double>>& p,
                      const std::vector<double>& keep_bias, const carray<T>& X, int threads,
                      const carray<std::int64_t>& pairs, int max_log2, bool allow_halves, std::int64_t part,
                      std::int64_t n_parts) {
    const auto net = make_net<T>(Ws, bs, fs);
    const Gate gate = make_gate(gate_kind, p, keep_bias);
    if (X.ndim() != 2) throw std::invalid_argument("inputs must be 2-D");
    EnumerateOptions opt;
    opt.threads = threads;
    opt.pairs = make_pairs(pairs);
    opt.max_log2 = max_log2;
    opt.allow_halves = allow_halves;
    opt.part = part;
    opt.n_parts = n_parts;
    SampleStats st = run_interruptible(opt, [&] { return enumerate<T>(net, gate, X.data(), X.shape(0), opt); });
    return stats_to_dict(std::move(st));
}

template <class T>
std::int64_t free_gates_py(const std::vector<carray<T>>& Ws, const std::vector<std::optional<carray<T>>>& bs,
                           const std::vector<TransferSpec>& fs, int gate_kind, const std::vector<carray<double>>& p,
                           const std::vector<double>& keep_bias) {
    const auto net = make_net<T>(Ws, bs, fs);
    const Gate gate = make_gate(gate_kind, p, keep_bias);
    gate.validate(net);
    return free_gates<T>(net, gate);
}

SampleStats dict_to_stats(const py::dict& d, const std::vector<UnitPair>& pairs) {
    auto get = [&](const char* k) { return d[k].cast<carray<double>>(); };
    const auto mean = get("mean");
    if (mean.ndim() != 2) throw std::invalid_argument("statistics: mean must be 2-D");
    SampleStats st(mean.shape(0), mean.shape(1), pairs);
    auto fill = [&](const char* k, std::vector<double>& v) {
        const auto a = get(k);
        if (static_cast<std::size_t>(a.size()) != v.size()) throw std::invalid_argument(std::string("statistics: bad shape of ") + k);
        std::copy(a.data(), a.data() + a.size(), v.begin());
    };
    fill("count", st.count); fill("mean", st.mean); fill("m2", st.m2); fill("slog", st.slog);
    fill("slogc", st.slogc); fill("mean_S", st.mean_S); fill("m2_S", st.m2_S); fill("mean_dO", st.mean_dO);
    fill("comoment", st.comoment);
    return st;
}

py::dict merge_py(const py::dict& a, const py::dict& b, const carray<std::int64_t>& pairs) {
    const auto pr = make_pairs(pairs);
    SampleStats sa = dict_to_stats(a, pr);
    const SampleStats sb = dict_to_stats(b, pr);
    sa.merge(sb);
    return stats_to_dict(std::move(sa));
}

template <class T>
py::tuple transfer_py(const TransferSpec& spec, const carray<T>& S) {
    Transfer f;
    const auto& [k, c, lam, t, s] = spec;
    f.kind = static_cast<TransferKind>(k);
    f.c = c; f.lam = lam; f.threshold = t; f.slope = s;
    f.validate();
    if (S.ndim() != 2) throw std::invalid_argument("S must be 2-D (rows, units)");
    const py::ssize_t r = S.shape(0), n = S.shape(1);
    py::array_t<T> O({r, n});
    py::array_t<double> lo({r, n}), loc({r, n}), d({r, n});
    for (py::ssize_t i = 0; i < r; ++i)
        apply_transfer<T>(f, S.data() + i * n, O.mutable_data() + i * n, lo.mutable_data() + i * n,
                          loc.mutable_data() + i * n, d.mutable_data() + i * n, n);
    return py::make_tuple(O, lo, loc, d);
}

/// The trainer over Python-owned data: keeps views of the arrays of one call only.
template <class T>
struct TrainerPy {
    std::unique_ptr<Trainer<T>> t;

    TrainerPy(const std::vector<carray<T>>& Ws, const std::vector<std::optional<carray<T>>>& bs,
              const std::vector<TransferSpec>& fs, int gate_kind, const std::vector<carray<double>>& p,
              const std::vector<double>& keep_bias, int loss, std::int64_t batch_size, double momentum,
              double weight_decay, double max_norm, const std::vector<double>& backward, std::uint32_t k0,
              std::uint32_t k1, int threads) {
        TrainOptions o;
        o.loss = static_cast<Loss>(loss);
        o.batch_size = batch_size;
        o.momentum = momentum;
        o.weight_decay = weight_decay;
        o.max_norm = max_norm;
        o.backward = backward;
        o.key[0] = k0;
        o.key[1] = k1;
        o.threads = threads;
        o.interrupted = python_interrupted;
        t = std::make_unique<Trainer<T>>(make_net<T>(Ws, bs, fs), make_gate(gate_kind, p, keep_bias), std::move(o));
    }

    TrainData<T> data(const carray<T>& X, const std::optional<carray<std::int32_t>>& labels,
                      const std::optional<carray<T>>& targets) const {
        const auto n_in = t->layer_shape(0)[1], n_out = t->layer_shape(t->n_layers() - 1)[0];
        if (X.ndim() != 2 || X.shape(1) != n_in)
            throw std::invalid_argument("X must have shape (n, " + std::to_string(n_in) + ")");
        TrainData<T> d;
        d.X = X.data();
        d.n = X.shape(0);
        if (labels) {
            if (labels->ndim() != 1 || labels->shape(0) != d.n)
                throw std::invalid_argument("labels must have shape (" + std::to_string(d.n) + ",)");
            d.labels = labels->data();
        }
        if (targets) {
            if (targets->ndim() != 2 || targets->shape(0) != d.n || targets->shape(1) != n_out)
                throw std::invalid_argument("targets must have shape (" + std::to_string(d.n) + ", " +
                                            std::to_string(n_out) + ")");
            d.targets = targets->data();
        }
        return d;
    }

    /// Runs minibatches without the GIL. A Ctrl-C stops at a batch boundary; the
    /// KeyboardInterrupt is taken off the error indicator and reported as
    /// progress["interrupted"], for the Python side to record the batches done first.
    py::dict run(const carray<T>& X, const std::optional<carray<std::int32_t>>& labels,
                 const std::optional<carray<T>>& targets, double eta, std::int64_t max_batches) {
        const TrainData<T> d = data(X, labels, targets);
        TrainProgress pr;
        {
            py::gil_scoped_release nogil;
            pr = t->run(d, eta, max_batches);
        }
        if (pr.interrupted && PyErr_Occurred()) PyErr_Clear();
        py::dict r;
        r["batches"] = pr.batches;
        r["examples"] = pr.examples;
        r["loss_sum"] = pr.loss_sum;
        r["errors"] = pr.errors;
        r["interrupted"] = pr.interrupted;
        r["epoch_done"] = pr.epoch_done;
        return r;
    }

    py::tuple gradient(const carray<T>& X, const std::optional<carray<std::int32_t>>& labels,
                       const std::optional<carray<T>>& targets, std::int64_t step) {
        const TrainData<T> d = data(X, labels, targets);
        std::vector<std::vector<T>> gW, gb;
        double loss;
        {
            py::gil_scoped_release nogil;
            loss = t->gradient(d, step, gW, gb);
        }
        py::list W, b;
        for (std::size_t h = 0; h < gW.size(); ++h) {
            W.append(py::array_t<T>(static_cast<py::ssize_t>(gW[h].size()), gW[h].data()));
            b.append(py::array_t<T>(static_cast<py::ssize_t>(gb[h].size()), gb[h].data()));
        }
        return py::make_tuple(W, b, loss);
    }

    py::array_t<T> predict(const carray<T>& X, std::int64_t n_out_expected) {
        const auto n_in = t->layer_shape(0)[1], n_out = t->layer_shape(t->n_layers() - 1)[0];
        if (X.ndim() != 2 || X.shape(1) != n_in)
            throw std::invalid_argument("X must have shape (n, " + std::to_string(n_in) + ")");
        if (n_out_expected != n_out) throw std::invalid_argument("predict: the network has " + std::to_string(n_out) + " outputs");
        py::array_t<T> out({X.shape(0), static_cast<py::ssize_t>(n_out)});
        T* o = out.mutable_data();
        without_gil([&] { t->predict(X.data(), X.shape(0), o); });
        return out;
    }

    std::array<std::int64_t, 2> layer_shape(std::int64_t h) const {
        if (h < 0 || h >= t->n_layers()) throw std::invalid_argument("layer out of range");
        return t->layer_shape(h);
    }

    /// (W, b, vW, vb) of layer h, flat (the Python side reshapes).
    py::tuple get_layer(std::int64_t h, std::int64_t n_out_expected, std::int64_t n_in_expected) const {
        const auto [n_out, n_in] = layer_shape(h);
        if (n_out != n_out_expected || n_in != n_in_expected)
            throw std::invalid_argument("get_layer: layer " + std::to_string(h) + " has shape (" + std::to_string(n_out) +
                                        ", " + std::to_string(n_in) + ")");
        py::array_t<T> W(n_out * n_in), b(n_out), vW(n_out * n_in), vb(n_out);
        t->get_layer(h, W.mutable_data(), b.mutable_data(), vW.mutable_data(), vb.mutable_data());
        return py::make_tuple(W, b, vW, vb);
    }

    void set_layer(std::int64_t h, const carray<T>& W, const carray<T>& b, const carray<T>& vW, const carray<T>& vb) {
        const auto [n_out, n_in] = layer_shape(h);
        // The core copies n_out x n_in values from each pointer: sizes are checked here,
        // the only place that sees both the Python array and the raw pointer.
        auto check = [&](const carray<T>& a, py::ssize_t n, const char* name) {
            if (a.size() != n)
                throw std::invalid_argument(std::string("set_layer: ") + name + " of layer " + std::to_string(h) +
                                            " must have " + std::to_string(n) + " values, got " + std::to_string(a.size()));
        };
        check(W, n_out * n_in, "W");
        check(vW, n_out * n_in, "vW");
        check(b, n_out, "b");
        check(vb, n_out, "vb");
        t->set_layer(h, W.data(), b.data(), vW.data(), vb.data());
    }

    std::array<std::int64_t, 3> position() const {
        const TrainPosition p = t->position();
        return {p.epoch, p.batch, p.step};
    }
    void set_position(std::array<std::int64_t, 3> p) { t->set_position({p[0], p[1], p[2]}); }
};

template <class T>
void bind_trainer(py::module_& m, const char* name) {
    py::class_<TrainerPy<T>>(m, name)
        .def(py::init<const std::vector<carray<T>>&, const std::vector<std::optional<carray<T>>>&,
                      const std::vector<TransferSpec>&, int, const std::vector<carray<double>>&,
                      const std::vector<double>&, int, std::int64_t, double, double, double,
                      const std::vector<double>&, std::uint32_t, std::uint32_t, int>())
        .def("run", &TrainerPy<T>::run)
        .def("gradient", &TrainerPy<T>::gradient)
        .def("predict", &TrainerPy<T>::predict)
        .def("layer_shape", &TrainerPy<T>::layer_shape)
        .def("get_layer", &TrainerPy<T>::get_layer)
        .def("set_layer", &TrainerPy<T>::set_layer)
        .def("position", &TrainerPy<T>::position)
        .def("set_position", &TrainerPy<T>::set_position);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "dropengine C++ core (internal; use the dropengine package)";
    py::register_exception<OutOfMemory>(m, "OutOfMemory", PyExc_MemoryError);
    m.def("sample_f32", &sample_py<float>);
    m.def("sample_f64", &sample_py<double>);
    m.def("sample_async_f32", &sample_async_py<float>);
    m.def("sample_async_f64", &sample_async_py<double>);
    m.def("ensemble_f32", &ensemble_py<float>);
    m.def("ensemble_f64", &ensemble_py<double>);
    m.def("enumerate_f32", &enumerate_py<float>);
    m.def("enumerate_f64", &enumerate_py<double>);
    m.def("free_gates_f32", &free_gates_py<float>);
    m.def("free_gates_f64", &free_gates_py<double>);
    m.attr("parts_log2_offset") = kPartsLog2Offset;  // exact.max_parts: 2^max(0, gates - offset)
    m.def("transfer_f32", &transfer_py<float>);
    m.def("transfer_f64", &transfer_py<double>);
    m.def("merge", &merge_py);
    bind_trainer<float>(m, "Trainer_f32");
    bind_trainer<double>(m, "Trainer_f64");
    m.def("philox4x32_10", [](std::array<std::uint32_t, 4> c, std::array<std::uint32_t, 2> k) {
        const Philox4x32 r = philox4x32_10(c[0], c[1], c[2], c[3], k[0], k[1]);
        return std::array<std::uint32_t, 4>{r.v[0], r.v[1], r.v[2], r.v[3]};
    });
    m.def("build_info", [] {
        py::dict d;
        d["version"] = version();
        d["openmp"] = has_openmp();
        d["max_threads"] = max_threads();
        d["simd"] = simd_level();
        d["cuda"] = false;
        d["stream_version"] = kStreamVersion;
        d["block_samples"] = kBlockSamples;
        return d;
    });
}

// dropengine._core: the only file that includes pybind11, reached from Python only through
// dropengine/_engine.py. It converts arrays, picks the float32 or float64 engine from the
// network's dtype, releases the GIL, makes one core call and maps errors. It checks what
// only it can see (the sizes of buffers whose raw pointers cross into the core); argument
// checks users see live in the Python wrappers, and the core validates its own inputs.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "dropengine/dropengine.h"

namespace py = pybind11;
using namespace dropengine;
using py::arg;

namespace {

// C-contiguous and aligned: NumPy copies a misaligned view (a slice of a byte buffer)
// rather than handing the kernels a pointer they may not dereference.
template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast | py::detail::npy_api::NPY_ARRAY_ALIGNED_>;

/// Calls f(T{}) with T the element type of `like` (float32 or float64).
template <class F>
decltype(auto) by_dtype(const py::array& like, F&& f) {
    const py::dtype dt = like.dtype();
    if (dt.kind() == 'f' && dt.itemsize() == 4) return f(float{});
    if (dt.kind() == 'f' && dt.itemsize() == 8) return f(double{});
    throw py::type_error("the network's weights must be float32 or float64");
}

/// A network as Python describes it: (weights, biases, transfers, sources), with transfers
/// rows (TransferKind, c, lam, threshold, slope) and sources per layer a list of
/// (source layer, column offset, n) blocks of W, empty for a chain's layer (network.h).
/// The converted arrays live as long as the view.
template <class T>
struct NetArgs {
    std::vector<carray<T>> W;
    std::vector<std::optional<carray<T>>> b;
    NetworkView<T> view;
};

using TransferRow = std::tuple<TransferKind, double, double, double, double>;

Transfer make_transfer(const TransferRow& row) {
    Transfer f;
    std::tie(f.kind, f.c, f.lam, f.threshold, f.slope) = row;
    return f;
}

py::array first_weights(const py::tuple& net) { return net[0].cast<py::list>()[0].cast<py::array>(); }

template <class T>
NetArgs<T> make_net(const py::tuple& net) {
    if (net.size() != 4) throw std::invalid_argument("net must be (weights, biases, transfers, sources)");
    NetArgs<T> a;
    a.W = net[0].cast<std::vector<carray<T>>>();
    a.b = net[1].cast<std::vector<std::optional<carray<T>>>>();
    const auto fs = net[2].cast<std::vector<TransferRow>>();
    const auto srcs = net[3].cast<std::vector<std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>>>();
    if (a.W.size() != a.b.size() || a.W.size() != fs.size() || a.W.size() != srcs.size())
        throw std::invalid_argument("network: weights, biases and transfers must have one entry per layer");
    for (std::size_t h = 0; h < a.W.size(); ++h) {
        if (a.W[h].ndim() != 2) throw std::invalid_argument("network: weights must be 2-D");
        LayerView<T> l;
        l.W = a.W[h].data();
        l.n_out = a.W[h].shape(0);
        l.n_in = a.W[h].shape(1);
        if (a.b[h]) {
            if (a.b[h]->ndim() != 1 || a.b[h]->shape(0) != l.n_out) throw std::invalid_argument("network: bias shape");
            l.b = a.b[h]->data();
        }
        l.f = make_transfer(fs[h]);
        for (const auto& [layer, offset, n] : srcs[h]) l.sources.push_back({layer, offset, n});
        a.view.layers.push_back(l);
    }
    return a;
}

/// A gate as Python describes it: (GateKind, p per layer, keep_bias per layer, mean per
/// layer, kinds per layer), the means only for the multiplicative Gaussian kinds (else an
/// empty list), the kinds only for GateKind.mixed (else an empty list).
Gate make_gate(const py::tuple& gate) {
    if (gate.size() != 5) throw std::invalid_argument("gate must be (kind, p, keep_bias, mean, kinds)");
    Gate g;
    g.kind = gate[0].cast<GateKind>();
    for (const auto& a : gate[1].cast<std::vector<carray<double>>>()) g.p.emplace_back(a.data(), a.data() + a.size());
    g.keep_bias = gate[2].cast<std::vector<double>>();
    for (const auto& a : gate[3].cast<std::vector<carray<double>>>()) g.mean.emplace_back(a.data(), a.data() + a.size());
    g.kinds = gate[4].cast<std::vector<GateKind>>();
    return g;
}

template <class T>
carray<T> rows(const py::array& X, const NetworkView<T>& net, const char* name) {
    auto a = carray<T>::ensure(X);
    if (!a || a.ndim() != 2 || (!net.layers.empty() && a.shape(1) != net.layers[0].n_in))
        throw std::invalid_argument(std::string(name) + " must have shape (n, " +
                                    std::to_string(net.layers.empty() ? 0 : net.layers[0].n_in) + ")");
    return a;
}

/// The arguments every engine call takes, converted for element type T.
template <class T>
struct EngineArgs {
    using value_type = T;
    NetArgs<T> net;
    Gate gate;
    carray<T> X;
};

/// f(EngineArgs<T>&) with T the network's element type; f's return type must not depend on T.
template <class F>
decltype(auto) with_args(const py::tuple& net, const py::tuple& gate, const py::array& X, F&& f) {
    return by_dtype(first_weights(net), [&](auto tag) {
        using T = decltype(tag);
        EngineArgs<T> a{make_net<T>(net), make_gate(gate), {}};
        a.X = rows<T>(X, a.net.view, "inputs");
        return f(a);
    });
}

/// Takes ownership of v without a copy.
py::array_t<double> own(std::vector<double>&& v, std::vector<py::ssize_t> shape) {
    auto* heap = new std::vector<double>(std::move(v));
    py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<double>*>(p); });
    return py::array_t<double>(shape, heap->data(), owner);
}

py::dict stats_to_dict(SampleStats&& st) {
    const py::ssize_t ni = st.n_inputs, nu = st.n_units, np_ = st.n_pairs();
    py::dict d;
    d["count"] = own(std::move(st.count), {ni});
    d["mean"] = own(std::move(st.mean), {ni, nu});
    d["m2"] = own(std::move(st.m2), {ni, nu});
    d["slog"] = own(std::move(st.slog), {ni, nu});
    d["slogc"] = own(std::move(st.slogc), {ni, nu});
    d["mean_S"] = own(std::move(st.mean_S), {ni, nu});
    d["m2_S"] = own(std::move(st.m2_S), {ni, nu});
    d["mean_dO"] = own(std::move(st.mean_dO), {ni, nu});
    d["comoment"] = own(std::move(st.comoment), {ni, np_});
    py::list E_in, var_in;  // with input_stats: per layer, (n_inputs, n_in(h)) flat
    for (std::size_t h = 0; h < st.E_in.size(); ++h) {
        E_in.append(own(std::move(st.E_in[h]), {static_cast<py::ssize_t>(st.E_in[h].size())}));
        var_in.append(own(std::move(st.var_in[h]), {static_cast<py::ssize_t>(st.var_in[h].size())}));
    }
    d["E_in"] = E_in;
    d["var_in"] = var_in;
    return d;
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

std::vector<UnitPair> make_pairs(const carray<std::int64_t>& pairs) {
    if (pairs.ndim() != 2 || pairs.shape(1) != 2) throw std::invalid_argument("pairs must have shape (n_pairs, 2)");
    std::vector<UnitPair> v;
    for (py::ssize_t k = 0; k < pairs.shape(0); ++k) v.push_back({pairs.at(k, 0), pairs.at(k, 1)});
    return v;
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

using Key = std::array<std::uint32_t, 2>;

py::tuple sample_py(const py::tuple& net_, const py::tuple& gate_, const py::array& X_, std::uint64_t n_samples,
                    std::uint64_t first_sample, std::uint64_t first_input, Key key, int threads,
                    const carray<std::int64_t>& pairs, const std::vector<std::int64_t>& record_layers,
                    bool input_stats, bool bf16) {
    return with_args(net_, gate_, X_, [&](auto& a) -> py::tuple {
        using T = typename std::decay_t<decltype(a)>::value_type;
        SampleOptions opt;
        opt.n_samples = n_samples;
        opt.first_sample = first_sample;
        opt.first_input = first_input;
        opt.key[0] = key[0];
        opt.key[1] = key[1];
        opt.threads = threads;
        opt.pairs = make_pairs(pairs);
        opt.record_layers = record_layers;
        opt.input_stats = input_stats;
        opt.bf16 = bf16;
        py::list records;
        // The core writes n_inputs x n_samples x n_out(h) values per recorded layer: the
        // buffers are sized here, where the pointers are made.
        for (auto h : record_layers) {
            if (h < 0 || h >= a.net.view.n_layers()) throw std::invalid_argument("record: layer out of range");
            py::array_t<T> rec({static_cast<py::ssize_t>(a.X.shape(0)), static_cast<py::ssize_t>(n_samples),
                                static_cast<py::ssize_t>(a.net.view.layers[static_cast<std::size_t>(h)].n_out)});
            opt.record_out.push_back(rec.mutable_data());
            records.append(rec);
        }
        SampleStats st = run_interruptible(opt, [&] { return sample<T>(a.net.view, a.gate, a.X.data(), a.X.shape(0), opt); });
        return py::make_tuple(stats_to_dict(std::move(st)), records);
    });
}

py::dict sample_async_py(const py::tuple& net_, const py::tuple& gate_, const py::array& X_, std::uint64_t n_steps,
                         std::uint64_t burn_in, std::uint64_t first_input, Key key, int threads, bool input_stats) {
    return with_args(net_, gate_, X_, [&](auto& a) -> py::dict {
        using T = typename std::decay_t<decltype(a)>::value_type;
        AsyncOptions opt;
        opt.n_steps = n_steps;
        opt.burn_in = burn_in;
        opt.first_input = first_input;
        opt.key[0] = key[0];
        opt.key[1] = key[1];
        opt.threads = threads;
        opt.input_stats = input_stats;
        SampleStats st = run_interruptible(opt, [&] { return sample_async<T>(a.net.view, a.gate, a.X.data(), a.X.shape(0), opt); });
        return stats_to_dict(std::move(st));
    });
}

py::tuple ensemble_py(const py::tuple& net_, const py::tuple& gate_, const py::array& X_, int threads) {
    return with_args(net_, gate_, X_, [&](auto& a) -> py::tuple {
        using T = typename std::decay_t<decltype(a)>::value_type;
        py::list Us, Wo;
        std::vector<T*> up, wp;
        for (const auto& l : a.net.view.layers) {
            const std::vector<py::ssize_t> shape{a.X.shape(0), static_cast<py::ssize_t>(l.n_out)};
            py::array_t<T> u(shape), w(shape);
            up.push_back(u.mutable_data());
            wp.push_back(w.mutable_data());
            Us.append(u);
            Wo.append(w);
        }
        without_gil([&] { ensemble<T>(a.net.view, a.gate, a.X.data(), a.X.shape(0), up, wp, threads, python_interrupted); });
        return py::make_tuple(Us, Wo);
    });
}

py::dict enumerate_py(const py::tuple& net_, const py::tuple& gate_, const py::array& X_, int threads,
                      const carray<std::int64_t>& pairs, int max_log2, bool allow_halves, std::int64_t part,
                      std::int64_t n_parts) {
    return with_args(net_, gate_, X_, [&](auto& a) -> py::dict {
        using T = typename std::decay_t<decltype(a)>::value_type;
        EnumerateOptions opt;
        opt.threads = threads;
        opt.pairs = make_pairs(pairs);
        opt.max_log2 = max_log2;
        opt.allow_halves = allow_halves;
        opt.part = part;
        opt.n_parts = n_parts;
        SampleStats st = run_interruptible(opt, [&] { return enumerate<T>(a.net.view, a.gate, a.X.data(), a.X.shape(0), opt); });
        return stats_to_dict(std::move(st));
    });
}

std::int64_t free_gates_py(const py::tuple& net_, const py::tuple& gate_) {
    return by_dtype(first_weights(net_), [&](auto tag) {
        using T = decltype(tag);
        const auto net = make_net<T>(net_);
        const Gate gate = make_gate(gate_);
        gate.validate(net.view);
        return free_gates<T>(net.view, gate);
    });
}

py::dict merge_py(const py::dict& a, const py::dict& b, const carray<std::int64_t>& pairs) {
    const auto pr = make_pairs(pairs);
    SampleStats sa = dict_to_stats(a, pr);
    const SampleStats sb = dict_to_stats(b, pr);
    sa.merge(sb);
    return stats_to_dict(std::move(sa));
}

py::tuple transfer_py(const TransferRow& row, const py::array& S_) {
    return by_dtype(S_, [&](auto tag) -> py::tuple {
        using T = decltype(tag);
        const Transfer f = make_transfer(row);
        f.validate();
        const auto S = carray<T>::ensure(S_);
        if (!S || S.ndim() != 2) throw std::invalid_argument("S must be 2-D (rows, units)");
        const py::ssize_t r = S.shape(0), n = S.shape(1);
        py::array_t<T> O({r, n});
        py::array_t<double> lo({r, n}), loc({r, n}), d({r, n});
        for (py::ssize_t i = 0; i < r; ++i)
            apply_transfer<T>(f, S.data() + i * n, O.mutable_data() + i * n, lo.mutable_data() + i * n,
                              loc.mutable_data() + i * n, d.mutable_data() + i * n, n);
        return py::make_tuple(O, lo, loc, d);
    });
}

/// The trainer over Python-owned data, float32 or float64 after the network: keeps views
/// of the arrays of one call only.
class TrainerPy {
    std::tuple<std::unique_ptr<Trainer<float>>, std::unique_ptr<Trainer<double>>> t_;

    /// f(trainer, T{}) for the trainer's element type T; f's return type must not depend on T.
    template <class F>
    decltype(auto) visit(F&& f) {
        if (auto& t = std::get<0>(t_)) return f(*t, float{});
        return f(*std::get<1>(t_), double{});
    }

public:
    TrainerPy(const py::tuple& net_, const py::tuple& gate_, Loss loss, std::int64_t batch_size, double momentum,
              double weight_decay, double max_norm, const std::vector<double>& backward,
              const std::vector<double>& backward_noise, Key key, int threads) {
        TrainOptions o;
        o.loss = loss;
        o.batch_size = batch_size;
        o.momentum = momentum;
        o.weight_decay = weight_decay;
        o.max_norm = max_norm;
        o.backward = backward;
        o.backward_noise = backward_noise;
        o.key[0] = key[0];
        o.key[1] = key[1];
        o.threads = threads;
        o.interrupted = python_interrupted;
        by_dtype(first_weights(net_), [&](auto tag) {
            using T = decltype(tag);
            std::get<std::unique_ptr<Trainer<T>>>(t_) =
                std::make_unique<Trainer<T>>(make_net<T>(net_).view, make_gate(gate_), std::move(o));
        });
    }

    /// Runs minibatches without the GIL. A Ctrl-C stops at a batch boundary; the
    /// KeyboardInterrupt is taken off the error indicator and reported as
    /// progress["interrupted"], for the Python side to record the batches done first.
    py::dict run(const py::array& X, const std::optional<py::array>& labels, const std::optional<py::array>& targets,
                 double eta, std::int64_t max_batches) {
        return visit([&](auto& t, auto tag) -> py::dict {
            using T = decltype(tag);
            const Data<T> d(t, X, labels, targets);
            TrainProgress pr;
            {
                py::gil_scoped_release nogil;
                pr = t.run(d.view, eta, max_batches);
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
        });
    }

    /// (gradient of W per layer (n_out, n_in), of b per layer, summed loss).
    py::tuple gradient(const py::array& X, const std::optional<py::array>& labels,
                       const std::optional<py::array>& targets, std::int64_t step) {
        return visit([&](auto& t, auto tag) -> py::tuple {
            using T = decltype(tag);
            const Data<T> d(t, X, labels, targets);
            std::vector<std::vector<T>> gW, gb;
            double loss;
            {
                py::gil_scoped_release nogil;
                loss = t.gradient(d.view, step, gW, gb);
            }
            py::list W, b;
            for (std::size_t h = 0; h < gW.size(); ++h) {
                const auto [n_out, n_in] = t.layer_shape(static_cast<std::int64_t>(h));
                W.append(py::array_t<T>({static_cast<py::ssize_t>(n_out), static_cast<py::ssize_t>(n_in)}, gW[h].data()));
                b.append(py::array_t<T>(static_cast<py::ssize_t>(gb[h].size()), gb[h].data()));
            }
            return py::make_tuple(W, b, loss);
        });
    }

    py::array predict(const py::array& X_) {
        return visit([&](auto& t, auto tag) -> py::array {
            using T = decltype(tag);
            const auto X = input_rows<T>(t, X_);
            const auto n_out = t.layer_shape(t.n_layers() - 1)[0];
            py::array_t<T> out({X.shape(0), static_cast<py::ssize_t>(n_out)});
            T* o = out.mutable_data();
            without_gil([&] { t.predict(X.data(), X.shape(0), o); });
            return out;
        });
    }

    std::int64_t n_layers() {
        return visit([](auto& t, auto) -> std::int64_t { return t.n_layers(); });
    }

    /// (W (n_out, n_in), b, vW, vb) of layer h.
    py::tuple get_layer(std::int64_t h) {
        return visit([&](auto& t, auto tag) -> py::tuple {
            using T = decltype(tag);
            const auto [n_out, n_in] = shape(t, h);
            py::array_t<T> W({n_out, n_in}), b(n_out), vW({n_out, n_in}), vb(n_out);
            t.get_layer(h, W.mutable_data(), b.mutable_data(), vW.mutable_data(), vb.mutable_data());
            return py::make_tuple(W, b, vW, vb);
        });
    }

    void set_layer(std::int64_t h, const py::array& W_, const py::array& b_, const py::array& vW_, const py::array& vb_) {
        visit([&](auto& t, auto tag) {
            using T = decltype(tag);
            const auto [n_out, n_in] = shape(t, h);
            // The core copies n_out x n_in values from each pointer: sizes are checked here,
            // the only place that sees both the Python array and the raw pointer.
            auto check = [&](const py::array& a, py::ssize_t n, const char* name) {
                auto c = carray<T>::ensure(a);
                if (!c || c.size() != n)
                    throw std::invalid_argument(std::string("set_layer: ") + name + " of layer " + std::to_string(h) +
                                                " must have " + std::to_string(n) + " values, got " +
                                                std::to_string(c ? c.size() : 0));
                return c;
            };
            const auto W = check(W_, n_out * n_in, "W"), vW = check(vW_, n_out * n_in, "vW");
            const auto b = check(b_, n_out, "b"), vb = check(vb_, n_out, "vb");
            t.set_layer(h, W.data(), b.data(), vW.data(), vb.data());
        });
    }

    std::array<std::int64_t, 3> position() {
        return visit([](auto& t, auto) {
            const TrainPosition p = t.position();
            return std::array<std::int64_t, 3>{p.epoch, p.batch, p.step};
        });
    }
    void set_position(std::array<std::int64_t, 3> p) {
        visit([&](auto& t, auto) { t.set_position({p[0], p[1], p[2]}); });
    }
    void save_state() {
        visit([](auto& t, auto) { t.save_state(); });
    }
    void restore_state() {
        visit([](auto& t, auto) { t.restore_state(); });
    }
    bool finite() {
        return visit([](auto& t, auto) { return t.finite(); });
    }

private:

    template <class Tr>
    static std::array<py::ssize_t, 2> shape(const Tr& t, std::int64_t h) {
        if (h < 0 || h >= t.n_layers()) throw std::invalid_argument("layer " + std::to_string(h) + " out of range");
        const auto s = t.layer_shape(h);
        return {static_cast<py::ssize_t>(s[0]), static_cast<py::ssize_t>(s[1])};
    }

    template <class T>
    static carray<T> input_rows(const Trainer<T>& t, const py::array& X_) {
        const auto n_in = t.layer_shape(0)[1];
        auto X = carray<T>::ensure(X_);
        if (!X || X.ndim() != 2 || X.shape(1) != n_in)
            throw std::invalid_argument("X must have shape (n, " + std::to_string(n_in) + ")");
        return X;
    }

    /// Training rows with labels or targets, sized against the network.
    template <class T>
    struct Data {
        carray<T> X, targets;
        carray<std::int32_t> labels;
        TrainData<T> view;
        Data(const Trainer<T>& t, const py::array& X_, const std::optional<py::array>& labels_,
             const std::optional<py::array>& targets_)
            : X(input_rows(t, X_)) {
            const auto n_out = t.layer_shape(t.n_layers() - 1)[0];
            view.X = X.data();
            view.n = X.shape(0);
            if (labels_) {
                labels = carray<std::int32_t>::ensure(*labels_);
                if (!labels || labels.ndim() != 1 || labels.shape(0) != view.n)
                    throw std::invalid_argument("labels must have shape (" + std::to_string(view.n) + ",)");
                view.labels = labels.data();
            }
            if (targets_) {
                targets = carray<T>::ensure(*targets_);
                if (!targets || targets.ndim() != 2 || targets.shape(0) != view.n || targets.shape(1) != n_out)
                    throw std::invalid_argument("targets must have shape (" + std::to_string(view.n) + ", " +
                                                std::to_string(n_out) + ")");
                view.targets = targets.data();
            }
        }
    };
};

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "dropengine C++ core (internal: reached only through dropengine._engine)";
    py::register_exception<OutOfMemory>(m, "OutOfMemory", PyExc_MemoryError);

    py::enum_<GateKind>(m, "GateKind", "What a gate draws (dropengine/gate.h)")
        .value("none", GateKind::None)
        .value("units", GateKind::Units)
        .value("connections", GateKind::Connections)
        .value("dropin", GateKind::Dropin)
        .value("spikes", GateKind::Spikes)
        .value("spikes_connections", GateKind::SpikesConnections)
        .value("gaussian_units", GateKind::GaussianUnits)
        .value("gaussian_connections", GateKind::GaussianConnections)
        .value("additive_noise", GateKind::AdditiveNoise)
        .value("weight_noise", GateKind::WeightNoise)
        .value("mixed", GateKind::Mixed);
    py::enum_<TransferKind>(m, "TransferKind", "Transfer functions (dropengine/transfer.h)")
        .value("linear", TransferKind::Linear)
        .value("logistic", TransferKind::Logistic)
        .value("tanh", TransferKind::Tanh)
        .value("relu", TransferKind::ReLU)
        .value("softplus", TransferKind::Softplus)
        .value("softmax", TransferKind::Softmax);
    py::enum_<Loss>(m, "Loss", "Training losses (dropengine/train.h)")
        .value("squared", Loss::Squared)
        .value("relative_entropy", Loss::RelativeEntropy)
        .value("cross_entropy", Loss::CrossEntropy);

    // net = (weights, biases, transfers); gate = (GateKind, p, keep_bias); see _engine.py.
    m.def("sample", &sample_py, arg("net"), arg("gate"), arg("inputs"), py::kw_only(), arg("n_samples"),
          arg("first_sample"), arg("first_input"), arg("key"), arg("threads"), arg("pairs"), arg("record"),
          arg("input_stats"), arg("bf16") = false);
    m.def("sample_async", &sample_async_py, arg("net"), arg("gate"), arg("inputs"), py::kw_only(), arg("n_steps"),
          arg("burn_in"), arg("first_input"), arg("key"), arg("threads"), arg("input_stats"));
    m.def("ensemble", &ensemble_py, arg("net"), arg("gate"), arg("inputs"), py::kw_only(), arg("threads"));
    m.def("enumerate", &enumerate_py, arg("net"), arg("gate"), arg("inputs"), py::kw_only(), arg("threads"),
          arg("pairs"), arg("max_log2"), arg("allow_halves"), arg("part"), arg("n_parts"));
    m.def("free_gates", &free_gates_py, arg("net"), arg("gate"));
    m.attr("parts_log2_offset") = kPartsLog2Offset;  // exact.max_parts: 2^max(0, gates - offset)
    m.def("transfer", &transfer_py, arg("transfer"), arg("S"));
    m.def("merge", &merge_py, arg("a"), arg("b"), arg("pairs"));
    py::class_<TrainerPy>(m, "Trainer")
        .def(py::init<const py::tuple&, const py::tuple&, Loss, std::int64_t, double, double, double,
                      const std::vector<double>&, const std::vector<double>&, Key, int>(),
             arg("net"), arg("gate"), py::kw_only(), arg("loss"), arg("batch_size"), arg("momentum"),
             arg("weight_decay"), arg("max_norm"), arg("backward"), arg("backward_noise"), arg("key"), arg("threads"))
        .def("run", &TrainerPy::run, arg("X"), arg("labels"), arg("targets"), arg("eta"), arg("max_batches"))
        .def("gradient", &TrainerPy::gradient, arg("X"), arg("labels"), arg("targets"), arg("step"))
        .def("predict", &TrainerPy::predict, arg("X"))
        .def_property_readonly("n_layers", &TrainerPy::n_layers)
        .def("get_layer", &TrainerPy::get_layer, arg("h"))
        .def("set_layer", &TrainerPy::set_layer, arg("h"), arg("W"), arg("b"), arg("vW"), arg("vb"))
        .def("position", &TrainerPy::position)
        .def("set_position", &TrainerPy::set_position, arg("position"))
        .def("save_state", &TrainerPy::save_state)
        .def("restore_state", &TrainerPy::restore_state)
        .def("finite", &TrainerPy::finite);
    m.def("philox4x32_10", [](std::array<std::uint32_t, 4> c, Key k) {
        const Philox4x32 r = philox4x32_10(c[0], c[1], c[2], c[3], k[0], k[1]);
        return std::array<std::uint32_t, 4>{r.v[0], r.v[1], r.v[2], r.v[3]};
    }, arg("counter"), arg("key"));
    m.def("build_info", [] {
        py::dict d;
        d["version"] = version();
        d["openmp"] = has_openmp();
        d["max_threads"] = max_threads();
        d["simd"] = simd_level();
        d["bf16"] = bf16_level();
        d["cuda"] = false;
        d["stream_version"] = kStreamVersion;
        d["block_samples"] = kBlockSamples;
        return d;
    });
}

// The block driver shared by the sampler, the enumerator and asynchronous spiking.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dropengine/errors.h"
#include "reduce.h"

namespace dropengine::detail {

int resolve_threads(int threads) {
#ifdef _OPENMP
    return threads > 0 ? threads : omp_get_max_threads();
#else
    (void)threads;
    return 1;
#endif
}

namespace {
thread_local CancelPoint* tls_cancel = nullptr;
}  // namespace

bool CancelPoint::check(int tid) {
    if (stop.load(std::memory_order_relaxed)) return true;
    // Only the calling thread may run Python's signal handlers: it polls, others read.
    if (tid != 0 || !interrupted || !*interrupted) return false;
    // A clock read can be a system call on a virtual machine: one per 16 calls.
    if ((++calls & 15) != 0) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now < next) return false;
    next = now + std::chrono::milliseconds(50);
    if ((*interrupted)()) stop.store(true, std::memory_order_relaxed);
    return stop.load(std::memory_order_relaxed);
}

bool job_cancelled() {
    if (!tls_cancel) return false;
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    return tls_cancel->check(tid);
}

SampleStats run_blocks(std::int64_t n_rows, std::int64_t first_block, std::int64_t n_blocks, std::int64_t n_units,
                       const std::vector<UnitPair>& pairs, int threads, const std::function<bool()>& interrupted,
                       const BlockFn& fn) {
    using clock = std::chrono::steady_clock;
    const auto np = static_cast<std::int64_t>(pairs.size());
    const std::int64_t total = n_rows * n_blocks;
    const double slot_bytes = 8.0 * static_cast<double>(1 + kFields * n_units + np);
    // Jobs per round adapt to the time a round takes: long enough that the barrier at its
    // end is rare (waiting threads spin, which costs dearly when a core is shared), short
    // enough that Ctrl-C is seen within a fraction of a second, and the round's buffers
    // (allocated and zeroed every round) stay within 4 MB, in cache. The reduction tree depends on block order only, so the bits do not.
    const std::int64_t most = std::max<std::int64_t>(
        threads, std::min<std::int64_t>(1 << 16, static_cast<std::int64_t>((4.0 * (1 << 20)) / slot_bytes)));
    std::int64_t R = std::max(threads, 1);
    require_memory(slot_bytes * static_cast<double>(R), "threads (per-thread statistics buffers)");
    require_memory(slot_bytes * static_cast<double>(n_rows) * 2, "the number of inputs (statistics per input)");
    std::vector<TreeStack> stacks(static_cast<std::size_t>(n_rows));
    CancelPoint cancel;
    cancel.interrupted = &interrupted;
    cancel.next = clock::now() + std::chrono::milliseconds(50);
    for (std::int64_t j0 = 0; j0 < total;) {
        const std::int64_t jobs = std::min(R, total - j0);
        const auto t0 = clock::now();
        std::vector<RowBuf> slots(static_cast<std::size_t>(jobs), RowBuf(n_units, np));
        std::atomic<std::int64_t> next_job{0}, busy{0};
        int failed = 0;
        bool out_of_memory = false;
        std::string err;
#pragma omp parallel num_threads(threads)
        {
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
            tls_cancel = &cancel;
            for (;;) {
                // `busy` counts claims in flight, so the calling thread below cannot miss
                // a job that another thread has claimed but not started.
                busy.fetch_add(1);
                const std::int64_t k = next_job.fetch_add(1);
                if (k >= jobs || cancel.check(tid)) {
                    busy.fetch_sub(1);
                    break;
                }
                const std::int64_t job = j0 + k;
                try {
                    fn(tid, job / n_blocks, first_block + job % n_blocks, slots[static_cast<std::size_t>(k)].ref(n_units));
                } catch (const std::bad_alloc&) {
#pragma omp critical(dropengine_run_blocks)
                    { failed = 1; out_of_memory = true; }
                } catch (const std::exception& e) {
#pragma omp critical(dropengine_run_blocks)
                    { failed = 1; err = e.what(); }
                }
                busy.fetch_sub(1);
            }
            // The calling thread, out of jobs, keeps polling for Ctrl-C (and sleeps rather
            // than spins) while the last jobs of the round run on other threads.
            if (tid == 0)
                while (busy.load() > 0) {
                    std::this_thread::sleep_for(std::chrono::microseconds(200));
                    cancel.check(0);
                }
            tls_cancel = nullptr;
        }
        if (cancel.stop.load() || (interrupted && interrupted())) throw Interrupted{};
        if (out_of_memory) throw OutOfMemory("out of memory in a worker thread; use fewer threads or smaller inputs");
        if (failed) throw std::runtime_error(err);
        for (std::int64_t k = 0; k < jobs; ++k)  // job order: blocks of an input in sequence
            stacks[static_cast<std::size_t>((j0 + k) / n_blocks)].push(std::move(slots[static_cast<std::size_t>(k)]),
                                                                        n_units, pairs);
        j0 += jobs;
        const double secs = std::chrono::duration<double>(clock::now() - t0).count();
        if (secs < 0.02 && jobs == R) R = std::min(most, 2 * R);
        else if (secs > 0.2) R = std::max<std::int64_t>(threads, R / 2);
    }
    SampleStats out(n_rows, n_units, pairs);
    for (std::int64_t x = 0; x < n_rows; ++x) {
        RowBuf acc = fold(stacks[static_cast<std::size_t>(x)], n_units, pairs);
        store_row(out, x, acc.ref(n_units));
    }
    return out;
}

SampleStats split_input_stats(SampleStats&& all, std::int64_t n_units, const std::vector<std::int64_t>& n_in) {
    const std::int64_t ni = all.n_inputs, nt = all.n_units;
    SampleStats st(ni, n_units, std::move(all.pairs));
    st.count = std::move(all.count);
    st.comoment = std::move(all.comoment);
    const std::vector<double>* from[] = {&all.mean, &all.m2, &all.slog, &all.slogc, &all.mean_S, &all.m2_S, &all.mean_dO};
    std::vector<double>* to[] = {&st.mean, &st.m2, &st.slog, &st.slogc, &st.mean_S, &st.m2_S, &st.mean_dO};
    for (int f = 0; f < kFields; ++f)
        for (std::int64_t x = 0; x < ni; ++x)
            std::copy_n(from[f]->begin() + x * nt, n_units, to[f]->begin() + x * n_units);
    std::int64_t off = n_units;
    for (const std::int64_t n : n_in) {
        std::vector<double> E(static_cast<std::size_t>(ni * n)), V(static_cast<std::size_t>(ni * n));
        for (std::int64_t x = 0; x < ni; ++x)
            for (std::int64_t j = 0; j < n; ++j) {
                const auto k = static_cast<std::size_t>(x * nt + off + j), o = static_cast<std::size_t>(x * n + j);
                E[o] = all.mean[k];
                V[o] = all.m2[k] / st.count[static_cast<std::size_t>(x)];
            }
        st.E_in.push_back(std::move(E));
        st.var_in.push_back(std::move(V));
        off += n;
    }
    return st;
}

}  // namespace dropengine::detail

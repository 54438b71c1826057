// The block driver shared by the sampler, the enumerator and asynchronous spiking.
#include <algorithm>
#include <stdexcept>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dropengine/sampler.h"  // Interrupted
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

SampleStats run_blocks(std::int64_t n_rows, std::int64_t first_block, std::int64_t n_blocks, std::int64_t n_units,
                       const std::vector<UnitPair>& pairs, int threads, const std::function<bool()>& interrupted,
                       const BlockFn& fn) {
    const auto np = static_cast<std::int64_t>(pairs.size());
    // Jobs per round: enough to keep every thread busy, few enough that a round is short
    // (interrupt latency) and its buffers small.
    const std::int64_t total = n_rows * n_blocks, R = std::max<std::int64_t>(16 * threads, 1);
    std::vector<TreeStack> stacks(static_cast<std::size_t>(n_rows));
    for (std::int64_t j0 = 0; j0 < total; j0 += R) {
        const std::int64_t jobs = std::min(R, total - j0);
        std::vector<RowBuf> slots(static_cast<std::size_t>(jobs), RowBuf(n_units, np));
        int failed = 0;
        std::string err;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
        for (std::int64_t k = 0; k < jobs; ++k) {
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
            const std::int64_t job = j0 + k;
            try {
                fn(tid, job / n_blocks, first_block + job % n_blocks, slots[static_cast<std::size_t>(k)].ref(n_units));
            } catch (const std::exception& e) {
#pragma omp critical
                { failed = 1; err = e.what(); }
            }
        }
        if (failed) throw std::runtime_error(err);
        for (std::int64_t k = 0; k < jobs; ++k)  // job order: blocks of an input in sequence
            stacks[static_cast<std::size_t>((j0 + k) / n_blocks)].push(std::move(slots[static_cast<std::size_t>(k)]),
                                                                        n_units, pairs);
        if (interrupted && interrupted()) throw Interrupted{};
    }
    SampleStats out(n_rows, n_units, pairs);
    for (std::int64_t x = 0; x < n_rows; ++x) {
        RowBuf acc = fold(stacks[static_cast<std::size_t>(x)], n_units, pairs);
        store_row(out, x, acc.ref(n_units));
    }
    return out;
}

}  // namespace dropengine::detail

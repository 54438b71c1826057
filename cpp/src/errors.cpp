// Memory requests refused up front, with the argument to blame.
#include "dropengine/errors.h"

#include <cstdio>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace dropengine {

std::uint64_t physical_memory() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && size > 0) return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(size);
#endif
    return 0;
}

void require_memory(double bytes, const std::string& what) {
    const auto have = static_cast<double>(physical_memory());
    if (have > 0 && bytes > have) {
        char msg[160];
        std::snprintf(msg, sizeof msg, ": needs %.3g GiB of memory, the machine has %.3g GiB", bytes / (1 << 30),
                      have / (1 << 30));
        throw OutOfMemory(what + msg);
    }
}

}  // namespace dropengine

// The library's exceptions besides std::invalid_argument (bad input, raised before any
// work): a run stopped by its interrupt callback, and a request refused because it
// would not fit in memory (raised before the allocation, never from a worker thread).
#pragma once
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>

namespace dropengine {

/// Raised when the interrupt callback asked the run to stop.
struct Interrupted : std::runtime_error {
    Interrupted() : std::runtime_error("dropengine: interrupted") {}
};

/// Raised before an allocation that scales with the caller's sizes when it exceeds the
/// machine's physical memory; the message names the argument that sets the size.
struct OutOfMemory : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Physical memory of this machine in bytes (0 when the platform does not say).
std::uint64_t physical_memory();

/// Throws OutOfMemory("<what>: needs N GiB, the machine has M GiB") when `bytes`
/// exceeds physical memory; `what` names the argument that sets the size.
void require_memory(double bytes, const std::string& what);

}  // namespace dropengine

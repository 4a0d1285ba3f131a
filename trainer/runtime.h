// Process-wide CPU settings every grpo-train command applies before touching tensors: LibTorch's intra-op
// threads, OpenBLAS's own thread pool (Debian's LibTorch calls BLAS through the generic interface and never
// sets it), and glibc malloc tuning that keeps large tensor buffers in the heap instead of mapping and
// unmapping them every step (measured: pretraining 7.6k -> 26k tokens/s, system time 13 s -> 0.7 s).
#pragma once

#include <cstdint>

namespace grpo {

// threads: 0 = all cores. Returns the thread count applied.
int configure_runtime(int64_t threads);

}  // namespace grpo

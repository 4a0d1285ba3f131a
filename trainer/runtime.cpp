// Process-wide CPU settings (see runtime.h).
#include "trainer/runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>

#include <thread>

namespace grpo {

int configure_runtime(int64_t threads) {
  const int n = static_cast<int>(threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency()));
  // Serve allocations up to 32 MB (glibc's ceiling) from the heap and never trim it: a training step
  // frees and re-allocates the same large activations, and mmap/munmap turns each into page faults.
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  mallopt(M_TOP_PAD, 64 * 1024 * 1024);
  at::set_num_threads(n);
  // OpenBLAS (libopenblas0-pthread) runs its own pool; left alone it spins on every core.
  using SetThreads = void (*)(int);
  if (auto* set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(n);
  return n;
}

}  // namespace grpo

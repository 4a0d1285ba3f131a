// Loading a Hugging Face model folder: wall time and peak memory of grpo::load_hf_model, against the
// float32 weight bytes the loaded model holds (goal: peak RSS <= 1.3x those bytes). Prints one JSON line.
//
//   build/bench/bench_load MODEL_DIR [--threads N] [--no-init-probe]
//
// The process applies grpo-train's runtime settings first (configure_runtime: intra-op threads, OpenBLAS
// threads, glibc malloc tuning), so the load runs as `grpo-train run --set model.path=DIR` runs it.
// Memory figures come from /proc/self/status: VmHWM (peak resident set) and VmRSS, read before the load
// and after it. Unless --no-init-probe, the loaded model is then freed and an uninitialised Transformer of
// the same shape is constructed on its own and timed (`construct_s`): what LibTorch's module constructors
// spend (allocation and their default initialisation of every Linear and Embedding) before the loader's
// copies overwrite it. For scale, `allocate_and_zero_s` allocates the same tensors and writes each once (what
// any load pays: page faults and one pass), and `init_overhead_s` is the difference. The probes run after
// the peak is read, so they do not affect the memory figures.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "trainer/config.h"
#include "trainer/hf_model.h"
#include "trainer/runtime.h"

namespace {

// A "Name:   123 kB" line of /proc/self/status, in bytes (-1 when absent).
int64_t status_bytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size() + 1, key + ":") != 0) continue;
    return std::stoll(line.substr(key.size() + 1)) * 1024;  // the kernel reports kB
  }
  return -1;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int64_t weight_file_bytes(const std::string& dir) {
  int64_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".safetensors") n += static_cast<int64_t>(e.file_size());
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  int64_t threads = 1;
  bool init_probe = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      threads = std::atoll(argv[++i]);
    } else if (a == "--no-init-probe") {
      init_probe = false;
    } else if (a == "-h" || a == "--help") {
      std::cout << "usage: bench_load MODEL_DIR [--threads N] [--no-init-probe]\n";
      return 0;
    } else if (dir.empty() && a.rfind("--", 0) != 0) {
      dir = a;
    } else {
      std::cerr << "bench_load: unexpected argument '" << a << "'\n";
      return 2;
    }
  }
  if (dir.empty()) {
    std::cerr << "usage: bench_load MODEL_DIR [--threads N] [--no-init-probe]\n";
    return 2;
  }
  grpo::configure_runtime(threads);

  nlohmann::json out;
  out["bench"] = "load_hf_model";
  out["model"] = dir;
  out["threads"] = threads;
  out["file_bytes"] = weight_file_bytes(dir);
  const int64_t hwm_before = status_bytes("VmHWM"), rss_before = status_bytes("VmRSS");
  out["rss_before_bytes"] = rss_before;
  out["hwm_before_bytes"] = hwm_before;

  grpo::ModelSpec spec;
  try {
    const auto t0 = std::chrono::steady_clock::now();
    grpo::Transformer model = grpo::load_hf_model(dir);
    const double load_s = seconds_since(t0);
    const int64_t hwm = status_bytes("VmHWM"), rss = status_bytes("VmRSS");
    int64_t f32_bytes = 0, params = 0;
    for (const auto& p : model->parameters()) {
      params += p.numel();
      f32_bytes += p.numel() * 4;
    }
    spec = model->spec();
    out["arch"] = spec.hf_architecture();
    out["parameters"] = params;
    out["load_s"] = load_s;
    out["peak_rss_bytes"] = hwm;
    out["rss_after_bytes"] = rss;
    out["f32_weight_bytes"] = f32_bytes;
    out["peak_over_f32"] = static_cast<double>(hwm) / static_cast<double>(f32_bytes);
    // The same without what the process held before the load (LibTorch, the binary).
    out["peak_growth_over_f32"] = static_cast<double>(hwm - rss_before) / static_cast<double>(f32_bytes);
    out["rss_after_over_f32"] = static_cast<double>(rss) / static_cast<double>(f32_bytes);
  } catch (const grpo::ConfigError& e) {
    std::cerr << "bench_load: " << e.what() << "\n";
    return 2;
  }

  if (init_probe) {  // the loaded model is gone here; construct the same shape alone
    std::vector<std::vector<int64_t>> shapes;
    {
      const auto t0 = std::chrono::steady_clock::now();
      grpo::Transformer empty(spec, /*init_weights=*/false);
      out["construct_s"] = seconds_since(t0);
      for (const auto& p : empty->parameters()) shapes.push_back(p.sizes().vec());
    }
    // The floor for the same tensors: allocate each and write it once (page faults and one pass over the
    // memory, which the loader's copies pay anyway); construct_s minus this is the default init's cost.
    const auto t0 = std::chrono::steady_clock::now();
    {
      std::vector<torch::Tensor> plain;
      for (const auto& s : shapes) plain.push_back(torch::empty(s).zero_());
      out["allocate_and_zero_s"] = seconds_since(t0);
    }
    out["init_overhead_s"] = out["construct_s"].get<double>() - out["allocate_and_zero_s"].get<double>();
    out["construct_note"] =
        "construct_s: Transformer(spec, init_weights=false) alone, after the loaded model was freed; "
        "allocate_and_zero_s: torch::empty + zero_ of the same parameter shapes";
  }
  std::cout << out.dump() << std::endl;
  return 0;
}

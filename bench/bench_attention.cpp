// Decoding attention, one layer, one decode step: the fused kernel (decode_attention) against the tensor
// operations the model used before it (attention_ops: a broadcast multiply-and-sum, grouped-query heads
// expanded), on the trainer's real operand layout (narrowed views of a preallocated cache, a quarter of
// the rows finished, i.e. their newest keys masked). Interleaved, ROUNDS rounds of CALLS calls each; prints
// per shape the median microseconds per call with min–max, and checks that the two agree.
//
//   build/bench/bench_attention [--rounds 7] [--calls 200]
//
// One intra-op thread (the trainer's demo setting); grpo-train's allocator settings (configure_runtime).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "trainer/attention.h"
#include "trainer/runtime.h"

namespace {

struct Shape {
  const char* name;
  int64_t rows, heads, kv_heads, head_dim, keys;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 7, calls = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rounds"))
      rounds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--calls"))
      calls = std::atoi(argv[i + 1]);
    else
      return std::fprintf(stderr, "unknown option %s (--rounds N, --calls N)\n", argv[i]), 2;
  }
  grpo::configure_runtime(/*threads=*/1);
  torch::InferenceMode inference;
  torch::manual_seed(0);
  // The three benchmark sizes' decode batch (16 prompts × G = 8) at a prompt of 20 and the middle and end of
  // 109 completion tokens; Qwen2.5-0.5B's heads (14 on 2 kv heads of 64) on 8 rows, at 129 and 1,024 keys.
  const std::vector<Shape> shapes = {{"d 64 (4 heads of 16), S 75", 128, 4, 4, 16, 75},
                                     {"d 64 (4 heads of 16), S 129", 128, 4, 4, 16, 129},
                                     {"d 128 (4 heads of 32), S 75", 128, 4, 4, 32, 75},
                                     {"d 192 (6 heads of 32), S 75", 128, 6, 6, 32, 75},
                                     {"Qwen2.5-0.5B (14 on 2 of 64), S 129", 8, 14, 2, 64, 129},
                                     {"Qwen2.5-0.5B (14 on 2 of 64), S 1024", 8, 14, 2, 64, 1024}};
  std::printf(
      "| shape (B rows) | tensor ops, µs | fused, µs | faster by | max |diff| |\n|---|---|---|---|---|\n");
  for (const Shape& s : shapes) {
    const int64_t cap = s.keys + 32;
    auto q = torch::randn({s.rows, s.heads, 1, s.head_dim});
    auto k = torch::randn({s.rows, s.kv_heads, cap, s.head_dim}).narrow(2, 0, s.keys);
    auto v = torch::randn({s.rows, s.kv_heads, cap, s.head_dim}).narrow(2, 0, s.keys);
    auto mask = torch::zeros({s.rows, 1, 1, s.keys});
    mask.narrow(0, 0, s.rows / 4).narrow(3, s.keys / 2, s.keys / 2 - 1).fill_(-INFINITY);  // finished rows
    const double scale = 1.0 / std::sqrt(static_cast<double>(s.head_dim));
    const double diff =
        (grpo::attention_ops(q, k, v, mask, scale) - grpo::decode_attention(q, k, v, mask, scale))
            .abs()
            .max()
            .item<double>();
    std::vector<double> ops_us, fused_us;
    auto time_us = [&](auto&& f) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int c = 0; c < calls; ++c) f();
      return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / calls;
    };
    for (int r = 0; r < rounds; ++r) {
      ops_us.push_back(time_us([&] { grpo::attention_ops(q, k, v, mask, scale); }));
      fused_us.push_back(time_us([&] { grpo::decode_attention(q, k, v, mask, scale); }));
    }
    auto cell = [](const std::vector<double>& v) {
      char b[64];
      std::snprintf(b, sizeof b, "%.0f (%.0f–%.0f)", median(v), *std::min_element(v.begin(), v.end()),
                    *std::max_element(v.begin(), v.end()));
      return std::string(b);
    };
    std::printf("| %s (%lld) | %s | %s | %.2f× | %.1e |\n", s.name, static_cast<long long>(s.rows),
                cell(ops_us).c_str(), cell(fused_us).c_str(), median(ops_us) / median(fused_us), diff);
  }
}

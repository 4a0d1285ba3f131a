// Rollouts: batched sampling of completions with the KV cache (temperature, top-p, max new tokens, stop at
// end-of-sequence), and scoring of completions (per-token log-probs and entropies) in one forward pass.
// All rows of a batch decode together; finished rows are fed PAD until every row ends.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <vector>

#include "trainer/model.h"

namespace grpo {

struct SamplingOptions {
  double temperature = 1.0;     // logits are divided by it
  double top_p = 1.0;           // nucleus mass kept (1 = all)
  int64_t max_new_tokens = 64;  // completion budget
  bool greedy = false;          // argmax instead of sampling
};

// Prompts and their completions, row-aligned.
struct Rollout {
  torch::Tensor prompt;           // (B, P) int64, left-padded with PAD
  torch::Tensor prompt_valid;     // (B, P) bool
  torch::Tensor completion;       // (B, L) int64, PAD after the end
  torch::Tensor completion_mask;  // (B, L) float: 1 on generated tokens, end-of-sequence included
  std::vector<int64_t> lengths;   // generated tokens per row
  std::vector<bool> truncated;    // cut at max_new_tokens without end-of-sequence

  int64_t rows() const { return prompt.size(0); }
  Rollout slice(int64_t begin, int64_t count) const;  // rows [begin, begin + count)
};

Rollout generate(Transformer& model, const std::vector<std::vector<int64_t>>& prompts, const SamplingOptions& opt,
                 int64_t eos_id, int64_t pad_id, at::Generator& gen);

struct TokenScores {
  torch::Tensor logp;     // (B, L) log π(token) at the given temperature; differentiable if grad mode is on
  torch::Tensor entropy;  // (B, L) entropy of π at each position (detached), undefined unless asked
};

TokenScores score_completions(Transformer& model, const Rollout& rollout, double temperature, bool with_entropy);

}  // namespace grpo

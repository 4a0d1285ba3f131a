// Rollouts: batched sampling of completions with the KV cache (temperature, top-p, max new tokens, stop at
// end-of-sequence), and scoring of completions (per-token log-probs and entropies) in one forward pass.
// All rows of a batch decode together; rows that finished leave the batch (and the cache) every few steps,
// and completions are as wide as the longest row.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <vector>

#include "trainer/model.h"
#include "trainer/tokenizer.h"

namespace grpo {

struct SamplingOptions {
  double temperature = 1.0;     // logits are divided by it
  double top_p = 1.0;           // nucleus mass kept (1 = all)
  int64_t max_new_tokens = 64;  // completion budget
  int64_t min_new_tokens = 0;   // end-of-sequence ids are not sampled before this many tokens
  bool greedy = false;          // argmax instead of sampling
  bool record_logp = false;     // fill Rollout::logp while sampling
};

// The ids generation treats specially, taken from the model's tokenizer.
struct SpecialTokens {
  std::vector<int64_t> eos;            // any of them ends a row (generation_config.json may list several)
  int64_t pad = 0;                     // fills the prompts' left padding and finished rows
  std::vector<int64_t> never_sampled;  // masked before sampling (the built-in PAD, which is not a token)
  int64_t sampled_vocab = 0;           // ids from here on (a padded embedding's extra rows, which have no
                                       // text) are never sampled; 0: every id may be

  static SpecialTokens of(const Tokenizer& tokenizer);
};

// Prompts and their completions, row-aligned.
struct Rollout {
  torch::Tensor prompt;           // (B, P) int64, left-padded with PAD
  torch::Tensor prompt_valid;     // (B, P) bool
  torch::Tensor completion;       // (B, L) int64, PAD after the end; L: the longest row's length
  torch::Tensor completion_mask;  // (B, L) float: 1 on generated tokens, end-of-sequence included
  torch::Tensor logp;  // (B, L) float: log π(token) at the temperature, from the logits each token
                       // was sampled from (before any masking), as score_completions computes it;
                       // 0 after the end; undefined unless SamplingOptions::record_logp
  std::vector<int64_t> lengths;   // generated tokens per row
  std::vector<bool> truncated;    // cut at max_new_tokens without end-of-sequence
  int64_t decode_steps = 0;       // sampling steps taken (each drew noise for the whole batch)

  int64_t rows() const { return prompt.size(0); }
  Rollout slice(int64_t begin, int64_t count) const;  // rows [begin, begin + count)
};

// Which rows of a larger batch (split across ranks) these prompts are. Sampling noise is drawn for the whole
// batch and each row takes its own, so a row's tokens do not depend on how the batch was split.
struct BatchRows {
  int64_t batch_rows = 0;     // rows of the whole batch; 0: the prompts are the whole batch
  std::vector<int64_t> rows;  // each prompt's row in the whole batch
};

// Samples with the Gumbel-max trick in its exponential form, argmax(p / q) with q ~ Exp(1): the draws
// at::multinomial makes for one sample, so a whole batch samples exactly as it would with it.
Rollout generate(Transformer& model, const std::vector<std::vector<int64_t>>& prompts, const SamplingOptions& opt,
                 const SpecialTokens& special, at::Generator& gen, const BatchRows& batch = {});

// Advances `gen` past `steps` sampling steps of a `batch_rows` x `vocab` batch, as generate() draws them:
// a rank whose rows finished early catches up with the longest, so every rank's generator stays in step.
void skip_sampling_noise(at::Generator& gen, int64_t steps, int64_t batch_rows, int64_t vocab);

struct TokenScores {
  torch::Tensor logp;     // (B, L) log π(token) at the given temperature; differentiable if grad mode is on
  torch::Tensor entropy;  // (B, L) entropy of π at each position (detached), undefined unless asked
};

TokenScores score_completions(Transformer& model, const Rollout& rollout, double temperature, bool with_entropy);

}  // namespace grpo

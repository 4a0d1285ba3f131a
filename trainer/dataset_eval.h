// Evaluation on a dataset (data.eval, or `grpo-train eval --data`): greedy accuracy (greedy pass@1), the
// sampled accuracy over k completions per prompt (mean@k, the sampled pass@1 estimate), pass@k, every
// reward's mean, the format and self-verification rates and the mean length, overall and per data_source.
// "Correct" is the reward rewards.correct names (math when it is on, else accuracy). The built-in tasks'
// trace-by-position evaluation is evaluate.h.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "trainer/model.h"
#include "trainer/prompt_source.h"
#include "trainer/rewards.h"
#include "trainer/tokenizer.h"

namespace grpo {

struct DataEvalOptions {
  int64_t prompts = 200;       // the first n rows (all of them when fewer)
  int64_t samples = 1;         // k: sampled completions per prompt (0: greedy only)
  double temperature = 1.0;    // of the sampled completions
  int64_t max_new_tokens = 256;
  int64_t batch_rows = 256;    // rows decoded together
  uint64_t seed = 1234;
};

struct DataEvalScores {  // one slice of the rows (all of them, or one data_source)
  int64_t prompts = 0;
  double greedy_accuracy = 0;  // greedy pass@1
  double sampled_accuracy = 0;  // mean@k: the mean over the k samples of every prompt
  double pass_at_k = 0;        // a prompt counts when any of its k samples is correct
  double format_rate = 0;      // sampled
  double verification_rate = 0;  // sampled completions with a self-verification marker in the reasoning
  double mean_length = 0;      // sampled completion tokens, end-of-sequence included
  std::map<std::string, double> reward_means;  // every active reward over the sampled completions (greedy when k = 0)
};

struct DataEvalResult {
  std::string correct_reward;  // the reward that decided "correct"
  int64_t samples = 0;         // k
  DataEvalScores all;
  std::map<std::string, DataEvalScores> by_source;  // keyed by data_source (rows without one are "")
  double seconds = 0;

  nlohmann::json to_json() const;
  std::string table() const;
  // eval/* metrics: eval/greedy_accuracy, eval/sampled_accuracy, eval/pass@k, eval/format_rate, ...,
  // eval/reward/<name>/mean, and eval/source/<data_source>/{greedy,sampled}_accuracy.
  std::map<std::string, double> metrics() const;
};

DataEvalResult evaluate_dataset(Transformer& model, const Tokenizer& tok, const std::vector<PromptItem>& rows,
                                RewardSet& rewards, const RewardConfig& weights, const DataEvalOptions& opt,
                                const RewardSet::WaitHandler& on_wait = {});

}  // namespace grpo

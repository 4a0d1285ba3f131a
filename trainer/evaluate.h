// Held-out evaluation of a model on a built-in task: greedy and sampled accuracy, first-answer accuracy,
// check rate, P(correct | checked) and P(correct | not checked), format rate, label consistency, mean
// length, and the accuracy when every answer is forced to go through the check. Used by `grpo-train
// eval`, by pretraining's stopping rule, and periodically during GRPO.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "trainer/model.h"
#include "trainer/task.h"
#include "trainer/tokenizer.h"

namespace grpo {

struct EvalOptions {
  int64_t prompts = 500;          // held-out problems (the first n of the task's held-out set)
  int64_t samples_per_prompt = 2;  // completions per problem at the sampling temperature
  double temperature = 1.0;
  int64_t max_new_tokens = 0;     // 0: long enough for the task's longest trace
  int64_t batch_rows = 512;       // rows decoded together
  uint64_t seed = 1234;
  bool greedy = true;             // run the greedy pass
  bool sampled = true;            // run the sampled pass
  bool forced_check = false;      // also decode with " check" forced after the greedy first answer
};

struct EvalResult {
  int64_t prompts = 0, samples = 0;
  double greedy_accuracy = 0;        // greedy decoding
  double greedy_check_rate = 0;
  double sampled_accuracy = 0;       // at the temperature
  double first_answer_accuracy = 0;  // the guess before any check (sampled)
  double check_rate = 0;             // fraction of sampled completions that check
  double p_correct_checked = 0;      // accuracy among sampled completions that check (NaN if none)
  double p_correct_unchecked = 0;    // accuracy among those that don't (NaN if none)
  double format_rate = 0;            // the task's exact trace grammar (sampled)
  double label_consistency = 0;      // among checks: "ok" exactly when the guess equals the check's result
  double mean_length = 0;            // sampled completion tokens, end-of-sequence included
  double forced_check_accuracy = 0;  // greedy, with " check" forced after the first answer (NaN if not run)
  double seconds = 0;

  nlohmann::json to_json() const;
  std::string table() const;  // aligned, one figure a line
};

EvalResult evaluate(Transformer& model, const ArithmeticTask& task, const Tokenizer& tok, const EvalOptions& opt);

}  // namespace grpo

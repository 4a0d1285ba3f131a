// Supervised pretraining of the built-in base model on a generated, seeded corpus of traces (direct
// answers, and first answers followed by a column-arithmetic check ending "ok" or "wait"), with the loss
// masks of docs/demo.md, periodic held-out evaluation, and a stopping rule that keeps the model from the
// window where its check works but its one-shot answer has not been learned yet.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "trainer/config.h"
#include "trainer/evaluate.h"

namespace grpo {

struct PretrainResult {
  int64_t steps = 0;
  double seconds = 0;
  bool in_window = false;  // stopped by the window rule
  EvalResult eval;         // the last evaluation (of the saved model)
  nlohmann::json history;  // every evaluation: step, seconds, loss, figures
};

// Trains from a seeded random init and writes a "model" checkpoint to `out_path`.
PretrainResult pretrain(const Config& cfg, const std::string& out_path, bool progress);

}  // namespace grpo

// AdamW (decoupled weight decay on matrices only, as nanoGPT) and the learning-rate schedule:
// linear warm-up, then constant or cosine decay to min_lr_ratio · lr.
#pragma once

#include <torch/optim/adamw.h>

#include <memory>

#include "trainer/config.h"
#include "trainer/model.h"

namespace grpo {

std::unique_ptr<torch::optim::AdamW> make_optimizer(Transformer& model, const OptimConfig& cfg);

// Learning rate of 1-based step `step` of `max_steps`.
double learning_rate_at(const OptimConfig& cfg, int64_t step, int64_t max_steps);

void set_learning_rate(torch::optim::AdamW& opt, double lr);

}  // namespace grpo

// Checkpoints: one file holding the model, optionally the optimizer and RNG states, and a JSON header
// (kind, step, model sizes, tokenizer, full config). Written atomically: bytes go to "<file>.tmp", are
// fsync'ed, then renamed over; a process killed mid-write leaves the previous checkpoint intact.
// A base model made by `grpo-train pretrain` is the same format with kind "model" and no optimizer.
#pragma once

#include <nlohmann/json.hpp>
#include <torch/optim/optimizer.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "trainer/model.h"

namespace grpo {

class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CheckpointHeader {
  std::string kind = "train";  // "train" (resumable) or "model" (weights only)
  int64_t step = 0;
  ModelSpec model;
  std::string tokenizer;       // Tokenizer::describe()
  nlohmann::json config;       // the run's full effective config
  nlohmann::json state;        // trainer state: prompt RNG, counters (train checkpoints)
  nlohmann::json info;         // free-form: e.g. pretraining evaluation figures
};

// Writes `path` atomically. `optimizer` and `torch_rng` may be null.
void write_checkpoint(const std::string& path, const CheckpointHeader& header, Transformer& model,
                      torch::optim::Optimizer* optimizer, const torch::Tensor* torch_rng);

struct LoadedCheckpoint {
  CheckpointHeader header;
  Transformer model{nullptr};
  torch::Tensor torch_rng;  // undefined when not saved
  bool has_optimizer = false;
  std::string path;
};

// Reads a checkpoint; throws CheckpointError naming the file and what is wrong with it.
LoadedCheckpoint read_checkpoint(const std::string& path);
// Loads the optimizer state saved in `path` into `optimizer` (built for the same model).
void read_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer);

// Run checkpoints live in <run>/checkpoints/step_NNNNNN.pt.
std::string checkpoint_path(const std::string& dir, int64_t step);
std::optional<std::string> latest_checkpoint(const std::string& dir);
// The newest checkpoint at or before `step` (a fork's starting point); nullopt when there is none.
std::optional<std::string> checkpoint_at_or_before(const std::string& dir, int64_t step);
std::vector<int64_t> checkpoint_steps(const std::string& dir);  // ascending
// Deletes all but the newest `keep` complete checkpoints (and stale .tmp files).
void prune_checkpoints(const std::string& dir, int64_t keep);

}  // namespace grpo

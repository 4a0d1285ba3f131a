// The trainer's state, shared by trainer.cpp (setup, boundaries, checkpoints, the loop) and grpo_step.cpp
// (one GRPO step). Internal to trainer/: it includes LibTorch, so only those two files include it.
#pragma once

#include <ATen/core/Generator.h>
#include <spdlog/logger.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ipc/run_store.h"
#include "ipc/trainer_endpoint.h"
#include "trainer/control.h"
#include "trainer/distributed.h"
#include "trainer/model.h"
#include "trainer/rewards.h"
#include "trainer/sampler.h"
#include "trainer/task.h"
#include "trainer/tokenizer.h"
#include "trainer/trainer.h"

namespace grpo {

using Clock = std::chrono::steady_clock;

inline double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

inline double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Trainer::Impl {
  Config cfg;
  RunOptions opts;
  std::filesystem::path run_dir;
  std::string run_dir_str;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ArithmeticTask> task;
  Transformer model{nullptr};
  Transformer reference{nullptr};  // frozen starting policy; null when beta = 0
  std::unique_ptr<torch::optim::AdamW> optimizer;
  at::Generator gen;
  std::mt19937_64 prompt_rng;
  std::unique_ptr<ipc::RunStore> store;
  std::unique_ptr<RunControl> control;
  std::unique_ptr<ipc::TrainerEndpoint> endpoint;  // null when not serving
  std::unique_ptr<Distributed> dist;               // the data-parallel group (a world of one: no-ops)
  bool main = true;                                // rank 0: the only one that prints, writes and serves
  const std::atomic<bool>* stop_flag = nullptr;
  std::shared_ptr<spdlog::logger> log;
  int64_t step = 0;
  int64_t tokens_total = 0;  // completion tokens generated since the run began
  Clock::time_point started = Clock::now();
  int64_t steps_this_session = 0;

  Transformer initial_model();
  void setup_new_run();
  void start_serving();
  void emit_metrics(int64_t at_step, const std::map<std::string, double>& values);
  void emit_event(int64_t at_step, const std::string& kind, const nlohmann::json& data);
  void set_state(const std::string& state, const std::string& reason = "");
  RunControl::Boundary sync_boundary();
  void apply_boundary(const RunControl::Boundary& b);
  void open_log();
  void load_reference();
  void check_context() const;
  void setup_resumed_run();
  std::map<std::string, double> grpo_step();
  void record_samples(const std::vector<Problem>& problems, const Rollout& rollout, const torch::Tensor& old_logp,
                      const torch::Tensor& ref_logp, const std::vector<RewardBreakdown>& scores,
                      const torch::Tensor& advantages, int64_t groups);
  std::string checkpoint();
  void held_out_eval();
  void print_progress(const std::map<std::string, double>& m, double step_seconds);
};


}  // namespace grpo

// The trainer's state, shared by trainer.cpp (setup, boundaries, checkpoints, the loop), grpo_step.cpp
// (one GRPO step) and eval_samples.cpp. Internal to trainer/: it includes LibTorch, so only those include it.
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
#include "trainer/checkpoint.h"
#include "trainer/clock.h"
#include "trainer/control.h"
#include "trainer/distributed.h"
#include "trainer/model.h"
#include "trainer/prompt_source.h"
#include "trainer/rewards.h"
#include "trainer/sampler.h"
#include "trainer/task.h"
#include "trainer/tokenizer.h"
#include "trainer/trainer.h"
#include "trainer/watchdog.h"

namespace grpo {

// The first n entries of row `row` of t, as a vector (the stored samples' per-token arrays).
template <typename T>
std::vector<T> row_to_vector(const torch::Tensor& t, int64_t row, int64_t n) {
  auto r = t[row].narrow(0, 0, n).contiguous().cpu();
  if constexpr (std::is_same_v<T, float>) r = r.to(torch::kFloat32);
  if constexpr (std::is_same_v<T, int32_t>) r = r.to(torch::kInt32);
  return std::vector<T>(r.data_ptr<T>(), r.data_ptr<T>() + n);
}

// The phases of one GRPO step (grpo_step.cpp), each one's result named.
struct RolloutResult {  // 1. sampled groups and their rewards
  std::vector<PromptItem> prompts;      // one per kept group
  std::vector<RewardBreakdown> scores;  // (groups · G), group-major
  Rollout rollout;                      // the same rows
  int64_t zero_std_first = 0;           // groups of the first batch whose rewards all agree
  double reward_seconds = 0;            // of `seconds`: scoring the rewards (a reward server's time included)
  int64_t sampled_groups = 0;           // groups generated (more than kept with dynamic sampling)
  int64_t generated = 0;                // completion tokens generated
  double seconds = 0;
  int64_t groups() const { return static_cast<int64_t>(prompts.size()); }
};

struct ScoringResult {  // 2-3. advantages, old and reference log-probs
  torch::Tensor rewards;     // (groups, G)
  torch::Tensor advantages;  // (B)
  torch::Tensor old_logp;    // (B, L); undefined when π_old is the policy's own first pass
  torch::Tensor ref_logp;    // (B, L); undefined without a reference, or when π_ref is π_old
  bool old_is_current = false;
  bool ref_is_old = false;  // π_ref = π_old (a reference, and no update yet): no reference pass was made
  double seconds = 0;
};

struct UpdateResult {  // 4. the policy update's statistics (sums over this rank's rows)
  double loss_sum = 0, kl_sum = 0, clip_low = 0, clip_high = 0, clip_region = 0, token_weight = 0;
  double entropy_sum = 0, entropy_tokens = 0, grad_norm_sum = 0;
  int64_t updates = 0, trained_tokens = 0;
  int64_t skipped_updates = 0;  // optimizer steps not taken: the loss or the gradient was not finite
  std::vector<double> update_loss, update_tokens;  // data-parallel: each update's share of the loss, whole tokens
  torch::Tensor logp_before;                       // (B, L) log π_old of each token, for the stored samples
  double seconds = 0;
};

// Thrown out of a step that was abandoned before its update (a stop while the reward server was not
// answering); the step's random state was put back, so the run stops as it was after the last step.
struct StepAbandoned : std::runtime_error {
  using std::runtime_error::runtime_error;
};

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
  std::unique_ptr<PromptSource> prompts;  // data.train's rows or the built-in task's stream
  std::unique_ptr<RewardSet> rewards;
  std::vector<PromptItem> eval_rows;       // data.eval's rows (empty: the built-in task's held-out problems, or none)
  bool waiting = false;                    // in the "waiting" state (the reward server is not answering)
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
  Watchdogs watchdogs;              // rank 0's rules over each step's metrics
  bool policy_is_reference =
      false;  // the policy still holds π_ref's weights (a new run before its first update)
  int64_t last_checkpoint_step = -1;  // the newest checkpoint written or started from (-1: none yet)

  Transformer initial_model();
  void setup_new_run();
  void start_serving();
  void emit_metrics(int64_t at_step, const std::map<std::string, double>& values);
  void emit_event(int64_t at_step, const std::string& kind, const nlohmann::json& data);
  void set_state(const std::string& state, const std::string& reason = "");
  void record_process();
  RunControl::Boundary sync_boundary();
  void apply_boundary(const RunControl::Boundary& b);
  void open_log();
  void load_reference();
  void check_context() const;
  void check_context(const Config& c) const;  // the prompts and c's completion budget fit the model
  void setup_resumed_run();
  void setup_forked_run();
  void restore_training_state(const LoadedCheckpoint& ck);
  std::map<std::string, double> grpo_step();
  RolloutResult sample_groups(const SamplingOptions& so);
  std::vector<RewardBreakdown> score_rows(const std::vector<PromptItem>& prompts, const Rollout& r, int64_t max_len,
                                         int64_t rows_per_prompt);
  ScoringResult score_groups(const RolloutResult& ro, double temperature);
  // One pass of one minibatch: π_old is the policy itself, and the update's first forward pass gives it.
  bool old_is_current() const { return cfg.grpo.mu == 1 && cfg.grpo.minibatches == 1; }
  UpdateResult update_policy(const RolloutResult& ro, const ScoringResult& sc, double temperature);
  std::map<std::string, double> reduce_metrics(const RolloutResult& ro, const ScoringResult& sc, const UpdateResult& up,
                                               double lr);
  bool on_reward_wait(bool waiting, const std::string& reason);
  void record_samples(const RolloutResult& ro, const ScoringResult& sc, const torch::Tensor& logp_before, int64_t groups);
  std::string checkpoint();
  void held_out_eval();
  void record_eval_samples();
  void guarded_eval();
  void act_on_watchdogs(const std::vector<WatchdogFiring>& fired);
  void print_progress(const std::map<std::string, double>& m, double step_seconds);
};


}  // namespace grpo

// The run store: one SQLite database per run (runs/<name>/run.sqlite, WAL mode) that the trainer writes
// and any number of readers (the studio, scripts) read while it grows. Schema: docs/run-store.md.
// Std + SQLite + nlohmann::json only: no Qt, no LibTorch.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ipc/sqlite_db.h"

namespace grpo::ipc {

// 2: samples.columns; 3: eval_samples (older stores are upgraded when opened for writing, read as they are)
inline constexpr int kRunStoreSchemaVersion = 3;

// Which completions: a training step's (the samples table) or an evaluation's held-out prompts (eval_samples:
// the same prompts at every evaluation, so one prompt's answer can be followed across steps and runs).
enum class SampleSplit { kTrain, kEval };

// One sampled completion with its rewards and per-token arrays (all arrays have one entry per
// completion token; offsets are byte offsets of each token's text in `completion`).
struct SampleRecord {
  int64_t step = 0;
  int64_t group = 0;  // index of the prompt within the step
  int64_t index = 0;  // index of the completion within its group (0..G-1)
  std::string prompt;
  std::string completion;
  std::string answer;  // the reference answer the accuracy reward checked against
  double reward = 0.0;
  std::map<std::string, double> rewards;  // each reward function's unweighted value (NaN: not applicable to this row)
  nlohmann::json columns;                 // the dataset row the prompt came from, every column (null for built-in tasks)
  double advantage = 0.0;
  int64_t length = 0;  // completion tokens, end-of-sequence included
  bool correct = false;
  bool verified = false;   // the reasoning contains a self-verification marker
  bool truncated = false;  // cut at max_new_tokens before end-of-sequence
  std::vector<int32_t> tokens;
  std::vector<int32_t> offsets;
  std::vector<float> logp_old;  // log pi_old(token)
  std::vector<float> logp;      // log pi_theta(token) after the step's update
  std::vector<float> entropy;   // entropy of pi_theta's distribution at the token
  std::vector<float> kl;        // k3 estimate of KL(pi_theta || pi_ref) at the token (0 without a reference)
};

// A sample's rewards as JSON, NaN (a reward that does not apply) as null, and back.
std::string rewards_to_text(const std::map<std::string, double>& rewards);
std::map<std::string, double> rewards_from_json(const nlohmann::json& j);

struct EventRecord {
  int64_t seq = 0;
  int64_t step = 0;
  double time = 0.0;  // unix seconds
  std::string kind;   // e.g. "hparams", "checkpoint", "resume", "start", "finish"
  nlohmann::json data;
};

struct MetricPoint {
  int64_t step = 0;
  double time = 0.0;
  double value = 0.0;
};

class RunStore {
 public:
  // Creates run.sqlite (or opens an existing one for appending, as a resumed run does).
  static RunStore open_for_writing(const std::string& path);
  // Opens for reading only; works while a trainer writes to the same file.
  static RunStore open_for_reading(const std::string& path);

  RunStore(RunStore&&) noexcept;
  RunStore& operator=(RunStore&&) noexcept;
  ~RunStore();

  // --- writing (one writer: the trainer's rank 0). Each append is one transaction and one `seq`.
  void set_meta(const std::string& key, const std::string& value);
  int64_t append_metrics(int64_t step, double time, const std::vector<std::pair<std::string, double>>& values);
  int64_t append_samples(int64_t step, const std::vector<SampleRecord>& samples, SampleSplit split = SampleSplit::kTrain);
  int64_t append_event(int64_t step, double time, const std::string& kind, const nlohmann::json& data);
  // A resumed run replays the steps after its checkpoint: drop what was recorded for them.
  void truncate_after_step(int64_t step);

  // --- reading
  std::optional<std::string> meta(const std::string& key) const;
  int64_t last_seq() const;   // highest seq handed out so far (0 when empty)
  int64_t last_step() const;  // highest step with metrics (0 when none)
  std::vector<std::string> metric_names() const;
  std::vector<MetricPoint> metric_series(const std::string& name, int64_t after_step = -1) const;  // step 0: before training
  std::map<std::string, double> metrics_at(int64_t step) const;
  std::vector<SampleRecord> samples_at(int64_t step, SampleSplit split = SampleSplit::kTrain) const;
  std::vector<int64_t> sample_steps(SampleSplit split = SampleSplit::kTrain) const;
  std::vector<EventRecord> events(int64_t after_seq = 0, int64_t limit = -1) const;
  // For history: the (seq, step, time) of metric and sample records after `after_seq`, in seq order.
  struct SeqRef {
    int64_t seq, step;
    double time;
  };
  std::vector<SeqRef> metric_seqs(int64_t after_seq, int64_t limit) const;
  std::vector<SeqRef> sample_seqs(int64_t after_seq, int64_t limit, SampleSplit split = SampleSplit::kTrain) const;
  std::map<std::string, double> metrics_with_seq(int64_t seq) const;
  const std::string& path() const;

 private:
  RunStore(Database db, bool writable);
  int64_t next_seq();

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace grpo::ipc

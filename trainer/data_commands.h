// grpo-train's dataset commands: `make-data` (the generated word-problem task, as JSONL in TRL's or veRL's
// shape), `score` (every configured reward on saved {prompt, completion, ...} rows, to test rewards before
// a run) and `eval --data` (a model on a dataset: greedy and sampled accuracy, pass@k, per data_source).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace grpo {

struct MakeDataArgs {
  std::string out;              // folder for train.jsonl and eval.jsonl
  int64_t train = 2000;         // training rows
  int64_t eval = 200;           // evaluation rows (none shared with the training rows)
  int64_t seed = 0;
  std::string style = "trl";    // "trl" (string prompts), "messages" or "verl"
  int64_t min_steps = 2, max_steps = 4, max_value = 100;
};
int cmd_make_data(const MakeDataArgs& a);

struct ScoreArgs {
  std::string config_file;  // its rewards.* and model (for token lengths); default: the built-in demo's
  std::vector<std::string> overrides;
  std::string input;        // JSONL rows {prompt, completion, ...}
  bool json = false;        // one JSON object per row instead of a table
};
int cmd_score(const ScoreArgs& a);

struct DataEvalArgs {
  std::string model;        // checkpoint, model folder or builtin:NAME
  std::string data;         // JSONL (default: the config's data.eval)
  std::string config_file;  // rewards.*, data.answer_key, data.chat_template
  std::vector<std::string> overrides;
  int64_t n = 200, samples = 4, max_new_tokens = 256, seed = 1234, threads = 1;
  double temperature = 1.0;
  bool json = false;
};
int cmd_eval_data(const DataEvalArgs& a);

}  // namespace grpo

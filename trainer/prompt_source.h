// Where a run's prompts come from: the built-in task (a seeded stream of problems) or a dataset (JSONL rows
// in TRL's or veRL's shape, shuffled per epoch with the run's seed). Either way a step takes PromptItems,
// and the source's position goes into the checkpoint, so a resumed run continues with the same prompts.
// No LibTorch here.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "trainer/config.h"
#include "trainer/task.h"
#include "trainer/tokenizer.h"

namespace grpo {

// One prompt as the rollout and the rewards see it.
struct PromptItem {
  std::string prompt;         // the text the model continues (a messages prompt after its chat template)
  std::vector<int64_t> ids;   // its tokens
  std::string answer;         // the reference answer ("" when the row has none)
  std::string data_source;    // the row's data_source ("" for the built-in tasks)
  nlohmann::json columns;     // the dataset row with every column (null for the built-in tasks)
  int64_t line = 0;           // the row's line in its file (0 for the built-in tasks)
};

class PromptSource {
 public:
  virtual ~PromptSource() = default;
  virtual PromptItem next() = 0;                        // the next training prompt
  virtual nlohmann::json state() const = 0;             // the position, for a checkpoint's state
  virtual void restore(const nlohmann::json& state) = 0;  // throws ConfigError when it does not fit
  // The built-in tasks' exact trace grammar (the format reward requires it); nullopt for datasets.
  virtual std::optional<bool> grammar_ok(const std::string& completion) const { return std::nullopt; }
  virtual int64_t longest_prompt() const = 0;  // tokens of the longest prompt it can give
  virtual int64_t longest_prompt_line() const { return 0; }  // its line in a dataset file (0: not a file)
  virtual std::string describe() const = 0;    // for the log: "the 'add' task", "data.train 'x.jsonl'"
};

// The built-in task's stream (the problems of ArithmeticTask::sample, held-out ones never drawn).
std::unique_ptr<PromptSource> task_prompts(const ArithmeticTask& task, const Tokenizer& tok, uint64_t seed);

// A dataset's rows as prompts: `path` (data.train or data.eval, named by `what` in errors) loaded, messages
// prompts rendered with the chat template (data.chat_template, else the model's), every prompt tokenized.
// Throws ConfigError (exit 2) naming the file, line and field for a bad row, a messages prompt without a
// chat template, or a prompt with a character the tokenizer lacks.
std::vector<PromptItem> load_prompt_rows(const std::string& path, const std::string& what, const Config& cfg,
                                         const Tokenizer& tok);

// The rows, shuffled per epoch with `seed`.
std::unique_ptr<PromptSource> dataset_prompts(std::vector<PromptItem> rows, std::string describe, uint64_t seed);

// The run's source: data.train's rows, or the built-in task.
std::unique_ptr<PromptSource> training_prompts(const Config& cfg, const ArithmeticTask& task, const Tokenizer& tok);

// The chat template a messages prompt is rendered with: data.chat_template, else the model folder's (a
// folder tokenizer's own folder). nullopt when there is none.
struct ChatTemplate;
std::optional<ChatTemplate> prompt_chat_template(const Config& cfg, const Tokenizer& tok);

}  // namespace grpo

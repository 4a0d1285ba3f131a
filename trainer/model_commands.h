// grpo-train's model commands: `tokenize` (ids and token texts of a model's tokenizer), `generate`
// (a completion from any model: greedy or sampled, plain or chat-formatted), `export` (a checkpoint or
// model as a Hugging Face folder). Each takes a model reference: a Hugging Face folder, a checkpoint file
// or builtin:NAME (trainer/model_source.h).
#pragma once

#include <cstdint>
#include <string>

namespace grpo {

struct TokenizeArgs {
  std::string model;
  std::string text;
  std::string file;
  bool json = false;
};
int cmd_tokenize(const TokenizeArgs& a);

struct GenerateArgs {
  std::string model;
  std::string prompt;
  std::string system;  // with --chat: a system message first
  bool chat = false;   // render the prompt as one user message with the model's chat template
  bool thinking = true;  // with --chat: the template's enable_thinking (Qwen3)
  int64_t max_new_tokens = 64;
  double temperature = 0.0;  // 0 = greedy
  double top_p = 1.0;
  int64_t seed = 0;
  int64_t threads = 1;
  bool json = false;
};
int cmd_generate(const GenerateArgs& a);

struct ExportArgs {
  std::string checkpoint;
  std::string out;
  std::string dtype = "bf16";
};
int cmd_export(const ExportArgs& a);

}  // namespace grpo

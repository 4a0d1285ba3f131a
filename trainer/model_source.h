// Where a model comes from, in one place for every command: a Hugging Face folder (config.json +
// safetensors + tokenizer files), a checkpoint file (a base model or a run's step_N.pt), "builtin:NAME"
// (a model shipped in resources/models), or a seeded random init of the config's model.* shape with the
// built-in character tokenizer. The tokenizer always comes with the model: a folder's tokenizer.json, the
// one a checkpoint records, or the built-in alphabet.
#pragma once

#include <memory>
#include <string>

#include "trainer/config.h"
#include "trainer/model.h"
#include "trainer/tokenizer.h"

namespace grpo {

// Resolves "builtin:demo-base" and friends to a file; other values are returned unchanged.
std::string resolve_model_path(const std::string& ref);

// True when `ref` names a Hugging Face model folder (a directory holding config.json).
bool is_model_folder(const std::string& ref);

struct LoadedModel {
  Transformer model{nullptr};
  std::unique_ptr<Tokenizer> tokenizer;
  std::string source;  // what was loaded, for messages
};

// A folder, checkpoint or builtin:NAME. Throws ConfigError / CheckpointError naming what is wrong.
LoadedModel load_model(const std::string& ref);
// The tokenizer alone: a folder needs only its tokenizer files, no weights.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& ref);

// The starting model of a run: model.path, else model.init, else a random init seeded with `seed`.
// The model's own shape is written back into `model.spec` (the effective config records it).
LoadedModel load_start_model(ModelConfig& model, uint64_t seed);
std::unique_ptr<Tokenizer> load_start_tokenizer(const ModelConfig& model);

}  // namespace grpo

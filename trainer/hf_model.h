// Hugging Face model folders: config.json <-> ModelSpec, safetensors weights <-> Transformer, and export
// of a trained model as a folder transformers and vLLM load (config.json with architectures and dtype,
// model.safetensors without lm_head.weight when tied, tokenizer and generation files).
// Families: LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "trainer/model.h"
#include "trainer/model_spec.h"
#include "trainer/tokenizer.h"

namespace grpo {

// config.json to a ModelSpec. Throws ConfigError naming `source` and the field: an unknown architecture,
// a missing or out-of-range size, an unsupported rope scaling, activation or sliding window.
ModelSpec spec_from_hf_config(const nlohmann::json& config, const std::string& source);
// The config.json transformers writes for this spec; `dtype` is "bfloat16" or "float32".
nlohmann::json hf_config_from_spec(const ModelSpec& spec, const std::string& dtype, const Tokenizer& tokenizer);

// Each parameter of `model` under its Hugging Face name ("model.layers.0.self_attn.q_proj.weight", ...).
std::vector<std::pair<std::string, torch::Tensor>> hf_named_parameters(Transformer& model);

// Reads dir/config.json and the weights (model.safetensors or a sharded index), upcast to float32 tensor
// by tensor from the memory-mapped files. Throws ConfigError naming the folder and the missing, misshaped
// or unexpected tensor, or the truncated file.
Transformer load_hf_model(const std::string& dir);

struct ExportOptions {
  std::string dtype = "bf16";  // "bf16" or "f32"
};

// Writes `out_dir` (created; existing files of the same names replaced): config.json, model.safetensors,
// generation_config.json and the tokenizer files (copied from the model's folder; made for the built-in
// character tokenizer). Throws ConfigError when the tokenizer's folder is gone.
void export_hf_model(Transformer& model, const Tokenizer& tokenizer, const std::string& out_dir,
                     const ExportOptions& options);

// The tokenizer.json (byte-level BPE, no merges) and tokenizer_config.json that tokenize exactly as the
// built-in character tokenizer: one token per character, "<pad>" id 0, "\n" the end of sequence.
nlohmann::json char_tokenizer_json(const CharTokenizer& tokenizer);

}  // namespace grpo

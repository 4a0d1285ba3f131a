// The one description of a model's shape and family, shared by the built-in demo model, random inits,
// checkpoints and Hugging Face folders (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM): what the
// config's `model.*` keys set, what a checkpoint header records, what config.json maps to and from.
// No LibTorch here.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace grpo {

// Llama 3.1's rotary scaling rule (rope_type "llama3"); `type` empty = plain rotary embeddings.
struct RopeScaling {
  std::string type;                 // "" or "llama3"
  double factor = 8.0;              // how much longer the extended context is
  double low_freq_factor = 1.0;     // wavelengths above original_context / low_freq_factor are scaled fully
  double high_freq_factor = 4.0;    // wavelengths below original_context / high_freq_factor are kept
  int64_t original_context = 8192;  // original_max_position_embeddings
};

struct ModelSpec {
  std::string arch = "llama";   // family: "llama" (the built-in model is a small Llama), "qwen2", "qwen3"
  int64_t vocab_size = 34;      // embedding rows (may exceed the tokenizer's ids: Qwen pads it)
  int64_t d_model = 64;         // hidden_size
  int64_t n_layers = 3;         // num_hidden_layers
  int64_t n_heads = 4;          // num_attention_heads
  int64_t n_kv_heads = 4;       // num_key_value_heads (grouped-query attention when < n_heads)
  int64_t head_dim = 0;         // per-head width; 0 = d_model / n_heads (Qwen3 sets it otherwise)
  int64_t mlp_hidden = 176;     // intermediate_size of the SwiGLU MLP
  int64_t context = 192;        // max_position_embeddings: longest prompt + completion
  double rope_base = 10000.0;   // rope_theta
  RopeScaling rope_scaling;     // rope_scaling (llama3 rule) or none
  double norm_eps = 1e-5;       // rms_norm_eps
  bool tie_embeddings = true;   // tie_word_embeddings: the output projection is the embedding
  bool qkv_bias = false;        // biases on q, k, v (Qwen2 always; Llama/Qwen3 attention_bias)
  bool o_bias = false;          // bias on the output projection (Llama/Qwen3 attention_bias)
  bool mlp_bias = false;        // biases on the MLP projections (Llama mlp_bias)
  bool qk_norm = false;         // Qwen3: per-head RMSNorm of q and k before the rotary embedding

  int64_t head_size() const { return head_dim > 0 ? head_dim : d_model / n_heads; }
  // The architecture name a Hugging Face config.json gives it ("LlamaForCausalLM", ...).
  std::string hf_architecture() const;
};

// Checkpoint headers: every field, by name. Headers written before a field existed load its default.
nlohmann::json model_spec_to_json(const ModelSpec& m);
ModelSpec model_spec_from_json(const nlohmann::json& j);

// What a family implies: Qwen2 has biases on q, k and v (none on the output projection); Qwen3 has
// per-head q/k norms. Applied to a random init's spec, which the config describes by family and sizes.
void apply_family_rules(ModelSpec& m);

// Throws ConfigError naming `source` and the field when the sizes cannot make a model (a zero width,
// heads that do not divide, an unknown family, ...).
void validate_model_spec(const ModelSpec& m, const std::string& source);

}  // namespace grpo

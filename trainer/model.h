// A decoder-only transformer of the Llama / Qwen2 / Qwen3 family, shaped by one ModelSpec: pre-norm
// RMSNorm, rotary position embeddings (half-split convention, optional llama3 scaling), grouped-query
// attention (Qwen2's q/k/v biases, Qwen3's per-head q/k norms), SwiGLU MLP, tied or separate output
// projection. The built-in demo model is the smallest case: a tied, bias-free Llama.
// Rows may be left-padded (per-row positions and a key mask) and decoding reuses a preallocated KV cache.
// Decoding one token without gradients (sampling, on the CPU) runs a fused attention kernel over the cache
// (attention.h); prompts, scoring and training run LibTorch's tensor operations.
// Limits: no dropout, no flash attention for T > 1 (LibTorch 1.13 has no fused kernel); attention is O(T·S)
// memory.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <vector>

#include "trainer/model_spec.h"

namespace grpo {

// Keys and values of every layer for a batch of rows, preallocated to `capacity` positions.
struct KVCache {
  std::vector<torch::Tensor> k, v;  // per layer: (B, n_kv, capacity, hd)
  torch::Tensor valid;              // (B, capacity) bool: which cached positions are real tokens
  torch::Tensor key_bias;           // (B, capacity) float: 0 on real tokens, -inf elsewhere (decoding's mask)
  int64_t length = 0;               // positions filled so far

  void keep_rows(const torch::Tensor& rows);  // only these batch rows (int64 indices) from now on

  static KVCache allocate(const ModelSpec& spec, int64_t batch, int64_t capacity, const torch::TensorOptions& to);
  int64_t capacity() const { return valid.size(1); }
};

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelSpec& spec);
  // x (B, T, C); cos/sin (B, 1, T, hd/2); mask (B, 1, T, S) additive. With a cache, the new keys and values
  // are written at [cache_pos, cache_pos + T) of layer `layer` and attention spans the cache's first S.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, KVCache* cache, int64_t layer);
  torch::nn::Linear wq{nullptr}, wk{nullptr}, wv{nullptr}, wo{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // Qwen3 only: over each head's hd, before the rotary embedding

 private:
  int64_t n_heads_, n_kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const ModelSpec& spec);
  torch::Tensor forward(const torch::Tensor& x);  // SwiGLU: w2(silu(w1 x) * w3 x)
  torch::nn::Linear w1{nullptr}, w2{nullptr}, w3{nullptr};
};
TORCH_MODULE(Mlp);

class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const ModelSpec& spec);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, KVCache* cache, int64_t layer);
  RMSNorm attn_norm{nullptr}, mlp_norm{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Block);

class TransformerImpl : public torch::nn::Module {
 public:
  // `init_weights`: GPT-2 style random init; false leaves the parameters uninitialised for a loader to fill.
  explicit TransformerImpl(const ModelSpec& spec, bool init_weights = true);

  // tokens (B, T) int64; positions (B, T) int64; valid (B, T) bool marks real (non-PAD) tokens.
  // With a cache the tokens continue it (cache->length advances by T). Returns the final hidden states
  // (B, T, C); logits() turns any slice of them into (…, V).
  torch::Tensor hidden(const torch::Tensor& tokens, const torch::Tensor& positions, const torch::Tensor& valid,
                       KVCache* cache = nullptr);
  torch::Tensor logits(const torch::Tensor& hidden_states);
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& positions, const torch::Tensor& valid,
                        KVCache* cache = nullptr) {
    return logits(hidden(tokens, positions, valid, cache));
  }

  const ModelSpec& spec() const { return spec_; }
  int64_t num_parameters() const;

  torch::nn::Embedding tok_emb{nullptr};
  torch::nn::ModuleList blocks;
  RMSNorm final_norm{nullptr};
  torch::nn::Linear lm_head{nullptr};  // only when the output projection is not tied to tok_emb

 private:
  void ensure_rope(int64_t positions, const torch::Device& device);
  ModelSpec spec_;
  torch::Tensor inv_freq_;             // (hd/2) float64, llama3 scaling applied
  torch::Tensor rope_cos_, rope_sin_;  // (n, hd/2) for positions [0, n), grown on demand; derived (not saved)
};
TORCH_MODULE(Transformer);

// Positions of left-padded rows: 0 at each row's first real token. valid (B, T) bool -> (B, T) int64.
torch::Tensor positions_from_valid(const torch::Tensor& valid);

}  // namespace grpo

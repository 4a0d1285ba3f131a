// A decoder-only transformer of the Llama / Qwen2 family: pre-norm RMSNorm, rotary position embeddings
// (half-split convention), grouped-query attention, SwiGLU MLP, no biases, tied input/output embeddings.
// Rows may be left-padded (per-row positions and a key mask) and decoding reuses a preallocated KV cache.
// Limits: no dropout, no flash attention (LibTorch 1.13 has no fused kernel); attention is O(T·S) memory.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace grpo {

struct ModelOptions {
  int64_t vocab_size = 34;
  int64_t d_model = 64;
  int64_t n_layers = 3;
  int64_t n_heads = 4;
  int64_t n_kv_heads = 4;
  int64_t mlp_hidden = 176;
  int64_t context = 192;
  double rope_base = 10000.0;
  double norm_eps = 1e-5;
  int64_t head_dim() const { return d_model / n_heads; }
};

// Keys and values of every layer for a batch of rows, preallocated to `capacity` positions.
struct KVCache {
  std::vector<torch::Tensor> k, v;  // per layer: (B, n_kv, capacity, hd)
  torch::Tensor valid;              // (B, capacity) bool: which cached positions are real tokens
  int64_t length = 0;               // positions filled so far

  static KVCache allocate(const ModelOptions& opt, int64_t batch, int64_t capacity, const torch::TensorOptions& to);
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
  explicit AttentionImpl(const ModelOptions& opt);
  // x (B, T, C); cos/sin (B, 1, T, hd/2); mask (B, 1, T, S) additive. With a cache, the new keys and values
  // are written at [cache_pos, cache_pos + T) of layer `layer` and attention spans the cache's first S.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, KVCache* cache, int64_t layer);
  torch::nn::Linear wq{nullptr}, wk{nullptr}, wv{nullptr}, wo{nullptr};

 private:
  int64_t n_heads_, n_kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const ModelOptions& opt);
  torch::Tensor forward(const torch::Tensor& x);  // SwiGLU: w2(silu(w1 x) * w3 x)
  torch::nn::Linear w1{nullptr}, w2{nullptr}, w3{nullptr};
};
TORCH_MODULE(Mlp);

class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const ModelOptions& opt);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, KVCache* cache, int64_t layer);
  RMSNorm attn_norm{nullptr}, mlp_norm{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Block);

class TransformerImpl : public torch::nn::Module {
 public:
  explicit TransformerImpl(const ModelOptions& opt);

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

  const ModelOptions& options() const { return opt_; }
  int64_t num_parameters() const;

  torch::nn::Embedding tok_emb{nullptr};
  torch::nn::ModuleList blocks;
  RMSNorm final_norm{nullptr};

 private:
  ModelOptions opt_;
  torch::Tensor rope_cos_, rope_sin_;  // (context, hd/2), derived (not saved)
};
TORCH_MODULE(Transformer);

// Positions of left-padded rows: 0 at each row's first real token. valid (B, T) bool -> (B, T) int64.
torch::Tensor positions_from_valid(const torch::Tensor& valid);

}  // namespace grpo

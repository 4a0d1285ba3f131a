// Transformer implementation (see model.h). Shapes: B batch rows, T new tokens, S attended keys,
// C d_model, H query heads, Hkv key/value heads, hd head size.
#include "trainer/model.h"

#include "trainer/attention.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace grpo {

namespace {

// Rotary embedding, half-split convention (as Llama's HF port and Qwen2): x = [x1, x2] along hd.
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  return torch::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
}

torch::nn::Linear linear(int64_t in, int64_t out, bool bias = false) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

// Rotary frequencies theta^(-2i/hd), i < hd/2, in float64, with Llama 3.1's scaling rule where asked
// (transformers' _compute_llama3_parameters): long wavelengths are divided by `factor`, short ones kept,
// and the band between interpolated smoothly.
torch::Tensor rope_inv_freq(const ModelSpec& spec) {
  const int64_t half = spec.head_size() / 2;
  auto inv_freq = torch::pow(spec.rope_base, -torch::arange(0, half, torch::kFloat64) / static_cast<double>(half));
  const auto& r = spec.rope_scaling;
  if (r.type != "llama3") return inv_freq;
  const double old_context = static_cast<double>(r.original_context);
  const double low_wavelen = old_context / r.low_freq_factor, high_wavelen = old_context / r.high_freq_factor;
  auto wavelen = 2.0 * M_PI / inv_freq;
  auto scaled = torch::where(wavelen > low_wavelen, inv_freq / r.factor, inv_freq);
  auto smooth = (old_context / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
  auto smoothed = (1.0 - smooth) * scaled / r.factor + smooth * scaled;
  auto medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen);
  return torch::where(medium, smoothed, scaled);
}

}  // namespace

KVCache KVCache::allocate(const ModelSpec& spec, int64_t batch, int64_t capacity, const torch::TensorOptions& to) {
  KVCache c;
  for (int64_t l = 0; l < spec.n_layers; ++l) {
    c.k.push_back(torch::zeros({batch, spec.n_kv_heads, capacity, spec.head_size()}, to));
    c.v.push_back(torch::zeros({batch, spec.n_kv_heads, capacity, spec.head_size()}, to));
  }
  c.valid = torch::zeros({batch, capacity}, torch::TensorOptions().dtype(torch::kBool).device(to.device()));
  c.key_bias =
      torch::full({batch, capacity}, -std::numeric_limits<float>::infinity(), to.dtype(torch::kFloat32));
  return c;
}

void KVCache::keep_rows(const torch::Tensor& rows) {
  for (auto* layer : {&k, &v})
    for (auto& t : *layer) t = t.index_select(0, rows);
  valid = valid.index_select(0, rows);
  key_bias = key_bias.index_select(0, rows);
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps_) * weight;
}

AttentionImpl::AttentionImpl(const ModelSpec& spec)
    : n_heads_(spec.n_heads), n_kv_heads_(spec.n_kv_heads), head_dim_(spec.head_size()) {
  wq = register_module("wq", linear(spec.d_model, spec.n_heads * head_dim_, spec.qkv_bias));
  wk = register_module("wk", linear(spec.d_model, spec.n_kv_heads * head_dim_, spec.qkv_bias));
  wv = register_module("wv", linear(spec.d_model, spec.n_kv_heads * head_dim_, spec.qkv_bias));
  wo = register_module("wo", linear(spec.n_heads * head_dim_, spec.d_model, spec.o_bias));
  if (spec.qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(head_dim_, spec.norm_eps));
    k_norm = register_module("k_norm", RMSNorm(head_dim_, spec.norm_eps));
  }
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                     const torch::Tensor& mask, KVCache* cache, int64_t layer) {
  const int64_t B = x.size(0), T = x.size(1);
  auto q = wq(x).view({B, T, n_heads_, head_dim_});     // (B, T, H, hd)
  auto k = wk(x).view({B, T, n_kv_heads_, head_dim_});  // (B, T, Hkv, hd)
  auto v = wv(x).view({B, T, n_kv_heads_, head_dim_}).transpose(1, 2);  // (B, Hkv, T, hd)
  if (q_norm) {  // Qwen3: each head normalised on its own, before the rotary embedding
    q = q_norm(q);
    k = k_norm(k);
  }
  q = q.transpose(1, 2);  // (B, H, T, hd)
  k = k.transpose(1, 2);  // (B, Hkv, T, hd)
  q = apply_rope(q, cos, sin);
  k = apply_rope(k, cos, sin);
  if (cache) {
    const int64_t start = cache->length;
    cache->k[layer].narrow(2, start, T).copy_(k);
    cache->v[layer].narrow(2, start, T).copy_(v);
    k = cache->k[layer].narrow(2, 0, start + T);  // (B, Hkv, S, hd)
    v = cache->v[layer].narrow(2, 0, start + T);
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim_));
  auto y = attention(q, k, v, mask, scale);                               // (B, H, T, hd)
  y = y.transpose(1, 2).contiguous().view({B, T, n_heads_ * head_dim_});  // (B, T, C)
  return wo(y);
}

MlpImpl::MlpImpl(const ModelSpec& spec) {
  w1 = register_module("w1", linear(spec.d_model, spec.mlp_hidden, spec.mlp_bias));  // gate_proj
  w2 = register_module("w2", linear(spec.mlp_hidden, spec.d_model, spec.mlp_bias));  // down_proj
  w3 = register_module("w3", linear(spec.d_model, spec.mlp_hidden, spec.mlp_bias));  // up_proj
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) { return w2(torch::silu(w1(x)) * w3(x)); }

BlockImpl::BlockImpl(const ModelSpec& spec) {
  attn_norm = register_module("attn_norm", RMSNorm(spec.d_model, spec.norm_eps));
  attn = register_module("attn", Attention(spec));
  mlp_norm = register_module("mlp_norm", RMSNorm(spec.d_model, spec.norm_eps));
  mlp = register_module("mlp", Mlp(spec));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                 const torch::Tensor& mask, KVCache* cache, int64_t layer) {
  auto h = x + attn(attn_norm(x), cos, sin, mask, cache, layer);
  return h + mlp(mlp_norm(h));
}

TransformerImpl::TransformerImpl(const ModelSpec& spec, bool init_weights) : spec_(spec) {
  tok_emb = register_module("tok_emb", torch::nn::Embedding(spec.vocab_size, spec.d_model));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < spec.n_layers; ++i) blocks->push_back(Block(spec));
  final_norm = register_module("final_norm", RMSNorm(spec.d_model, spec.norm_eps));
  if (!spec.tie_embeddings) lm_head = register_module("lm_head", linear(spec.d_model, spec.vocab_size));
  inv_freq_ = rope_inv_freq(spec);

  if (!init_weights) return;
  // GPT-2 style init: N(0, 0.02), residual projections scaled by 1/sqrt(2 · n_layers); biases 0.
  torch::NoGradGuard no_grad;
  for (auto& p : named_parameters()) {
    if (p.key().find("norm") != std::string::npos) continue;
    if (p.key().size() > 5 && p.key().compare(p.key().size() - 5, 5, ".bias") == 0) {
      p.value().zero_();
      continue;
    }
    const bool residual = p.key().find("wo.") != std::string::npos || p.key().find("w2.") != std::string::npos;
    p.value().normal_(0.0, residual ? 0.02 / std::sqrt(2.0 * static_cast<double>(spec.n_layers)) : 0.02);
  }
}

// Rotary tables for positions [0, n): computed in float64, stored in float32, grown in powers of two up
// to the context so a 128k-context model does not hold tables it never uses.
void TransformerImpl::ensure_rope(int64_t positions, const torch::Device& device) {
  if (rope_cos_.defined() && rope_cos_.size(0) >= positions && rope_cos_.device() == device) return;
  int64_t n = std::max<int64_t>(rope_cos_.defined() ? rope_cos_.size(0) : 0, 256);
  while (n < positions) n *= 2;
  n = std::min(n, spec_.context);
  auto angles = torch::outer(torch::arange(0, n, torch::kFloat64), inv_freq_);  // (n, hd/2)
  rope_cos_ = angles.cos().to(torch::kFloat32).to(device);
  rope_sin_ = angles.sin().to(torch::kFloat32).to(device);
}

int64_t TransformerImpl::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

torch::Tensor TransformerImpl::hidden(const torch::Tensor& tokens, const torch::Tensor& positions,
                                      const torch::Tensor& valid, KVCache* cache) {
  const int64_t B = tokens.size(0), T = tokens.size(1);
  const int64_t past = cache ? cache->length : 0;
  TORCH_CHECK(!cache || past + T <= cache->capacity(), "KV cache overflow: ", past + T, " positions for a cache of ",
              cache ? cache->capacity() : 0, " (raise model.context or lower sampling.max_new_tokens)");
  const int64_t last = positions.max().item<int64_t>();
  TORCH_CHECK(last < spec_.context, "position ", last, " is past the model's context of ", spec_.context, " tokens");
  ensure_rope(last + 1, tokens.device());
  // Rotary tables gathered at each row's own positions.
  auto flat = positions.reshape({-1});
  auto cos = rope_cos_.index_select(0, flat).view({B, 1, T, -1});  // (B, 1, T, hd/2)
  auto sin = rope_sin_.index_select(0, flat).view({B, 1, T, -1});

  // Additive mask (B, 1, T, S): causal, no PAD keys; a query always sees itself (so PAD rows stay finite).
  const int64_t S = past + T;
  const float minus_inf = -std::numeric_limits<float>::infinity();
  torch::Tensor key_valid, mask;
  if (cache) {
    cache->valid.narrow(1, past, T).copy_(valid);
    cache->key_bias.narrow(1, past, T).masked_fill_(valid, 0.0f);
    key_valid = cache->valid.narrow(1, 0, S);  // (B, S)
  } else {
    key_valid = valid;
  }
  if (cache && T == 1) {  // decoding: every cached key is in the past; the cache keeps the PAD bias
    mask = cache->key_bias.narrow(1, 0, S).clone();
    mask.select(1, past).zero_();  // the query itself
    mask = mask.view({B, 1, 1, S});
  } else {
    auto opts = torch::TensorOptions().device(tokens.device());
    auto q_idx = torch::arange(past, past + T, opts.dtype(torch::kLong)).view({T, 1});
    auto k_idx = torch::arange(0, S, opts.dtype(torch::kLong)).view({1, S});
    auto allowed = (k_idx <= q_idx).unsqueeze(0) & key_valid.unsqueeze(1);  // (B, T, S)
    allowed = allowed | (k_idx == q_idx).unsqueeze(0);
    mask = torch::zeros({B, 1, T, S}, opts.dtype(torch::kFloat32))
               .masked_fill(allowed.logical_not().unsqueeze(1), minus_inf);
  }

  auto x = tok_emb(tokens);  // (B, T, C)
  for (size_t l = 0; l < blocks->size(); ++l)
    x = blocks[l]->as<Block>()->forward(x, cos, sin, mask, cache, static_cast<int64_t>(l));
  if (cache) cache->length += T;
  return final_norm(x);  // (B, T, C)
}

torch::Tensor TransformerImpl::logits(const torch::Tensor& hidden_states) {
  if (lm_head) return lm_head(hidden_states);                 // (..., V)
  return torch::matmul(hidden_states, tok_emb->weight.t());  // (..., V), tied embeddings
}

torch::Tensor positions_from_valid(const torch::Tensor& valid) {
  return (valid.to(torch::kLong).cumsum(1) - 1).clamp_min(0);
}

}  // namespace grpo

// Scaled dot-product attention for the transformer (model.h), in two implementations:
//  - decode_attention(): one new query token per row against the KV cache, straight over the cache's
//    views: per (row, head) the scores, then one softmax over all rows, then per (row, head) the weighted
//    sum of values; no (B, H, S, hd) temporaries of a broadcast multiply-and-sum, grouped-query heads read
//    from their shared key/value head in place (no expanded copy of the cache), keys masked to -inf (PAD,
//    rows that finished) skipped. Inference only (no autograd), CPU float32: sampling's path.
//  - attention_ops(): LibTorch tensor operations, differentiable, any device: prompts, scoring, training.
// attention() picks between them. Shapes: B rows, T query tokens, H query heads, Hkv key/value heads
// (H a multiple of Hkv), S keys, hd head size.
#pragma once

#include <ATen/core/Tensor.h>

namespace grpo {

// q (B, H, T, hd); k, v (B, Hkv, S, hd); mask (B, 1, T, S) additive, finite at each query's own key.
// Returns softmax(q·kᵀ · scale + mask) · v, (B, H, T, hd), by decode_attention() where it applies.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                     double scale);

// Whether decode_attention() can serve these operands: one query token, CPU float32, no gradient wanted.
bool decode_attention_applies(const at::Tensor& q, const at::Tensor& k);

// The fused kernel: T = 1, and k, v with unit stride along hd (the cache's narrowed views are).
at::Tensor decode_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& mask, double scale);

// Tensor operations: grouped-query heads expanded; one token as a broadcast multiply-and-sum (it beats
// B·H tiny GEMMs), more through matmul.
at::Tensor attention_ops(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                         const at::Tensor& mask, double scale);

}  // namespace grpo

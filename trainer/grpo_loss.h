// The GRPO objective in one place (DESIGN.md §3; Shao et al. 2024, "DeepSeekMath", eq. 3, with DAPO's
// clip-higher and token-level aggregation, Yu et al. 2025, and Dr. GRPO's unscaled advantages, Liu et al. 2025).
#pragma once

#include <torch/types.h>

namespace grpo {

enum class LossAggregation { kSequenceMean, kTokenMean };

struct LossOptions {
  double epsilon_low = 0.2;   // ratio clipped below at 1 − epsilon_low
  double epsilon_high = 0.2;  // ratio clipped above at 1 + epsilon_high
  double beta = 0.0;          // KL coefficient; 0 ignores ref_logp
  LossAggregation agg = LossAggregation::kSequenceMean;
};

// A_i = (r_i − mean(r)) / (std(r) + eps) per group, std with divisor G − 1; without scaling A_i = r_i − mean(r).
// rewards (P, G) -> advantages (P, G).
torch::Tensor group_advantages(const torch::Tensor& rewards, bool scale_by_std, double eps);

// k3 estimator of KL(π_θ || π_ref) per token: π_ref/π_θ − log(π_ref/π_θ) − 1 ≥ 0 (Schulman 2020).
torch::Tensor k3_kl(const torch::Tensor& logp, const torch::Tensor& ref_logp);

struct LossResult {
  torch::Tensor loss;         // scalar, differentiable
  torch::Tensor kl;           // (B, L) per-token k3 KL (zeros when beta = 0), detached
  double kl_mean = 0.0;       // over completion tokens
  double clip_low = 0.0;      // fraction of tokens with ratio < 1 − ε_low and A < 0
  double clip_high = 0.0;     // fraction of tokens with ratio > 1 + ε_high and A > 0
  double clip_region = 0.0;   // either
};

// L = − agg_{i,t} [ min(ρ A_i, clip(ρ, 1−ε_low, 1+ε_high) A_i) − β · KL_{i,t} ],  ρ = exp(logp − old_logp).
// logp, old_logp, ref_logp, mask: (B, L); advantages: (B). mask is 1 on completion tokens, 0 on padding.
// agg = sequence mean: mean over sequences of each sequence's token mean (GRPO);
// token mean: sum over all tokens / number of tokens (DAPO).
LossResult grpo_loss(const torch::Tensor& logp, const torch::Tensor& old_logp, const torch::Tensor& ref_logp,
                     const torch::Tensor& advantages, const torch::Tensor& mask, const LossOptions& opt);

}  // namespace grpo

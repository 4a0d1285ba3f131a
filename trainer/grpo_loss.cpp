// GRPO advantages, k3 KL and the clipped surrogate loss (see grpo_loss.h).
#include "trainer/grpo_loss.h"

#include <torch/torch.h>

namespace grpo {

torch::Tensor group_advantages(const torch::Tensor& rewards, bool scale_by_std, double eps) {
  TORCH_CHECK(rewards.dim() == 2 && rewards.size(1) >= 2, "rewards must be (P, G) with G >= 2, got ", rewards.sizes());
  auto centered = rewards - rewards.mean(1, /*keepdim=*/true);  // (P, G)
  if (!scale_by_std) return centered;
  auto std = rewards.std(1, /*unbiased=*/true, /*keepdim=*/true);  // (P, 1), divisor G − 1
  // A group whose rewards all agree carries no signal: A = 0. Tested by exact equality, since the mean
  // of {0.7, 0.7, 0.7} is off by an ulp and would otherwise give A = ±1.2 from a 1e-16 std.
  auto agree = std::get<0>(rewards.max(1, /*keepdim=*/true)) == std::get<0>(rewards.min(1, /*keepdim=*/true));
  return torch::where(agree, torch::zeros_like(centered), centered / (std + eps));
}

torch::Tensor k3_kl(const torch::Tensor& logp, const torch::Tensor& ref_logp) {
  auto log_ratio = ref_logp - logp;  // log(π_ref / π_θ)
  return torch::exp(log_ratio) - log_ratio - 1.0;
}

LossResult grpo_loss(const torch::Tensor& logp, const torch::Tensor& old_logp, const torch::Tensor& ref_logp,
                     const torch::Tensor& advantages, const torch::Tensor& mask, const LossOptions& opt) {
  TORCH_CHECK(logp.sizes() == mask.sizes() && old_logp.sizes() == mask.sizes(), "logp/old_logp/mask shapes differ");
  auto adv = advantages.view({-1, 1}).to(logp.dtype());  // (B, 1), shared by every token of a completion
  auto ratio = torch::exp(logp - old_logp);               // (B, L)
  auto clipped = torch::clamp(ratio, 1.0 - opt.epsilon_low, 1.0 + opt.epsilon_high);
  auto objective = torch::min(ratio * adv, clipped * adv);  // (B, L)

  LossResult r;
  if (opt.beta > 0.0) {
    TORCH_CHECK(ref_logp.defined(), "beta > 0 needs reference log-probs");
    auto kl = k3_kl(logp, ref_logp);
    objective = objective - opt.beta * kl;
    r.kl = kl.detach();
  } else {
    r.kl = torch::zeros_like(logp);
  }

  auto masked = objective * mask;
  if (opt.agg == LossAggregation::kSequenceMean) {
    r.loss = -(masked.sum(1) / mask.sum(1).clamp_min(1.0)).mean();
  } else {
    r.loss = -masked.sum() / mask.sum().clamp_min(1.0);
  }

  torch::NoGradGuard no_grad;
  const double n = std::max(mask.sum().item<double>(), 1.0);
  auto low = (ratio < 1.0 - opt.epsilon_low) & (adv < 0);
  auto high = (ratio > 1.0 + opt.epsilon_high) & (adv > 0);
  r.clip_low = (low.to(mask.dtype()) * mask).sum().item<double>() / n;
  r.clip_high = (high.to(mask.dtype()) * mask).sum().item<double>() / n;
  r.clip_region = ((low | high).to(mask.dtype()) * mask).sum().item<double>() / n;
  r.kl_mean = (r.kl * mask).sum().item<double>() / n;
  return r;
}

}  // namespace grpo

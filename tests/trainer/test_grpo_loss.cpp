// GRPO maths against hand-worked values: group advantages, the clipped loss under both aggregations with
// and without std scaling, clip fractions, the k3 KL, and the μ = 1, β = 0 gradient = REINFORCE with a
// group baseline (on a real model and real sampled completions).
#include <ATen/CPUGeneratorImpl.h>
#include <QtTest>
#include <torch/torch.h>

#include <cmath>

#include "trainer/grpo_loss.h"
#include "trainer/model.h"
#include "trainer/sampler.h"

using namespace grpo;

namespace {

// The built-in tokenizer's ids: "\n" (1) ends a row, PAD (0) is never sampled.
const SpecialTokens kSpecial{{1}, 0, {0}, 0};

// The two-group batch (G = 3): group 1 rewards {1, 0, 0}, group 2 rewards {0, 0.5, 1}.
//   group 1: mean 1/3, sample std sqrt(((2/3)² + 2·(1/3)²) / 2) = 1/√3
//            A = (2/3)·√3 = 1.1547005, (−1/3)·√3 = −0.5773503 (twice)
//   group 2: mean 0.5, std sqrt((0.25 + 0 + 0.25) / 2) = 0.5, A = −1, 0, 1
const double kA = 2.0 / std::sqrt(3.0), kB = 1.0 / std::sqrt(3.0);

torch::Tensor rewards() { return torch::tensor({{1.0, 0.0, 0.0}, {0.0, 0.5, 1.0}}, torch::kFloat64); }

// Per-token ratios ρ (row-major, 6 completions × 3 tokens) and the completion mask (lengths 3, 2, 1, 3, 2, 1).
torch::Tensor ratios() {
  return torch::tensor({{1.0, 1.5, 0.9}, {0.5, 1.3, 1.0}, {1.0, 1.0, 1.0},
                        {1.1, 0.7, 1.25}, {1.0, 1.0, 1.0}, {2.0, 1.0, 1.0}}, torch::kFloat64);
}
torch::Tensor mask() {
  return torch::tensor({{1.0, 1.0, 1.0}, {1.0, 1.0, 0.0}, {1.0, 0.0, 0.0},
                        {1.0, 1.0, 1.0}, {1.0, 1.0, 0.0}, {1.0, 0.0, 0.0}}, torch::kFloat64);
}

LossResult loss_for(const torch::Tensor& adv, LossAggregation agg) {
  // logp − old_logp = log ρ
  auto old_logp = torch::full({6, 3}, -1.0, torch::kFloat64);
  auto logp = old_logp + ratios().log();
  LossOptions o;
  o.epsilon_low = 0.2;
  o.epsilon_high = 0.2;
  o.beta = 0.0;
  o.agg = agg;
  return grpo_loss(logp, old_logp, torch::Tensor(), adv, mask(), o);
}

}  // namespace

class TestGrpoLoss : public QObject {
  Q_OBJECT
 private slots:
  void advantages_scaled() {
    auto a = group_advantages(rewards(), /*scale_by_std=*/true, /*eps=*/0.0);
    const double want[2][3] = {{kA, -kB, -kB}, {-1.0, 0.0, 1.0}};
    for (int p = 0; p < 2; ++p)
      for (int i = 0; i < 3; ++i) QVERIFY(std::abs(a[p][i].item<double>() - want[p][i]) < 1e-9);
  }

  void advantages_unscaled() {
    auto a = group_advantages(rewards(), /*scale_by_std=*/false, /*eps=*/0.0);
    const double want[2][3] = {{2.0 / 3, -1.0 / 3, -1.0 / 3}, {-0.5, 0.0, 0.5}};
    for (int p = 0; p < 2; ++p)
      for (int i = 0; i < 3; ++i) QVERIFY(std::abs(a[p][i].item<double>() - want[p][i]) < 1e-9);
  }

  void advantages_epsilon_and_flat_groups() {
    // eps enters the denominator: group 2's std is 0.5, so A_3 = 0.5 / (0.5 + 0.1) = 0.8333…
    auto a = group_advantages(rewards(), true, 0.1);
    QVERIFY(std::abs(a[1][2].item<double>() - 0.5 / 0.6) < 1e-9);
    // A group whose rewards all agree has A = 0 for every member, even with eps = 0.
    auto flat = group_advantages(torch::tensor({{0.7, 0.7, 0.7}}, torch::kFloat64), true, 0.0);
    QCOMPARE(flat.abs().sum().item<double>(), 0.0);
  }

  // Per token, min(ρA, clip(ρ, 0.8, 1.2)A):
  //  row 0 (A = a,  ρ 1.0 1.5 0.9):  a, 1.2a, 0.9a          sum 3.1a
  //  row 1 (A = −b, ρ 0.5 1.3):      −0.8b, −1.3b           sum −2.1b
  //  row 2 (A = −b, ρ 1.0):          −b
  //  row 3 (A = −1, ρ 1.1 0.7 1.25): −1.1, −0.8, −1.25      sum −3.15
  //  row 4 (A = 0):                  0
  //  row 5 (A = 1,  ρ 2.0):          1.2
  void loss_sequence_mean_scaled() {
    auto adv = group_advantages(rewards(), true, 0.0).view({-1});
    auto r = loss_for(adv, LossAggregation::kSequenceMean);
    // −(1/6)(3.1a/3 − 2.1b/2 − b − 3.15/3 + 0 + 1.2) = −(1/6)(1.1931906 − 0.6062178 − 0.5773503 − 1.05 + 1.2)
    QVERIFY(std::abs(r.loss.item<double>() - (-0.1596225 / 6.0)) < 1e-6);
  }

  void loss_token_mean_scaled() {
    auto adv = group_advantages(rewards(), true, 0.0).view({-1});
    auto r = loss_for(adv, LossAggregation::kTokenMean);
    // −(3.1a − 2.1b − b − 3.15 + 0 + 1.2) / 12 = −(3.5795716 − 1.2124356 − 0.5773503 − 1.95) / 12
    QVERIFY(std::abs(r.loss.item<double>() - (0.1602143 / 12.0)) < 1e-6);
  }

  void loss_sequence_mean_unscaled() {
    auto adv = group_advantages(rewards(), false, 0.0).view({-1});
    auto r = loss_for(adv, LossAggregation::kSequenceMean);
    // A = 2/3, −1/3, −1/3, −0.5, 0, 0.5: −(1/6)(0.6888889 − 0.35 − 0.3333333 − 0.525 + 0 + 0.6)
    QVERIFY(std::abs(r.loss.item<double>() - (-0.0805556 / 6.0)) < 1e-6);
  }

  void loss_token_mean_unscaled() {
    auto adv = group_advantages(rewards(), false, 0.0).view({-1});
    auto r = loss_for(adv, LossAggregation::kTokenMean);
    // −(2.0666667 − 0.7 − 0.3333333 − 1.575 + 0 + 0.6) / 12
    QVERIFY(std::abs(r.loss.item<double>() - (-0.0583333 / 12.0)) < 1e-6);
  }

  void clip_fractions() {
    auto adv = group_advantages(rewards(), true, 0.0).view({-1});
    auto r = loss_for(adv, LossAggregation::kTokenMean);
    // low: ρ < 0.8 with A < 0: row 1 (0.5), row 3 (0.7). high: ρ > 1.2 with A > 0: row 0 (1.5), row 5 (2.0).
    QVERIFY(std::abs(r.clip_low - 2.0 / 12) < 1e-9);
    QVERIFY(std::abs(r.clip_high - 2.0 / 12) < 1e-9);
    QVERIFY(std::abs(r.clip_region - 4.0 / 12) < 1e-9);
  }

  void clip_higher_uses_epsilon_high() {
    // With ε_high = 0.6, row 0's ρ = 1.5 is no longer clipped: its term is 1.5a instead of 1.2a.
    auto adv = group_advantages(rewards(), true, 0.0).view({-1});
    auto old_logp = torch::full({6, 3}, -1.0, torch::kFloat64);
    LossOptions o;
    o.epsilon_high = 0.6;
    o.agg = LossAggregation::kTokenMean;
    auto r = grpo_loss(old_logp + ratios().log(), old_logp, torch::Tensor(), adv, mask(), o);
    // row 5's ρ = 2.0 is now clipped at 1.6
    const double sum = (1.0 + 1.5 + 0.9) * kA - 2.1 * kB - kB - 3.15 + 1.6;
    QVERIFY(std::abs(r.loss.item<double>() - (-sum / 12.0)) < 1e-9);
  }

  void k3_is_zero_when_equal_and_positive_otherwise() {
    auto logp = torch::tensor({-0.1, -1.0, -2.5, -0.7}, torch::kFloat64);
    QCOMPARE(k3_kl(logp, logp).abs().max().item<double>(), 0.0);
    auto ref = torch::tensor({-0.3, -0.2, -3.0, -0.7}, torch::kFloat64);
    auto kl = k3_kl(logp, ref);
    QVERIFY(kl[0].item<double>() > 0 && kl[1].item<double>() > 0 && kl[2].item<double>() > 0);
    QCOMPARE(kl[3].item<double>(), 0.0);
    // By hand: log(π_ref/π_θ) = −0.2 -> e^−0.2 + 0.2 − 1 = 0.0187308
    QVERIFY(std::abs(kl[0].item<double>() - 0.0187307531) < 1e-9);
  }

  void beta_adds_the_kl_penalty() {
    auto logp = torch::full({1, 2}, -1.0, torch::kFloat64);
    auto ref = torch::tensor({{-1.2, -1.0}}, torch::kFloat64);
    LossOptions o;
    o.beta = 0.5;
    o.agg = LossAggregation::kTokenMean;
    auto r = grpo_loss(logp, logp, ref, torch::tensor({0.0}, torch::kFloat64), torch::ones({1, 2}, torch::kFloat64), o);
    // A = 0, so L = β · mean(KL) = 0.5 · (e^−0.2 + 0.2 − 1 + 0) / 2
    QVERIFY(std::abs(r.loss.item<double>() - 0.5 * 0.0187307531 / 2) < 1e-9);
    QVERIFY(std::abs(r.kl_mean - 0.0187307531 / 2) < 1e-9);
  }

  // With μ = 1 (π_old = π_θ, detached) and β = 0, ∇L = ∇ of −(1/N) Σ_i A_i / |o_i| Σ_t log π_θ(o_i,t):
  // REINFORCE with the group mean as baseline, on a real model and sampled completions.
  void gradient_equals_reinforce_with_group_baseline() {
    torch::manual_seed(3);
    ModelSpec mo;
    mo.vocab_size = 12;
    mo.d_model = 16;
    mo.n_layers = 1;
    mo.n_heads = 2;
    mo.n_kv_heads = 1;
    mo.mlp_hidden = 24;
    mo.context = 32;
    Transformer model(mo);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
    std::vector<std::vector<int64_t>> prompts;
    for (int p = 0; p < 2; ++p)
      for (int i = 0; i < 3; ++i) prompts.push_back({3, 4, 5 + p});
    SamplingOptions so;
    so.max_new_tokens = 6;
    auto rollout = generate(model, prompts, so, kSpecial, gen);
    auto adv = group_advantages(rewards().to(torch::kFloat32), true, 1e-4).view({-1});

    auto grads = [&](bool grpo) {
      model->zero_grad();
      auto logp = score_completions(model, rollout, 1.0, false).logp;
      torch::Tensor loss;
      if (grpo) {
        LossOptions o;  // β = 0, sequence mean
        loss = grpo_loss(logp, logp.detach(), torch::Tensor(), adv, rollout.completion_mask, o).loss;
      } else {
        auto per_seq = (logp * rollout.completion_mask).sum(1) / rollout.completion_mask.sum(1);
        loss = -(adv * per_seq).mean();
      }
      loss.backward();
      std::vector<torch::Tensor> g;
      for (auto& p : model->parameters()) g.push_back(p.grad().clone());
      return g;
    };
    auto a = grads(true), b = grads(false);
    double max_diff = 0, max_abs = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      max_diff = std::max(max_diff, (a[i] - b[i]).abs().max().item<double>());
      max_abs = std::max(max_abs, b[i].abs().max().item<double>());
    }
    QVERIFY2(max_abs > 1e-4, "the reference gradient should not vanish");
    QVERIFY2(max_diff < 1e-6, qPrintable(QString("max gradient difference %1").arg(max_diff)));
  }
};

QTEST_APPLESS_MAIN(TestGrpoLoss)
#include "test_grpo_loss.moc"

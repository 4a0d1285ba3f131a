// One GRPO step (Trainer::Impl::grpo_step), top to bottom, one function per phase, each returning a named
// result: sample_groups (rollout and rewards) -> score_groups (advantages, old and reference log-probs) ->
// update_policy -> reduce_metrics -> record_samples. Data-parallel ranks each take a share of the
// batch (docs/distributed.md); with one process every collective is a no-op.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <optional>

#include "ipc/messages.h"
#include "ipc/names.h"
#include "ipc/protocol.h"
#include "trainer/grpo_loss.h"
#include "trainer/optimizer.h"
#include "trainer/rank_metrics.h"
#include "trainer/trainer_impl.h"

namespace grpo {

namespace metric = ipc::metric;

using nlohmann::json;

namespace {

// Row-wise concatenation of two rollouts, re-padding prompts (left) and completions (right).
Rollout concat(const Rollout& a, const Rollout& b, int64_t pad_id) {
  auto pad_left = [&](const torch::Tensor& t, int64_t width, double value) {
    if (t.size(1) == width) return t;
    return torch::cat({torch::full({t.size(0), width - t.size(1)}, value, t.options()), t}, 1);
  };
  auto pad_right = [&](const torch::Tensor& t, int64_t width, double value) {
    if (t.size(1) == width) return t;
    return torch::cat({t, torch::full({t.size(0), width - t.size(1)}, value, t.options())}, 1);
  };
  const int64_t P = std::max(a.prompt.size(1), b.prompt.size(1));
  const int64_t L = std::max(a.completion.size(1), b.completion.size(1));
  Rollout r;
  r.prompt = torch::cat({pad_left(a.prompt, P, pad_id), pad_left(b.prompt, P, pad_id)});
  r.prompt_valid = torch::cat({pad_left(a.prompt_valid, P, 0), pad_left(b.prompt_valid, P, 0)});
  r.completion = torch::cat({pad_right(a.completion, L, pad_id), pad_right(b.completion, L, pad_id)});
  r.completion_mask = torch::cat({pad_right(a.completion_mask, L, 0), pad_right(b.completion_mask, L, 0)});
  if (a.logp.defined() && b.logp.defined())
    r.logp = torch::cat({pad_right(a.logp, L, 0), pad_right(b.logp, L, 0)});
  r.lengths = a.lengths;
  r.lengths.insert(r.lengths.end(), b.lengths.begin(), b.lengths.end());
  r.truncated = a.truncated;
  r.truncated.insert(r.truncated.end(), b.truncated.begin(), b.truncated.end());
  return r;
}

Rollout select_rows(const Rollout& r, const std::vector<int64_t>& rows) {
  auto idx = torch::tensor(rows, torch::kLong).to(r.prompt.device());
  Rollout out;
  out.prompt = r.prompt.index_select(0, idx);
  out.prompt_valid = r.prompt_valid.index_select(0, idx);
  out.completion = r.completion.index_select(0, idx);
  out.completion_mask = r.completion_mask.index_select(0, idx);
  if (r.logp.defined()) out.logp = r.logp.index_select(0, idx);
  for (int64_t i : rows) {
    out.lengths.push_back(r.lengths[static_cast<size_t>(i)]);
    out.truncated.push_back(r.truncated[static_cast<size_t>(i)]);
  }
  return out;
}

}  // namespace

// One step, phase by phase; a step abandoned while the reward server does not answer leaves no trace.
std::map<std::string, double> Trainer::Impl::grpo_step() {
  const auto t_step = Clock::now();
  const json prompts_before = prompts->state();
  const torch::Tensor gen_before = gen.get_state();
  ++step;
  dist->mark_progress(step);
  const double lr = learning_rate_at(cfg.optim, step, cfg.max_steps);
  set_learning_rate(*optimizer, lr);
  model->train();

  SamplingOptions so;
  so.temperature = cfg.sampling.temperature;
  so.top_p = cfg.sampling.top_p;
  so.max_new_tokens = cfg.sampling.max_new_tokens;
  so.min_new_tokens = cfg.sampling.min_new_tokens;
  // π_old as the sampler saw it, unless the update's own first pass serves (one pass, one minibatch) or a
  // separate forward pass is asked for.
  so.record_logp = !old_is_current() && cfg.grpo.old_logp == "sampler";

  RolloutResult ro;
  try {
    ro = sample_groups(so);
  } catch (const RewardWaitAborted& e) {
    --step;
    prompts->restore(prompts_before);
    gen.set_state(gen_before);
    throw StepAbandoned(e.what());
  }
  const ScoringResult sc = score_groups(ro, so.temperature);
  const UpdateResult up = update_policy(ro, sc, so.temperature);
  std::map<std::string, double> m = reduce_metrics(ro, sc, up, lr);

  const auto t_rec = Clock::now();
  const int64_t W = dist->world();
  const int64_t record = std::min(ro.groups(), (cfg.sample_prompts + W - 1) / W);  // every rank's first groups
  record_samples(ro, sc, up.logp_before, record);
  m[metric::kTimeRecording] = seconds_since(t_rec);
  // 6. Watchdogs (rank 0) on the step's metrics: recorded after them, acted on before the next step.
  std::vector<WatchdogFiring> fired;
  if (main) {
    const auto t_watch = Clock::now();
    fired = watchdogs.observe(step, m, cfg.watchdogs);
    m[metric::kTimeWatchdogs] = seconds_since(t_watch);
  }
  m[metric::kTimeStep] = seconds_since(t_step);
  emit_metrics(step, m);
  act_on_watchdogs(fired);
  return m;
}

// The rewards of a rollout's rows; row b answers prompts[b / G] (G rows per prompt).
std::vector<RewardBreakdown> Trainer::Impl::score_rows(const std::vector<PromptItem>& items, const Rollout& r,
                                                       int64_t max_len, int64_t G) {
  std::vector<ScoreInput> batch(static_cast<size_t>(r.rows()));
  for (int64_t b = 0; b < r.rows(); ++b) {
    const PromptItem& item = items[static_cast<size_t>(b / G)];
    ScoreInput& in = batch[static_cast<size_t>(b)];
    const int64_t n = r.lengths[static_cast<size_t>(b)];
    in.completion = completion_text(*tokenizer, row_to_vector<int64_t>(r.completion, b, n)).text;
    in.prompt = item.prompt;
    in.reference = item.answer;
    in.columns = item.columns;
    in.length = n;
    in.truncated = r.truncated[static_cast<size_t>(b)];
    in.grammar_ok = prompts->grammar_ok(in.completion);
  }
  return rewards->score(cfg.rewards, batch, max_len,
                        [this](bool waiting, const std::string& reason) { return on_reward_wait(waiting, reason); });
}

// 1. Rollout: G completions for each of this rank's prompts, all rows decoded together, then scored. Every
//    rank draws all P prompts and the whole batch's sampling noise, so prompt stream and generator stay in
//    step. With dynamic sampling, groups whose rewards all agree are dropped and more prompts are drawn.
RolloutResult Trainer::Impl::sample_groups(const SamplingOptions& so) {
  const auto t0 = Clock::now();
  const auto& g = cfg.grpo;
  const int64_t G = g.group_size;
  const int W = dist->world();
  // This rank's share of each batch of P prompts: of each minibatch's groups, the rank-th of W equal parts,
  // so the ranks together train on exactly the minibatches one process would (one process: all of them).
  std::vector<int64_t> mine;
  for (int64_t k = 0; k < g.minibatches; ++k) {
    const int64_t lo = g.prompts_per_step * k / g.minibatches, n = g.prompts_per_step * (k + 1) / g.minibatches - lo;
    for (int64_t j = lo + n * dist->rank() / W; j < lo + n * (dist->rank() + 1) / W; ++j) mine.push_back(j);
  }
  const int64_t quota = static_cast<int64_t>(mine.size());

  RolloutResult out;
  for (int64_t batch = 0; batch < (g.dynamic_sampling ? g.dynamic_sampling_max_batches : 1); ++batch) {
    std::vector<PromptItem> all_prompts;
    for (int64_t p = 0; p < g.prompts_per_step; ++p) all_prompts.push_back(prompts->next());
    std::vector<PromptItem> batch_prompts;
    std::vector<std::vector<int64_t>> rows;
    BatchRows noise;
    if (W > 1) noise.batch_rows = g.prompts_per_step * G;
    for (int64_t j : mine) {
      batch_prompts.push_back(all_prompts[static_cast<size_t>(j)]);
      for (int64_t i = 0; i < G; ++i) rows.push_back(batch_prompts.back().ids), noise.rows.push_back(j * G + i);
    }
    Rollout r = generate(model, rows, so, SpecialTokens::of(*tokenizer), gen, noise);
    if (W > 1) {  // catch up with the rank whose rows ran longest
      std::vector<double> longest{static_cast<double>(r.decode_steps)};
      dist->all_reduce(longest, Distributed::Reduce::kMax);
      skip_sampling_noise(gen, static_cast<int64_t>(longest[0]) - r.decode_steps, noise.batch_rows,
                          model->spec().vocab_size);
    }
    for (int64_t n : r.lengths) out.generated += n;
    const auto t_rewards = Clock::now();
    const std::vector<RewardBreakdown> batch_scores = score_rows(batch_prompts, r, so.max_new_tokens, G);
    out.reward_seconds += seconds_since(t_rewards);
    out.sampled_groups += quota;
    // Keep the groups whose rewards differ (all of them without dynamic sampling).
    std::vector<int64_t> keep_rows;
    for (int64_t p = 0; p < quota; ++p) {
      bool spread = false;
      for (int64_t i = 1; i < G; ++i)
        spread |= batch_scores[static_cast<size_t>(p * G + i)].total != batch_scores[static_cast<size_t>(p * G)].total;
      if (batch == 0) out.zero_std_first += spread ? 0 : 1;
      if (spread || !g.dynamic_sampling) {
        if (out.groups() >= quota) break;
        out.prompts.push_back(batch_prompts[static_cast<size_t>(p)]);
        for (int64_t i = 0; i < G; ++i) {
          keep_rows.push_back(p * G + i);
          out.scores.push_back(batch_scores[static_cast<size_t>(p * G + i)]);
        }
      }
    }
    if (!keep_rows.empty()) {
      Rollout kept = static_cast<int64_t>(keep_rows.size()) == r.rows() ? r : select_rows(r, keep_rows);
      out.rollout = out.rollout.prompt.defined() ? concat(out.rollout, kept, tokenizer->pad_id()) : kept;
    }
    std::vector<double> short_of{static_cast<double>(out.groups() < quota)};
    dist->all_reduce(short_of, Distributed::Reduce::kMax);  // go on while any rank still lacks groups
    if (short_of[0] == 0) break;
  }
  out.seconds = seconds_since(t0);
  return out;
}

// 2. Advantages per group: A = (r − mean) / (std + ε), shared by every token of a completion.
// 3. Old and reference log-probs. With one pass of one minibatch π_old = π_θ: the first forward pass's
//    detached log-probs serve (ratio 1, gradients still flow), so no extra pass is spent on it. Otherwise
//    the sampler's (grpo.old_logp = "sampler": the same model's logits at sampling time; they differ from a
//    separate pass's only by rounding) or a separate no-grad pass's ("forward"). Before the first update
//    π_ref = π_old, so the reference pass is skipped too.
ScoringResult Trainer::Impl::score_groups(const RolloutResult& ro, double temperature) {
  const auto& g = cfg.grpo;
  const int64_t G = g.group_size, groups = ro.groups(), B = groups * G;
  ScoringResult sc;
  sc.rewards = torch::zeros({std::max<int64_t>(groups, 1), G}, torch::kFloat32);  // (groups, G)
  for (int64_t b = 0; b < B; ++b) sc.rewards[b / G][b % G] = ro.scores[static_cast<size_t>(b)].total;
  sc.advantages = groups > 0 ? group_advantages(sc.rewards, g.scale_rewards, g.adv_eps).view({-1})
                             : torch::zeros({0});  // (B)
  const auto t0 = Clock::now();
  sc.old_is_current = old_is_current();
  sc.ref_is_old = reference && g.beta > 0.0 && policy_is_reference;
  if (groups > 0) {
    torch::InferenceMode no_grad;
    if (!sc.old_is_current)
      sc.old_logp = ro.rollout.logp.defined() ? ro.rollout.logp
                                              : score_completions(model, ro.rollout, temperature, false).logp;
    if (reference && g.beta > 0.0 && !sc.ref_is_old)
      sc.ref_logp = score_completions(reference, ro.rollout, temperature, false).logp;
  }
  sc.seconds = seconds_since(t0);
  return sc;
}

// 4. Policy update: mu passes, each split into minibatches of whole groups. Across ranks, each minibatch's
//    loss is this rank's share of the whole minibatch's mean, and gradients are summed.
UpdateResult Trainer::Impl::update_policy(const RolloutResult& ro, const ScoringResult& sc, double temperature) {
  const auto t0 = Clock::now();
  const auto& g = cfg.grpo;
  const int64_t G = g.group_size, groups = ro.groups();
  const int W = dist->world();
  std::vector<double> all_groups{static_cast<double>(groups)};
  dist->all_reduce(all_groups, Distributed::Reduce::kSum);
  const bool any_groups = all_groups[0] > 0;

  LossOptions lo;
  lo.epsilon_low = g.epsilon_low;
  lo.epsilon_high = g.epsilon_high;
  lo.beta = reference ? g.beta : 0.0;
  lo.agg = g.loss_agg == "token_mean" ? LossAggregation::kTokenMean : LossAggregation::kSequenceMean;
  UpdateResult up;
  up.logp_before = sc.old_is_current && groups > 0 ? torch::zeros_like(ro.rollout.completion_mask) : sc.old_logp;
  const int64_t minibatches = W > 1 ? g.minibatches : std::min(g.minibatches, std::max<int64_t>(groups, 1));
  for (int64_t pass = 0; pass < g.mu && any_groups; ++pass) {
    for (int64_t mb = 0; mb < minibatches; ++mb) {
      const int64_t g0 = groups * mb / minibatches, g1 = groups * (mb + 1) / minibatches;
      if (g1 == g0 && W == 1) continue;
      const int64_t r0 = g0 * G, rn = (g1 - g0) * G;
      optimizer->zero_grad();
      std::optional<LossResult> res;
      double ntok = 0;
      if (rn > 0) {
        const Rollout sub = ro.rollout.slice(r0, rn);
        const TokenScores ts = score_completions(model, sub, temperature, /*with_entropy=*/pass == 0);
        torch::Tensor old = sc.old_is_current ? ts.logp.detach() : sc.old_logp.narrow(0, r0, rn);
        torch::Tensor ref = sc.ref_is_old ? old
                            : sc.ref_logp.defined()        ? sc.ref_logp.narrow(0, r0, rn)
                                                           : torch::Tensor();
        res = grpo_loss(ts.logp, old, ref, sc.advantages.narrow(0, r0, rn), sub.completion_mask, lo);
        ntok = sub.completion_mask.sum().item<double>();
        up.trained_tokens += static_cast<int64_t>(ntok) + sub.prompt_valid.sum().item<int64_t>();
        if (pass == 0) {
          up.entropy_sum += (ts.entropy * sub.completion_mask).sum().item<double>();
          up.entropy_tokens += ntok;
          if (sc.old_is_current) up.logp_before.narrow(0, r0, rn).copy_(ts.logp.detach());
        }
      }
      if (W > 1) {
        // This rank's loss is a mean over its own rows (or tokens); weigh it by its share of the whole.
        std::vector<double> whole{static_cast<double>(rn), ntok};
        dist->all_reduce(whole, Distributed::Reduce::kSum);
        const double share = lo.agg == LossAggregation::kTokenMean ? (whole[1] > 0 ? ntok / whole[1] : 0.0)
                                                                   : (whole[0] > 0 ? rn / whole[0] : 0.0);
        if (res) (res->loss * share).backward();
        dist->all_reduce_gradients(model->parameters());
        up.update_loss.push_back(res ? res->loss.item<double>() * share : 0.0);  // summed over ranks later
        up.update_tokens.push_back(whole[1]);
      } else {
        res->loss.backward();
      }
      const double max_norm = cfg.optim.grad_clip > 0 ? cfg.optim.grad_clip : std::numeric_limits<double>::infinity();
      const double norm = torch::nn::utils::clip_grad_norm_(model->parameters(), max_norm);
      up.grad_norm_sum += norm;
      // A non-finite loss or gradient (non-finite logits included) never reaches the weights: the optimizer
      // step is skipped, the nonfinite watchdog fires (watchdog.h). The gradient norm is the same on every
      // rank after the all-reduce; the loss is agreed on too, so every rank skips the same updates.
      std::vector<double> bad{!std::isfinite(norm) || (res && !std::isfinite(res->loss.item<double>())) ? 1.0 : 0.0};
      if (W > 1) dist->all_reduce(bad, Distributed::Reduce::kMax);
      if (bad[0] > 0) {
        optimizer->zero_grad();
        ++up.skipped_updates;
      } else {
        optimizer->step();
        policy_is_reference = false;
      }
      ++up.updates;
      if (res) {
        up.token_weight += ntok;
        up.loss_sum += res->loss.item<double>() * ntok;
        up.kl_sum += res->kl_mean * ntok;
        up.clip_low += res->clip_low * ntok;
        up.clip_high += res->clip_high * ntok;
        up.clip_region += res->clip_region * ntok;
      }
    }
  }
  up.seconds = seconds_since(t0);
  return up;
}

// 5. Metrics (names follow TRL's GRPOTrainer where one exists): sums and counts over this rank's
//    completions, summed over the ranks; extremes reduced likewise. The values every rank must agree on
//    are reduced too: a disagreement is a bug, reported rather than averaged away.
std::map<std::string, double> Trainer::Impl::reduce_metrics(const RolloutResult& ro, const ScoringResult& sc,
                                                            const UpdateResult& up, double lr) {
  const auto& g = cfg.grpo;
  const int64_t groups = ro.groups(), B = groups * g.group_size;
  const int W = dist->world();
  RankMetrics t;
  for (const char* n : {metric::kReward, metric::kRewardStd, metric::kAccuracy, metric::kFormatRate, metric::kMeanLength,
                        metric::kClippedRatio, metric::kVerifyRate, metric::kVerifyRateCorrect,
                        metric::kVerifyRateWrong})
    t.declare_mean(n);
  const std::vector<std::string> parts = RewardSet::active(cfg.rewards);
  for (const auto& k : parts) t.declare_mean("reward/" + k + "/mean");
  t.declare_extremes(metric::kReward);
  t.declare_extremes("length");
  for (int64_t b = 0; b < B; ++b) {
    const auto& s = ro.scores[static_cast<size_t>(b)];
    const double len = static_cast<double>(ro.rollout.lengths[static_cast<size_t>(b)]);
    t.add_mean(metric::kReward, s.total);
    t.add_mean(metric::kAccuracy, s.correct);
    t.add_mean(metric::kFormatRate, s.well_formed);
    t.add_mean(metric::kMeanLength, len);
    t.add_mean(metric::kClippedRatio, ro.rollout.truncated[static_cast<size_t>(b)] ? 1.0 : 0.0);
    t.add_mean(metric::kVerifyRate, s.verified);
    t.add_mean(s.correct ? metric::kVerifyRateCorrect : metric::kVerifyRateWrong, s.verified);
    for (const auto& k : parts) {  // a reward that does not apply to this row (NaN) is not averaged in
      const auto it = s.parts.find(k);
      if (it != s.parts.end() && std::isfinite(it->second)) t.add_mean("reward/" + k + "/mean", it->second);
    }
    t.add_min(metric::kReward, s.total), t.add_max(metric::kReward, s.total);
    t.add_min("length", len), t.add_max("length", len);
  }
  if (groups > 0) {
    const auto stds = sc.rewards.std(1, /*unbiased=*/true);
    for (int64_t i = 0; i < groups; ++i) t.add_mean(metric::kRewardStd, stds[i].item<double>());
  }
  t.set_mean(metric::kLoss, up.loss_sum, up.token_weight);
  t.set_mean(metric::kKl, up.kl_sum, up.token_weight);
  t.set_mean(metric::kClipLow, up.clip_low, up.token_weight);
  t.set_mean(metric::kClipHigh, up.clip_high, up.token_weight);
  t.set_mean(metric::kClipRegion, up.clip_region, up.token_weight);
  t.set_mean(metric::kEntropy, up.entropy_sum, up.entropy_tokens);
  t.add_sum("zero_std_first", static_cast<double>(ro.zero_std_first));
  t.add_sum(metric::kGroupsSampled, static_cast<double>(ro.sampled_groups));
  t.add_sum(metric::kGroupsTrained, static_cast<double>(groups));
  t.add_sum(metric::kTokensGenerated, static_cast<double>(ro.generated));
  t.add_sum("tokens/trained", static_cast<double>(up.trained_tokens));
  for (size_t u = 0; u < up.update_loss.size(); ++u) t.add_sum("update_loss/" + std::to_string(u), up.update_loss[u]);
  const std::pair<const char*, double> agreed[] = {
      {"step", static_cast<double>(step)}, {"learning rate", lr}, {"temperature", cfg.sampling.temperature},
      {"beta", g.beta}};
  for (const auto& [name, v] : agreed) t.add_min(std::string("agreed/") + name, v), t.add_max(std::string("agreed/") + name, v);
  t.add_max(metric::kTimeGeneration, ro.seconds - ro.reward_seconds);
  t.add_max(metric::kTimeRewards, ro.reward_seconds);
  t.add_max(metric::kTimeScoring, sc.seconds);
  t.add_max(metric::kTimeTraining, up.seconds);
  t.reduce(*dist);
  for (const auto& [name, v] : agreed) {
    (void)v;
    const std::string key = std::string("agreed/") + name;
    if (t.min(key) != t.max(key))
      throw DistError("ranks disagree on the " + std::string(name) + " at step " + std::to_string(step) + ": " +
                      std::to_string(t.min(key)) + " vs " + std::to_string(t.max(key)));
  }

  std::map<std::string, double> m;
  const double nan = std::nan("");
  for (const auto& [name, sum_weight] : t.means()) {
    (void)sum_weight;
    m[name] = t.mean(name);
  }
  if (W > 1) {  // the loss as one process reports it: each update's whole loss, weighted by its tokens
    double weighted = 0, tokens = 0;
    for (size_t u = 0; u < up.update_tokens.size(); ++u)
      weighted += t.sum("update_loss/" + std::to_string(u)) * up.update_tokens[u], tokens += up.update_tokens[u];
    m[metric::kLoss] = tokens > 0 ? weighted / tokens : nan;
  }
  const double generated = t.sum(metric::kTokensGenerated);
  const double slowest_gen = t.max(metric::kTimeGeneration), slowest_train = t.max(metric::kTimeTraining);
  tokens_total += static_cast<int64_t>(generated);
  m[metric::kRewardMin] = t.min(metric::kReward);
  m[metric::kRewardMax] = t.max(metric::kReward);
  m[metric::kMinLength] = t.min("length");
  m[metric::kMaxLength] = t.max("length");
  m[metric::kZeroStdFraction] = t.sum("zero_std_first") / static_cast<double>(g.prompts_per_step);
  m[metric::kGroupsTrained] = t.sum(metric::kGroupsTrained);
  m[metric::kGroupsSampled] = t.sum(metric::kGroupsSampled);
  m[ipc::metric::kSkippedUpdates] = static_cast<double>(up.skipped_updates);  // the same on every rank
  m[metric::kGradNorm] = up.updates > 0 ? up.grad_norm_sum / static_cast<double>(up.updates) : nan;  // the same on every rank
  m[metric::kLearningRate] = lr;
  m[metric::kTemperature] = cfg.sampling.temperature;
  m[metric::kBeta] = g.beta;
  m[metric::kTokensGenerated] = generated;
  m[metric::kTokensTotal] = static_cast<double>(tokens_total);
  m[metric::kTimeGeneration] = slowest_gen;
  m[metric::kTimeScoring] = t.max(metric::kTimeScoring);
  m[metric::kTimeRewards] = t.max(metric::kTimeRewards);
  m[metric::kTimeTraining] = slowest_train;
  m[metric::kTokensPerSecGeneration] = slowest_gen > 0 ? generated / slowest_gen : nan;
  m[metric::kTokensPerSecTraining] = slowest_train > 0 ? t.sum("tokens/trained") / slowest_train : nan;
  if (W > 1) m[metric::kWorldSize] = W;
  return m;
}

// Stores every completion of the first `groups` groups with per-token arrays. log π_θ and the entropy are
// taken after this step's update, so the trace inspector shows where the policy moved. In a data-parallel
// run every rank sends its first groups to rank 0, which numbers them in rank order and stores them.
void Trainer::Impl::record_samples(const RolloutResult& ro, const ScoringResult& sc, const torch::Tensor& old_logp,
                                   int64_t groups) {
  const int64_t G = cfg.grpo.group_size, rows = std::max<int64_t>(groups, 0) * G;
  torch::NoGradGuard no_grad;
  std::vector<ipc::SampleRecord> out;
  const Rollout& rollout = ro.rollout;
  const torch::Tensor& ref_logp = sc.ref_is_old ? old_logp : sc.ref_logp;
  const Rollout sub = rows > 0 ? rollout.slice(0, rows) : Rollout();
  const TokenScores now = rows > 0 ? score_completions(model, sub, cfg.sampling.temperature, /*with_entropy=*/true) : TokenScores();
  const torch::Tensor kl = rows == 0             ? torch::Tensor()
                           : ref_logp.defined() ? k3_kl(now.logp, ref_logp.narrow(0, 0, rows))
                                                : torch::zeros_like(now.logp);
  for (int64_t b = 0; b < rows; ++b) {
    const auto& s = ro.scores[static_cast<size_t>(b)];
    const PromptItem& item = ro.prompts[static_cast<size_t>(b / G)];
    const int64_t n = rollout.lengths[static_cast<size_t>(b)];
    ipc::SampleRecord r;
    r.step = step;
    r.group = b / G;
    r.index = b % G;
    r.prompt = item.prompt;
    r.answer = item.answer;
    r.columns = item.columns;
    const auto ids = row_to_vector<int64_t>(sub.completion, b, n);
    CompletionText text = completion_text(*tokenizer, ids);  // the text the rewards scored
    for (int64_t id : ids) r.tokens.push_back(static_cast<int32_t>(id));
    r.offsets = std::move(text.offsets);
    r.completion = std::move(text.text);
    r.reward = s.total;
    r.rewards = s.parts;
    r.advantage = sc.advantages[b].item<double>();
    r.length = n;
    r.correct = s.correct;
    r.verified = s.verified;
    r.truncated = rollout.truncated[static_cast<size_t>(b)];
    r.logp_old = row_to_vector<float>(old_logp, b, n);
    r.logp = row_to_vector<float>(now.logp, b, n);
    r.entropy = row_to_vector<float>(now.entropy, b, n);
    r.kl = row_to_vector<float>(kl, b, n);
    out.push_back(std::move(r));
  }
  if (dist->world() > 1) {
    const auto parts = dist->all_gather(ipc::samples_payload(opts.name, 0, step, 0, out)["samples"].dump());
    if (!main) return;
    out.clear();
    int64_t group_base = 0;
    for (const auto& part : parts) {
      int64_t part_groups = 0;
      for (const auto& j : json::parse(part)) {
        ipc::SampleRecord r = ipc::sample_from_json(j);
        r.step = step;
        part_groups = std::max(part_groups, r.group + 1);
        r.group += group_base;
        out.push_back(std::move(r));
      }
      group_base += part_groups;
    }
  }
  if (!store || out.empty()) return;
  const double t = unix_now();
  const int64_t seq = store->append_samples(step, out);
  if (endpoint) endpoint->publish(ipc::protocol::kTopicSamples, ipc::samples_payload(opts.name, seq, step, t, out));
}


}  // namespace grpo

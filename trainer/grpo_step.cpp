// One GRPO step (Trainer::Impl::grpo_step), top to bottom: rollout -> rewards -> advantages -> old and
// reference log-probs -> policy update -> metrics -> samples. Data-parallel ranks each take a share of the
// batch (docs/distributed.md); with one process every collective is a no-op.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <optional>

#include "ipc/messages.h"
#include "ipc/protocol.h"
#include "trainer/grpo_loss.h"
#include "trainer/optimizer.h"
#include "trainer/trainer_impl.h"

namespace grpo {

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
  for (int64_t i : rows) {
    out.lengths.push_back(r.lengths[static_cast<size_t>(i)]);
    out.truncated.push_back(r.truncated[static_cast<size_t>(i)]);
  }
  return out;
}

template <typename T>
std::vector<T> row_to_vector(const torch::Tensor& t, int64_t row, int64_t n) {
  auto r = t[row].narrow(0, 0, n).contiguous().cpu();
  if constexpr (std::is_same_v<T, float>) r = r.to(torch::kFloat32);
  if constexpr (std::is_same_v<T, int32_t>) r = r.to(torch::kInt32);
  return std::vector<T>(r.data_ptr<T>(), r.data_ptr<T>() + n);
}

}  // namespace

std::map<std::string, double> Trainer::Impl::grpo_step() {
  const auto t_step = Clock::now();
  const auto& g = cfg.grpo;
  const int64_t G = g.group_size;
  const int W = dist->world();
  ++step;
  dist->mark_progress(step);
  const double lr = learning_rate_at(cfg.optim, step, cfg.max_steps);
  set_learning_rate(*optimizer, lr);
  model->train();

  SamplingOptions so;
  so.temperature = cfg.sampling.temperature;
  so.top_p = cfg.sampling.top_p;
  so.max_new_tokens = cfg.sampling.max_new_tokens;

  // This rank's share of each batch of P prompts: of each minibatch's groups, the rank-th of W equal parts,
  // so the ranks together train on exactly the minibatches one process would (one process: all of them).
  std::vector<int64_t> mine;
  for (int64_t k = 0; k < g.minibatches; ++k) {
    const int64_t lo = g.prompts_per_step * k / g.minibatches, n = g.prompts_per_step * (k + 1) / g.minibatches - lo;
    for (int64_t j = lo + n * dist->rank() / W; j < lo + n * (dist->rank() + 1) / W; ++j) mine.push_back(j);
  }
  const int64_t quota = static_cast<int64_t>(mine.size());

  // 1. Rollout: G completions for each of this rank's prompts, all rows decoded together. Every rank draws
  //    all P prompts and the whole batch's sampling noise, so prompt stream and generator stay in step.
  //    With dynamic sampling, groups whose rewards all agree are dropped and more prompts are drawn.
  const auto t_gen = Clock::now();
  std::vector<Problem> problems;
  std::vector<RewardBreakdown> scores;
  Rollout rollout;
  int64_t zero_std_first = 0, generated = 0, sampled_groups = 0;
  for (int64_t batch = 0; batch < (g.dynamic_sampling ? g.dynamic_sampling_max_batches : 1); ++batch) {
    std::vector<Problem> all_problems;
    for (int64_t p = 0; p < g.prompts_per_step; ++p) all_problems.push_back(task->sample(prompt_rng));
    std::vector<Problem> batch_problems;
    std::vector<std::vector<int64_t>> rows;
    BatchRows noise;
    if (W > 1) noise.batch_rows = g.prompts_per_step * G;
    for (int64_t j : mine) {
      batch_problems.push_back(all_problems[static_cast<size_t>(j)]);
      const auto ids = tokenizer->encode(batch_problems.back().prompt);
      for (int64_t i = 0; i < G; ++i) rows.push_back(ids), noise.rows.push_back(j * G + i);
    }
    Rollout r = generate(model, rows, so, SpecialTokens::of(*tokenizer), gen, noise);
    if (W > 1) {  // catch up with the rank whose rows ran longest
      std::vector<double> longest{static_cast<double>(r.decode_steps)};
      dist->all_reduce(longest, Distributed::Reduce::kMax);
      skip_sampling_noise(gen, static_cast<int64_t>(longest[0]) - r.decode_steps, noise.batch_rows,
                          model->spec().vocab_size);
    }
    std::vector<RewardBreakdown> batch_scores;
    for (int64_t b = 0; b < r.rows(); ++b) {
      const int64_t n = r.lengths[static_cast<size_t>(b)];
      generated += n;
      const std::string text = completion_text(*tokenizer, row_to_vector<int64_t>(r.completion, b, n)).text;
      batch_scores.push_back(score_completion(cfg.rewards, text, batch_problems[static_cast<size_t>(b / G)].answer, n,
                                              r.truncated[static_cast<size_t>(b)], so.max_new_tokens,
                                              /*grammar_ok=*/task->parse(text).well_formed));
    }
    sampled_groups += quota;
    // Keep the groups whose rewards differ (all of them without dynamic sampling).
    std::vector<int64_t> keep_rows;
    for (int64_t p = 0; p < quota; ++p) {
      bool spread = false;
      for (int64_t i = 1; i < G; ++i)
        spread |= batch_scores[static_cast<size_t>(p * G + i)].total != batch_scores[static_cast<size_t>(p * G)].total;
      if (batch == 0) zero_std_first += spread ? 0 : 1;
      if (spread || !g.dynamic_sampling) {
        if (static_cast<int64_t>(problems.size()) >= quota) break;
        problems.push_back(batch_problems[static_cast<size_t>(p)]);
        for (int64_t i = 0; i < G; ++i) {
          keep_rows.push_back(p * G + i);
          scores.push_back(batch_scores[static_cast<size_t>(p * G + i)]);
        }
      }
    }
    if (!keep_rows.empty()) {
      Rollout kept = static_cast<int64_t>(keep_rows.size()) == r.rows() ? r : select_rows(r, keep_rows);
      rollout = rollout.prompt.defined() ? concat(rollout, kept, tokenizer->pad_id()) : kept;
    }
    std::vector<double> short_of{static_cast<double>(static_cast<int64_t>(problems.size()) < quota)};
    dist->all_reduce(short_of, Distributed::Reduce::kMax);  // go on while any rank still lacks groups
    if (short_of[0] == 0) break;
  }
  const double gen_seconds = seconds_since(t_gen);
  const int64_t groups = static_cast<int64_t>(problems.size());
  const int64_t B = groups * G;
  std::vector<double> all_groups{static_cast<double>(groups)};
  dist->all_reduce(all_groups, Distributed::Reduce::kSum);
  const bool any_groups = all_groups[0] > 0;

  // 2. Advantages per group: A = (r − mean) / (std + ε), shared by every token of a completion.
  torch::Tensor rewards = torch::zeros({std::max<int64_t>(groups, 1), G}, torch::kFloat32);
  for (int64_t b = 0; b < B; ++b) rewards[b / G][b % G] = scores[static_cast<size_t>(b)].total;
  torch::Tensor advantages = groups > 0 ? group_advantages(rewards, g.scale_rewards, g.adv_eps).view({-1})
                                        : torch::zeros({0});  // (B)

  // 3. Old and reference log-probs. With one pass of one minibatch π_old = π_θ: the first forward pass's
  //    detached log-probs serve (ratio 1, gradients still flow), so no extra pass is spent on it.
  const auto t_score = Clock::now();
  const bool old_is_current = g.mu == 1 && g.minibatches == 1;
  torch::Tensor old_logp, ref_logp;
  if (groups > 0) {
    torch::NoGradGuard no_grad;
    if (!old_is_current) old_logp = score_completions(model, rollout, so.temperature, false).logp;
    if (reference && g.beta > 0.0) ref_logp = score_completions(reference, rollout, so.temperature, false).logp;
  }
  const double score_seconds = seconds_since(t_score);

  // 4. Policy update: mu passes, each split into minibatches of whole groups. Across ranks, each
  //    minibatch's loss is this rank's share of the whole minibatch's mean, and gradients are summed.
  const auto t_train = Clock::now();
  LossOptions lo;
  lo.epsilon_low = g.epsilon_low;
  lo.epsilon_high = g.epsilon_high;
  lo.beta = reference ? g.beta : 0.0;
  lo.agg = g.loss_agg == "token_mean" ? LossAggregation::kTokenMean : LossAggregation::kSequenceMean;
  double loss_sum = 0, kl_sum = 0, clip_low = 0, clip_high = 0, clip_region = 0, grad_norm_sum = 0;
  double entropy_sum = 0, entropy_tokens = 0, token_weight = 0;
  int64_t updates = 0, trained_tokens = 0;
  std::vector<double> update_loss, update_tokens;  // data-parallel: each update's share of the loss, whole tokens
  torch::Tensor logp_before = old_is_current && groups > 0 ? torch::zeros_like(rollout.completion_mask) : old_logp;
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
        const Rollout sub = rollout.slice(r0, rn);
        const TokenScores ts = score_completions(model, sub, so.temperature, /*with_entropy=*/pass == 0);
        torch::Tensor old = old_is_current ? ts.logp.detach() : old_logp.narrow(0, r0, rn);
        torch::Tensor ref = ref_logp.defined() ? ref_logp.narrow(0, r0, rn) : torch::Tensor();
        res = grpo_loss(ts.logp, old, ref, advantages.narrow(0, r0, rn), sub.completion_mask, lo);
        ntok = sub.completion_mask.sum().item<double>();
        trained_tokens += static_cast<int64_t>(ntok) + sub.prompt_valid.sum().item<int64_t>();
        if (pass == 0) {
          entropy_sum += (ts.entropy * sub.completion_mask).sum().item<double>();
          entropy_tokens += ntok;
          if (old_is_current) logp_before.narrow(0, r0, rn).copy_(ts.logp.detach());
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
        update_loss.push_back(res ? res->loss.item<double>() * share : 0.0);  // summed over ranks below
        update_tokens.push_back(whole[1]);
      } else {
        res->loss.backward();
      }
      const double max_norm = cfg.optim.grad_clip > 0 ? cfg.optim.grad_clip : std::numeric_limits<double>::infinity();
      grad_norm_sum += torch::nn::utils::clip_grad_norm_(model->parameters(), max_norm);
      optimizer->step();
      ++updates;
      if (res) {
        token_weight += ntok;
        loss_sum += res->loss.item<double>() * ntok;
        kl_sum += res->kl_mean * ntok;
        clip_low += res->clip_low * ntok;
        clip_high += res->clip_high * ntok;
        clip_region += res->clip_region * ntok;
      }
    }
  }
  const double train_seconds = seconds_since(t_train);

  // 5. Metrics (names follow TRL's GRPOTrainer where one exists): sums and counts over this rank's
  //    completions, summed over the ranks; extremes reduced likewise.
  std::map<std::string, std::pair<double, double>> mean;  // name -> (sum, count)
  const std::vector<std::string> mean_names = {
      "reward", "reward_std", "accuracy", "format_rate", "completions/mean_length", "completions/clipped_ratio",
      "self_verification/rate", "self_verification/rate_correct", "self_verification/rate_wrong", "loss", "kl",
      "entropy", "clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean"};
  for (const auto& n : mean_names) mean[n] = {0.0, 0.0};
  std::vector<std::string> part_names = {"accuracy", "format"};
  if (cfg.rewards.overlong != 0.0) part_names.push_back("overlong");
  for (const auto& k : part_names) mean["reward/" + k + "/mean"] = {0.0, 0.0};
  auto add = [&](const std::string& name, double value, double weight = 1.0) {
    mean[name].first += value * weight;
    mean[name].second += weight;
  };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> lowest = {inf, inf}, highest = {-inf, -inf};  // reward, length
  for (int64_t b = 0; b < B; ++b) {
    const auto& s = scores[static_cast<size_t>(b)];
    const double len = static_cast<double>(rollout.lengths[static_cast<size_t>(b)]);
    add("reward", s.total);
    add("accuracy", s.correct);
    add("format_rate", s.well_formed);
    add("completions/mean_length", len);
    add("completions/clipped_ratio", rollout.truncated[static_cast<size_t>(b)] ? 1.0 : 0.0);
    add("self_verification/rate", s.verified);
    add(s.correct ? "self_verification/rate_correct" : "self_verification/rate_wrong", s.verified);
    for (const auto& k : part_names) add("reward/" + k + "/mean", s.parts.count(k) ? s.parts.at(k) : 0.0);
    lowest[0] = std::min(lowest[0], s.total), highest[0] = std::max(highest[0], s.total);
    lowest[1] = std::min(lowest[1], len), highest[1] = std::max(highest[1], len);
  }
  if (groups > 0) {
    const auto stds = rewards.std(1, /*unbiased=*/true);
    for (int64_t i = 0; i < groups; ++i) add("reward_std", stds[i].item<double>());
  }
  mean["loss"] = {loss_sum, token_weight};
  mean["kl"] = {kl_sum, token_weight};
  mean["clip_ratio/low_mean"] = {clip_low, token_weight};
  mean["clip_ratio/high_mean"] = {clip_high, token_weight};
  mean["clip_ratio/region_mean"] = {clip_region, token_weight};
  mean["entropy"] = {entropy_sum, entropy_tokens};
  // Counts and the slowest rank's times go in the same reductions; so do the values every rank must
  // agree on (a disagreement is a bug, reported rather than averaged away).
  std::vector<double> sums = {static_cast<double>(zero_std_first), static_cast<double>(sampled_groups),
                              static_cast<double>(generated), static_cast<double>(trained_tokens)};
  for (const auto& [name, sc] : mean) sums.push_back(sc.first), sums.push_back(sc.second);
  sums.insert(sums.end(), update_loss.begin(), update_loss.end());
  const std::vector<double> agreed = {static_cast<double>(step), lr, so.temperature, g.beta};
  std::vector<double> mins = lowest, maxs = highest;
  mins.insert(mins.end(), agreed.begin(), agreed.end());
  maxs.insert(maxs.end(), agreed.begin(), agreed.end());
  for (double t : {gen_seconds, score_seconds, train_seconds}) maxs.push_back(t);
  dist->all_reduce(sums, Distributed::Reduce::kSum);
  dist->all_reduce(mins, Distributed::Reduce::kMin);
  dist->all_reduce(maxs, Distributed::Reduce::kMax);
  static const char* kAgreed[] = {"step", "learning rate", "temperature", "beta"};
  for (size_t i = 0; i < agreed.size(); ++i)
    if (mins[2 + i] != maxs[2 + i])
      throw DistError("ranks disagree on the " + std::string(kAgreed[i]) + " at step " + std::to_string(step) + ": " +
                      std::to_string(mins[2 + i]) + " vs " + std::to_string(maxs[2 + i]));

  std::map<std::string, double> m;
  const double nan = std::nan("");
  size_t at = 4;
  for (const auto& [name, sc] : mean) {
    (void)sc;
    m[name] = sums[at + 1] > 0 ? sums[at] / sums[at + 1] : nan;
    at += 2;
  }
  if (W > 1) {  // the loss as one process reports it: each update's whole loss, weighted by its tokens
    double weighted = 0, tokens = 0;
    for (size_t u = 0; u < update_tokens.size(); ++u) weighted += sums[at + u] * update_tokens[u], tokens += update_tokens[u];
    m["loss"] = tokens > 0 ? weighted / tokens : nan;
  }
  const double all_generated = sums[2];
  const double slowest_gen = maxs[6], slowest_score = maxs[7], slowest_train = maxs[8];
  tokens_total += static_cast<int64_t>(all_generated);
  m["reward/min"] = std::isfinite(mins[0]) ? mins[0] : nan;
  m["reward/max"] = std::isfinite(maxs[0]) ? maxs[0] : nan;
  m["completions/min_length"] = std::isfinite(mins[1]) ? mins[1] : nan;
  m["completions/max_length"] = std::isfinite(maxs[1]) ? maxs[1] : nan;
  m["frac_reward_zero_std"] = sums[0] / static_cast<double>(g.prompts_per_step);
  m["groups/trained"] = all_groups[0];
  m["groups/sampled"] = sums[1];
  m["grad_norm"] = updates > 0 ? grad_norm_sum / static_cast<double>(updates) : nan;  // the same on every rank
  m["learning_rate"] = lr;
  m["sampling/temperature"] = so.temperature;
  m["grpo/beta"] = g.beta;
  m["tokens/generated"] = all_generated;
  m["tokens/total"] = static_cast<double>(tokens_total);
  m["time/generation"] = slowest_gen;
  m["time/scoring"] = slowest_score;
  m["time/training"] = slowest_train;
  m["tokens_per_sec/generation"] = slowest_gen > 0 ? all_generated / slowest_gen : nan;
  m["tokens_per_sec/training"] = slowest_train > 0 ? sums[3] / slowest_train : nan;
  if (W > 1) m["dist/world_size"] = W;

  const auto t_rec = Clock::now();
  const int64_t record = std::min(groups, (cfg.sample_prompts + W - 1) / W);  // every rank's first groups
  record_samples(problems, rollout, logp_before, ref_logp, scores, advantages, record);
  m["time/recording"] = seconds_since(t_rec);
  m["time/step"] = seconds_since(t_step);
  emit_metrics(step, m);
  return m;
}

// Stores every completion of the first `groups` groups with per-token arrays. log π_θ and the entropy are
// taken after this step's update, so the trace inspector shows where the policy moved. In a data-parallel
// run every rank sends its first groups to rank 0, which numbers them in rank order and stores them.
void Trainer::Impl::record_samples(const std::vector<Problem>& problems, const Rollout& rollout,
                                   const torch::Tensor& old_logp, const torch::Tensor& ref_logp,
                                   const std::vector<RewardBreakdown>& scores, const torch::Tensor& advantages,
                                   int64_t groups) {
  const int64_t G = cfg.grpo.group_size, rows = std::max<int64_t>(groups, 0) * G;
  torch::NoGradGuard no_grad;
  std::vector<ipc::SampleRecord> out;
  const Rollout sub = rows > 0 ? rollout.slice(0, rows) : Rollout();
  const TokenScores now = rows > 0 ? score_completions(model, sub, cfg.sampling.temperature, /*with_entropy=*/true) : TokenScores();
  const torch::Tensor kl = rows == 0             ? torch::Tensor()
                           : ref_logp.defined() ? k3_kl(now.logp, ref_logp.narrow(0, 0, rows))
                                                : torch::zeros_like(now.logp);
  for (int64_t b = 0; b < rows; ++b) {
    const auto& s = scores[static_cast<size_t>(b)];
    const int64_t n = rollout.lengths[static_cast<size_t>(b)];
    ipc::SampleRecord r;
    r.step = step;
    r.group = b / G;
    r.index = b % G;
    r.prompt = problems[static_cast<size_t>(b / G)].prompt;
    r.answer = problems[static_cast<size_t>(b / G)].answer;
    const auto ids = row_to_vector<int64_t>(sub.completion, b, n);
    CompletionText text = completion_text(*tokenizer, ids);  // the text the rewards scored
    for (int64_t id : ids) r.tokens.push_back(static_cast<int32_t>(id));
    r.offsets = std::move(text.offsets);
    r.completion = std::move(text.text);
    r.reward = s.total;
    r.rewards = s.parts;
    r.advantage = advantages[b].item<double>();
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

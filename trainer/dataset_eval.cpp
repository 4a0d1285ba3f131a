// Dataset evaluation (see dataset_eval.h).
#include "trainer/dataset_eval.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "ipc/names.h"
#include "trainer/sampler.h"

namespace grpo {

namespace metric = ipc::metric;

namespace {

double ratio(double num, double den) { return den > 0 ? num / den : std::nan(""); }

// Completions of `rows` prompts, `per_prompt` each, decoded opt.batch_rows at a time, then scored.
std::vector<RewardBreakdown> complete_and_score(Transformer& model, const Tokenizer& tok,
                                                const std::vector<PromptItem>& items, int64_t per_prompt,
                                                const SamplingOptions& so, const DataEvalOptions& opt, at::Generator& gen,
                                                RewardSet& rewards, const RewardConfig& weights,
                                                const RewardSet::WaitHandler& on_wait, std::vector<int64_t>* lengths) {
  std::vector<ScoreInput> inputs;
  const size_t total = items.size() * static_cast<size_t>(per_prompt);
  for (size_t begin = 0; begin < total; begin += static_cast<size_t>(opt.batch_rows)) {
    const size_t end = std::min(total, begin + static_cast<size_t>(opt.batch_rows));
    std::vector<std::vector<int64_t>> chunk;
    for (size_t k = begin; k < end; ++k) chunk.push_back(items[k / static_cast<size_t>(per_prompt)].ids);
    const Rollout r = generate(model, chunk, so, SpecialTokens::of(tok), gen);
    const torch::Tensor comp = r.completion.cpu();
    for (int64_t b = 0; b < r.rows(); ++b) {
      const int64_t n = r.lengths[static_cast<size_t>(b)];
      const PromptItem& item = items[(begin + static_cast<size_t>(b)) / static_cast<size_t>(per_prompt)];
      std::vector<int64_t> ids(comp[b].data_ptr<int64_t>(), comp[b].data_ptr<int64_t>() + n);
      ScoreInput in;
      in.prompt = item.prompt;
      in.completion = completion_text(tok, ids).text;
      in.reference = item.answer;
      in.columns = item.columns;
      in.length = n;
      in.truncated = r.truncated[static_cast<size_t>(b)];
      inputs.push_back(std::move(in));
      lengths->push_back(n);
    }
  }
  return rewards.score(weights, inputs, so.max_new_tokens, on_wait);
}

struct Tally {
  double prompts = 0, greedy_ok = 0, samples = 0, sampled_ok = 0, any_ok = 0, formed = 0, verified = 0, length = 0;
  std::map<std::string, std::pair<double, double>> rewards;  // name -> (sum, count)

  DataEvalScores scores() const {
    DataEvalScores s;
    s.prompts = static_cast<int64_t>(prompts);
    s.greedy_accuracy = ratio(greedy_ok, prompts);
    s.sampled_accuracy = ratio(sampled_ok, samples);
    s.pass_at_k = samples > 0 ? ratio(any_ok, prompts) : std::nan("");
    s.format_rate = ratio(formed, samples);
    s.verification_rate = ratio(verified, samples);
    s.mean_length = ratio(length, samples);
    for (const auto& [name, sc] : rewards) s.reward_means[name] = ratio(sc.first, sc.second);
    return s;
  }
};

std::string metric_safe(std::string s) {  // a data_source such as "openai/gsm8k" as one metric path part
  for (char& c : s)
    if (c == '/' || c == ' ') c = '_';
  return s.empty() ? "none" : s;
}

}  // namespace

DataEvalResult evaluate_dataset(Transformer& model, const Tokenizer& tok, const std::vector<PromptItem>& rows,
                                RewardSet& rewards, const RewardConfig& weights, const DataEvalOptions& opt,
                                const RewardSet::WaitHandler& on_wait) {
  const auto t0 = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(opt.seed);
  const std::vector<PromptItem> items(rows.begin(), rows.begin() + std::min<int64_t>(opt.prompts, static_cast<int64_t>(rows.size())));
  int64_t longest = 0;
  for (const auto& it : items) longest = std::max<int64_t>(longest, static_cast<int64_t>(it.ids.size()));
  SamplingOptions so;
  so.temperature = opt.temperature;
  so.max_new_tokens = std::min(opt.max_new_tokens, model->spec().context - longest);
  if (so.max_new_tokens < 1)
    throw ConfigError("eval: the longest prompt (" + std::to_string(longest) + " tokens) leaves no room in the model's context of " +
                      std::to_string(model->spec().context));

  DataEvalResult r;
  r.correct_reward = correct_reward_name(weights);
  r.samples = opt.samples;
  std::map<std::string, Tally> tallies;  // "" = all rows; "source:<name>" per data_source
  auto each = [&](const PromptItem& item, auto&& fn) {
    fn(tallies[""]);
    fn(tallies["source:" + item.data_source]);
  };
  std::vector<int64_t> lengths;
  SamplingOptions greedy = so;
  greedy.greedy = true;
  const auto g = complete_and_score(model, tok, items, 1, greedy, opt, gen, rewards, weights, on_wait, &lengths);
  for (size_t i = 0; i < items.size(); ++i)
    each(items[i], [&](Tally& t) {
      t.prompts += 1;
      t.greedy_ok += g[i].correct;
      if (opt.samples == 0)
        for (const auto& [name, v] : g[i].parts)
          if (std::isfinite(v)) t.rewards[name].first += v, t.rewards[name].second += 1;
    });
  if (opt.samples > 0) {
    lengths.clear();
    const auto s = complete_and_score(model, tok, items, opt.samples, so, opt, gen, rewards, weights, on_wait, &lengths);
    for (size_t i = 0; i < items.size(); ++i) {
      bool any = false;
      for (int64_t k = 0; k < opt.samples; ++k) {
        const size_t at = i * static_cast<size_t>(opt.samples) + static_cast<size_t>(k);
        any |= s[at].correct;
        each(items[i], [&](Tally& t) {
          t.samples += 1;
          t.sampled_ok += s[at].correct;
          t.formed += s[at].well_formed;
          t.verified += s[at].verified;
          t.length += static_cast<double>(lengths[at]);
          for (const auto& [name, v] : s[at].parts)
            if (std::isfinite(v)) t.rewards[name].first += v, t.rewards[name].second += 1;
        });
      }
      each(items[i], [&](Tally& t) { t.any_ok += any; });
    }
  }
  for (const auto& [key, t] : tallies) {
    if (key.empty())
      r.all = t.scores();
    else
      r.by_source[key.substr(7)] = t.scores();
  }
  if (was_training) model->train();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

namespace {

nlohmann::json scores_json(const DataEvalScores& s) {
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json rewards = nlohmann::json::object();
  for (const auto& [name, v] : s.reward_means) rewards[name] = num(v);
  return {{"prompts", s.prompts},           {"greedy_accuracy", num(s.greedy_accuracy)},
          {"sampled_accuracy", num(s.sampled_accuracy)}, {"pass_at_k", num(s.pass_at_k)},
          {"format_rate", num(s.format_rate)}, {"verification_rate", num(s.verification_rate)},
          {"mean_length", num(s.mean_length)}, {"rewards", rewards}};
}

}  // namespace

nlohmann::json DataEvalResult::to_json() const {
  nlohmann::json j = scores_json(all);
  j["correct_reward"] = correct_reward;
  j["samples_per_prompt"] = samples;
  j["seconds"] = seconds;
  nlohmann::json sources = nlohmann::json::object();
  for (const auto& [name, s] : by_source) sources[name] = scores_json(s);
  j["by_source"] = sources;
  return j;
}

std::map<std::string, double> DataEvalResult::metrics() const {
  std::map<std::string, double> m = {{metric::kEvalGreedyAccuracy, all.greedy_accuracy},
                                     {metric::kEvalSampledAccuracy, all.sampled_accuracy},
                                     {metric::kEvalPassAtK, all.pass_at_k},
                                     {metric::kEvalFormatRate, all.format_rate},
                                     {metric::kEvalSelfVerificationRate, all.verification_rate},
                                     {metric::kEvalMeanLength, all.mean_length},
                                     {metric::kTimeEval, seconds}};
  for (const auto& [name, v] : all.reward_means) m["eval/reward/" + name + "/mean"] = v;
  if (by_source.size() > 1 || (by_source.size() == 1 && !by_source.begin()->first.empty()))
    for (const auto& [source, s] : by_source) {
      m["eval/source/" + metric_safe(source) + "/greedy_accuracy"] = s.greedy_accuracy;
      m["eval/source/" + metric_safe(source) + "/sampled_accuracy"] = s.sampled_accuracy;
    }
  return m;
}

std::string DataEvalResult::table() const {
  std::ostringstream os;
  os << std::fixed << std::setprecision(3);
  auto cell = [&](double v) {
    std::ostringstream c;
    c << std::fixed << std::setprecision(3);
    if (std::isfinite(v)) c << v; else c << "-";
    return c.str();
  };
  auto row = [&](const char* name, double v) { os << "  " << std::left << std::setw(28) << name << cell(v) << "\n"; };
  os << "  prompts                     " << all.prompts << " (greedy), " << samples << " samples each at T; correct = "
     << correct_reward << "\n";
  row("greedy accuracy (pass@1)", all.greedy_accuracy);
  row("sampled accuracy (mean@k)", all.sampled_accuracy);
  row("pass@k", all.pass_at_k);
  row("format rate", all.format_rate);
  row("self-verification rate", all.verification_rate);
  row("mean length (tokens)", all.mean_length);
  for (const auto& [name, v] : all.reward_means) row(("reward " + name).c_str(), v);
  if (by_source.size() > 1 || (by_source.size() == 1 && !by_source.begin()->first.empty())) {
    os << "  by data_source               prompts  greedy  sampled\n";
    for (const auto& [source, s] : by_source)
      os << "    " << std::left << std::setw(26) << (source.empty() ? "(none)" : source) << std::right << std::setw(7)
         << s.prompts << "  " << std::setw(6) << cell(s.greedy_accuracy) << "  " << std::setw(7) << cell(s.sampled_accuracy) << "\n";
  }
  return os.str();
}

}  // namespace grpo

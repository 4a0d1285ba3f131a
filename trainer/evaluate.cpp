// Held-out evaluation (see evaluate.h).
#include "trainer/evaluate.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "trainer/rewards.h"
#include "trainer/sampler.h"

namespace grpo {

namespace {

struct Decoded {
  std::string text;  // without end-of-sequence
  int64_t length = 0;
};

// Decodes rows in batches of opt.batch_rows; each row is a token prefix (prompt, maybe with forced text).
std::vector<Decoded> decode(Transformer& model, const Tokenizer& tok, const std::vector<std::vector<int64_t>>& rows,
                            const SamplingOptions& so, int64_t batch_rows, at::Generator& gen) {
  std::vector<Decoded> out;
  for (size_t begin = 0; begin < rows.size(); begin += static_cast<size_t>(batch_rows)) {
    const size_t end = std::min(rows.size(), begin + static_cast<size_t>(batch_rows));
    std::vector<std::vector<int64_t>> chunk(rows.begin() + static_cast<long>(begin), rows.begin() + static_cast<long>(end));
    const Rollout r = generate(model, chunk, so, SpecialTokens::of(tok), gen);
    auto comp = r.completion.cpu();
    for (int64_t b = 0; b < r.rows(); ++b) {
      const int64_t n = r.lengths[static_cast<size_t>(b)];
      std::vector<int64_t> ids(comp[b].data_ptr<int64_t>(), comp[b].data_ptr<int64_t>() + n);
      out.push_back({completion_text(tok, ids).text, n});
    }
  }
  return out;
}

double ratio(double num, double den) { return den > 0 ? num / den : std::nan(""); }

}  // namespace

EvalResult evaluate(Transformer& model, const ArithmeticTask& task, const Tokenizer& tok, const EvalOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(opt.seed);

  const int64_t n = std::min<int64_t>(opt.prompts, static_cast<int64_t>(task.held_out().size()));
  const int64_t room = model->spec().context - static_cast<int64_t>(task.prompt_length());
  SamplingOptions so;
  so.max_new_tokens = std::min(room, opt.max_new_tokens > 0 ? opt.max_new_tokens : task.max_completion_length() + 4);
  so.temperature = opt.temperature;

  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i = 0; i < n; ++i) prompts.push_back(tok.encode(task.held_out()[static_cast<size_t>(i)].prompt));
  auto correct = [&](const std::string& text, int64_t i) {
    return accuracy_reward(parse_completion(text), task.held_out()[static_cast<size_t>(i)].answer) > 0.5;
  };

  EvalResult r;
  r.prompts = n;
  if (opt.greedy) {
    SamplingOptions g = so;
    g.greedy = true;
    const auto out = decode(model, tok, prompts, g, opt.batch_rows, gen);
    double ok = 0, checks = 0;
    for (int64_t i = 0; i < n; ++i) {
      ok += correct(out[static_cast<size_t>(i)].text, i);
      checks += task.parse(out[static_cast<size_t>(i)].text).checked;
    }
    r.greedy_accuracy = ratio(ok, static_cast<double>(n));
    r.greedy_check_rate = ratio(checks, static_cast<double>(n));

    r.forced_check_accuracy = std::nan("");
    if (opt.forced_check) {
      // Continue each greedy first answer with " check" and let the model finish greedily.
      std::vector<std::vector<int64_t>> forced;
      std::vector<std::string> prefixes;
      for (int64_t i = 0; i < n; ++i) {
        const std::string& text = out[static_cast<size_t>(i)].text;
        std::string guess = text.size() >= 12 ? text.substr(7, 5) : "00000";
        for (char& c : guess)
          if (c < '0' || c > '9') c = '0';
        prefixes.push_back("<think>" + guess + " check");
        auto ids = prompts[static_cast<size_t>(i)];
        const auto extra = tok.encode(prefixes.back());
        ids.insert(ids.end(), extra.begin(), extra.end());
        forced.push_back(std::move(ids));
      }
      SamplingOptions f = g;
      const int64_t forced_prompt = static_cast<int64_t>(forced.front().size());
      f.max_new_tokens = std::min<int64_t>(so.max_new_tokens, model->spec().context - forced_prompt);
      const auto done = decode(model, tok, forced, f, opt.batch_rows, gen);
      double fok = 0;
      for (int64_t i = 0; i < n; ++i) fok += correct(prefixes[static_cast<size_t>(i)] + done[static_cast<size_t>(i)].text, i);
      r.forced_check_accuracy = ratio(fok, static_cast<double>(n));
    }
  }

  if (opt.sampled && opt.samples_per_prompt > 0) {
    std::vector<std::vector<int64_t>> rows;
    std::vector<int64_t> problem;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t s = 0; s < opt.samples_per_prompt; ++s) {
        rows.push_back(prompts[static_cast<size_t>(i)]);
        problem.push_back(i);
      }
    const auto out = decode(model, tok, rows, so, opt.batch_rows, gen);
    double ok = 0, first = 0, checked = 0, ok_checked = 0, ok_unchecked = 0, formed = 0, consistent = 0, len = 0;
    for (size_t k = 0; k < out.size(); ++k) {
      const int64_t i = problem[k];
      const bool c = correct(out[k].text, i);
      const TraceParse p = task.parse(out[k].text);
      ok += c;
      first += p.guess == task.held_out()[static_cast<size_t>(i)].answer;
      formed += p.well_formed;
      len += static_cast<double>(out[k].length);
      if (p.checked) {
        checked += 1;
        ok_checked += c;
        consistent += p.well_formed && ((p.label == "ok") == (p.guess == p.check_result));
      } else {
        ok_unchecked += c;
      }
    }
    const double m = static_cast<double>(out.size());
    r.samples = static_cast<int64_t>(out.size());
    r.sampled_accuracy = ratio(ok, m);
    r.first_answer_accuracy = ratio(first, m);
    r.check_rate = ratio(checked, m);
    r.p_correct_checked = ratio(ok_checked, checked);
    r.p_correct_unchecked = ratio(ok_unchecked, m - checked);
    r.format_rate = ratio(formed, m);
    r.label_consistency = ratio(consistent, checked);
    r.mean_length = ratio(len, m);
  }
  if (was_training) model->train();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

nlohmann::json EvalResult::to_json() const {
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  return {{"prompts", prompts},
          {"samples", samples},
          {"greedy_accuracy", num(greedy_accuracy)},
          {"greedy_check_rate", num(greedy_check_rate)},
          {"sampled_accuracy", num(sampled_accuracy)},
          {"first_answer_accuracy", num(first_answer_accuracy)},
          {"check_rate", num(check_rate)},
          {"p_correct_checked", num(p_correct_checked)},
          {"p_correct_unchecked", num(p_correct_unchecked)},
          {"format_rate", num(format_rate)},
          {"label_consistency", num(label_consistency)},
          {"mean_length", num(mean_length)},
          {"forced_check_accuracy", num(forced_check_accuracy)},
          {"seconds", seconds}};
}

std::string EvalResult::table() const {
  std::ostringstream os;
  os << std::fixed << std::setprecision(3);
  auto row = [&](const char* name, double v) {
    os << "  " << std::left << std::setw(28) << name;
    if (std::isfinite(v)) os << v; else os << "-";
    os << "\n";
  };
  os << "  held-out prompts            " << prompts << " (greedy), " << samples << " samples at T\n";
  row("greedy accuracy", greedy_accuracy);
  row("sampled accuracy", sampled_accuracy);
  row("first-answer accuracy", first_answer_accuracy);
  row("check rate", check_rate);
  row("P(correct | checked)", p_correct_checked);
  row("P(correct | not checked)", p_correct_unchecked);
  row("format rate", format_rate);
  row("label consistency", label_consistency);
  row("mean length (tokens)", mean_length);
  row("forced-check accuracy", forced_check_accuracy);
  return os.str();
}

}  // namespace grpo

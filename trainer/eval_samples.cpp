// The held-out traces of an evaluation (Trainer::Impl::record_eval_samples): the greedy completion of the
// first eval_store_prompts held-out prompts (data.eval's rows, or the built-in task's held-out problems),
// with its rewards and per-token arrays, stored in the run store's eval_samples at the evaluation's step.
// The prompts are the same at every evaluation and in every run of the task, so the studio can put one
// problem's answers side by side across steps and across runs (forks). Greedy decoding draws no random
// numbers: the training RNG, and so resumes and forks, are untouched.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "ipc/messages.h"
#include "ipc/protocol.h"
#include "trainer/grpo_loss.h"
#include "trainer/trainer_impl.h"

namespace grpo {

void Trainer::Impl::record_eval_samples() {
  if (!store || cfg.eval_store_prompts <= 0) return;
  std::vector<PromptItem> items;
  const auto n = static_cast<size_t>(cfg.eval_store_prompts);
  if (!eval_rows.empty()) {
    items.assign(eval_rows.begin(), eval_rows.begin() + static_cast<std::ptrdiff_t>(std::min(n, eval_rows.size())));
  } else if (cfg.data.train.empty()) {
    for (const auto& p : task->held_out()) {
      if (items.size() >= n) break;
      PromptItem item;
      item.prompt = p.prompt;
      item.ids = tokenizer->encode(p.prompt);
      item.answer = p.answer;
      items.push_back(std::move(item));
    }
  }
  if (items.empty()) return;  // a dataset run without data.eval holds nothing out

  torch::InferenceMode guard;
  model->eval();
  SamplingOptions so;
  so.greedy = true;
  so.temperature = cfg.sampling.temperature;
  so.max_new_tokens = cfg.sampling.max_new_tokens;
  for (const auto& it : items)  // evaluation completions fit the context, as the eval's own do
    so.max_new_tokens = std::min<int64_t>(so.max_new_tokens, model->spec().context - static_cast<int64_t>(it.ids.size()));
  std::vector<std::vector<int64_t>> rows;
  for (const auto& it : items) rows.push_back(it.ids);
  at::Generator unused = at::make_generator<at::CPUGeneratorImpl>(0);  // greedy draws nothing
  const Rollout r = generate(model, rows, so, SpecialTokens::of(*tokenizer), unused);
  const std::vector<RewardBreakdown> scores = score_rows(items, r, so.max_new_tokens, 1);
  const TokenScores now = score_completions(model, r, cfg.sampling.temperature, /*with_entropy=*/true);
  const torch::Tensor kl = reference ? k3_kl(now.logp, score_completions(reference, r, cfg.sampling.temperature, false).logp)
                                     : torch::zeros_like(now.logp);
  model->train();

  std::vector<ipc::SampleRecord> out;
  for (int64_t b = 0; b < r.rows(); ++b) {
    const auto& s = scores[static_cast<size_t>(b)];
    const PromptItem& item = items[static_cast<size_t>(b)];
    const int64_t len = r.lengths[static_cast<size_t>(b)];
    ipc::SampleRecord rec;
    rec.step = step;
    rec.group = b;  // the held-out prompt's index: the same problem at every evaluation
    rec.index = 0;
    rec.prompt = item.prompt;
    rec.answer = item.answer;
    rec.columns = item.columns;
    const auto ids = row_to_vector<int64_t>(r.completion, b, len);
    CompletionText text = completion_text(*tokenizer, ids);
    for (int64_t id : ids) rec.tokens.push_back(static_cast<int32_t>(id));
    rec.offsets = std::move(text.offsets);
    rec.completion = std::move(text.text);
    rec.reward = s.total;
    rec.rewards = s.parts;
    rec.length = len;
    rec.correct = s.correct;
    rec.verified = s.verified;
    rec.truncated = r.truncated[static_cast<size_t>(b)];
    rec.logp = row_to_vector<float>(now.logp, b, len);
    rec.logp_old = rec.logp;  // no update between: log π_old = log π_θ
    rec.entropy = row_to_vector<float>(now.entropy, b, len);
    rec.kl = row_to_vector<float>(kl, b, len);
    out.push_back(std::move(rec));
  }
  const double t = unix_now();
  const int64_t seq = store->append_samples(step, out, ipc::SampleSplit::kEval);
  if (endpoint)
    endpoint->publish(ipc::protocol::kTopicSamples, ipc::samples_payload(opts.name, seq, step, t, out, ipc::SampleSplit::kEval));
}

}  // namespace grpo

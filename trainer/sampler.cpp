// Batched sampling with a KV cache, and completion scoring (see sampler.h).
#include "trainer/sampler.h"

#include <torch/torch.h>

#include <limits>

namespace grpo {

namespace {

// Picks one token per row from logits (B, V). `rows` (when defined) selects these rows' noise from a
// larger batch's.
torch::Tensor pick(const torch::Tensor& logits, const SamplingOptions& opt, const SpecialTokens& special,
                   at::Generator& gen, int64_t batch_rows, const torch::Tensor& rows, bool eos_allowed) {
  auto l = logits.clone();
  const float minus_inf = -std::numeric_limits<float>::infinity();
  for (int64_t id : special.never_sampled) l.select(1, id).fill_(minus_inf);  // the built-in PAD is no token
  if (!eos_allowed)
    for (int64_t id : special.eos) l.select(1, id).fill_(minus_inf);
  const int64_t V = l.size(1);
  if (special.sampled_vocab > 0 && special.sampled_vocab < V)
    l.narrow(1, special.sampled_vocab, V - special.sampled_vocab).fill_(minus_inf);  // rows without a token
  if (opt.greedy) return l.argmax(-1);
  auto probs = torch::softmax(l / opt.temperature, -1);  // (B, V)
  if (opt.top_p < 1.0) {
    auto [sorted, order] = probs.sort(-1, /*descending=*/true);
    auto cum = sorted.cumsum(-1);
    sorted.masked_fill_((cum - sorted) > opt.top_p, 0.0);  // keep the smallest prefix reaching top_p
    probs = torch::zeros_like(probs).scatter_(-1, order, sorted);
  }
  // q ~ Exp(1) for every row of the whole batch; argmax(p / q) is a sample of p (what at::multinomial does
  // for one sample without replacement, draw for draw).
  auto q = torch::empty({batch_rows, probs.size(1)}, probs.options()).exponential_(1, gen);  // (B_all, V)
  if (rows.defined()) q = q.index_select(0, rows);                                          // (B, V)
  return (probs / q).argmax(-1);                                                             // (B)
}

}  // namespace

SpecialTokens SpecialTokens::of(const Tokenizer& t) {
  SpecialTokens s;
  s.eos = t.eos_ids();
  s.pad = t.pad_id();
  s.never_sampled = t.never_sampled();
  s.sampled_vocab = t.vocab_size();
  return s;
}

Rollout Rollout::slice(int64_t begin, int64_t count) const {
  Rollout r;
  r.prompt = prompt.narrow(0, begin, count);
  r.prompt_valid = prompt_valid.narrow(0, begin, count);
  r.completion = completion.narrow(0, begin, count);
  r.completion_mask = completion_mask.narrow(0, begin, count);
  if (logp.defined()) r.logp = logp.narrow(0, begin, count);
  r.lengths.assign(lengths.begin() + begin, lengths.begin() + begin + count);
  r.truncated.assign(truncated.begin() + begin, truncated.begin() + begin + count);
  return r;
}

Rollout generate(Transformer& model, const std::vector<std::vector<int64_t>>& prompts, const SamplingOptions& opt,
                 const SpecialTokens& special, at::Generator& gen, const BatchRows& batch) {
  torch::NoGradGuard no_grad;
  const auto device = model->tok_emb->weight.device();
  const int64_t B = static_cast<int64_t>(prompts.size());
  TORCH_CHECK(batch.batch_rows == 0 || static_cast<int64_t>(batch.rows.size()) == B,
              "generate: BatchRows names ", batch.rows.size(), " rows for ", B, " prompts");
  const int64_t batch_rows = batch.batch_rows > 0 ? batch.batch_rows : B;
  const torch::Tensor noise_rows =
      batch.batch_rows > 0 ? torch::tensor(batch.rows, torch::kLong).to(device) : torch::Tensor();
  int64_t P = 0;
  for (const auto& p : prompts) P = std::max<int64_t>(P, static_cast<int64_t>(p.size()));
  TORCH_CHECK(B > 0 && P > 0, "generate needs at least one non-empty prompt");

  // Left-pad the prompts so every row's last prompt token sits at column P − 1.
  const int64_t pad_id = special.pad;
  TORCH_CHECK(!special.eos.empty(), "generate needs at least one end-of-sequence id");
  auto prompt = torch::full({B, P}, pad_id, torch::kLong);
  auto valid = torch::zeros({B, P}, torch::kBool);
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[static_cast<size_t>(b)];
    const int64_t off = P - static_cast<int64_t>(p.size());
    if (!p.empty()) {
      prompt[b].narrow(0, off, static_cast<int64_t>(p.size()))
          .copy_(torch::tensor(p, torch::kLong));
      valid[b].narrow(0, off, static_cast<int64_t>(p.size())).fill_(true);
    }
  }
  prompt = prompt.to(device);
  valid = valid.to(device);

  const int64_t L = opt.max_new_tokens;
  auto cache = KVCache::allocate(model->spec(), B, P + L, torch::TensorOptions().device(device));
  auto hidden = model->hidden(prompt, positions_from_valid(valid), valid, &cache);  // (B, P, C)
  auto logits = model->logits(hidden.select(1, P - 1));                             // (n, V)

  // The rows still decoding: `idx` their rows of this batch, `noise` their rows of the whole batch's noise.
  // Every kCompactEvery steps the finished ones leave the batch and the cache (each row's arithmetic is its
  // own, and its noise is drawn for the whole batch as before, so the tokens do not change).
  constexpr int64_t kCompactEvery = 8;
  const auto long_opts = torch::TensorOptions().dtype(torch::kLong).device(device);
  auto idx = torch::arange(B, long_opts);         // (n)
  auto noise = noise_rows;                        // (n); undefined: the rows are the whole batch, in order
  auto next_pos = valid.sum(1).to(torch::kLong);  // (n)
  auto fin = torch::zeros({B}, torch::TensorOptions().dtype(torch::kBool).device(device));  // (n)
  auto finished = fin.clone();                                                              // (B)
  auto completion = torch::full({B, L}, pad_id, long_opts);                                 // (B, L)
  auto logp = opt.record_logp ? torch::zeros({B, L}, torch::TensorOptions().device(device)) : torch::Tensor();
  auto lengths = torch::zeros({B}, long_opts);  // (B)
  torch::Tensor ones;                           // (n, 1) bool: the decoded tokens are real
  int64_t steps = 0;
  for (int64_t t = 0; t < L; ++t) {
    const int64_t n = idx.size(0);
    auto tok = pick(logits, opt, special, gen, batch_rows, noise, t >= opt.min_new_tokens);  // (n)
    ++steps;
    tok = torch::where(fin, torch::full_like(tok, pad_id), tok);
    completion.select(1, t).index_copy_(0, idx, tok);
    if (logp.defined()) {
      auto lp =
          torch::log_softmax(logits / opt.temperature, -1).gather(1, tok.view({n, 1})).squeeze(1);  // (n)
      logp.select(1, t).index_copy_(0, idx, lp.masked_fill(fin, 0.0));
    }
    lengths.index_add_(0, idx, fin.logical_not().to(torch::kLong));
    for (int64_t e : special.eos) fin = fin | (tok == e);
    if (t + 1 == L || fin.all().item<bool>()) break;
    if ((t + 1) % kCompactEvery == 0 && fin.any().item<bool>()) {
      finished.index_fill_(0, idx.masked_select(fin), true);
      auto keep = fin.logical_not().nonzero().squeeze(1);  // (n')
      noise = (noise.defined() ? noise : idx).index_select(0, keep);
      idx = idx.index_select(0, keep);
      next_pos = next_pos.index_select(0, keep);
      tok = tok.index_select(0, keep);
      fin = fin.index_select(0, keep);
      cache.keep_rows(keep);
    }
    const int64_t m = idx.size(0);
    if (!ones.defined() || ones.size(0) != m)
      ones = torch::ones({m, 1}, torch::TensorOptions().dtype(torch::kBool).device(device));
    logits = model->forward(tok.view({m, 1}), next_pos.view({m, 1}), ones, &cache).squeeze(1);  // (n, V)
    next_pos += 1;
  }
  finished.index_copy_(0, idx, fin);

  Rollout r;
  r.decode_steps = opt.greedy ? 0 : steps;
  r.prompt = prompt;
  r.prompt_valid = valid;
  r.completion = completion.narrow(1, 0, steps).contiguous();  // (B, steps): no column is PAD in every row
  if (logp.defined()) r.logp = logp.narrow(1, 0, steps).contiguous();
  auto len_cpu = lengths.cpu();
  auto fin_cpu = finished.cpu();
  r.completion_mask = (torch::arange(steps, long_opts).view({1, steps}) < lengths.view({B, 1}))
                          .to(torch::kFloat32);  // (B, steps)
  for (int64_t b = 0; b < B; ++b) {
    r.lengths.push_back(len_cpu[b].item<int64_t>());
    r.truncated.push_back(!fin_cpu[b].item<bool>());
  }
  return r;
}

void skip_sampling_noise(at::Generator& gen, int64_t steps, int64_t batch_rows, int64_t vocab) {
  for (int64_t t = 0; t < steps; ++t) torch::empty({batch_rows, vocab}, torch::kFloat32).exponential_(1, gen);
}

TokenScores score_completions(Transformer& model, const Rollout& rollout, double temperature, bool with_entropy) {
  const int64_t P = rollout.prompt.size(1), L = rollout.completion.size(1);
  auto tokens = torch::cat({rollout.prompt, rollout.completion}, 1);  // (B, P + L)
  auto valid = torch::cat({rollout.prompt_valid, torch::ones_like(rollout.completion, torch::kBool)}, 1);
  auto hidden = model->hidden(tokens, positions_from_valid(valid), valid);  // (B, P + L, C)
  // Position P − 1 + t predicts completion token t.
  auto logits = model->logits(hidden.narrow(1, P - 1, L)) / temperature;  // (B, L, V)
  auto logp_all = torch::log_softmax(logits, -1);                          // (B, L, V)
  TokenScores s;
  s.logp = logp_all.gather(-1, rollout.completion.unsqueeze(-1)).squeeze(-1);  // (B, L)
  if (with_entropy) {
    torch::NoGradGuard no_grad;
    auto lp = logp_all.detach();
    s.entropy = -(lp.exp() * lp).sum(-1);  // (B, L)
  }
  return s;
}

}  // namespace grpo

// Base-model pretraining (see pretrain.h).
#include "trainer/pretrain.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "trainer/checkpoint.h"
#include "trainer/clock.h"
#include "trainer/optimizer.h"
#include "trainer/runtime.h"
#include "trainer/task.h"
#include "trainer/tokenizer.h"

namespace grpo {

namespace {

struct Batch {
  torch::Tensor inputs;   // (B, T − 1) tokens fed to the model
  torch::Tensor targets;  // (B, T − 1) next tokens
  torch::Tensor weights;  // (B, T − 1) loss weight per target (0 on the prompt, on PAD and on masked characters)
  torch::Tensor valid;    // (B, T − 1) non-PAD inputs
  int64_t tokens = 0;     // real tokens in the batch
};

Batch make_batch(const ArithmeticTask& task, const Tokenizer& tok, const PretrainConfig& pc, int64_t batch_size,
                 std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<std::vector<int64_t>> seqs;
  std::vector<std::vector<float>> weights;
  size_t longest = 0;
  for (int64_t b = 0; b < batch_size; ++b) {
    const Problem p = task.sample(rng);
    Trace t;
    if (u(rng) < pc.direct_fraction) {
      t = task.direct_trace(p);
    } else {
      std::string guess = p.answer;
      if (u(rng) < pc.wrong_fraction)
        do guess = task.random_answer(rng);  // uniformly random, so the guess predicts nothing about the check
        while (guess == p.answer);
      t = task.check_trace(p, guess, /*mask_branch=*/u(rng) < pc.branch_mask);
    }
    auto ids = tok.encode(p.prompt);
    std::vector<float> w(ids.size(), 0.0f);  // no loss on the prompt
    const auto comp = tok.encode(t.completion);
    ids.insert(ids.end(), comp.begin(), comp.end());
    for (uint8_t l : t.loss) w.push_back(static_cast<float>(l));
    longest = std::max(longest, ids.size());
    seqs.push_back(std::move(ids));
    weights.push_back(std::move(w));
  }
  const auto B = static_cast<int64_t>(seqs.size()), T = static_cast<int64_t>(longest);
  auto tokens = torch::full({B, T}, tok.pad_id(), torch::kLong);
  auto w = torch::zeros({B, T}, torch::kFloat32);
  Batch out;
  for (int64_t b = 0; b < B; ++b) {
    const auto& s = seqs[static_cast<size_t>(b)];
    const auto n = static_cast<int64_t>(s.size());
    tokens[b].narrow(0, 0, n).copy_(torch::tensor(s, torch::kLong));
    w[b].narrow(0, 0, n).copy_(torch::tensor(weights[static_cast<size_t>(b)], torch::kFloat32));
    out.tokens += n;
  }
  out.inputs = tokens.narrow(1, 0, T - 1);
  out.targets = tokens.narrow(1, 1, T - 1);
  out.weights = w.narrow(1, 1, T - 1);  // the weight of predicting character j + 1
  out.valid = out.inputs != tok.pad_id();
  return out;
}

}  // namespace

PretrainResult pretrain(const Config& cfg, const std::string& out_path, bool progress) {
  validate_config(cfg);
  configure_runtime(cfg.threads);
  const auto& pc = cfg.pretrain;
  const CharTokenizer tok(builtin_alphabet());
  const ArithmeticTask task(cfg.task);

  torch::manual_seed(static_cast<uint64_t>(cfg.seed));
  ModelSpec spec = cfg.model.spec;
  spec.vocab_size = tok.vocab_size();
  apply_family_rules(spec);
  Transformer model(spec);
  auto optimizer = make_optimizer(model, cfg.optim);
  std::mt19937_64 rng(static_cast<uint64_t>(cfg.seed) * 7919 + 17);

  EvalOptions eo;
  eo.prompts = pc.eval_prompts;
  eo.samples_per_prompt = pc.eval_samples;
  eo.forced_check = true;
  eo.seed = static_cast<uint64_t>(cfg.seed) + 99;

  if (progress)
    std::printf("pretraining a %.3fM-parameter base model on the '%s' task, seed %lld, up to %lld steps of %lld traces\n",
                static_cast<double>(model->num_parameters()) / 1e6, cfg.task.kind.c_str(),
                static_cast<long long>(cfg.seed), static_cast<long long>(cfg.max_steps),
                static_cast<long long>(pc.batch_size));

  PretrainResult res;
  res.history = nlohmann::json::array();
  const auto t0 = std::chrono::steady_clock::now();
  double train_seconds = 0, loss_sum = 0;
  int64_t tokens = 0, loss_steps = 0;
  model->train();
  for (int64_t step = 1; step <= cfg.max_steps; ++step) {
    const auto ts = std::chrono::steady_clock::now();
    set_learning_rate(*optimizer, learning_rate_at(cfg.optim, step, cfg.max_steps));
    const Batch batch = make_batch(task, tok, pc, pc.batch_size, rng);
    auto logits = model->forward(batch.inputs, positions_from_valid(batch.valid), batch.valid);  // (B, T − 1, V)
    auto logp = torch::log_softmax(logits, -1).gather(-1, batch.targets.unsqueeze(-1)).squeeze(-1);  // (B, T − 1)
    auto loss = -(logp * batch.weights).sum() / batch.weights.sum().clamp_min(1.0);
    optimizer->zero_grad();
    loss.backward();
    if (cfg.optim.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), cfg.optim.grad_clip);
    optimizer->step();
    loss_sum += loss.item<double>();
    ++loss_steps;
    tokens += batch.tokens;
    train_seconds += seconds_since(ts);
    res.steps = step;

    if (step % pc.eval_every != 0 && step != cfg.max_steps) continue;
    res.eval = evaluate(model, task, tok, eo);
    const auto& e = res.eval;
    const double elapsed = seconds_since(t0);
    res.history.push_back({{"step", step}, {"seconds", elapsed}, {"loss", loss_sum / static_cast<double>(loss_steps)},
                           {"eval", e.to_json()}});
    if (progress)
      std::printf("step %5lld | loss %.4f | %5.1fk tok/s | greedy %.3f | check rate %.3f | P(ok|check) %.3f | "
                  "P(ok|no check) %.3f | forced check %.3f | %.0f s\n",
                  static_cast<long long>(step), loss_sum / static_cast<double>(loss_steps),
                  static_cast<double>(tokens) / train_seconds / 1000.0, e.greedy_accuracy, e.check_rate,
                  e.p_correct_checked, e.p_correct_unchecked, e.forced_check_accuracy, elapsed);
    std::fflush(stdout);
    loss_sum = 0;
    loss_steps = 0;
    if (pc.stop_in_window && e.p_correct_checked >= pc.stop_check_accuracy &&
        e.forced_check_accuracy >= pc.stop_forced_check && e.greedy_accuracy >= pc.stop_greedy_min &&
        e.greedy_accuracy <= pc.stop_greedy_max) {
      res.in_window = true;
      break;
    }
    if (pc.stop_in_window && e.greedy_accuracy > pc.stop_greedy_max)
      throw std::runtime_error("pretraining passed the window: greedy accuracy " + std::to_string(e.greedy_accuracy) +
                               " > pretrain.stop_greedy_max before the check was reliable (P(correct | checked) " +
                               std::to_string(e.p_correct_checked) + "); try a smaller pretrain.eval_every or another seed");
  }
  res.seconds = seconds_since(t0);

  CheckpointHeader h;
  h.kind = "model";
  h.step = res.steps;
  h.model = spec;
  h.tokenizer = tok.describe();
  h.config = config_to_json(cfg);
  h.info = {{"pretrain",
             {{"steps", res.steps}, {"seconds", res.seconds}, {"seed", cfg.seed}, {"in_window", res.in_window},
              {"tokens_per_sec", static_cast<double>(tokens) / train_seconds}, {"eval", res.eval.to_json()},
              {"history", res.history}}}};
  write_checkpoint(out_path, h, model, nullptr, nullptr);
  return res;
}

}  // namespace grpo

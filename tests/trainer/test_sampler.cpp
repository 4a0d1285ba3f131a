// Rollouts: rows stop at end-of-sequence, masks and lengths agree, PAD is never generated, a fixed
// generator reproduces a batch, a batch split in parts (as across ranks) samples the same rows, sampling
// draws exactly what at::multinomial draws, and a vanishing top-p equals greedy decoding. Rows that
// finished leave the batch without changing the others, completions are as wide as the longest row,
// min_new_tokens holds end-of-sequence back, and the log-probs the sampler records are a forward pass's.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <QtTest>
#include <algorithm>

#include "trainer/sampler.h"

using namespace grpo;

namespace {

// The built-in tokenizer's ids: "\n" (1) ends a row, PAD (0) is never sampled.
const SpecialTokens kSpecial{{1}, 0, {0}, 0};
Transformer tiny_model() {
  torch::manual_seed(5);
  ModelSpec mo;
  mo.vocab_size = 8;
  mo.d_model = 16;
  mo.n_layers = 1;
  mo.n_heads = 2;
  mo.n_kv_heads = 2;
  mo.mlp_hidden = 16;
  mo.context = 64;
  return Transformer(mo);
}
std::vector<std::vector<int64_t>> prompts() { return {{2, 3}, {4}, {5, 6, 7}, {2}}; }
}  // namespace

class TestSampler : public QObject {
  Q_OBJECT
 private slots:
  void lengths_masks_and_eos_agree() {
    auto model = tiny_model();
    auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
    SamplingOptions so;
    so.max_new_tokens = 30;
    so.temperature = 2.0;  // flat enough that end-of-sequence (id 1 of 8) shows up
    auto r = generate(model, prompts(), so, kSpecial, gen);
    QCOMPARE(r.rows(), int64_t{4});
    for (int64_t b = 0; b < 4; ++b) {
      const int64_t n = r.lengths[static_cast<size_t>(b)];
      QCOMPARE(r.completion_mask[b].sum().item<double>(), static_cast<double>(n));
      for (int64_t t = 0; t < n; ++t) QVERIFY(r.completion[b][t].item<int64_t>() != 0);  // no PAD inside
      for (int64_t t = n; t < r.completion.size(1); ++t) QCOMPARE(r.completion[b][t].item<int64_t>(), int64_t{0});
      if (!r.truncated[static_cast<size_t>(b)]) QCOMPARE(r.completion[b][n - 1].item<int64_t>(), int64_t{1});
      else QCOMPARE(n, so.max_new_tokens);
    }
    // left padding: row 1's single prompt token sits at the last column
    QCOMPARE(r.prompt_valid[1].sum().item<int64_t>(), int64_t{1});
    QCOMPARE(r.prompt[1][2].item<int64_t>(), int64_t{4});
  }

  // A real tokenizer's rules: two end-of-sequence ids (Qwen3's <|im_end|> and <|endoftext|>), the pad being
  // one of them (Qwen's), and an embedding larger than the tokenizer (ids 6 and 7 have no token).
  void several_eos_ids_a_pad_that_is_one_and_a_padded_vocabulary() {
    auto model = tiny_model();
    const SpecialTokens special{{2, 3}, /*pad=*/3, /*never_sampled=*/{}, /*sampled_vocab=*/6};
    SamplingOptions so;
    so.max_new_tokens = 40;
    so.temperature = 3.0;  // flat: every id would come up within a few hundred draws
    int64_t stopped_by[2] = {0, 0};
    for (uint64_t seed = 0; seed < 8; ++seed) {
      auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
      auto r = generate(model, prompts(), so, special, gen);
      for (int64_t b = 0; b < r.rows(); ++b) {
        const int64_t n = r.lengths[static_cast<size_t>(b)];
        QCOMPARE(r.completion_mask[b].sum().item<double>(), static_cast<double>(n));
        for (int64_t t = 0; t < n; ++t) {
          const int64_t id = r.completion[b][t].item<int64_t>();
          QVERIFY2(id < 6, "an id past the tokenizer's vocabulary was sampled");
          if (t + 1 < n) QVERIFY(id != 2 && id != 3);  // a row ends at its first end-of-sequence id
        }
        for (int64_t t = n; t < r.completion.size(1); ++t) QCOMPARE(r.completion[b][t].item<int64_t>(), int64_t{3});
        if (r.truncated[static_cast<size_t>(b)]) {
          QCOMPARE(n, so.max_new_tokens);
        } else {
          const int64_t last = r.completion[b][n - 1].item<int64_t>();
          QVERIFY(last == 2 || last == 3);
          ++stopped_by[last - 2];
        }
      }
    }
    QVERIFY2(stopped_by[0] > 0 && stopped_by[1] > 0, "both end-of-sequence ids should have ended rows");
  }

  void sampling_draws_what_multinomial_draws() {
    // argmax(p / q), q ~ Exp(1), consumes the generator exactly as at::multinomial's one-sample path.
    torch::manual_seed(3);
    auto probs = torch::softmax(torch::randn({6, 9}), -1);
    auto g1 = at::make_generator<at::CPUGeneratorImpl>(42);
    auto g2 = at::make_generator<at::CPUGeneratorImpl>(42);
    for (int i = 0; i < 5; ++i) {
      auto a = at::multinomial(probs, /*num_samples=*/1, /*replacement=*/false, g1).squeeze(1);
      auto q = torch::empty({6, 9}).exponential_(1, g2);
      QVERIFY(torch::equal(a, (probs / q).argmax(-1)));
    }
  }

  void split_batch_samples_the_same_rows() {
    // The whole batch at once, or its rows {0, 2} and {1, 3} apart (two ranks), each drawing the whole
    // batch's noise: the same completions, and after skipping to the longest part, the same generator.
    auto model = tiny_model();
    SamplingOptions so;
    so.max_new_tokens = 20;
    so.temperature = 2.0;
    auto g_all = at::make_generator<at::CPUGeneratorImpl>(11);
    const auto all = generate(model, prompts(), so, kSpecial, g_all);
    const auto p = prompts();
    std::vector<Rollout> parts;
    std::vector<at::Generator> gens;
    for (std::vector<int64_t> rows : {std::vector<int64_t>{0, 2}, std::vector<int64_t>{1, 3}}) {
      gens.push_back(at::make_generator<at::CPUGeneratorImpl>(11));
      parts.push_back(generate(model, {p[rows[0]], p[rows[1]]}, so, kSpecial, gens.back(), BatchRows{4, rows}));
    }
    QCOMPARE(std::max(parts[0].decode_steps, parts[1].decode_steps), all.decode_steps);
    for (int part = 0; part < 2; ++part)
      for (int i = 0; i < 2; ++i) {
        const int64_t row = part + 2 * i;
        const int64_t n = all.lengths[static_cast<size_t>(row)];
        QCOMPARE(parts[part].lengths[static_cast<size_t>(i)], n);
        QVERIFY(torch::equal(parts[part].completion[i].narrow(0, 0, n), all.completion[row].narrow(0, 0, n)));
      }
    for (int part = 0; part < 2; ++part) {
      skip_sampling_noise(gens[part], all.decode_steps - parts[part].decode_steps, 4, 8);
      QVERIFY(torch::equal(gens[part].get_state(), g_all.get_state()));
    }
  }

  // Finished rows leave the batch (and the cache) every 8 steps: each row decoded alone, with its own row
  // of the whole batch's noise, gets the tokens it got in the batch.
  void finished_rows_leave_the_batch_without_changing_the_others() {
    auto model = tiny_model();
    SamplingOptions so;
    so.max_new_tokens = 40;
    so.temperature = 2.0;
    const auto p = prompts();
    bool compacted = false;
    for (uint64_t seed = 0; seed < 6; ++seed) {
      auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
      const auto all = generate(model, p, so, kSpecial, g);
      const int64_t longest = *std::max_element(all.lengths.begin(), all.lengths.end());
      const int64_t shortest = *std::min_element(all.lengths.begin(), all.lengths.end());
      QCOMPARE(all.completion.size(1), longest);  // no column of PAD only
      QCOMPARE(all.decode_steps, longest);
      compacted |= shortest < 8 && longest > 9;  // a row left at step 8 while another went on
      for (int64_t b = 0; b < 4; ++b) {
        auto gb = at::make_generator<at::CPUGeneratorImpl>(seed);
        const auto alone = generate(model, {p[static_cast<size_t>(b)]}, so, kSpecial, gb, BatchRows{4, {b}});
        const int64_t n = all.lengths[static_cast<size_t>(b)];
        QCOMPARE(alone.lengths[0], n);
        QVERIFY2(torch::equal(alone.completion[0].narrow(0, 0, n), all.completion[b].narrow(0, 0, n)),
                 qPrintable(QString("seed %1 row %2").arg(seed).arg(b)));
      }
    }
    QVERIFY2(compacted, "no seed had a row finish before step 8 while another went on past it");
  }

  void min_new_tokens_holds_end_of_sequence_back() {
    auto model = tiny_model();
    SamplingOptions so;
    so.max_new_tokens = 24;
    so.min_new_tokens = 10;
    so.temperature = 3.0;  // flat: without the rule most rows would end within 10 tokens
    int64_t ended_after_min = 0;
    for (uint64_t seed = 0; seed < 4; ++seed) {
      auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
      const auto r = generate(model, prompts(), so, kSpecial, g);
      for (int64_t b = 0; b < r.rows(); ++b) {
        const int64_t n = r.lengths[static_cast<size_t>(b)];
        QVERIFY2(n >= 10, qPrintable(QString("row of %1 tokens").arg(n)));
        for (int64_t t = 0; t < 9; ++t) QVERIFY(r.completion[b][t].item<int64_t>() != 1);
        ended_after_min += r.truncated[static_cast<size_t>(b)] ? 0 : 1;
      }
    }
    QVERIFY2(ended_after_min > 0, "end-of-sequence must still end rows after min_new_tokens");
    so.min_new_tokens = so.max_new_tokens;  // fixed lengths
    auto g = at::make_generator<at::CPUGeneratorImpl>(0);
    const auto fixed = generate(model, prompts(), so, kSpecial, g);
    for (int64_t b = 0; b < fixed.rows(); ++b) {
      QCOMPARE(fixed.lengths[static_cast<size_t>(b)], so.max_new_tokens);
      QVERIFY(fixed.truncated[static_cast<size_t>(b)]);
    }
    QCOMPARE((fixed.completion == 1).sum().item<int64_t>(), int64_t{0});
  }

  // π_old recorded while sampling: the log-probs (at the temperature, over the whole vocabulary) that a
  // separate forward pass over prompt and completion gives, up to rounding; 0 after each row's end.
  void recorded_log_probs_are_a_forward_pass() {
    auto model = tiny_model();
    SamplingOptions so;
    so.max_new_tokens = 30;
    so.temperature = 1.7;
    so.record_logp = true;
    auto g = at::make_generator<at::CPUGeneratorImpl>(2);
    const auto r = generate(model, prompts(), so, kSpecial, g);
    QCOMPARE(r.logp.sizes(), r.completion.sizes());
    torch::NoGradGuard no_grad;
    const auto s = score_completions(model, r, so.temperature, false);
    const double worst = ((r.logp - s.logp) * r.completion_mask).abs().max().item<double>();
    QVERIFY2(worst < 1e-5, qPrintable(QString("largest difference %1").arg(worst)));
    QCOMPARE((r.logp * (1 - r.completion_mask)).abs().max().item<double>(), 0.0);
    QVERIFY(r.logp.min().item<double>() < -0.1);  // real log-probs, not zeros
    so.record_logp = false;
    auto g2 = at::make_generator<at::CPUGeneratorImpl>(2);
    const auto plain = generate(model, prompts(), so, kSpecial, g2);
    QVERIFY(!plain.logp.defined());
    QVERIFY(torch::equal(plain.completion, r.completion));  // recording changes nothing sampled
  }

  void same_generator_state_same_batch() {
    auto model = tiny_model();
    SamplingOptions so;
    so.max_new_tokens = 12;
    auto g1 = at::make_generator<at::CPUGeneratorImpl>(9);
    auto g2 = at::make_generator<at::CPUGeneratorImpl>(9);
    auto a = generate(model, prompts(), so, kSpecial, g1);
    auto b = generate(model, prompts(), so, kSpecial, g2);
    QVERIFY(torch::equal(a.completion, b.completion));
  }

  void tiny_top_p_is_greedy() {
    auto model = tiny_model();
    SamplingOptions greedy, nucleus;
    greedy.greedy = true;
    greedy.max_new_tokens = nucleus.max_new_tokens = 10;
    nucleus.top_p = 1e-6;
    auto g = at::make_generator<at::CPUGeneratorImpl>(3);
    auto a = generate(model, prompts(), greedy, kSpecial, g);
    auto b = generate(model, prompts(), nucleus, kSpecial, g);
    QVERIFY(torch::equal(a.completion, b.completion));
  }

  void scores_are_log_probabilities() {
    auto model = tiny_model();
    auto g = at::make_generator<at::CPUGeneratorImpl>(4);
    SamplingOptions so;
    so.max_new_tokens = 8;
    auto r = generate(model, prompts(), so, kSpecial, g);
    torch::NoGradGuard no_grad;
    auto s = score_completions(model, r, 1.0, true);
    QVERIFY((s.logp * r.completion_mask).max().item<double>() <= 0.0);
    QVERIFY((s.entropy * r.completion_mask).min().item<double>() >= 0.0);
    QVERIFY(s.entropy.max().item<double>() <= std::log(8.0) + 1e-5);
  }
};

QTEST_APPLESS_MAIN(TestSampler)
#include "test_sampler.moc"

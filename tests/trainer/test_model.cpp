// The transformer: KV-cache decoding reproduces the full forward pass (left-padded rows, grouped-query
// attention), padding does not change a row's logits, and the demo model has the researched size.
#include <QtTest>
#include <torch/torch.h>

#include "trainer/model.h"

using namespace grpo;

namespace {
ModelSpec small_gqa() {
  ModelSpec mo;
  mo.vocab_size = 20;
  mo.d_model = 32;
  mo.n_layers = 2;
  mo.n_heads = 4;
  mo.n_kv_heads = 2;  // grouped-query attention
  mo.mlp_hidden = 48;
  mo.context = 40;
  return mo;
}
}  // namespace

class TestModel : public QObject {
  Q_OBJECT
 private slots:
  void kv_cache_matches_full_forward() {
    torch::manual_seed(0);
    Transformer model(small_gqa());
    torch::NoGradGuard no_grad;
    // Three rows with prompts of 5, 3 and 1 real tokens, left-padded to 5, then 6 continuation tokens.
    const int64_t B = 3, P = 5, N = 6;
    auto prompt = torch::randint(1, 20, {B, P}, torch::kLong);
    auto pvalid = torch::ones({B, P}, torch::kBool);
    pvalid[1].narrow(0, 0, 2).fill_(false);
    pvalid[2].narrow(0, 0, 4).fill_(false);
    prompt.masked_fill_(pvalid.logical_not(), 0);
    auto cont = torch::randint(1, 20, {B, N}, torch::kLong);

    auto tokens = torch::cat({prompt, cont}, 1);
    auto valid = torch::cat({pvalid, torch::ones({B, N}, torch::kBool)}, 1);
    auto full = model->forward(tokens, positions_from_valid(valid), valid);  // (B, P + N, V)

    auto cache = KVCache::allocate(model->spec(), B, P + N, torch::TensorOptions());
    auto pre = model->forward(prompt, positions_from_valid(pvalid), pvalid, &cache);  // (B, P, V)
    double max_diff = (pre.select(1, P - 1) - full.select(1, P - 1)).abs().max().item<double>();
    auto pos = pvalid.sum(1).to(torch::kLong);
    for (int64_t t = 0; t < N; ++t) {
      auto step = model->forward(cont.narrow(1, t, 1), pos.view({B, 1}), torch::ones({B, 1}, torch::kBool), &cache);
      max_diff = std::max(max_diff, (step.select(1, 0) - full.select(1, P + t)).abs().max().item<double>());
      pos += 1;
    }
    QCOMPARE(cache.length, P + N);
    QVERIFY2(max_diff < 1e-5, qPrintable(QString("max |cached − full| = %1").arg(max_diff)));
  }

  void left_padding_does_not_change_logits() {
    torch::manual_seed(1);
    Transformer model(small_gqa());
    torch::NoGradGuard no_grad;
    auto row = torch::tensor({{4, 7, 9, 2}}, torch::kLong);
    auto alone = model->forward(row, positions_from_valid(torch::ones({1, 4}, torch::kBool)), torch::ones({1, 4}, torch::kBool));
    auto padded = torch::cat({torch::zeros({1, 3}, torch::kLong), row}, 1);
    auto pv = torch::cat({torch::zeros({1, 3}, torch::kBool), torch::ones({1, 4}, torch::kBool)}, 1);
    auto out = model->forward(padded, positions_from_valid(pv), pv).narrow(1, 3, 4);
    QVERIFY((out - alone).abs().max().item<double>() < 1e-5);
    QVERIFY(torch::isfinite(model->forward(padded, positions_from_valid(pv), pv)).all().item<bool>());
  }

  void positions_start_at_first_real_token() {
    auto valid = torch::tensor({{false, false, true, true}, {true, true, true, true}});
    auto pos = positions_from_valid(valid);
    QCOMPARE(pos[0][2].item<int64_t>(), int64_t{0});
    QCOMPARE(pos[0][3].item<int64_t>(), int64_t{1});
    QCOMPARE(pos[1][3].item<int64_t>(), int64_t{3});
  }

  void demo_model_size() {
    ModelSpec mo;  // the demo's defaults: d 64, 3 layers, 4 heads, SwiGLU 176, vocab 34
    Transformer model(mo);
    // 34·64 (tied embedding) + 3·(2·64 norms + 4·64·64 attention + 3·64·176 MLP) + 64 final norm
    QCOMPARE(model->num_parameters(), int64_t{34 * 64 + 3 * (2 * 64 + 4 * 64 * 64 + 3 * 64 * 176) + 64});
  }

  void context_overflow_is_refused() {
    Transformer model(small_gqa());
    torch::NoGradGuard no_grad;
    auto pos = torch::full({1, 1}, 40, torch::kLong);
    QVERIFY_THROWS_EXCEPTION(c10::Error, model->forward(torch::ones({1, 1}, torch::kLong), pos, torch::ones({1, 1}, torch::kBool)));
  }
};

QTEST_APPLESS_MAIN(TestModel)
#include "test_model.moc"

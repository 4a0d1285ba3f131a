// The transformer: KV-cache decoding reproduces the full forward pass (left-padded rows, grouped-query
// attention), padding does not change a row's logits, and the demo model has the researched size; the
// fused decoding attention (trainer/attention.h) against hand-worked values, against the tensor
// formula on strided cache views with masked keys, and against the model's own gradient-mode path.
#include <QtTest>
#include <torch/torch.h>

#include "trainer/attention.h"
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

// softmax(q·kᵀ · scale + bias) · v by tensor operations, grouped-query heads expanded.
// q (B, H, 1, hd); k, v (B, Hkv, S, hd); bias (B, 1, 1, S).
torch::Tensor attention_formula(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const torch::Tensor& bias, double scale) {
  const int64_t rep = q.size(1) / k.size(1);
  auto ke = k.repeat_interleave(rep, 1), ve = v.repeat_interleave(rep, 1);  // (B, H, S, hd)
  return torch::matmul(torch::softmax(torch::matmul(q, ke.transpose(-2, -1)) * scale + bias, -1), ve);
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

  void decode_attention_by_hand() {
    torch::NoGradGuard no_grad;
    // One row, one head, hd 2, three keys of which the second is masked. Scores 1·1 = 1 and 1·2 = 2 (scale
    // 1): weights e/(e + e²) and e²/(e + e²) on v0 = (1, 0) and v2 = (0, 3).
    auto q = torch::tensor({1.0f, 0.0f}).view({1, 1, 1, 2});
    auto k = torch::tensor({1.0f, 0.0f, 0.0f, 5.0f, 2.0f, 0.0f}).view({1, 1, 3, 2});
    auto v = torch::tensor({1.0f, 0.0f, 7.0f, 7.0f, 0.0f, 3.0f}).view({1, 1, 3, 2});
    const float inf = std::numeric_limits<float>::infinity();
    auto bias = torch::tensor({0.0f, -inf, 0.0f}).view({1, 1, 1, 3});
    QVERIFY(decode_attention_applies(q, k));
    auto y = decode_attention(q, k, v, bias, 1.0);
    const double w0 = std::exp(1.0) / (std::exp(1.0) + std::exp(2.0)), w2 = 1.0 - w0;
    QCOMPARE(y.sizes(), (std::vector<int64_t>{1, 1, 1, 2}));
    QVERIFY(std::abs(y[0][0][0][0].item<double>() - w0) < 1e-6);
    QVERIFY(std::abs(y[0][0][0][1].item<double>() - 3.0 * w2) < 1e-6);
  }

  void decode_attention_matches_formula_data() {
    QTest::addColumn<int>("hd");
    // The head sizes unrolled when compiling (16, 32, 64, 128: the demo's, d 128's, Llama's and Qwen's), and
    // two served by the runtime loop (8; 24, not a multiple of the vector width's pairs).
    for (int hd : {8, 16, 24, 32, 64, 128}) QTest::newRow(qPrintable(QString("hd %1").arg(hd))) << hd;
  }

  void decode_attention_matches_formula() {
    QFETCH(int, hd);
    torch::manual_seed(3);
    torch::NoGradGuard no_grad;
    // 5 rows, 6 query heads on 2 kv heads, the first 9 of a 12-position cache (narrowed views, as the model
    // passes them); row 1's first 4 keys and row 3's last 2 masked (left padding, a finished row).
    const int64_t B = 5, H = 6, Hkv = 2, cap = 12, S = 9;
    auto q = torch::randn({B, H, 1, hd});
    auto k_cache = torch::randn({B, Hkv, cap, hd}), v_cache = torch::randn({B, Hkv, cap, hd});
    auto k = k_cache.narrow(2, 0, S), v = v_cache.narrow(2, 0, S);
    auto bias = torch::zeros({B, 1, 1, S});
    const float inf = std::numeric_limits<float>::infinity();
    bias[1].narrow(-1, 0, 4).fill_(-inf);
    bias[3].narrow(-1, S - 3, 2).fill_(-inf);
    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    auto fused = decode_attention(q, k, v, bias, scale);
    auto expected = attention_formula(q, k, v, bias, scale);
    const double diff = (fused - expected).abs().max().item<double>();
    QVERIFY2(diff < 1e-6, qPrintable(QString("max |fused − formula| = %1").arg(diff)));
    // One task per (row, head): the same bits on any number of threads.
    const int threads = at::get_num_threads();
    at::set_num_threads(2);
    auto two = decode_attention(q, k, v, bias, scale);
    at::set_num_threads(threads);
    QVERIFY(torch::equal(fused, two));
    // Operands it cannot serve go to the model's tensor-op path.
    QVERIFY(!decode_attention_applies(q.to(torch::kDouble), k.to(torch::kDouble)));
    QVERIFY_THROWS_EXCEPTION(c10::Error, decode_attention(torch::randn({B, H, 2, hd}), k, v, bias, scale));
  }

  void decoding_with_gradients_matches_fused() {
    // The same cached decoding twice: without gradients (the fused kernel) and with them (the model's
    // broadcast path, as a one-token forward pass that trains would take).
    torch::manual_seed(4);
    Transformer model(small_gqa());
    const int64_t B = 2, P = 3, N = 4;
    auto prompt = torch::randint(1, 20, {B, P}, torch::kLong);
    auto pvalid = torch::ones({B, P}, torch::kBool);
    pvalid[0][0] = false;
    auto cont = torch::randint(1, 20, {B, N}, torch::kLong);
    auto decode = [&](bool grad) {
      torch::AutoGradMode mode(grad);
      auto cache = KVCache::allocate(model->spec(), B, P + N, torch::TensorOptions());
      model->forward(prompt, positions_from_valid(pvalid), pvalid, &cache);
      auto pos = pvalid.sum(1).to(torch::kLong);
      std::vector<torch::Tensor> steps;
      for (int64_t t = 0; t < N; ++t) {
        steps.push_back(
            model->forward(cont.narrow(1, t, 1), pos.view({B, 1}), torch::ones({B, 1}, torch::kBool), &cache)
                .detach());
        pos += 1;
      }
      return torch::cat(steps, 1);  // (B, N, V)
    };
    auto with_grad = decode(true), fused = decode(false);
    const double diff = (with_grad - fused).abs().max().item<double>();
    QVERIFY2(diff < 1e-5, qPrintable(QString("max |gradient path − fused| = %1").arg(diff)));
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

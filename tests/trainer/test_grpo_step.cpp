// The GRPO step's shortcuts against the long way, through whole trainer steps on a tiny seeded model:
// π_old recorded by the sampler (grpo.old_logp = "sampler") against a separate forward pass ("forward"):
// the same rollout, and the update's loss, KL, clip fractions, gradient norm and new parameters equal up to
// rounding (the sampler's logits come from the KV-cache decode, the pass's from the whole sequence). Both
// skip the reference pass before the first update (π_ref = π_old there).
// Fixed lengths: sampling.min_new_tokens = max_new_tokens makes every completion max_new_tokens long.
#include <QtTest>
#include <torch/torch.h>

#include <cmath>

#include "ipc/names.h"
#include "ipc/run_store.h"
#include "tests/trainer/tiny_run.h"
#include "trainer/checkpoint.h"
#include "trainer/trainer.h"

using namespace grpo;
namespace metric = grpo::ipc::metric;

namespace {

Config tiny_config() {
  Config c = test::tiny_run_config();
  c.sampling.max_new_tokens = 30;
  c.rewards.accuracy = c.rewards.format = 0.0;  // a random init earns neither: reward the length instead,
  c.rewards.length = 1.0;                       // so that groups disagree and advantages are not all 0
  c.rewards.length_target = 12;
  c.checkpoint_every = 0;
  c.eval_every = 0;
  c.max_steps = 2;
  return c;
}

using test::run_options;

}  // namespace

class TestGrpoStep : public QObject {
  Q_OBJECT
 private slots:
  void the_samplers_old_log_probs_train_as_a_forward_pass_does() {
    QTemporaryDir dir;
    for (const char* mode : {"sampler", "forward"}) {
      Config c = tiny_config();
      c.grpo.old_logp = mode;
      Trainer t(c, run_options(dir.path(), mode));
      t.step();
      t.save_checkpoint();
    }
    const std::string root = dir.path().toStdString();
    auto a = ipc::RunStore::open_for_reading(root + "/sampler/run.sqlite");
    auto b = ipc::RunStore::open_for_reading(root + "/forward/run.sqlite");
    const auto ma = a.metrics_at(1), mb = b.metrics_at(1);
    // The same rollout: sampling does not depend on how π_old is obtained.
    for (const char* exact : {metric::kReward, metric::kMeanLength, metric::kClippedRatio})
      QCOMPARE(ma.at(exact), mb.at(exact));
    for (const char* close : {metric::kLoss, metric::kKl, metric::kClipLow, metric::kClipHigh, metric::kGradNorm}) {
      const double x = ma.at(close), y = mb.at(close);
      QVERIFY2(std::abs(x - y) <= 1e-6 + 1e-4 * std::abs(y), qPrintable(QString("%1: %2 vs %3").arg(close).arg(x).arg(y)));
    }
    QVERIFY(ma.at(metric::kGradNorm) > 1e-3);  // a real update, not the rounding of a zero one
    QVERIFY(ma.at(metric::kKl) > 0);  // the second minibatch trained against π_ref after an update
    auto pa = read_checkpoint(*latest_checkpoint(root + "/sampler/checkpoints")).model->named_parameters();
    auto pb = read_checkpoint(*latest_checkpoint(root + "/forward/checkpoints")).model->named_parameters();
    for (const auto& p : pa) {
      const double d = (p.value() - pb[p.key()]).abs().max().item<double>();
      QVERIFY2(d < 1e-5, qPrintable(QString("%1 differs by %2").arg(p.key().c_str()).arg(d)));
    }
  }

  void min_new_tokens_fixes_the_lengths() {
    QTemporaryDir dir;
    Config c = tiny_config();
    c.sampling.min_new_tokens = c.sampling.max_new_tokens;
    c.max_steps = 2;
    Trainer(c, run_options(dir.path(), "fixed")).train();
    auto s = ipc::RunStore::open_for_reading(dir.path().toStdString() + "/fixed/run.sqlite");
    for (int64_t step = 1; step <= 2; ++step) {
      const auto m = s.metrics_at(step);
      QCOMPARE(m.at(metric::kMeanLength), 30.0);
      QCOMPARE(m.at(metric::kClippedRatio), 1.0);
    }
  }
};

QTEST_APPLESS_MAIN(TestGrpoStep)
#include "test_grpo_step.moc"

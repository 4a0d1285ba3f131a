// Exact resume: 4 steps in one go and 2 steps + resume + 2 steps give the same parameters and the same
// logged metrics (timings aside). Also: a short seeded run records every metric and its samples.
#include <QtTest>
#include <torch/torch.h>

#include "ipc/run_store.h"
#include "tests/trainer/tiny_run.h"
#include "trainer/checkpoint.h"
#include "trainer/trainer.h"

using namespace grpo;

namespace {

Config tiny_config() {
  Config c = test::tiny_run_config();
  c.optim.warmup_steps = 1;
  c.optim.schedule = "cosine";
  c.checkpoint_every = 2;
  return c;
}

bool is_timing(const std::string& name) {
  return name.rfind("time/", 0) == 0 || name.rfind("tokens_per_sec/", 0) == 0;
}

using test::run_options;

}  // namespace

class TestResume : public QObject {
  Q_OBJECT
 private slots:
  void resume_is_exact() {
    QTemporaryDir dir;
    Config four = tiny_config();
    four.max_steps = 4;
    { Trainer(four, run_options(dir.path(), "straight")).train(); }

    {  // the same 4-step run, stopped after step 2 (as `stop` or Ctrl-C does: checkpoint, exit)
      Trainer split(four, run_options(dir.path(), "split"));
      split.step();
      split.step();
      split.save_checkpoint();
    }
    {
      Trainer(load_run_config(dir.path().toStdString(), "split"),
              run_options(dir.path(), "split", /*resume=*/true))
          .train();
    }

    const std::string a_dir = dir.path().toStdString() + "/straight", b_dir = dir.path().toStdString() + "/split";
    auto a = read_checkpoint(*latest_checkpoint(a_dir + "/checkpoints"));
    auto b = read_checkpoint(*latest_checkpoint(b_dir + "/checkpoints"));
    QCOMPARE(a.header.step, int64_t{4});
    QCOMPARE(b.header.step, int64_t{4});
    auto pa = a.model->named_parameters(), pb = b.model->named_parameters();
    for (const auto& p : pa) QVERIFY2(torch::equal(p.value(), pb[p.key()]), p.key().c_str());

    auto sa = ipc::RunStore::open_for_reading(a_dir + "/run.sqlite");
    auto sb = ipc::RunStore::open_for_reading(b_dir + "/run.sqlite");
    for (int64_t step = 1; step <= 4; ++step) {
      auto ma = sa.metrics_at(step), mb = sb.metrics_at(step);
      QVERIFY(ma.size() > 30);
      QCOMPARE(ma.size(), mb.size());
      for (const auto& [name, value] : ma) {
        if (is_timing(name)) continue;
        const double other = mb.at(name);
        QVERIFY2((std::isnan(value) && std::isnan(other)) || value == other,
                 qPrintable(QString("step %1 %2: %3 vs %4").arg(step).arg(name.c_str()).arg(value).arg(other)));
      }
    }
    // the resumed store says so
    bool saw_resume = false;
    for (const auto& e : sb.events()) saw_resume |= e.kind == "resume";
    QVERIFY(saw_resume);
  }

  void records_every_metric_and_samples() {
    QTemporaryDir dir;
    Config c = tiny_config();
    c.max_steps = 1;
    Trainer(c, run_options(dir.path(), "one")).train();
    auto store = ipc::RunStore::open_for_reading(dir.path().toStdString() + "/one/run.sqlite");
    const auto m = store.metrics_at(1);
    for (const char* name :
         {"reward", "reward_std", "reward/min", "reward/max", "reward/accuracy/mean", "reward/format/mean", "accuracy",
          "format_rate", "completions/mean_length", "completions/min_length", "completions/max_length",
          "completions/clipped_ratio", "frac_reward_zero_std", "kl", "entropy", "clip_ratio/low_mean",
          "clip_ratio/high_mean", "grad_norm", "learning_rate", "tokens/generated", "time/generation",
          "time/training", "tokens_per_sec/generation", "tokens_per_sec/training", "self_verification/rate",
          "self_verification/rate_correct", "self_verification/rate_wrong"})
      QVERIFY2(m.count(name), name);
    QCOMPARE(m.at("learning_rate"), 3e-3);  // warm-up of 1 step reaches the peak at step 1
    const auto samples = store.samples_at(1);
    QCOMPARE(samples.size(), size_t{2 * 4});  // sample_prompts × G
    for (const auto& s : samples) {
      QCOMPARE(static_cast<int64_t>(s.tokens.size()), s.length);
      QCOMPARE(s.logp.size(), s.tokens.size());
      QCOMPARE(s.logp_old.size(), s.tokens.size());
      QCOMPARE(s.entropy.size(), s.tokens.size());
      QCOMPARE(s.kl.size(), s.tokens.size());
      QVERIFY(s.prompt.rfind("Q:", 0) == 0);
      QVERIFY(s.rewards.count("accuracy") && s.rewards.count("format"));
    }
  }
};

QTEST_APPLESS_MAIN(TestResume)
#include "test_resume.moc"

// Learning works end to end: from the shipped base model, a few seeded GRPO steps raise the mean reward.
// A regression that breaks learning (rewards, advantages, loss sign, optimizer) fails here. No timing.
#include <QtTest>

#include "ipc/run_store.h"
#include "trainer/trainer.h"

using namespace grpo;

class TestLearning : public QObject {
  Q_OBJECT
 private slots:
  void a_few_steps_raise_the_reward() {
    QTemporaryDir dir;
    Config c;  // the demo as shipped: builtin base model, accuracy + 0.1 · format, lr 5e-5
    c.max_steps = 12;
    c.eval_every = 0;
    c.sample_prompts = 0;
    c.checkpoint_every = 0;
    c.threads = 1;
    RunOptions o;
    o.runs_dir = dir.path().toStdString();
    o.name = "learn";
    o.progress = false;
    Trainer(c, o).train();

    auto store = ipc::RunStore::open_for_reading(dir.path().toStdString() + "/learn/run.sqlite");
    const auto reward = store.metric_series("reward");
    QCOMPARE(reward.size(), size_t{12});
    double first = 0, last = 0;
    for (int i = 0; i < 3; ++i) {
      first += reward[static_cast<size_t>(i)].value / 3;
      last += reward[reward.size() - 1 - static_cast<size_t>(i)].value / 3;
    }
    qInfo("mean reward, steps 1-3: %.3f; steps 10-12: %.3f", first, last);
    QVERIFY2(last > first + 0.1, qPrintable(QString("reward %1 -> %2").arg(first).arg(last)));
  }
};

QTEST_APPLESS_MAIN(TestLearning)
#include "test_learning.moc"

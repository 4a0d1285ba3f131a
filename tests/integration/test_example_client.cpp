// The third-party pyzmq example (docs/examples/tail_and_steer.py) against a live grpo-train process:
// it tails metrics, pauses, changes the learning rate, resumes, and the change shows in the run.
#include <QtTest>
#include <signal.h>

class TestExampleClient : public QObject {
  Q_OBJECT
 private slots:
  void pyzmq_example_steers_a_live_run() {
    QTemporaryDir dir;
    QProcess trainer;
    // Whatever happens below, the trainer does not outlive the test.
    auto cleanup = qScopeGuard([&] {
      if (trainer.state() != QProcess::NotRunning) {
        trainer.kill();
        trainer.waitForFinished(5000);
      }
    });
    trainer.setWorkingDirectory(dir.path());
    trainer.start(GRPO_TRAIN_EXE, {"run", "--name", "live", "--quiet", "--set", "max_steps=100000", "--set", "model.init=",
                                   "--set", "model.d_model=32", "--set", "model.n_layers=1", "--set", "model.mlp_hidden=32",
                                   "--set", "grpo.prompts_per_step=2", "--set", "grpo.group_size=2", "--set",
                                   "grpo.minibatches=1", "--set", "sample_prompts=1", "--set", "sampling.max_new_tokens=24",
                                   "--set", "eval_every=0", "--set", "checkpoint_every=0"});
    const QString endpoints = dir.path() + "/runs/live/endpoints.json";
    QDeadlineTimer deadline(60000);
    while (!QFile::exists(endpoints) && !deadline.hasExpired()) QTest::qWait(50);
    QVERIFY2(QFile::exists(endpoints), "the trainer never wrote endpoints.json");

    QProcess client;
    client.start(GRPO_PYTHON3, {GRPO_SOURCE_DIR "/docs/examples/tail_and_steer.py", dir.path() + "/runs/live", "--steps", "14",
                             "--pause-after", "2", "--set", "optim.lr=0.002"});
    QVERIFY(client.waitForFinished(60000));
    const QString out = QString::fromUtf8(client.readAllStandardOutput());
    const QString err = QString::fromUtf8(client.readAllStandardError());
    QVERIFY2(client.exitCode() == 0, qPrintable(out + err));
    QVERIFY2(out.contains("attached to live"), qPrintable(out));
    QVERIFY2(out.contains("paused; status: paused"), qPrintable(out));
    QVERIFY2(out.contains("set optim.lr = 0.002 from step"), qPrintable(out));
    QVERIFY2(out.contains("lr 2.00e-03"), qPrintable(out));  // a step after the change ran with it

    ::kill(static_cast<pid_t>(trainer.processId()), SIGTERM);  // stop cleanly: checkpoint, then exit
    QVERIFY(trainer.waitForFinished(30000));
    QCOMPARE(trainer.exitCode(), 0);
  }
};

QTEST_GUILESS_MAIN(TestExampleClient)
#include "test_example_client.moc"

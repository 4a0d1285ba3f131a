// grpo-train as a user meets it: bad input exits with code 2 and names what was wrong (unknown key, wrong
// type, out-of-range value, missing file, unreadable checkpoint); a run prints progress; a process killed
// while writing a checkpoint leaves the previous one loadable, and --resume carries on from it.
#include <QtTest>
#include <signal.h>

#include "tests/integration/process_run.h"
#include "trainer/checkpoint.h"

namespace {

const QStringList kTiny = {"--set", "model.init=", "--set", "model.d_model=32", "--set", "model.n_layers=1", "--set", "model.mlp_hidden=32",
                           "--set", "grpo.prompts_per_step=2", "--set", "grpo.group_size=2", "--set",
                           "grpo.minibatches=1", "--set", "sample_prompts=1", "--set", "sampling.max_new_tokens=24",
                           "--set", "threads=1"};

using grpo::testing::Result;

Result run(const QStringList& args, const QString& cwd, int timeout_ms = 120000) {
  return grpo::testing::run_program(GRPO_TRAIN_EXE, args, cwd, timeout_ms);
}

}  // namespace

class TestCli : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

  void expect_bad_input(const QStringList& args, const QStringList& needles) {
    const Result r = run(args, dir_.path());
    QVERIFY2(r.code == 2, qPrintable(QString("exit %1, stderr: %2").arg(r.code).arg(r.err)));
    for (const auto& n : needles) QVERIFY2(r.err.contains(n), qPrintable("stderr lacks '" + n + "': " + r.err));
  }

 private slots:
  void help_lists_every_command() {
    const Result r = run({"--help"}, dir_.path());
    QCOMPARE(r.code, 0);
    QVERIFY(r.out.contains("run") && r.out.contains("config"));
    const Result rr = run({"run", "--help"}, dir_.path());
    QVERIFY(rr.out.contains("--resume") && rr.out.contains("--set"));
  }

  void bad_input_exits_2_naming_the_field() {
    expect_bad_input({"run", "--set", "grpo.betta=0.1"}, {"grpo.betta", "grpo.beta"});
    expect_bad_input({"run", "--set", "max_steps=many"}, {"max_steps", "integer"});
    expect_bad_input({"run", "--set", "optim.lr=-1"}, {"optim.lr", "out of range"});
    expect_bad_input({"run", "--config", "missing.json"}, {"missing.json"});
    QFile f(dir_.path() + "/wrongtype.json");
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(R"({"grpo": {"group_size": "eight"}})");
    f.close();
    expect_bad_input({"run", "--config", "wrongtype.json"}, {"wrongtype.json", "grpo.group_size"});
    expect_bad_input({"run", "--bogus-flag"}, {"bogus-flag"});
    expect_bad_input({"run", "--resume"}, {"--name"});
    QVERIFY(!QDir(dir_.path() + "/runs").exists() || QDir(dir_.path() + "/runs").isEmpty());  // nothing was created
  }

  void unreadable_checkpoint_exits_2() {
    QFile f(dir_.path() + "/garbage.pt");
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("this is not a checkpoint");
    f.close();
    expect_bad_input({"run", "--set", "model.init=garbage.pt"}, {"garbage.pt", "checkpoint"});
  }

  void run_prints_progress_and_writes_the_run_folder() {
    const Result r = run(QStringList{"run", "--name", "short", "--set", "max_steps=2"} + kTiny, dir_.path());
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY(r.out.contains("step    1/2") && r.out.contains("step    2/2") && r.out.contains("tok/s"));
    for (const char* f : {"config.json", "run.sqlite", "trainer.log", "checkpoints/step_000002.pt"})
      QVERIFY2(QFile::exists(dir_.path() + "/runs/short/" + f), f);
    // a second run with the same name is refused, and loses nothing
    expect_bad_input(QStringList{"run", "--name", "short"} + kTiny, {"already exists", "--resume"});
    QVERIFY(QFile::exists(dir_.path() + "/runs/short/checkpoints/step_000002.pt"));
  }

  void kill_during_checkpoint_write_keeps_the_previous_one() {
    QProcess p;
    p.setWorkingDirectory(dir_.path());
    auto env = QProcessEnvironment::systemEnvironment();
    env.insert("GRPO_FAULT_STALL_CHECKPOINT", "3");  // step 3's checkpoint stalls halfway through its write
    p.setProcessEnvironment(env);
    p.start(GRPO_TRAIN_EXE, QStringList{"run", "--name", "crash", "--set", "max_steps=5", "--set", "checkpoint_every=1",
                                        "--set", "keep_checkpoints=1", "--quiet"} + kTiny);
    const QString ck = dir_.path() + "/runs/crash/checkpoints/";
    QDeadlineTimer deadline(120000);
    while (!QFile::exists(ck + "step_000003.pt.tmp") && !deadline.hasExpired()) QTest::qWait(50);
    QVERIFY2(QFile::exists(ck + "step_000003.pt.tmp"), "the stalled checkpoint write never started");
    QTest::qWait(300);
    ::kill(static_cast<pid_t>(p.processId()), SIGKILL);
    QVERIFY(p.waitForFinished(10000));

    QVERIFY(!QFile::exists(ck + "step_000001.pt"));  // pruned once step 2 was complete
    QVERIFY(QFile::exists(ck + "step_000002.pt"));   // the previous one, intact
    const auto latest = grpo::latest_checkpoint(ck.toStdString());
    QVERIFY(latest.has_value());
    QCOMPARE(QString::fromStdString(*latest), ck + "step_000002.pt");
    const auto loaded = grpo::read_checkpoint(*latest);
    QCOMPARE(loaded.header.step, int64_t{2});
    QVERIFY_THROWS_EXCEPTION(grpo::CheckpointError, grpo::read_checkpoint((ck + "step_000003.pt.tmp").toStdString()));

    const Result r = run({"run", "--name", "crash", "--resume", "--quiet"}, dir_.path());
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY(QFile::exists(ck + "step_000005.pt"));
    QVERIFY(!QFile::exists(ck + "step_000003.pt.tmp"));
  }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"

// What users and machines do to a run after hours of training, end to end with the grpo-train binary:
// SIGTERM mid-step (checkpoint, `stop` event, state `stopped`, an exact resume), a second SIGTERM during
// that checkpoint's write (the previous checkpoint stays loadable), and kill -9 (the stale store and
// endpoints.json told from a live run by `grpo-train status`, a resume refused while the trainer lives).
#include <QtTest>
#include <signal.h>

#include <filesystem>

#include "ipc/names.h"
#include "ipc/protocol.h"
#include "ipc/run_liveness.h"
#include "ipc/run_store.h"
#include "process_run.h"
#include "tiny_cli.h"
#include "trainer/checkpoint.h"

using namespace grpo;
namespace fs = std::filesystem;

namespace {

const QString kExe = GRPO_TRAIN_EXE;

bool is_timing(const std::string& name) { return name.rfind("time/", 0) == 0 || name.rfind("tokens_per_sec/", 0) == 0; }

std::vector<ipc::EventRecord> events_of(const QString& run_dir, const std::string& kind) {
  std::vector<ipc::EventRecord> out;
  for (auto& e : ipc::RunStore::open_for_reading((run_dir + "/run.sqlite").toStdString()).events())
    if (e.kind == kind) out.push_back(e);
  return out;
}

}  // namespace

class TestReliability : public QObject {
  Q_OBJECT
 private slots:
  // SIGTERM (what schedulers and the studio send) arrives mid-step: the step finishes, the run checkpoints,
  // records `stop` and state `stopped`, exits 0; resumed, it continues exactly as an uninterrupted run.
  void sigterm_checkpoints_stops_and_resumes_exactly() {
    QTemporaryDir tmp;
    const QString runs = tmp.path(), dir = runs + "/term";
    QProcess p;
    p.start(kExe, testing::tiny_args(runs, "term") << "--set" << "max_steps=100000" << "--set" << "checkpoint_every=0");
    QVERIFY(p.waitForStarted());
    QVERIFY(testing::wait_for_step(dir, 3));
    ::kill(static_cast<pid_t>(p.processId()), SIGTERM);
    QVERIFY(p.waitForFinished(60000));
    QCOMPARE(p.exitStatus(), QProcess::NormalExit);
    QCOMPARE(p.exitCode(), 0);
    const int64_t n = testing::stored_step(dir);
    QVERIFY(n >= 3);
    auto store = ipc::RunStore::open_for_reading((dir + "/run.sqlite").toStdString());
    QCOMPARE(*store.meta("state"), std::string(ipc::protocol::kStateStopped));
    const auto stops = events_of(dir, ipc::event::kStop);
    QCOMPARE(stops.size(), size_t{1});
    QCOMPARE(stops[0].step, n);
    const std::string ck = stops[0].data["checkpoint"].get<std::string>();
    QCOMPARE(ck, checkpoint_path((dir + "/checkpoints").toStdString(), n));
    QCOMPARE(read_checkpoint(ck).header.step, n);

    // Resume for two more steps; an uninterrupted run of n + 2 steps is the reference.
    const QString until = "max_steps=" + QString::number(n + 2);
    auto r = testing::run_program(kExe, {"run", "--runs-dir", runs, "--name", "term", "--resume", "--quiet", "--no-serve",
                                         "--set", until}, runs, 120000);
    QVERIFY2(r.code == 0, qPrintable(r.err));
    r = testing::run_program(kExe, testing::tiny_args(runs, "ref") << "--set" << until << "--set" << "checkpoint_every=0", runs, 300000);
    QVERIFY2(r.code == 0, qPrintable(r.err));
    auto resumed = ipc::RunStore::open_for_reading((dir + "/run.sqlite").toStdString());
    auto ref = ipc::RunStore::open_for_reading((runs + "/ref/run.sqlite").toStdString());
    for (int64_t step = n + 1; step <= n + 2; ++step) {
      const auto want = ref.metrics_at(step), got = resumed.metrics_at(step);
      QVERIFY(!want.empty());
      for (const auto& [name, v] : want)
        if (!is_timing(name))
          QVERIFY2(got.count(name) && (got.at(name) == v || (std::isnan(v) && std::isnan(got.at(name)))),
                   qPrintable(QString("step %1 %2").arg(step).arg(name.c_str())));
    }
    QCOMPARE(resumed.samples_at(n + 1)[0].completion, ref.samples_at(n + 1)[0].completion);
  }

  // A second SIGTERM while the stop's checkpoint is being written leaves at once; the half-written file is
  // never taken for a checkpoint, the previous one loads, and the run resumes from it.
  void second_sigterm_during_the_write_leaves_a_loadable_checkpoint() {
    QTemporaryDir tmp;
    const QString runs = tmp.path(), dir = runs + "/twice";
    QProcess p;
    auto env = QProcessEnvironment::systemEnvironment();
    env.insert("GRPO_FAULT_STALL_CHECKPOINT", "3");  // writes from step 3 on stall halfway
    p.setProcessEnvironment(env);
    p.start(kExe, testing::tiny_args(runs, "twice") << "--set" << "max_steps=100000" << "--set" << "checkpoint_every=2");
    QVERIFY(p.waitForStarted());
    const QString ck = dir + "/checkpoints/";
    QDeadlineTimer deadline(120000);
    while (!QFile::exists(ck + "step_000004.pt.tmp") && !deadline.hasExpired()) QTest::qWait(50);
    QVERIFY2(QFile::exists(ck + "step_000004.pt.tmp"), "the stalled write never started");
    ::kill(static_cast<pid_t>(p.processId()), SIGTERM);  // the first asks for a clean stop...
    QTest::qWait(300);
    QCOMPARE(p.state(), QProcess::Running);  // ...which waits for the write
    ::kill(static_cast<pid_t>(p.processId()), SIGTERM);  // the second leaves
    QVERIFY(p.waitForFinished(10000));
    QCOMPARE(p.exitCode(), 128 + SIGTERM);

    const auto latest = latest_checkpoint(ck.toStdString());
    QVERIFY(latest.has_value());
    QCOMPARE(QString::fromStdString(*latest), ck + "step_000002.pt");
    QCOMPARE(read_checkpoint(*latest).header.step, int64_t{2});
    const auto r = testing::run_program(kExe, {"run", "--runs-dir", runs, "--name", "twice", "--resume", "--quiet", "--no-serve",
                                               "--set", "max_steps=3"}, runs, 120000);
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QCOMPARE(testing::stored_step(dir), int64_t{3});
  }

  // kill -9 leaves the store saying `running` and endpoints.json behind. `grpo-train status` tells the
  // live run from the dead one; a resume is refused while the trainer lives, and after its death removes
  // the stale endpoints and says what happened.
  void kill_9_is_told_from_a_live_run() {
    QTemporaryDir tmp;
    const QString runs = tmp.path(), dir = runs + "/nine";
    QProcess p;
    QStringList args = testing::tiny_args(runs, "nine") << "--set" << "max_steps=100000" << "--set" << "checkpoint_every=2";
    args.removeAll("--no-serve");  // serving: endpoints.json is written
    p.start(kExe, args);
    QVERIFY(p.waitForStarted());
    QVERIFY(testing::wait_for_step(dir, 3));
    QVERIFY(QFile::exists(dir + "/endpoints.json"));

    auto r = testing::run_program(kExe, {"status", dir}, runs, 30000);
    QCOMPARE(r.code, 0);
    QVERIFY2(r.out.contains("nine: running (pid " + QString::number(p.processId())), qPrintable(r.out));
    r = testing::run_program(kExe, {"run", "--runs-dir", runs, "--name", "nine", "--resume", "--quiet"}, runs, 30000);
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("is still running (pid"), qPrintable(r.err));

    const qint64 pid = p.processId();
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    QVERIFY(p.waitForFinished(10000));
    const int64_t n = testing::stored_step(dir);
    const auto probe = ipc::probe_run(dir.toStdString());
    QCOMPARE(probe.verdict, ipc::RunLiveness::Verdict::kDead);
    QCOMPARE(probe.state, std::string(ipc::protocol::kStateRunning));  // what the store still says
    QVERIFY(probe.endpoints);                                           // and the file left behind
    r = testing::run_program(kExe, {"status", dir}, runs, 30000);
    QCOMPARE(r.code, 3);
    QVERIFY2(r.out.contains("nine: stopped unexpectedly at step " + QString::number(n) + " (pid " + QString::number(pid) +
                            " is gone)"),
             qPrintable(r.out));
    QVERIFY2(r.out.contains("--name nine --resume"), qPrintable(r.out));

    QProcess resumed;
    resumed.start(kExe, {"run", "--runs-dir", runs, "--name", "nine", "--resume", "--quiet", "--set",
                         "max_steps=" + QString::number(n + 2)});
    QVERIFY(resumed.waitForFinished(120000));
    QVERIFY2(resumed.exitCode() == 0, resumed.readAllStandardError().constData());
    QFile log(dir + "/trainer.log");
    QVERIFY(log.open(QIODevice::ReadOnly));
    QVERIFY(QString::fromUtf8(log.readAll()).contains("stopped unexpectedly at step " + QString::number(n)));
    QCOMPARE(ipc::probe_run(dir.toStdString()).verdict, ipc::RunLiveness::Verdict::kEnded);
    QVERIFY(!QFile::exists(dir + "/endpoints.json"));  // a finished run serves nothing

    r = testing::run_program(kExe, {"status", runs + "/nowhere"}, runs, 30000);
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("is not a run folder"), qPrintable(r.err));
  }
};

QTEST_GUILESS_MAIN(TestReliability)
#include "test_reliability.moc"

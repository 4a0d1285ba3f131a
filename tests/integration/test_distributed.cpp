// Data-parallel grpo-train (--nproc, Gloo ranks on CPU) against one process: 2 ranks with half the batch
// each train to the same parameters and log the same rewards as 1 rank with the whole batch; a paused
// 2-rank run stays paused on both ranks past the collective time-out and a `set` of lr lands on both at
// the same step; a killed rank ends the run with an error naming it, and the last checkpoint loads; the
// launcher names a rank that fails at start-up, leaves no rank behind when it is SIGKILLed, and refuses a
// batch it cannot split.
#include <QtTest>
#include <signal.h>

#include "ipc/client.h"
#include "ipc/run_store.h"
#include "trainer/checkpoint.h"
#include "trainer/model_source.h"
#include "trainer/trainer.h"

namespace {

// The demo's base model with small batches: rewards vary, so the gradients are real.
QStringList demo_small(int steps) {
  return {"--set", "max_steps=" + QString::number(steps), "--set", "grpo.prompts_per_step=8", "--set",
          "grpo.group_size=4", "--set", "sample_prompts=4", "--set", "eval_every=0", "--set", "threads=1"};
}

// A random tiny model, fast steps: for the control and failure tests.
QStringList tiny() {
  return {"--set", "model.init=", "--set", "model.d_model=32", "--set", "model.n_layers=1", "--set", "model.mlp_hidden=32",
          "--set", "grpo.prompts_per_step=4", "--set", "grpo.group_size=2", "--set", "sample_prompts=2", "--set",
          "sampling.max_new_tokens=24", "--set", "eval_every=0", "--set", "threads=1", "--set", "dist_timeout=3"};
}

int run_to_end(const QStringList& args, const QString& cwd, QString* err = nullptr) {
  QProcess p;
  p.setWorkingDirectory(cwd);
  p.start(GRPO_TRAIN_EXE, args);
  if (!p.waitForFinished(240000)) {
    p.kill();
    p.waitForFinished();
    return -1;
  }
  if (err) *err = QString::fromUtf8(p.readAllStandardError());
  return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
}

// The rank pids the launcher prints: "grpo-train: 2 ranks on 127.0.0.1:PORT (Gloo), pids A, B".
QList<qint64> rank_pids(QProcess& launcher, QString& seen) {
  seen += QString::fromUtf8(launcher.readAllStandardError());
  QRegularExpression re("pids ([0-9, ]+)");
  auto m = re.match(seen);
  QList<qint64> pids;
  if (m.hasMatch())
    for (const auto& s : m.captured(1).split(',')) pids << s.trimmed().toLongLong();
  return pids;
}

bool alive(qint64 pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0; }

}  // namespace

class TestDistributed : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private slots:
  void two_ranks_match_one() {
    // One process with the whole batch of 8 prompts, and 2 ranks with 4 each: same seeds, same data.
    QString err;
    QCOMPARE(run_to_end(QStringList{"run", "--runs-dir", "runs", "--name", "one", "--no-serve", "--quiet"} + demo_small(3),
                        dir_.path(), &err), 0);
    const int code = run_to_end(QStringList{"run", "--runs-dir", "runs", "--name", "two", "--no-serve", "--quiet", "--nproc", "2"} +
                                    demo_small(3), dir_.path(), &err);
    QVERIFY2(code == 0, qPrintable(err));

    const auto a = grpo::read_checkpoint((dir_.path() + "/runs/one/checkpoints/step_000003.pt").toStdString());
    const auto b = grpo::read_checkpoint((dir_.path() + "/runs/two/checkpoints/step_000003.pt").toStdString());
    const auto pa = a.model->named_parameters(), pb = b.model->named_parameters();
    QCOMPARE(pa.size(), pb.size());
    // The ranks' gradients are averaged in another order than one process sums them, so parameters differ
    // by rounding; AdamW's normalised step (±lr on every coordinate at step 1, whatever the gradient's size)
    // turns that into up to 2·lr on the rare coordinate whose gradient is within rounding of zero. So: all
    // but a handful of coordinates agree to 1e-6, and on average to 1e-8, where a rank training on its own
    // half (no all-reduce) would move most coordinates apart by ~lr (5e-5) a step.
    int64_t count = 0, apart = 0;
    double sum_diff = 0, worst = 0, moved = 0;
    const auto start = grpo::read_checkpoint(grpo::resolve_model_path("builtin:demo-base"));
    const auto p0 = start.model->named_parameters();
    for (const auto& item : pa) {
      const auto diff = (item.value() - pb[item.key()]).abs();
      count += diff.numel();
      apart += (diff > 1e-6).sum().item<int64_t>();
      sum_diff += diff.sum().item<double>();
      worst = std::max(worst, diff.max().item<double>());
      moved = std::max(moved, (item.value() - p0[item.key()]).abs().max().item<double>());
    }
    const double mean_diff = sum_diff / static_cast<double>(count);
    qInfo(
        "parameters, 2 ranks vs 1: %lld of %lld apart by > 1e-6, mean difference %.3g, largest %.3g "
        "(training "
        "moved parameters by up to %.3g)",
        static_cast<long long>(apart), static_cast<long long>(count), mean_diff, worst, moved);
    QVERIFY2(apart <= count / 10000,
             qPrintable(QString("%1 of %2 parameters differ by > 1e-6").arg(apart).arg(count)));
    QVERIFY2(mean_diff < 1e-8, qPrintable(QString("parameters differ by %1 on average").arg(mean_diff)));
    QVERIFY(moved > 1e-4);  // the comparison is not vacuous

    const auto sa = grpo::ipc::RunStore::open_for_reading((dir_.path() + "/runs/one/run.sqlite").toStdString());
    const auto sb = grpo::ipc::RunStore::open_for_reading((dir_.path() + "/runs/two/run.sqlite").toStdString());
    for (int step = 1; step <= 3; ++step) {
      const auto ma = sa.metrics_at(step), mb = sb.metrics_at(step);
      for (const char* k : {"reward", "reward_std", "reward/min", "reward/max", "reward/accuracy/mean", "reward/format/mean",
                            "accuracy", "format_rate", "completions/mean_length", "self_verification/rate", "loss", "kl",
                            "tokens/generated"}) {
        QVERIFY2(ma.count(k) && mb.count(k), k);
        QVERIFY2(std::abs(ma.at(k) - mb.at(k)) < 1e-5,
                 qPrintable(QString("step %1 %2: %3 vs %4").arg(step).arg(k).arg(ma.at(k)).arg(mb.at(k))));
      }
      // The gradient norm (before clipping) and the entropy: a gradient summed over the ranks instead of
      // averaged would double the norm, and still train to nearby parameters after clipping.
      for (const char* k : {"grad_norm", "entropy"}) {
        QVERIFY2(ma.count(k) && mb.count(k), k);
        QVERIFY2(std::abs(ma.at(k) - mb.at(k)) < 1e-4 * std::max(1.0, std::abs(ma.at(k))),
                 qPrintable(QString("step %1 %2: %3 vs %4").arg(step).arg(k).arg(ma.at(k)).arg(mb.at(k))));
      }
      QVERIFY(ma.at("grad_norm") > 0);
      QCOMPARE(mb.at("dist/world_size"), 2.0);
      QCOMPARE(static_cast<int>(sb.samples_at(step).size()), 4 * 4);  // 2 groups from each rank
    }
  }

  void pause_and_set_reach_every_rank() {
    QProcess launcher;
    launcher.setWorkingDirectory(dir_.path());
    launcher.start(GRPO_TRAIN_EXE, QStringList{"run", "--runs-dir", "runs", "--name", "steer", "--quiet", "--nproc", "2",
                                               "--set", "max_steps=100000"} + tiny());
    QString seen;
    QList<qint64> pids;
    QVERIFY(QTest::qWaitFor([&] { return (pids = rank_pids(launcher, seen)).size() == 2; }, 20000));
    const QString run_dir = dir_.path() + "/runs/steer";
    QVERIFY(QTest::qWaitFor([&] { return QFile::exists(run_dir + "/endpoints.json"); }, 30000));
    grpo::ipc::Client c;
    c.connect(grpo::ipc::Client::read_endpoints(run_dir.toStdString()));
    QVERIFY(QTest::qWaitFor([&] { return c.request("status")["step"].get<int64_t>() >= 3; }, 30000));

    // Paused for twice the collective time-out (3 s): both ranks stay up, and no step is taken.
    c.request("pause");
    QVERIFY(QTest::qWaitFor([&] { return c.request("status")["state"] == "paused"; }, 10000));
    const int64_t paused_at = c.request("status")["step"].get<int64_t>();
    QTest::qWait(6000);
    QCOMPARE(c.request("status")["step"].get<int64_t>(), paused_at);
    QCOMPARE(c.request("status")["state"].get<std::string>(), std::string("paused"));
    QVERIFY(alive(pids[0]) && alive(pids[1]));

    // lr set while paused lands at the next step, on both ranks (every step checks that they agree).
    const auto reply = c.request("set", {{"optim.lr", 0.0123}});
    QVERIFY2(reply.contains("from_step"), qPrintable(QString::fromStdString(reply.dump())));
    const int64_t from = reply["from_step"].get<int64_t>();
    QCOMPARE(from, paused_at + 1);
    c.request("resume");
    QVERIFY(QTest::qWaitFor([&] { return c.request("status")["step"].get<int64_t>() >= from + 3; }, 30000));
    c.request("stop");
    QVERIFY(launcher.waitForFinished(60000));
    QCOMPARE(launcher.exitCode(), 0);

    const auto store = grpo::ipc::RunStore::open_for_reading((run_dir + "/run.sqlite").toStdString());
    QVERIFY(std::abs(store.metrics_at(from - 1).at("learning_rate") - 0.0123) > 1e-6);
    for (int64_t s = from; s < from + 3; ++s) QCOMPARE(store.metrics_at(s).at("learning_rate"), 0.0123);
    QCOMPARE(store.metrics_at(from).at("dist/world_size"), 2.0);
  }

  void killed_rank_is_named() {
    QProcess launcher;
    launcher.setWorkingDirectory(dir_.path());
    launcher.start(GRPO_TRAIN_EXE, QStringList{"run", "--runs-dir", "runs", "--name", "kill", "--quiet", "--nproc", "2",
                                               "--set", "max_steps=100000", "--set", "checkpoint_every=2"} + tiny());
    QString seen;
    QList<qint64> pids;
    QVERIFY(QTest::qWaitFor([&] { return (pids = rank_pids(launcher, seen)).size() == 2; }, 20000));
    const QString run_dir = dir_.path() + "/runs/kill";
    QVERIFY(QTest::qWaitFor([&] { return QFile::exists(run_dir + "/checkpoints/step_000004.pt"); }, 60000));

    QElapsedTimer clock;
    clock.start();
    ::kill(static_cast<pid_t>(pids[1]), SIGKILL);
    QVERIFY2(launcher.waitForFinished(60000), "the run did not end within 60 s of losing a rank");
    qInfo("the run ended %.1f s after rank 1 was killed", clock.elapsed() / 1000.0);
    seen += QString::fromUtf8(launcher.readAllStandardError());
    QVERIFY(launcher.exitCode() != 0);
    QVERIFY2(seen.contains("rank 1 of 2 (pid"), qPrintable(seen));  // the launcher names it
    QVERIFY2(seen.contains("rank 1 of 2 stopped"), qPrintable(seen));  // and so does rank 0's own error
    QVERIFY(!alive(pids[0]));

    // Rank 0 recorded the failure and why; the newest checkpoint loads.
    const auto store = grpo::ipc::RunStore::open_for_reading((run_dir + "/run.sqlite").toStdString());
    QCOMPARE(store.meta("state").value_or(""), std::string("failed"));
    std::string reason;
    for (const auto& e : store.events())
      if (e.kind == "status" && e.data.value("state", "") == "failed") reason = e.data.value("reason", "");
    QVERIFY2(QString::fromStdString(reason).contains("rank 1"), reason.c_str());
    const auto latest = grpo::latest_checkpoint((run_dir + "/checkpoints").toStdString());
    QVERIFY(latest.has_value());
    const auto ck = grpo::read_checkpoint(*latest);
    QVERIFY(ck.header.step >= 4);
  }

  // The launcher's own failures. A rank that fails at start-up ends the run with a message naming it, and
  // the rank still waiting for it does not hang.
  void rank_failing_at_start_up_is_named() {
    QProcess launcher;
    launcher.setWorkingDirectory(dir_.path());
    auto env = QProcessEnvironment::systemEnvironment();
    env.insert("GRPO_FAULT_FAIL_RANK", "1");
    launcher.setProcessEnvironment(env);
    QElapsedTimer clock;
    clock.start();
    launcher.start(GRPO_TRAIN_EXE, QStringList{"run", "--runs-dir", "runs", "--name", "nostart", "--quiet", "--nproc", "2",
                                               "--set", "max_steps=3"} + tiny());
    QVERIFY2(launcher.waitForFinished(90000), "the launcher did not end after a rank failed at start-up");
    const QString err = QString::fromUtf8(launcher.readAllStandardError());
    qInfo("ended %.1f s after the start", clock.elapsed() / 1000.0);
    QVERIFY(launcher.exitCode() != 0);
    QVERIFY2(err.contains("rank 1 failed at start-up"), qPrintable(err));  // the rank's own message
    QVERIFY2(err.contains("rank 1 of 2 (pid"), qPrintable(err));           // and the launcher's
    QList<qint64> pids;
    QString seen = err;
    QRegularExpression re("pids ([0-9, ]+)");
    const auto m = re.match(seen);
    QVERIFY(m.hasMatch());
    for (const auto& p : m.captured(1).split(',')) QVERIFY(!alive(p.trimmed().toLongLong()));
  }

  // A launcher killed with SIGKILL leaves no rank behind: each rank has a parent-death signal (SIGTERM),
  // and stops.
  void killed_launcher_leaves_no_orphans() {
    QProcess launcher;
    launcher.setWorkingDirectory(dir_.path());
    launcher.start(GRPO_TRAIN_EXE, QStringList{"run", "--runs-dir", "runs", "--name", "orphan", "--quiet", "--nproc", "2",
                                               "--set", "max_steps=100000"} + tiny());
    QString seen;
    QList<qint64> pids;
    QVERIFY(QTest::qWaitFor([&] { return (pids = rank_pids(launcher, seen)).size() == 2; }, 20000));
    const QString run_dir = dir_.path() + "/runs/orphan";
    QVERIFY(QTest::qWaitFor([&] { return QFile::exists(run_dir + "/run.sqlite"); }, 60000));
    QTest::qWait(500);
    ::kill(static_cast<pid_t>(launcher.processId()), SIGKILL);
    QVERIFY(launcher.waitForFinished(10000));
    // The ranks are the launcher's children: reparented, they are reaped by init (or a subreaper); wait
    // until neither pid exists or is a zombie of someone else.
    auto gone = [](qint64 pid) {
      QFile stat(QString("/proc/%1/stat").arg(pid));
      if (!stat.open(QIODevice::ReadOnly)) return true;
      const QString s = QString::fromUtf8(stat.readAll());
      return s.section(')', 1).trimmed().startsWith('Z');
    };
    QVERIFY2(QTest::qWaitFor([&] { return gone(pids[0]) && gone(pids[1]); }, 60000), "ranks kept running");
  }

  // A batch that cannot be split over the ranks is refused before any rank starts.
  void invalid_batch_split_is_refused() {
    QProcess launcher;
    launcher.setWorkingDirectory(dir_.path());
    launcher.start(GRPO_TRAIN_EXE, QStringList{"run", "--runs-dir", "runs", "--name", "split", "--quiet", "--nproc", "3"} + tiny());
    QVERIFY(launcher.waitForFinished(30000));
    const QString err = QString::fromUtf8(launcher.readAllStandardError());
    QCOMPARE(launcher.exitCode(), 2);
    QVERIFY2(err.contains("grpo.prompts_per_step: 4 prompts cannot be split into 2 minibatches x 3 ranks"), qPrintable(err));
    QVERIFY(!err.contains("pids"));  // no rank was started
    QVERIFY(!QFile::exists(dir_.path() + "/runs/split"));
  }
};

QTEST_GUILESS_MAIN(TestDistributed)
#include "test_distributed.moc"

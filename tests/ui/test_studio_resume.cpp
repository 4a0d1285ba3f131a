// Resumed runs in the studio, offscreen, against real grpo-train processes (issue 16). A trainer the test
// starts is made to stop at a known point: with checkpoint_every=3 and GRPO_FAULT_STALL_CHECKPOINT=6 its
// checkpoint write at step 6 stalls forever, so its store holds steps 1..6 and its newest checkpoint is step
// 3 when it is killed with SIGKILL; a resume then discards steps 4..6 and trains them again (their
// tokens/s differ from the first time).
//  1. Watched live: the studio follows the trainer, sees it die (silent, and its folder says it is gone),
//     offers "Resume run", and follows the resumed trainer (paused by a watchdog after step 4, so that what
//     is checked is what came live); its resume event drops steps 4..6 from the charts before the replayed
//     ones arrive. At every live update each chart series holds each step once (x strictly increasing)
//     with the store's values; paused, and after it finishes, every series holds every stored step once,
//     with the stored (replayed) values, and the checkpoint markers are the store's.
//  2. Opened afterwards: a studio that opens or scans the folder says "stopped unexpectedly at step 6",
//     never attaches to the stale endpoints.json, and resumes it from the runs panel through a trainer that
//     starts slowly (the stale endpoints.json is there for a while after the launch): it attaches once, to
//     the new trainer (the hello's pid is the launched one), and the run finishes.
#include <signal.h>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <cmath>

#include "app/lineage.h"
#include "app/main_window.h"
#include "app/run_controller.h"
#include "app/run_data.h"
#include "ipc/client.h"
#include "ipc/messages.h"
#include "ipc/names.h"
#include "ipc/protocol.h"
#include "ipc/run_store.h"
#include "ui/chart_widget.h"
#include "ui/dashboard.h"
#include "ui/runs_panel.h"

using grpo::app::MainWindow;
using grpo::app::RunController;
using grpo::app::RunData;
using grpo::ipc::RunStore;
namespace protocol = grpo::ipc::protocol;

namespace {

constexpr int kStall = 6;  // the checkpoint write that never ends (checkpoint_every=3: step 3 is the newest)

QStringList tiny(const QString& runs_dir, const QString& name, int steps) {
  QStringList a = {"run", "--runs-dir", runs_dir, "--name", name, "--quiet"};
  for (const QString& kv :
       {QString("max_steps=%1").arg(steps), QString("model.init="), QString("model.d_model=32"),
        QString("model.n_layers=1"), QString("model.mlp_hidden=32"), QString("grpo.prompts_per_step=2"),
        QString("grpo.group_size=2"), QString("grpo.minibatches=1"), QString("sample_prompts=2"),
        QString("sampling.max_new_tokens=24"), QString("eval_every=0"), QString("checkpoint_every=3")})
    a << "--set" << kv;
  return a;
}

// A trainer the studio did not start, stalling in its checkpoint write at step kStall.
void start_stalling(QProcess& p, const QStringList& args) {
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("GRPO_FAULT_STALL_CHECKPOINT", QString::number(kStall));
  p.setProcessEnvironment(env);
  p.setStandardOutputFile(QProcess::nullDevice());
  p.setStandardErrorFile(QProcess::nullDevice());
  p.start(GRPO_TRAIN_EXE, args);
}

// The trainer stored step kStall and hangs in that step's checkpoint write.
bool stalled(const QString& run_dir) {
  if (!QFile::exists(
          QDir(run_dir).filePath(QString("checkpoints/step_%1.pt.tmp").arg(kStall, 6, 10, QChar('0')))))
    return false;
  auto store = RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString());
  return store.last_step() == kStall;
}

void kill9(QProcess& p) {
  ::kill(static_cast<pid_t>(p.processId()), SIGKILL);
  p.waitForFinished(10000);  // reaped: no zombie left
}

// Waits (60 s) for the trainer of run_dir to write its endpoints.json.
bool endpoints_written(const QString& run_dir) {
  return QTest::qWaitFor([&] { return QFile::exists(QDir(run_dir).filePath("endpoints.json")); }, 60000);
}

// Shows `w`, opens run_dir in it and returns the run's controller when the studio attached (else nullptr).
RunController* open_attached(MainWindow& w, const QString& run_dir) {
  w.show();
  if (!w.open_run(run_dir)) return nullptr;
  RunController* c = w.controller(grpo::app::run_id_of_dir(run_dir));
  return c && c->live() ? c : nullptr;
}

struct KillAtExit {  // a failed check must not leave a trainer behind
  QProcess* process = nullptr;
  ~KillAtExit() {
    if (process && process->state() != QProcess::NotRunning) kill9(*process);
  }
};

bool same(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

// Every chart series of run `id` (its own, not a parent's) against the store: x strictly increasing (each
// step once), each point a stored step with the stored value; `every_step`: each series holds every
// stored step of its metric. Returns what is wrong ("" when nothing is).
QString check_charts(MainWindow& w, const QString& id, const RunStore& store, bool every_step) {
  int series = 0;
  for (grpo::ui::ChartWidget* chart : w.dashboard()->charts())
    for (const QString& key : chart->series_keys()) {
      if (!key.startsWith(id + "|") || key.contains("|parent|")) continue;
      const QString metric = key.mid(id.size() + 1);
      std::map<int64_t, double> stored;
      for (const auto& p : store.metric_series(metric.toStdString())) stored[p.step] = p.value;
      const QVector<double> x = chart->series_x(key), y = chart->series_y(key);
      ++series;
      for (int i = 0; i < x.size(); ++i) {
        if (i > 0 && !(x[i] > x[i - 1]))
          return QString("%1: x not strictly increasing at %2 (%3 after %4)")
              .arg(key)
              .arg(i)
              .arg(x[i])
              .arg(x[i - 1]);
        const auto it = stored.find(static_cast<int64_t>(x[i]));
        if (it == stored.end()) return QString("%1: step %2 is not in the store").arg(key).arg(x[i]);
        if (!same(it->second, y[i]))
          return QString("%1: step %2 drawn at %3, stored %4")
              .arg(key)
              .arg(x[i])
              .arg(y[i], 0, 'g', 17)
              .arg(it->second, 0, 'g', 17);
      }
      if (every_step && x.size() != static_cast<int>(stored.size()))
        return QString("%1: %2 points, %3 steps stored").arg(key).arg(x.size()).arg(stored.size());
    }
  return series > 0 ? QString() : QString("no series of %1 on the charts").arg(id);
}

QVector<double> checkpoint_marker_steps(MainWindow& w) {
  QVector<double> out;  // checkpoint markers are the grey, unlabelled event markers
  for (const auto& m : w.dashboard()->chart("Reward")->markers())
    if (m.kind == grpo::ui::MarkerKind::kEvent && m.label.isEmpty()) out << m.x;
  std::sort(out.begin(), out.end());
  return out;
}

QVector<double> stored_checkpoint_steps(const RunStore& store) {
  QVector<double> out;
  for (const auto& e : store.events())
    if (e.kind == grpo::ipc::event::kCheckpoint) out << static_cast<double>(e.step);
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json resume_event(const RunStore& store) {
  for (const auto& e : store.events())
    if (e.kind == grpo::ipc::event::kResume) return e.data;
  return {};
}

}  // namespace

class TestStudioResume : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private slots:
  void initTestCase() {
    QCoreApplication::setOrganizationName("GRPO Studio Tests");
    QSettings().clear();
  }

  void a_resume_watched_live_draws_each_step_once() {
    const QString runs = dir_.path() + "/live";
    const QString run_dir = QDir(runs).filePath("r");
    QProcess first;
    KillAtExit guard{&first};
    start_stalling(first, tiny(runs, "r", 9));
    QVERIFY2(endpoints_written(run_dir), "the trainer wrote no endpoints.json");
    MainWindow w(runs, GRPO_TRAIN_EXE);
    RunController* c = open_attached(w, run_dir);
    QVERIFY2(c, "the studio did not attach to the live trainer");
    const QString id = c->id();
    QVERIFY2(QTest::qWaitFor([&] { return w.run(id)->step == kStall && stalled(run_dir); }, 60000),
             "the trainer did not reach its stalled checkpoint");
    auto store = RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString());
    QVERIFY(QTest::qWaitFor([&] { return check_charts(w, id, store, true).isEmpty(); }, 5000));
    QCOMPARE(w.dashboard()->point_count(id, grpo::ipc::metric::kReward), kStall);
    const double first_tps = store.metrics_at(5).at(grpo::ipc::metric::kTokensPerSecGeneration);

    // Killed: it falls silent, its folder says its trainer is gone; the studio says so and offers a resume.
    kill9(first);
    QVERIFY2(
        QTest::qWaitFor(
            [&] { return w.runs_panel()->state_text(id).contains("stopped unexpectedly at step 6"); }, 20000),
        qPrintable(w.runs_panel()->state_text(id)));
    QVERIFY(w.run(id)->dead());
    QVERIFY(!c->live());
    QVERIFY(w.runs_panel()->resume_offered(id));
    QVERIFY2(w.banner_text().contains("Resume run") && w.banner_text().contains("step 3"),
             qPrintable(w.banner_text()));

    // Every live update of the resumed run: each step once, with the store's values.
    int truncated_after = -1;
    QString live_error;
    int updates = 0;
    connect(c, &RunController::data_changed, &w, [&](const RunData::Delta& d) {
      ++updates;
      if (d.truncated_after >= 0) truncated_after = d.truncated_after;
      if (!live_error.isEmpty()) return;
      // The new trainer's first record after what the studio holds is its resume event: no update shows
      // the first trainer's steps 4..6 (which the store no longer has) or a step twice.
      live_error = check_charts(w, id, store, false);
    });
    // Resumed through the studio's launch path (what "Resume run" calls), with a watchdog that pauses the
    // run after its first step: the studio then holds what it got live, whatever the machine's speed.
    QVERIFY(w.resume_run(id, {"watchdogs.entropy_floor.threshold=100", "watchdogs.entropy_floor.steps=1"}));
    QVERIFY(c->trainer_running());
    // Paused, and every stored record received (its hello may say paused before the events come).
    QVERIFY2(QTest::qWaitFor(
                 [&] {
                   return w.run(id)->state == protocol::kStatePaused &&
                          w.run(id)->last_seq >= store.last_seq();
                 },
                 60000),
             qPrintable(w.banner_text() + " | " + w.run(id)->state_text()));
    QVERIFY(updates > 0);
    QVERIFY2(live_error.isEmpty(), qPrintable(live_error));
    QCOMPARE(truncated_after, 3);  // the resume event came live, and dropped steps 4..6
    QCOMPARE(w.run(id)->step, 4);  // then step 4, trained again
    QVERIFY2(check_charts(w, id, store, true).isEmpty(), qPrintable(check_charts(w, id, store, true)));
    QCOMPARE(w.dashboard()->point_count(id, grpo::ipc::metric::kReward), 4);
    QCOMPARE(checkpoint_marker_steps(w), stored_checkpoint_steps(store));  // step 3's, once

    // The watchdog off, resumed: it trains to the end.
    c->set({{"watchdogs.entropy_floor.action", QString("off")}});
    c->resume();
    QVERIFY2(
        QTest::qWaitFor([&] { return !c->trainer_running() && w.run(id)->state == protocol::kStateFinished; },
                        60000),
        qPrintable(w.banner_text() + " | " + w.run(id)->state_text()));
    QVERIFY2(live_error.isEmpty(), qPrintable(live_error));

    // Finished: every series holds each of the 9 stored steps once, with the replayed values.
    const nlohmann::json resume = resume_event(store);
    QCOMPARE(resume.value("from_step", -1), 3);
    QCOMPARE(resume.value("discarded_steps", -1), 3);
    QVERIFY2(check_charts(w, id, store, true).isEmpty(), qPrintable(check_charts(w, id, store, true)));
    QCOMPARE(w.dashboard()->point_count(id, grpo::ipc::metric::kReward), 9);
    QVERIFY(store.metrics_at(5).at(grpo::ipc::metric::kTokensPerSecGeneration) != first_tps);  // replayed
    QCOMPARE(checkpoint_marker_steps(w), stored_checkpoint_steps(store));  // 3, 6, 9: step 3's once
    QCOMPARE(w.run(id)->metrics.value(grpo::ipc::metric::kReward).steps,
             (QVector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
    QCOMPARE(w.runs_panel()->state_text(id), QString(protocol::kStateFinished));
    QVERIFY(!w.runs_panel()->resume_offered(id));
  }

  void a_killed_run_is_shown_dead_and_resumes_from_the_studio() {
    const QString runs = dir_.path() + "/dead";
    const QString run_dir = QDir(runs).filePath("d");
    QProcess first;
    KillAtExit guard{&first};
    start_stalling(first, tiny(runs, "d", 30));  // 27 steps to train again: time to attach
    QVERIFY2(QTest::qWaitFor([&] { return stalled(run_dir); }, 60000),
             "the trainer did not reach its stalled checkpoint");
    const auto stale = grpo::ipc::Client::read_endpoints(run_dir.toStdString());
    kill9(first);
    QVERIFY(QFile::exists(QDir(run_dir).filePath("endpoints.json")));  // left behind
    const QString id = grpo::app::run_id_of_dir(run_dir);

    // Scanned: listed as stopped unexpectedly, nothing attached.
    {
      MainWindow scan(runs, GRPO_TRAIN_EXE);
      scan.scan_runs_dir();
      QVERIFY2(scan.runs_panel()->state_text(id).contains("stopped unexpectedly at step 6"),
               qPrintable(scan.runs_panel()->state_text(id)));
      QVERIFY(scan.runs_panel()->resume_offered(id));
      QVERIFY(!scan.controller(id));
    }

    // A grpo-train that takes two seconds to start: the stale endpoints.json stays while it does.
    const QString slow = dir_.path() + "/slow-grpo-train";
    {
      QFile f(slow);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write(QString("#!/bin/sh\nsleep 2\nexec '%1' \"$@\"\n").arg(GRPO_TRAIN_EXE).toUtf8());
      f.setPermissions(f.permissions() | QFileDevice::ExeOwner);
    }
    MainWindow w(runs, slow);
    w.show();
    QVERIFY(w.open_run(run_dir));
    QVERIFY2(w.runs_panel()->state_text(id).contains("stopped unexpectedly at step 6"),
             qPrintable(w.runs_panel()->state_text(id)));
    QVERIFY(w.run(id)->dead());
    QVERIFY2(!w.controller(id), "the studio attached to a dead run's endpoints");
    QVERIFY2(
        w.banner_text().contains("stopped unexpectedly at step 6") && w.banner_text().contains("Resume run"),
        qPrintable(w.banner_text()));
    QCOMPARE(w.dashboard()->point_count(id, grpo::ipc::metric::kReward), kStall);

    QVERIFY(w.runs_panel()->resume_offered(id));
    QVERIFY(w.runs_panel()->request_resume(id));
    RunController* c = w.controller(id);
    QVERIFY(c && c->trainer_running());
    const qint64 pid = c->trainer_pid();
    QVERIFY2(QTest::qWaitFor([&] { return c->hello_pid() == pid; }, 60000), "no hello from the new trainer");
    // Once, to the new trainer: the endpoints its own endpoints.json names (the kernel may hand it the
    // dead trainer's port again, so the address alone cannot tell them apart; the hello's pid did).
    QCOMPARE(c->attached().size(), 1);
    QFile ep(QDir(run_dir).filePath("endpoints.json"));
    QVERIFY(ep.open(QIODevice::ReadOnly));
    const QJsonObject fresh = QJsonDocument::fromJson(ep.readAll()).object();
    QCOMPARE(fresh.value("pid").toInteger(), pid);
    QCOMPARE(c->attached()[0], fresh.value("control").toString());
    if (c->attached()[0] == QString::fromStdString(stale.control))
      qInfo("the new trainer was given the dead one's control port (%s)", stale.control.c_str());
    QVERIFY2(
        QTest::qWaitFor([&] { return !c->trainer_running() && w.run(id)->state == protocol::kStateFinished; },
                        60000),
        qPrintable(w.banner_text() + " | " + w.run(id)->state_text()));
    QCOMPARE(c->attached().size(), 1);
    auto store = RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString());
    QCOMPARE(store.last_step(), int64_t{30});
    QCOMPARE(resume_event(store).value("from_step", -1), 3);
    QCOMPARE(QString::fromStdString(store.meta("state").value_or("")), QString(protocol::kStateFinished));
    QCOMPARE(w.runs_panel()->state_text(id), QString(protocol::kStateFinished));
    QVERIFY2(check_charts(w, id, store, true).isEmpty(), qPrintable(check_charts(w, id, store, true)));
    QCOMPARE(w.dashboard()->point_count(id, grpo::ipc::metric::kReward), 30);
  }

  // A trainer that hangs (here SIGSTOP: alive, no heartbeat) falls silent before it dies; killed later, the
  // studio must still notice it is gone: the liveness is asked again every second while the link is
  // silent, not only when the silence starts.
  void a_hung_then_killed_trainer_is_shown_dead() {
    const QString runs = dir_.path() + "/hung";
    const QString run_dir = QDir(runs).filePath("h");
    QProcess p;
    KillAtExit guard{&p};
    start_stalling(p, tiny(runs, "h", 9));
    QVERIFY2(endpoints_written(run_dir), "the trainer wrote no endpoints.json");
    MainWindow w(runs, GRPO_TRAIN_EXE);
    RunController* c = open_attached(w, run_dir);
    QVERIFY2(c, "the studio did not attach to the live trainer");
    const QString id = c->id();
    QVERIFY2(QTest::qWaitFor([&] { return c->hello_pid() == p.processId() && w.run(id)->step >= 1; }, 60000),
             "no hello, or no step, from the trainer");
    int silent_reports = 0;
    connect(c, &RunController::silent_changed, &w,
            [&](bool s, double) { silent_reports = s ? silent_reports + 1 : 0; });
    ::kill(static_cast<pid_t>(p.processId()), SIGSTOP);
    QVERIFY2(QTest::qWaitFor([&] { return silent_reports >= 2; }, 20000),
             "the stopped trainer never fell silent");
    QVERIFY2(!w.run(id)->dead(), qPrintable(w.run(id)->state_text()));  // silent for a while, and alive
    QVERIFY(c->live());
    kill9(p);
    QVERIFY2(QTest::qWaitFor([&] { return w.run(id)->dead(); }, 10000), qPrintable(w.run(id)->state_text()));
    QVERIFY2(w.runs_panel()->state_text(id).contains("stopped unexpectedly"),
             qPrintable(w.runs_panel()->state_text(id)));
    QVERIFY(!c->live());
  }

  // A trainer that does not answer the studio's hello (hung while the studio attaches) is still watched:
  // its silence is reported, the failed hello said, and once it answers again the studio says so and
  // follows it live; killed, it is shown dead.
  void a_trainer_hung_while_the_studio_attaches_is_followed_once_it_answers() {
    const QString runs = dir_.path() + "/unanswered";
    const QString run_dir = QDir(runs).filePath("u");
    QProcess p;
    KillAtExit guard{&p};
    start_stalling(p, tiny(runs, "u", 9));
    QVERIFY2(QTest::qWaitFor(
                 [&] {
                   if (!QFile::exists(QDir(run_dir).filePath("endpoints.json"))) return false;
                   auto store =
                       RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString());
                   return store.last_step() >= 1;
                 },
                 60000),
             "the trainer wrote no endpoints.json or no step");
    ::kill(static_cast<pid_t>(p.processId()), SIGSTOP);
    MainWindow w(runs, GRPO_TRAIN_EXE);
    RunController* c = open_attached(w, run_dir);  // alive (its pid is there): attached
    QVERIFY2(c, "the studio did not attach to the stopped trainer");
    const QString id = c->id();
    bool silent = false;
    connect(c, &RunController::silent_changed, &w, [&](bool s, double) { silent = s; });
    QVERIFY2(
        QTest::qWaitFor([&] { return silent && w.banner_text().contains("no reply to 'hello'"); }, 30000),
        qPrintable("silent " + QString::number(silent) + ", banner: " + w.banner_text()));
    QCOMPARE(c->hello_pid(), 0);
    QVERIFY(!w.run(id)->dead());

    ::kill(static_cast<pid_t>(p.processId()), SIGCONT);
    QVERIFY2(QTest::qWaitFor([&] { return c->hello_pid() == p.processId(); }, 30000),
             qPrintable(w.banner_text()));
    QVERIFY2(w.banner_text().contains("Connected to u's trainer"), qPrintable(w.banner_text()));
    QVERIFY2(QTest::qWaitFor([&] { return !silent && w.run(id)->step == kStall; }, 60000),
             qPrintable(w.run(id)->state_text()));  // followed live up to its stalled checkpoint
    auto store = RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString());
    QVERIFY(QTest::qWaitFor([&] { return check_charts(w, id, store, true).isEmpty(); }, 5000));
    kill9(p);
    QVERIFY2(QTest::qWaitFor([&] { return w.run(id)->dead(); }, 20000), qPrintable(w.run(id)->state_text()));
  }

  // A long live run must not keep every step's samples in memory (the soak grew 11.5 MiB per 1,000 steps):
  // a local run keeps the newest RunData::kCachedSteps steps and reads older ones back from its store, with
  // the same values; a remote run (no store) keeps them all.
  void live_samples_are_cached_for_recent_steps_only() {
    const QString run_dir = dir_.path() + "/cache";
    QVERIFY(QDir().mkpath(run_dir));
    auto store = RunStore::open_for_writing(QDir(run_dir).filePath("run.sqlite").toStdString());
    RunData local, remote;
    local.dir = run_dir;
    constexpr int kSteps = 200;
    for (int s = 1; s <= kSteps; ++s) {
      grpo::ipc::SampleRecord r;
      r.step = s;
      r.prompt = "p" + std::to_string(s);
      r.completion = "c" + std::to_string(s);
      r.reward = s * 0.5;
      r.tokens = {s, s + 1};
      r.offsets = {0, 1};
      r.logp_old = r.logp = r.entropy = r.kl = {-0.5f, -0.25f};
      const int64_t seq = store.append_samples(s, {r});
      const grpo::ipc::Event e{protocol::kTopicSamples, grpo::ipc::samples_payload("r", seq, s, s, {r})};
      RunData::Delta d1, d2;
      local.apply(e, d1);
      remote.apply(e, d2);
      QVERIFY(local.cached_sample_steps() <= RunData::kCachedSteps);
    }
    QCOMPARE(local.cached_sample_steps(), RunData::kCachedSteps);
    QCOMPARE(remote.cached_sample_steps(), kSteps);
    QCOMPARE(local.sample_steps.size(), kSteps);
    for (int s : {1, 50, kSteps - RunData::kCachedSteps, kSteps}) {  // evicted, and still cached
      const auto views = local.samples(s);
      QCOMPARE(views.size(), 1);
      QCOMPARE(views[0].prompt, QString("p%1").arg(s));
      QCOMPARE(views[0].completion, QString("c%1").arg(s));
      QCOMPARE(views[0].reward, s * 0.5);
      QCOMPARE(views[0].completion, remote.samples(s)[0].completion);
    }
    QCOMPARE(local.cached_sample_steps(), RunData::kCachedSteps);  // reading old steps back stays bounded
    local.truncate_after(kSteps - 5);
    QCOMPARE(local.cached_sample_steps(), RunData::kCachedSteps - 5);  // the replayed steps' samples are gone
    QCOMPARE(local.sample_steps.last(), kSteps - 5);
  }
};

QTEST_MAIN(TestStudioResume)
#include "test_studio_resume.moc"

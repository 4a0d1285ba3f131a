// Forks, watchdog alerts and compared traces in the studio, offscreen, against real grpo-train processes
// (issue 15): a fork asked for on a chart point goes through the fork dialog (accepted here by code, with a
// changed learning rate), trains in a run folder of its own, is listed under its parent, and its charts
// carry the parent's points up to the fork step faint before its own, while the parent's charts mark where
// it starts. A watchdog that fires pauses the run: the banner names the rule and the step, the metric's
// chart gets a red marker (also when the run is opened from disk later), a watchdog action is changed
// through its choice editor, and "Resume as is" resumes the run. Two forks of one parent: the comparison
// names what each changed, both draw the shared history, and the compared traces set one held-out
// prompt's completions side by side at two or three evaluation steps of the parent and in both forks.
#include <signal.h>
#include <QtTest>

#include <QComboBox>
#include <QPushButton>

#include "app/alerts.h"
#include "app/fork_dialog.h"
#include "app/lineage.h"
#include "app/main_window.h"
#include "app/run_controller.h"
#include "app/run_data.h"
#include "app/traces_compared.h"
#include "ipc/names.h"
#include "ipc/protocol.h"
#include "ipc/run_store.h"
#include "ui/alert_banner.h"
#include "ui/chart_widget.h"
#include "ui/control_panel.h"
#include "ui/dashboard.h"
#include "ui/hparam_diff.h"
#include "ui/param_editor.h"
#include "ui/runs_panel.h"
#include "ui/trace_compare.h"

using grpo::app::MainWindow;
using grpo::ui::Dashboard;
using grpo::ui::MarkerKind;
namespace protocol = grpo::ipc::protocol;

namespace {

// The tiny model of test_studio (a step takes well under a second), plus `more` overrides (later wins).
QStringList tiny(const QString& runs_dir, const QString& name, int steps, const QStringList& more = {}) {
  QStringList a = {"run", "--runs-dir", runs_dir, "--name", name, "--quiet"};
  QStringList kv = {QString("max_steps=%1").arg(steps),
                    "model.init=",
                    "model.d_model=32",
                    "model.n_layers=1",
                    "model.mlp_hidden=32",
                    "grpo.prompts_per_step=2",
                    "grpo.group_size=2",
                    "grpo.minibatches=1",
                    "sample_prompts=2",
                    "sampling.max_new_tokens=24",
                    "eval_every=0",
                    "checkpoint_every=0",
                    "eval_prompts=8"};
  for (const QString& s : kv + more) a << "--set" << s;
  return a;
}

bool run_to_end(const QStringList& args) {
  QProcess p;
  p.start(GRPO_TRAIN_EXE, args);
  const bool ok = p.waitForFinished(120000) && p.exitCode() == 0;
  if (!ok) qWarning("%s", p.readAllStandardError().constData());
  return ok;
}

QVector<grpo::ui::ChartMarker> markers(grpo::ui::ChartWidget* chart, MarkerKind kind) {
  QVector<grpo::ui::ChartMarker> out;
  for (const auto& m : chart->markers())
    if (m.kind == kind) out << m;
  return out;
}

int steps_at_or_before(const QString& run_dir, const char* metric, int step) {
  auto store = grpo::ipc::RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString());
  int n = 0;
  for (const auto& p : store.metric_series(metric)) n += p.step <= step;
  return n;
}

QPushButton* button(QWidget* root, const QString& text) {
  for (auto* b : root->findChildren<QPushButton*>())
    if (b->text() == text) return b;
  return nullptr;
}

struct KillAtExit {  // a failed check must not leave a trainer training
  qint64 pid = 0;
  ~KillAtExit() {
    if (pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
};

}  // namespace

class TestStudioForks : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private slots:
  void initTestCase() {
    QCoreApplication::setOrganizationName("GRPO Studio Tests");
    QSettings().clear();
  }

  void a_fork_from_a_chart_point_trains_under_its_parent() {
    const QString runs = dir_.path() + "/fork";
    QVERIFY(run_to_end(tiny(runs, "p", 4, {"checkpoint_every=1", "keep_checkpoints=10"})));
    MainWindow w(runs, GRPO_TRAIN_EXE);
    w.show();
    QVERIFY(w.open_run(QDir(runs).filePath("p")));
    const QString parent = grpo::app::run_id_of_dir(QDir(runs).filePath("p"));
    auto* reward = w.dashboard()->chart("Reward");
    QVERIFY(reward->fork_enabled());

    // Right-click near step 2 → "Fork from here (step 2)…" (what the menu entry calls).
    QSignalSpy asked(w.dashboard(), &Dashboard::fork_requested);
    QVERIFY(reward->request_fork_at(2.2));
    QCOMPARE(asked.size(), 1);
    QCOMPARE(asked[0][0].toString(), parent);
    QCOMPARE(asked[0][1].toInt(), 2);
    grpo::app::ForkDialog* dialog = w.fork_dialog();
    QVERIFY2(dialog, "no fork dialog");
    QCOMPARE(dialog->setup().parent_name, QString("p"));
    QCOMPARE(dialog->from_step(), 2);
    QCOMPARE(dialog->name(), QString("p-fork2"));
    QVERIFY(dialog->editor()->has("optim.lr"));
    QVERIFY(dialog->editor()->has("sampling.temperature"));
    QCOMPARE(dialog->editor()->edit_value("optim.lr").toDouble(), 5e-5);  // the parent's
    dialog->editor()->set_edit_value("optim.lr", 1e-3);
    QString error;
    QCOMPARE(dialog->changes(&error).keys(), QStringList{"optim.lr"});  // only what was changed is sent
    dialog->accept();

    const QString fork_dir = QDir(runs).filePath("p-fork2");
    const QString fork = grpo::app::run_id_of_dir(fork_dir);
    // Finished, and its trainer gone (the studio then has read everything the run stored).
    QVERIFY2(QTest::qWaitFor(
                 [&] {
                   return w.run(fork) && w.controller(fork) && !w.controller(fork)->trainer_running() &&
                          w.run(fork)->state == protocol::kStateFinished;
                 },
                 60000),
             qPrintable(w.banner_text()));
    auto store = grpo::ipc::RunStore::open_for_reading(QDir(fork_dir).filePath("run.sqlite").toStdString());
    QCOMPARE(store.meta(grpo::ipc::meta::kParentStep).value_or(""), std::string("2"));
    QCOMPARE(nlohmann::json::parse(store.meta("config").value_or("{}"))["optim"]["lr"].get<double>(), 1e-3);

    // Listed under its parent; drawn with the parent's points up to step 2 faint, then its own.
    QCOMPARE(w.runs_panel()->shown_parent(fork), parent);
    QVERIFY(w.dashboard()->runs().contains(fork));
    const QString faint = Dashboard::parent_key(fork, grpo::ipc::metric::kReward);
    QVERIFY(reward->faint(faint));
    QCOMPARE(reward->point_count(faint),
             steps_at_or_before(QDir(runs).filePath("p"), grpo::ipc::metric::kReward, 2));
    QCOMPARE(reward->point_count(faint), 2);
    QCOMPARE(w.dashboard()->point_count(fork, grpo::ipc::metric::kReward), 2);  // steps 3 and 4
    // The parent's charts mark where the fork starts.
    const auto forks = markers(reward, MarkerKind::kFork);
    QCOMPARE(forks.size(), 1);
    QCOMPARE(forks[0].x, 2.0);
    QVERIFY(forks[0].label.contains("p-fork2"));

    // A second studio that scans the runs folder lists the fork under its parent too.
    MainWindow scan(runs, GRPO_TRAIN_EXE);
    scan.scan_runs_dir();
    QCOMPARE(scan.runs_panel()->count(), 2);
    QCOMPARE(scan.runs_panel()->shown_parent(fork), parent);

    // Asked for on the fork's faint history (a step before its start): the parent is forked.
    w.request_fork(fork, 1);
    QVERIFY(w.fork_dialog());
    QCOMPARE(w.fork_dialog()->setup().parent_id, parent);
    QCOMPARE(w.fork_dialog()->from_step(), 1);
    QCOMPARE(w.fork_dialog()->name(), QString("p-fork1"));
    w.fork_dialog()->reject();

    // Asked for before any checkpoint: the dialog says so and refuses.
    w.request_fork(parent, 0);
    QVERIFY(w.fork_dialog());
    QVERIFY(!w.fork_dialog()->can_fork());
    QVERIFY2(w.fork_dialog()->message().contains("No checkpoint at or before step 0"),
             qPrintable(w.fork_dialog()->message()));
    w.fork_dialog()->reject();
  }

  void a_watchdog_pauses_the_run_and_the_banner_resumes_it() {
    const QString runs = dir_.path() + "/watch";
    const QString run_dir = QDir(runs).filePath("w");
    KillAtExit trainer;
    MainWindow w(runs, GRPO_TRAIN_EXE);
    w.show();
    // Entropy is always below a floor of 100: the rule fires after step 1 and pauses the run (its default).
    w.launch(tiny(runs, "w", 100000,
                  {"watchdogs.entropy_floor.threshold=100", "watchdogs.entropy_floor.steps=1",
                   "checkpoint_every=1"}),
             run_dir);
    const QString id = grpo::app::run_id_of_dir(run_dir);
    auto* banner = w.alert_banner();
    QVERIFY2(QTest::qWaitFor([&] { return banner->isVisible(); }, 60000), "no alert banner");
    trainer.pid = w.controller(id)->trainer_pid();
    QVERIFY2(banner->text().contains("entropy_floor") && banner->text().contains("step 1"),
             qPrintable(banner->text()));
    QVERIFY(banner->text().contains("entropy"));
    QVERIFY(banner->resume_offered());
    QCOMPARE(w.alerts()->run(), id);
    auto* entropy = w.dashboard()->chart("Entropy");
    QVERIFY(QTest::qWaitFor([&] { return markers(entropy, MarkerKind::kAlert).size() == 1; }, 5000));
    QCOMPARE(markers(entropy, MarkerKind::kAlert)[0].x, 1.0);
    QVERIFY(
        markers(w.dashboard()->chart("Learning rate"), MarkerKind::kAlert).isEmpty());  // that metric's only
    grpo::ipc::Client probe;
    probe.connect(grpo::ipc::Client::read_endpoints(run_dir.toStdString()));
    QVERIFY(QTest::qWaitFor([&] { return probe.request(protocol::kCmdStatus)["state"] == "paused"; }, 15000));

    // The watchdog's action is a choice: a combo box in the control panel, sent as a string.
    auto* panel = w.control_panel();
    QVERIFY(QTest::qWaitFor([&] { return panel->state() == protocol::kStatePaused; }, 5000));
    QComboBox* action = nullptr;  // once the trainer's hello is in
    QVERIFY2(
        QTest::qWaitFor(
            [&] { return action = panel->findChild<QComboBox*>("watchdogs.entropy_floor.action"); }, 15000),
        "no editor for watchdogs.entropy_floor.action");
    QCOMPARE(action->currentText(), QString("pause"));
    QVERIFY(action->findText("checkpoint_pause") >= 0);
    panel->set_edit_text("watchdogs.entropy_floor.action", "alert");
    QTest::mouseClick(button(panel, "Apply"), Qt::LeftButton);
    QVERIFY(QTest::qWaitFor([&] { return !probe.request(protocol::kCmdStatus)["pending"].empty(); }, 5000));

    // "Resume as is": the run trains on.
    banner->resume();
    QVERIFY(!banner->isVisible());
    auto store = grpo::ipc::RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString());
    QVERIFY2(
        QTest::qWaitFor([&] { return store.metric_series(grpo::ipc::metric::kEntropy).size() >= 3; }, 30000),
        "the run did not resume");
    bool set_action = false;
    for (const auto& e : store.events())
      if (e.kind == grpo::ipc::event::kHparams &&
          e.data["changed"].contains("watchdogs.entropy_floor.action"))
        set_action = e.data["changed"]["watchdogs.entropy_floor.action"]["to"] == "alert";
    QVERIFY2(set_action, "no hparams event setting the action to alert");
    QVERIFY(w.controller(id)->stop_and_wait(60000));
    trainer.pid = 0;

    // Opened from disk, the stored alert is on the chart again (no banner: nothing waits for an answer).
    MainWindow later(runs, GRPO_TRAIN_EXE);
    later.show();
    QVERIFY(later.open_run(run_dir));
    QCOMPARE(markers(later.dashboard()->chart("Entropy"), MarkerKind::kAlert).size(), 1);
    QVERIFY(!later.alert_banner()->isVisible());
  }

  void sibling_forks_compare_and_their_traces_sit_side_by_side() {
    const QString runs = dir_.path() + "/traces";
    const QString p = QDir(runs).filePath("p");
    QVERIFY(
        run_to_end(tiny(runs, "p", 2, {"eval_every=1", "checkpoint_every=1"})));  // evaluations at 0, 1, 2
    for (const auto& [name, set] :
         {std::pair{"lr", "optim.lr=0.001"}, std::pair{"temp", "sampling.temperature=0.7"}})
      QVERIFY(run_to_end({"run", "--runs-dir", runs, "--fork", p, "--from-step", "1", "--name", name,
                          "--quiet", "--set", set}));
    MainWindow w(runs, GRPO_TRAIN_EXE);
    w.show();
    w.scan_runs_dir();
    const QString pid = grpo::app::run_id_of_dir(p);
    for (const char* r : {"p", "lr", "temp"})
      w.runs_panel()->set_checked(grpo::app::run_id_of_dir(QDir(runs).filePath(r)), true);
    w.runs_panel()->set_current(pid);
    QCOMPARE(w.active_run(), pid);

    // The comparison: what each fork changed, in columns that name their parent.
    const QStringList keys = w.diff_table()->differing_keys();
    QVERIFY2(keys.contains("optim.lr") && keys.contains("sampling.temperature"), qPrintable(keys.join(",")));
    QString headers;
    for (int c = 0; c < w.diff_table()->columnCount(); ++c)
      headers += w.diff_table()->horizontalHeaderItem(c)->text() + ";";
    QVERIFY2(headers.contains("lr (fork of p @ 1)") && headers.contains("temp (fork of p @ 1)"),
             qPrintable(headers));
    // Both siblings draw the shared history (the parent's step 1) faint before their own.
    auto* reward = w.dashboard()->chart("Reward");
    for (const char* r : {"lr", "temp"}) {
      const QString key = Dashboard::parent_key(grpo::app::run_id_of_dir(QDir(runs).filePath(r)), "reward");
      QCOMPARE(reward->point_count(key), 1);
      QVERIFY(reward->faint(key));
    }

    // Compared traces: the parent's first and newest evaluations, then each fork's newest.
    w.tabs()->setCurrentWidget(w.traces_compared());
    auto* compared = w.traces_compared();
    auto* view = compared->view();
    QCOMPARE(compared->available_steps(), (QVector<int>{0, 1, 2}));
    QCOMPARE(compared->steps(), (QVector<int>{0, 2}));
    auto store = grpo::ipc::RunStore::open_for_reading(QDir(p).filePath("run.sqlite").toStdString());
    const auto first = store.samples_at(0, grpo::ipc::SampleSplit::kEval);
    QCOMPARE(view->prompts().size(), static_cast<int>(first.size()));
    QVERIFY(first.size() >= 4);
    view->set_current_prompt(3);
    QCOMPARE(view->prompts()[3], QString::fromStdString(first[3].prompt));
    QCOMPARE(view->column_count(), 4);
    QVERIFY2(view->column_title(0).contains("p · step 0"), qPrintable(view->column_title(0)));
    QVERIFY2(view->column_title(1).contains("p · step 2"), qPrintable(view->column_title(1)));
    QStringList rest = {view->column_title(2), view->column_title(3)};
    rest.sort();
    QVERIFY2(rest[0].contains("lr · step 2") && rest[1].contains("temp · step 2"),
             qPrintable(rest.join(" | ")));
    const auto newest = store.samples_at(2, grpo::ipc::SampleSplit::kEval);
    QCOMPARE(view->column_text(0).simplified(), QString::fromStdString(first[3].completion).simplified());
    QCOMPARE(view->column_text(1).simplified(), QString::fromStdString(newest[3].completion).simplified());
    // Training samples stay in the inspector: the parent's evaluations are not among its training steps.
    QCOMPARE(w.run(pid)->sample_steps, (QVector<int>{1, 2}));
    // Every evaluation step of the parent, ticked.
    compared->set_steps({0, 1, 2});
    QCOMPARE(view->column_count(), 5);
    QVERIFY(view->column_title(1).contains("p · step 1"));
  }
};

QTEST_MAIN(TestStudioForks)
#include "test_studio_forks.moc"

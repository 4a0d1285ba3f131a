// The studio as a user drives it, offscreen, against real grpo-train processes: charts hold one point per
// finished step; the Pause button pauses the trainer (its own status says so); editing lr in the panel
// produces the event in the store (changed.optim.lr.to is the value set, from the step after the pause) and
// a marker on the charts, and the trainer's learning_rate is that value from that step on (the old one
// before); the trace inspector lists the step's
// samples; two finished runs overlay and their differing hyperparameters appear; killing the trainer shows
// the failure, with the data kept. Closing the window with a trainer it launched asks what to do (the
// dialog remembers the answer when told to); "keep" leaves the trainer training after the window is gone,
// "stop" stops it with a final checkpoint before the window closes.
#include <QtTest>
#include <qcustomplot.h>
#include <signal.h>

#include <QAbstractButton>
#include <QCheckBox>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageBox>

#include "app/close_choice.h"
#include "app/main_window.h"
#include "app/run_controller.h"
#include "app/run_data.h"
#include "ipc/names.h"
#include "ipc/protocol.h"
#include "ipc/run_store.h"
#include "ui/chart_widget.h"
#include "ui/control_panel.h"
#include "ui/dashboard.h"
#include "ui/hparam_diff.h"
#include "ui/runs_panel.h"
#include "ui/trace_inspector.h"

using grpo::app::CloseChoice;
using grpo::app::MainWindow;
namespace protocol = grpo::ipc::protocol;

namespace {

QStringList tiny(const QString& runs_dir, const QString& name, int steps) {
  QStringList a = {"run", "--runs-dir", runs_dir, "--name", name, "--quiet"};
  for (const QString& kv : {QString("max_steps=%1").arg(steps), QString("model.init="), QString("model.d_model=32"),
                            QString("model.n_layers=1"), QString("model.mlp_hidden=32"), QString("grpo.prompts_per_step=2"),
                            QString("grpo.group_size=2"), QString("grpo.minibatches=1"), QString("sample_prompts=2"),
                            QString("sampling.max_new_tokens=24"), QString("eval_every=0"), QString("checkpoint_every=0")})
    a << "--set" << kv;
  return a;
}

QPushButton* button(QWidget* root, const QString& text) {
  for (auto* b : root->findChildren<QPushButton*>())
    if (b->text() == text) return b;
  return nullptr;
}

int markers(grpo::ui::ChartWidget* chart) {
  int n = 0;
  for (int i = 0; i < chart->plot()->itemCount(); ++i) n += chart->plot()->item(i)->property("marker").toBool();
  return n;
}

// Runs grpo-train to completion (for the comparison runs).
bool run_to_end(const QStringList& args) {
  QProcess p;
  p.start(GRPO_TRAIN_EXE, args);
  return p.waitForFinished(120000) && p.exitCode() == 0;
}

bool alive(qint64 pid) {
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0;
}

// Kills a trainer a test left behind (a failed check must not leave it training).
struct KillAtExit {
  qint64 pid = 0;
  QString output;  // a kept trainer's output file, left for its user: removed here
  ~KillAtExit() {
    if (pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
    if (!output.isEmpty()) QFile::remove(output);
  }
};

// The QMessageBox that is open, once it is (for answering the close question from a timer).
QMessageBox* open_message_box() {
  for (QWidget* w : QApplication::topLevelWidgets())
    if (auto* box = qobject_cast<QMessageBox*>(w); box && box->isVisible()) return box;
  return nullptr;
}

void answer_close_question(const QString& button_text, bool remember, int tries = 100) {
  QTimer::singleShot(50, [button_text, remember, tries] {
    QMessageBox* box = open_message_box();
    if (!box && tries > 0) return answer_close_question(button_text, remember, tries - 1);  // not open yet
    if (!box) return;
    if (remember) box->checkBox()->setChecked(true);
    for (QAbstractButton* b : box->buttons())
      if (b->text() == button_text) return b->click();
    box->reject();
  });
}

}  // namespace

class TestStudio : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private slots:
  void initTestCase() {
    QCoreApplication::setOrganizationName("GRPO Studio Tests");
    QSettings().clear();
  }

  void watch_pause_steer_inspect_and_survive_a_crash() {
    const QString runs = dir_.path() + "/runs";
    MainWindow w(runs, GRPO_TRAIN_EXE);
    w.show();
    const QString run_dir = QDir(runs).filePath("live");
    w.launch(tiny(runs, "live", 100000), run_dir);
    const QString id = QDir(run_dir).absolutePath();
    QVERIFY2(QTest::qWaitFor([&] { return w.run(id) && w.run(id)->step >= 3; }, 60000), "no live steps arrived");
    auto* panel = w.control_panel();

    // 1. Pause with the button; the trainer's own status says paused.
    QVERIFY(QTest::qWaitFor([&] { return button(panel, "Pause") && button(panel, "Pause")->isEnabled(); }, 10000));
    QTest::mouseClick(button(panel, "Pause"), Qt::LeftButton);
    grpo::ipc::Client probe;
    probe.connect(grpo::ipc::Client::read_endpoints(run_dir.toStdString()));
    QVERIFY2(QTest::qWaitFor([&] { return probe.request("status")["state"] == "paused"; }, 15000), "the trainer did not pause");
    QVERIFY(QTest::qWaitFor([&] { return panel->state() == "paused"; }, 5000));

    // 2. While paused every finished step is on the charts: one point per step in the store.
    auto store = grpo::ipc::RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString());
    const auto steps_in_store = static_cast<int>(store.metric_series("reward").size());
    QVERIFY(QTest::qWaitFor([&] { return w.dashboard()->point_count(id, "reward") == steps_in_store; }, 5000));
    QCOMPARE(w.dashboard()->point_count(id, "accuracy"), steps_in_store);

    // 3. Edit lr in the panel, Apply, resume: the store records the event, the charts show a marker.
    auto* lr_chart = w.dashboard()->chart("Learning rate");
    const int markers_before = markers(lr_chart);
    panel->set_edit_value("optim.lr", 3e-7);  // below what six decimals can hold
    QTest::mouseClick(button(panel, "Apply"), Qt::LeftButton);
    QVERIFY(QTest::qWaitFor([&] { return !probe.request("status")["pending"].empty(); }, 5000));
    QTest::mouseClick(button(panel, "Resume"), Qt::LeftButton);
    nlohmann::json set_event;  // the hparams event: what changed, to what, from which step
    QVERIFY2(QTest::qWaitFor(
                 [&] {
                   for (const auto& e : store.events())
                     if (e.kind == "hparams" && e.data["changed"].contains("optim.lr")) set_event = e.data;
                   return !set_event.is_null();
                 },
                 15000),
             "no hparams event in the store");
    // Exactly the value set (not one rounded to the editor's decimals), from the step after the pause on.
    QVERIFY2(set_event["changed"]["optim.lr"]["to"] == 3e-7, set_event.dump().c_str());
    QVERIFY2(set_event["changed"]["optim.lr"]["from"] == 5e-5, set_event.dump().c_str());
    const int64_t from_step = set_event["from_step"].get<int64_t>();
    QCOMPARE(from_step, int64_t{steps_in_store} + 1);  // set while paused: the next step on
    QVERIFY2(QTest::qWaitFor([&] { return markers(lr_chart) > markers_before; }, 5000), "no marker on the charts");
    QVERIFY(panel->history().join("\n").contains("optim.lr"));
    // The trainer trains at it from from_step on (two steps of it at least), and at the old lr before.
    QVERIFY2(QTest::qWaitFor([&] { return store.last_step() >= from_step + 1; }, 15000),
             "no steps after the set");
    int at_new_lr = 0;
    for (const auto& p : store.metric_series(grpo::ipc::metric::kLearningRate)) {
      QVERIFY2(p.value == (p.step >= from_step ? 3e-7 : 5e-5),
               qPrintable(QString("step %1: learning_rate %2 (set from step %3)")
                              .arg(p.step)
                              .arg(p.value)
                              .arg(from_step)));
      at_new_lr += p.step >= from_step;
    }
    QVERIFY(at_new_lr >= 2);

    // 4. The trace inspector lists the newest step's samples (2 prompts x G = 2).
    w.tabs()->setCurrentIndex(1);
    QVERIFY(QTest::qWaitFor([&] { return w.inspector()->model()->rowCount() == 4; }, 10000));
    QVERIFY(w.inspector()->current_step() >= 1);
    QVERIFY(w.inspector()->detail_html().contains("reward"));

    // 5. Kill the trainer: the studio shows the failure and keeps the data.
    const qint64 pid = QJsonDocument::fromJson([&] {
                         QFile f(QDir(run_dir).filePath("endpoints.json"));
                         f.open(QIODevice::ReadOnly);
                         return f.readAll();
                       }()).object()["pid"].toInteger();
    QVERIFY(pid > 0);
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    QVERIFY2(QTest::qWaitFor([&] { return w.banner_text().contains("crashed") || w.banner_text().contains("exit code"); }, 15000),
             qPrintable(w.banner_text()));
    QVERIFY(w.banner_text().contains("kept"));
    QVERIFY(w.run(id)->metrics.value("reward").steps.size() >= steps_in_store);
    QVERIFY(QFile::exists(QDir(run_dir).filePath("run.sqlite")));
  }

  void a_trainer_that_cannot_start_explains_why() {
    const QString runs = dir_.path() + "/bad";
    MainWindow w(runs, GRPO_TRAIN_EXE);
    w.show();
    w.launch(tiny(runs, "bad", 3) + QStringList{"--set", "no_such.key=1"}, QDir(runs).filePath("bad"));
    QVERIFY2(QTest::qWaitFor([&] { return w.banner_text().contains("exit code 2"); }, 15000),
             qPrintable(w.banner_text()));
    // Its own words, from its output.
    QVERIFY2(w.banner_text().contains("no_such.key"), qPrintable(w.banner_text()));
    QVERIFY(!w.controller(QDir(runs).absoluteFilePath("bad"))->trainer_running());
    QCOMPARE(w.runs_panel()->count(), 0);  // no run folder: not listed
  }

  void two_finished_runs_overlay_with_their_differences() {
    const QString runs = dir_.path() + "/compare";
    QVERIFY(run_to_end(tiny(runs, "a", 3) << "--set" << "optim.lr=0.0001"));
    QVERIFY(run_to_end(tiny(runs, "b", 3) << "--set" << "optim.lr=0.0003"));
    MainWindow w(runs, GRPO_TRAIN_EXE);
    w.show();
    QVERIFY(w.open_run(QDir(runs).filePath("a")));
    QVERIFY(w.open_run(QDir(runs).filePath("b")));
    QCOMPARE(w.dashboard()->runs().size(), 2);
    for (const char* r : {"a", "b"}) QCOMPARE(w.dashboard()->point_count(QDir(runs).absoluteFilePath(r), "reward"), 3);
    const QStringList keys = w.diff_table()->differing_keys();
    QVERIFY2(keys.contains("optim.lr"), qPrintable(keys.join(",")));
    QVERIFY(!keys.contains("seed"));
    // Unticking a run removes it from the charts.
    w.runs_panel()->set_checked(QDir(runs).absoluteFilePath("b"), false);
    QCOMPARE(w.dashboard()->runs().size(), 1);
    // CSV export of a run's metrics.
    const QString csv = dir_.path() + "/a.csv";
    QVERIFY(w.export_metrics_csv(QDir(runs).absoluteFilePath("a"), csv));
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 1 + 3);
    QVERIFY(lines[0].startsWith("step,") && lines[0].contains("reward"));
  }

  void the_close_question_remembers_its_answer_when_told_to() {
    grpo::app::save_close_choice(CloseChoice::kAsk);
    QWidget parent;
    answer_close_question("Stop it (checkpoint first)", false);
    QCOMPARE(grpo::app::ask_close_choice(&parent, {"a"}), CloseChoice::kStop);
    QCOMPARE(grpo::app::saved_close_choice(), CloseChoice::kAsk);  // not remembered
    answer_close_question("Cancel", true);
    QCOMPARE(grpo::app::ask_close_choice(&parent, {"a"}), CloseChoice::kAsk);
    QCOMPARE(grpo::app::saved_close_choice(), CloseChoice::kAsk);  // a cancel is never remembered
    answer_close_question("Keep training in the background", true);
    QCOMPARE(grpo::app::ask_close_choice(&parent, {"a"}), CloseChoice::kKeep);
    QCOMPARE(QSettings().value(grpo::app::kCloseChoiceKey).toString(), QString("keep"));
    QCOMPARE(grpo::app::saved_close_choice(), CloseChoice::kKeep);
    grpo::app::save_close_choice(CloseChoice::kAsk);
    QVERIFY(!QSettings().contains(grpo::app::kCloseChoiceKey));
  }

  void closing_can_keep_the_trainer_training_in_the_background() {
    const QString runs = dir_.path() + "/keep";
    const QString run_dir = QDir(runs).filePath("bg");
    grpo::app::save_close_choice(CloseChoice::kKeep);
    KillAtExit trainer;
    {
      MainWindow w(runs, GRPO_TRAIN_EXE);
      w.show();
      w.launch(tiny(runs, "bg", 100000), run_dir);
      const QString id = QDir(run_dir).absolutePath();
      QVERIFY2(QTest::qWaitFor([&] { return w.run(id) && w.run(id)->step >= 1; }, 60000),
               "no live steps arrived");
      trainer.pid = w.controller(id)->trainer_pid();
      trainer.output = w.controller(id)->trainer_output_file();
      QVERIFY(alive(trainer.pid));
      QVERIFY(w.close());
      QVERIFY(!w.controller(id)->launched());  // let go
    }
    grpo::app::save_close_choice(CloseChoice::kAsk);
    // The window is gone; the trainer goes on training, and its endpoints answer.
    QVERIFY(alive(trainer.pid));
    auto store = grpo::ipc::RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString());
    const auto steps = store.metric_series(grpo::ipc::metric::kReward).size();
    QVERIFY2(QTest::qWaitFor([&] { return store.metric_series(grpo::ipc::metric::kReward).size() > steps; },
                             30000),
             "the trainer stopped training when the studio closed");
    grpo::ipc::Client probe;
    probe.connect(grpo::ipc::Client::read_endpoints(run_dir.toStdString()));
    QCOMPARE(probe.request(protocol::kCmdStatus)["state"].get<std::string>(),
             std::string(protocol::kStateRunning));
    QVERIFY(alive(trainer.pid));
    ::kill(static_cast<pid_t>(trainer.pid), SIGKILL);
    QVERIFY(QTest::qWaitFor([&] { return !alive(trainer.pid); }, 10000));  // reaped too (no zombie left)
    trainer.pid = 0;
  }

  void closing_can_stop_the_trainer_with_a_final_checkpoint() {
    const QString runs = dir_.path() + "/stop";
    const QString run_dir = QDir(runs).filePath("st");
    grpo::app::save_close_choice(CloseChoice::kStop);
    KillAtExit trainer;
    MainWindow w(runs, GRPO_TRAIN_EXE);
    w.show();
    w.launch(tiny(runs, "st", 100000), run_dir);
    const QString id = QDir(run_dir).absolutePath();
    QVERIFY2(QTest::qWaitFor([&] { return w.run(id) && w.run(id)->step >= 1; }, 60000),
             "no live steps arrived");
    trainer.pid = w.controller(id)->trainer_pid();
    QVERIFY(alive(trainer.pid));
    QVERIFY(w.close());  // returns once the trainer has exited
    grpo::app::save_close_choice(CloseChoice::kAsk);
    QVERIFY(!w.isVisible());
    QVERIFY(!w.controller(id)->trainer_running());
    QVERIFY(!alive(trainer.pid));
    trainer.pid = 0;
    auto store = grpo::ipc::RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString());
    QString checkpoint;
    for (const auto& e : store.events())
      if (e.kind == grpo::ipc::event::kStop)
        checkpoint = QString::fromStdString(e.data.value("checkpoint", ""));
    QVERIFY2(!checkpoint.isEmpty(), "no stop event with its checkpoint in the store");
    QVERIFY2(QFileInfo::exists(checkpoint) || QFileInfo::exists(QDir(run_dir).filePath(checkpoint)),
             qPrintable(checkpoint));
    QCOMPARE(QString::fromStdString(store.meta("state").value_or("")), QString(protocol::kStateStopped));
  }
};

QTEST_MAIN(TestStudio)
#include "test_studio.moc"

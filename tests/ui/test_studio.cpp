// The studio as a user drives it, offscreen, against real grpo-train processes: charts hold one point per
// finished step; the Pause button pauses the trainer (its own status says so); editing lr in the panel
// produces the event in the store and a marker on the charts; the trace inspector lists the step's
// samples; two finished runs overlay and their differing hyperparameters appear; killing the trainer shows
// the failure, with the data kept.
#include <QtTest>
#include <qcustomplot.h>
#include <signal.h>

#include <QJsonDocument>
#include <QJsonObject>

#include "app/main_window.h"
#include "app/run_data.h"
#include "ipc/run_store.h"
#include "ui/chart_widget.h"
#include "ui/control_panel.h"
#include "ui/dashboard.h"
#include "ui/hparam_diff.h"
#include "ui/runs_panel.h"
#include "ui/trace_inspector.h"

using grpo::app::MainWindow;

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
    QVERIFY2(QTest::qWaitFor(
                 [&] {
                   for (const auto& e : store.events())
                     if (e.kind == "hparams" && e.data["changed"].contains("optim.lr")) return true;
                   return false;
                 },
                 15000),
             "no hparams event in the store");
    QVERIFY2(QTest::qWaitFor([&] { return markers(lr_chart) > markers_before; }, 5000), "no marker on the charts");
    QVERIFY(panel->history().join("\n").contains("optim.lr"));
    QVERIFY2(QTest::qWaitFor(
                 [&] {
                   for (const auto& p : store.metric_series("learning_rate"))
                     if (p.value == 3e-7) return true;
                   return false;
                 },
                 15000),
             "the trainer never trained at lr 3e-7");

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
};

QTEST_MAIN(TestStudio)
#include "test_studio.moc"

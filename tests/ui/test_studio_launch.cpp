// The studio's launch dialog and exports, offscreen, against real grpo-train processes (issue 16).
//  - File → Start a run… opens ui::LaunchDialog; filled in and started, the run trains with the dialog's
//    values (the store's config has them) and the charts show its steps. A config grpo-train refuses (a
//    --set out of range, a config file with an unknown key) puts grpo-train's own message in the banner; a
//    grpo-train that is not there has the banner name the path it was looked for at (or, with none given,
//    every place looked at).
//  - File → Export metrics as CSV…: every value of every step and metric equals the run store's
//    (metrics_at), read back as doubles. A chart's export (its context menu's "Export chart…", and
//    ChartWidget::save) writes a PNG of the chart's size, and PNG, SVG and PDF files of a requested size:
//    the PNG read with QImage, the SVG with QSvgRenderer, the PDF by its header, its one page and that
//    page's MediaBox, and also rasterised with pdftoppm where poppler-utils is installed.
#include <QtTest>

#include <QAction>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QLineEdit>
#include <QPainter>
#include <QPushButton>
#include <QRegularExpression>
#include <QSpinBox>
#include <QStandardPaths>
#include <QSvgRenderer>
#include <cmath>
#include <functional>

#include "app/lineage.h"
#include "app/main_window.h"
#include "app/run_controller.h"
#include "app/run_data.h"
#include "ipc/names.h"
#include "ipc/protocol.h"
#include "ipc/run_store.h"
#include "ui/chart_widget.h"
#include "ui/dashboard.h"
#include "ui/launch_dialog.h"

using grpo::app::MainWindow;
using grpo::ipc::RunStore;
using grpo::ui::LaunchDialog;
namespace protocol = grpo::ipc::protocol;

namespace {

// The tiny model of test_studio, as the dialog's "Other settings".
const char* kTinySettings =
    "model.init= model.d_model=32 model.n_layers=1 model.mlp_hidden=32 grpo.minibatches=1 sample_prompts=2 "
    "sampling.max_new_tokens=24 eval_every=0 checkpoint_every=0";

QAction* action(QWidget* window, const QString& text) {
  for (QAction* a : window->findChildren<QAction*>())
    if (a->text() == text) return a;
  return nullptr;
}

template <typename T>
T* open_top_level() {
  for (QWidget* w : QApplication::topLevelWidgets())
    if (auto* d = qobject_cast<T*>(w); d && d->isVisible()) return d;
  return nullptr;
}

// Answers the modal dialog of type T that `open` opens: `answer` runs on it once it shows (and again every
// 300 ms while it stays open: an answer given before the dialog was ready is given again).
template <typename T>
bool answer_modal(const std::function<void()>& open, const std::function<void(T*)>& answer) {
  int answers = 0;
  QElapsedTimer since;
  QTimer timer;
  timer.setInterval(20);
  QObject::connect(&timer, &QTimer::timeout, [&] {
    T* d = open_top_level<T>();
    if (!d || (answers > 0 && since.elapsed() < 300)) return;
    ++answers;
    since.start();
    answer(d);
  });
  timer.start();
  open();  // returns once the dialog is closed
  return answers > 0;
}

// File → Start a run…, filled in by `fill`, then Start.
bool start_from_dialog(MainWindow& w, const std::function<void(LaunchDialog*)>& fill) {
  QAction* start = action(&w, "&Start a run…");
  if (!start) return false;
  return answer_modal<LaunchDialog>([start] { start->trigger(); },
                                    [fill](LaunchDialog* d) {
                                      fill(d);
                                      for (auto* b : d->findChildren<QPushButton*>())
                                        if (b->text() == "Start") return b->click();
                                      d->reject();
                                    });
}

// The tiny run, as a user would fill the dialog in.
void fill_tiny(LaunchDialog* d, const QString& runs, const QString& name, const QString& more = {}) {
  d->findChild<QLineEdit*>("name")->setText(name);
  d->findChild<QLineEdit*>("runs_dir")->setText(runs);
  d->findChild<QSpinBox*>("max_steps")->setValue(3);
  d->findChild<QSpinBox*>("grpo.group_size")->setValue(2);
  d->findChild<QSpinBox*>("grpo.prompts_per_step")->setValue(2);
  d->findChild<QDoubleSpinBox*>("grpo.beta")->setValue(0);
  d->findChild<QDoubleSpinBox*>("optim.lr")->setValue(1e-4);
  d->findChild<QDoubleSpinBox*>("sampling.temperature")->setValue(0.9);
  d->findChild<QLineEdit*>("extra_settings")->setText(QString(kTinySettings) + " " + more);
}

// Saves through a file dialog the studio opens (its non-native one offscreen): `path` typed in, accepted.
bool save_through_dialog(const std::function<void()>& open, const QString& path) {
  return answer_modal<QFileDialog>(open, [path](QFileDialog* d) {
    // Typed into its file name field (selectFile leaves that field alone once it has the focus).
    if (auto* edit = d->findChild<QLineEdit*>("fileNameEdit"))
      edit->setText(path);
    else
      d->selectFile(path);
    QMetaObject::invokeMethod(d, "accept");  // what its Save button does
  });
}

bool run_to_end(const QStringList& args) {
  QProcess p;
  p.start(GRPO_TRAIN_EXE, args);
  const bool ok = p.waitForFinished(120000) && p.exitCode() == 0;
  if (!ok) qWarning("%s", p.readAllStandardError().constData());
  return ok;
}

int colours(const QImage& image) {  // distinct colours (a blank page has one)
  QSet<QRgb> seen;
  for (int y = 0; y < image.height(); y += 3)
    for (int x = 0; x < image.width(); x += 3) seen.insert(image.pixel(x, y));
  return static_cast<int>(seen.size());
}

}  // namespace

class TestStudioLaunch : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private slots:
  void initTestCase() {
    QCoreApplication::setOrganizationName("GRPO Studio Tests");
    QSettings().clear();
  }

  void the_launch_dialog_starts_a_run_that_trains() {
    const QString runs = dir_.path() + "/ok";
    MainWindow w(runs, GRPO_TRAIN_EXE);
    w.show();
    QVERIFY(start_from_dialog(w, [&](LaunchDialog* d) { fill_tiny(d, runs, "dialog"); }));
    const QString run_dir = QDir(runs).filePath("dialog");
    const QString id = grpo::app::run_id_of_dir(run_dir);
    QVERIFY2(QTest::qWaitFor(
                 [&] {
                   return w.run(id) && w.controller(id) && !w.controller(id)->trainer_running() &&
                          w.run(id)->state == protocol::kStateFinished;
                 },
                 60000),
             qPrintable(w.banner_text()));
    auto store = RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString());
    QCOMPARE(store.last_step(), int64_t{3});
    const auto config = nlohmann::json::parse(store.meta("config").value_or("{}"));
    QCOMPARE(config["optim"]["lr"].get<double>(), 1e-4);  // the dialog's fields
    QCOMPARE(config["grpo"]["group_size"].get<int>(), 2);
    QCOMPARE(config["grpo"]["beta"].get<double>(), 0.0);
    QCOMPARE(config["sampling"]["temperature"].get<double>(), 0.9);
    QCOMPARE(config["model"]["d_model"].get<int>(), 32);  // and its other settings
    QCOMPARE(w.dashboard()->point_count(id, grpo::ipc::metric::kReward), 3);
    QCOMPARE(w.active_run(), id);
  }

  void a_refused_config_shows_the_trainers_message() {
    const QString runs = dir_.path() + "/refused";
    MainWindow w(runs, GRPO_TRAIN_EXE);
    w.show();
    // Out of range (the lr field stops at 1e-6; the other settings come after it and win).
    QVERIFY(start_from_dialog(w, [&](LaunchDialog* d) { fill_tiny(d, runs, "lr", "optim.lr=-1"); }));
    QVERIFY2(QTest::qWaitFor([&] { return w.banner_text().contains("exit code 2"); }, 30000),
             qPrintable(w.banner_text()));
    QVERIFY2(w.banner_text().contains("'optim.lr' = -1 is out of range (0, 10]"),
             qPrintable(w.banner_text()));

    // A config file with a key grpo-train does not know (chosen as "File…" does: added to the list).
    const QString bad = dir_.path() + "/bad.json";
    {
      QFile f(bad);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write(R"({"optim": {"lr": 1e-4}, "bogus_key": 3})");
    }
    QVERIFY(start_from_dialog(w, [&](LaunchDialog* d) {
      fill_tiny(d, runs, "bad");
      auto* config = d->findChild<QComboBox*>("config");
      config->addItem("bad.json", bad);
      config->setCurrentIndex(config->count() - 1);
    }));
    QVERIFY2(QTest::qWaitFor([&] { return w.banner_text().contains("bogus_key"); }, 30000),
             qPrintable(w.banner_text()));
    QVERIFY2(
        w.banner_text().contains("unknown config key 'bogus_key'") && w.banner_text().contains("exit code 2"),
        qPrintable(w.banner_text()));
    QVERIFY(!QDir(runs).exists("bad"));  // nothing was started
  }

  void a_missing_grpo_train_says_where_it_looked() {
    const QString runs = dir_.path() + "/missing";
    const QString nowhere = dir_.path() + "/no/such/grpo-train";
    {
      MainWindow w(runs, nowhere);
      w.show();
      QVERIFY(start_from_dialog(w, [&](LaunchDialog* d) { fill_tiny(d, runs, "m"); }));
      QVERIFY2(w.banner_text().contains("not found at " + nowhere), qPrintable(w.banner_text()));
      QVERIFY(!w.controller(grpo::app::run_id_of_dir(QDir(runs).filePath("m"))));
    }
    // None found at all: every place it looked at.
    MainWindow w(runs, QString());
    w.show();
    QVERIFY(start_from_dialog(w, [&](LaunchDialog* d) { fill_tiny(d, runs, "m"); }));
    const QString expected =
        QDir::cleanPath(QCoreApplication::applicationDirPath() + "/../trainer/grpo-train");
    QVERIFY2(w.banner_text().contains(expected) && w.banner_text().contains("GRPO_TRAIN") &&
                 w.banner_text().contains("on PATH"),
             qPrintable(w.banner_text()));
  }

  void exported_metrics_equal_the_store() {
    const QString runs = dir_.path() + "/csv";
    const QString run_dir = QDir(runs).filePath("e");
    // Evaluations too (step 0 and every 2 steps): rows with other metrics than the training steps'.
    QVERIFY(run_to_end({"run",   "--runs-dir",
                        runs,    "--name",
                        "e",     "--quiet",
                        "--set", "max_steps=4",
                        "--set", "model.init=",
                        "--set", "model.d_model=32",
                        "--set", "model.n_layers=1",
                        "--set", "model.mlp_hidden=32",
                        "--set", "grpo.prompts_per_step=2",
                        "--set", "grpo.group_size=2",
                        "--set", "grpo.minibatches=1",
                        "--set", "sample_prompts=2",
                        "--set", "sampling.max_new_tokens=24",
                        "--set", "eval_every=2",
                        "--set", "eval_prompts=8",
                        "--set", "checkpoint_every=0"}));
    MainWindow w(runs, GRPO_TRAIN_EXE);
    w.show();
    QVERIFY(w.open_run(run_dir));
    const QString csv = dir_.path() + "/e.csv";
    QVERIFY(save_through_dialog([&] { action(&w, "Export metrics as &CSV…")->trigger(); }, csv));
    QFile f(csv);
    QVERIFY2(f.open(QIODevice::ReadOnly), "File → Export metrics as CSV wrote nothing");
    const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
    auto store = RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString());
    const QStringList header = lines.value(0).split(',');
    QCOMPARE(header.value(0), QString("step"));
    QStringList names;
    for (const auto& n : store.metric_names()) names << QString::fromStdString(n);
    QCOMPARE(header.mid(1), names);  // every stored metric, in name order
    QSet<int64_t> stored_steps;
    for (const auto& n : store.metric_names())
      for (const auto& p : store.metric_series(n)) stored_steps.insert(p.step);
    QCOMPARE(lines.size() - 1, static_cast<int>(stored_steps.size()));
    QVERIFY(stored_steps.contains(0) && stored_steps.contains(4));
    int compared = 0, empty = 0;
    for (const QString& line : lines.mid(1)) {
      const QStringList cells = line.split(',');
      QCOMPARE(cells.size(), header.size());
      bool ok = false;
      const int64_t step = cells[0].toLongLong(&ok);
      QVERIFY(ok && stored_steps.contains(step));
      const auto values = store.metrics_at(step);
      for (int i = 1; i < cells.size(); ++i) {
        const auto it = values.find(header[i].toStdString());
        if (cells[i].isEmpty()) {  // not logged at this step, or undefined there (NULL, NaN)
          QVERIFY2(
              it == values.end() || std::isnan(it->second),
              qPrintable(QString("step %1 %2: empty, stored %3").arg(step).arg(header[i]).arg(it->second)));
          ++empty;
          continue;
        }
        QVERIFY2(it != values.end(), qPrintable(QString("step %1 %2: not stored").arg(step).arg(header[i])));
        const double v = cells[i].toDouble(&ok);
        QVERIFY2(ok && v == it->second, qPrintable(QString("step %1 %2: CSV %3, store %4")
                                                       .arg(step)
                                                       .arg(header[i], cells[i])
                                                       .arg(it->second, 0, 'g', 17)));
        ++compared;
      }
    }
    QVERIFY(compared > 100);
    QVERIFY(empty > 0);  // evaluation rows lack the training metrics
  }

  void charts_export_images_of_the_requested_size() {
    const QString runs = dir_.path() + "/img";
    QVERIFY(run_to_end({"run",   "--runs-dir",
                        runs,    "--name",
                        "i",     "--quiet",
                        "--set", "max_steps=3",
                        "--set", "model.init=",
                        "--set", "model.d_model=32",
                        "--set", "model.n_layers=1",
                        "--set", "model.mlp_hidden=32",
                        "--set", "grpo.prompts_per_step=2",
                        "--set", "grpo.group_size=2",
                        "--set", "grpo.minibatches=1",
                        "--set", "sample_prompts=2",
                        "--set", "sampling.max_new_tokens=24",
                        "--set", "eval_every=0",
                        "--set", "checkpoint_every=0"}));
    MainWindow w(runs, GRPO_TRAIN_EXE);
    w.resize(1400, 900);
    w.show();
    QVERIFY(w.open_run(QDir(runs).filePath("i")));
    grpo::ui::ChartWidget* chart = w.dashboard()->chart("Reward");
    QVERIFY(chart->width() > 100 && chart->height() > 100);

    // The chart's "Export chart…": a file dialog, then the chart as it is on screen.
    const QString shown = dir_.path() + "/shown.png";
    QVERIFY(save_through_dialog([&] { emit chart->export_requested(chart); }, shown));
    QImage on_screen(shown);
    QCOMPARE(on_screen.size(), chart->size());
    QVERIFY(colours(on_screen) > 3);

    const QSize size(640, 480);
    const QString png = dir_.path() + "/chart.png";
    QVERIFY(chart->save(png, size.width(), size.height()));
    QImage image(png);
    QCOMPARE(image.size(), size);
    QVERIFY(colours(image) > 3);

    const QString svg = dir_.path() + "/chart.svg";
    QVERIFY(chart->save(svg, size.width(), size.height()));
    QSvgRenderer renderer(svg);
    QVERIFY(renderer.isValid());
    QCOMPARE(renderer.defaultSize(), size);
    QCOMPARE(renderer.viewBox(), QRect(QPoint(0, 0), size));
    QImage drawn(size, QImage::Format_ARGB32);
    drawn.fill(Qt::white);
    QPainter painter(&drawn);
    renderer.render(&painter);
    painter.end();
    QVERIFY(colours(drawn) > 3);

    const QString pdf = dir_.path() + "/chart.pdf";
    QVERIFY(chart->save(pdf, size.width(), size.height()));
    QFile f(pdf);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray bytes = f.readAll();
    QVERIFY(bytes.startsWith("%PDF-1."));
    QVERIFY(bytes.trimmed().endsWith("%%EOF"));
    QCOMPARE(QString::fromLatin1(bytes).count(QRegularExpression(R"(/Type\s*/Page(?!s)\b)")), 1);  // one page
    const auto box =
        QRegularExpression(R"(/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\])")
            .match(QString::fromLatin1(bytes));
    QVERIFY2(box.hasMatch(), "no MediaBox");
    QCOMPARE(box.captured(3).toDouble() - box.captured(1).toDouble(), 640.0);  // points
    QCOMPARE(box.captured(4).toDouble() - box.captured(2).toDouble(), 480.0);
    const QString pdftoppm = QStandardPaths::findExecutable("pdftoppm");
    if (pdftoppm.isEmpty()) {
      qInfo("PDF checked by its header, its one page and the page's MediaBox (pdftoppm is not installed)");
      return;
    }
    qInfo("PDF checked by its header, its one page, its MediaBox and as rasterised by pdftoppm");
    QProcess raster;  // at 72 dpi a point is a pixel
    raster.start(pdftoppm, {"-r", "72", "-png", "-singlefile", pdf, dir_.path() + "/pdf"});
    QVERIFY(raster.waitForFinished(30000) && raster.exitCode() == 0);
    QImage page(dir_.path() + "/pdf.png");
    QCOMPARE(page.size(), size);
    QVERIFY(colours(page) > 3);
  }
};

QTEST_MAIN(TestStudioLaunch)
#include "test_studio_launch.moc"

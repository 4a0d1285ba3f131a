// The studio ingesting a fast live run: the real MainWindow launches a tiny grpo-train (tens of steps a
// second, every metric and sample published) and attaches; a 2 ms timer on the GUI thread measures the
// longest gap between its ticks (the longest stall) while metric points arrive. Offscreen.
#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>
#include <cstdio>

#include <qcustomplot.h>

#include "app/main_window.h"
#include "app/trainer_process.h"
#include "ui/chart_widget.h"
#include "ui/dashboard.h"

#include "bench/timed_application.h"

int main(int argc, char** argv) {
  qputenv("QT_QPA_PLATFORM", "offscreen");
  TimedApplication app(argc, argv);
  QCoreApplication::setOrganizationName("GRPO Studio Bench");
  const double seconds = argc > 1 ? std::atof(argv[1]) : 20.0;
  QTemporaryDir dir;
  const QString runs = dir.path() + "/runs";
  grpo::app::MainWindow w(runs, grpo::app::find_trainer({}));
  w.resize(1500, 950);
  w.show();
  QStringList args = {"run", "--runs-dir", runs, "--name", "fast", "--quiet"};
  for (const char* kv : {"max_steps=1000000", "model.init=", "model.d_model=32", "model.n_layers=1", "model.mlp_hidden=32",
                         "grpo.prompts_per_step=2", "grpo.group_size=2", "grpo.minibatches=1", "sample_prompts=2",
                         "sampling.max_new_tokens=24", "eval_every=0", "checkpoint_every=0"})
    args << "--set" << kv;
  const QString run_dir = QDir(runs).filePath("fast");
  w.launch(args, run_dir);
  const QString id = QDir(run_dir).absolutePath();

  QElapsedTimer clock, since_tick;
  qint64 worst_ns = 0;
  int first_step = -1;
  QTimer tick;
  tick.setTimerType(Qt::PreciseTimer);
  QObject::connect(&tick, &QTimer::timeout, [&] {
    if (clock.isValid()) worst_ns = std::max(worst_ns, since_tick.nsecsElapsed());
    since_tick.restart();
  });
  QTimer::singleShot(8000, [&] {  // let the trainer start and the studio attach
    app.worst_ns = 0;
    auto* r = w.run(id);
    first_step = r ? r->step : 0;
    clock.start();
    since_tick.start();
    tick.start(2);
  });
  QTimer::singleShot(static_cast<int>(8000 + seconds * 1000), [&] {
    auto* r = w.run(id);
    const int steps = (r ? r->step : 0) - first_step;
    int series = r ? static_cast<int>(r->metrics.size()) : 0;
    std::printf("slowest single event: %.1f ms in %s\n", app.worst_ns / 1e6, qPrintable(app.worst));
    for (auto* c : w.dashboard()->charts()) {  // which chart costs what, as the run ends
      QElapsedTimer t;
      t.start();
      c->plot()->replot(QCustomPlot::rpImmediateRefresh);
      std::printf("  replot %-28s %6.1f ms\n", qPrintable(c->plot()->plotLayout()->element(0, 0)->property("text").toString()),
                  t.nsecsElapsed() / 1e6);
    }
    std::printf("ingested %d steps in %.1f s: %.0f steps/s, %.0f metric points/s (%d series); longest GUI-thread stall %.1f ms\n",
                steps, seconds, steps / seconds, steps * series / seconds, series, worst_ns / 1e6);
    QApplication::quit();
  });
  return QApplication::exec();
}

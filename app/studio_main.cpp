// grpo-studio: launches, watches and steers grpo-train runs. With --demo it starts the built-in demo run
// on the embedded defaults. --screenshot takes a picture of the window after a delay and exits (docs).
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QScreen>
#include <QTimer>
#include <cstdio>

#include "app/main_window.h"
#include "app/trainer_process.h"
#include "ui/trace_inspector.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QCoreApplication::setOrganizationName("GRPO Studio");
  QCoreApplication::setApplicationName("grpo-studio");
  QCoreApplication::setApplicationVersion("0.1.0");

  QCommandLineParser cli;
  cli.setApplicationDescription("GRPO Studio: launch, watch and steer GRPO training runs.");
  cli.addHelpOption();
  cli.addVersionOption();
  QCommandLineOption runs_dir({"r", "runs-dir"}, "Folder of run folders (listed in the Runs panel).", "DIR", "runs");
  QCommandLineOption demo("demo", "Start the built-in demo run (the embedded defaults).");
  QCommandLineOption open("open", "Open a run folder (finished or live); repeatable.", "DIR");
  QCommandLineOption attach("attach", "Attach to a live trainer: its run folder, or EVENTS,CONTROL endpoints.", "WHERE");
  QCommandLineOption trainer("trainer", "The grpo-train executable (default: found next to this one, or on PATH).", "FILE");
  QCommandLineOption tab("tab", "Start on this tab: dashboard, traces, compare or log.", "NAME", "dashboard");
  QCommandLineOption heat("heat-map", "Trace heat map: none, improbability, delta, entropy or kl.", "NAME", "none");
  QCommandLineOption shot("screenshot", "Save a screenshot of the window to FILE, then quit.", "FILE");
  QCommandLineOption shot_after("screenshot-after", "Seconds to wait before the screenshot.", "SECONDS", "5");
  QCommandLineOption quit_after("quit-after", "Quit after this many seconds.", "SECONDS");
  cli.addOptions({runs_dir, demo, open, attach, trainer, tab, heat, shot, shot_after, quit_after});
  cli.process(app);

  const QString trainer_path = grpo::app::find_trainer(cli.value(trainer));
  grpo::app::MainWindow window(cli.value(runs_dir), trainer_path);
  window.show();
  window.scan_runs_dir();
  for (const auto& dir : cli.values(open))
    if (!window.open_run(dir)) std::fprintf(stderr, "grpo-studio: cannot open run folder %s\n", qPrintable(dir));
  if (cli.isSet(attach)) {
    const QString where = cli.value(attach);
    if (QDir(where).exists()) {
      window.open_run(where);
    } else if (where.contains(',')) {
      window.attach({where.section(',', 0, 0).toStdString(), where.section(',', 1, 1).toStdString()});
    } else {
      std::fprintf(stderr, "grpo-studio: --attach takes a run folder or EVENTS,CONTROL endpoints\n");
      return 2;
    }
  }
  if (cli.isSet(demo)) window.launch_demo();
  const QStringList tabs = {"dashboard", "traces", "compare", "log"};
  window.tabs()->setCurrentIndex(std::max<qsizetype>(0, tabs.indexOf(cli.value(tab))));
  const QStringList heats = {"none", "improbability", "delta", "entropy", "kl"};
  if (heats.indexOf(cli.value(heat)) < 0) {
    std::fprintf(stderr, "grpo-studio: --heat-map takes none, improbability, delta, entropy or kl\n");
    return 2;
  }
  window.inspector()->set_heat_map(static_cast<grpo::ui::TraceInspector::HeatMap>(heats.indexOf(cli.value(heat))));

  if (cli.isSet(shot)) {
    const QString file = cli.value(shot);
    QTimer::singleShot(static_cast<int>(cli.value(shot_after).toDouble() * 1000), &window, [&window, file] {
      const bool ok = window.grab().save(file);
      std::fprintf(ok ? stdout : stderr, "%s %s\n", ok ? "screenshot" : "cannot write", qPrintable(file));
      QApplication::exit(ok ? 0 : 1);
    });
  }
  if (cli.isSet(quit_after))
    QTimer::singleShot(static_cast<int>(cli.value(quit_after).toDouble() * 1000), &app, &QApplication::quit);
  return QApplication::exec();
}

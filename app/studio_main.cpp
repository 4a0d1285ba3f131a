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

namespace {
// Without any display Qt aborts with a message about its xcb plugin; say what to do instead. --help and
// --version need no window, so they are answered offscreen.
bool check_display(int argc, char** argv) {
  if (qEnvironmentVariableIsSet("QT_QPA_PLATFORM") || qEnvironmentVariableIsSet("DISPLAY") ||
      qEnvironmentVariableIsSet("WAYLAND_DISPLAY"))
    return true;
  for (int i = 1; i < argc; ++i) {
    const QByteArray a(argv[i]);
    if (a == "-h" || a == "--help" || a == "--help-all" || a == "-v" || a == "--version") {
      qputenv("QT_QPA_PLATFORM", "offscreen");
      return true;
    }
  }
  std::fprintf(stderr,
               "grpo-studio: no display (DISPLAY and WAYLAND_DISPLAY are unset). Run it under xvfb-run -a, or set "
               "QT_QPA_PLATFORM=offscreen for screenshots; to train in a terminal use grpo-train run.\n");
  return false;
}
}  // namespace

int main(int argc, char** argv) {
  if (!check_display(argc, argv)) return 2;
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
  QCommandLineOption tab("tab", "Start on this tab: dashboard, traces, traces-compared, compare or log.",
                         "NAME", "dashboard");
  QCommandLineOption heat("heat-map", "Trace heat map: none, improbability, delta, entropy or kl.", "NAME", "none");
  QCommandLineOption shot("screenshot", "Save a screenshot of the window to FILE, then quit.", "FILE");
  QCommandLineOption shot_after("screenshot-after", "Seconds to wait before the screenshot.", "SECONDS", "5");
  QCommandLineOption quit_after("quit-after", "Quit after this many seconds.", "SECONDS");
  cli.addOptions({runs_dir, demo, open, attach, trainer, tab, heat, shot, shot_after, quit_after});
  cli.process(app);
  // Every option is checked before anything starts.
  const QStringList tabs = {"dashboard", "traces", "traces-compared", "compare", "log"};  // the tabs' order
  if (tabs.indexOf(cli.value(tab)) < 0) {
    std::fprintf(stderr, "grpo-studio: --tab takes dashboard, traces, traces-compared, compare or log, not %s\n",
                 qPrintable(cli.value(tab)));
    return 2;
  }
  const QStringList heats = {"none", "improbability", "delta", "entropy", "kl"};
  if (heats.indexOf(cli.value(heat)) < 0) {
    std::fprintf(stderr, "grpo-studio: --heat-map takes none, improbability, delta, entropy or kl, not %s\n",
                 qPrintable(cli.value(heat)));
    return 2;
  }
  for (const QCommandLineOption* o : {&shot_after, &quit_after}) {
    bool ok = true;
    if (cli.isSet(*o) && (cli.value(*o).toDouble(&ok) < 0 || !ok)) {
      std::fprintf(stderr, "grpo-studio: --%s takes seconds (a number >= 0), not %s\n", qPrintable(o->names().first()),
                   qPrintable(cli.value(*o)));
      return 2;
    }
  }
  const QString attach_to = cli.value(attach);
  if (cli.isSet(attach) && !QDir(attach_to).exists() && !attach_to.contains(',')) {
    std::fprintf(stderr, "grpo-studio: --attach takes a run folder or EVENTS,CONTROL endpoints, not %s\n",
                 qPrintable(attach_to));
    return 2;
  }

  const QString trainer_path = grpo::app::find_trainer(cli.value(trainer));
  grpo::app::MainWindow window(cli.value(runs_dir), trainer_path);
  window.show();
  window.scan_runs_dir();
  for (const auto& dir : cli.values(open))
    if (!window.open_run(dir)) std::fprintf(stderr, "grpo-studio: cannot open run folder %s\n", qPrintable(dir));
  if (cli.isSet(attach)) {
    if (QDir(attach_to).exists()) {
      window.open_run(attach_to);
    } else {
      window.attach({attach_to.section(',', 0, 0).toStdString(), attach_to.section(',', 1, 1).toStdString()});
    }
  }
  if (cli.isSet(demo)) window.launch_demo();
  window.tabs()->setCurrentIndex(static_cast<int>(tabs.indexOf(cli.value(tab))));
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

// Soak: a long run of a tiny grpo-train (thousands of steps, tens of milliseconds each) with the real studio
// attached offscreen, as `grpo-studio --attach <run folder>` does (MainWindow::open_run once the folder's
// endpoints.json appears; the dashboard tab showing the run). Every --interval seconds it records the
// trainer's RSS (/proc/<pid>/status VmRSS), the studio's own RSS, and the longest GUI-thread stall of the
// interval (a 5 ms timer: the gap between its ticks minus 5 ms; stalls > 50 ms are counted), with the slowest
// single event that names the stall and the machine's load average (other work on the 2 cores shows up as
// stalls). When the trainer has finished it checks that the studio holds what the
// store holds, step for step: for each of a few metrics the dashboard's point count equals the store's, the
// RunData values equal the stored ones at every step, and the Loss chart's points are the stored values.
// Prints a table, a summary and each chart's replot time at the end, writes them as JSON (--json), and exits
// 1 when the studio and store disagree or the trainer did not finish (2: bad arguments, 3: --timeout).
// Not a test; bench/soak.sh runs it. The trainer is started by this program (not by MainWindow::launch,
// which re-reads the store when its trainer exits and would hide what the live link missed).
#include <QApplication>
#include <QCommandLineParser>
#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QSettings>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "app/main_window.h"
#include "app/run_data.h"
#include "app/trainer_process.h"
#include "ipc/names.h"
#include "ipc/run_store.h"
#include <qcustomplot.h>

#include "ui/chart_widget.h"
#include "ui/dashboard.h"

namespace {

using nlohmann::json;

// Times every top-level event dispatch on the GUI thread, to name what the longest stall was spent on.
class TimedApplication : public QApplication {
 public:
  using QApplication::QApplication;
  bool notify(QObject* receiver, QEvent* event) override {
    if (depth_ > 0 || QThread::currentThread() != thread()) return QApplication::notify(receiver, event);
    // Read what names the event before dispatching it: the receiver may not survive it (deleteLater).
    const char* cls = receiver->metaObject()->className();
    const char* owner = receiver->parent() ? receiver->parent()->metaObject()->className() : nullptr;
    const QString name = receiver->objectName();  // this program's own timers are named
    const int type = event->type();
    ++depth_;
    QElapsedTimer t;
    t.start();
    const bool r = QApplication::notify(receiver, event);
    const qint64 ns = t.nsecsElapsed();
    --depth_;
    if (ns > worst_ns) {
      worst_ns = ns;
      worst = QString(cls) + (name.isEmpty() ? QString() : " \"" + name + "\"") +
              (owner ? QString(" in ") + owner : QString()) + QString(" (event %1)").arg(type);
    }
    return r;
  }
  qint64 worst_ns = 0;  // reset by the recorder every interval
  QString worst;

 private:
  int depth_ = 0;
};

// A /proc/<pid>/status field in MiB (kB in the file); -1 when the process or field is gone.
double proc_mib(const QString& pid, const char* field) {
  std::ifstream f(("/proc/" + pid + "/status").toStdString());
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(f, line))
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':')
      return std::atof(line.c_str() + n + 1) / 1024.0;
  return -1;
}

// The machine's 1-minute load average: other work on the same cores shows up as GUI stalls.
double load_average() {
  std::ifstream f("/proc/loadavg");
  double l = -1;
  f >> l;
  return l;
}

double file_mib(const QString& path) {
  const QFileInfo fi(path);
  return fi.exists() ? fi.size() / 1048576.0 : 0.0;
}

struct Interval {
  double t = 0;          // seconds since the trainer started, at the interval's end
  int store_step = 0;    // the store's last step with metrics
  int studio_step = 0;   // the step the studio's RunData has reached
  double trainer_rss = -1, studio_rss = -1, store_mib = 0;  // MiB
  double load = -1;  // 1-minute load average
  double max_stall_ms = 0;
  int stalls_50 = 0;
  double slowest_event_ms = 0;
  QString slowest_event;
  bool trainer_alive = true;
};

bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

}  // namespace

int main(int argc, char** argv) {
  qputenv("QT_QPA_PLATFORM", "offscreen");
  TimedApplication app(argc, argv);
  QCoreApplication::setOrganizationName("GRPO Studio Soak");
  QCoreApplication::setApplicationName("bench_soak");

  QCommandLineParser cli;
  cli.setApplicationDescription("Soak: a long tiny run with the studio attached offscreen; RSS, GUI stalls, agreement.");
  cli.addHelpOption();
  QCommandLineOption steps_o("steps", "Training steps (max_steps).", "N", "5000");
  QCommandLineOption interval_o("interval", "Seconds between records.", "S", "10");
  QCommandLineOption warmup_o("warmup", "Seconds of warm-up: growth is measured from the first interval after it.",
                              "S", "30");
  QCommandLineOption json_o("json", "Write the machine-readable summary here.", "FILE");
  QCommandLineOption runs_o("runs-dir", "Keep the run here (default: a temporary folder, removed at the end).", "DIR");
  QCommandLineOption trainer_o("trainer", "The grpo-train executable (default: next to the studio's, or on PATH).",
                               "FILE");
  QCommandLineOption set_o("set", "Extra trainer config override (repeatable), after the soak's own.", "KEY=VALUE");
  QCommandLineOption metrics_o("metrics", "Metrics whose studio and store copies are compared.", "LIST",
                               "reward,loss,completions/mean_length");
  QCommandLineOption timeout_o("timeout", "Give up (stop the trainer, exit 3) after this many seconds.", "S", "3600");
  QCommandLineOption stall_o("stall-ms", "A stall longer than this is counted.", "MS", "50");
  cli.addOptions({steps_o, interval_o, warmup_o, json_o, runs_o, trainer_o, set_o, metrics_o, timeout_o, stall_o});
  cli.process(app);
  const int max_steps = cli.value(steps_o).toInt();
  const double interval_s = cli.value(interval_o).toDouble();
  const double warmup_s = cli.value(warmup_o).toDouble();
  const double timeout_s = cli.value(timeout_o).toDouble();
  const double stall_limit_ms = cli.value(stall_o).toDouble();
  const QStringList check_metrics = cli.value(metrics_o).split(',', Qt::SkipEmptyParts);
  if (max_steps <= 0 || interval_s <= 0 || timeout_s <= 0) {
    std::fprintf(stderr, "bench_soak: --steps, --interval and --timeout must be > 0\n");
    return 2;
  }

  // The studio's settings in a folder of their own: nothing read from, or left in, the user's.
  QTemporaryDir tmp;
  QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, tmp.filePath("settings"));
  QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, tmp.filePath("settings"));
  const QString runs = cli.isSet(runs_o) ? QDir(cli.value(runs_o)).absolutePath() : tmp.filePath("runs");
  QDir().mkpath(runs);
  const QString name = "soak-" + QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss");
  const QString run_dir = QDir(runs).filePath(name);
  const QString trainer = grpo::app::find_trainer(cli.value(trainer_o));
  if (trainer.isEmpty() || !QFileInfo(trainer).isExecutable()) {
    std::fprintf(stderr, "bench_soak: no grpo-train (give --trainer)\n");
    return 2;
  }

  grpo::app::MainWindow w(runs, trainer);
  w.resize(1500, 950);
  w.show();
  w.tabs()->setCurrentIndex(0);  // the dashboard

  // The trainer: the tiny random-init config, every sample and metric published.
  QStringList config = {"model.init=", "model.d_model=32", "model.n_layers=1", "model.n_heads=2",
                        "model.n_kv_heads=2", "model.mlp_hidden=32", "model.context=48",
                        "sampling.max_new_tokens=24", "grpo.prompts_per_step=4", "grpo.group_size=4",
                        "grpo.minibatches=1", "sample_prompts=1", "eval_every=50", "checkpoint_every=200",
                        "rewards.length=1", "rewards.length_target=12", "threads=1",
                        QString("max_steps=%1").arg(max_steps)};
  config << cli.values(set_o);
  QStringList args = {"run", "--runs-dir", runs, "--name", name, "--quiet"};
  for (const auto& kv : config) args << "--set" << kv;
  QProcess proc;
  proc.setProcessChannelMode(QProcess::MergedChannels);
  proc.setStandardOutputFile(QDir(runs).filePath(name + ".out"));
  QElapsedTimer clock;  // since the trainer started
  clock.start();
  proc.start(trainer, args);
  if (!proc.waitForStarted(10000)) {
    std::fprintf(stderr, "bench_soak: cannot start %s\n", qPrintable(trainer));
    return 2;
  }
  const QString pid = QString::number(proc.processId());
  std::fprintf(stderr, "bench_soak: trainer pid %s, run %s, %d steps; recording every %.0f s\n", qPrintable(pid),
               qPrintable(run_dir), max_steps, interval_s);

  // Stalls: a 5 ms timer on the GUI thread; a tick later than 5 ms after the previous one is a stall.
  constexpr double kTickMs = 5.0;
  QElapsedTimer since_tick;
  double interval_max_stall = 0, total_max_stall = 0;
  int interval_stalls = 0, total_stalls = 0;
  QTimer tick;
  tick.setObjectName("soak tick");
  tick.setTimerType(Qt::PreciseTimer);
  QObject::connect(&tick, &QTimer::timeout, [&] {
    if (since_tick.isValid()) {
      const double stall = std::max(0.0, since_tick.nsecsElapsed() / 1e6 - kTickMs);
      interval_max_stall = std::max(interval_max_stall, stall);
      total_max_stall = std::max(total_max_stall, stall);
      if (stall > stall_limit_ms) ++interval_stalls, ++total_stalls;
    }
    since_tick.restart();
  });
  tick.start(static_cast<int>(kTickMs));

  QString id;  // the run's id in the studio, once attached
  auto store_step = [&]() -> int {
    try {
      return static_cast<int>(grpo::ipc::RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString())
                                  .last_step());
    } catch (const std::exception&) {
      return 0;
    }
  };

  // Attach as the studio does once the run folder has its store and endpoints.json.
  QTimer attach_poll;
  attach_poll.setObjectName("soak attach");
  QObject::connect(&attach_poll, &QTimer::timeout, [&] {
    if (!QFile::exists(QDir(run_dir).filePath("endpoints.json")) || !QFile::exists(QDir(run_dir).filePath("run.sqlite")))
      return;
    attach_poll.stop();
    if (!w.open_run(run_dir)) {
      std::fprintf(stderr, "bench_soak: the studio cannot open %s: %s\n", qPrintable(run_dir),
                   qPrintable(w.banner_text()));
      return;
    }
    id = w.active_run();
    std::fprintf(stderr, "bench_soak: studio attached at %.1f s (store at step %d)\n", clock.elapsed() / 1e3,
                 store_step());
  });
  attach_poll.start(50);

  QVector<Interval> rows;
  double last_alive_t = 0;
  auto record = [&](bool trainer_alive) {
    Interval iv;
    iv.t = clock.elapsed() / 1e3;
    iv.store_step = store_step();
    const grpo::app::RunData* r = id.isEmpty() ? nullptr : w.run(id);
    iv.studio_step = r ? r->step : 0;
    iv.trainer_alive = trainer_alive;
    iv.trainer_rss = trainer_alive ? proc_mib(pid, "VmRSS") : -1;
    iv.studio_rss = proc_mib("self", "VmRSS");
    iv.store_mib = file_mib(QDir(run_dir).filePath("run.sqlite")) + file_mib(QDir(run_dir).filePath("run.sqlite-wal"));
    iv.load = load_average();
    iv.max_stall_ms = interval_max_stall;
    iv.stalls_50 = interval_stalls;
    iv.slowest_event_ms = app.worst_ns / 1e6;
    iv.slowest_event = app.worst;
    interval_max_stall = 0;
    interval_stalls = 0;
    app.worst_ns = 0;
    app.worst.clear();
    if (trainer_alive) last_alive_t = iv.t;
    rows << iv;
    std::fprintf(stderr, "  %7.1f s  step %5d (studio %5d)  trainer %s MiB  studio %7.1f MiB  stall %6.1f ms  load %.2f  %s\n",
                 iv.t, iv.store_step, iv.studio_step,
                 iv.trainer_rss >= 0 ? qPrintable(QString::number(iv.trainer_rss, 'f', 1)) : "(exited)", iv.studio_rss,
                 iv.max_stall_ms, iv.load,
                 qPrintable(iv.slowest_event));
  };
  QTimer recorder;
  recorder.setObjectName("soak recorder");
  QObject::connect(&recorder, &QTimer::timeout, [&] { record(proc.state() == QProcess::Running); });
  recorder.start(static_cast<int>(interval_s * 1000));

  int exit_code = 0;
  bool timed_out = false;
  QTimer deadline;
  deadline.setSingleShot(true);
  QObject::connect(&deadline, &QTimer::timeout, [&] {
    timed_out = true;
    std::fprintf(stderr, "bench_soak: timed out after %.0f s; stopping the trainer\n", timeout_s);
    proc.terminate();
    if (!proc.waitForFinished(30000)) proc.kill();
    QApplication::exit(3);
  });
  deadline.start(static_cast<int>(timeout_s * 1000));

  // The trainer finished: record the last (partial) interval, let the studio take the last records, check.
  double finished_t = 0, drain_s = 0;
  int trainer_exit = -1;
  QObject::connect(&proc, &QProcess::finished, [&](int code, QProcess::ExitStatus status) {
    if (timed_out) return;
    finished_t = clock.elapsed() / 1e3;
    trainer_exit = status == QProcess::NormalExit ? code : -1;
    recorder.stop();
    std::fprintf(stderr, "bench_soak: trainer exited (%d) at %.1f s\n", trainer_exit, finished_t);
    // Wait (up to 30 s) for the studio to hold the store's last record.
    auto* drain = new QTimer(&app);
    drain->setObjectName("soak drain");
    auto* waited = new QElapsedTimer;
    waited->start();
    int64_t store_seq = 0;
    try {
      store_seq = grpo::ipc::RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString()).last_seq();
    } catch (const std::exception&) {
    }
    QObject::connect(drain, &QTimer::timeout, [&, drain, waited, store_seq] {
      const grpo::app::RunData* r = id.isEmpty() ? nullptr : w.run(id);
      if ((!r || r->last_seq < store_seq) && waited->elapsed() < 30000) return;
      drain_s = waited->elapsed() / 1e3;
      drain->stop();
      delete waited;
      w.dashboard()->replot();
      record(false);
      QApplication::exit(0);
    });
    drain->start(100);
  });

  const int loop_rc = QApplication::exec();
  tick.stop();
  recorder.stop();
  if (loop_rc == 3) exit_code = 3;

  // --- Agreement: the store against the studio (RunData, the dashboard's point counts, the Loss chart).
  json checks = json::array();
  bool agree = !id.isEmpty();
  int store_last_step = 0;
  std::string store_state;
  const grpo::app::RunData* r = id.isEmpty() ? nullptr : w.run(id);
  try {
    auto store = grpo::ipc::RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString());
    store_last_step = static_cast<int>(store.last_step());
    store_state = store.meta("state").value_or("");
    for (const QString& m : check_metrics) {
      const auto pts = store.metric_series(m.toStdString());
      json c = {{"metric", m.toStdString()}, {"store_points", static_cast<int>(pts.size())}};
      const grpo::app::MetricSeries rd = r ? r->metrics.value(m) : grpo::app::MetricSeries{};
      const int drawn = r ? w.dashboard()->point_count(id, m) : 0;
      int mismatches = 0;
      json first;
      const int n = std::min<int>(static_cast<int>(pts.size()), rd.steps.size());
      for (int i = 0; i < n; ++i)
        if (rd.steps[i] != pts[i].step || !same(rd.values[i], pts[i].value)) {
          if (mismatches++ == 0)
            first = {{"index", i}, {"store_step", pts[i].step}, {"store_value", pts[i].value},
                     {"studio_step", rd.steps[i]}, {"studio_value", rd.values[i]}};
        }
      mismatches += std::abs(static_cast<int>(pts.size()) - static_cast<int>(rd.steps.size()));
      c["studio_points"] = static_cast<int>(rd.steps.size());
      c["dashboard_points"] = drawn;
      c["value_mismatches"] = mismatches;
      if (!first.is_null()) c["first_mismatch"] = first;
      const bool ok = !pts.empty() && drawn == static_cast<int>(pts.size()) && mismatches == 0;
      c["ok"] = ok;
      agree &= ok;
      checks.push_back(c);
    }
    // The Loss chart (one series per run): its point nearest each stored step is that step's stored value.
    if (auto* chart = w.dashboard()->chart("Loss"); chart && r) {
      const auto pts = store.metric_series(grpo::ipc::metric::kLoss);
      int mismatches = 0;
      for (const auto& p : pts) {
        const auto cp = chart->nearest_point(static_cast<double>(p.step));
        if (!cp || cp->x != static_cast<double>(p.step) || !same(cp->y, p.value)) ++mismatches;
      }
      const bool ok = !pts.empty() && mismatches == 0;
      checks.push_back(json{{"metric", "loss (Loss chart's drawn points)"}, {"store_points", static_cast<int>(pts.size())},
                        {"value_mismatches", mismatches}, {"ok", ok}});
      agree &= ok;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_soak: cannot read the store: %s\n", e.what());
    agree = false;
  }
  const bool finished = trainer_exit == 0 && store_last_step == max_steps && store_state == "finished";
  const bool studio_finished = r && r->state == "finished";

  // --- The table and the summary.
  std::printf("\nsoak: %d steps of the tiny config (d_model 32, 1 layer, 4 prompts x 4, 24 new tokens), studio "
              "attached offscreen; a record every %.0f s\n\n",
              max_steps, interval_s);
  std::printf("| time (s) | step | steps/s | trainer RSS (MiB) | studio RSS (MiB) | store (MiB) | longest stall (ms) | stalls > %.0f ms | slowest event (ms) | load |\n",
              stall_limit_ms);
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  double prev_t = 0;
  int prev_step = 0;
  for (const auto& iv : rows) {
    // steps/s over the interval; "-" for the last record when it came right after the one before
    const QString rate = iv.t - prev_t >= 1.0 ? QString::number((iv.store_step - prev_step) / (iv.t - prev_t), 'f', 0)
                                              : QString("-");
    std::printf("| %.0f | %d | %s | %s | %.1f | %.1f | %.1f | %d | %.1f %s | %.2f |\n", iv.t, iv.store_step, qPrintable(rate),
                iv.trainer_rss >= 0 ? qPrintable(QString::number(iv.trainer_rss, 'f', 1)) : "(exited)", iv.studio_rss,
                iv.store_mib, iv.max_stall_ms, iv.stalls_50, iv.slowest_event_ms, qPrintable(iv.slowest_event), iv.load);
    prev_t = iv.t;
    prev_step = iv.store_step;
  }
  // Growth: from the first interval that ends after the warm-up to the last one (the trainer's: the last
  // while it was alive).
  const Interval* base = nullptr;
  for (const auto& iv : rows)
    if (iv.t >= warmup_s) {
      base = &iv;
      break;
    }
  const Interval* last_alive = nullptr;
  for (const auto& iv : rows)
    if (iv.trainer_alive && iv.trainer_rss >= 0) last_alive = &iv;
  const Interval* last = rows.isEmpty() ? nullptr : &rows.last();
  json summary = json::object();
  auto growth = [&](const char* who, const Interval* end, double Interval::*field) {
    if (!base || !end || end->t <= base->t || base->*field < 0) {
      std::printf("%s RSS growth: not measured (the run is shorter than the warm-up plus one interval)\n", who);
      summary[std::string(who) + "_rss"] = nullptr;
      return;
    }
    const double g = end->*field - base->*field;
    const int dsteps = std::max(1, end->store_step - base->store_step);
    double peak = 0;
    for (const auto& iv : rows) peak = std::max(peak, iv.*field);
    std::printf("%s RSS: %.1f MiB at %.0f s (step %d) -> %.1f MiB at %.0f s (step %d): %+.1f MiB (%+.2f MiB per 1000 "
                "steps); peak %.1f MiB\n",
                who, base->*field, base->t, base->store_step, end->*field, end->t, end->store_step, g,
                g * 1000.0 / dsteps, peak);
    summary[std::string(who) + "_rss"] = {{"from_mib", base->*field}, {"from_t", base->t}, {"from_step", base->store_step},
                                          {"to_mib", end->*field},    {"to_t", end->t},     {"to_step", end->store_step},
                                          {"growth_mib", g},          {"growth_mib_per_1000_steps", g * 1000.0 / dsteps},
                                          {"peak_mib", peak}};
  };
  std::printf("\n");
  growth("trainer", last_alive, &Interval::trainer_rss);
  growth("studio", last, &Interval::studio_rss);
  std::printf("longest GUI-thread stall: %.1f ms; stalls > %.0f ms: %d\n", total_max_stall, stall_limit_ms, total_stalls);
  std::printf("trainer: exit code %d, store at step %d of %d, state %s, %.1f s (%.1f steps/s); studio took the last "
              "records %.1f s after the exit, its state %s\n",
              trainer_exit, store_last_step, max_steps, store_state.c_str(), finished_t,
              finished_t > 0 ? store_last_step / finished_t : 0.0, drain_s, r ? qPrintable(r->state) : "(not attached)");
  for (const auto& c : checks) {
    std::printf("agreement %-34s store %5d points, studio %5s, dashboard %5s, mismatched values %d: %s\n",
                c["metric"].get<std::string>().c_str(), c["store_points"].get<int>(),
                c.contains("studio_points") ? std::to_string(c["studio_points"].get<int>()).c_str() : "-",
                c.contains("dashboard_points") ? std::to_string(c["dashboard_points"].get<int>()).c_str() : "-",
                c["value_mismatches"].get<int>(), c["ok"].get<bool>() ? "agree" : "DISAGREE");
    if (c.contains("first_mismatch")) std::printf("  first mismatch: %s\n", c["first_mismatch"].dump().c_str());
  }
  std::printf("agreement: %s\n", agree ? "PASS" : "FAIL");
  // What one redraw of each chart costs now that it holds the whole run (the dashboard redraws every chart).
  json replots = json::object();
  double replot_total = 0;
  QStringList replot_parts;
  for (auto* c : w.dashboard()->charts()) {
    QElapsedTimer t;
    t.start();
    c->plot()->replot(QCustomPlot::rpImmediateRefresh);
    const double ms = t.nsecsElapsed() / 1e6;
    const QString title = c->plot()->plotLayout()->element(0, 0)->property("text").toString();
    replots[title.toStdString()] = ms;
    replot_total += ms;
    replot_parts << QString("%1 %2").arg(title).arg(ms, 0, 'f', 1);
  }
  std::printf("replot of each chart at the end (ms): %s; all %zu: %.1f ms\n", qPrintable(replot_parts.join(", ")),
              static_cast<size_t>(w.dashboard()->charts().size()), replot_total);
  summary["replot_ms_at_end"] = replots;
  summary["replot_all_ms_at_end"] = replot_total;
  if (exit_code == 0 && !agree) exit_code = 1;
  if (exit_code == 0 && !finished) exit_code = 1;

  summary["steps"] = max_steps;
  summary["interval_s"] = interval_s;
  summary["warmup_s"] = warmup_s;
  summary["config"] = json::array();
  for (const auto& kv : config) summary["config"].push_back(kv.toStdString());
  summary["trainer_exit"] = trainer_exit;
  summary["trainer_seconds"] = finished_t;
  summary["store_last_step"] = store_last_step;
  summary["store_state"] = store_state;
  summary["trainer_finished"] = finished;
  summary["studio_state"] = r ? r->state.toStdString() : "";
  summary["studio_finished"] = studio_finished;
  summary["studio_drain_s"] = drain_s;
  summary["max_stall_ms"] = total_max_stall;
  summary["stall_limit_ms"] = stall_limit_ms;
  summary["stalls_over_limit"] = total_stalls;
  summary["agreement"] = checks;
  summary["agree"] = agree;
  summary["timed_out"] = timed_out;
  summary["exit_code"] = exit_code;
  json ivs = json::array();
  for (const auto& iv : rows)
    ivs.push_back(json{{"t", iv.t},
                   {"step", iv.store_step},
                   {"studio_step", iv.studio_step},
                   {"trainer_rss_mib", iv.trainer_rss >= 0 ? json(iv.trainer_rss) : json()},
                   {"studio_rss_mib", iv.studio_rss},
                   {"store_mib", iv.store_mib},
                   {"max_stall_ms", iv.max_stall_ms},
                   {"stalls_over_limit", iv.stalls_50},
                   {"slowest_event_ms", iv.slowest_event_ms},
                   {"load_1min", iv.load},
                   {"slowest_event", iv.slowest_event.toStdString()}});
  summary["intervals"] = ivs;
  if (cli.isSet(json_o)) {
    std::ofstream out(cli.value(json_o).toStdString());
    out << summary.dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "bench_soak: cannot write %s\n", qPrintable(cli.value(json_o)));
      if (exit_code == 0) exit_code = 2;
    }
  }
  if (!cli.isSet(runs_o)) QDir(run_dir).removeRecursively();
  return exit_code;
}

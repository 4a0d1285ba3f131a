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
#include <optional>
#include <utility>

#include "app/main_window.h"
#include "app/run_data.h"
#include "app/trainer_process.h"
#include "ipc/names.h"
#include "ipc/run_store.h"
#include <qcustomplot.h>

#include "ui/chart_widget.h"
#include "ui/dashboard.h"

#include "bench/soak_agreement.h"
#include "bench/timed_application.h"

namespace {

using nlohmann::json;

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

// The command line.
struct SoakOptions {
  int max_steps = 0;
  double interval_s = 0, warmup_s = 0, timeout_s = 0, stall_limit_ms = 0;
  QStringList check_metrics;  // compared between the studio and the store
  QStringList extra_config;   // --set, after the soak's own
  QString trainer_hint;       // --trainer as given (empty: find it)
  bool keep_run = false;      // --runs-dir given: the run is kept there
  QString runs_dir;
  bool write_json = false;  // --json given
  QString json_path;
};

// --help and malformed options exit here, as QCommandLineParser::process does; nullopt (exit 2) for a
// value out of range.
std::optional<SoakOptions> parse_options(QApplication& app) {
  QCommandLineParser cli;
  cli.setApplicationDescription(
      "Soak: a long tiny run with the studio attached offscreen; RSS, GUI stalls, agreement.");
  cli.addHelpOption();
  QCommandLineOption steps_o("steps", "Training steps (max_steps).", "N", "5000");
  QCommandLineOption interval_o("interval", "Seconds between records.", "S", "10");
  QCommandLineOption warmup_o(
      "warmup", "Seconds of warm-up: growth is measured from the first interval after it.", "S", "30");
  QCommandLineOption json_o("json", "Write the machine-readable summary here.", "FILE");
  QCommandLineOption runs_o("runs-dir",
                            "Keep the run here (default: a temporary folder, removed at the end).", "DIR");
  QCommandLineOption trainer_o(
      "trainer", "The grpo-train executable (default: next to the studio's, or on PATH).", "FILE");
  QCommandLineOption set_o("set", "Extra trainer config override (repeatable), after the soak's own.",
                           "KEY=VALUE");
  QCommandLineOption metrics_o("metrics", "Metrics whose studio and store copies are compared.", "LIST",
                               "reward,loss,completions/mean_length");
  QCommandLineOption timeout_o("timeout", "Give up (stop the trainer, exit 3) after this many seconds.", "S",
                               "3600");
  QCommandLineOption stall_o("stall-ms", "A stall longer than this is counted.", "MS", "50");
  cli.addOptions(
      {steps_o, interval_o, warmup_o, json_o, runs_o, trainer_o, set_o, metrics_o, timeout_o, stall_o});
  cli.process(app);
  SoakOptions o;
  o.max_steps = cli.value(steps_o).toInt();
  o.interval_s = cli.value(interval_o).toDouble();
  o.warmup_s = cli.value(warmup_o).toDouble();
  o.timeout_s = cli.value(timeout_o).toDouble();
  o.stall_limit_ms = cli.value(stall_o).toDouble();
  o.check_metrics = cli.value(metrics_o).split(',', Qt::SkipEmptyParts);
  if (o.max_steps <= 0 || o.interval_s <= 0 || o.timeout_s <= 0) {
    std::fprintf(stderr, "bench_soak: --steps, --interval and --timeout must be > 0\n");
    return std::nullopt;
  }
  o.extra_config = cli.values(set_o);
  o.trainer_hint = cli.value(trainer_o);
  o.keep_run = cli.isSet(runs_o);
  o.runs_dir = cli.value(runs_o);
  o.write_json = cli.isSet(json_o);
  o.json_path = cli.value(json_o);
  return o;
}

// Where the run goes, and the trainer that makes it.
struct RunPlan {
  QString runs;        // the runs folder
  QString name;        // soak-<date>-<time>
  QString run_dir;     // runs/name
  QString trainer;     // the grpo-train executable
  QStringList config;  // its --set overrides
};

// The trainer: the tiny random-init config, every sample and metric published.
QStringList trainer_config(int max_steps, const QStringList& extra) {
  QStringList config = {"model.init=",
                        "model.d_model=32",
                        "model.n_layers=1",
                        "model.n_heads=2",
                        "model.n_kv_heads=2",
                        "model.mlp_hidden=32",
                        "model.context=48",
                        "sampling.max_new_tokens=24",
                        "grpo.prompts_per_step=4",
                        "grpo.group_size=4",
                        "grpo.minibatches=1",
                        "sample_prompts=1",
                        "eval_every=50",
                        "checkpoint_every=200",
                        "rewards.length=1",
                        "rewards.length_target=12",
                        "threads=1"};
  config << QString("max_steps=%1").arg(max_steps) << extra;
  return config;
}

// Points the studio's settings into tmp, makes the runs folder (in tmp without --runs-dir) and finds the
// trainer; nullopt (exit 2) when there is none.
std::optional<RunPlan> plan_run(const SoakOptions& o, const QTemporaryDir& tmp) {
  // The studio's settings in a folder of their own: nothing read from, or left in, the user's.
  QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, tmp.filePath("settings"));
  QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, tmp.filePath("settings"));
  RunPlan p;
  p.runs = o.keep_run ? QDir(o.runs_dir).absolutePath() : tmp.filePath("runs");
  QDir().mkpath(p.runs);
  p.name = "soak-" + QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss");
  p.run_dir = QDir(p.runs).filePath(p.name);
  p.trainer = grpo::app::find_trainer(o.trainer_hint);
  if (p.trainer.isEmpty() || !QFileInfo(p.trainer).isExecutable()) {
    std::fprintf(stderr, "bench_soak: no grpo-train (give --trainer)\n");
    return std::nullopt;
  }
  p.config = trainer_config(o.max_steps, o.extra_config);
  return p;
}

// Starts the trainer (output to <runs>/<name>.out) and clock with it; its pid, empty when it did not start.
QString start_trainer(QProcess& proc, QElapsedTimer& clock, const SoakOptions& o, const RunPlan& p) {
  QStringList args = {"run", "--runs-dir", p.runs, "--name", p.name, "--quiet"};
  for (const auto& kv : p.config) args << "--set" << kv;
  proc.setProcessChannelMode(QProcess::MergedChannels);
  proc.setStandardOutputFile(QDir(p.runs).filePath(p.name + ".out"));
  clock.start();
  proc.start(p.trainer, args);
  if (!proc.waitForStarted(10000)) {
    std::fprintf(stderr, "bench_soak: cannot start %s\n", qPrintable(p.trainer));
    return QString();
  }
  const QString pid = QString::number(proc.processId());
  std::fprintf(stderr, "bench_soak: trainer pid %s, run %s, %d steps; recording every %.0f s\n",
               qPrintable(pid), qPrintable(p.run_dir), o.max_steps, o.interval_s);
  return pid;
}

// The store's last step with metrics; 0 while it cannot be read.
int store_step(const QString& run_dir) {
  try {
    return static_cast<int>(
        grpo::ipc::RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString())
            .last_step());
  } catch (const std::exception&) {
    return 0;
  }
}

// Stalls: a 5 ms timer on the GUI thread; a tick later than 5 ms after the previous one is a stall.
class StallMeter {
 public:
  explicit StallMeter(double limit_ms) : limit_ms_(limit_ms) {
    tick_.setObjectName("soak tick");
    tick_.setTimerType(Qt::PreciseTimer);
    QObject::connect(&tick_, &QTimer::timeout, [this] { tick(); });
  }
  void start() { tick_.start(static_cast<int>(kTickMs)); }
  void stop() { tick_.stop(); }
  double interval_max_ms() const { return interval_max_; }
  int interval_stalls() const { return interval_stalls_; }  // over the limit
  void next_interval() { interval_max_ = 0, interval_stalls_ = 0; }
  double total_max_ms() const { return total_max_; }
  int total_stalls() const { return total_stalls_; }

 private:
  static constexpr double kTickMs = 5.0;
  void tick() {
    if (since_tick_.isValid()) {
      const double stall = std::max(0.0, since_tick_.nsecsElapsed() / 1e6 - kTickMs);
      interval_max_ = std::max(interval_max_, stall);
      total_max_ = std::max(total_max_, stall);
      if (stall > limit_ms_) ++interval_stalls_, ++total_stalls_;
    }
    since_tick_.restart();
  }
  const double limit_ms_;
  QElapsedTimer since_tick_;
  double interval_max_ = 0, total_max_ = 0;
  int interval_stalls_ = 0, total_stalls_ = 0;
  QTimer tick_;
};

// What the soak recorded, and how it ended.
struct SoakRun {
  QVector<Interval> rows;
  double total_max_stall = 0;  // ms: the run's longest GUI-thread stall
  int total_stalls = 0;        // longer than --stall-ms
  int trainer_exit = -1;       // its exit code; -1: it crashed, or did not exit
  double finished_t = 0;       // seconds from the trainer's start to its exit
  double drain_s = 0;          // seconds from its exit until the studio held the store's last record
  QString id;                  // the run's id in the studio, once attached
  bool timed_out = false;
  int loop_rc = 0;  // the event loop's exit code: 3 after --timeout
};

// The soak proper, around the event loop: the stall meter, the attach poll, the recorder, the deadline and,
// once the trainer has finished, the drain. The connections from objects that outlive it (the trainer, the
// drain timer) have scope_ as their context: nothing it captures is used once it is gone.
class Soak {
 public:
  Soak(TimedApplication& app, grpo::app::MainWindow& w, QProcess& proc, const QElapsedTimer& clock,
       QString pid, const SoakOptions& o, QString run_dir);
  SoakRun run();  // until the studio has the finished run's last records, or --timeout

 private:
  void attach();
  void record(bool trainer_alive);
  void stop_at_deadline();
  void trainer_finished(int code, QProcess::ExitStatus status);
  void drain_tick(QTimer* drain, QElapsedTimer* waited, int64_t store_seq);

  TimedApplication& app_;
  grpo::app::MainWindow& w_;
  QProcess& proc_;
  const QElapsedTimer& clock_;
  const QString pid_;
  const SoakOptions& o_;
  const QString run_dir_;
  QObject scope_;
  StallMeter stalls_;
  QTimer attach_poll_, recorder_, deadline_;
  SoakRun out_;
};

Soak::Soak(TimedApplication& app, grpo::app::MainWindow& w, QProcess& proc, const QElapsedTimer& clock,
           QString pid, const SoakOptions& o, QString run_dir)
    : app_(app),
      w_(w),
      proc_(proc),
      clock_(clock),
      pid_(std::move(pid)),
      o_(o),
      run_dir_(std::move(run_dir)),
      stalls_(o.stall_limit_ms) {
  attach_poll_.setObjectName("soak attach");
  QObject::connect(&attach_poll_, &QTimer::timeout, [this] { attach(); });
  recorder_.setObjectName("soak recorder");
  QObject::connect(&recorder_, &QTimer::timeout, [this] { record(proc_.state() == QProcess::Running); });
  deadline_.setSingleShot(true);
  QObject::connect(&deadline_, &QTimer::timeout, [this] { stop_at_deadline(); });
  QObject::connect(&proc_, &QProcess::finished, &scope_,
                   [this](int code, QProcess::ExitStatus status) { trainer_finished(code, status); });
}

SoakRun Soak::run() {
  stalls_.start();
  attach_poll_.start(50);
  recorder_.start(static_cast<int>(o_.interval_s * 1000));
  deadline_.start(static_cast<int>(o_.timeout_s * 1000));
  out_.loop_rc = QApplication::exec();
  stalls_.stop();
  recorder_.stop();
  out_.total_max_stall = stalls_.total_max_ms();
  out_.total_stalls = stalls_.total_stalls();
  return out_;
}

// Attach as the studio does once the run folder has its store and endpoints.json.
void Soak::attach() {
  if (!QFile::exists(QDir(run_dir_).filePath("endpoints.json")) ||
      !QFile::exists(QDir(run_dir_).filePath("run.sqlite")))
    return;
  attach_poll_.stop();
  if (!w_.open_run(run_dir_)) {
    std::fprintf(stderr, "bench_soak: the studio cannot open %s: %s\n", qPrintable(run_dir_),
                 qPrintable(w_.banner_text()));
    return;
  }
  out_.id = w_.active_run();
  std::fprintf(stderr, "bench_soak: studio attached at %.1f s (store at step %d)\n", clock_.elapsed() / 1e3,
               store_step(run_dir_));
}

// A row: the store's and studio's steps, both RSS, the store's size, the interval's stalls and slowest event.
void Soak::record(bool trainer_alive) {
  Interval iv;
  iv.t = clock_.elapsed() / 1e3;
  iv.store_step = store_step(run_dir_);
  const grpo::app::RunData* r = out_.id.isEmpty() ? nullptr : w_.run(out_.id);
  iv.studio_step = r ? r->step : 0;
  iv.trainer_alive = trainer_alive;
  iv.trainer_rss = trainer_alive ? proc_mib(pid_, "VmRSS") : -1;
  iv.studio_rss = proc_mib("self", "VmRSS");
  iv.store_mib =
      file_mib(QDir(run_dir_).filePath("run.sqlite")) + file_mib(QDir(run_dir_).filePath("run.sqlite-wal"));
  iv.load = load_average();
  iv.max_stall_ms = stalls_.interval_max_ms();
  iv.stalls_50 = stalls_.interval_stalls();
  iv.slowest_event_ms = app_.worst_ns / 1e6;
  iv.slowest_event = app_.worst;
  stalls_.next_interval();
  app_.worst_ns = 0;
  app_.worst.clear();
  out_.rows << iv;
  std::fprintf(
      stderr,
      "  %7.1f s  step %5d (studio %5d)  trainer %s MiB  studio %7.1f MiB  stall %6.1f ms  load %.2f  %s\n",
      iv.t, iv.store_step, iv.studio_step,
      iv.trainer_rss >= 0 ? qPrintable(QString::number(iv.trainer_rss, 'f', 1)) : "(exited)", iv.studio_rss,
      iv.max_stall_ms, iv.load, qPrintable(iv.slowest_event));
}

void Soak::stop_at_deadline() {
  out_.timed_out = true;
  std::fprintf(stderr, "bench_soak: timed out after %.0f s; stopping the trainer\n", o_.timeout_s);
  proc_.terminate();
  if (!proc_.waitForFinished(30000)) proc_.kill();
  QApplication::exit(3);
}

// The trainer finished: record the last (partial) interval, let the studio take the last records, check.
void Soak::trainer_finished(int code, QProcess::ExitStatus status) {
  if (out_.timed_out) return;
  out_.finished_t = clock_.elapsed() / 1e3;
  out_.trainer_exit = status == QProcess::NormalExit ? code : -1;
  recorder_.stop();
  std::fprintf(stderr, "bench_soak: trainer exited (%d) at %.1f s\n", out_.trainer_exit, out_.finished_t);
  // Wait (up to 30 s) for the studio to hold the store's last record.
  auto* drain = new QTimer(&app_);
  drain->setObjectName("soak drain");
  auto* waited = new QElapsedTimer;
  waited->start();
  int64_t store_seq = 0;
  try {
    store_seq =
        grpo::ipc::RunStore::open_for_reading(QDir(run_dir_).filePath("run.sqlite").toStdString()).last_seq();
  } catch (const std::exception&) {
  }
  QObject::connect(drain, &QTimer::timeout, &scope_,
                   [this, drain, waited, store_seq] { drain_tick(drain, waited, store_seq); });
  drain->start(100);
}

// Every 100 ms after the trainer's exit, until the studio holds the store's last record (or 30 s): the last
// row, and the end of the event loop.
void Soak::drain_tick(QTimer* drain, QElapsedTimer* waited, int64_t store_seq) {
  const grpo::app::RunData* r = out_.id.isEmpty() ? nullptr : w_.run(out_.id);
  if ((!r || r->last_seq < store_seq) && waited->elapsed() < 30000) return;
  out_.drain_s = waited->elapsed() / 1e3;
  drain->stop();
  delete waited;
  w_.dashboard()->replot();
  record(false);
  QApplication::exit(0);
}

// The table: a row per record.
void print_table(const SoakOptions& o, const QVector<Interval>& rows) {
  std::printf(
      "\nsoak: %d steps of the tiny config (d_model 32, 1 layer, 4 prompts x 4, 24 new tokens), studio "
      "attached offscreen; a record every %.0f s\n\n",
      o.max_steps, o.interval_s);
  std::printf(
      "| time (s) | step | steps/s | trainer RSS (MiB) | studio RSS (MiB) | store (MiB) | longest stall (ms) "
      "| stalls > %.0f ms | slowest event (ms) | load |\n",
      o.stall_limit_ms);
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  double prev_t = 0;
  int prev_step = 0;
  for (const auto& iv : rows) {
    // steps/s over the interval; "-" for the last record when it came right after the one before
    const QString rate = iv.t - prev_t >= 1.0
                             ? QString::number((iv.store_step - prev_step) / (iv.t - prev_t), 'f', 0)
                             : QString("-");
    std::printf("| %.0f | %d | %s | %s | %.1f | %.1f | %.1f | %d | %.1f %s | %.2f |\n", iv.t, iv.store_step,
                qPrintable(rate),
                iv.trainer_rss >= 0 ? qPrintable(QString::number(iv.trainer_rss, 'f', 1)) : "(exited)",
                iv.studio_rss, iv.store_mib, iv.max_stall_ms, iv.stalls_50, iv.slowest_event_ms,
                qPrintable(iv.slowest_event), iv.load);
    prev_t = iv.t;
    prev_step = iv.store_step;
  }
}

// One process's RSS (field) from base to end, printed; its summary entry (null when not measured).
json rss_growth(const char* who, const QVector<Interval>& rows, const Interval* base, const Interval* end,
                double Interval::*field) {
  if (!base || !end || end->t <= base->t || base->*field < 0) {
    std::printf("%s RSS growth: not measured (the run is shorter than the warm-up plus one interval)\n", who);
    return nullptr;
  }
  const double g = end->*field - base->*field;
  const int dsteps = std::max(1, end->store_step - base->store_step);
  double peak = 0;
  for (const auto& iv : rows) peak = std::max(peak, iv.*field);
  std::printf(
      "%s RSS: %.1f MiB at %.0f s (step %d) -> %.1f MiB at %.0f s (step %d): %+.1f MiB (%+.2f MiB per 1000 "
      "steps); peak %.1f MiB\n",
      who, base->*field, base->t, base->store_step, end->*field, end->t, end->store_step, g,
      g * 1000.0 / dsteps, peak);
  return {{"from_mib", base->*field},
          {"from_t", base->t},
          {"from_step", base->store_step},
          {"to_mib", end->*field},
          {"to_t", end->t},
          {"to_step", end->store_step},
          {"growth_mib", g},
          {"growth_mib_per_1000_steps", g * 1000.0 / dsteps},
          {"peak_mib", peak}};
}

// The table, the RSS growth (its entries into summary), the stalls, the trainer's end and the agreement.
void print_report(const SoakOptions& o, const SoakRun& run, const Agreement& a, const grpo::app::RunData* r,
                  json& summary) {
  print_table(o, run.rows);
  // Growth: from the first interval that ends after the warm-up to the last one (the trainer's: the last
  // while it was alive).
  const Interval* base = nullptr;
  for (const auto& iv : run.rows)
    if (iv.t >= o.warmup_s) {
      base = &iv;
      break;
    }
  const Interval* last_alive = nullptr;
  for (const auto& iv : run.rows)
    if (iv.trainer_alive && iv.trainer_rss >= 0) last_alive = &iv;
  const Interval* last = run.rows.isEmpty() ? nullptr : &run.rows.last();
  std::printf("\n");
  summary["trainer_rss"] = rss_growth("trainer", run.rows, base, last_alive, &Interval::trainer_rss);
  summary["studio_rss"] = rss_growth("studio", run.rows, base, last, &Interval::studio_rss);
  std::printf("longest GUI-thread stall: %.1f ms; stalls > %.0f ms: %d\n", run.total_max_stall,
              o.stall_limit_ms, run.total_stalls);
  std::printf(
      "trainer: exit code %d, store at step %d of %d, state %s, %.1f s (%.1f steps/s); studio took the last "
      "records %.1f s after the exit, its state %s\n",
      run.trainer_exit, a.store_last_step, o.max_steps, a.store_state.c_str(), run.finished_t,
      run.finished_t > 0 ? a.store_last_step / run.finished_t : 0.0, run.drain_s,
      r ? qPrintable(r->state) : "(not attached)");
  print_agreement(a);
}

// What one redraw of each chart costs now that it holds the whole run (the dashboard redraws every chart).
void time_replots(const grpo::ui::Dashboard& dashboard, json& summary) {
  json replots = json::object();
  double replot_total = 0;
  QStringList replot_parts;
  for (auto* c : dashboard.charts()) {
    QElapsedTimer t;
    t.start();
    c->plot()->replot(QCustomPlot::rpImmediateRefresh);
    const double ms = t.nsecsElapsed() / 1e6;
    const QString title = c->plot()->plotLayout()->element(0, 0)->property("text").toString();
    replots[title.toStdString()] = ms;
    replot_total += ms;
    replot_parts << QString("%1 %2").arg(title).arg(ms, 0, 'f', 1);
  }
  std::printf("replot of each chart at the end (ms): %s; all %zu: %.1f ms\n",
              qPrintable(replot_parts.join(", ")), static_cast<size_t>(dashboard.charts().size()),
              replot_total);
  summary["replot_ms_at_end"] = replots;
  summary["replot_all_ms_at_end"] = replot_total;
}

json intervals_json(const QVector<Interval>& rows) {
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
  return ivs;
}

// The rest of the summary: options, how the trainer and the studio ended, stalls, checks, the rows.
void add_run_summary(json& summary, const SoakOptions& o, const RunPlan& p, const SoakRun& run,
                     const Agreement& a, const grpo::app::RunData* r, bool finished, int exit_code) {
  summary["steps"] = o.max_steps;
  summary["interval_s"] = o.interval_s;
  summary["warmup_s"] = o.warmup_s;
  summary["config"] = json::array();
  for (const auto& kv : p.config) summary["config"].push_back(kv.toStdString());
  summary["trainer_exit"] = run.trainer_exit;
  summary["trainer_seconds"] = run.finished_t;
  summary["store_last_step"] = a.store_last_step;
  summary["store_state"] = a.store_state;
  summary["trainer_finished"] = finished;
  summary["studio_state"] = r ? r->state.toStdString() : "";
  summary["studio_finished"] = r && r->state == "finished";
  summary["studio_drain_s"] = run.drain_s;
  summary["max_stall_ms"] = run.total_max_stall;
  summary["stall_limit_ms"] = o.stall_limit_ms;
  summary["stalls_over_limit"] = run.total_stalls;
  summary["agreement"] = a.checks;
  summary["agree"] = a.agree;
  summary["timed_out"] = run.timed_out;
  summary["exit_code"] = exit_code;
  summary["intervals"] = intervals_json(run.rows);
}

// false (with a message) when the file cannot be written.
bool write_summary(const json& summary, const QString& path) {
  std::ofstream out(path.toStdString());
  out << summary.dump(2) << "\n";
  if (!out) {
    std::fprintf(stderr, "bench_soak: cannot write %s\n", qPrintable(path));
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  qputenv("QT_QPA_PLATFORM", "offscreen");
  TimedApplication app(argc, argv);
  QCoreApplication::setOrganizationName("GRPO Studio Soak");
  QCoreApplication::setApplicationName("bench_soak");
  const std::optional<SoakOptions> opt = parse_options(app);
  if (!opt) return 2;

  QTemporaryDir tmp;  // the studio's settings, and the run without --runs-dir
  const std::optional<RunPlan> plan = plan_run(*opt, tmp);
  if (!plan) return 2;
  grpo::app::MainWindow w(plan->runs, plan->trainer);
  w.resize(1500, 950);
  w.show();
  w.tabs()->setCurrentIndex(0);  // the dashboard
  QProcess proc;
  QElapsedTimer clock;  // since the trainer started
  const QString pid = start_trainer(proc, clock, *opt, *plan);
  if (pid.isEmpty()) return 2;
  // The Soak, with its timers and the connections that capture it, goes once its event loop has returned.
  const SoakRun run = Soak(app, w, proc, clock, pid, *opt, plan->run_dir).run();

  const Agreement a = check_agreement(w, run.id, plan->run_dir, opt->check_metrics);
  const grpo::app::RunData* r = run.id.isEmpty() ? nullptr : w.run(run.id);
  const bool finished =
      run.trainer_exit == 0 && a.store_last_step == opt->max_steps && a.store_state == "finished";
  json summary = json::object();
  print_report(*opt, run, a, r, summary);
  time_replots(*w.dashboard(), summary);
  int exit_code = run.loop_rc == 3 ? 3 : 0;
  if (exit_code == 0 && !a.agree) exit_code = 1;
  if (exit_code == 0 && !finished) exit_code = 1;
  add_run_summary(summary, *opt, *plan, run, a, r, finished, exit_code);
  if (opt->write_json && !write_summary(summary, opt->json_path) && exit_code == 0) exit_code = 2;
  if (!opt->keep_run) QDir(plan->run_dir).removeRecursively();
  return exit_code;
}

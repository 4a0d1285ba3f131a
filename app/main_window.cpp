// Main window (see main_window.h).
#include "app/main_window.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QLabel>
#include <QPlainTextEdit>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QVBoxLayout>

#include "app/alerts.h"
#include "app/close_choice.h"
#include "app/lineage.h"
#include "app/traces_compared.h"
#include "ipc/protocol.h"
#include "ui/alert_banner.h"
#include "ui/chart_widget.h"
#include "ui/control_panel.h"
#include "ui/dashboard.h"
#include "ui/hparam_diff.h"
#include "ui/runs_panel.h"
#include "ui/trace_inspector.h"

namespace grpo::app {

using nlohmann::json;
namespace protocol = ipc::protocol;

namespace {
// Stable run colours (Tableau 10), assigned in the order runs appear.
const QColor kRunColors[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44), QColor(214, 39, 40),
                             QColor(148, 103, 189), QColor(140, 86, 75),  QColor(227, 119, 194), QColor(127, 127, 127),
                             QColor(188, 189, 34),  QColor(23, 190, 207)};
}  // namespace

MainWindow::MainWindow(QString runs_dir, QString trainer, QWidget* parent)
    : QMainWindow(parent), runs_dir_(std::move(runs_dir)), trainer_(std::move(trainer)) {
  setWindowTitle(tr("GRPO Studio"));
  dashboard_ = new ui::Dashboard;
  inspector_ = new ui::TraceInspector;
  control_ = new ui::ControlPanel;
  runs_ = new ui::RunsPanel;
  diff_ = new ui::HparamDiffTable;
  compared_ = new TracesCompared;
  alert_banner_ = new ui::AlertBanner;
  alerts_ = new AlertCenter(alert_banner_, this);
  log_ = new QPlainTextEdit;
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(20000);
  banner_ = new QLabel;
  banner_->setWordWrap(true);
  banner_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  banner_->hide();

  tabs_ = new QTabWidget;
  tabs_->addTab(dashboard_, tr("Dashboard"));
  tabs_->addTab(inspector_, tr("Traces"));
  tabs_->addTab(compared_, tr("Traces compared"));
  tabs_->addTab(diff_, tr("Compare"));
  tabs_->addTab(log_, tr("Log"));
  connect(tabs_, &QTabWidget::currentChanged, this, [this] {
    if (tabs_->currentWidget() == inspector_) refresh_inspector_steps();
    if (tabs_->currentWidget() == compared_) refresh_compared();
  });
  auto* centre = new QWidget;
  auto* cl = new QVBoxLayout(centre);
  cl->setContentsMargins(4, 4, 4, 4);
  cl->addWidget(banner_);
  cl->addWidget(alert_banner_);
  cl->addWidget(tabs_);
  setCentralWidget(centre);

  auto* runs_dock = new QDockWidget(tr("Runs"));
  runs_dock->setObjectName("runs");
  runs_dock->setWidget(runs_);
  addDockWidget(Qt::LeftDockWidgetArea, runs_dock);
  auto* control_dock = new QDockWidget(tr("Control"));
  control_dock->setObjectName("control");
  control_dock->setWidget(control_);
  addDockWidget(Qt::RightDockWidgetArea, control_dock);
  build_menus();
  statusBar()->showMessage(tr("Runs folder: %1").arg(QDir(runs_dir_).absolutePath()));

  replot_timer_.setSingleShot(true);
  replot_timer_.setInterval(33);
  connect(&replot_timer_, &QTimer::timeout, dashboard_, &ui::Dashboard::replot);

  connect(runs_, &ui::RunsPanel::checked_changed, this, &MainWindow::set_overlay);
  connect(runs_, &ui::RunsPanel::current_changed, this, &MainWindow::set_active_run);
  connect(runs_, &ui::RunsPanel::resume_requested, this, [this](const QString& id) { resume_run(id); });
  connect(runs_, &ui::RunsPanel::annotation_changed, this, [](const QString& id, const QString& tags, const QString& notes) {
    QSettings s;
    s.setValue("runs/" + QString(id).replace('/', '|') + "/tags", tags);
    s.setValue("runs/" + QString(id).replace('/', '|') + "/notes", notes);
  });
  connect(inspector_, &ui::TraceInspector::step_requested, this, [this](int step) {
    if (RunData* r = run(active_)) inspector_->set_samples(step, r->samples(step));
  });
  connect(dashboard_, &ui::Dashboard::export_requested, this, &MainWindow::export_chart);
  dashboard_->set_fork_enabled(true);
  connect(dashboard_, &ui::Dashboard::fork_requested, this, &MainWindow::request_fork);
  connect(alerts_, &AlertCenter::fork_requested, this, &MainWindow::request_fork);
  connect(alerts_, &AlertCenter::resume_requested, this, [this](const QString& id) {
    RunController* c = controller(id);
    if (c && c->live()) return c->resume();
    show_banner(tr("%1 is not live: nothing to resume.").arg(run(id) ? run(id)->name : id), true);
  });
  connect(control_, &ui::ControlPanel::pause_requested, this, [this] {
    if (RunController* c = live_active(protocol::kCmdPause)) c->pause();
  });
  connect(control_, &ui::ControlPanel::resume_requested, this, [this] {
    if (RunController* c = live_active(protocol::kCmdResume)) c->resume();
  });
  connect(control_, &ui::ControlPanel::stop_requested, this, [this] {
    if (RunController* c = live_active(protocol::kCmdStop)) c->stop();
  });
  connect(control_, &ui::ControlPanel::checkpoint_requested, this, [this] {
    if (RunController* c = live_active(protocol::kCmdCheckpoint)) c->checkpoint();
  });
  connect(control_, &ui::ControlPanel::set_requested, this, [this](const QMap<QString, QVariant>& values) {
    if (RunController* c = live_active(protocol::kCmdSet)) c->set(values);
  });

  QSettings settings;
  restoreGeometry(settings.value("window/geometry").toByteArray());
  restoreState(settings.value("window/state").toByteArray());
  if (!settings.contains("window/geometry")) resize(1500, 950);
  dashboard_->set_x_axis(static_cast<ui::Dashboard::XAxis>(settings.value("charts/x_axis", 0).toInt()));
}

MainWindow::~MainWindow() {
  // No signals into a half-destroyed window; a launched trainer still running is stopped (SIGTERM).
  for (auto& [id, c] : controllers_) c->disconnect(this);
  controllers_.clear();
}

RunData* MainWindow::run(const QString& id) {
  auto it = runs_data_.find(id);
  if (it == runs_data_.end() && !id.isEmpty() && !id.contains("://")) it = runs_data_.find(run_id_of_dir(id));
  return it == runs_data_.end() ? nullptr : it->second.get();
}

RunController* MainWindow::controller(const QString& id) const {
  auto it = controllers_.find(id);
  return it == controllers_.end() ? nullptr : it->second.get();
}

RunData& MainWindow::ensure_run(const QString& id, const QString& name, const QString& dir, bool list) {
  auto it = runs_data_.find(id);
  if (it == runs_data_.end()) {
    auto r = std::make_unique<RunData>();
    r->id = id;
    r->name = name;
    r->dir = dir;
    r->color = kRunColors[next_color_++ % 10];
    it = runs_data_.emplace(id, std::move(r)).first;
  }
  RunData& ref = *it->second;
  if (list && !listed_.contains(id)) {
    listed_.insert(id);
    QSettings s;
    const QString key = "runs/" + QString(id).replace('/', '|');
    runs_->upsert({id, ref.name, ref.state_text(), ref.step, ref.color, s.value(key + "/tags").toString(),
                   s.value(key + "/notes").toString(), parent_id(ref), resumable(ref)});
  }
  return ref;
}

void MainWindow::update_run_entry(const RunData& r) {
  if (listed_.contains(r.id))
    runs_->upsert({r.id, r.name, r.state_text(), r.step, r.color, {}, {}, parent_id(r), resumable(r)});
}

RunController& MainWindow::ensure_controller(RunData& run) {
  auto& slot = controllers_[run.id];
  if (slot) return *slot;
  slot = std::make_unique<RunController>(run);
  RunController* c = slot.get();
  connect(c, &RunController::hello_received, this, [this, c](const QVector<ui::LiveParam>& params) {
    RunData& r = c->run();
    if (r.id == active_) {
      control_->set_params(params);
      control_->set_connected(true);
      control_->set_state(r.state, r.step, r.state_reason);
    }
    update_run_entry(r);
    runs_->set_checked(r.id, true);
    if (r.is_fork()) on_lineage_known(r);  // its hello names its parent
    refresh_diff();
  });
  connect(c, &RunController::state_changed, this,
          [this, c](const QString& state, int step, const QString& reason) {
            if (c->id() == active_) control_->set_state(state, step, reason);
            alerts_->state_changed(c->run(), state);
          });
  connect(c, &RunController::data_changed, this,
          [this, c](const RunData::Delta& d) { on_data_changed(c->run(), d); });
  connect(c, &RunController::reply_received, this,
          [this, c](const QString&, bool ok, const QString& message) {
            if (!ok && c->id() == active_) control_->set_error(message);
          });
  connect(c, &RunController::set_accepted, this,
          [this, c](const QMap<QString, QVariant>& values, int from_step) {
            if (c->id() == active_) control_->set_pending(values, from_step);
          });
  connect(c, &RunController::silent_changed, this, [this, c](bool silent, double seconds) {
    if (c->id() != active_) return;
    if (silent)
      return control_->set_connected(false,
                                     tr("trainer silent (no heartbeat for %1 s)").arg(seconds, 0, 'f', 0));
    control_->set_connected(true);
    control_->set_state(c->run().state, c->run().step);
  });
  connect(c, &RunController::log_line, log_, &QPlainTextEdit::appendPlainText);
  connect(c, &RunController::banner, this, &MainWindow::show_banner);
  connect(c, &RunController::endpoints_ready, this, [this, c](const QString& dir) {
    banner_->hide();
    RunData& r = c->run();
    if (listed_.contains(r.id) && r.last_seq > 0) {
      // Held already (a resumed run): follow its new trainer from the newest record held; the resume
      // event drops what it replays.
      c->detach();
      try {
        attach(ipc::Client::read_endpoints(dir.toStdString()), dir);
      } catch (const std::exception& e) {
        show_banner(e.what(), true);
      }
    } else {
      open_run(dir);
    }
    set_active_run(run_id_of_dir(dir));
  });
  connect(c, &RunController::died, this, [this, c](const QString& message) {
    update_run_entry(c->run());
    if (c->id() == active_) control_->set_connected(false, message);
    offer_resume(c->run());
  });
  connect(c, &RunController::process_finished, this, [this, c](int code, bool crashed, const QString&) {
    RunData& r = c->run();
    const bool ok = !crashed && code == 0;
    // A trainer that exits stops publishing: what the link had not received yet is in its store.
    if (QFile::exists(QDir(r.dir).filePath("run.sqlite"))) {
      if (listed_.contains(r.id))
        reload_run(r);
      else if (ok)
        open_run(r.dir);  // a run too short to be seen live
    }
    if (ok) return;
    if (!r.dead()) r.state = protocol::kStateFailed;  // dead: the store says running; it can be resumed
    update_run_entry(r);
    if (c->id() == active_) control_->set_connected(false, tr("trainer ended: exit code %1").arg(code));
  });
  return *c;
}

RunController* MainWindow::live_active(const QString& what) {
  RunController* c = controller(active_);
  if (c && c->live()) return c;
  show_banner(tr("The selected run is not live: nothing to %1.").arg(what), true);
  return nullptr;
}

void MainWindow::on_data_changed(RunData& r, const RunData::Delta& d) {
  const bool shown = dashboard_->runs().contains(r.id);
  if (shown && d.truncated_after >= 0) {
    show_run_on_charts(r);  // a resume dropped steps: redrawn from what the run holds now
    schedule_replot();
  } else if (shown) {
    if (!d.axis_steps.isEmpty()) dashboard_->set_axis_data(r.id, d.axis_steps, d.axis_seconds, d.axis_tokens);
    for (auto it = d.metrics.begin(); it != d.metrics.end(); ++it)
      dashboard_->append_metric(r.id, it.key(), it->steps, it->values);
    if (d.markers) dashboard_->set_markers(r.id, r.markers);
    if (!d.alerts.isEmpty()) dashboard_->set_alerts(r.id, r.chart_alerts());
    schedule_replot();
  }
  if (d.truncated_after >= 0 && r.id == active_) alerts_->show_for(&r);  // its alert may be gone
  if (!d.alerts.isEmpty()) alerts_->fired(r, d.alerts, r.id == active_);
  if (r.id == active_) {
    for (const auto& [values, from] : d.applied) control_->mark_applied(values, from);
    if (d.samples && tabs_->currentWidget() == inspector_) refresh_inspector_steps();  // hidden: refreshed on show
    // The step shown was dropped by a resume, or has just come (again): shown from what is held now.
    const int shown_step = inspector_->current_step();
    if ((d.truncated_after >= 0 && shown_step > d.truncated_after) ||
        (d.sample_steps_added.contains(shown_step) && inspector_->model()->rowCount() == 0))
      inspector_->set_samples(shown_step, r.samples(shown_step));
  }
  if (d.eval_samples && (r.id == active_ || dashboard_->runs().contains(r.id))) refresh_compared();
  update_run_entry(r);
  if (d.lineage) on_lineage_known(r);
}

void MainWindow::show_run_on_charts(RunData& r) {
  dashboard_->set_axis_data(r.id, r.axis_steps, r.axis_seconds, r.axis_tokens);
  for (auto it = r.metrics.begin(); it != r.metrics.end(); ++it) dashboard_->set_metric(r.id, it.key(), it->steps, it->values);
  dashboard_->set_markers(r.id, r.markers);
  dashboard_->set_alerts(r.id, r.chart_alerts());  // stored ones too, for a run opened from disk
  show_lineage(r);
}

void MainWindow::set_overlay(const QString& id, bool shown) {
  RunData* r = run(id);
  if (!r) return;
  if (shown) {
    // Redraw every shown run: line colours change between one run (per metric) and several (per run).
    QStringList shown_ids = dashboard_->runs();
    for (const auto& other : shown_ids) dashboard_->remove_run(other);
    shown_ids << id;
    for (const auto& other : shown_ids)  // register every run first, so each is drawn in its own colour
      if (RunData* o = run(other)) dashboard_->add_run(o->id, o->color);
    for (const auto& other : shown_ids)
      if (RunData* o = run(other)) show_run_on_charts(*o);
  } else {
    dashboard_->remove_run(id);
    for (const auto& other : dashboard_->runs())
      refresh_fork_points(other);  // its forks mark their own start
  }
  dashboard_->replot();
  refresh_diff();
  refresh_compared();
  QSettings().setValue("charts/shown", runs_->checked());
}

void MainWindow::set_active_run(const QString& id) {
  active_ = id;
  alerts_->show_for(run(id));
  refresh_active();
  refresh_compared();
}

void MainWindow::refresh_active() {
  RunData* r = run(active_);
  if (!r) return;
  const RunController* c = controller(active_);
  const bool live = c && c->live();
  control_->set_connected(live, live ? QString() : tr("%1 · %2 (not live)").arg(r->name, r->state));
  if (live) {
    control_->set_params(live_params(r->live_schema));
    control_->set_state(r->state, r->step, r->state_reason);
  }
  inspector_->set_markers(r->markers_words());
  refresh_inspector_steps();
}

void MainWindow::refresh_inspector_steps() {
  if (RunData* r = run(active_)) inspector_->set_available_steps(r->sample_steps);
}

void MainWindow::refresh_compared() {
  if (tabs_->currentWidget() != compared_) return;  // refreshed when shown
  QVector<RunData*> others;
  for (const auto& id : runs_->checked())
    if (RunData* o = run(id); o && o->id != active_) others << o;
  compared_->set_runs(run(active_), others);
}

void MainWindow::refresh_diff() {
  QMap<QString, QMap<QString, QString>> configs;
  for (const auto& id : runs_->checked())
    if (RunData* r = run(id)) {
      auto flat = r->flat_config();
      for (auto it = flat.begin(); it != flat.end();) it = it.key().startsWith("__") ? flat.erase(it) : std::next(it);
      // A fork's column says whose fork it is: the rows then read as what the fork changed.
      configs[r->is_fork() ? tr("%1 (fork of %2 @ %3)").arg(r->name, r->parent_name).arg(r->parent_step)
                           : r->name] = flat;
    }
  diff_->set_configs(configs);
}

void MainWindow::show_banner(const QString& text, bool error) {
  banner_->setText(text);
  banner_->setStyleSheet(error ? "QLabel { background: #fdecea; color: #8a1c12; padding: 6px; border-radius: 4px; }"
                               : "QLabel { background: #e8f1fb; color: #174a7c; padding: 6px; border-radius: 4px; }");
  banner_->show();
}

QString MainWindow::banner_text() const { return banner_->isVisible() ? banner_->text() : QString(); }

}  // namespace grpo::app

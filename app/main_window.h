// The studio's main window: runs list (left; forks under their parents), dashboard / traces / traces
// compared / comparison / log (centre, under the alert banner), control panel (right). Holds every run's
// data, which run is active, and one RunController per live or launched run (its link, its trainer process,
// hello and replies), and wires the controllers' signals to the ui/ widgets; the widgets know nothing of
// sockets or stores. Lineage (app/lineage.h), alerts (app/alerts.h), the fork dialog (app/fork_dialog.h)
// and the compared traces (app/traces_compared.h) have files of their own; menus and exports are in
// main_menus.cpp, opening, scanning, launching and resuming runs in main_runs.cpp, closing with trainers
// still running in close_choice.cpp. Layout, runs and settings
// persist in QSettings.
#pragma once

#include <QMainWindow>
#include <QPointer>
#include <QSet>
#include <QTimer>

#include <map>
#include <memory>

#include "app/run_controller.h"
#include "app/run_data.h"

class QLabel;
class QPlainTextEdit;
class QTabWidget;

namespace grpo::ui {
class AlertBanner;
class ControlPanel;
class Dashboard;
class HparamDiffTable;
class RunsPanel;
class TraceInspector;
class ChartWidget;
}  // namespace grpo::ui

namespace grpo::app {

class AlertCenter;
class ForkDialog;
class TracesCompared;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  MainWindow(QString runs_dir, QString trainer, QWidget* parent = nullptr);
  ~MainWindow() override;

  // Actions (menus, shortcuts, command line and tests use these).
  // Starts grpo-train and attaches to it once its folder's endpoints.json appears (one that trainer wrote:
  // a stale one is never attached to); false (and a banner that says where it looked) when there is no
  // grpo-train, or a trainer this studio started for the same folder still runs.
  bool launch(const QStringList& args, const QString& run_dir);
  void launch_demo();
  // A finished or live run folder. One whose trainer is gone (RunData::dead()) is shown as stopped
  // unexpectedly, with a banner offering to resume it; its stale endpoints.json is not attached to.
  bool open_run(const QString& dir);
  // Resumes run `id` from its newest checkpoint (grpo-train run --resume, --set each of `extra`) through
  // launch(), and follows the new trainer from the newest record held (its resume event drops the steps it
  // replays). False (and a banner) when its trainer is still alive, it is remote, or it has no checkpoint.
  // The runs panel's "Resume run" (offered for dead runs) and Run → Resume a stopped run call it.
  bool resume_run(const QString& id, const QStringList& extra = {});
  void attach(const ipc::Endpoints& endpoints, const QString& run_dir = {});
  void scan_runs_dir();  // lists every run folder in the runs folder (forks under their parents)

  // Forks. Opens the fork dialog for run `id` at `step` (a chart's "Fork from here…", the alert banner's
  // "Fork from step N…"); a step on a fork's faint parent history forks the ancestor that recorded it.
  // The dialog is window-modal and not waited for: fork_dialog() is the open one (tests fill and accept it).
  void request_fork(const QString& id, int step);
  ForkDialog* fork_dialog() const;
  // Starts grpo-train run --fork <parent folder> --from-step `step` --name `name` in the runs folder, with
  // --set key=value for each change and each of `extra`, through launch(); false (and a banner) when the
  // parent is not a local run folder or the name is taken.
  bool fork_run(const QString& parent_id, int step, const QString& name,
                const QMap<QString, QVariant>& changes, const QStringList& extra = {});

  // For tests and scripting.
  ui::Dashboard* dashboard() const { return dashboard_; }
  ui::ControlPanel* control_panel() const { return control_; }
  ui::TraceInspector* inspector() const { return inspector_; }
  ui::RunsPanel* runs_panel() const { return runs_; }
  ui::HparamDiffTable* diff_table() const { return diff_; }
  ui::AlertBanner* alert_banner() const { return alert_banner_; }
  AlertCenter* alerts() const { return alerts_; }
  TracesCompared* traces_compared() const { return compared_; }
  QTabWidget* tabs() const { return tabs_; }
  RunData* run(const QString& id);  // a folder's id may be given as any path to it
  QString active_run() const { return active_; }
  void set_active_run(const QString& id);
  void set_overlay(const QString& id, bool shown);
  QString banner_text() const;
  bool export_metrics_csv(const QString& id, const QString& path);
  RunController* controller(const QString& id) const;  // a live or launched run's; nullptr for others

  // Closing the window with a trainer it launched still running applies saved_close_choice()
  // (app/close_choice.h): asks (offscreen, where nobody can answer: stops it), keeps it training in the
  // background, or stops it (checkpoint first) and waits up to kStopOnCloseMs for it to exit.
  static constexpr int kStopOnCloseMs = 120000;

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  // The run's data, created on first use; `list`: it is shown in the runs panel (a launched run is listed
  // once its folder exists).
  RunData& ensure_run(const QString& id, const QString& name, const QString& dir, bool list = true);
  RunController& ensure_controller(RunData& r);     // created and wired on first use
  RunController* live_active(const QString& what);  // the active run's live controller, else a banner
  void on_data_changed(RunData& r, const RunData::Delta& d);
  bool close_trainers();  // closing: asks or applies the choice; false: stay open
  RunData* load_run(const QString& dir, bool list);  // a local run folder's data, read from its store once
  void reload_run(RunData& r);  // read again from its store (its trainer exited), and redrawn
  void show_run_on_charts(RunData& r);
  void show_lineage(RunData& r);                // its ancestors' history faint, its forks' starts marked
  void refresh_fork_points(const QString& id);  // its forks' starts (a fork without its parent: its own)
  void on_lineage_known(RunData& r);  // r turned out to be a fork: list it under its parent, draw both
  void refresh_compared();
  void refresh_active();
  void refresh_inspector_steps();
  void refresh_diff();
  void update_run_entry(const RunData& r);
  bool resumable(const RunData& r) const;  // dead, with a checkpoint to resume from
  void offer_resume(const RunData& r);     // the banner that says it died and how to resume it
  void show_banner(const QString& text, bool error);
  void export_chart(ui::ChartWidget* chart);
  void build_menus();

  QString runs_dir_, trainer_;
  std::map<QString, std::unique_ptr<RunData>> runs_data_;
  QSet<QString> listed_;                                           // runs shown in the runs panel
  std::map<QString, std::unique_ptr<RunController>> controllers_;  // after runs_data_: they refer to it
  QString active_;
  int next_color_ = 0;
  bool closing_ = false;  // stopping trainers before closing

  ui::Dashboard* dashboard_;
  ui::TraceInspector* inspector_;
  ui::ControlPanel* control_;
  ui::RunsPanel* runs_;
  ui::HparamDiffTable* diff_;
  TracesCompared* compared_;
  ui::AlertBanner* alert_banner_;
  AlertCenter* alerts_;
  QPointer<ForkDialog> fork_dialog_;
  QTabWidget* tabs_;
  QPlainTextEdit* log_;
  QLabel* banner_;
  // Coalesces redraws: at most one every 33 ms, and never more than 33 ms after the data came (a timer
  // restarted by every batch would not fire while batches keep coming faster than that).
  QTimer replot_timer_;
  void schedule_replot() {
    if (!replot_timer_.isActive()) replot_timer_.start();
  }
};

}  // namespace grpo::app

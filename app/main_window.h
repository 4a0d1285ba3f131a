// The studio's main window: runs list (left), dashboard / traces / comparison / log (centre), control
// panel (right). Holds every run's data, which run is active, and one RunController per live or launched
// run (its link, its trainer process, hello and replies), and wires the controllers' signals to the ui/
// widgets; the widgets know nothing of sockets or stores. Layout, runs and settings persist in QSettings.
#pragma once

#include <QMainWindow>
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
class ControlPanel;
class Dashboard;
class HparamDiffTable;
class RunsPanel;
class TraceInspector;
class ChartWidget;
}  // namespace grpo::ui

namespace grpo::app {

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  MainWindow(QString runs_dir, QString trainer, QWidget* parent = nullptr);
  ~MainWindow() override;

  // Actions (menus, shortcuts, command line and tests use these).
  void launch(const QStringList& args, const QString& run_dir);  // starts grpo-train and attaches to it
  void launch_demo();
  bool open_run(const QString& dir);                              // a finished or live run folder
  void attach(const ipc::Endpoints& endpoints, const QString& run_dir = {});
  void scan_runs_dir();

  // For tests and scripting.
  ui::Dashboard* dashboard() const { return dashboard_; }
  ui::ControlPanel* control_panel() const { return control_; }
  ui::TraceInspector* inspector() const { return inspector_; }
  ui::RunsPanel* runs_panel() const { return runs_; }
  ui::HparamDiffTable* diff_table() const { return diff_; }
  QTabWidget* tabs() const { return tabs_; }
  RunData* run(const QString& id);
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
  void show_run_on_charts(RunData& r);
  void refresh_active();
  void refresh_inspector_steps();
  void refresh_diff();
  void update_run_entry(const RunData& r);
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
  QTabWidget* tabs_;
  QPlainTextEdit* log_;
  QLabel* banner_;
  QTimer replot_timer_;  // coalesces redraws
};

}  // namespace grpo::app

// The studio's main window: runs list (left), dashboard / traces / comparison / log (centre), control
// panel (right). Wires run data, live links and the trainer process to the ui/ widgets; the widgets know
// nothing of sockets or stores. Layout, runs and settings persist in QSettings.
#pragma once

#include <QMainWindow>
#include <QMap>
#include <QPointer>
#include <QTimer>

#include <memory>

#include "app/live_link.h"
#include "app/run_data.h"

class QLabel;
class QPlainTextEdit;
class QTabWidget;
class QThread;

namespace grpo::ui {
class ControlPanel;
class Dashboard;
class HparamDiffTable;
class RunsPanel;
class TraceInspector;
class ChartWidget;
}  // namespace grpo::ui

namespace grpo::app {

class TrainerProcess;

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

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  struct Live {
    QThread* thread = nullptr;
    LiveLink* link = nullptr;
  };
  RunData& ensure_run(const QString& id, const QString& name, const QString& dir);
  void show_run_on_charts(RunData& r);
  void on_events(const QString& id, const EventBatch& batch);
  void on_reply(const QString& id, int tag, bool ok, const QString& cmd, const QByteArray& json);
  void send(const QString& cmd, const nlohmann::json& args = nlohmann::json::object());
  void refresh_active();
  void refresh_inspector_steps();
  void refresh_diff();
  void update_run_entry(const RunData& r);
  void show_banner(const QString& text, bool error);
  void export_chart(ui::ChartWidget* chart);
  void build_menus();
  void stop_live(const QString& id);

  QString runs_dir_, trainer_;
  std::map<QString, std::unique_ptr<RunData>> runs_data_;
  QMap<QString, Live> live_;
  std::unique_ptr<TrainerProcess> process_;
  QString active_;
  int next_color_ = 0;
  int next_tag_ = 1;

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

// MainWindow's menus and its exports (charts as images, a run's metrics as CSV); see main_window.h.
#include <QAction>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QInputDialog>
#include <QMenuBar>
#include <QPlainTextEdit>
#include <QTabWidget>
#include <QTextStream>
#include <cmath>

#include "app/main_window.h"
#include "app/traces_compared.h"
#include "ipc/protocol.h"
#include "ui/chart_widget.h"
#include "ui/dashboard.h"
#include "ui/hparam_diff.h"
#include "ui/launch_dialog.h"
#include "ui/trace_inspector.h"

namespace grpo::app {

namespace protocol = ipc::protocol;

void MainWindow::build_menus() {
  auto* file = menuBar()->addMenu(tr("&File"));
  auto add = [this](QMenu* m, const QString& text, const QKeySequence& key, auto fn) {
    QAction* a = m->addAction(text);
    a->setShortcut(key);
    connect(a, &QAction::triggered, this, fn);
    return a;
  };
  add(file, tr("&Start a run…"), QKeySequence::New, [this] {
    QStringList presets;
    for (const auto& f : QDir(QStringLiteral(GRPO_SOURCE_RESOURCES_DIR "/configs")).entryInfoList({"*.json"}))
      presets << f.absoluteFilePath();
    ui::LaunchDialog dialog(presets, runs_dir_, this);
    if (dialog.exec() != QDialog::Accepted) return;
    const auto spec = dialog.spec();
    launch(spec.arguments(), QDir(spec.runs_dir).filePath(spec.name));
  });
  add(file, tr("&Open run folder…"), QKeySequence::Open, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Run folder"), runs_dir_);
    if (!dir.isEmpty()) open_run(dir);
  });
  add(file, tr("&Attach to a trainer…"), QKeySequence(tr("Ctrl+T")), [this] {
    bool ok = false;
    const QString text =
        QInputDialog::getText(this, tr("Attach"), tr("Control endpoint (tcp://host:port), or a run folder:"),
                              QLineEdit::Normal, {}, &ok);
    if (!ok || text.isEmpty()) return;
    if (QDir(text).exists()) return void(open_run(text));
    bool ok2 = false;
    const QString events = QInputDialog::getText(this, tr("Attach"), tr("Events endpoint (tcp://host:port):"),
                                                 QLineEdit::Normal, {}, &ok2);
    if (ok2) attach({events.toStdString(), text.toStdString()});
  });
  add(file, tr("Re&scan runs folder"), QKeySequence(tr("F5")), [this] { scan_runs_dir(); });
  file->addSeparator();
  add(file, tr("Export metrics as &CSV…"), QKeySequence(tr("Ctrl+E")), [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export metrics"), {}, tr("CSV (*.csv)"));
    if (!path.isEmpty()) export_metrics_csv(active_, path);
  });
  add(file, tr("&Quit"), QKeySequence::Quit, [this] { close(); });
  auto* runm = menuBar()->addMenu(tr("&Run"));
  add(runm, tr("&Pause"), QKeySequence(tr("Ctrl+P")), [this] {
    if (RunController* c = live_active(protocol::kCmdPause)) c->pause();
  });
  add(runm, tr("&Resume"), QKeySequence(tr("Ctrl+R")), [this] {
    if (RunController* c = live_active(protocol::kCmdResume)) c->resume();
  });
  add(runm, tr("&Checkpoint now"), QKeySequence(tr("Ctrl+K")), [this] {
    if (RunController* c = live_active(protocol::kCmdCheckpoint)) c->checkpoint();
  });
  add(runm, tr("&Stop"), QKeySequence(tr("Ctrl+Shift+S")), [this] {
    if (RunController* c = live_active(protocol::kCmdStop)) c->stop();
  });
  runm->addSeparator();
  add(runm, tr("Resume a stopped run from its last checkpoint"), QKeySequence(), [this] {
    if (!active_.isEmpty()) resume_run(active_);
  });
  auto* view = menuBar()->addMenu(tr("&View"));
  add(view, tr("&Dashboard"), QKeySequence(tr("Ctrl+1")), [this] { tabs_->setCurrentWidget(dashboard_); });
  add(view, tr("&Traces"), QKeySequence(tr("Ctrl+2")), [this] { tabs_->setCurrentWidget(inspector_); });
  add(view, tr("Traces com&pared"), QKeySequence(tr("Ctrl+3")),
      [this] { tabs_->setCurrentWidget(compared_); });
  add(view, tr("C&ompare"), QKeySequence(tr("Ctrl+4")), [this] { tabs_->setCurrentWidget(diff_); });
  add(view, tr("&Log"), QKeySequence(tr("Ctrl+5")), [this] { tabs_->setCurrentWidget(log_); });
}

void MainWindow::export_chart(ui::ChartWidget* chart) {
  const QString path =
      QFileDialog::getSaveFileName(this, tr("Export chart"), {}, tr("PNG (*.png);;SVG (*.svg);;PDF (*.pdf)"));
  if (!path.isEmpty() && !chart->save(path, chart->width(), chart->height()))
    show_banner(tr("Cannot write %1").arg(path), true);
}

bool MainWindow::export_metrics_csv(const QString& id, const QString& path) {
  RunData* r = run(id);
  QFile f(path);
  if (!r || !f.open(QIODevice::WriteOnly | QIODevice::Text)) return false;
  QTextStream out(&f);
  QStringList names = r->metrics.keys();
  names.sort();
  QMap<int, QMap<QString, double>> rows;
  for (const auto& n : names)
    for (int i = 0; i < r->metrics[n].steps.size(); ++i)
      rows[r->metrics[n].steps[i]][n] = r->metrics[n].values[i];
  out << "step," << names.join(',') << "\n";
  // Every value as the store holds it: 17 significant digits read back as the same double. Undefined
  // values (NaN, e.g. a rate with nothing to count) and metrics a step did not log are empty.
  for (auto it = rows.begin(); it != rows.end(); ++it) {
    out << it.key();
    for (const auto& n : names) {
      const double v = it->value(n, std::nan(""));
      out << ',' << (std::isnan(v) ? QString() : QString::number(v, 'g', 17));
    }
    out << "\n";
  }
  return true;
}

}  // namespace grpo::app

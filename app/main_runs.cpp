// MainWindow's run folders: opening one (a dead run is shown as such and offered for resuming, never
// attached to), scanning the runs folder, attaching to a trainer, launching grpo-train and resuming a run
// from its newest checkpoint (see main_window.h).
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>

#include "app/alerts.h"
#include "app/lineage.h"
#include "app/main_window.h"
#include "app/trainer_process.h"
#include "ipc/protocol.h"
#include "ipc/run_liveness.h"
#include "ui/dashboard.h"
#include "ui/runs_panel.h"

namespace grpo::app {

namespace protocol = ipc::protocol;

RunData* MainWindow::load_run(const QString& dir_in, bool list) {
  const QString id = run_id_of_dir(dir_in);
  if (!QFile::exists(QDir(id).filePath("run.sqlite"))) {
    show_banner(tr("%1 is not a run folder (no run.sqlite)").arg(dir_in), true);
    return nullptr;
  }
  const bool known = run(id) != nullptr;
  RunData& r = ensure_run(id, QDir(id).dirName(), id, list);
  if (known && (r.last_seq > 0 || controller(id)))
    return &r;  // read already (live runs keep themselves current)
  try {
    r.load_from_store();
  } catch (const std::exception& e) {
    show_banner(tr("Cannot read %1: %2").arg(id, e.what()), true);
    r.state = "unreadable";
    return nullptr;
  }
  update_run_entry(r);
  return &r;
}

void MainWindow::reload_run(RunData& r) {
  try {
    r.load_from_store();
  } catch (const std::exception&) {
    return;
  }
  if (dashboard_->runs().contains(r.id)) set_overlay(r.id, true);  // redrawn from what it holds now
  update_run_entry(r);
  if (r.id != active_) return;
  refresh_inspector_steps();
  refresh_compared();
}

bool MainWindow::open_run(const QString& dir_in) {
  const QString dir = run_id_of_dir(dir_in);
  if (!QFile::exists(QDir(dir).filePath("run.sqlite"))) {
    show_banner(tr("%1 is not a run folder (no run.sqlite)").arg(dir), true);
    return false;
  }
  RunData& r = ensure_run(dir, QDir(dir).dirName(), dir);
  try {
    r.load_from_store();
  } catch (const std::exception& e) {
    show_banner(tr("Cannot read %1: %2").arg(dir, e.what()), true);
    return false;
  }
  update_run_entry(r);
  const bool shown = dashboard_->runs().contains(r.id);
  runs_->set_checked(r.id, true);  // shows it on the charts
  if (shown) {                     // read again: redrawn from what it holds now
    show_run_on_charts(r);
    dashboard_->replot();
  }
  if (active_.isEmpty()) runs_->set_current(r.id);
  if (r.is_fork()) on_lineage_known(r);
  RunController* c = controller(r.id);
  if (r.dead() && !(c && c->trainer_running())) {
    // Killed mid-way: its endpoints.json is stale (nobody answers there). Offer to resume it instead.
    if (c) c->detach();
    offer_resume(r);
  } else if (QFile::exists(QDir(dir).filePath("endpoints.json")) && !(c && c->live()) &&
             r.state != protocol::kStateFinished && r.state != protocol::kStateStopped &&
             r.state != protocol::kStateFailed) {
    try {  // a live run: follow it from where the store ends
      attach(ipc::Client::read_endpoints(dir.toStdString()), dir);
    } catch (const std::exception& e) {
      show_banner(e.what(), true);
    }
  }
  if (r.id == active_) alerts_->show_for(&r);  // e.g. paused by a watchdog before the studio came
  refresh_diff();
  return true;
}

bool MainWindow::resumable(const RunData& r) const {
  return r.dead() && !r.dir.isEmpty() && !checkpoint_steps(r.dir).isEmpty();
}

void MainWindow::offer_resume(const RunData& r) {
  const QVector<int> checkpoints = r.dir.isEmpty() ? QVector<int>{} : checkpoint_steps(r.dir);
  if (checkpoints.isEmpty())
    return show_banner(
        tr("%1 %2. Its data is kept; it has no checkpoint to resume from.").arg(r.name, r.state_text()),
        true);
  show_banner(tr("%1 %2. Its data is kept. Resume it from its last checkpoint (step %3): right-click it in "
                 "the Runs list → Resume run, or Run → Resume a stopped run.")
                  .arg(r.name, r.state_text())
                  .arg(checkpoints.last()),
              true);
}

bool MainWindow::resume_run(const QString& id, const QStringList& extra) {
  RunData* r = run(id);
  if (!r || r->dir.isEmpty()) {
    show_banner(tr("Cannot resume %1: not a run folder on this machine.").arg(r ? r->name : id), true);
    return false;
  }
  const ipc::RunLiveness l = ipc::probe_run(r->dir.toStdString());
  if (l.verdict == ipc::RunLiveness::Verdict::kLive || l.verdict == ipc::RunLiveness::Verdict::kRemote) {
    show_banner(tr("%1 is not resumed: it is %2.").arg(r->name, QString::fromStdString(l.message)), true);
    return false;
  }
  if (checkpoint_steps(r->dir).isEmpty()) {
    show_banner(tr("Cannot resume %1: %2/checkpoints holds no checkpoint.").arg(r->name, r->dir), true);
    return false;
  }
  if (RunController* c = controller(r->id)) c->detach();  // a link to the trainer that is gone
  return launch(resume_arguments(r->dir, extra), r->dir);
}

void MainWindow::scan_runs_dir() {
  QVector<RunData*> forks;
  for (const auto& d :
       QDir(runs_dir_).entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Time | QDir::Reversed))
    if (QFile::exists(QDir(d.absoluteFilePath()).filePath("run.sqlite")) && !run(d.absoluteFilePath())) {
      RunData& r =
          ensure_run(run_id_of_dir(d.absoluteFilePath()), d.fileName(), run_id_of_dir(d.absoluteFilePath()));
      try {
        r.load_from_store();
      } catch (const std::exception&) {
        r.state = "unreadable";
      }
      update_run_entry(r);  // under its parent once that is listed (the runs panel moves it there)
      if (r.is_fork()) forks << &r;
    }
  for (RunData* f : forks) on_lineage_known(*f);
}

void MainWindow::attach(const ipc::Endpoints& endpoints, const QString& run_dir) {
  const QString id = run_dir.isEmpty() ? QString::fromStdString(endpoints.control) : run_id_of_dir(run_dir);
  RunData& r = ensure_run(id, run_dir.isEmpty() ? id : QDir(id).dirName(), run_dir.isEmpty() ? run_dir : id);
  RunController& c = ensure_controller(r);
  if (c.live()) return;
  c.attach(endpoints);
  if (active_.isEmpty() || active_ == id) set_active_run(id);
  runs_->set_current(id);
}

bool MainWindow::launch(const QStringList& args, const QString& run_dir) {
  if (trainer_.isEmpty()) {
    show_banner(tr("grpo-train was not found; looked at %1. Pass --trainer FILE or set GRPO_TRAIN.")
                    .arg(trainer_search_places().join(", ")),
                true);
    return false;
  }
  const bool path = trainer_.contains('/');  // else a name QProcess looks up on PATH
  if (path ? !QFileInfo(trainer_).isExecutable() : QStandardPaths::findExecutable(trainer_).isEmpty()) {
    show_banner(tr("grpo-train was not found at %1 (%2). Pass --trainer FILE or set GRPO_TRAIN.")
                    .arg(path ? QFileInfo(trainer_).absoluteFilePath() : trainer_,
                         path ? (QFileInfo::exists(trainer_) ? tr("not executable") : tr("no such file"))
                              : tr("not on PATH: %1").arg(qEnvironmentVariable("PATH"))),
                true);
    return false;
  }
  // Several trainers may run at once (a paused parent and its fork), one per run folder.
  QDir().mkpath(runs_dir_);
  const QString dir = run_id_of_dir(run_dir);
  RunData& r = ensure_run(dir, QDir(dir).dirName(), dir, false);  // listed once its folder exists
  return ensure_controller(r).launch(trainer_, args, run_dir);
}

void MainWindow::launch_demo() {
  const QString name = "demo-" + QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss");
  launch({"run", "--runs-dir", runs_dir_, "--name", name, "--quiet"}, QDir(runs_dir_).filePath(name));
}

}  // namespace grpo::app

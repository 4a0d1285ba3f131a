// MainWindow's lineage and forks: a fork's charts with its ancestors' history faint, a parent's charts
// with its forks' starts, the fork dialog and the fork's launch (see main_window.h, app/lineage.h and
// app/fork_dialog.h).
#include <QDir>
#include <QMap>

#include "app/fork_dialog.h"
#include "app/lineage.h"
#include "app/main_window.h"
#include "ui/dashboard.h"

namespace grpo::app {

void MainWindow::show_lineage(RunData& r) {
  if (!dashboard_->runs().contains(r.id)) return;
  if (r.is_fork()) {
    if (!r.ancestry_loaded) load_ancestry(r);
    dashboard_->clear_parent_history(r.id);
    for (auto it = r.ancestry.begin(); it != r.ancestry.end(); ++it)
      dashboard_->set_parent_history(r.id, r.parent_name, it.key(), it->steps, it->values);
  }
  refresh_fork_points(r.id);
}

void MainWindow::refresh_fork_points(const QString& id) {
  if (id.isEmpty() || !dashboard_->runs().contains(id)) return;
  QMap<int, QStringList> at;  // forks of one step share a marker, a name a line
  for (const auto& [child_id, child] : runs_data_)
    if (child->is_fork() && child_id != id && parent_id(*child) == id) at[child->parent_step] << child->name;
  for (auto& names : at) names.sort();
  // A fork shown without its parent marks its own start ("fork: <parent> @ <step>"); with its parent shown,
  // the parent's marker says it.
  const RunData* r = run(id);
  if (r && r->is_fork() && !dashboard_->runs().contains(parent_id(*r)))
    at[r->parent_step].prepend(tr("%1 @ %2").arg(r->parent_name).arg(r->parent_step));
  QVector<ui::ForkPoint> points;
  for (auto it = at.begin(); it != at.end(); ++it) {
    it->removeDuplicates();
    points.push_back({it.key(), it->join("\n")});
  }
  dashboard_->set_fork_points(id, points);
}

void MainWindow::on_lineage_known(RunData& r) {
  update_run_entry(r);  // under its parent in the runs list
  show_lineage(r);
  refresh_fork_points(parent_id(r));
  refresh_fork_points(r.id);
  refresh_diff();
  schedule_replot();
}

ForkDialog* MainWindow::fork_dialog() const {
  return fork_dialog_ && fork_dialog_->isVisible() ? fork_dialog_.data() : nullptr;
}

void MainWindow::request_fork(const QString& id, int step) {
  RunData* r = run(id);
  if (!r) return;
  if (r->dir.isEmpty())
    return show_banner(
        tr("%1 is a remote run: a fork starts from a run folder on this machine.").arg(r->name), true);
  // A step on a fork's faint parent history belongs to the ancestor that trained it.
  const QString owner = owner_of_step(*r, step);
  RunData* parent = run_id_of_dir(owner) == r->id ? r : load_run(owner, true);
  if (!parent) return;
  ForkSetup setup;
  setup.parent_id = parent->id;
  setup.parent_name = parent->name;
  setup.parent_dir = parent->dir;
  setup.requested_step = step;
  setup.checkpoints = checkpoint_steps(parent->dir);
  const int from = newest_at_or_before(setup.checkpoints, step);
  setup.params = fork_params(*parent, from >= 0 ? from : step);
  setup.runs_dir = QDir(runs_dir_).absolutePath();
  if (fork_dialog_) fork_dialog_->deleteLater();
  auto* dialog = new ForkDialog(std::move(setup), this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  fork_dialog_ = dialog;
  connect(dialog, &QDialog::accepted, this, [this, dialog] {
    fork_run(dialog->setup().parent_id, dialog->from_step(), dialog->name(), dialog->changes(nullptr),
             dialog->extra_settings());
  });
  dialog->open();  // window-modal; not waited for
}

bool MainWindow::fork_run(const QString& parent_id_in, int step, const QString& name,
                          const QMap<QString, QVariant>& changes, const QStringList& extra) {
  RunData* parent = run(parent_id_in);
  if (!parent || parent->dir.isEmpty()) {
    show_banner(tr("Cannot fork %1: not a run folder on this machine.").arg(parent_id_in), true);
    return false;
  }
  if (step < 0 || newest_at_or_before(checkpoint_steps(parent->dir), step) != step) {
    show_banner(tr("Cannot fork %1 from step %2: it has no checkpoint there.").arg(parent->name).arg(step),
                true);
    return false;
  }
  const QString runs = QDir(runs_dir_).absolutePath();
  if (name.isEmpty() || QDir(runs).exists(name)) {
    show_banner(tr("Cannot fork %1 as '%2': %3")
                    .arg(parent->name, name, name.isEmpty() ? tr("no name") : tr("the name is taken")),
                true);
    return false;
  }
  return launch(fork_arguments(runs, name, parent->dir, step, changes, extra), QDir(runs).filePath(name));
}

}  // namespace grpo::app

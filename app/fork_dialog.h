// Forking a run from the studio: the dialog a chart's "Fork from here…" and the alert banner's "Fork from
// step N…" open. It shows the parent and the step the fork starts from (the parent's newest checkpoint at
// or before the step asked for; without one it says so and refuses), the new run's name (default
// <parent>-fork<step>), and the hyperparameter editor prefilled with the parent's values at that step;
// accepting gives the changed keys, which become grpo-train's --set arguments.
#pragma once

#include <QDialog>
#include <QMap>
#include <QVariant>

#include "app/run_data.h"
#include "ui/param_editor.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;

namespace grpo::app {

// What the dialog starts from.
struct ForkSetup {
  QString parent_id, parent_name, parent_dir;
  int requested_step = 0;         // where the user asked to fork
  QVector<int> checkpoints;       // the parent's checkpoint steps, ascending
  QVector<ui::LiveParam> params;  // the editor's keys, with the parent's values
  QString runs_dir;               // where the fork's folder goes
};

// The keys a fork's dialog edits for `parent` at `step`: its live keys (the schema of its hello when the
// studio had one, else the trainer's live keys this studio knows, where the parent's config has them), and
// max_steps, each with the parent's value at that step (its start config plus the live changes used by then).
QVector<ui::LiveParam> fork_params(const RunData& parent, int step);

// <parent>-fork<step>, numbered (-2, -3, ...) when runs_dir already has it, as grpo-train names forks.
QString default_fork_name(const QString& runs_dir, const QString& parent, int step);

// A value as grpo-train's --set reads it: 0.001 (shortest exact form), 8, alert.
QString set_value_text(const QVariant& value);

// grpo-train's arguments: run --runs-dir D --name N --fork P --from-step K --set key=value ... --quiet.
QStringList fork_arguments(const QString& runs_dir, const QString& name, const QString& parent_dir, int step,
                           const QMap<QString, QVariant>& changes, const QStringList& extra = {});

class ForkDialog : public QDialog {
  Q_OBJECT
 public:
  explicit ForkDialog(ForkSetup setup, QWidget* parent = nullptr);

  const ForkSetup& setup() const { return setup_; }
  int from_step() const;  // the chosen checkpoint's step; -1 when there is none to fork from
  bool can_fork() const { return from_step() >= 0; }
  void set_from_step(int step);  // one of the checkpoints offered
  QString name() const;
  void set_name(const QString& name);
  ui::ParamEditor* editor() const { return editor_; }
  // Further settings, "key=value" separated by spaces (any config key --set takes with --fork).
  QStringList extra_settings() const;
  void set_extra_settings(const QString& text);
  QString message() const;  // the line under the form: why it cannot fork, or what is wrong
  // The edited keys, checked; {} and an error when one is out of range.
  QMap<QString, QVariant> changes(QString* error) const;

  // Checks the step, the name and the values: accepted when fine, else the reason in message() and the
  // dialog stays open. (Tests call it: offscreen there is nobody to click.)
  void accept() override;

 private:
  void step_changed();

  ForkSetup setup_;
  QLabel* parent_;
  QComboBox* step_;
  QLabel* step_note_;
  QLineEdit* name_;
  QLineEdit* extra_;
  ui::ParamEditor* editor_;
  QLabel* message_;
  QPushButton* ok_ = nullptr;
  bool name_edited_ = false;
};

}  // namespace grpo::app

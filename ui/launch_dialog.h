// Starting a local run: a config (the built-in demo or a file), the main hyperparameters, the run's name
// and folder. Produces grpo-train's arguments; app/ runs them.
#pragma once

#include <QDialog>

class QComboBox;
class QDoubleSpinBox;
class QLineEdit;
class QSpinBox;

namespace grpo::ui {

struct LaunchSpec {
  QString config_file;     // empty: the built-in demo
  QString runs_dir;
  QString name;
  QStringList overrides;   // key=value
  int processes = 1;       // data-parallel ranks on this machine (grpo-train --nproc)
  QStringList arguments() const;  // for `grpo-train`
};

class LaunchDialog : public QDialog {
  Q_OBJECT
 public:
  LaunchDialog(const QStringList& presets, const QString& runs_dir, QWidget* parent = nullptr);
  LaunchSpec spec() const;

 private:
  QComboBox* preset_;
  QLineEdit *name_, *runs_dir_, *model_path_, *init_, *data_train_, *data_eval_;
  QSpinBox *steps_, *group_, *prompts_, *processes_;
  QDoubleSpinBox *lr_, *beta_, *temperature_;
};

}  // namespace grpo::ui

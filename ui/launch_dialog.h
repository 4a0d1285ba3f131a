// Starting a local run: a config (the built-in demo or a file), the main hyperparameters, any other config
// keys (key=value, as grpo-train's --set), the run's name and folder. Produces grpo-train's arguments; app/
// runs them. Fields are named (findChild): config, name, runs_dir, model_path, data_train, data_eval, nproc,
// extra_settings, and each hyperparameter's by its config key (max_steps, optim.lr, ...).
#pragma once

#include <QDialog>

class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace grpo::ui {

struct LaunchSpec {
  QString config_file;     // empty: the built-in demo
  QString runs_dir;
  QString name;
  QStringList overrides;   // key=value (the extra settings last: they win)
  int processes = 1;       // data-parallel ranks on this machine (grpo-train --nproc)
  QStringList arguments() const;  // for `grpo-train`
};

class LaunchDialog : public QDialog {
  Q_OBJECT
 public:
  LaunchDialog(const QStringList& presets, const QString& runs_dir, QWidget* parent = nullptr);
  LaunchSpec spec() const;
  // The extra settings field's key=value items (quotes group), or the error that keeps Start from accepting.
  QStringList extra_settings(QString* error = nullptr) const;
  void accept() override;

 private:
  void add_source_rows(QFormLayout* form, const QStringList& presets,
                       const QString& runs_dir);  // config … data
  void add_setting_rows(QFormLayout* form);       // steps … other settings
  QComboBox* preset_;
  QLineEdit *name_, *runs_dir_, *model_path_, *init_, *data_train_, *data_eval_, *extra_;
  QLabel* error_;
  QSpinBox *steps_, *group_, *prompts_, *processes_;
  QDoubleSpinBox *lr_, *beta_, *temperature_;
};

}  // namespace grpo::ui

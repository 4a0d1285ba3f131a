// Launch dialog (see launch_dialog.h).
#include "ui/launch_dialog.h"

#include <QComboBox>
#include <QDateTime>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProcess>
#include <QPushButton>
#include <QSpinBox>

namespace grpo::ui {

QStringList LaunchSpec::arguments() const {
  QStringList a = {"run"};
  if (!config_file.isEmpty()) a << "--config" << config_file;
  a << "--runs-dir" << runs_dir << "--name" << name;
  for (const auto& o : overrides) a << "--set" << o;
  if (processes > 1) a << "--nproc" << QString::number(processes);
  return a;
}

namespace {

QSpinBox* spin_box(const char* key, int lo, int hi, int value) {
  auto* box = new QSpinBox;
  box->setObjectName(key);
  box->setRange(lo, hi);
  box->setValue(value);
  return box;
}

QDoubleSpinBox* double_box(const char* key, int decimals, double lo, double hi, double step, double value) {
  auto* box = new QDoubleSpinBox;
  box->setObjectName(key);
  box->setDecimals(decimals);
  box->setRange(lo, hi);
  box->setSingleStep(step);
  box->setValue(value);
  return box;
}

QHBoxLayout* with_button(QWidget* field, QPushButton* button) {
  auto* row = new QHBoxLayout;
  row->addWidget(field, 1);
  row->addWidget(button);
  return row;
}

}  // namespace

LaunchDialog::LaunchDialog(const QStringList& presets, const QString& runs_dir, QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("Start a run"));
  auto* form = new QFormLayout;
  add_source_rows(form, presets, runs_dir);
  add_setting_rows(form);
  error_ = new QLabel;
  error_->setObjectName("error");
  error_->setStyleSheet("QLabel { color: #8a1c12; }");
  error_->setWordWrap(true);
  error_->hide();
  form->addRow(error_);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  buttons->button(QDialogButtonBox::Ok)->setText(tr("Start"));
  form->addRow(buttons);
  setLayout(form);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
}

void LaunchDialog::add_source_rows(QFormLayout* form, const QStringList& presets, const QString& runs_dir) {
  preset_ = new QComboBox;
  preset_->setObjectName("config");
  preset_->addItem(tr("Built-in demo (embedded defaults)"), QString());
  for (const auto& p : presets) preset_->addItem(QFileInfo(p).fileName(), p);
  auto* browse = new QPushButton(tr("File…"));
  connect(browse, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Config"), {}, tr("Configs (*.json)"));
    if (!f.isEmpty()) {
      preset_->addItem(QFileInfo(f).fileName(), f);
      preset_->setCurrentIndex(preset_->count() - 1);
    }
  });

  name_ = new QLineEdit("demo-" + QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss"));
  name_->setObjectName("name");
  runs_dir_ = new QLineEdit(runs_dir);
  runs_dir_->setObjectName("runs_dir");
  model_path_ = new QLineEdit;
  model_path_->setObjectName("model_path");
  model_path_->setPlaceholderText(tr("a Hugging Face folder: config.json, safetensors, tokenizer.json"));
  model_path_->setToolTip(tr("Llama 3, Qwen2 / Qwen2.5 or Qwen3 (docs/models.md); it replaces model.init"));
  auto* browse_model = new QPushButton(tr("Folder…"));
  connect(browse_model, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Hugging Face model folder"));
    if (!dir.isEmpty()) model_path_->setText(dir);
  });
  init_ = new QLineEdit;
  init_->setObjectName("model.init");
  init_->setPlaceholderText(tr("the config's (builtin:demo-base for the demo)"));
  // A dataset row: a path field and a JSONL file picker.
  auto data_row = [this](QLineEdit*& edit, const QString& object_name, const QString& caption) {
    edit = new QLineEdit;
    edit->setObjectName(object_name);
    edit->setPlaceholderText(tr("the config's (the built-in task when none)"));
    edit->setToolTip(tr("JSONL rows in TRL's or veRL's shape, optionally .gz (docs/datasets.md)"));
    auto* pick = new QPushButton(tr("File…"));
    QLineEdit* target = edit;
    connect(pick, &QPushButton::clicked, this, [this, target, caption] {
      const QString f = QFileDialog::getOpenFileName(this, caption, {}, tr("JSON Lines (*.jsonl *.jsonl.gz *.json)"));
      if (!f.isEmpty()) target->setText(f);
    });
    return with_button(edit, pick);
  };

  form->addRow(tr("Config"), with_button(preset_, browse));
  form->addRow(tr("Run name"), name_);
  form->addRow(tr("Runs folder"), runs_dir_);
  form->addRow(tr("Model folder (model.path)"), with_button(model_path_, browse_model));
  form->addRow(tr("Start from (model.init)"), init_);
  form->addRow(tr("Training data (data.train)"), data_row(data_train_, "data_train", tr("Training prompts")));
  form->addRow(tr("Evaluation data (data.eval)"),
               data_row(data_eval_, "data_eval", tr("Evaluation prompts")));
}

void LaunchDialog::add_setting_rows(QFormLayout* form) {
  steps_ = spin_box("max_steps", 1, 1000000, 100);
  group_ = spin_box("grpo.group_size", 2, 4096, 8);
  prompts_ = spin_box("grpo.prompts_per_step", 1, 100000, 16);
  lr_ = double_box("optim.lr", 6, 1e-6, 1.0, 1e-5, 5e-5);
  beta_ = double_box("grpo.beta", 4, 0, 100, 0.01, 0.02);
  temperature_ = double_box("sampling.temperature", 2, 0.01, 10, 0.1, 1.0);
  processes_ = spin_box("nproc", 1, 256, 1);
  processes_->setToolTip(
      tr("Data-parallel ranks on this machine (Gloo). Prompts per step must be a multiple of "
         "the ranks times the minibatches; give each rank its own cores."));
  extra_ = new QLineEdit;
  extra_->setObjectName("extra_settings");
  extra_->setPlaceholderText(tr("key=value … (any config key, e.g. eval_every=0 sampling.top_p=0.9)"));
  extra_->setToolTip(
      tr("Passed as --set key=value after the fields above (they win); grpo-train config "
         "prints every key (docs/config.md)"));

  form->addRow(tr("Steps (max_steps)"), steps_);
  form->addRow(tr("Learning rate (optim.lr)"), lr_);
  form->addRow(tr("KL coefficient β (grpo.beta)"), beta_);
  form->addRow(tr("Group size G"), group_);
  form->addRow(tr("Prompts per step"), prompts_);
  form->addRow(tr("Temperature"), temperature_);
  form->addRow(tr("Processes (--nproc)"), processes_);
  form->addRow(tr("Other settings (--set)"), extra_);
}

LaunchSpec LaunchDialog::spec() const {
  LaunchSpec s;
  s.config_file = preset_->currentData().toString();
  s.runs_dir = runs_dir_->text();
  s.name = name_->text().trimmed();
  s.overrides = {QString("max_steps=%1").arg(steps_->value()), QString("optim.lr=%1").arg(lr_->value(), 0, 'g', 8),
                 QString("grpo.beta=%1").arg(beta_->value()), QString("grpo.group_size=%1").arg(group_->value()),
                 QString("grpo.prompts_per_step=%1").arg(prompts_->value()),
                 QString("sampling.temperature=%1").arg(temperature_->value())};
  if (!model_path_->text().trimmed().isEmpty()) s.overrides << "model.path=" + model_path_->text().trimmed();
  if (!init_->text().trimmed().isEmpty()) s.overrides << "model.init=" + init_->text().trimmed();
  if (!data_train_->text().trimmed().isEmpty()) s.overrides << "data.train=" + data_train_->text().trimmed();
  if (!data_eval_->text().trimmed().isEmpty()) s.overrides << "data.eval=" + data_eval_->text().trimmed();
  s.overrides << extra_settings();
  s.processes = processes_->value();
  return s;
}

QStringList LaunchDialog::extra_settings(QString* error) const {
  QStringList out;
  for (const QString& item : QProcess::splitCommand(extra_->text())) {
    const auto eq = item.indexOf('=');
    if (eq <= 0) {
      if (error) *error = tr("'%1' is not key=value").arg(item);
      return {};
    }
    out << item;
  }
  return out;
}

void LaunchDialog::accept() {
  QString error;
  extra_settings(&error);
  if (name_->text().trimmed().isEmpty()) error = tr("The run needs a name.");
  error_->setText(error);
  error_->setVisible(!error.isEmpty());
  if (error.isEmpty()) QDialog::accept();
}

}  // namespace grpo::ui

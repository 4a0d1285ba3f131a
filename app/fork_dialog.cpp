// Fork dialog (see fork_dialog.h).
#include "app/fork_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPushButton>
#include <QScrollArea>
#include <QVBoxLayout>
#include <algorithm>

#include "app/lineage.h"
#include "app/run_controller.h"
#include "ipc/names.h"

namespace grpo::app {

using nlohmann::json;

QVector<ui::LiveParam> fork_params(const RunData& parent, int step) {
  const json at = parent.config_at(step);
  // The trainer's own schema of live keys (hello, or the store's meta): types, ranges, choices. A run
  // written before it was stored offers the free-form settings only.
  json schema = parent.live_schema.is_object() ? parent.live_schema : json::object();
  // The values at the fork step, not the schema's (the hello's are the values when it was sent).
  const json flat = at.flatten();
  for (auto it = schema.begin(); it != schema.end(); ++it) {
    std::string pointer = "/" + it.key();
    std::replace(pointer.begin(), pointer.end(), '.', '/');
    if (flat.contains(pointer) && it->is_object()) (*it)["value"] = flat[pointer];
  }
  QVector<ui::LiveParam> params = live_params(schema);
  if (at.contains("max_steps") &&
      at["max_steps"].is_number_integer()) {  // not live, but a fork may change it
    ui::LiveParam p;
    p.key = "max_steps";
    p.integer = true;
    p.min = 1;
    p.max = 1e9;
    p.value = static_cast<double>(at["max_steps"].get<int64_t>());
    params.prepend(p);
  }
  return params;
}

QString default_fork_name(const QString& runs_dir, const QString& parent, int step) {
  const QString base = QString("%1-fork%2").arg(parent).arg(step);
  QString name = base;
  for (int i = 2; QDir(runs_dir).exists(name); ++i) name = QString("%1-%2").arg(base).arg(i);
  return name;
}

QString set_value_text(const QVariant& v) {
  if (v.typeId() == QMetaType::Double)
    return QString::number(v.toDouble(), 'g', QLocale::FloatingPointShortest);
  return v.toString();
}

QStringList fork_arguments(const QString& runs_dir, const QString& name, const QString& parent_dir, int step,
                           const QMap<QString, QVariant>& changes, const QStringList& extra) {
  QStringList a = {"run",         "--runs-dir",         runs_dir, "--name", name, "--fork", parent_dir,
                   "--from-step", QString::number(step)};
  for (auto it = changes.begin(); it != changes.end(); ++it)
    a << "--set" << it.key() + "=" + set_value_text(it.value());
  for (const QString& kv : extra) a << "--set" << kv;
  a << "--quiet";
  return a;
}

ForkDialog::ForkDialog(ForkSetup setup, QWidget* parent)
    : QDialog(parent),
      setup_(std::move(setup)),
      parent_(new QLabel),
      step_(new QComboBox),
      step_note_(new QLabel),
      name_(new QLineEdit),
      extra_(new QLineEdit),
      editor_(new ui::ParamEditor),
      message_(new QLabel) {
  setWindowTitle(tr("Fork %1").arg(setup_.parent_name));
  parent_->setText(QString("<b>%1</b>").arg(setup_.parent_name.toHtmlEscaped()));
  parent_->setToolTip(setup_.parent_dir);
  for (int s : setup_.checkpoints)  // the checkpoints a fork from the step asked for may start from
    if (s <= setup_.requested_step) step_->insertItem(0, tr("step %1").arg(s), s);  // newest first
  step_->setCurrentIndex(0);  // the newest at or before the step asked for
  step_->setToolTip(
      tr("A fork starts from a checkpoint: its exact weights, optimizer, data position and RNG"));
  step_note_->setWordWrap(true);
  step_note_->setStyleSheet("color: gray");
  extra_->setPlaceholderText(tr("e.g. eval_every=5 checkpoint_every=10"));
  extra_->setToolTip(tr("Any other config key=value, separated by spaces (grpo-train --set)"));
  editor_->set_params(setup_.params);
  message_->setWordWrap(true);

  auto* form = new QFormLayout;
  form->addRow(tr("Parent"), parent_);
  form->addRow(tr("From"), step_);
  form->addRow(QString(), step_note_);
  form->addRow(tr("Name"), name_);
  auto* scroll = new QScrollArea;
  scroll->setWidget(editor_);
  scroll->setWidgetResizable(true);
  scroll->setMinimumHeight(260);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  ok_ = buttons->button(QDialogButtonBox::Ok);
  ok_->setText(tr("Fork"));
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(
      new QLabel(tr("Hyperparameters (the parent's at that step; change what the fork should try)")));
  layout->addWidget(scroll, 1);
  auto* extra_form = new QFormLayout;
  extra_form->addRow(tr("Other settings"), extra_);
  layout->addLayout(extra_form);
  layout->addWidget(message_);
  layout->addWidget(buttons);
  resize(520, 620);

  connect(buttons, &QDialogButtonBox::accepted, this, &ForkDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &ForkDialog::reject);
  connect(step_, &QComboBox::currentIndexChanged, this, &ForkDialog::step_changed);
  connect(name_, &QLineEdit::textEdited, this, [this] { name_edited_ = true; });
  step_changed();
}

void ForkDialog::step_changed() {
  const int k = from_step();
  ok_->setEnabled(k >= 0);
  if (k < 0) {
    QStringList have;
    for (int s : setup_.checkpoints) have << QString::number(s);
    const QString why = tr("No checkpoint at or before step %1: a fork cannot start there (%2).")
                            .arg(setup_.requested_step)
                            .arg(have.isEmpty() ? tr("the run has none")
                                                : tr("checkpoints at steps %1").arg(have.join(", ")));
    step_note_->setText(why);
    message_->setText("<span style='color:#c0392b'>" + why.toHtmlEscaped() + "</span>");
    return;
  }
  step_note_->setText(k == setup_.requested_step
                          ? tr("the checkpoint at the step asked for")
                          : tr("the newest checkpoint at or before step %1").arg(setup_.requested_step));
  if (!name_edited_) name_->setText(default_fork_name(setup_.runs_dir, setup_.parent_name, k));
  message_->clear();
}

int ForkDialog::from_step() const {
  return step_->count() > 0 ? step_->currentData().toInt() : -1;
}

void ForkDialog::set_from_step(int step) {
  const int i = step_->findData(step);
  if (i >= 0) step_->setCurrentIndex(i);
}

QString ForkDialog::name() const {
  return name_->text().trimmed();
}

void ForkDialog::set_name(const QString& name) {
  name_edited_ = true;
  name_->setText(name);
}

QStringList ForkDialog::extra_settings() const {
  return extra_->text().split(' ', Qt::SkipEmptyParts);
}

void ForkDialog::set_extra_settings(const QString& text) {
  extra_->setText(text);
}

QString ForkDialog::message() const {
  return message_->text();
}

QMap<QString, QVariant> ForkDialog::changes(QString* error) const {
  return editor_->edited_values(error);
}

void ForkDialog::accept() {
  const auto refuse = [this](const QString& why) {
    message_->setText("<span style='color:#c0392b'>" + why.toHtmlEscaped() + "</span>");
  };
  if (!can_fork()) return step_changed();
  const QString n = name();
  if (n.isEmpty() || n.contains('/') || n.contains('\\') || n.startsWith('.'))
    return refuse(tr("Give the fork a name (a folder name: no slashes, not starting with a dot)."));
  if (QDir(setup_.runs_dir).exists(n))
    return refuse(tr("%1 already has a run named %2.").arg(setup_.runs_dir, n));
  for (const QString& kv : extra_settings())
    if (!kv.contains('=') || kv.startsWith('='))
      return refuse(tr("Other settings: '%1' is not key=value.").arg(kv));
  QString error;
  changes(&error);
  if (!error.isEmpty()) return refuse(error);
  QDialog::accept();
}

}  // namespace grpo::app

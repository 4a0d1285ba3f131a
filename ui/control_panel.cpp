// Control panel (see control_panel.h).
#include "ui/control_panel.h"

#include <QDateTime>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QScrollArea>
#include <QVBoxLayout>

#include "ipc/protocol.h"  // the run states (names only, header-only)

namespace grpo::ui {

ControlPanel::ControlPanel(QWidget* parent) : QWidget(parent) {
  state_label_ = new QLabel(tr("not connected"));
  QFont f = state_label_->font();
  f.setBold(true);
  f.setPointSizeF(f.pointSizeF() * 1.2);
  state_label_->setFont(f);
  state_label_->setWordWrap(true);  // a watchdog's reason ("paused: watchdog …") must not widen the dock
  message_ = new QLabel;
  message_->setWordWrap(true);
  pause_ = new QPushButton(tr("Pause"));
  resume_ = new QPushButton(tr("Resume"));
  stop_ = new QPushButton(tr("Stop"));
  checkpoint_ = new QPushButton(tr("Checkpoint now"));
  pause_->setToolTip(tr("Finish the current step, then wait (Ctrl+P)"));
  stop_->setToolTip(tr("Finish the step, write a checkpoint, exit"));
  auto* buttons = new QGridLayout;
  buttons->addWidget(pause_, 0, 0);
  buttons->addWidget(resume_, 0, 1);
  buttons->addWidget(checkpoint_, 1, 0);
  buttons->addWidget(stop_, 1, 1);

  auto* params_box = new QGroupBox(tr("Live hyperparameters"));
  editor_ = new ParamEditor;
  apply_ = new QPushButton(tr("Apply"));
  revert_ = new QPushButton(tr("Revert"));
  apply_->setToolTip(tr("Send the changed values; they take effect at the next step boundary"));
  auto* apply_row = new QHBoxLayout;
  apply_row->addStretch();
  apply_row->addWidget(revert_);
  apply_row->addWidget(apply_);
  // Many keys (every reward weight, every watchdog's action, threshold and steps): the editor scrolls.
  auto* scroll = new QScrollArea;
  scroll->setWidget(editor_);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  auto* pv = new QVBoxLayout(params_box);
  pv->addWidget(scroll);
  pv->addLayout(apply_row);

  auto* history_box = new QGroupBox(tr("Changes"));
  history_ = new QListWidget;
  auto* hv = new QVBoxLayout(history_box);
  hv->addWidget(history_);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(state_label_);
  layout->addLayout(buttons);
  layout->addWidget(message_);
  layout->addWidget(params_box, 3);
  layout->addWidget(history_box, 1);

  connect(pause_, &QPushButton::clicked, this, &ControlPanel::pause_requested);
  connect(resume_, &QPushButton::clicked, this, &ControlPanel::resume_requested);
  connect(stop_, &QPushButton::clicked, this, &ControlPanel::stop_requested);
  connect(checkpoint_, &QPushButton::clicked, this, &ControlPanel::checkpoint_requested);
  connect(apply_, &QPushButton::clicked, this, [this] {
    QString error;
    const auto values = edited_values(&error);
    if (!error.isEmpty()) return set_error(error);
    if (values.isEmpty()) return set_error(tr("Nothing changed."));
    message_->clear();
    emit set_requested(values);
  });
  connect(revert_, &QPushButton::clicked, editor_, &ParamEditor::revert);
  refresh_buttons();
}

void ControlPanel::set_params(const QVector<LiveParam>& params) {
  editor_->set_params(params);
  refresh_buttons();
}

void ControlPanel::set_state(const QString& state, int step, const QString& reason) {
  state_ = state;
  state_label_->setText(reason.isEmpty() ? tr("%1 · step %2").arg(state).arg(step)
                                         : tr("%1: %2 · step %3").arg(state, reason).arg(step));
  state_label_->setToolTip(reason);
  refresh_buttons();
}

QString ControlPanel::state_text() const { return state_label_->text(); }

void ControlPanel::set_connected(bool connected, const QString& why) {
  connected_ = connected;
  if (!connected) {
    state_label_->setText(why.isEmpty() ? tr("not connected") : why);
    state_ = "disconnected";
  }
  refresh_buttons();
}

void ControlPanel::refresh_buttons() {
  namespace proto = ipc::protocol;
  const bool live = connected_ && state_ != proto::kStateFinished && state_ != proto::kStateStopped &&
                    state_ != proto::kStateFailed;
  pause_->setEnabled(live && state_ == proto::kStateRunning);
  resume_->setEnabled(live && state_ == proto::kStatePaused);
  stop_->setEnabled(live && state_ != proto::kStateStopping);
  checkpoint_->setEnabled(live && state_ != proto::kStateStopping);
  apply_->setEnabled(live && !editor_->empty());
  revert_->setEnabled(!editor_->empty());
  editor_->setEnabled(live);
}

QMap<QString, QVariant> ControlPanel::edited_values(QString* error) const {
  return editor_->edited_values(error);
}

void ControlPanel::set_edit_value(const QString& key, double value) {
  editor_->set_edit_value(key, value);
}

void ControlPanel::set_edit_text(const QString& key, const QString& text) {
  editor_->set_edit_text(key, text);
}

void ControlPanel::set_pending(const QMap<QString, QVariant>& values, int from_step) {
  for (auto it = values.begin(); it != values.end(); ++it) {
    editor_->set_note(it.key(), tr("pending · from step %1").arg(from_step));
    editor_->set_baseline(it.key(), it.value(), false);  // the editor already shows it
  }
  QStringList parts;
  for (auto it = values.begin(); it != values.end(); ++it) parts << QString("%1 = %2").arg(it.key(), it.value().toString());
  history_->insertItem(0, tr("%1 · requested %2 (from step %3)")
                              .arg(QDateTime::currentDateTime().toString("HH:mm:ss"), parts.join(", "))
                              .arg(from_step));
}

void ControlPanel::mark_applied(const QMap<QString, QVariant>& values, int from_step) {
  for (auto it = values.begin(); it != values.end(); ++it) {
    if (!editor_->has(it.key())) continue;
    editor_->set_note(it.key(), tr("applied · since step %1").arg(from_step));
    editor_->set_baseline(it.key(), it.value(), true);
  }
  QStringList parts;
  for (auto it = values.begin(); it != values.end(); ++it) parts << QString("%1 = %2").arg(it.key(), it.value().toString());
  history_->insertItem(0, tr("step %1 · applied %2").arg(from_step).arg(parts.join(", ")));
}

void ControlPanel::set_error(const QString& message) {
  message_->setText("<span style='color:#c0392b'>" + message.toHtmlEscaped() + "</span>");
}

QStringList ControlPanel::history() const {
  QStringList out;
  for (int i = 0; i < history_->count(); ++i) out << history_->item(i)->text();
  return out;
}

}  // namespace grpo::ui

// Control panel (see control_panel.h).
#include "ui/control_panel.h"

#include <QDateTime>
#include <QDoubleSpinBox>
#include <QRegularExpression>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>
#include <cmath>

namespace grpo::ui {

namespace {

// A number editor for any magnitude: shows 5e-05, 3e-07 or 0.2 as such and accepts them typed that way.
// (A plain QDoubleSpinBox rounds to a fixed number of decimals: 6 would make 3e-7 zero; real models train
// at 1e-6 and below.)
class ScientificSpinBox : public QDoubleSpinBox {
 public:
  ScientificSpinBox() { setDecimals(323); }  // QDoubleSpinBox rounds every value to `decimals` places
  QString textFromValue(double v) const override { return QString::number(v, 'g', 8); }
  double valueFromText(const QString& text) const override { return text.trimmed().toDouble(); }
  QValidator::State validate(QString& text, int&) const override {
    const QString t = text.trimmed();
    bool ok = false;
    const double v = t.toDouble(&ok);
    if (ok) return v >= minimum() && v <= maximum() ? QValidator::Acceptable : QValidator::Intermediate;
    static const QRegularExpression partial(R"(^[+-]?(\d+\.?\d*|\.\d*)?([eE][+-]?\d*)?$)");
    return partial.match(t).hasMatch() ? QValidator::Intermediate : QValidator::Invalid;
  }
  // Steps by the value's own order of magnitude (1e-6 → 2e-6 → 3e-6), whatever it is.
  void stepBy(int steps) override {
    const double v = value();
    const double unit = v != 0 ? std::pow(10.0, std::floor(std::log10(std::abs(v)))) : singleStep();
    setValue(v + steps * unit);
  }
};

double value_of(const QAbstractSpinBox* box) {
  if (auto* d = qobject_cast<const QDoubleSpinBox*>(box)) return d->value();
  return qobject_cast<const QSpinBox*>(box)->value();
}
}  // namespace

ControlPanel::ControlPanel(QWidget* parent) : QWidget(parent) {
  state_label_ = new QLabel(tr("not connected"));
  QFont f = state_label_->font();
  f.setBold(true);
  f.setPointSizeF(f.pointSizeF() * 1.2);
  state_label_->setFont(f);
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
  form_host_ = new QWidget;
  form_ = new QFormLayout(form_host_);
  apply_ = new QPushButton(tr("Apply"));
  revert_ = new QPushButton(tr("Revert"));
  apply_->setToolTip(tr("Send the changed values; they take effect at the next step boundary"));
  auto* apply_row = new QHBoxLayout;
  apply_row->addStretch();
  apply_row->addWidget(revert_);
  apply_row->addWidget(apply_);
  auto* pv = new QVBoxLayout(params_box);
  pv->addWidget(form_host_);
  pv->addLayout(apply_row);

  auto* history_box = new QGroupBox(tr("Changes"));
  history_ = new QListWidget;
  auto* hv = new QVBoxLayout(history_box);
  hv->addWidget(history_);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(state_label_);
  layout->addLayout(buttons);
  layout->addWidget(message_);
  layout->addWidget(params_box);
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
  connect(revert_, &QPushButton::clicked, this, [this] { set_params(params_); });
  refresh_buttons();
}

void ControlPanel::set_params(const QVector<LiveParam>& params) {
  params_ = params;
  while (form_->rowCount() > 0) form_->removeRow(0);
  editors_.clear();
  status_.clear();
  for (const auto& p : params) {
    QAbstractSpinBox* box;
    if (p.integer) {
      auto* s = new QSpinBox;
      s->setRange(static_cast<int>(std::max(p.min, -1e9)), static_cast<int>(std::min(p.max, 1e9)));
      s->setValue(static_cast<int>(p.value));
      box = s;
    } else {
      auto* d = new ScientificSpinBox;
      d->setRange(std::max(p.min, -1e9), std::min(p.max, 1e9));
      d->setSingleStep(0.01);  // from 0; otherwise the value's own order of magnitude
      d->setValue(p.value);
      box = d;
    }
    box->setToolTip(QString("%1: %2%3, %4]").arg(p.key, p.min_exclusive ? "(" : "[").arg(p.min).arg(p.max));
    auto* label = new QLabel;
    label->setStyleSheet("color: gray");
    auto* row = new QWidget;
    auto* h = new QHBoxLayout(row);
    h->setContentsMargins(0, 0, 0, 0);
    h->addWidget(box, 1);
    h->addWidget(label);
    form_->addRow(p.key, row);
    editors_[p.key] = box;
    status_[p.key] = label;
  }
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
  const bool live = connected_ && state_ != "finished" && state_ != "stopped" && state_ != "failed";
  pause_->setEnabled(live && state_ == "running");
  resume_->setEnabled(live && state_ == "paused");
  stop_->setEnabled(live && state_ != "stopping");
  checkpoint_->setEnabled(live && state_ != "stopping");
  apply_->setEnabled(live && !editors_.isEmpty());
  revert_->setEnabled(!editors_.isEmpty());
  form_host_->setEnabled(live);
}

QMap<QString, QVariant> ControlPanel::edited_values(QString* error) const {
  QMap<QString, QVariant> out;
  for (const auto& p : params_) {
    const auto* box = editors_.value(p.key);
    if (!box) continue;
    const double v = value_of(box);
    if (std::abs(v - p.value) <= 1e-12 * std::max(1.0, std::abs(p.value))) continue;
    if (!std::isfinite(v) || v > p.max || v < p.min || (p.min_exclusive && v <= p.min)) {
      if (error) *error = tr("%1 = %2 is out of range").arg(p.key).arg(v);
      return {};
    }
    out[p.key] = p.integer ? QVariant(static_cast<qlonglong>(v)) : QVariant(v);
  }
  return out;
}

void ControlPanel::set_edit_value(const QString& key, double value) {
  auto* box = editors_.value(key);
  if (auto* d = qobject_cast<QDoubleSpinBox*>(box)) d->setValue(value);
  if (auto* s = qobject_cast<QSpinBox*>(box)) s->setValue(static_cast<int>(value));
}

void ControlPanel::set_pending(const QMap<QString, QVariant>& values, int from_step) {
  for (auto it = values.begin(); it != values.end(); ++it) {
    if (auto* l = status_.value(it.key())) l->setText(tr("pending · from step %1").arg(from_step));
    for (auto& p : params_)
      if (p.key == it.key()) p.value = it.value().toDouble();
  }
  QStringList parts;
  for (auto it = values.begin(); it != values.end(); ++it) parts << QString("%1 = %2").arg(it.key(), it.value().toString());
  history_->insertItem(0, tr("%1 · requested %2 (from step %3)")
                              .arg(QDateTime::currentDateTime().toString("HH:mm:ss"), parts.join(", "))
                              .arg(from_step));
}

void ControlPanel::mark_applied(const QMap<QString, QVariant>& values, int from_step) {
  for (auto it = values.begin(); it != values.end(); ++it) {
    if (auto* l = status_.value(it.key())) l->setText(tr("applied · since step %1").arg(from_step));
    for (auto& p : params_)
      if (p.key == it.key()) {
        p.value = it.value().toDouble();
        set_edit_value(p.key, p.value);
      }
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

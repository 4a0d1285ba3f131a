// Hyperparameter editor (see param_editor.h).
#include "ui/param_editor.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QRegularExpression>
#include <QSpinBox>
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

}  // namespace

QVariant LiveParam::variant() const {
  if (is_choice()) return text;
  if (integer) return static_cast<qlonglong>(std::llround(value));
  return value;
}

ParamEditor::ParamEditor(QWidget* parent) : QWidget(parent), form_(new QFormLayout(this)) {
  form_->setContentsMargins(0, 0, 0, 0);
}

void ParamEditor::set_params(const QVector<LiveParam>& params) {
  params_ = params;
  while (form_->rowCount() > 0) form_->removeRow(0);
  editors_.clear();
  notes_.clear();
  for (const auto& p : params) {
    QWidget* box;
    if (p.is_choice()) {
      auto* c = new QComboBox;
      c->addItems(p.choices);
      c->setCurrentText(p.text);
      c->setToolTip(QString("%1: %2").arg(p.key, p.choices.join(", ")));
      connect(c, &QComboBox::currentIndexChanged, this, &ParamEditor::edited);
      box = c;
    } else if (p.integer) {
      auto* s = new QSpinBox;
      s->setRange(static_cast<int>(std::max(p.min, -1e9)), static_cast<int>(std::min(p.max, 1e9)));
      s->setValue(static_cast<int>(p.value));
      connect(s, &QSpinBox::valueChanged, this, &ParamEditor::edited);
      box = s;
    } else {
      auto* d = new ScientificSpinBox;
      d->setRange(std::max(p.min, -1e9), std::min(p.max, 1e9));
      d->setSingleStep(0.01);  // from 0; otherwise the value's own order of magnitude
      d->setValue(p.value);
      connect(d, &QDoubleSpinBox::valueChanged, this, &ParamEditor::edited);
      box = d;
    }
    if (!p.is_choice())
      box->setToolTip(QString("%1: %2%3, %4]").arg(p.key, p.min_exclusive ? "(" : "[").arg(p.min).arg(p.max));
    box->setObjectName(p.key);
    auto* label = new QLabel;
    label->setStyleSheet("color: gray");
    auto* row = new QWidget;
    auto* h = new QHBoxLayout(row);
    h->setContentsMargins(0, 0, 0, 0);
    h->addWidget(box, 1);
    h->addWidget(label);
    form_->addRow(p.key, row);
    editors_[p.key] = box;
    notes_[p.key] = label;
  }
}

QVariant ParamEditor::edit_value(const QString& key) const {
  QWidget* box = editors_.value(key);
  if (auto* c = qobject_cast<QComboBox*>(box)) return c->currentText();
  if (auto* d = qobject_cast<QDoubleSpinBox*>(box)) return d->value();
  if (auto* s = qobject_cast<QSpinBox*>(box)) return static_cast<qlonglong>(s->value());
  return {};
}

QMap<QString, QVariant> ParamEditor::edited_values(QString* error) const {
  QMap<QString, QVariant> out;
  for (const auto& p : params_) {
    const QVariant now = edit_value(p.key);
    if (!now.isValid()) continue;
    if (p.is_choice()) {
      if (now.toString() == p.text) continue;
      if (!p.choices.contains(now.toString())) {
        if (error) *error = tr("%1 = %2 is not one of %3").arg(p.key, now.toString(), p.choices.join(", "));
        return {};
      }
      out[p.key] = now.toString();
      continue;
    }
    const double v = now.toDouble();
    if (std::abs(v - p.value) <= 1e-12 * std::max(1.0, std::abs(p.value))) continue;
    if (!std::isfinite(v) || v > p.max || v < p.min || (p.min_exclusive && v <= p.min)) {
      if (error) *error = tr("%1 = %2 is out of range").arg(p.key).arg(v);
      return {};
    }
    out[p.key] = p.integer ? QVariant(static_cast<qlonglong>(v)) : QVariant(v);
  }
  return out;
}

void ParamEditor::set_edit_value(const QString& key, double value) {
  QWidget* box = editors_.value(key);
  if (auto* d = qobject_cast<QDoubleSpinBox*>(box)) d->setValue(value);
  if (auto* s = qobject_cast<QSpinBox*>(box)) s->setValue(static_cast<int>(value));
}

void ParamEditor::set_edit_text(const QString& key, const QString& text) {
  if (auto* c = qobject_cast<QComboBox*>(editors_.value(key))) c->setCurrentText(text);
}

void ParamEditor::set_baseline(const QString& key, const QVariant& value, bool show) {
  for (auto& p : params_) {
    if (p.key != key) continue;
    if (p.is_choice()) {
      p.text = value.toString();
      if (show) set_edit_text(key, p.text);
    } else {
      p.value = value.toDouble();
      if (show) set_edit_value(key, p.value);
    }
  }
}

void ParamEditor::revert() {
  for (const auto& p : params_) p.is_choice() ? set_edit_text(p.key, p.text) : set_edit_value(p.key, p.value);
}

void ParamEditor::set_note(const QString& key, const QString& note) {
  if (QLabel* l = notes_.value(key)) l->setText(note);
}

QString ParamEditor::note(const QString& key) const {
  const QLabel* l = notes_.value(key);
  return l ? l->text() : QString();
}

}  // namespace grpo::ui

// An editor for a set of hyperparameters described by a schema (the `live` map of the trainer's hello, or
// any list of keys with types and ranges): a spin box per number (any magnitude: 3e-07 stays 3e-07), a
// spin box per integer, a combo box per choice. It knows the values it started from, so it can say which
// ones were edited and check them against their ranges. The control panel and the fork dialog share it.
#pragma once

#include <QMap>
#include <QStringList>
#include <QVariant>
#include <QWidget>

class QFormLayout;
class QLabel;

namespace grpo::ui {

// One hyperparameter, as the trainer describes it. A choice (`choices` not empty) takes one of its strings
// (`text` holds its value); numbers and integers use min, max and value.
struct LiveParam {
  QString key;
  bool integer = false;
  double min = 0, max = 0;
  bool min_exclusive = false;
  double value = 0;
  QStringList choices;  // not empty: a choice
  QString text;         // a choice's value
  bool is_choice() const { return !choices.isEmpty(); }
  QVariant variant() const;  // the value: a QString (choice), a qlonglong (integer) or a double
};

class ParamEditor : public QWidget {
  Q_OBJECT
 public:
  explicit ParamEditor(QWidget* parent = nullptr);

  void set_params(const QVector<LiveParam>& params);  // rebuilds the editors (values as given)
  QVector<LiveParam> params() const { return params_; }
  bool has(const QString& key) const { return editors_.contains(key); }
  bool empty() const { return editors_.isEmpty(); }

  // The values edited away from where they started, validated: {} and an error message when one is out
  // of range. Numbers as double, integers as qlonglong, choices as QString.
  QMap<QString, QVariant> edited_values(QString* error) const;
  QVariant edit_value(const QString& key) const;          // what the editor shows now (invalid: no such key)
  void set_edit_value(const QString& key, double value);  // as if typed (numbers, integers)
  void set_edit_text(const QString& key, const QString& text);  // as if picked (choices)
  // A new starting value (the trainer accepted or applied it); `show` also puts it in the editor.
  void set_baseline(const QString& key, const QVariant& value, bool show);
  void revert();                                           // every editor back to its starting value
  void set_note(const QString& key, const QString& note);  // the grey text beside an editor
  QString note(const QString& key) const;

 signals:
  void edited();  // any editor changed

 private:
  QFormLayout* form_;
  QVector<LiveParam> params_;
  QMap<QString, QWidget*> editors_;  // QDoubleSpinBox, QSpinBox or QComboBox
  QMap<QString, QLabel*> notes_;
};

}  // namespace grpo::ui

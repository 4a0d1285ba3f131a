// The table of hyperparameters that differ between the runs being compared (one column per run).
#pragma once

#include <QMap>
#include <QTableWidget>

namespace grpo::ui {

class HparamDiffTable : public QTableWidget {
  Q_OBJECT
 public:
  explicit HparamDiffTable(QWidget* parent = nullptr);
  // run name -> flat config (dotted key -> value as text). Shows only keys whose values differ.
  void set_configs(const QMap<QString, QMap<QString, QString>>& configs);
  QStringList differing_keys() const;
  QString placeholder() const { return placeholder_; }  // drawn when no row is: what the tab is for, or why it is empty

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  QString placeholder_;
};

}  // namespace grpo::ui

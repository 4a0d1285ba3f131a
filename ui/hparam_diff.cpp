// Differing hyperparameters (see hparam_diff.h).
#include "ui/hparam_diff.h"

#include <QHeaderView>
#include <QPainter>
#include <QSet>

namespace grpo::ui {

HparamDiffTable::HparamDiffTable(QWidget* parent) : QTableWidget(parent) {
  setEditTriggers(QAbstractItemView::NoEditTriggers);
  horizontalHeader()->setStretchLastSection(true);
  setAlternatingRowColors(true);
  set_configs({});
}

void HparamDiffTable::paintEvent(QPaintEvent* event) {
  QTableWidget::paintEvent(event);
  if (rowCount() > 0 || placeholder_.isEmpty()) return;
  QPainter p(viewport());
  p.setPen(palette().color(QPalette::PlaceholderText));
  p.drawText(viewport()->rect().adjusted(24, 24, -24, -24), Qt::AlignCenter | Qt::TextWordWrap, placeholder_);
}

void HparamDiffTable::set_configs(const QMap<QString, QMap<QString, QString>>& configs) {
  clear();
  const QStringList runs = configs.keys();
  QSet<QString> all;
  for (const auto& c : configs) for (auto it = c.begin(); it != c.end(); ++it) all.insert(it.key());
  QStringList keys;
  for (const auto& k : all) {
    QSet<QString> values;
    for (const auto& c : configs) values.insert(c.value(k, QStringLiteral("—")));
    if (values.size() > 1) keys << k;
  }
  keys.sort();
  setColumnCount(static_cast<int>(runs.size()));
  setRowCount(static_cast<int>(keys.size()));
  setHorizontalHeaderLabels(runs);
  setVerticalHeaderLabels(keys);
  for (int r = 0; r < keys.size(); ++r)
    for (int c = 0; c < runs.size(); ++c)
      setItem(r, c, new QTableWidgetItem(configs[runs[c]].value(keys[r], QStringLiteral("—"))));
  resizeColumnsToContents();
  if (runs.size() < 2)
    placeholder_ = tr("Compare runs: tick two or more in the Runs panel. The hyperparameters that differ between "
                      "them are listed here, and the Dashboard overlays their curves.");
  else if (keys.isEmpty())
    placeholder_ = tr("These %1 runs share every hyperparameter.").arg(runs.size());
  else
    placeholder_.clear();
  viewport()->update();
}

QStringList HparamDiffTable::differing_keys() const {
  QStringList out;
  for (int r = 0; r < rowCount(); ++r) out << verticalHeaderItem(r)->text();
  return out;
}

}  // namespace grpo::ui

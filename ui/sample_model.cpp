// Sample table model and filter (see sample_model.h).
#include "ui/sample_model.h"

#include <cmath>

#include <QBrush>
#include <QColor>

namespace grpo::ui {

void SampleTableModel::set_samples(int step, QVector<SampleView> samples) {
  beginResetModel();
  step_ = step;
  samples_ = std::move(samples);
  reward_names_.clear();
  for (const auto& s : samples_)
    for (auto it = s.rewards.begin(); it != s.rewards.end(); ++it)
      if (!reward_names_.contains(it.key())) reward_names_ << it.key();
  reward_names_.sort();
  endResetModel();
}

int SampleTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(samples_.size()); }

int SampleTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : kFixedColumns + static_cast<int>(reward_names_.size());
}

QVariant SampleTableModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= samples_.size()) return {};
  const SampleView& s = samples_[index.row()];
  const int c = index.column();
  if (role == Qt::DisplayRole || role == Qt::EditRole) {
    const bool sort = role == Qt::EditRole;  // numbers, for sorting
    switch (c) {
      case kGroup: return s.group;
      case kIndex: return s.index;
      case kPrompt: return s.prompt;
      case kReward: return sort ? QVariant(s.reward) : QVariant(QString::number(s.reward, 'f', 3));
      case kAdvantage: return sort ? QVariant(s.advantage) : QVariant(QString::number(s.advantage, 'f', 3));
      case kLength: return s.length;
      case kCorrect: return sort ? QVariant(s.correct) : QVariant(s.correct ? tr("yes") : tr("no"));
      case kVerified: return sort ? QVariant(s.verified) : QVariant(s.verified ? tr("yes") : tr("no"));
      case kCompletion: return s.completion;
      default: {
        const QString name = reward_names_.value(c - kFixedColumns);
        const double v = s.rewards.value(name, std::nan(""));
        if (!std::isfinite(v)) return sort ? QVariant(-1e300) : QVariant(QString("n/a"));  // not applicable to this row
        return sort ? QVariant(v) : QVariant(QString::number(v, 'f', 3));
      }
    }
  }
  if (role == Qt::ForegroundRole && (c == kCorrect || c == kVerified)) {
    const bool on = c == kCorrect ? s.correct : s.verified;
    return QBrush(on ? QColor(40, 150, 60) : QColor(200, 60, 50));
  }
  if (role == Qt::ToolTipRole && c == kCompletion) return s.completion;
  if (role == Qt::TextAlignmentRole && c != kPrompt && c != kCompletion)
    return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
  return {};
}

QVariant SampleTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return QAbstractTableModel::headerData(section, orientation, role);
  static const char* kNames[] = {"group", "#", "prompt", "reward", "advantage", "length", "correct", "verified", "completion"};
  if (section < kFixedColumns) return tr(kNames[section]);
  return reward_names_.value(section - kFixedColumns);
}

void SampleFilter::set_kind(Kind kind) {
  kind_ = kind;
  invalidateFilter();
}

void SampleFilter::set_text(const QString& text) {
  text_ = text;
  invalidateFilter();
}

bool SampleFilter::filterAcceptsRow(int row, const QModelIndex&) const {
  const auto* m = qobject_cast<const SampleTableModel*>(sourceModel());
  if (!m || row >= m->rowCount()) return false;
  const SampleView& s = m->sample(row);
  switch (kind_) {
    case kCorrect: if (!s.correct) return false; break;
    case kWrong: if (s.correct) return false; break;
    case kVerified: if (!s.verified) return false; break;
    case kUnverified: if (s.verified) return false; break;
    case kAll: break;
  }
  return text_.isEmpty() || s.completion.contains(text_, Qt::CaseInsensitive) || s.prompt.contains(text_, Qt::CaseInsensitive);
}

}  // namespace grpo::ui

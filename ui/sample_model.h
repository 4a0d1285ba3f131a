// The trace inspector's data: one step's sampled completions as a Qt item model, plus the filter the
// inspector's controls drive (correct / wrong / verified / unverified, and a text search).
#pragma once

#include <QAbstractTableModel>
#include <QMap>
#include <QSortFilterProxyModel>
#include <QString>
#include <QVector>

namespace grpo::ui {

// One completion as the studio shows it (filled by app/ from the run store or the protocol).
struct SampleView {
  int group = 0, index = 0;
  QString prompt, completion, answer;
  double reward = 0, advantage = 0;
  QMap<QString, double> rewards;  // each reward function's value (NaN: not applicable to this row)
  QString columns;                // the dataset row's other columns as compact JSON ("" for the built-in tasks)
  int length = 0;
  bool correct = false, verified = false, truncated = false;
  QVector<int> offsets;                                // byte offset of each token in `completion`
  QVector<float> logp_old, logp, entropy, kl;          // per token
};

class SampleTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { kGroup, kIndex, kPrompt, kReward, kAdvantage, kLength, kCorrect, kVerified, kCompletion, kFixedColumns };
  using QAbstractTableModel::QAbstractTableModel;

  void set_samples(int step, QVector<SampleView> samples);
  const SampleView& sample(int row) const { return samples_[row]; }
  const QVector<SampleView>& samples() const { return samples_; }
  int step() const { return step_; }
  QStringList reward_names() const { return reward_names_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 private:
  int step_ = 0;
  QVector<SampleView> samples_;
  QStringList reward_names_;  // extra columns, one per reward function, after the fixed ones
};

class SampleFilter : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  enum Kind { kAll, kCorrect, kWrong, kVerified, kUnverified };
  using QSortFilterProxyModel::QSortFilterProxyModel;
  void set_kind(Kind kind);
  void set_text(const QString& text);

 protected:
  bool filterAcceptsRow(int row, const QModelIndex& parent) const override;

 private:
  Kind kind_ = kAll;
  QString text_;
};

}  // namespace grpo::ui

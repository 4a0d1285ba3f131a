// The trace inspector: the sampled completions of any step in a filterable table; a detail pane that
// highlights <think>, <answer> and the verification markers and colours each token by a per-token array
// (log-prob, its change since sampling, entropy, KL) as a heat map; and the whole group of the selected
// completion side by side with its advantages. Steps: follow the live run, or stay put.
#pragma once

#include <QWidget>

#include "ui/sample_model.h"

class QCheckBox;
class QComboBox;
class QLineEdit;
class QSpinBox;
class QTableView;
class QTableWidget;
class QTextBrowser;
class QLabel;

namespace grpo::ui {

class TraceInspector : public QWidget {
  Q_OBJECT
 public:
  enum HeatMap { kNone, kLogp, kDeltaLogp, kEntropy, kKl };  // HeatMode's order (ui/token_heat.h)
  explicit TraceInspector(QWidget* parent = nullptr);

  void set_available_steps(const QVector<int>& steps);  // ascending; follows the newest when "follow" is on
  void set_samples(int step, QVector<SampleView> samples);
  void set_markers(const QStringList& markers);
  bool following() const;
  int current_step() const;
  int visible_rows() const;
  SampleFilter* filter() const { return filter_; }
  SampleTableModel* model() const { return model_; }
  void select_row(int visible_row);
  void set_heat_map(HeatMap kind);
  QString detail_html() const;  // what the detail pane shows (for tests)

  // Renders one completion as HTML: tags, markers, and per-token background colours (render_tokens).
  static QString render(const SampleView& s, HeatMap kind, const QStringList& markers);

 signals:
  void step_requested(int step);  // the user (or "follow") wants this step's samples

 private:
  void show_detail();
  void request_step(int step);

  SampleTableModel* model_;
  SampleFilter* filter_;
  QTableView* table_;
  QTextBrowser* detail_;
  QTableWidget* group_;
  QSpinBox* step_box_;
  QCheckBox* follow_;
  QComboBox* kind_;
  QComboBox* heat_;
  QLineEdit* search_;
  QLabel* summary_;
  QVector<int> steps_;
  QStringList markers_ = {"check", "wait"};
};

}  // namespace grpo::ui

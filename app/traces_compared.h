// The "Traces compared" tab: one held-out prompt's completions side by side (ui::TraceCompare), from the
// evaluations' stored greedy traces (eval samples: the same prompts at every evaluation and in every run of
// a task). Left to right: the active run at the evaluation steps ticked above it (by default its first and
// its newest, following new evaluations until the user ticks others), then every other run shown on the
// charts at its newest evaluation (sibling forks, a parent). Each column's markers are its run's
// self-verification words. Fed RunData by MainWindow; no sockets.
#pragma once

#include <QVector>
#include <QWidget>

#include "app/run_data.h"

class QLabel;
class QListWidget;

namespace grpo::ui {
class TraceCompare;
}

namespace grpo::app {

class TracesCompared : public QWidget {
  Q_OBJECT
 public:
  explicit TracesCompared(QWidget* parent = nullptr);

  // The runs to compare (pointers MainWindow keeps for the session); a new active run starts from its
  // first and newest evaluations again.
  void set_runs(RunData* active, const QVector<RunData*>& others);
  void refresh();  // new evaluations arrived: steps, prompts and columns again

  ui::TraceCompare* view() const { return view_; }
  QVector<int> available_steps() const;           // the active run's evaluation steps
  QVector<int> steps() const { return chosen_; }  // the ones compared
  // Compares these steps of the active run (those it has); empty: the first and the newest, following.
  void set_steps(const QVector<int>& steps);
  QList<int> prompt_groups() const {
    return groups_;
  }  // the prompt chooser's entries: held-out prompt indices

 private:
  void fill_steps();
  void fill_prompts();
  void fill_columns();

  ui::TraceCompare* view_;
  QLabel* steps_label_;
  QListWidget* steps_list_;
  RunData* active_ = nullptr;
  QVector<RunData*> others_;
  QVector<int> chosen_;
  bool follow_ = true;  // first and newest, moving on with new evaluations
  QList<int> groups_;
};

}  // namespace grpo::app

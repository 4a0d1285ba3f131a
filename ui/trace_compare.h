// Compared traces: completions of one prompt side by side (e.g. two runs at the same step, or one run at
// two steps), each with its reward and verdicts, its tokens coloured by a heat map (the trace inspector's
// modes) and its self-verification words highlighted. A prompt chooser on top; app/ fills the columns.
#pragma once

#include <QStringList>
#include <QVector>
#include <QWidget>

#include "ui/token_heat.h"

class QComboBox;
class QLabel;
class QSplitter;
class QTextBrowser;

namespace grpo::ui {

struct SampleView;

struct CompareColumn {
  QString title;  // e.g. "run A · step 20"
  QString completion;
  QVector<int> offsets;                        // byte offset of each token in the UTF-8 completion
  QVector<float> logp_old, logp, entropy, kl;  // per token, any may be empty (what the heat modes read)
  double reward = 0;
  bool correct = false, verified = false;
  QStringList markers;  // self-verification words to highlight

  // A sampled completion as a column (its text, tokens and verdicts).
  static CompareColumn from_sample(const QString& title, const SampleView& s, const QStringList& markers);
};

class TraceCompare : public QWidget {
  Q_OBJECT
 public:
  explicit TraceCompare(QWidget* parent = nullptr);

  // The prompts to choose from (keeps the chosen index while it exists; emits nothing).
  void set_prompts(const QStringList& prompts);
  QStringList prompts() const { return prompts_; }
  int current_prompt() const;          // -1 with no prompts
  void set_current_prompt(int index);  // as if the user picked it: emits prompt_changed on a change
  void set_columns(const QVector<CompareColumn>& columns);  // the chosen prompt's completions, left to right

  int column_count() const { return static_cast<int>(columns_.size()); }
  QString column_title(int i) const;  // the header line: title, reward, verdicts
  QString column_text(int i) const;   // the completion as shown, plain
  QString column_html(int i) const;   // the completion's rendered HTML (render_tokens)
  void set_heat_mode(HeatMode mode);
  HeatMode heat_mode() const;

 signals:
  void prompt_changed(int index);

 private:
  void redraw();

  QComboBox* prompt_;
  QComboBox* heat_;
  QSplitter* split_;
  QLabel* placeholder_;
  QStringList prompts_;
  QVector<CompareColumn> columns_;
  QVector<QLabel*> headers_;
  QVector<QTextBrowser*> views_;
  QStringList html_;
};

}  // namespace grpo::ui

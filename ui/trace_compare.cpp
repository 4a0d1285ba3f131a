// Compared traces (see trace_compare.h).
#include "ui/trace_compare.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSplitter>
#include <QTextBrowser>
#include <QTextDocumentFragment>
#include <QVBoxLayout>
#include <algorithm>

#include "ui/sample_model.h"

namespace grpo::ui {

CompareColumn CompareColumn::from_sample(const QString& title, const SampleView& s,
                                         const QStringList& markers) {
  CompareColumn c;
  c.title = title;
  c.completion = s.completion;
  c.offsets = s.offsets;
  c.logp_old = s.logp_old;
  c.logp = s.logp;
  c.entropy = s.entropy;
  c.kl = s.kl;
  c.reward = s.reward;
  c.correct = s.correct;
  c.verified = s.verified;
  c.markers = markers;
  return c;
}

TraceCompare::TraceCompare(QWidget* parent)
    : QWidget(parent), prompt_(new QComboBox), heat_(new QComboBox), split_(new QSplitter(Qt::Horizontal)) {
  prompt_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  prompt_->setMinimumContentsLength(40);
  prompt_->setToolTip(tr("The prompt whose completions are compared"));
  heat_->addItems(heat_mode_labels());
  heat_->setCurrentIndex(static_cast<int>(HeatMode::kImprobability));
  auto* bar = new QHBoxLayout;
  bar->addWidget(new QLabel(tr("Prompt")));
  bar->addWidget(prompt_, 1);
  bar->addWidget(heat_);
  placeholder_ =
      new QLabel(tr("Nothing to compare yet: pick a prompt, and the runs or steps to set side by side."));
  placeholder_->setAlignment(Qt::AlignCenter);
  placeholder_->setWordWrap(true);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(bar);
  layout->addWidget(placeholder_, 1);
  layout->addWidget(split_, 1);
  split_->setChildrenCollapsible(false);
  split_->hide();
  connect(prompt_, &QComboBox::currentIndexChanged, this, &TraceCompare::prompt_changed);
  connect(heat_, &QComboBox::currentIndexChanged, this, [this] { redraw(); });
}

void TraceCompare::set_prompts(const QStringList& prompts) {
  const QSignalBlocker block(prompt_);
  const int keep = prompt_->currentIndex();
  prompts_ = prompts;
  prompt_->clear();
  for (const QString& p : prompts) {
    QString shown = p.simplified();  // one line in the box, the whole prompt on hover
    if (shown.size() > 120) shown = shown.left(119) + "…";
    prompt_->addItem(shown);
    prompt_->setItemData(prompt_->count() - 1, p, Qt::ToolTipRole);
  }
  if (!prompts.isEmpty()) prompt_->setCurrentIndex(std::clamp(keep, 0, static_cast<int>(prompts.size()) - 1));
}

int TraceCompare::current_prompt() const {
  return prompt_->currentIndex();
}
void TraceCompare::set_current_prompt(int index) {
  prompt_->setCurrentIndex(index);
}

void TraceCompare::set_columns(const QVector<CompareColumn>& columns) {
  columns_ = columns;
  while (views_.size() > columns_.size()) {  // one header and one view per column, reused
    delete headers_.takeLast()->parentWidget();
    views_.removeLast();
  }
  while (views_.size() < columns_.size()) {
    auto* box = new QWidget;
    auto* v = new QVBoxLayout(box);
    v->setContentsMargins(0, 0, 0, 0);
    auto* header = new QLabel;
    header->setWordWrap(true);
    // Room for a title that wraps: every column's text then starts at the same height.
    header->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    header->setMinimumHeight(header->fontMetrics().lineSpacing() * 4 + 4);
    auto* view = new QTextBrowser;
    view->setOpenLinks(false);
    v->addWidget(header);
    v->addWidget(view, 1);
    split_->addWidget(box);
    headers_ << header;
    views_ << view;
  }
  placeholder_->setVisible(columns_.isEmpty());
  split_->setVisible(!columns_.isEmpty());
  redraw();
}

void TraceCompare::redraw() {
  const auto mode = heat_mode();
  html_.clear();
  for (int i = 0; i < columns_.size(); ++i) {
    const CompareColumn& c = columns_[i];
    headers_[i]->setText(QString("<b>%1</b><br>reward %2 · %3 · %4")
                             .arg(c.title.toHtmlEscaped())
                             .arg(c.reward, 0, 'f', 3)
                             .arg(c.correct ? tr("<span style='color:#2ca02c'>✓ correct</span>")
                                            : tr("<span style='color:#d62728'>✗ wrong</span>"),
                                  c.verified ? tr("checks its work") : tr("no self-check")));
    html_ << render_tokens(c.completion, c.offsets, token_heat(mode, c.logp, c.logp_old, c.entropy, c.kl),
                           c.markers);
    views_[i]->setHtml(html_.last());
  }
}

QString TraceCompare::column_title(int i) const {
  return i >= 0 && i < headers_.size() ? QTextDocumentFragment::fromHtml(headers_[i]->text()).toPlainText()
                                       : QString();
}

QString TraceCompare::column_text(int i) const {
  return i >= 0 && i < views_.size() ? views_[i]->toPlainText() : QString();
}

QString TraceCompare::column_html(int i) const {
  return html_.value(i);
}

void TraceCompare::set_heat_mode(HeatMode mode) {
  heat_->setCurrentIndex(static_cast<int>(mode));
}
HeatMode TraceCompare::heat_mode() const {
  return static_cast<HeatMode>(std::max(0, heat_->currentIndex()));
}

}  // namespace grpo::ui

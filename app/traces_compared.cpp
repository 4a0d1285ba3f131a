// Traces compared (see traces_compared.h).
#include "app/traces_compared.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QSignalBlocker>
#include <QVBoxLayout>
#include <algorithm>

#include "ui/trace_compare.h"

namespace grpo::app {

namespace {
const ui::SampleView* of_group(const QVector<ui::SampleView>& samples, int group) {
  for (const auto& s : samples)
    if (s.group == group) return &s;
  return nullptr;
}
}  // namespace

TracesCompared::TracesCompared(QWidget* parent)
    : QWidget(parent), view_(new ui::TraceCompare), steps_label_(new QLabel), steps_list_(new QListWidget) {
  steps_list_->setFlow(QListView::LeftToRight);
  steps_list_->setWrapping(true);
  steps_list_->setResizeMode(QListView::Adjust);
  steps_list_->setSpacing(2);
  steps_list_->setFixedHeight(steps_list_->fontMetrics().height() + 16);  // one row; more scroll
  steps_list_->setToolTip(tr("Tick the evaluation steps of the active run to set side by side"));
  auto* bar = new QHBoxLayout;
  bar->addWidget(steps_label_);
  bar->addWidget(steps_list_, 1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(bar);
  layout->addWidget(view_, 1);
  connect(view_, &ui::TraceCompare::prompt_changed, this, &TracesCompared::fill_columns);
  connect(steps_list_, &QListWidget::itemChanged, this, [this] {
    chosen_.clear();
    for (int i = 0; i < steps_list_->count(); ++i)
      if (steps_list_->item(i)->checkState() == Qt::Checked)
        chosen_ << steps_list_->item(i)->data(Qt::UserRole).toInt();
    follow_ = false;
    fill_columns();
  });
  refresh();
}

void TracesCompared::set_runs(RunData* active, const QVector<RunData*>& others) {
  if (active != active_) follow_ = true;
  active_ = active;
  others_.clear();
  for (RunData* o : others)
    if (o && o != active) others_ << o;
  refresh();
}

QVector<int> TracesCompared::available_steps() const {
  return active_ ? active_->eval_steps : QVector<int>();
}

void TracesCompared::set_steps(const QVector<int>& steps) {
  follow_ = steps.isEmpty();
  chosen_ = steps;
  refresh();
}

void TracesCompared::refresh() {
  fill_steps();
  fill_prompts();
  fill_columns();
}

void TracesCompared::fill_steps() {
  const QVector<int> have = available_steps();
  if (follow_) {
    chosen_.clear();
    if (!have.isEmpty()) chosen_ << have.first();
    if (have.size() > 1) chosen_ << have.last();
  } else {
    chosen_.erase(std::remove_if(chosen_.begin(), chosen_.end(), [&](int s) { return !have.contains(s); }),
                  chosen_.end());
  }
  std::sort(chosen_.begin(), chosen_.end());
  const QSignalBlocker block(steps_list_);
  steps_list_->clear();
  for (int s : have) {
    auto* it = new QListWidgetItem(tr("step %1").arg(s), steps_list_);
    it->setData(Qt::UserRole, s);
    it->setFlags(Qt::ItemIsEnabled | Qt::ItemIsUserCheckable);
    it->setCheckState(chosen_.contains(s) ? Qt::Checked : Qt::Unchecked);
  }
  steps_label_->setText(active_ ? tr("Evaluations of %1:").arg(active_->name) : tr("No run selected"));
}

void TracesCompared::fill_prompts() {
  // The held-out prompts, from the first evaluation of a run that has one (the same in all of them).
  QVector<RunData*> runs;
  if (active_) runs << active_;
  runs += others_;
  QVector<ui::SampleView> samples;
  for (RunData* r : runs) {
    if (!r->eval_steps.isEmpty()) samples = r->eval_samples(r->eval_steps.first());
    if (!samples.isEmpty()) break;
  }
  std::sort(samples.begin(), samples.end(), [](const auto& a, const auto& b) { return a.group < b.group; });
  QStringList prompts;
  groups_.clear();
  for (const auto& s : samples) {
    if (groups_.contains(s.group)) continue;
    groups_ << s.group;
    prompts << s.prompt;
  }
  view_->set_prompts(prompts);
}

void TracesCompared::fill_columns() {
  QVector<ui::CompareColumn> columns;
  const int i = view_->current_prompt();
  if (i >= 0 && i < groups_.size()) {
    const int group = groups_[i];
    const auto add = [&](RunData* r, int step, const QString& title) {
      const QVector<ui::SampleView> samples = r->eval_samples(step);
      if (const auto* sample = of_group(samples, group))
        columns << ui::CompareColumn::from_sample(title, *sample, r->markers_words());
    };
    if (active_)
      for (int s : chosen_) add(active_, s, tr("%1 · step %2").arg(active_->name).arg(s));
    for (RunData* o : others_)
      if (!o->eval_steps.isEmpty())
        add(o, o->eval_steps.last(), tr("%1 · step %2 (newest)").arg(o->name).arg(o->eval_steps.last()));
  }
  view_->set_columns(columns);
}

}  // namespace grpo::app

// Trace inspector (see trace_inspector.h).
#include "ui/trace_inspector.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTextBrowser>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "ui/token_heat.h"

namespace grpo::ui {

static_assert(int(TraceInspector::kLogp) == int(HeatMode::kImprobability) &&
                  int(TraceInspector::kKl) == int(HeatMode::kKl),
              "TraceInspector::HeatMap follows HeatMode");

QString TraceInspector::render(const SampleView& s, HeatMap kind, const QStringList& markers) {
  return render_tokens(s.completion, s.offsets,
                       token_heat(static_cast<HeatMode>(kind), s.logp, s.logp_old, s.entropy, s.kl), markers);
}

TraceInspector::TraceInspector(QWidget* parent)
    : QWidget(parent), model_(new SampleTableModel(this)), filter_(new SampleFilter(this)) {
  filter_->setSourceModel(model_);
  filter_->setSortRole(Qt::EditRole);

  // Toolbar: step navigation and filters.
  step_box_ = new QSpinBox;
  step_box_->setPrefix(tr("step "));
  step_box_->setMinimum(0);
  step_box_->setMaximum(0);
  auto* prev = new QPushButton(tr("◀"));
  auto* next = new QPushButton(tr("▶"));
  prev->setToolTip(tr("Previous step with samples"));
  next->setToolTip(tr("Next step with samples"));
  follow_ = new QCheckBox(tr("Follow live"));
  follow_->setChecked(true);
  kind_ = new QComboBox;
  kind_->addItems({tr("all"), tr("correct"), tr("wrong"), tr("verified"), tr("not verified")});
  search_ = new QLineEdit;
  search_->setPlaceholderText(tr("Search text…"));
  search_->setClearButtonEnabled(true);
  heat_ = new QComboBox;
  heat_->addItems(heat_mode_labels());
  summary_ = new QLabel;
  auto* bar = new QHBoxLayout;
  for (QWidget* w : std::initializer_list<QWidget*>{prev, step_box_, next, follow_, kind_, search_, heat_}) bar->addWidget(w);
  bar->addWidget(summary_, 1);

  table_ = new QTableView;
  table_->setModel(filter_);
  table_->setSortingEnabled(true);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->verticalHeader()->hide();
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->setAlternatingRowColors(true);
  table_->sortByColumn(SampleTableModel::kGroup, Qt::AscendingOrder);

  detail_ = new QTextBrowser;
  group_ = new QTableWidget;
  group_->setColumnCount(6);
  group_->setHorizontalHeaderLabels({tr("#"), tr("reward"), tr("advantage"), tr("correct"), tr("verified"), tr("completion")});
  group_->horizontalHeader()->setStretchLastSection(true);
  group_->verticalHeader()->hide();
  group_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  auto* tabs = new QTabWidget;
  tabs->addTab(detail_, tr("Completion"));
  tabs->addTab(group_, tr("Its group"));

  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(table_);
  split->addWidget(tabs);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(bar);
  layout->addWidget(split);

  connect(kind_, &QComboBox::currentIndexChanged, this, [this](int i) {
    filter_->set_kind(static_cast<SampleFilter::Kind>(i));
    summary_->setText(tr("%1 of %2 shown").arg(filter_->rowCount()).arg(model_->rowCount()));
  });
  connect(search_, &QLineEdit::textChanged, this, [this](const QString& t) {
    filter_->set_text(t);
    summary_->setText(tr("%1 of %2 shown").arg(filter_->rowCount()).arg(model_->rowCount()));
  });
  connect(heat_, &QComboBox::currentIndexChanged, this, [this] { show_detail(); });
  connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this] { show_detail(); });
  connect(step_box_, &QSpinBox::valueChanged, this, [this](int step) {
    if (step != model_->step()) request_step(step);
  });
  connect(prev, &QPushButton::clicked, this, [this] {
    for (int i = static_cast<int>(steps_.size()) - 1; i >= 0; --i)
      if (steps_[i] < current_step()) return request_step(steps_[i]);
  });
  connect(next, &QPushButton::clicked, this, [this] {
    for (int s : steps_)
      if (s > current_step()) return request_step(s);
  });
  connect(follow_, &QCheckBox::toggled, this, [this](bool on) {
    if (on && !steps_.isEmpty()) request_step(steps_.last());
  });
}

void TraceInspector::request_step(int step) {
  if (step != current_step() && !steps_.isEmpty() && step != steps_.last()) follow_->setChecked(false);
  emit step_requested(step);
}

void TraceInspector::set_available_steps(const QVector<int>& steps) {
  const bool grew = steps_.isEmpty() || (!steps.isEmpty() && steps.last() != steps_.last());
  steps_ = steps;
  if (steps.isEmpty()) return;
  {
    const QSignalBlocker block(step_box_);  // a range change is not the user picking a step
    step_box_->setRange(steps.first(), steps.last());
  }
  if (follow_->isChecked() && grew) emit step_requested(steps.last());
}

void TraceInspector::set_samples(int step, QVector<SampleView> samples) {
  const int keep_row = table_->currentIndex().isValid() ? table_->currentIndex().row() : 0;
  const bool first = model_->rowCount() == 0;
  model_->set_samples(step, std::move(samples));
  {
    const QSignalBlocker block(step_box_);
    step_box_->setValue(step);
  }
  if (first) table_->resizeColumnsToContents();  // once: sizing every column to its contents is costly
  summary_->setText(tr("%1 of %2 shown").arg(filter_->rowCount()).arg(model_->rowCount()));
  select_row(std::min(keep_row, std::max(0, filter_->rowCount() - 1)));
}

void TraceInspector::set_markers(const QStringList& markers) {
  markers_ = markers;
  show_detail();
}

bool TraceInspector::following() const { return follow_->isChecked(); }
int TraceInspector::current_step() const { return model_->step(); }
int TraceInspector::visible_rows() const { return filter_->rowCount(); }

void TraceInspector::select_row(int visible_row) {
  if (visible_row < 0 || visible_row >= filter_->rowCount()) {
    show_detail();
    return;
  }
  table_->selectRow(visible_row);
  table_->setCurrentIndex(filter_->index(visible_row, 0));
  show_detail();
}

void TraceInspector::set_heat_map(HeatMap kind) { heat_->setCurrentIndex(kind); }

QString TraceInspector::detail_html() const { return detail_->toHtml(); }

void TraceInspector::show_detail() {
  const QModelIndex current = table_->currentIndex();
  group_->setRowCount(0);
  if (!current.isValid()) {
    detail_->clear();
    return;
  }
  const SampleView& s = model_->sample(filter_->mapToSource(current).row());
  QString rewards;
  for (auto it = s.rewards.begin(); it != s.rewards.end(); ++it)
    rewards += std::isfinite(it.value()) ? QString("%1 %2 · ").arg(it.key()).arg(it.value(), 0, 'f', 2)
                                         : QString("%1 n/a · ").arg(it.key());
  const QString columns = s.columns.isEmpty() ? QString()
                          : QString("<p style='color:gray'>%1</p>").arg(
                                (s.columns.size() > 600 ? s.columns.left(600) + "…" : s.columns).toHtmlEscaped());
  detail_->setHtml(QString("<p><b>%1</b> → <b>%2</b> &nbsp; reward %3 (%4advantage %5) · %6 tokens%7</p>")
                       .arg(s.prompt.toHtmlEscaped(), s.answer.toHtmlEscaped())
                       .arg(s.reward, 0, 'f', 3)
                       .arg(rewards)
                       .arg(s.advantage, 0, 'f', 3)
                       .arg(s.length)
                       .arg(s.truncated ? tr(" · cut at the length limit") : QString()) +
                   columns + render(s, static_cast<HeatMap>(heat_->currentIndex()), markers_));
  // The whole group, side by side with its advantages.
  int row = 0;
  for (const auto& o : model_->samples()) {
    if (o.group != s.group) continue;
    group_->insertRow(row);
    const QStringList cells = {QString::number(o.index), QString::number(o.reward, 'f', 3),
                               QString::number(o.advantage, 'f', 3), o.correct ? tr("yes") : tr("no"),
                               o.verified ? tr("yes") : tr("no"), o.completion};
    for (int c = 0; c < cells.size(); ++c) {
      auto* item = new QTableWidgetItem(cells[c]);
      if (c == 2) {
        const double v = std::clamp(o.advantage / 2.0, -1.0, 1.0);
        const int a = static_cast<int>(std::abs(v) * 170);
        item->setBackground(v < 0 ? QColor(220, 50, 40, a) : QColor(40, 170, 70, a));
      }
      group_->setItem(row, c, item);
    }
    ++row;
  }
  group_->resizeColumnsToContents();
}

}  // namespace grpo::ui

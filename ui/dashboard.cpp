// Dashboard (see dashboard.h).
#include "ui/dashboard.h"

#include <qcustomplot.h>

#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollArea>
#include <QSlider>
#include <QVBoxLayout>

#include <iterator>

#include "ipc/names.h"
#include "ui/chart_widget.h"

namespace grpo::ui {

QVector<ChartSpec> default_charts() {
  namespace m = ipc::metric;  // the names the trainer logs (ipc/names.h, header-only constants)
  auto part = [](const char* name) { return QString::fromStdString(m::reward_part(name)); };
  return {
      // Every reward function a run has on (docs/rewards.md); a run draws the ones it logs.
      {"Reward",
       {m::kReward, part("accuracy"), part("format"), part("math"), part("overlong"), part("length"),
        part("regex"), part("exact"), part("server")},
       false,
       m::kRewardStd,
       {"reward (± std)", "accuracy reward", "format reward", "math reward", "overlong penalty",
        "length reward", "regex reward", "exact-match reward", "server reward"}},
      {"Accuracy",
       {m::kAccuracy, m::kEvalGreedyAccuracy, m::kEvalSampledAccuracy, m::kEvalPassAtK},
       true,
       {},
       {"training samples", "held-out, greedy", "held-out, sampled", "held-out, pass@k"}},
      {"Self-verification rate",
       {m::kVerifyRate, m::kVerifyRateCorrect, m::kVerifyRateWrong, m::kEvalCheckRate,
        m::kEvalSelfVerificationRate},
       true,
       {},
       {"all samples", "correct answers", "wrong answers", "held-out", "held-out (dataset)"}},
      {"Completion length (tokens)",
       {m::kMeanLength, m::kMinLength, m::kMaxLength},
       false,
       {},
       {"mean", "min", "max"}},
      {"Cut at length / zero-spread groups",
       {m::kClippedRatio, m::kZeroStdFraction},
       true,
       {},
       {"cut at max tokens", "groups with equal rewards"}},
      {"KL to reference", {m::kKl}, false, {}, {"k3 KL"}},
      {"Entropy", {m::kEntropy}, false, {}, {"entropy (nats)"}},
      {"Clip fraction", {m::kClipLow, m::kClipHigh, m::kClipRegion}, false, {}, {"low", "high", "either"}},
      {"Gradient norm", {m::kGradNorm}, false, {}, {"before clipping"}},
      {"Learning rate", {m::kLearningRate}, false, {}, {"learning rate"}},
      {"Tokens / s",
       {m::kTokensPerSecGeneration, m::kTokensPerSecTraining},
       false,
       {},
       {"generation", "training"}},
      {"Loss", {m::kLoss}, false, {}, {"GRPO loss"}},
  };
}

namespace {
const QColor kMetricColors[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44),  QColor(148, 103, 189),
                                QColor(214, 39, 40),  QColor(140, 86, 75),  QColor(227, 119, 194), QColor(127, 127, 127),
                                QColor(188, 189, 34)};
const Qt::PenStyle kStyles[] = {Qt::SolidLine, Qt::DashLine, Qt::DotLine, Qt::DashDotLine};
}  // namespace

Dashboard::Dashboard(QWidget* parent, QVector<ChartSpec> charts) : QWidget(parent), specs_(std::move(charts)) {
  axis_box_ = new QComboBox;
  axis_box_->addItems({tr("x: step"), tr("x: wall time (s)"), tr("x: tokens generated")});
  smooth_ = new QSlider(Qt::Horizontal);
  smooth_->setRange(0, 99);
  smooth_->setValue(0);
  smooth_->setMaximumWidth(200);
  smooth_->setToolTip(tr("Smoothing: TensorBoard's debiased exponential moving average (raw line kept faint)"));
  smooth_label_ = new QLabel(tr("smoothing 0.00"));
  auto* bar = new QHBoxLayout;
  bar->addWidget(axis_box_);
  bar->addSpacing(12);
  bar->addWidget(smooth_label_);
  bar->addWidget(smooth_);
  bar->addStretch();

  auto* grid_host = new QWidget;
  auto* grid = new QGridLayout(grid_host);
  grid->setSpacing(6);
  for (int i = 0; i < specs_.size(); ++i) {
    auto* c = new ChartWidget(specs_[i].title);
    c->setMinimumSize(250, 210);
    if (specs_[i].unit_range) c->set_y_range(-0.02, 1.02);
    connect(c, &ChartWidget::export_requested, this, &Dashboard::export_requested);
    connect(c, &ChartWidget::fork_requested, this, [this](int step, const QString& key) {
      const QString run = run_of(key);
      if (!run.isEmpty()) emit fork_requested(run, step);
    });
    charts_.push_back(c);
    grid->addWidget(c, i / 3, i % 3);
  }
  auto* scroll = new QScrollArea;
  scroll->setWidget(grid_host);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(bar);
  layout->addWidget(scroll);

  connect(axis_box_, &QComboBox::currentIndexChanged, this, [this](int i) { set_x_axis(static_cast<XAxis>(i)); });
  connect(smooth_, &QSlider::valueChanged, this, [this](int v) {
    smooth_label_->setText(tr("smoothing %1").arg(v / 100.0, 0, 'f', 2));
    set_smoothing(v / 100.0);
  });
}

void Dashboard::add_run(const QString& run, const QColor& color) {
  if (runs_.contains(run)) return;
  Run r;
  r.color = color;
  r.index = next_index_++;
  runs_.insert(run, r);
  if (runs_.size() == 2)  // from one run to an overlay: colours, dashes and legend names change for all
    for (auto it = runs_.begin(); it != runs_.end(); ++it) redraw_run(it.key());
}

void Dashboard::remove_run(const QString& run) {
  if (!runs_.remove(run)) return;
  for (auto* c : charts_)
    for (const auto& key : c->series_keys())
      if (key.startsWith(run + "|")) c->remove_series(key);
  if (runs_.size() == 1) redraw_run(runs_.begin().key());  // back to one run: a colour per series again
  draw_markers();
  replot();
}

void Dashboard::set_axis_data(const QString& run, const QVector<int>& steps, const QVector<double>& seconds,
                              const QVector<double>& tokens) {
  auto it = runs_.find(run);
  if (it == runs_.end()) return;
  for (int i = 0; i < steps.size(); ++i) {
    it->seconds[steps[i]] = seconds.value(i);
    it->tokens[steps[i]] = tokens.value(i);
  }
}

QVector<double> Dashboard::x_of(const Run& r, const QVector<int>& steps) const {
  QVector<double> x(steps.size());
  for (int i = 0; i < steps.size(); ++i) {
    const int s = steps[i];
    x[i] = axis_ == kStep ? s : axis_ == kTime ? r.seconds.value(s, s) : r.tokens.value(s, s);
  }
  return x;
}

QColor Dashboard::line_color(const Run& r, int metric_index) const {
  // One run: a colour per metric. Several runs: the run's colour, a dash style per metric.
  return runs_.size() <= 1 ? kMetricColors[metric_index % std::size(kMetricColors)] : r.color;
}

void Dashboard::draw_metric(const QString& run, const QString& metric) {
  const Run& r = runs_[run];
  const auto& data = r.metrics[metric];
  for (int c = 0; c < specs_.size(); ++c) {
    const int mi = static_cast<int>(specs_[c].metrics.indexOf(metric));
    const bool band = specs_[c].band_std == metric;
    if (mi < 0 && !band) continue;
    if (band) {  // the band around metrics[0] of this chart
      const auto& mean = r.metrics.value(specs_[c].metrics[0]);
      if (mean.first.size() != data.first.size()) continue;
      QVector<double> lo(mean.second.size()), hi(mean.second.size());
      for (int i = 0; i < lo.size(); ++i) lo[i] = mean.second[i] - data.second[i], hi[i] = mean.second[i] + data.second[i];
      charts_[c]->set_band(run + "|" + specs_[c].metrics[0], x_of(r, mean.first), lo, hi);
      continue;
    }
    const QString key = run + "|" + metric;
    const QString name = specs_[c].labels.value(mi, metric);
    // Several runs: the run's colour, a dash pattern per series (set by key, so a redraw keeps it), and
    // legend entries that say run · series.
    const QString label = runs_.size() > 1 ? run.section('/', -1) + " · " + name : name;
    charts_[c]->set_series(key, label, line_color(r, mi), x_of(r, data.first), data.second);
    charts_[c]->set_style(key, runs_.size() > 1 ? kStyles[mi % std::size(kStyles)] : Qt::SolidLine);
    // Several runs: one legend entry per run (its chart's first series, solid), or a chart with three
    // series and three runs lists nine and hides the lines; hovering still names every series.
    charts_[c]->set_in_legend(key, runs_.size() <= 1 || mi == 0);
  }
}

void Dashboard::draw_parent(const QString& run, const QString& metric) {
  const Run& r = runs_[run];
  const auto data = r.parent.value(metric);
  const QString key = parent_key(run, metric);
  for (int c = 0; c < specs_.size(); ++c) {
    const int mi = static_cast<int>(specs_[c].metrics.indexOf(metric));
    if (mi < 0) continue;
    if (axis_ != kStep || data.first.isEmpty()) {  // the parent's wall time and tokens are not this run's
      charts_[c]->remove_series(key);
      continue;
    }
    QVector<double> x(data.first.begin(), data.first.end());
    const QString name = specs_[c].labels.value(mi, metric);
    charts_[c]->set_series(key, r.parent_label + " · " + name, line_color(r, mi), x, data.second);
    charts_[c]->set_style(key, runs_.size() > 1 ? kStyles[mi % std::size(kStyles)] : Qt::SolidLine);
    charts_[c]->set_faint(key, true);
    charts_[c]->set_in_legend(key, false);  // the run's own entry names the line; hover names this part
  }
}

void Dashboard::redraw_run(const QString& run) {
  for (auto it = runs_[run].metrics.begin(); it != runs_[run].metrics.end(); ++it) draw_metric(run, it.key());
  for (auto it = runs_[run].parent.begin(); it != runs_[run].parent.end(); ++it) draw_parent(run, it.key());
}

QString Dashboard::parent_key(const QString& run, const QString& metric) {
  return run + "|parent|" + metric;
}

QString Dashboard::run_of(const QString& series_key) const {
  QString best;  // the longest run id the key starts with ("runs/a" and "runs/a|b" stay apart)
  for (auto it = runs_.begin(); it != runs_.end(); ++it)
    if (series_key.startsWith(it.key() + "|") && it.key().size() > best.size()) best = it.key();
  return best;
}

void Dashboard::set_parent_history(const QString& run, const QString& parent_label, const QString& metric,
                                   const QVector<int>& steps, const QVector<double>& values) {
  auto it = runs_.find(run);
  if (it == runs_.end()) return;
  if (it->parent_label != parent_label) {  // every parent line's legend name changes
    it->parent_label = parent_label;
    for (auto p = it->parent.begin(); p != it->parent.end(); ++p) draw_parent(run, p.key());
  }
  if (steps.isEmpty()) {
    it->parent.remove(metric);
    for (auto* c : charts_) c->remove_series(parent_key(run, metric));
    return;
  }
  it->parent[metric] = {steps, values};
  draw_parent(run, metric);
}

void Dashboard::clear_parent_history(const QString& run) {
  auto it = runs_.find(run);
  if (it == runs_.end()) return;
  for (auto p = it->parent.begin(); p != it->parent.end(); ++p)
    for (auto* c : charts_) c->remove_series(parent_key(run, p.key()));
  it->parent.clear();
}

void Dashboard::set_alerts(const QString& run, const QVector<Alert>& alerts) {
  auto it = runs_.find(run);
  if (it == runs_.end()) return;
  it->alerts = alerts;
  draw_markers();
}

void Dashboard::set_fork_points(const QString& run, const QVector<ForkPoint>& points) {
  auto it = runs_.find(run);
  if (it == runs_.end()) return;
  it->forks = points;
  draw_markers();
}

void Dashboard::set_fork_enabled(bool enabled) {
  fork_enabled_ = enabled;
  for (auto* c : charts_) c->set_fork_enabled(fork_enabled_ && axis_ == kStep);
}

void Dashboard::set_metric(const QString& run, const QString& metric, const QVector<int>& steps, const QVector<double>& values) {
  auto it = runs_.find(run);
  if (it == runs_.end()) return;
  it->metrics[metric] = {steps, values};
  draw_metric(run, metric);
  // A band needs its mean: drawn when the second of the two arrives, whichever order they come in.
  for (const auto& s : specs_)
    if (!s.band_std.isEmpty() && s.metrics.value(0) == metric && it->metrics.contains(s.band_std))
      draw_metric(run, s.band_std);
}

void Dashboard::append_metric(const QString& run, const QString& metric, const QVector<int>& steps, const QVector<double>& values) {
  auto it = runs_.find(run);
  if (it == runs_.end() || steps.isEmpty()) return;
  auto& data = it->metrics[metric];
  data.first += steps;
  data.second += values;
  bool banded = false;
  for (const auto& s : specs_) banded |= s.band_std == metric || (!s.band_std.isEmpty() && s.metrics.value(0) == metric);
  const QVector<double> x = x_of(*it, steps);
  for (int c = 0; c < specs_.size(); ++c)
    if (specs_[c].metrics.contains(metric)) {
      const QString key = run + "|" + metric;
      if (charts_[c]->point_count(key) == 0) {
        draw_metric(run, metric);
        break;
      }
      charts_[c]->append_points(key, x, values);
    }
  if (banded) {
    for (const auto& s : specs_)
      if (!s.band_std.isEmpty() && (s.band_std == metric || s.metrics.value(0) == metric)) draw_metric(run, s.band_std);
  }
}

void Dashboard::set_markers(const QString& run, const QVector<Marker>& markers) {
  auto it = runs_.find(run);
  if (it == runs_.end()) return;
  it->markers = markers;
  draw_markers();
}

void Dashboard::draw_markers() {
  for (auto* c : charts_) c->clear_markers();
  for (auto it = runs_.begin(); it != runs_.end(); ++it) {
    const QVector<double> x = [&] {
      QVector<int> steps;
      for (const auto& m : it->markers) steps << m.step;
      return x_of(*it, steps);
    }();
    for (int i = 0; i < it->markers.size(); ++i) {
      const auto& m = it->markers[i];
      const QColor color = m.checkpoint ? QColor(128, 128, 128) : QColor(230, 120, 0);
      for (auto* c : charts_) c->add_marker(x[i], m.checkpoint ? QString() : m.label, color);
    }
    QVector<int> steps;
    for (const auto& f : it->forks) steps << f.step;
    const QVector<double> fx = x_of(*it, steps);
    for (int i = 0; i < it->forks.size(); ++i)
      for (auto* c : charts_) c->add_marker(fx[i], tr("fork: %1").arg(it->forks[i].label), MarkerKind::kFork);
    steps.clear();
    for (const auto& a : it->alerts) steps << a.step;
    const QVector<double> ax = x_of(*it, steps);
    for (int i = 0; i < it->alerts.size(); ++i) {
      const Alert& a = it->alerts[i];
      for (int c = 0; c < specs_.size(); ++c)  // only where the metric is drawn (as a line or a band)
        if (a.metric.isEmpty() || specs_[c].metrics.contains(a.metric) || specs_[c].band_std == a.metric)
          charts_[c]->add_marker(ax[i], a.label, MarkerKind::kAlert);
    }
  }
}

void Dashboard::set_smoothing(double weight) {
  for (auto* c : charts_) c->set_smoothing(weight);
  replot();
}

void Dashboard::set_x_axis(XAxis axis) {
  axis_ = axis;
  {
    const QSignalBlocker block(axis_box_);
    axis_box_->setCurrentIndex(axis);
  }
  static const char* kLabels[] = {"step", "wall time (s)", "tokens generated"};
  for (auto* c : charts_) {
    c->set_x_label(tr(kLabels[axis]));
    c->set_integer_x(axis == kStep);
    c->set_fork_enabled(fork_enabled_ && axis == kStep);  // a fork starts from a step, not a time
  }
  for (auto it = runs_.begin(); it != runs_.end(); ++it) redraw_run(it.key());
  draw_markers();
  for (auto* c : charts_) c->rescale();
  replot();
}

void Dashboard::replot() {
  for (auto* c : charts_) {
    if (c->auto_range()) c->rescale();
    c->replot();
  }
}

ChartWidget* Dashboard::chart(const QString& title) const {
  for (int i = 0; i < specs_.size(); ++i)
    if (specs_[i].title == title) return charts_[i];
  return nullptr;
}

int Dashboard::point_count(const QString& run, const QString& metric) const {
  int n = 0;
  for (auto* c : charts_) n = std::max(n, c->point_count(run + "|" + metric));
  return n;
}

}  // namespace grpo::ui

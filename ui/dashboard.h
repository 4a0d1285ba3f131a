// The dashboard: a grid of charts (reward with its ±std band, accuracy, self-verification, length, KL,
// entropy, clip fractions, grad norm, learning rate, tokens/s), each overlaying every shown run in that
// run's stable colour, with a shared smoothing slider and x axis (step, wall time or tokens), and markers
// where hyperparameters changed, checkpoints were written, watchdogs fired or runs forked. A fork's charts
// can draw its parent's history faint before its own. Takes plain numbers; knows no run store.
#pragma once

#include <QColor>
#include <QHash>
#include <QVector>
#include <QWidget>

class QComboBox;
class QSlider;
class QLabel;

namespace grpo::ui {

class ChartWidget;

struct ChartSpec {
  QString title;
  QStringList metrics;    // drawn as lines
  bool unit_range = false;  // fix y to [0, 1]
  QString band_std;       // a metric whose value is the ± half-width of a band around metrics[0]
  QStringList labels;     // legend names of `metrics` (default: the metric names)
};

// The studio's default charts.
QVector<ChartSpec> default_charts();

struct Marker {
  int step = 0;
  QString label;
  bool checkpoint = false;  // checkpoint (grey) or hyperparameter change (orange)
};

// A watchdog alarm: a red marker on the charts that show `metric` (empty: on every chart).
struct Alert {
  int step = 0;
  QString metric;
  QString label;  // e.g. the rule's name
};

// A fork point: a purple "fork: <label>" marker on every chart (e.g. where a child run starts).
struct ForkPoint {
  int step = 0;
  QString label;
};

// With several runs shown, each chart's legend lists every run once (its chart's first series); hovering
// names every series of every run.
class Dashboard : public QWidget {
  Q_OBJECT
 public:
  enum XAxis { kStep, kTime, kTokens };
  explicit Dashboard(QWidget* parent = nullptr, QVector<ChartSpec> charts = default_charts());

  void add_run(const QString& run, const QColor& color);
  void remove_run(const QString& run);
  QStringList runs() const { return runs_.keys(); }
  // The run's x-axis values per step: wall seconds since its start and tokens generated so far.
  void set_axis_data(const QString& run, const QVector<int>& steps, const QVector<double>& seconds,
                     const QVector<double>& tokens);
  void set_metric(const QString& run, const QString& metric, const QVector<int>& steps, const QVector<double>& values);
  void append_metric(const QString& run, const QString& metric, const QVector<int>& steps, const QVector<double>& values);
  void set_markers(const QString& run, const QVector<Marker>& markers);
  void set_alerts(const QString& run, const QVector<Alert>& alerts);
  void set_fork_points(const QString& run, const QVector<ForkPoint>& points);
  // A fork's parent's history of `metric` (up to the fork step), drawn faint in the line's colour under
  // the legend name "parent_label · series" (hover shows it; the legend lists the run's own line only), on
  // the step axis only (the parent's time and tokens are its own). Empty steps remove it.
  void set_parent_history(const QString& run, const QString& parent_label, const QString& metric,
                          const QVector<int>& steps, const QVector<double>& values);
  void clear_parent_history(const QString& run);
  static QString parent_key(const QString& run, const QString& metric);  // its series' key on the charts
  QString run_of(const QString& series_key) const;                       // the run a series belongs to
  // Whether the charts offer "Fork from here…" (only while the x axis is the step axis).
  void set_fork_enabled(bool enabled);
  void set_smoothing(double weight);
  void set_x_axis(XAxis axis);
  void replot();

  QVector<ChartWidget*> charts() const { return charts_; }
  ChartWidget* chart(const QString& title) const;
  int point_count(const QString& run, const QString& metric) const;  // points drawn for it (max over charts)

 signals:
  void export_requested(ChartWidget* chart);
  // "Fork from here…" on a chart: the run of the series nearest the click, and the step of its nearest
  // point (on a parent's faint history: that step, before the run's own first step).
  void fork_requested(const QString& run, int step);

 private:
  struct Run {
    QColor color;
    int index = 0;
    QHash<QString, QPair<QVector<int>, QVector<double>>> metrics;  // metric -> (steps, values)
    QHash<int, double> seconds, tokens;                             // step -> x for the other axes
    QVector<Marker> markers;
    QVector<Alert> alerts;
    QVector<ForkPoint> forks;
    QString parent_label;
    QHash<QString, QPair<QVector<int>, QVector<double>>> parent;  // metric -> the parent's (steps, values)
  };
  QVector<double> x_of(const Run& r, const QVector<int>& steps) const;
  void redraw_run(const QString& run);
  void draw_metric(const QString& run, const QString& metric);
  void draw_parent(const QString& run, const QString& metric);
  void draw_markers();
  QColor line_color(const Run& r, int metric_index) const;

  QVector<ChartSpec> specs_;
  QVector<ChartWidget*> charts_;
  QHash<QString, Run> runs_;
  XAxis axis_ = kStep;
  QComboBox* axis_box_;
  QSlider* smooth_;
  QLabel* smooth_label_;
  int next_index_ = 0;
  bool fork_enabled_ = false;
};

}  // namespace grpo::ui

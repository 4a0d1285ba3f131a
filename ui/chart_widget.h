// One reusable chart (QCustomPlot): any number of series (a metric of a run), each drawn smoothed with its
// raw line faint underneath, an optional ±band, vertical markers (hyperparameter changes, checkpoints,
// alerts, forks), log scale, zoom and pan, export to PNG, SVG or PDF, and on the step axis "Fork from here…"
// in its context menu. Knows nothing of runs, ZeroMQ or LibTorch.
#pragma once

#include <QColor>
#include <QHash>
#include <QVector>
#include <QWidget>

#include <limits>
#include <optional>

class QCustomPlot;
class QCPGraph;

namespace grpo::ui {

// A vertical marker's look: kEvent a thin dashed line in the caller's colour (hyperparameter changes,
// checkpoints); kAlert a thicker solid red line (a watchdog fired); kFork a purple dashed line, a little
// thicker (a run forked here).
enum class MarkerKind { kEvent, kAlert, kFork };

struct ChartMarker {
  double x = 0;
  QString label;
  QColor color;
  MarkerKind kind = MarkerKind::kEvent;
};

// The data point of a chart nearest to a place on it.
struct ChartPoint {
  QString key;  // the series
  double x = 0, y = 0;
};

class ChartWidget : public QWidget {
  Q_OBJECT
 public:
  explicit ChartWidget(const QString& title, QWidget* parent = nullptr);

  // Replaces (or creates) a series. x must be ascending.
  void set_series(const QString& key, const QString& label, const QColor& color, const QVector<double>& x,
                  const QVector<double>& y);
  // Appends points to an existing series (x ascending, after its last point).
  void append_points(const QString& key, const QVector<double>& x, const QVector<double>& y);
  // A shaded band [lower, upper] drawn under the series `key` (e.g. mean ± std).
  void set_band(const QString& key, const QVector<double>& x, const QVector<double>& lower, const QVector<double>& upper);
  void remove_series(const QString& key);
  void set_in_legend(const QString& key, bool shown);  // e.g. one entry per run when several are overlaid
  void set_legend_name(const QString& key, const QString& name);  // hover keeps the series' full label
  void set_style(const QString& key, Qt::PenStyle style);  // the series' dash pattern (kept across redraws)
  Qt::PenStyle style(const QString& key) const;
  // A faint series: thin and pale, its smoothed line pale too, drawn under the other series (a fork's chart
  // draws its parent's history faint up to the fork step). Kept across redraws.
  void set_faint(const QString& key, bool faint);
  bool faint(const QString& key) const;
  QString legend_name(const QString& key) const;
  void clear();
  QStringList series_keys() const { return series_.keys(); }
  int point_count(const QString& key) const;
  QVector<double> series_x(const QString& key) const { return series_.value(key).x; }  // its raw points
  QVector<double> series_y(const QString& key) const { return series_.value(key).y; }

  void add_marker(double x, const QString& label, const QColor& color);  // a kEvent marker
  void add_marker(double x, const QString& label, MarkerKind kind);      // in the kind's colour
  static QColor marker_color(MarkerKind kind);                           // kAlert red, kFork purple
  QVector<ChartMarker> markers() const { return markers_; }              // in the order added
  void clear_markers();

  // "Fork from here…" in the context menu (off by default; only meaningful on the step axis).
  void set_fork_enabled(bool enabled) { fork_enabled_ = enabled; }
  bool fork_enabled() const { return fork_enabled_; }
  // The data point nearest to (x, y) in plot coordinates over every series, distances measured in
  // fractions of the visible axis ranges; y NaN: by x alone. Nothing without data.
  std::optional<ChartPoint> nearest_point(double x,
                                          double y = std::numeric_limits<double>::quiet_NaN()) const;
  // The step a fork at (x, y) starts from: the nearest point's x rounded; -1 without data.
  int step_at(double x, double y = std::numeric_limits<double>::quiet_NaN()) const;
  // What the menu entry does (tests call it: offscreen there is no popup to click): emits fork_requested
  // for the nearest point when forking is enabled and there is data; returns whether it did.
  bool request_fork_at(double x, double y = std::numeric_limits<double>::quiet_NaN());

  void set_smoothing(double weight);  // 0..0.999, TensorBoard's debiased EMA
  void set_log_scale(bool on);
  void set_x_label(const QString& label);
  // Ticks at whole numbers only (the step axis: there is no step 2.5); off for wall time and tokens.
  void set_integer_x(bool integer);
  void set_y_range(double lo, double hi);  // fixes the y axis (e.g. rates in [0, 1])
  void rescale();                          // fit every series
  void replot();                           // immediate; callers coalesce with a timer
  // By extension: .png, .jpg, .svg (width x height pixels), .pdf (one page, width x height points).
  bool save(const QString& path, int width, int height);

  QCustomPlot* plot() const { return plot_; }
  // "label: value" of every series at the point nearest to x (what hovering shows).
  QStringList values_at(double x) const;
  bool log_scale() const;
  // False once the user zooms or pans; live updates then leave the axes alone (double-click resets).
  bool auto_range() const { return auto_range_; }

 signals:
  void export_requested(ChartWidget* chart);  // the user asked to export this chart
  void fork_requested(int step, const QString& key);  // "Fork from here…": the step, the nearest series

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  struct Series {
    QString label;
    QColor color;
    QVector<double> x, y;
    QVector<double> ys;  // y smoothed (empty without smoothing)
    QCPGraph* raw = nullptr;
    QCPGraph* smooth = nullptr;
    QCPGraph* band_low = nullptr;
    QCPGraph* band_high = nullptr;
    bool in_legend = true;
    Qt::PenStyle style = Qt::SolidLine;
    bool faint = false;
  };
  void refresh(Series& s);
  void place_marker(const ChartMarker& m);
  void place_labels();  // each marker label on the side of its line with room
  void feed(Series& s);  // hands the graphs the visible part of the data, decimated to the pixel columns

  QCustomPlot* plot_;
  QHash<QString, Series> series_;
  double smoothing_ = 0.0;
  bool fixed_y_ = false;
  QString title_;
  bool auto_range_ = true;
  bool fork_enabled_ = false;
  QVector<ChartMarker> markers_;
  QVector<double> scratch_x_, scratch_y_;  // reused by feed()
};

}  // namespace grpo::ui

// The reusable chart (see chart_widget.h).
#include "ui/chart_widget.h"

#include <qcustomplot.h>

#include <QBuffer>
#include <QFile>
#include <QRegularExpression>
#include <QSvgGenerator>

#include <QContextMenuEvent>
#include <QMenu>
#include <QMouseEvent>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <limits>

#include "ui/decimate.h"
#include "ui/smoothing.h"

namespace grpo::ui {

ChartWidget::ChartWidget(const QString& title, QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(plot_);
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot_->setNotAntialiasedElements(QCP::aeFills);  // antialiased fills cost ~6x (measured)
  plot_->addLayer("faint", plot_->layer("main"), QCustomPlot::limBelow);  // faint series, under the others
  plot_->axisRect()->setRangeDrag(Qt::Horizontal | Qt::Vertical);
  plot_->axisRect()->setRangeZoom(Qt::Horizontal | Qt::Vertical);
  plot_->plotLayout()->insertRow(0);
  auto* heading = new QCPTextElement(plot_, title, QFont(font().family(), font().pointSize() + 1, QFont::Bold));
  plot_->plotLayout()->addElement(0, 0, heading);
  plot_->legend->setVisible(false);
  plot_->xAxis->setLabel(tr("step"));
  set_integer_x(true);
  const QPalette pal = palette();  // follow the system's light or dark palette
  plot_->setBackground(pal.color(QPalette::Base));
  for (QCPAxis* axis : {plot_->xAxis, plot_->yAxis}) {
    axis->setBasePen(QPen(pal.color(QPalette::Text)));
    axis->setTickPen(QPen(pal.color(QPalette::Text)));
    axis->setSubTickPen(QPen(pal.color(QPalette::Mid)));
    axis->setTickLabelColor(pal.color(QPalette::Text));
    axis->setLabelColor(pal.color(QPalette::Text));
    axis->grid()->setPen(QPen(pal.color(QPalette::Mid), 0, Qt::DotLine));
  }
  // A compact legend in the corner: one entry per series.
  plot_->legend->setVisible(true);
  QFont legend_font = font();
  legend_font.setPointSizeF(legend_font.pointSizeF() * 0.8);
  plot_->legend->setFont(legend_font);
  plot_->legend->setTextColor(pal.color(QPalette::Text));
  QColor legend_bg = pal.color(QPalette::Base);
  legend_bg.setAlpha(200);
  plot_->legend->setBrush(legend_bg);
  plot_->legend->setBorderPen(QPen(pal.color(QPalette::Mid)));
  plot_->legend->setRowSpacing(-3);
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
  heading->setTextColor(pal.color(QPalette::Text));
  title_ = title;
  plot_->setMouseTracking(true);
  plot_->installEventFilter(this);
  plot_->setContextMenuPolicy(Qt::DefaultContextMenu);
  // The graphs hold only what the visible x range shows (see feed): re-cut whenever it moves.
  connect(plot_->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] {
    for (auto& s : series_) feed(s);
  });
}

QStringList ChartWidget::values_at(double x) const {
  QStringList out;
  for (auto it = series_.begin(); it != series_.end(); ++it) {
    const Series& s = *it;
    if (s.x.isEmpty()) continue;
    auto pos = std::lower_bound(s.x.begin(), s.x.end(), x);
    if (pos == s.x.end()) --pos;
    if (pos != s.x.begin() && std::abs(*(pos - 1) - x) < std::abs(*pos - x)) --pos;
    const auto i = static_cast<int>(pos - s.x.begin());
    out << QString("%1 @ %2: %3").arg(s.label).arg(s.x[i]).arg(s.y[i], 0, 'g', 5);
  }
  out.sort();
  return out;
}

bool ChartWidget::log_scale() const { return plot_->yAxis->scaleType() == QCPAxis::stLogarithmic; }

bool ChartWidget::eventFilter(QObject* watched, QEvent* event) {
  if (watched == plot_ && event->type() == QEvent::MouseMove) {
    auto* me = static_cast<QMouseEvent*>(event);
    if (plot_->axisRect()->rect().contains(me->pos())) {
      const QStringList lines = values_at(plot_->xAxis->pixelToCoord(me->pos().x()));
      if (!lines.isEmpty()) QToolTip::showText(me->globalPosition().toPoint(), lines.join("\n"), plot_);
    }
  } else if (watched == plot_ && event->type() == QEvent::ContextMenu) {
    auto* ce = static_cast<QContextMenuEvent*>(event);
    QMenu menu;
    auto* log = menu.addAction(tr("Log scale"));
    log->setCheckable(true);
    log->setChecked(log_scale());
    auto* fit = menu.addAction(tr("Reset zoom"));
    auto* exp = menu.addAction(tr("Export chart…"));
    QAction* fork = nullptr;
    const double cx = plot_->xAxis->pixelToCoord(ce->pos().x()),
                 cy = plot_->yAxis->pixelToCoord(ce->pos().y());
    if (fork_enabled_ && plot_->axisRect()->rect().contains(ce->pos())) {
      const int step = step_at(cx, cy);
      if (step >= 0) {
        menu.addSeparator();
        fork = menu.addAction(tr("Fork from here (step %1)…").arg(step));
      }
    }
    QAction* chosen = menu.exec(ce->globalPos());
    if (chosen && chosen == fork) request_fork_at(cx, cy);
    if (chosen == log) set_log_scale(log->isChecked()), rescale(), replot();
    if (chosen == fit) auto_range_ = true, rescale(), replot();
    if (chosen == exp) emit export_requested(this);
    return true;
  } else if (watched == plot_ && (event->type() == QEvent::Wheel ||
                                  (event->type() == QEvent::MouseButtonPress &&
                                   static_cast<QMouseEvent*>(event)->button() == Qt::LeftButton))) {
    auto_range_ = false;
  } else if (watched == plot_ && event->type() == QEvent::MouseButtonDblClick) {
    auto_range_ = true;
    rescale();
    replot();
    return true;
  }
  return QWidget::eventFilter(watched, event);
}

void ChartWidget::refresh(Series& s) {
  // Data lines are 1 px: Qt's raster engine strokes thicker antialiased lines slowly, in proportion to
  // their length in pixels (1M points: 2.1 s at 1.6 px, 6 ms at 1 px; a noisy 400-point series: ~40 ms
  // at 1.6 px; measured in bench/).
  // The faint raw line under a smoothed one: the colour mixed into the background, opaque (alpha blending
  // a million-point line costs ~2x).
  // A faint series (a parent's history) is paler still, its smoothed line too.
  const QColor bg = palette().color(QPalette::Base);  // the plot background (set from it)
  auto mix = [&](double k) {
    return QColor::fromRgbF(static_cast<float>(s.color.redF() * k + bg.redF() * (1 - k)),
                            static_cast<float>(s.color.greenF() * k + bg.greenF() * (1 - k)),
                            static_cast<float>(s.color.blueF() * k + bg.blueF() * (1 - k)));
  };
  const double k = s.faint ? (smoothing_ > 0 ? 0.15 : 0.35) : (smoothing_ > 0 ? 0.3 : 1.0);
  s.raw->setPen(QPen(mix(k), 1.0, s.style));
  s.smooth->setPen(QPen(s.faint ? mix(0.4) : s.color, 1.0, s.style));
  s.smooth->setVisible(smoothing_ > 0);
  s.ys = smoothing_ > 0 ? debiased_ema(s.y, smoothing_) : QVector<double>();
  feed(s);
  // One legend entry per series: the line that carries the colour at full strength.
  s.raw->removeFromLegend();
  s.smooth->removeFromLegend();
  if (s.in_legend) (smoothing_ > 0 ? s.smooth : s.raw)->addToLegend();
}

void ChartWidget::feed(Series& s) {
  // QCustomPlot reduces long lines itself, but at ~5 ns per point per replot (a 1M-point series with its
  // smoothed line: 22 ms a frame, measured); cutting once per range change leaves each replot a few
  // thousand points. Two points per device pixel column keep the drawing exact.
  const QCPRange r = plot_->xAxis->range();
  const int columns = std::max(2000, static_cast<int>(plot_->axisRect()->width() * devicePixelRatioF()));
  decimate_min_max(s.x, s.y, r.lower, r.upper, columns, scratch_x_, scratch_y_);
  s.raw->setData(scratch_x_, scratch_y_, /*alreadySorted=*/true);
  if (!s.ys.isEmpty()) {
    decimate_min_max(s.x, s.ys, r.lower, r.upper, columns, scratch_x_, scratch_y_);
    s.smooth->setData(scratch_x_, scratch_y_, /*alreadySorted=*/true);
  } else {
    s.smooth->data()->clear();
  }
}

void ChartWidget::set_series(const QString& key, const QString& label, const QColor& color, const QVector<double>& x,
                             const QVector<double>& y) {
  Series& s = series_[key];
  if (!s.raw) {
    s.raw = plot_->addGraph();
    s.smooth = plot_->addGraph();
  }
  s.label = label;
  s.color = color;
  s.x = x;
  s.y = y;
  s.raw->setName(label);
  s.smooth->setName(label);
  refresh(s);
}

void ChartWidget::append_points(const QString& key, const QVector<double>& x, const QVector<double>& y) {
  auto it = series_.find(key);
  if (it == series_.end()) return;
  it->x += x;
  it->y += y;
  if (smoothing_ > 0) it->ys = debiased_ema(it->y, smoothing_);  // debiasing ties new points to old ones
  feed(*it);
}

void ChartWidget::set_band(const QString& key, const QVector<double>& x, const QVector<double>& lower,
                           const QVector<double>& upper) {
  auto it = series_.find(key);
  if (it == series_.end()) return;
  if (!it->band_low) {
    it->band_low = plot_->addGraph();
    it->band_high = plot_->addGraph();
    it->band_low->setPen(Qt::NoPen);
    it->band_low->removeFromLegend();
    it->band_high->removeFromLegend();
    it->band_high->setPen(Qt::NoPen);
    QColor fill = it->color;
    fill.setAlphaF(0.15);
    it->band_high->setBrush(fill);
    it->band_high->setChannelFillGraph(it->band_low);
  }
  // QCustomPlot's channel fill costs ~40 ms per 1000 points (measured): a band is a shape, not data to
  // read point by point, so it is drawn from at most 400 evenly spaced points.
  const qsizetype n = x.size(), step = std::max<qsizetype>(1, (n + 399) / 400);
  QVector<double> bx, lo, hi;
  for (qsizetype i = 0; i < n; i += step) bx << x[i], lo << lower[i], hi << upper[i];
  if (n > 0 && (n - 1) % step != 0) bx << x[n - 1], lo << lower[n - 1], hi << upper[n - 1];
  it->band_low->setData(bx, lo, true);
  it->band_high->setData(bx, hi, true);
}

void ChartWidget::set_in_legend(const QString& key, bool shown) {
  auto it = series_.find(key);
  if (it == series_.end()) return;
  it->in_legend = shown;
  refresh(*it);
}

void ChartWidget::set_legend_name(const QString& key, const QString& name) {
  auto it = series_.find(key);
  if (it == series_.end()) return;
  it->raw->setName(name);
  it->smooth->setName(name);
}

void ChartWidget::set_style(const QString& key, Qt::PenStyle style) {
  auto it = series_.find(key);
  if (it == series_.end() || it->style == style) return;
  it->style = style;
  refresh(*it);
}

Qt::PenStyle ChartWidget::style(const QString& key) const {
  const auto it = series_.find(key);
  return it == series_.end() ? Qt::NoPen : it->style;
}

void ChartWidget::set_faint(const QString& key, bool faint) {
  auto it = series_.find(key);
  if (it == series_.end() || it->faint == faint) return;
  it->faint = faint;
  // Faint lines go under the others: a fork's copy of its parent's history must not hide the parent's own.
  for (QCPGraph* g : {it->raw, it->smooth}) g->setLayer(faint ? "faint" : "main");
  refresh(*it);
}

bool ChartWidget::faint(const QString& key) const {
  const auto it = series_.find(key);
  return it != series_.end() && it->faint;
}

QString ChartWidget::legend_name(const QString& key) const {
  const auto it = series_.find(key);
  return it == series_.end() ? QString() : it->raw->name();
}

void ChartWidget::remove_series(const QString& key) {
  auto it = series_.find(key);
  if (it == series_.end()) return;
  for (QCPGraph* g : {it->raw, it->smooth, it->band_low, it->band_high})
    if (g) plot_->removeGraph(g);
  series_.erase(it);
}

void ChartWidget::clear() {
  while (!series_.isEmpty()) remove_series(series_.begin().key());
  clear_markers();
}

int ChartWidget::point_count(const QString& key) const {
  auto it = series_.find(key);
  return it == series_.end() ? 0 : static_cast<int>(it->x.size());
}

QColor ChartWidget::marker_color(MarkerKind kind) {
  switch (kind) {
    case MarkerKind::kAlert:
      return QColor(214, 39, 40);
    case MarkerKind::kFork:
      return QColor(148, 60, 200);
    case MarkerKind::kEvent:
      break;
  }
  return QColor(230, 120, 0);
}

void ChartWidget::add_marker(double x, const QString& label, const QColor& color) {
  place_marker({x, label, color, MarkerKind::kEvent});
}

void ChartWidget::add_marker(double x, const QString& label, MarkerKind kind) {
  place_marker({x, label, marker_color(kind), kind});
}

void ChartWidget::place_marker(const ChartMarker& m) {
  // Alerts solid and thicker, forks dashed and a little thicker, so neither reads as a hyperparameter change.
  auto* line = new QCPItemStraightLine(plot_);
  line->point1->setCoords(m.x, 0);
  line->point2->setCoords(m.x, 1);
  line->setPen(m.kind == MarkerKind::kAlert  ? QPen(m.color, 2.0, Qt::SolidLine)
               : m.kind == MarkerKind::kFork ? QPen(m.color, 1.5, Qt::DashLine)
                                             : QPen(m.color, 1, Qt::DashLine));
  line->setProperty("marker", true);
  auto* text = new QCPItemText(plot_);
  text->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
  // Each kind's label at its own height: an alert at a checkpoint's step does not cover its label.
  text->position->setCoords(m.x, m.kind == MarkerKind::kAlert  ? 0.09
                                 : m.kind == MarkerKind::kFork ? 0.16
                                                               : 0.02);
  text->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
  text->setText(m.label);
  text->setColor(m.color);
  text->setPadding(QMargins(3, 0, 0, 0));
  if (m.kind == MarkerKind::kAlert) {
    QFont f = text->font();
    f.setBold(true);
    text->setFont(f);
  }
  if (m.kind == MarkerKind::kFork) {  // run names: a little smaller, on a pale ground over the lines
    QFont f = text->font();
    f.setPointSizeF(f.pointSizeF() * 0.85);
    text->setFont(f);
    QColor ground = palette().color(QPalette::Base);
    ground.setAlpha(190);
    text->setBrush(ground);
  }
  text->setProperty("marker", true);
  markers_.push_back(m);
}

void ChartWidget::clear_markers() {
  for (int i = plot_->itemCount() - 1; i >= 0; --i)
    if (plot_->item(i)->property("marker").toBool()) plot_->removeItem(i);
  markers_.clear();
}

std::optional<ChartPoint> ChartWidget::nearest_point(double x, double y) const {
  // Per series the point nearest in x (what hovering reads), then the series whose point lies nearest.
  const QCPRange xr = plot_->xAxis->range(), yr = plot_->yAxis->range();
  const bool log = log_scale();
  auto ty = [log](double v) {
    return log ? (v > 0 ? std::log10(v) : std::numeric_limits<double>::quiet_NaN()) : v;
  };
  const double xs = xr.size() > 0 ? xr.size() : 1.0;
  const double ys = log ? std::max(1e-12, ty(yr.upper) - ty(yr.lower)) : (yr.size() > 0 ? yr.size() : 1.0);
  std::optional<ChartPoint> best;
  double best_d = std::numeric_limits<double>::infinity();
  QStringList keys = series_.keys();
  keys.sort();  // ties go to the first key, whatever the hash order
  for (const QString& key : keys) {
    const Series& s = *series_.constFind(key);
    if (s.x.isEmpty()) continue;
    auto pos = std::lower_bound(s.x.begin(), s.x.end(), x);
    if (pos == s.x.end()) --pos;
    if (pos != s.x.begin() && std::abs(*(pos - 1) - x) < std::abs(*pos - x)) --pos;
    const auto i = static_cast<int>(pos - s.x.begin());
    const double dx = (s.x[i] - x) / xs;
    double dy = 0;
    if (std::isfinite(y)) {
      dy = (ty(s.y[i]) - ty(y)) / ys;
      if (!std::isfinite(dy)) dy = 1e6;  // a gap (NaN) or a value the log axis cannot show
    }
    const double d = dx * dx + dy * dy;
    if (d < best_d) best_d = d, best = ChartPoint{key, s.x[i], s.y[i]};
  }
  return best;
}

int ChartWidget::step_at(double x, double y) const {
  const auto p = nearest_point(x, y);
  return p ? static_cast<int>(std::lround(p->x)) : -1;
}

bool ChartWidget::request_fork_at(double x, double y) {
  if (!fork_enabled_) return false;
  const auto p = nearest_point(x, y);
  if (!p) return false;
  emit fork_requested(static_cast<int>(std::lround(p->x)), p->key);
  return true;
}

void ChartWidget::set_smoothing(double weight) {
  smoothing_ = std::clamp(weight, 0.0, 0.999);
  for (auto& s : series_) refresh(s);
}

void ChartWidget::set_log_scale(bool on) {
  plot_->yAxis->setScaleType(on ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
  if (on) {
    plot_->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  } else {
    plot_->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  }
}

void ChartWidget::set_x_label(const QString& label) { plot_->xAxis->setLabel(label); }

void ChartWidget::set_integer_x(bool integer) {
  if (!integer) {
    plot_->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    return;
  }
  auto ticker = QSharedPointer<QCPAxisTickerFixed>(new QCPAxisTickerFixed);
  ticker->setTickStep(1.0);
  ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);  // 1, 2, 3, 5, 10, 20, … steps apart, never 2.5
  plot_->xAxis->setTicker(ticker);
}

void ChartWidget::set_y_range(double lo, double hi) {
  fixed_y_ = true;
  plot_->yAxis->setRange(lo, hi);
}

void ChartWidget::rescale() {
  // From the series, not the graphs: the graphs hold only the visible part.
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  for (const auto& s : series_)
    if (!s.x.isEmpty()) x_lo = std::min(x_lo, s.x.front()), x_hi = std::max(x_hi, s.x.back());
  if (std::isfinite(x_lo)) plot_->xAxis->setRange(x_hi > x_lo ? x_lo : x_lo - 0.5, x_hi > x_lo ? x_hi : x_lo + 0.5);
  if (fixed_y_) return;
  // The y range from the data itself: QCustomPlot pads a flat line (a constant learning rate) by ±0.5.
  const bool log = log_scale();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : series_)
    for (double v : s.y)
      if (std::isfinite(v) && (!log || v > 0)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) return;
  if (log) {
    plot_->yAxis->setRange(lo / 1.2, hi * 1.2);
    return;
  }
  const double pad = hi > lo ? (hi - lo) * 0.05 : (lo != 0 ? std::abs(lo) * 0.1 : 1e-3);
  plot_->yAxis->setRange(lo - pad, hi + pad);
}

void ChartWidget::place_labels() {
  // A marker's label reads to the right of its line, but to the left of one in the right part of the view
  // (a watchdog at the newest step sits on the plot's right edge: its label would be cut off).
  const QCPRange r = plot_->xAxis->range();
  for (int i = 0; i < plot_->itemCount(); ++i) {
    auto* text = qobject_cast<QCPItemText*>(plot_->item(i));
    if (!text || !text->property("marker").toBool()) continue;
    const bool right = text->position->coords().x() > r.lower + 0.6 * r.size();
    text->setPositionAlignment((right ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignTop);
    text->setTextAlignment((right ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignTop);
    text->setPadding(right ? QMargins(0, 0, 3, 0) : QMargins(3, 0, 0, 0));
  }
}

void ChartWidget::replot() {
  place_labels();
  plot_->replot(QCustomPlot::rpQueuedReplot);
}

bool ChartWidget::save(const QString& path, int width, int height) {
  place_labels();
  plot_->replot(QCustomPlot::rpImmediateRefresh);
  if (path.endsWith(".pdf", Qt::CaseInsensitive)) return plot_->savePdf(path, width, height);
  if (path.endsWith(".jpg", Qt::CaseInsensitive)) return plot_->saveJpg(path, width, height);
  if (path.endsWith(".svg", Qt::CaseInsensitive)) {
    QBuffer buffer;
    QSvgGenerator svg;
    svg.setOutputDevice(&buffer);
    svg.setSize(QSize(width, height));
    svg.setViewBox(QRect(0, 0, width, height));
    svg.setTitle(title_);
    QCPPainter painter;
    if (!painter.begin(&svg)) return false;
    plot_->toPainter(&painter, width, height);
    painter.end();
    // QSvgGenerator gives the size in millimetres at its resolution, which viewers turn back into pixels
    // at theirs (Qt's renderer at 90 dpi: 800 x 600 for 640 x 480); in pixels it is the size asked for.
    QByteArray data = buffer.data();
    static const QRegularExpression size(R"(<svg\s+width="[^"]*" height="[^"]*")");
    const auto m = size.match(QString::fromLatin1(data.left(4096)));
    if (m.hasMatch())
      data.replace(m.capturedStart(), m.capturedLength(),
                   QString(R"(<svg width="%1" height="%2")").arg(width).arg(height).toLatin1());
    QFile file(path);
    return file.open(QIODevice::WriteOnly | QIODevice::Truncate) && file.write(data) == data.size();
  }
  return plot_->savePng(path, width, height);
}

}  // namespace grpo::ui

// The reusable chart (see chart_widget.h).
#include "ui/chart_widget.h"

#include <qcustomplot.h>

#include <QVBoxLayout>
#include <cmath>

#include "ui/smoothing.h"

namespace grpo::ui {

ChartWidget::ChartWidget(const QString& title, QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(plot_);
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot_->axisRect()->setRangeDrag(Qt::Horizontal | Qt::Vertical);
  plot_->axisRect()->setRangeZoom(Qt::Horizontal | Qt::Vertical);
  plot_->plotLayout()->insertRow(0);
  auto* heading = new QCPTextElement(plot_, title, QFont(font().family(), font().pointSize() + 1, QFont::Bold));
  plot_->plotLayout()->addElement(0, 0, heading);
  plot_->legend->setVisible(false);
  plot_->xAxis->setLabel(tr("step"));
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
  heading->setTextColor(pal.color(QPalette::Text));
}

void ChartWidget::refresh(Series& s) {
  QColor faint = s.color;
  faint.setAlphaF(smoothing_ > 0 ? 0.25 : 1.0);
  s.raw->setPen(QPen(faint, smoothing_ > 0 ? 1.0 : 1.6));
  s.raw->setData(s.x, s.y, /*alreadySorted=*/true);
  s.smooth->setVisible(smoothing_ > 0);
  if (smoothing_ > 0) s.smooth->setData(s.x, debiased_ema(s.y, smoothing_), /*alreadySorted=*/true);
}

void ChartWidget::set_series(const QString& key, const QString& label, const QColor& color, const QVector<double>& x,
                             const QVector<double>& y) {
  Series& s = series_[key];
  if (!s.raw) {
    s.raw = plot_->addGraph();
    s.smooth = plot_->addGraph();
    s.smooth->setPen(QPen(color, 1.8));
  }
  s.label = label;
  s.color = color;
  s.x = x;
  s.y = y;
  s.raw->setName(label);
  s.smooth->setName(label);
  s.smooth->setPen(QPen(color, 1.8));
  refresh(s);
}

void ChartWidget::append_points(const QString& key, const QVector<double>& x, const QVector<double>& y) {
  auto it = series_.find(key);
  if (it == series_.end()) return;
  it->x += x;
  it->y += y;
  if (smoothing_ > 0) {
    refresh(*it);  // the EMA of the new points depends on the old ones
  } else {
    it->raw->addData(x, y, /*alreadySorted=*/true);
  }
}

void ChartWidget::set_band(const QString& key, const QVector<double>& x, const QVector<double>& lower,
                           const QVector<double>& upper) {
  auto it = series_.find(key);
  if (it == series_.end()) return;
  if (!it->band_low) {
    it->band_low = plot_->addGraph();
    it->band_high = plot_->addGraph();
    it->band_low->setPen(Qt::NoPen);
    it->band_high->setPen(Qt::NoPen);
    QColor fill = it->color;
    fill.setAlphaF(0.15);
    it->band_high->setBrush(fill);
    it->band_high->setChannelFillGraph(it->band_low);
  }
  it->band_low->setData(x, lower, true);
  it->band_high->setData(x, upper, true);
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

void ChartWidget::add_marker(double x, const QString& label, const QColor& color) {
  auto* line = new QCPItemStraightLine(plot_);
  line->point1->setCoords(x, 0);
  line->point2->setCoords(x, 1);
  line->setPen(QPen(color, 1, Qt::DashLine));
  line->setProperty("marker", true);
  auto* text = new QCPItemText(plot_);
  text->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
  text->position->setCoords(x, 0.02);
  text->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
  text->setText(label);
  text->setColor(color);
  text->setPadding(QMargins(3, 0, 0, 0));
  text->setProperty("marker", true);
}

void ChartWidget::clear_markers() {
  for (int i = plot_->itemCount() - 1; i >= 0; --i)
    if (plot_->item(i)->property("marker").toBool()) plot_->removeItem(i);
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

void ChartWidget::set_y_range(double lo, double hi) {
  fixed_y_ = true;
  plot_->yAxis->setRange(lo, hi);
}

void ChartWidget::rescale() {
  plot_->xAxis->rescale(true);
  if (!fixed_y_) {
    plot_->yAxis->rescale(true);
    const QCPRange r = plot_->yAxis->range();
    const double pad = r.size() > 0 ? r.size() * 0.05 : std::max(std::abs(r.lower) * 0.05, 1e-3);
    plot_->yAxis->setRange(r.lower - pad, r.upper + pad);
  }
}

void ChartWidget::replot() { plot_->replot(QCustomPlot::rpQueuedReplot); }

bool ChartWidget::save(const QString& path, int width, int height) {
  plot_->replot(QCustomPlot::rpImmediateRefresh);
  if (path.endsWith(".pdf", Qt::CaseInsensitive)) return plot_->savePdf(path, width, height);
  if (path.endsWith(".jpg", Qt::CaseInsensitive)) return plot_->saveJpg(path, width, height);
  return plot_->savePng(path, width, height);
}

}  // namespace grpo::ui

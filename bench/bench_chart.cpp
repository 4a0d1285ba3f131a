// Replot time of one chart (the studio's ChartWidget) at 10k, 100k and 1M points per series, two series,
// raw and smoothed, rendered offscreen into a 900x600 pixmap-backed widget. Prints the mean of 20 replots,
// and of 20 pans (a range change, which re-cuts the decimated lines, then a replot).
#include <QApplication>
#include <QElapsedTimer>
#include <cmath>
#include <cstdio>
#include <qcustomplot.h>

#include "ui/chart_widget.h"

int main(int argc, char** argv) {
  qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  for (int n : {10000, 100000, 1000000}) {
    for (double smoothing : {0.0, 0.6}) {
      grpo::ui::ChartWidget chart("bench");
      chart.resize(900, 600);
      chart.show();
      QVector<double> x(n), a(n), b(n);
      for (int i = 0; i < n; ++i) {
        x[i] = i;
        a[i] = std::sin(i * 1e-3) + 0.1 * std::sin(i * 0.37);
        b[i] = std::cos(i * 1e-3) + 0.1 * std::cos(i * 0.41);
      }
      chart.set_series("a", "a", Qt::blue, x, a);
      chart.set_series("b", "b", Qt::red, x, b);
      chart.set_smoothing(smoothing);
      chart.rescale();
      chart.plot()->replot(QCustomPlot::rpImmediateRefresh);  // warm up
      QElapsedTimer t;
      t.start();
      const int reps = 20;
      for (int r = 0; r < reps; ++r) chart.plot()->replot(QCustomPlot::rpImmediateRefresh);
      const double replot_ms = t.nsecsElapsed() / 1e6 / reps;
      t.restart();
      for (int r = 0; r < reps; ++r) {
        chart.plot()->xAxis->moveRange(r % 2 ? -n * 0.01 : n * 0.01);
        chart.plot()->replot(QCustomPlot::rpImmediateRefresh);
      }
      std::printf("%8d points x 2 series, smoothing %.1f: replot %.2f ms, pan + replot %.2f ms\n", n, smoothing,
                  replot_ms, t.nsecsElapsed() / 1e6 / reps);
    }
  }
  return 0;
}

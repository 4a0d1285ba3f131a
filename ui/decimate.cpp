// Min/max decimation for drawing (see decimate.h).
#include "ui/decimate.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace grpo::ui {

void decimate_min_max(const QVector<double>& x, const QVector<double>& y, double x0, double x1, int columns,
                      QVector<double>& out_x, QVector<double>& out_y) {
  out_x.clear();
  out_y.clear();
  const qsizetype n = std::min(x.size(), y.size());
  if (n == 0) return;
  // The visible slice, widened by one point on each side.
  qsizetype begin = std::lower_bound(x.begin(), x.begin() + n, x0) - x.begin();
  qsizetype end = std::upper_bound(x.begin(), x.begin() + n, x1) - x.begin();
  begin = std::max<qsizetype>(0, begin - 1);
  end = std::min(n, end + 1);
  columns = std::max(1, columns);
  if (end - begin <= 4 * static_cast<qsizetype>(columns) || !(x1 > x0)) {
    out_x = x.mid(begin, end - begin);
    out_y = y.mid(begin, end - begin);
    return;
  }
  out_x.reserve(2 * columns + 4);
  out_y.reserve(2 * columns + 4);
  // Column c holds x in [x0 + c·w, x0 + (c+1)·w); column −1 the left neighbour, column `columns` x ≥ x1.
  // x is sorted, so each column's end is a binary search and its min/max a tight loop (NaN compares false).
  const double w = (x1 - x0) / columns;
  const double* px = x.constData();
  const double* py = y.constData();
  qsizetype i = begin;
  for (int c = -1; c <= columns && i < end; ++c) {
    const qsizetype stop = c == columns ? end : std::lower_bound(px + i, px + end, x0 + (c + 1) * w) - px;
    if (stop == i) continue;
    qsizetype lo = -1, hi = -1;
    double v_lo = std::numeric_limits<double>::infinity(), v_hi = -v_lo;
    for (qsizetype k = i; k < stop; ++k) {
      const double v = py[k];
      if (v < v_lo) v_lo = v, lo = k;
      if (v > v_hi) v_hi = v, hi = k;
    }
    if (lo < 0) {  // no finite value (NaN, or ±inf only): one NaN keeps the gap
      out_x << px[i];
      out_y << std::numeric_limits<double>::quiet_NaN();
    } else {
      const qsizetype a = std::min(lo, hi), b = std::max(lo, hi);
      out_x << px[a];
      out_y << py[a];
      if (b != a) out_x << px[b], out_y << py[b];
    }
    i = stop;
  }
}

}  // namespace grpo::ui

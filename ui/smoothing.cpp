// Debiased EMA (see smoothing.h).
#include "ui/smoothing.h"

#include <cmath>

namespace grpo::ui {

QVector<double> debiased_ema(const QVector<double>& values, double weight) {
  if (weight <= 0.0) return values;
  QVector<double> out(values.size());
  double last = 0.0;
  int n = 0;
  for (int i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!std::isfinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1.0 - weight) * v;
    ++n;
    out[i] = last / (1.0 - std::pow(weight, n));
  }
  return out;
}

}  // namespace grpo::ui

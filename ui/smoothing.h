// TensorBoard's debiased exponential moving average, the smoothing researchers expect on training curves.
// NaN points pass through (and do not disturb the average). No Qt widgets here.
#pragma once

#include <QVector>

namespace grpo::ui {

// weight in [0, 1): 0 returns the input; 0.99 smooths hard. Debiased: the first points are not pulled
// toward zero (s_t = ema_t / (1 − weight^n), n = finite points so far).
QVector<double> debiased_ema(const QVector<double>& values, double weight);

}  // namespace grpo::ui

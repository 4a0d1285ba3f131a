// Reduces a long series to what a chart can show: at most two points (the minimum and the maximum, in
// their order) per pixel column of the visible x range, so a million-point line draws like a few thousand.
// Pure maths on sorted x; no widgets.
#pragma once

#include <QVector>

namespace grpo::ui {

// x ascending. Keeps the points with x in [x0, x1] plus one neighbour on each side (so the line reaches
// the plot's edges). When more than 4·columns points remain, splits [x0, x1] into `columns` equal columns
// and keeps each column's minimum and maximum y (a column of NaN only keeps one NaN: the gap stays).
// Otherwise returns them all. Writes into out_x / out_y (reused to spare allocations).
void decimate_min_max(const QVector<double>& x, const QVector<double>& y, double x0, double x1, int columns,
                      QVector<double>& out_x, QVector<double>& out_y);

}  // namespace grpo::ui

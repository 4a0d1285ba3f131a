// The soak's agreement check (see soak_agreement.h).
#include "bench/soak_agreement.h"

#include <QDir>

#include <cmath>
#include <cstdio>

#include "app/run_data.h"
#include "ipc/names.h"
#include "ipc/run_store.h"
#include "ui/chart_widget.h"
#include "ui/dashboard.h"

using nlohmann::json;

namespace {

bool same(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

// One metric: the studio's RunData series is the store's, step for step; the dashboard draws as many points.
json check_metric(const grpo::ipc::RunStore& store, const QString& m, const grpo::app::RunData* r,
                  const grpo::ui::Dashboard& dashboard, const QString& id) {
  const auto pts = store.metric_series(m.toStdString());
  json c = {{"metric", m.toStdString()}, {"store_points", static_cast<int>(pts.size())}};
  const grpo::app::MetricSeries rd = r ? r->metrics.value(m) : grpo::app::MetricSeries{};
  const int drawn = r ? dashboard.point_count(id, m) : 0;
  int mismatches = 0;
  json first;
  const int n = std::min<int>(static_cast<int>(pts.size()), rd.steps.size());
  for (int i = 0; i < n; ++i)
    if (rd.steps[i] != pts[i].step || !same(rd.values[i], pts[i].value)) {
      if (mismatches++ == 0)
        first = {{"index", i},
                 {"store_step", pts[i].step},
                 {"store_value", pts[i].value},
                 {"studio_step", rd.steps[i]},
                 {"studio_value", rd.values[i]}};
    }
  mismatches += std::abs(static_cast<int>(pts.size()) - static_cast<int>(rd.steps.size()));
  c["studio_points"] = static_cast<int>(rd.steps.size());
  c["dashboard_points"] = drawn;
  c["value_mismatches"] = mismatches;
  if (!first.is_null()) c["first_mismatch"] = first;
  c["ok"] = !pts.empty() && drawn == static_cast<int>(pts.size()) && mismatches == 0;
  return c;
}

// The Loss chart (one series per run): its point nearest each stored step is that step's stored value.
json check_loss_chart(const grpo::ipc::RunStore& store, const grpo::ui::ChartWidget& chart) {
  const auto pts = store.metric_series(grpo::ipc::metric::kLoss);
  int mismatches = 0;
  for (const auto& p : pts) {
    const auto cp = chart.nearest_point(static_cast<double>(p.step));
    if (!cp || cp->x != static_cast<double>(p.step) || !same(cp->y, p.value)) ++mismatches;
  }
  const bool ok = !pts.empty() && mismatches == 0;
  return json{{"metric", "loss (Loss chart's drawn points)"},
              {"store_points", static_cast<int>(pts.size())},
              {"value_mismatches", mismatches},
              {"ok", ok}};
}

}  // namespace

Agreement check_agreement(grpo::app::MainWindow& w, const QString& id, const QString& run_dir,
                          const QStringList& metrics) {
  Agreement a;
  a.agree = !id.isEmpty();
  const grpo::app::RunData* r = id.isEmpty() ? nullptr : w.run(id);
  try {
    auto store = grpo::ipc::RunStore::open_for_reading(QDir(run_dir).filePath("run.sqlite").toStdString());
    a.store_last_step = static_cast<int>(store.last_step());
    a.store_state = store.meta("state").value_or("");
    for (const QString& m : metrics) {
      const json c = check_metric(store, m, r, *w.dashboard(), id);
      a.agree &= c["ok"].get<bool>();
      a.checks.push_back(c);
    }
    if (auto* chart = w.dashboard()->chart("Loss"); chart && r) {
      a.checks.push_back(check_loss_chart(store, *chart));
      a.agree &= a.checks.back()["ok"].get<bool>();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_soak: cannot read the store: %s\n", e.what());
    a.agree = false;
  }
  return a;
}

void print_agreement(const Agreement& a) {
  for (const auto& c : a.checks) {
    std::printf(
        "agreement %-34s store %5d points, studio %5s, dashboard %5s, mismatched values %d: %s\n",
        c["metric"].get<std::string>().c_str(), c["store_points"].get<int>(),
        c.contains("studio_points") ? std::to_string(c["studio_points"].get<int>()).c_str() : "-",
        c.contains("dashboard_points") ? std::to_string(c["dashboard_points"].get<int>()).c_str() : "-",
        c["value_mismatches"].get<int>(), c["ok"].get<bool>() ? "agree" : "DISAGREE");
    if (c.contains("first_mismatch"))
      std::printf("  first mismatch: %s\n", c["first_mismatch"].dump().c_str());
  }
  std::printf("agreement: %s\n", a.agree ? "PASS" : "FAIL");
}

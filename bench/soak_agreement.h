// bench_soak's final check: the run store against what the studio holds (RunData, the dashboard's point
// counts, the Loss chart's drawn points), step for step.
#pragma once

#include <QString>
#include <QStringList>

#include <nlohmann/json.hpp>
#include <string>

#include "app/main_window.h"

// The store against the studio (RunData, the dashboard's point counts, the Loss chart).
struct Agreement {
  nlohmann::json checks = nlohmann::json::array();  // one per metric, then the Loss chart's
  bool agree = false;                               // the studio attached and every check is ok
  int store_last_step = 0;
  std::string store_state;  // the store's meta "state"
};

// Every metric of `metrics` and the Loss chart of run `id` (empty: the studio never attached) against the
// store of run_dir.
Agreement check_agreement(grpo::app::MainWindow& w, const QString& id, const QString& run_dir,
                          const QStringList& metrics);

// One line per check, then PASS or FAIL.
void print_agreement(const Agreement& a);

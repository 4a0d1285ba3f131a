// Named step statistics reduced over the data-parallel ranks: means (a sum and a weight), sums, minima and
// maxima, each kept by name and packed in name order (the same on every rank) for the collectives, so no
// caller does index arithmetic. With one process the reductions are no-ops.
#pragma once

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "trainer/distributed.h"

namespace grpo {

class RankMetrics {
 public:
  void add_mean(const std::string& name, double value, double weight = 1.0) {
    auto& m = means_[name];
    m.first += value * weight;
    m.second += weight;
  }
  void declare_mean(const std::string& name) { means_.try_emplace(name, 0.0, 0.0); }  // NaN unless added to
  void set_mean(const std::string& name, double sum, double weight) { means_[name] = {sum, weight}; }
  void add_sum(const std::string& name, double value) { sums_[name] += value; }
  void add_min(const std::string& name, double value) {
    auto [it, fresh] = mins_.try_emplace(name, value);
    if (!fresh) it->second = std::min(it->second, value);
  }
  void add_max(const std::string& name, double value) {
    auto [it, fresh] = maxs_.try_emplace(name, value);
    if (!fresh) it->second = std::max(it->second, value);
  }
  void declare_extremes(const std::string& name) {  // ±inf until a value comes; reported as NaN then
    mins_.try_emplace(name, std::numeric_limits<double>::infinity());
    maxs_.try_emplace(name, -std::numeric_limits<double>::infinity());
  }

  // Every rank must have declared the same names (they come from the config, not from the data).
  void reduce(Distributed& dist) {
    std::vector<double> sums, mins, maxs;
    for (const auto& [name, m] : means_) sums.push_back(m.first), sums.push_back(m.second);
    for (const auto& [name, v] : sums_) sums.push_back(v);
    for (const auto& [name, v] : mins_) mins.push_back(v);
    for (const auto& [name, v] : maxs_) maxs.push_back(v);
    dist.all_reduce(sums, Distributed::Reduce::kSum);
    dist.all_reduce(mins, Distributed::Reduce::kMin);
    dist.all_reduce(maxs, Distributed::Reduce::kMax);
    size_t i = 0;
    for (auto& [name, m] : means_) m.first = sums[i++], m.second = sums[i++];
    for (auto& [name, v] : sums_) v = sums[i++];
    i = 0;
    for (auto& [name, v] : mins_) v = mins[i++];
    i = 0;
    for (auto& [name, v] : maxs_) v = maxs[i++];
  }

  double mean(const std::string& name) const {
    const auto& m = means_.at(name);
    return m.second > 0 ? m.first / m.second : std::nan("");
  }
  double sum(const std::string& name) const { return sums_.at(name); }
  double min(const std::string& name) const { return finite_or_nan(mins_.at(name)); }
  double max(const std::string& name) const { return finite_or_nan(maxs_.at(name)); }
  const std::map<std::string, std::pair<double, double>>& means() const { return means_; }

 private:
  static double finite_or_nan(double v) { return std::isfinite(v) ? v : std::nan(""); }
  std::map<std::string, std::pair<double, double>> means_;
  std::map<std::string, double> sums_, mins_, maxs_;
};

}  // namespace grpo

// Watchdog rules (see watchdog.h). Each rule reads one step's metrics; floors and ceilings count
// consecutive steps, reward_drop smooths the reward with an EMA over its window, length_drift compares the
// mean length with its value `steps` steps ago. A rule fires once when its condition starts to hold and is
// re-armed when the condition clears, so a run resumed through an alarm is not paused again at once.
#include "trainer/watchdog.h"

#include <cmath>
#include <cstdio>

#include "ipc/names.h"

namespace grpo {

using nlohmann::json;
namespace wd = ipc::watchdog;
namespace metric = ipc::metric;

namespace {

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4g", v);
  return buf;
}

// A rule that compares one metric with its threshold for `steps` consecutive steps.
struct LimitRule {
  const char* name;
  const char* metric;
  bool floor;  // below the threshold (true) or above it
  WatchdogRule WatchdogConfig::*rule;
};

constexpr LimitRule kLimitRules[] = {
    {wd::kEntropyFloor, metric::kEntropy, true, &WatchdogConfig::entropy_floor},
    {wd::kKlCeiling, metric::kKl, false, &WatchdogConfig::kl_ceiling},
    {wd::kClippedCeiling, metric::kClippedRatio, false, &WatchdogConfig::clipped_ceiling},
    {wd::kZeroSpread, metric::kZeroStdFraction, false, &WatchdogConfig::zero_spread},
};

// The metrics whose non-finite value fires nonfinite (when the step trained at all).
constexpr const char* kFiniteMetrics[] = {metric::kLoss, metric::kGradNorm, metric::kEntropy, metric::kKl};

const double* find(const std::map<std::string, double>& m, const char* name) {
  const auto it = m.find(name);
  return it == m.end() ? nullptr : &it->second;
}

WatchdogFiring firing(const char* rule, const char* metric_name, const WatchdogRule& r, int64_t step, double value,
                      std::string message) {
  WatchdogFiring f;
  f.rule = rule;
  f.metric = metric_name;
  f.action = r.action;
  f.value = value;
  f.threshold = r.threshold;
  f.steps = r.steps;
  f.step = step;
  f.message = std::move(message);
  return f;
}

}  // namespace

json WatchdogFiring::to_json() const {
  return {{"rule", rule}, {"metric", metric}, {"action", action}, {"value", std::isfinite(value) ? json(value) : json(nullptr)},
          {"threshold", threshold}, {"steps", steps}, {"step", step}, {"message", message}, {"values", values}};
}

bool WatchdogFiring::pauses() const { return action == wd::kActionPause || action == wd::kActionCheckpointPause; }
bool WatchdogFiring::shown() const { return action != wd::kActionEvent && action != wd::kActionOff; }

json describe_watchdogs(const WatchdogConfig& c) {
  auto entry = [](const char* rule, const char* metric_name, const WatchdogRule& r, const std::string& when) {
    return json{{"rule", rule}, {"metric", metric_name}, {"action", r.action}, {"threshold", r.threshold},
                {"steps", r.steps}, {"when", when}};
  };
  json out = json::array();
  out.push_back(entry(wd::kNonFinite, metric::kLoss, c.nonfinite,
                      "loss, gradient norm or logits not finite (the update is skipped, the weights stay finite)"));
  out.back()["metrics"] = {metric::kLoss, metric::kGradNorm, metric::kEntropy, metric::kKl, metric::kSkippedUpdates};
  for (const auto& l : kLimitRules)
    out.push_back(entry(l.name, l.metric, c.*l.rule,
                        std::string(l.metric) + (l.floor ? " below " : " above ") + "threshold for steps steps"));
  out.push_back(entry(wd::kRewardDrop, metric::kReward, c.reward_drop,
                      "the reward's EMA over steps steps falls more than threshold below its best"));
  out.push_back(entry(wd::kLengthDrift, metric::kMeanLength, c.length_drift,
                      "the mean length changes by more than threshold x its value steps steps ago"));
  return out;
}

std::vector<WatchdogFiring> Watchdogs::observe(int64_t step, const std::map<std::string, double>& m,
                                               const WatchdogConfig& cfg) {
  std::vector<WatchdogFiring> out;
  // Updates the latch of `rule`; true when it fires now.
  auto latch = [&](const std::string& rule, bool holds, int64_t steps) {
    Streak& s = streaks_[rule];
    if (!holds) {
      s = Streak{};
      return false;
    }
    ++s.count;
    if (s.count < steps || s.fired) return false;
    s.fired = true;
    return true;
  };

  // Non-finite: every step that skipped an update, or whose trained statistics are not finite.
  if (cfg.nonfinite.action != wd::kActionOff) {
    const double* skipped = find(m, metric::kSkippedUpdates);
    const double* trained = find(m, metric::kGroupsTrained);
    const char* bad = nullptr;
    double bad_value = 0;
    if (!trained || *trained > 0)
      for (const char* name : kFiniteMetrics)
        if (const double* v = find(m, name); v && !std::isfinite(*v)) {
          bad = name, bad_value = *v;
          break;
        }
    if (bad || (skipped && *skipped > 0)) {
      auto f = firing(wd::kNonFinite, bad ? bad : metric::kSkippedUpdates, cfg.nonfinite, step, bad ? bad_value : *skipped,
                      std::string(bad ? bad : "an update's loss or gradient") + " is not finite at step " +
                          std::to_string(step) + "; " +
                          (skipped && *skipped > 0 ? fmt(*skipped) + " optimizer step(s) skipped, the weights are unchanged by them"
                                                   : "no optimizer step was skipped"));
      for (const char* name : kFiniteMetrics)
        if (const double* v = find(m, name)) f.values[name] = std::isfinite(*v) ? json(*v) : json(std::isnan(*v) ? "nan" : *v > 0 ? "inf" : "-inf");
      if (skipped) f.values[metric::kSkippedUpdates] = *skipped;
      out.push_back(std::move(f));
    }
  }

  for (const auto& l : kLimitRules) {
    const WatchdogRule& r = cfg.*l.rule;
    const double* v = find(m, l.metric);
    if (r.action == wd::kActionOff || !v || !std::isfinite(*v)) continue;
    const bool holds = l.floor ? *v < r.threshold : *v > r.threshold;
    if (!latch(l.name, holds, r.steps)) continue;
    out.push_back(firing(l.name, l.metric, r, step, *v,
                         std::string(l.metric) + " " + fmt(*v) + (l.floor ? " < " : " > ") + fmt(r.threshold) + " for " +
                             std::to_string(r.steps) + (r.steps == 1 ? " step" : " steps")));
  }

  // Reward drop: an EMA with the span of `steps` (α = 2 / (steps + 1)), against its best so far, once the
  // EMA has seen a window.
  if (const double* v = find(m, metric::kReward); v && std::isfinite(*v)) {
    const WatchdogRule& r = cfg.reward_drop;
    const double alpha = 2.0 / (static_cast<double>(r.steps) + 1.0);
    reward_ema_ = has_ema_ ? reward_ema_ + alpha * (*v - reward_ema_) : *v;
    best_ema_ = has_ema_ ? std::max(best_ema_, reward_ema_) : reward_ema_;
    has_ema_ = true;
    ++reward_steps_;
    const bool holds = reward_steps_ >= r.steps && best_ema_ - reward_ema_ > r.threshold;
    if (latch(wd::kRewardDrop, holds, 1) && r.action != wd::kActionOff) {
      auto f = firing(wd::kRewardDrop, metric::kReward, r, step, reward_ema_,
                      "reward (EMA over " + std::to_string(r.steps) + " steps) " + fmt(reward_ema_) + " is " +
                          fmt(best_ema_ - reward_ema_) + " below its best " + fmt(best_ema_) + " (limit " +
                          fmt(r.threshold) + ")");
      f.values = {{"ema", reward_ema_}, {"best", best_ema_}, {"reward", *v}};
      out.push_back(std::move(f));
    }
  }

  // Length drift: the mean length against its value `steps` steps ago.
  if (const double* v = find(m, metric::kMeanLength); v && std::isfinite(*v)) {
    const WatchdogRule& r = cfg.length_drift;
    lengths_.push_back(*v);
    while (static_cast<int64_t>(lengths_.size()) > r.steps + 1) lengths_.pop_front();
    const bool full = static_cast<int64_t>(lengths_.size()) == r.steps + 1 && lengths_.front() > 0;
    const double drift = full ? std::abs(lengths_.back() - lengths_.front()) / lengths_.front() : 0.0;
    if (latch(wd::kLengthDrift, full && drift > r.threshold, 1) && r.action != wd::kActionOff) {
      auto f = firing(wd::kLengthDrift, metric::kMeanLength, r, step, drift,
                      "mean length " + fmt(lengths_.front()) + " -> " + fmt(lengths_.back()) + " in " +
                          std::to_string(r.steps) + " steps (" + fmt(100.0 * drift) + "% > " + fmt(100.0 * r.threshold) + "%)");
      f.values = {{"from", lengths_.front()}, {"to", lengths_.back()}};
      out.push_back(std::move(f));
    }
  }
  return out;
}

json Watchdogs::state() const {
  json streaks = json::object();
  for (const auto& [rule, s] : streaks_) streaks[rule] = {{"count", s.count}, {"fired", s.fired}};
  return {{"streaks", streaks}, {"has_ema", has_ema_}, {"reward_ema", reward_ema_}, {"best_ema", best_ema_},
          {"reward_steps", reward_steps_}, {"lengths", std::vector<double>(lengths_.begin(), lengths_.end())}};
}

void Watchdogs::restore(const json& j) {
  *this = Watchdogs{};
  if (!j.is_object()) return;  // a checkpoint written before watchdogs: start afresh
  const json streaks = j.value("streaks", json::object());
  for (const auto& [rule, s] : streaks.items()) streaks_[rule] = {s.value("count", int64_t{0}), s.value("fired", false)};
  has_ema_ = j.value("has_ema", false);
  reward_ema_ = j.value("reward_ema", 0.0);
  best_ema_ = j.value("best_ema", 0.0);
  reward_steps_ = j.value("reward_steps", int64_t{0});
  for (double v : j.value("lengths", std::vector<double>{})) lengths_.push_back(v);
}

}  // namespace grpo

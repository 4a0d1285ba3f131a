// Watchdogs (docs/watchdogs.md): rules over each step's metrics that catch a run going wrong while it
// trains (a non-finite loss, entropy collapse, KL blow-up, completions running to the length cap, groups
// with nothing to learn from, a falling reward, a drifting length) and say what to do: record an event,
// alert, pause, or checkpoint then pause. The trainer calls observe() at every step boundary with that
// step's metrics and the rules in effect (they change live with `set watchdogs.<rule>.*`). No LibTorch.
#pragma once

#include <nlohmann/json.hpp>

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "trainer/config.h"

namespace grpo {

// One firing: what the `watchdog` event records.
struct WatchdogFiring {
  std::string rule;     // ipc::watchdog::kNonFinite, ...
  std::string metric;   // the metric the rule watches (the first non-finite one for nonfinite)
  std::string action;   // the rule's action when it fired
  double value = 0;     // the value that crossed the threshold (smoothed for reward_drop)
  double threshold = 0;
  int64_t steps = 0;    // the rule's step count
  int64_t step = 0;     // the step whose metrics fired it
  std::string message;  // one line for people: "entropy 0.004 < 0.02 for 3 steps"
  nlohmann::json values;  // the values behind it (e.g. the recent window)
  nlohmann::json to_json() const;
  bool pauses() const;  // pause or checkpoint_pause
  bool shown() const;   // alert or stronger: the studio shows a banner
};

// The rules with their metric, action and limits, as `hello` lists them.
nlohmann::json describe_watchdogs(const WatchdogConfig& cfg);

class Watchdogs {
 public:
  // Evaluates every rule that is not off on `step`'s metrics; returns the rules that fire now.
  std::vector<WatchdogFiring> observe(int64_t step, const std::map<std::string, double>& metrics,
                                      const WatchdogConfig& cfg);
  // The rules' memory (streaks, the smoothed reward's best, recent lengths) for checkpoints, so a resumed
  // or forked run's rules carry on where the checkpointed run's were.
  nlohmann::json state() const;
  void restore(const nlohmann::json& state);

 private:
  struct Streak {
    int64_t count = 0;   // consecutive steps the condition held
    bool fired = false;  // fired and not yet cleared
  };
  std::map<std::string, Streak> streaks_;
  bool has_ema_ = false;
  double reward_ema_ = 0, best_ema_ = 0;
  int64_t reward_steps_ = 0;
  std::deque<double> lengths_;  // the last lengths, newest at the back
};

}  // namespace grpo

// Watchdog rules on hand-made metric sequences, with hand-worked values: consecutive-step floors and
// ceilings (fire once, re-arm when cleared), nonfinite (every step, only when the step trained), the
// reward's EMA drop (α = 2 / (steps + 1)), length drift over a window, off, the state a checkpoint keeps,
// the rules as hello lists them, and the config keys (live, choices).
#include <QtTest>

#include <cmath>

#include "ipc/names.h"
#include "trainer/config.h"
#include "trainer/watchdog.h"

using namespace grpo;
namespace wd = ipc::watchdog;
namespace metric = ipc::metric;

namespace {

using Metrics = std::map<std::string, double>;

WatchdogConfig quiet() {  // every rule off, so a test turns on the one it checks
  WatchdogConfig c;
  for (WatchdogRule* r : {&c.nonfinite, &c.entropy_floor, &c.kl_ceiling, &c.clipped_ceiling, &c.zero_spread,
                          &c.reward_drop, &c.length_drift})
    r->action = wd::kActionOff;
  return c;
}

// The steps (1-based) at which `rule` fires over `values` of `name`.
std::vector<int64_t> fired_at(Watchdogs& w, const WatchdogConfig& c, const char* name, const std::vector<double>& values,
                              const std::string& rule) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < values.size(); ++i)
    for (const auto& f : w.observe(static_cast<int64_t>(i + 1), {{name, values[i]}}, c))
      if (f.rule == rule) out.push_back(f.step);
  return out;
}

}  // namespace

class TestWatchdog : public QObject {
  Q_OBJECT
 private slots:
  void floor_fires_after_n_steps_once_and_rearms() {
    auto c = quiet();
    c.entropy_floor = {wd::kActionPause, 0.1, 3};
    Watchdogs w;
    const auto at = fired_at(w, c, metric::kEntropy, {0.2, 0.05, 0.05, 0.05, 0.05, 0.2, 0.05, 0.05, 0.05}, wd::kEntropyFloor);
    QCOMPARE(at, (std::vector<int64_t>{4, 9}));  // steps 2-4 low; 5 still low (latched); 6 clears; 7-9 low
  }

  void ceiling_names_value_and_threshold() {
    auto c = quiet();
    c.kl_ceiling = {wd::kActionAlert, 1.0, 1};
    Watchdogs w;
    QVERIFY(w.observe(1, {{metric::kKl, 0.5}}, c).empty());
    QVERIFY(w.observe(2, {{metric::kKl, 1.0}}, c).empty());  // at the ceiling is not above it
    const auto f = w.observe(3, {{metric::kKl, 1.5}}, c);
    QCOMPARE(f.size(), size_t{1});
    QCOMPARE(f[0].rule, std::string(wd::kKlCeiling));
    QCOMPARE(f[0].metric, std::string(metric::kKl));
    QCOMPARE(f[0].value, 1.5);
    QCOMPARE(f[0].threshold, 1.0);
    QCOMPARE(f[0].step, int64_t{3});
    QCOMPARE(f[0].message, std::string("kl 1.5 > 1 for 1 step"));
    QVERIFY(f[0].shown() && !f[0].pauses());
    QCOMPARE(f[0].to_json()["rule"].get<std::string>(), std::string(wd::kKlCeiling));
    // A missing or non-finite value neither fires nor clears a ceiling.
    QVERIFY(w.observe(4, {}, c).empty());
  }

  void clipped_and_zero_spread() {
    auto c = quiet();
    c.clipped_ceiling = {wd::kActionEvent, 0.5, 2};
    c.zero_spread = {wd::kActionCheckpointPause, 0.9, 1};
    Watchdogs w;
    QCOMPARE(fired_at(w, c, metric::kClippedRatio, {0.6, 0.4, 0.6, 0.7}, wd::kClippedCeiling), (std::vector<int64_t>{4}));
    Watchdogs z;
    const auto f = z.observe(1, {{metric::kZeroStdFraction, 0.95}}, c);
    QCOMPARE(f.size(), size_t{1});
    QVERIFY(f[0].pauses());
  }

  void nonfinite_fires_every_step_that_trained() {
    auto c = quiet();
    c.nonfinite.action = wd::kActionPause;
    Watchdogs w;
    const double nan = std::nan("");
    auto f = w.observe(1, {{metric::kLoss, nan}, {metric::kGroupsTrained, 4}, {metric::kSkippedUpdates, 2}}, c);
    QCOMPARE(f.size(), size_t{1});
    QCOMPARE(f[0].metric, std::string(metric::kLoss));
    QVERIFY(f[0].message.find("2 optimizer step(s) skipped") != std::string::npos);
    QCOMPARE(f[0].values[metric::kLoss].get<std::string>(), std::string("nan"));
    QCOMPARE(w.observe(2, {{metric::kGradNorm, INFINITY}, {metric::kGroupsTrained, 4}}, c).size(), size_t{1});  // again
    f = w.observe(3, {{metric::kLoss, 0.1}, {metric::kSkippedUpdates, 1}, {metric::kGroupsTrained, 4}}, c);
    QCOMPARE(f.size(), size_t{1});
    QCOMPARE(f[0].metric, std::string(metric::kSkippedUpdates));
    // A step with no groups to train has no loss or gradient norm (NaN by definition): nothing fired.
    QVERIFY(w.observe(4, {{metric::kLoss, nan}, {metric::kGradNorm, nan}, {metric::kGroupsTrained, 0}, {metric::kSkippedUpdates, 0}}, c)
                .empty());
  }

  void reward_drop_on_the_ema() {
    auto c = quiet();
    c.reward_drop = {wd::kActionAlert, 0.25, 3};  // α = 2 / 4 = 0.5
    Watchdogs w;
    // EMA: 1, 1, 1, then 0.5 (drop 0.5 > 0.25: fires), 0.25 (latched), 0.625, 0.8125 (drop 0.1875: cleared),
    // then 0.40625 (drop 0.59375: fires again).
    std::vector<WatchdogFiring> all;
    const std::vector<double> rewards = {1, 1, 1, 0, 0, 1, 1, 0};
    for (size_t i = 0; i < rewards.size(); ++i)
      for (auto& f : w.observe(static_cast<int64_t>(i + 1), {{metric::kReward, rewards[i]}}, c)) all.push_back(f);
    QCOMPARE(all.size(), size_t{2});
    QCOMPARE(all[0].step, int64_t{4});
    QCOMPARE(all[0].value, 0.5);
    QCOMPARE(all[0].values["best"].get<double>(), 1.0);
    QCOMPARE(all[1].step, int64_t{8});
    QCOMPARE(all[1].value, 0.40625);
    // No alarm before the EMA has seen a window: a fall at step 2 of a 3-step window waits.
    Watchdogs early;
    QVERIFY(fired_at(early, c, metric::kReward, {1, 0}, wd::kRewardDrop).empty());
  }

  void length_drift_over_the_window() {
    auto c = quiet();
    c.length_drift = {wd::kActionEvent, 0.5, 2};
    Watchdogs w;
    std::vector<WatchdogFiring> all;
    const std::vector<double> lengths = {10, 12, 16, 17, 18};  // 16 vs 10: +60%; 17 vs 12: +42% (clears)
    for (size_t i = 0; i < lengths.size(); ++i)
      for (auto& f : w.observe(static_cast<int64_t>(i + 1), {{metric::kMeanLength, lengths[i]}}, c)) all.push_back(f);
    QCOMPARE(all.size(), size_t{1});
    QCOMPARE(all[0].step, int64_t{3});
    QCOMPARE(all[0].value, 0.6);
    QVERIFY(!all[0].shown());  // an event is recorded, not shown
  }

  void off_never_fires() {
    const auto c = quiet();
    Watchdogs w;
    const double nan = std::nan("");
    for (int64_t s = 1; s <= 20; ++s)
      QVERIFY(w.observe(s, {{metric::kLoss, nan}, {metric::kEntropy, 0.0}, {metric::kKl, 100.0}, {metric::kReward, s % 2 ? 5.0 : -5.0},
                            {metric::kMeanLength, s % 2 ? 1.0 : 100.0}, {metric::kSkippedUpdates, 1}},
                        c)
                  .empty());
  }

  void state_carries_over_a_checkpoint() {
    auto c = quiet();
    c.entropy_floor = {wd::kActionPause, 0.1, 3};
    c.reward_drop = {wd::kActionAlert, 0.25, 3};
    Watchdogs w;
    for (int64_t s = 1; s <= 3; ++s) w.observe(s, {{metric::kEntropy, s == 1 ? 0.5 : 0.01}, {metric::kReward, 1.0}}, c);
    Watchdogs resumed;
    resumed.restore(nlohmann::json::parse(w.state().dump()));
    const auto a = w.observe(4, {{metric::kEntropy, 0.01}, {metric::kReward, 0.0}}, c);
    const auto b = resumed.observe(4, {{metric::kEntropy, 0.01}, {metric::kReward, 0.0}}, c);
    QCOMPARE(a.size(), size_t{2});  // the floor's third low step, and the drop to an EMA of 0.5
    QCOMPARE(b.size(), a.size());
    for (size_t i = 0; i < a.size(); ++i) QCOMPARE(b[i].to_json().dump(), a[i].to_json().dump());
    Watchdogs fresh;
    fresh.restore(nullptr);  // a checkpoint from before watchdogs
    QVERIFY(fresh.observe(1, {{metric::kEntropy, 0.01}}, c).empty());
  }

  void described_for_hello_and_configured_live() {
    Config cfg;
    const auto d = describe_watchdogs(cfg.watchdogs);
    QCOMPARE(d.size(), size_t{7});
    QCOMPARE(d[0]["rule"].get<std::string>(), std::string(wd::kNonFinite));
    QCOMPARE(d[0]["action"].get<std::string>(), std::string(wd::kActionPause));
    set_config_value(cfg, "watchdogs.kl_ceiling.threshold", 0.3, /*live_only=*/true, "set");
    set_config_value(cfg, "watchdogs.kl_ceiling.action", "checkpoint_pause", true, "set");
    QCOMPARE(cfg.watchdogs.kl_ceiling.threshold, 0.3);
    QCOMPARE(describe_watchdogs(cfg.watchdogs)[2]["action"].get<std::string>(), std::string(wd::kActionCheckpointPause));
    try {
      set_config_value(cfg, "watchdogs.kl_ceiling.action", "explode", true, "set");
      QFAIL("accepted");
    } catch (const ConfigError& e) {
      QVERIFY(std::string(e.what()).find("off, event, alert, pause, checkpoint_pause") != std::string::npos);
    }
    try {
      apply_override(cfg, "watchdogs.entropy_floor.steps=0");
      QFAIL("accepted");
    } catch (const ConfigError& e) {
      QVERIFY(std::string(e.what()).find("watchdogs.entropy_floor.steps") != std::string::npos);
    }
    try {
      apply_override(cfg, "watchdogs.entropy_flor.steps=2");
      QFAIL("accepted");
    } catch (const ConfigError& e) {
      QVERIFY(std::string(e.what()).find("did you mean 'watchdogs.entropy_floor.steps'") != std::string::npos);
    }
    // Round trip through the config file format.
    const Config back = config_from_json(config_to_json(cfg), "test");
    QCOMPARE(back.watchdogs.kl_ceiling.action, std::string(wd::kActionCheckpointPause));
  }
};

QTEST_GUILESS_MAIN(TestWatchdog)
#include "test_watchdog.moc"

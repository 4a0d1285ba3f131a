// One run as the studio holds it: name, colour, state, config, every metric series, markers (set changes,
// checkpoints), the watchdog alerts it raised, its parent (a fork), and its sampled completions (training
// steps' and evaluations' held-out ones, kept apart), loaded from its run store and kept current from live
// protocol events. Plain data and conversions to the widgets' types; no widgets, no sockets.
#pragma once

#include <QColor>
#include <QHash>
#include <QMap>
#include <QString>
#include <QVector>
#include <nlohmann/json.hpp>

#include <map>
#include <optional>

#include "ipc/client.h"
#include "ipc/run_store.h"
#include "ui/dashboard.h"
#include "ui/sample_model.h"

namespace grpo::app {

struct MetricSeries {
  QVector<int> steps;
  QVector<double> values;
};

// A watchdog that fired with a visible action (alert, pause, checkpoint_pause; "event" is only recorded).
struct WatchdogAlert {
  QString rule, metric, action, message;
  int step = 0;
  int recorded_at = 0;       // the step of its event (a resume from before it discards it)
  int checkpoint_step = -1;  // the newest checkpoint at or before the alarm (where a fork starts); -1: none
  bool pauses() const;       // the action pauses the run
};

// A live change of hyperparameters: its values (JSON) and the first step that used them.
struct ConfigChange {
  int from_step = 0;
  nlohmann::json changed;  // {key: value}
  int recorded_at = 0;     // the step of its event
};

class RunData {
 public:
  QString id;    // the run folder, or the control endpoint of a remote run
  QString name;
  QString dir;   // empty for a remote run
  QColor color;
  QString state = "unknown";
  QString state_reason;  // why, when the trainer said (waiting: "reward server tcp://… not answering"; failed: the error)
  // The state with its reason, as shown; a dead run's: "stopped unexpectedly at step N (pid P is gone)".
  QString state_text() const;
  // The store says running but its trainer is gone (ipc::probe_run: killed, out of memory, a lost machine):
  // state kStateDead, state_reason the probe's message. Its endpoints.json is stale; it can be resumed.
  static constexpr const char* kStateDead = "dead";
  bool dead() const { return state == kStateDead; }
  void mark_dead(const QString& message);
  // Asks ipc::probe_run about a local run whose store does not say it ended: marks it dead when its trainer
  // is gone. True when it is dead.
  bool check_liveness();
  int step = 0;
  nlohmann::json config = nlohmann::json::object();
  nlohmann::json live_schema = nlohmann::json::object();  // the live keys: hello's `live`, or the store's meta
  QHash<QString, MetricSeries> metrics;
  QVector<int> axis_steps;  // per step with metrics: wall seconds since the start, tokens so far
  QVector<double> axis_seconds, axis_tokens;
  QVector<ui::Marker> markers;
  QVector<int> sample_steps;  // training steps with stored samples
  QVector<int> eval_steps;    // evaluations with stored held-out completions (eval samples)
  QVector<WatchdogAlert> alerts;
  int pending_alert = -1;  // the newest alert that came in live and was not acted on yet (-1: none)
  int64_t last_seq = 0;    // the newest record held

  // A fork's parent (empty for a run of its own): its folder name, folder and the step the fork starts from.
  QString parent_name, parent_dir;
  int parent_step = -1;
  bool is_fork() const { return !parent_dir.isEmpty(); }
  void set_parent(const QString& name, const QString& dir, int step);
  // The ancestors' history before this run's first step (app/lineage.cpp fills it): metric -> points.
  QHash<QString, MetricSeries> ancestry;
  bool ancestry_loaded = false;

  // The config in effect after `at_step` (the start config plus the live changes used by then).
  nlohmann::json config_at(int at_step) const;

  // Loads everything recorded so far from <dir>/run.sqlite, records and events in seq order (throws
  // ipc::StoreError), then check_liveness().
  void load_from_store();

  // What one batch of live events changed.
  struct Delta {
    QHash<QString, MetricSeries> metrics;  // new points per metric
    QVector<int> axis_steps;
    QVector<double> axis_seconds, axis_tokens;
    bool markers = false, samples = false, eval_samples = false, state = false;
    bool lineage = false;  // the run turned out to be a fork (its fork event)
    // A resume event came: everything recorded for steps after this one was dropped (-1: none). The points
    // above are what is held after it; the charts and the inspector redraw the run from the RunData.
    int truncated_after = -1;
    QVector<int> sample_steps_added;  // training steps whose samples came in this batch
    QVector<int> alerts;   // indices into RunData::alerts of the alerts in this batch
    QVector<std::pair<QMap<QString, QVariant>, int>> applied;  // hparams events: values and their first step
  };
  void apply(const ipc::Event& e, Delta& delta);
  // Drops everything recorded for steps after `after_step` (a resume replays them): metric points, axis
  // values, samples of both splits, markers, config changes and alerts whose events came after it.
  void truncate_after(int after_step, Delta* delta = nullptr);

  QVector<ui::SampleView> samples(int step);       // a training step's, from the live cache, else the store
  QVector<ui::SampleView> eval_samples(int step);  // an evaluation's held-out completions (group = prompt)
  static constexpr int kCachedSteps = 32;          // training steps' samples held in memory (a local run)
  int cached_sample_steps() const {
    return static_cast<int>(sample_cache_.by_step.size());
  }                                                // held in memory
  QVector<ui::Alert> chart_alerts() const;         // the alerts as chart markers
  QMap<QString, QString> flat_config() const;
  QStringList markers_words() const;  // the run's self-verification markers

  static ui::SampleView to_view(const ipc::SampleRecord& s);

 private:
  void add_point(int step, double time, const std::map<std::string, double>& values, Delta* delta);
  // Returns the index of the alert it added to `alerts` (a visible watchdog), else -1. A resume event
  // truncates (what `delta` holds too).
  int add_event(const std::string& kind, int64_t step, const nlohmann::json& data, Delta* delta);
  QVector<ui::SampleView> stored_samples(int step, ipc::SampleSplit split);
  double t0_ = -1;
  nlohmann::json start_config_;  // the start or fork event's config (null: only `config` is known)
  QVector<ConfigChange> changes_;
  QVector<int> marker_recorded_at_;  // per marker: the step of its event
  int awaiting_ = -1;  // the newest pausing alert the run has not run on after (read from the store)
  bool awaiting_paused_ = false;
  // Samples by step, newest kCachedSteps steps per split (a live run's arrive every step; the store holds
  // them all, so an evicted step is read back from it). A remote run has no store: nothing is evicted.
  struct SampleCache {
    QHash<int, QVector<ui::SampleView>> by_step;
    QVector<int> order;  // steps, oldest insertion first
    void put(int step, QVector<ui::SampleView> views, bool bounded);
    void drop_after(int step);
    void clear() { by_step.clear(), order.clear(); }
  };
  SampleCache sample_cache_, eval_cache_;
};

}  // namespace grpo::app

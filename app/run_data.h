// One run as the studio holds it: name, colour, state, config, every metric series, markers (set changes,
// checkpoints) and sampled completions, loaded from its run store and kept current from live protocol
// events. Plain data and conversions to the widgets' types; no widgets, no sockets.
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

class RunData {
 public:
  QString id;    // the run folder, or the control endpoint of a remote run
  QString name;
  QString dir;   // empty for a remote run
  QColor color;
  QString state = "unknown";
  QString state_reason;  // why, when the trainer said (waiting: "reward server tcp://… not answering"; failed: the error)
  QString state_text() const;  // the state with its reason, as shown
  int step = 0;
  nlohmann::json config = nlohmann::json::object();
  QHash<QString, MetricSeries> metrics;
  QVector<int> axis_steps;  // per step with metrics: wall seconds since the start, tokens so far
  QVector<double> axis_seconds, axis_tokens;
  QVector<ui::Marker> markers;
  QVector<int> sample_steps;
  int64_t last_seq = 0;  // the newest record held

  // Loads everything recorded so far from <dir>/run.sqlite (throws ipc::StoreError).
  void load_from_store();

  // What one batch of live events changed.
  struct Delta {
    QHash<QString, MetricSeries> metrics;  // new points per metric
    QVector<int> axis_steps;
    QVector<double> axis_seconds, axis_tokens;
    bool markers = false, samples = false, state = false;
    QVector<std::pair<QMap<QString, QVariant>, int>> applied;  // hparams events: values and their first step
  };
  void apply(const ipc::Event& e, Delta& delta);

  QVector<ui::SampleView> samples(int step);  // from the live cache, else the store
  QMap<QString, QString> flat_config() const;
  QStringList markers_words() const;  // the run's self-verification markers

  static ui::SampleView to_view(const ipc::SampleRecord& s);

 private:
  void add_point(int step, double time, const std::map<std::string, double>& values, Delta* delta);
  void add_event(const std::string& kind, int64_t step, const nlohmann::json& data);
  double t0_ = -1;
  QHash<int, QVector<ui::SampleView>> sample_cache_;
};

}  // namespace grpo::app

// Run data (see run_data.h).
#include "app/run_data.h"

#include <QDir>
#include <QVariant>
#include <algorithm>
#include <cmath>

#include "ipc/messages.h"
#include "ipc/names.h"
#include "ipc/protocol.h"
#include "ipc/run_liveness.h"

namespace grpo::app {

using nlohmann::json;
namespace event = ipc::event;
namespace protocol = ipc::protocol;

ui::SampleView RunData::to_view(const ipc::SampleRecord& s) {
  ui::SampleView v;
  v.group = static_cast<int>(s.group);
  v.index = static_cast<int>(s.index);
  v.prompt = QString::fromStdString(s.prompt);
  v.completion = QString::fromStdString(s.completion);
  v.answer = QString::fromStdString(s.answer);
  v.reward = s.reward;
  v.advantage = s.advantage;
  for (const auto& [k, x] : s.rewards) v.rewards[QString::fromStdString(k)] = x;
  if (s.columns.is_object()) {
    json rest = s.columns;
    rest.erase("prompt");  // shown above
    v.columns = QString::fromStdString(rest.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  v.length = static_cast<int>(s.length);
  v.correct = s.correct;
  v.verified = s.verified;
  v.truncated = s.truncated;
  v.offsets = QVector<int>(s.offsets.begin(), s.offsets.end());
  v.logp_old = QVector<float>(s.logp_old.begin(), s.logp_old.end());
  v.logp = QVector<float>(s.logp.begin(), s.logp.end());
  v.entropy = QVector<float>(s.entropy.begin(), s.entropy.end());
  v.kl = QVector<float>(s.kl.begin(), s.kl.end());
  return v;
}

void RunData::add_point(int at_step, double time, const std::map<std::string, double>& values, Delta* delta) {
  if (t0_ < 0) t0_ = time;
  for (const auto& [k, v] : values) {
    auto& series = metrics[QString::fromStdString(k)];
    series.steps << at_step;
    series.values << v;
    if (delta) {
      auto& d = delta->metrics[QString::fromStdString(k)];
      d.steps << at_step;
      d.values << v;
    }
  }
  const auto tokens = values.find(ipc::metric::kTokensTotal);
  if (tokens != values.end() && (axis_steps.isEmpty() || axis_steps.last() < at_step)) {
    axis_steps << at_step;
    axis_seconds << time - t0_;
    axis_tokens << tokens->second;
    if (delta) {
      delta->axis_steps << at_step;
      delta->axis_seconds << time - t0_;
      delta->axis_tokens << tokens->second;
    }
  }
  step = std::max(step, at_step);
}

bool WatchdogAlert::pauses() const {
  return action == ipc::watchdog::kActionPause || action == ipc::watchdog::kActionCheckpointPause;
}

void RunData::set_parent(const QString& name, const QString& dir_in, int at_step) {
  if (dir_in.isEmpty()) return;
  parent_name = name.isEmpty() ? QDir(dir_in).dirName() : name;
  if (parent_dir != dir_in || parent_step != at_step) ancestry_loaded = false;  // to be read again
  parent_dir = dir_in;
  parent_step = at_step;
}

int RunData::add_event(const std::string& kind, int64_t at_step, const json& data, Delta* delta) {
  if (kind == event::kHparams) {
    QStringList parts;
    const json changed = data.value("changed", json::object());  // named: items() must not outlive it
    ConfigChange change{static_cast<int>(data.value("from_step", at_step + 1)), json::object(),
                        static_cast<int>(at_step)};
    for (const auto& [k, c] : changed.items()) {
      const QString key = QString::fromStdString(k).section('.', -1);
      parts << key + "→" + QString::fromStdString(c.value("to", json()).dump());
      change.changed[k] = c.value("to", json());
    }
    markers.push_back({change.from_step, parts.join(", "), false});
    marker_recorded_at_.push_back(static_cast<int>(at_step));
    changes_.push_back(std::move(change));
  } else if (kind == event::kCheckpoint) {
    markers.push_back({static_cast<int>(at_step), "checkpoint", true});
    marker_recorded_at_.push_back(static_cast<int>(at_step));
  } else if (kind == event::kResume) {
    // The run continues from a checkpoint: what it had recorded after it is replayed, under newer seqs.
    truncate_after(static_cast<int>(data.value("from_step", at_step)), delta);
  } else if (kind == event::kStatus) {
    state = QString::fromStdString(data.value("state", "unknown"));
    state_reason = QString::fromStdString(data.value("reason", ""));
    // A pausing alert waits for an answer until the run pauses and then runs again (or ends).
    if (state == protocol::kStatePaused) awaiting_paused_ = awaiting_ >= 0;
    if ((state == protocol::kStateRunning && awaiting_paused_) || state == protocol::kStateFinished ||
        state == protocol::kStateStopped || state == protocol::kStateFailed) {
      awaiting_ = -1;
      awaiting_paused_ = false;
    }
  } else if (kind == event::kStart || kind == event::kFork) {
    if (data.contains("config")) config = start_config_ = data["config"];
    if (kind == event::kFork)
      set_parent(QString::fromStdString(data.value("parent_run", "")),
                 QString::fromStdString(data.value("parent_dir", "")),
                 static_cast<int>(data.value("parent_step", at_step)));
  } else if (kind == event::kWatchdog) {
    namespace wd = ipc::watchdog;
    const std::string action = data.value("action", "");
    if (action != wd::kActionAlert && action != wd::kActionPause && action != wd::kActionCheckpointPause)
      return -1;
    WatchdogAlert a;
    a.rule = QString::fromStdString(data.value("rule", ""));
    a.metric = QString::fromStdString(data.value("metric", ""));
    a.action = QString::fromStdString(action);
    a.message = QString::fromStdString(data.value("message", ""));
    a.step = static_cast<int>(data.value("step", at_step));
    a.recorded_at = static_cast<int>(at_step);
    const auto ck = data.find("checkpoint_step");
    a.checkpoint_step =
        ck != data.end() && ck->is_number_integer() ? static_cast<int>(ck->get<int64_t>()) : -1;
    alerts.push_back(a);
    if (a.pauses()) {
      awaiting_ = static_cast<int>(alerts.size()) - 1;
      awaiting_paused_ = false;
    }
    return static_cast<int>(alerts.size()) - 1;
  }
  return -1;
}

json RunData::config_at(int at_step) const {
  json out = start_config_.is_object() ? start_config_ : config;
  if (!out.is_object()) return json::object();
  for (const auto& c : changes_) {
    if (c.from_step > at_step) continue;
    for (const auto& [k, v] : c.changed.items()) {
      std::string pointer = "/" + k;
      std::replace(pointer.begin(), pointer.end(), '.', '/');
      out[json::json_pointer(pointer)] = v;
    }
  }
  return out;
}

void RunData::load_from_store() {
  auto store = ipc::RunStore::open_for_reading(QDir(dir).filePath("run.sqlite").toStdString());
  metrics.clear();
  markers.clear();
  marker_recorded_at_.clear();
  axis_steps.clear();
  axis_seconds.clear();
  axis_tokens.clear();
  alerts.clear();
  awaiting_ = -1;
  awaiting_paused_ = false;
  changes_.clear();
  start_config_ = json();
  sample_cache_.clear();
  eval_cache_.clear();
  t0_ = -1;
  step = 0;
  state_reason.clear();
  if (auto c = store.meta("config")) config = json::parse(*c, nullptr, false);
  if (auto l = store.meta("live_schema")) live_schema = json::parse(*l, nullptr, false);  // absent before 0.2
  if (auto parent = store.meta(ipc::meta::kParentDir)) {
    const auto at = store.meta(ipc::meta::kParentStep);
    set_parent(QString::fromStdString(store.meta(ipc::meta::kParentRun).value_or("")),
               QString::fromStdString(*parent), at ? QString::fromStdString(*at).toInt() : -1);
  }
  if (auto s = store.meta("state")) state = QString::fromStdString(*s);
  if (auto created = store.meta("created")) t0_ = std::stod(*created);
  // Every record up to the newest seq handed out when the reading starts (each is committed with it), and
  // none after: a live link then asks for what follows it, so a record appended while this reads is neither
  // missed nor held twice. Metric records (one per seq) and events in seq order, as they were published: a
  // resume event drops only what came before it.
  const int64_t through = store.last_seq();
  const auto refs = store.metric_seqs(0, 1 << 30);
  const auto events = store.events();
  size_t m = 0;
  const auto add_metrics_before = [&](int64_t seq) {
    for (; m < refs.size() && refs[m].seq < seq && refs[m].seq <= through; ++m)
      add_point(static_cast<int>(refs[m].step), refs[m].time, store.metrics_with_seq(refs[m].seq), nullptr);
  };
  for (const auto& e : events) {
    if (e.seq > through) break;
    add_metrics_before(e.seq);
    add_event(e.kind, e.step, e.data, nullptr);
  }
  add_metrics_before(through + 1);
  last_seq = std::max(last_seq, through);
  // Paused (or about to pause) by a watchdog before the studio came: that alert still waits for an answer.
  pending_alert = awaiting_;
  sample_steps.clear();
  for (int64_t s : store.sample_steps()) sample_steps << static_cast<int>(s);
  eval_steps.clear();
  for (int64_t s : store.sample_steps(ipc::SampleSplit::kEval)) eval_steps << static_cast<int>(s);
  check_liveness();
}

void RunData::mark_dead(const QString& message) {
  state = kStateDead;
  state_reason = message;
}

bool RunData::check_liveness() {
  if (dir.isEmpty() || state == protocol::kStateFinished || state == protocol::kStateStopped ||
      state == protocol::kStateFailed)
    return dead();
  const ipc::RunLiveness l = ipc::probe_run(dir.toStdString());
  if (l.verdict == ipc::RunLiveness::Verdict::kDead) mark_dead(QString::fromStdString(l.message));
  return dead();
}

void RunData::truncate_after(int after, Delta* delta) {
  for (auto& series : metrics) {
    int keep = 0;
    while (keep < series.steps.size() && series.steps[keep] <= after) ++keep;
    series.steps.resize(keep);
    series.values.resize(keep);
  }
  int axis_keep = 0;
  while (axis_keep < axis_steps.size() && axis_steps[axis_keep] <= after) ++axis_keep;
  axis_steps.resize(axis_keep);
  axis_seconds.resize(axis_keep);
  axis_tokens.resize(axis_keep);
  for (auto* steps : {&sample_steps, &eval_steps}) steps->removeIf([after](int s) { return s > after; });
  sample_cache_.drop_after(after);
  eval_cache_.drop_after(after);
  for (qsizetype i = markers.size() - 1; i >= 0; --i)
    if (marker_recorded_at_.value(i, markers[i].step) > after)
      markers.remove(i), marker_recorded_at_.remove(i);
  changes_.removeIf([after](const ConfigChange& c) { return c.recorded_at > after; });
  // Alerts: indices move; the pending and awaited ones follow theirs, or go with it.
  QVector<int> index(alerts.size(), -1);
  QVector<WatchdogAlert> kept;
  for (int i = 0; i < alerts.size(); ++i)
    if (alerts[i].recorded_at <= after) index[i] = static_cast<int>(kept.size()), kept << alerts[i];
  alerts = std::move(kept);
  pending_alert = pending_alert >= 0 && pending_alert < index.size() ? index[pending_alert] : -1;
  awaiting_ = awaiting_ >= 0 && awaiting_ < index.size() ? index[awaiting_] : -1;
  if (awaiting_ < 0) awaiting_paused_ = false;
  step = std::min(step, after);
  if (!delta) return;
  delta->truncated_after = delta->truncated_after < 0 ? after : std::min(delta->truncated_after, after);
  for (auto& d : delta->metrics) {  // this batch's points from before the resume are gone too
    int keep = 0;
    while (keep < d.steps.size() && d.steps[keep] <= after) ++keep;
    d.steps.resize(keep);
    d.values.resize(keep);
  }
  int d_keep = 0;
  while (d_keep < delta->axis_steps.size() && delta->axis_steps[d_keep] <= after) ++d_keep;
  delta->axis_steps.resize(d_keep);
  delta->axis_seconds.resize(d_keep);
  delta->axis_tokens.resize(d_keep);
  delta->sample_steps_added.removeIf([after](int s) { return s > after; });
  QVector<int> alerts_kept;
  for (int a : delta->alerts)
    if (a >= 0 && a < index.size() && index[a] >= 0) alerts_kept << index[a];
  delta->alerts = alerts_kept;
  delta->markers = delta->samples = delta->eval_samples = delta->state = true;
}

void RunData::apply(const ipc::Event& e, Delta& delta) {
  const auto& p = e.payload;
  last_seq = std::max<int64_t>(last_seq, p.value("seq", int64_t{0}));
  if (e.topic == protocol::kTopicHeartbeat) {
    const QString s = QString::fromStdString(p.value("state", "unknown"));
    if (s != state) state = s, state_reason.clear(), delta.state = true;
    return;
  }
  if (e.topic == protocol::kTopicMetrics) {
    std::map<std::string, double> values;
    const json values_json = p.value("values", json::object());
    for (const auto& [k, v] : values_json.items()) values[k] = v.is_number() ? v.get<double>() : std::nan("");
    add_point(static_cast<int>(p.value("step", int64_t{0})), p.value("time", 0.0), values, &delta);
    delta.state = true;
  } else if (e.topic == protocol::kTopicSamples) {
    const int s = static_cast<int>(p.value("step", int64_t{0}));
    QVector<ui::SampleView> views;
    for (const auto& j : p.value("samples", json::array())) views << to_view(ipc::sample_from_json(j));
    // An evaluation's held-out completions travel on the same topic; the inspector shows training ones only.
    const bool eval = p.value("split", std::string(protocol::kSplitTrain)) == protocol::kSplitEval;
    auto& steps = eval ? eval_steps : sample_steps;
    (eval ? eval_cache_ : sample_cache_).put(s, std::move(views), !dir.isEmpty());
    if (steps.isEmpty() || steps.last() < s) steps << s;
    (eval ? delta.eval_samples : delta.samples) = true;
    if (!eval) delta.sample_steps_added << s;
  } else {  // event, status, log
    const std::string kind = p.value("kind", "");
    const auto before = markers.size();
    const bool was_fork = is_fork();
    const int alert = add_event(kind, p.value("step", int64_t{0}), p.value("data", json::object()), &delta);
    if (alert >= 0) {
      delta.alerts << alert;
      pending_alert = alert;  // shown until acted on (resumed, forked or dismissed)
    }
    delta.lineage |= is_fork() != was_fork;
    delta.markers |= markers.size() != before;
    delta.state |= kind == event::kStatus;
    if (kind == event::kHparams) {
      QMap<QString, QVariant> values;
      const json changed = p["data"].value("changed", json::object());
      for (const auto& [k, change] : changed.items()) {  // numbers and choices: what the panel edits
        const json to = change.value("to", json());
        if (to.is_number()) values[QString::fromStdString(k)] = to.get<double>();
        if (to.is_string()) values[QString::fromStdString(k)] = QString::fromStdString(to.get<std::string>());
      }
      delta.applied.push_back({values, static_cast<int>(p["data"].value("from_step", int64_t{0}))});
    }
  }
}

QVector<ui::SampleView> RunData::stored_samples(int at_step, ipc::SampleSplit split) {
  auto& cache = split == ipc::SampleSplit::kEval ? eval_cache_ : sample_cache_;
  if (auto it = cache.by_step.find(at_step); it != cache.by_step.end()) return *it;
  if (dir.isEmpty()) return {};
  QVector<ui::SampleView> out;
  try {
    auto store = ipc::RunStore::open_for_reading(QDir(dir).filePath("run.sqlite").toStdString());
    for (const auto& s : store.samples_at(at_step, split)) out << to_view(s);
  } catch (const std::exception&) {
  }
  if (!out.isEmpty()) cache.put(at_step, out, true);
  return out;
}

void RunData::SampleCache::put(int at_step, QVector<ui::SampleView> views, bool bounded) {
  if (!by_step.contains(at_step)) order << at_step;
  by_step[at_step] = std::move(views);
  while (bounded && order.size() > kCachedSteps) by_step.remove(order.takeFirst());
}

void RunData::SampleCache::drop_after(int after) {
  order.removeIf([after](int s) { return s > after; });
  for (auto it = by_step.begin(); it != by_step.end();)
    it = it.key() > after ? by_step.erase(it) : std::next(it);
}

QVector<ui::SampleView> RunData::samples(int at_step) {
  return stored_samples(at_step, ipc::SampleSplit::kTrain);
}

QVector<ui::SampleView> RunData::eval_samples(int at_step) {
  return stored_samples(at_step, ipc::SampleSplit::kEval);
}

QVector<ui::Alert> RunData::chart_alerts() const {
  QVector<ui::Alert> out;
  for (const auto& a : alerts) out.push_back({a.step, a.metric, a.rule});
  return out;
}

QMap<QString, QString> RunData::flat_config() const {
  QMap<QString, QString> out;
  if (!config.is_object()) return out;
  const json flat = config.flatten();  // keep it alive: items() only refers to it
  for (const auto& [k, v] : flat.items()) {
    QString key = QString::fromStdString(k).mid(1).replace('/', '.');
    out[key] = QString::fromStdString(v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

QString RunData::state_text() const {
  if (dead()) return state_reason.isEmpty() ? QStringLiteral("stopped unexpectedly") : state_reason;
  return state_reason.isEmpty() ? state : state + ": " + state_reason;
}

QStringList RunData::markers_words() const {
  QStringList out;
  if (config.is_object() && config.contains("rewards"))
    for (const auto& m : config["rewards"].value("markers", json::array())) out << QString::fromStdString(m.get<std::string>());
  return out.isEmpty() ? QStringList{"check", "wait"} : out;
}

}  // namespace grpo::app

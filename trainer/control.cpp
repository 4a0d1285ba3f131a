// Live run control (see control.h).
#include "trainer/control.h"

#include "ipc/messages.h"
#include "ipc/protocol.h"
#include "trainer/watchdog.h"

namespace grpo {

using nlohmann::json;
namespace proto = ipc::protocol;

namespace {

json value_of(Config& c, const std::string& key) {
  for (const auto& f : config_fields(c))
    if (f.key == key) {
      json v;
      std::visit([&](auto* p) { v = *p; }, f.target);
      return v;
    }
  return nullptr;
}

}  // namespace

json live_schema(const Config& config) {
  Config c = config;
  json out = json::object();
  for (const auto& f : config_fields(c)) {
    if (!f.live) continue;
    const char* type = f.target.index() == 0 ? "integer" : f.target.index() == 1 ? "number" : f.target.index() == 3 ? "choice" : "other";
    out[f.key] = {{"type", type}, {"min", f.min}, {"max", f.max}, {"min_exclusive", f.min_exclusive},
                  {"value", value_of(c, f.key)}};
    if (!f.choices.empty()) out[f.key]["choices"] = f.choices;
  }
  return out;
}

RunControl::RunControl(const Config& config, std::string run_id, json info, const std::atomic<bool>* external_stop)
    : config_(config),
      pending_(json::object()),
      run_id_(std::move(run_id)),
      info_(std::move(info)),
      external_stop_(external_stop) {}

std::pair<std::string, int64_t> RunControl::heartbeat_state() {
  std::lock_guard<std::mutex> lock(mutex_);
  return {state_, completed_};
}

std::string RunControl::state() {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

void RunControl::set_state(const std::string& state) {
  std::lock_guard<std::mutex> lock(mutex_);
  state_ = state;
}

void RunControl::begin_step() {
  std::lock_guard<std::mutex> lock(mutex_);
  in_step_ = true;
}

void RunControl::add_info(const json& fields) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [k, v] : fields.items()) info_[k] = v;
}

void RunControl::set_run_check(std::function<void(const Config&)> check) {
  std::lock_guard<std::mutex> lock(mutex_);
  run_check_ = std::move(check);
}

bool RunControl::stop_requested() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (external_stop_ && external_stop_->load()) stop_ = true;
  return stop_;
}

void RunControl::request_stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stop_ = true;
  cv_.notify_all();
}

void RunControl::request_pause(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  pause_ = true;
  pause_reason_ = reason;
}

std::string RunControl::pause_reason() {
  std::lock_guard<std::mutex> lock(mutex_);
  return pause_reason_;
}

RunControl::Boundary RunControl::take_boundary() {
  Boundary b;
  if (!pending_.empty()) {
    b.config = config_;
    b.changed = pending_;
    pending_ = json::object();
  }
  b.checkpoint = checkpoint_;
  checkpoint_ = false;
  b.stop = stop_;
  return b;
}

json RunControl::handle(const std::string& cmd, const json& args) {
  std::unique_lock<std::mutex> lock(mutex_);
  const int64_t next_step = completed_ + (in_step_ ? 2 : 1);  // the first step a change can reach
  auto status = [&] {
    return json{{"state", state_}, {"step", completed_}, {"paused", pause_}, {"max_steps", config_.max_steps},
                {"pending", pending_}};
  };
  if (cmd == proto::kCmdHello) {
    json h = {{"version", proto::kVersion}, {"run", run_id_}, {"state", state_}, {"step", completed_},
              {"config", config_to_json(config_)}, {"live", live_schema(config_)},
              {"watchdogs", describe_watchdogs(config_.watchdogs)}};
    for (const auto& [k, v] : info_.items()) h[k] = v;
    return h;
  }
  if (cmd == proto::kCmdStatus) return status();
  if (cmd == proto::kCmdPause) {
    if (stop_) throw ipc::CommandError(proto::kErrWrongState, "the run is stopping");
    pause_ = true;
    json r = status();
    r["state"] = state_ == ipc::protocol::kStatePaused ? ipc::protocol::kStatePaused : "pausing";
    r["pauses_after_step"] = in_step_ ? completed_ + 1 : completed_;
    return r;
  }
  if (cmd == proto::kCmdResume) {
    if (!pause_) throw ipc::CommandError(proto::kErrWrongState, "the run is not paused");
    pause_ = false;
    cv_.notify_all();
    return status();
  }
  if (cmd == proto::kCmdStop) {
    stop_ = true;
    cv_.notify_all();
    json r = status();
    r["state"] = ipc::protocol::kStateStopping;
    return r;
  }
  if (cmd == proto::kCmdCheckpoint) {
    if (stop_) throw ipc::CommandError(proto::kErrWrongState, "the run is stopping (it checkpoints on its way out)");
    checkpoint_ = true;
    cv_.notify_all();
    return {{"after_step", in_step_ ? completed_ + 1 : completed_}};
  }
  if (cmd == proto::kCmdSet) {
    // args: {"key": value, ...}; all-or-nothing.
    if (args.empty()) throw ipc::CommandError(proto::kErrInvalidArgs, "set: give at least one key, e.g. {\"optim.lr\": 1e-4}");
    Config candidate = config_;
    json changed = json::object();
    try {
      for (const auto& [key, value] : args.items()) {
        const json before = value_of(candidate, key);
        set_config_value(candidate, key, value, /*live_only=*/true, "set");
        changed[key] = {{"from", before}, {"to", value_of(candidate, key)}};
      }
      validate_config(candidate);
      if (run_check_) run_check_(candidate);
    } catch (const ConfigError& e) {
      throw ipc::CommandError(proto::kErrInvalidArgs, e.what());
    }
    config_ = candidate;
    for (const auto& [key, change] : changed.items()) {
      if (pending_.contains(key)) {
        pending_[key]["to"] = change["to"];  // keep the original "from" of an unapplied change
      } else {
        pending_[key] = change;
      }
    }
    json effective = json::object();
    for (const auto& [key, change] : changed.items()) effective[key] = change["to"];
    return {{"effective", effective}, {"from_step", next_step}};
  }
  throw ipc::CommandError(proto::kErrUnknownCommand, "unknown command '" + cmd.substr(0, 64) +
                                                         "' (hello, status, pause, resume, stop, checkpoint, set, history)");
}

}  // namespace grpo

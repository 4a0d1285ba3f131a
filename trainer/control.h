// Live control of a training run: the state shared by the protocol's endpoint thread (which answers
// hello, status, pause, resume, stop, checkpoint and set) and the training loop (which applies what was
// asked at step boundaries). `set` is validated against the config schema on the endpoint's thread and
// refused as a whole if any key is bad; accepted changes take effect at the next step boundary.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "ipc/protocol.h"
#include "ipc/trainer_endpoint.h"
#include "trainer/config.h"

namespace grpo {

// The live keys with their type, range or choices and current value: hello's `live`, and the run store's
// meta `live_schema` (so a client can edit a finished run's settings, e.g. for a fork, without a hello).
nlohmann::json live_schema(const Config& config);

class RunControl : public ipc::CommandHandler {
 public:
  // `external_stop` (may be null) is polled while paused: a signal handler can only set a flag.
  RunControl(const Config& config, std::string run_id, nlohmann::json info, const std::atomic<bool>* external_stop);

  // --- protocol side (endpoint thread)
  nlohmann::json handle(const std::string& cmd, const nlohmann::json& args) override;
  std::pair<std::string, int64_t> heartbeat_state() override;

  // --- training side
  struct Boundary {
    std::optional<Config> config;  // the new config when a `set` was applied
    nlohmann::json changed;        // {key: {"from": old, "to": new}} of that set
    bool checkpoint = false;       // a checkpoint was asked for
    bool stop = false;             // stop was asked for: checkpoint, then exit
    bool paused = false;           // the loop waited in pause before this boundary
  };
  // Called before each step (`completed` steps done). Blocks while paused, waking for stop.
  // `on_state(state)` lets the trainer record entering and leaving the pause; `while_paused()` runs every
  // 200 ms of the pause (a data-parallel rank 0 tells the other ranks it is still there).
  template <typename OnState>
  Boundary step_boundary(int64_t completed, OnState&& on_state, const std::function<void()>& while_paused = {});
  void begin_step();                      // the step is under way (for from_step in `set` replies)
  void set_state(const std::string& state);
  void request_stop();                    // Ctrl-C / SIGTERM
  // The trainer pauses itself (a watchdog fired): the run waits at the next boundary, as after `pause`;
  // `reason` goes with the paused state until the run resumes.
  void request_pause(const std::string& reason);
  std::string pause_reason();
  bool stop_requested();                  // a stop was asked for (by a client or a signal)
  void add_info(const nlohmann::json& fields);  // extra fields for hello (e.g. the bound endpoints)
  // A check of a `set` candidate beyond the schema's, that needs the run (its prompts' lengths against the
  // model's context); it throws ConfigError to refuse. Called on the endpoint thread: it must only read
  // what does not change while the run trains.
  void set_run_check(std::function<void(const Config&)> check);
  std::string state();

 private:
  Boundary take_boundary();

  std::mutex mutex_;
  std::condition_variable cv_;
  Config config_;                 // the effective config, pending changes included
  nlohmann::json pending_;        // key -> {"from", "to"} waiting for the next boundary
  std::string run_id_;
  nlohmann::json info_;           // extra fields for hello (endpoints, pid, ...)
  std::function<void(const Config&)> run_check_;
  const std::atomic<bool>* external_stop_ = nullptr;
  std::string state_ = ipc::protocol::kStateStarting;
  int64_t completed_ = 0;
  bool in_step_ = false;
  bool pause_ = false, stop_ = false, checkpoint_ = false;
  std::string pause_reason_;  // why the trainer paused itself ("" for a client's pause)
};

template <typename OnState>
RunControl::Boundary RunControl::step_boundary(int64_t completed, OnState&& on_state,
                                              const std::function<void()>& while_paused) {
  std::unique_lock<std::mutex> lock(mutex_);
  completed_ = completed;
  in_step_ = false;
  bool waited = false;
  if (pause_ && !stop_) {
    state_ = ipc::protocol::kStatePaused;
    lock.unlock();
    on_state(ipc::protocol::kStatePaused);
    lock.lock();
    while (pause_ && !stop_) {
      cv_.wait_for(lock, std::chrono::milliseconds(200));
      if (external_stop_ && external_stop_->load()) stop_ = true;
      if (while_paused) {
        lock.unlock();
        while_paused();
        lock.lock();
      }
    }
    waited = true;
    pause_reason_.clear();
    if (!stop_) state_ = ipc::protocol::kStateRunning;
    lock.unlock();
    if (!stop_) on_state(ipc::protocol::kStateRunning);
    lock.lock();
  }
  Boundary b = take_boundary();
  b.paused = waited;
  return b;
}

}  // namespace grpo

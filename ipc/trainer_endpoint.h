// The trainer's side of the protocol: one thread owns a PUB socket (events) and a ROUTER socket
// (control), answers requests, publishes what the trainer hands it, and sends a heartbeat every second
// (also while training is paused). Publishing never blocks the caller: messages go through a bounded
// queue, and a slow or absent subscriber only makes ZeroMQ drop them (clients backfill with `history`).
// Loopback by default; any other address needs CURVE keys with a client allow-list, or `insecure`.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace grpo::ipc {

struct EndpointOptions {
  std::string host = "127.0.0.1";  // bind address; "*" or a non-loopback address needs CURVE or insecure
  int events_port = 0;             // 0: any free port (the endpoint reports the one it got)
  int control_port = 0;
  std::string curve_public_key;    // Z85 (40 characters); with curve_secret_key turns CURVE on
  std::string curve_secret_key;
  std::vector<std::string> allowed_clients;  // Z85 public keys of clients allowed in (CURVE only)
  bool insecure = false;           // allow a non-loopback bind without CURVE
  std::string run_id;              // the "run" field of every payload
  std::string store_path;          // run.sqlite, read for `history`
  size_t queue_limit = 4096;       // messages waiting to be published; beyond it new ones are dropped
};

// What the trainer answers. Called on the endpoint's thread; must be quick (take a lock, read or queue).
class CommandHandler {
 public:
  virtual ~CommandHandler() = default;
  // Returns the reply's result; throws CommandError for an error reply.
  virtual nlohmann::json handle(const std::string& cmd, const nlohmann::json& args) = 0;
  // {state, step} for heartbeats.
  virtual std::pair<std::string, int64_t> heartbeat_state() = 0;
};

class TrainerEndpoint {
 public:
  TrainerEndpoint(EndpointOptions options, CommandHandler& handler);  // binds, or throws std::runtime_error
  ~TrainerEndpoint();
  TrainerEndpoint(const TrainerEndpoint&) = delete;
  TrainerEndpoint& operator=(const TrainerEndpoint&) = delete;

  // Any thread; never blocks. `seq` is the payload's seq (heartbeats report the highest seen).
  void publish(const std::string& topic, const nlohmann::json& payload);

  const std::string& events_endpoint() const { return events_endpoint_; }
  const std::string& control_endpoint() const { return control_endpoint_; }
  int64_t dropped() const { return dropped_.load(); }
  int64_t requests_served() const { return served_.load(); }

 private:
  struct Impl;
  void loop();

  EndpointOptions opt_;
  CommandHandler& handler_;
  std::unique_ptr<Impl> impl_;
  std::string events_endpoint_, control_endpoint_;
  std::mutex mutex_;
  std::deque<std::pair<std::string, std::string>> queue_;  // (topic, serialized payload)
  int64_t last_seq_ = 0;                                   // the newest seq published (guarded by mutex_)
  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> served_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(const std::string& host);

// Generates a CURVE key pair as Z85 strings {public, secret}.
std::pair<std::string, std::string> make_curve_keypair();

}  // namespace grpo::ipc

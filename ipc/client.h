// The client side of the protocol, for the studio and for tests: subscribes to a trainer's events and
// sends control requests. Requests use the Lazy-Pirate pattern (time-out, reconnect, resend, give up).
// poll() hands back stored events in seq order without gaps: when a seq is skipped (a slow joiner, a
// dropped message) or a heartbeat shows newer records, it backfills with `history` first. One thread
// only (the studio runs it on a worker thread). No Qt, no LibTorch.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace grpo::ipc {

class ClientError : public std::runtime_error {
 public:
  ClientError(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }  // a protocol error code, or "timeout"

 private:
  std::string code_;
};

struct ClientOptions {
  int request_timeout_ms = 2500;  // per try
  int retries = 2;                // tries after the first, each on a fresh socket
  std::string server_public_key;  // Z85: turns CURVE on, with the client key pair below
  std::string client_public_key;
  std::string client_secret_key;
};

struct Event {
  std::string topic;
  nlohmann::json payload;
};

struct Endpoints {
  std::string events, control;
};

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Reads runs/<name>/endpoints.json.
  static Endpoints read_endpoints(const std::string& run_dir);
  void connect(const Endpoints& endpoints);

  // Sends {v, id, cmd, args} and waits for the matching reply's result. Throws ClientError with the
  // reply's error code, or "timeout" when every try timed out.
  nlohmann::json request(const std::string& cmd, const nlohmann::json& args = nlohmann::json::object());

  // Events received within timeout_ms (heartbeats included), stored topics in seq order with every gap
  // filled from history. Starting from last_seq() = 0 means "from the run's first record".
  std::vector<Event> poll(int timeout_ms);
  // Sets where delivery resumes (e.g. the current seq, to skip the backlog).
  void set_last_seq(int64_t seq) { last_seq_ = seq; }
  int64_t last_seq() const { return last_seq_; }
  int64_t backfilled() const { return backfilled_; }  // records obtained through history

  // No message at all (heartbeats included) for protocol::kSilentAfterMs.
  bool silent() const;
  double seconds_since_heard() const;
  const nlohmann::json& hello() const { return hello_; }

 private:
  void fill_to(int64_t seq, std::vector<Event>& out);
  void deliver(Event e, std::vector<Event>& out);
  void open_control();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  ClientOptions opt_;
  Endpoints endpoints_;
  int64_t last_seq_ = 0;
  int64_t next_id_ = 1;
  int64_t backfilled_ = 0;
  std::chrono::steady_clock::time_point heard_;
  nlohmann::json hello_;
};

}  // namespace grpo::ipc

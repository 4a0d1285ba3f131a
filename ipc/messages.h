// JSON payloads of the protocol (docs/protocol.md): building event payloads from run-store records,
// parsing and validating control requests, and building replies. Per-token arrays travel as base64 of
// little-endian int32/float32, so a step's samples stay compact. No sockets here.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ipc/run_store.h"

namespace grpo::ipc {

// A failed command: the reply's error.code and error.message.
class CommandError : public std::runtime_error {
 public:
  CommandError(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

struct Request {
  nlohmann::json id;  // echoed back (any JSON scalar the client chose)
  std::string cmd;
  nlohmann::json args;  // always an object
};

// Parses one request frame; throws CommandError (bad_request, too_large, version_mismatch, invalid_args)
// with `id` filled in when it could be read.
Request parse_request(const std::string& frame, nlohmann::json* id_out);
std::string reply_ok(const nlohmann::json& id, const nlohmann::json& result);
std::string reply_error(const nlohmann::json& id, const std::string& code, const std::string& message);

// Event payloads. Every one carries v, run, seq and time.
nlohmann::json metrics_payload(const std::string& run, int64_t seq, int64_t step, double time,
                               const std::map<std::string, double>& values);
nlohmann::json samples_payload(const std::string& run, int64_t seq, int64_t step, double time,
                               const std::vector<SampleRecord>& samples, SampleSplit split = SampleSplit::kTrain);
nlohmann::json event_payload(const std::string& run, const EventRecord& e);
// Heartbeats carry the newest stored seq (they are not stored themselves).
nlohmann::json heartbeat_payload(const std::string& run, int64_t last_seq, double time, const std::string& state,
                                 int64_t step);

// The topic an event record is published under: "status" and "log" kinds have their own topics.
std::string topic_of_event(const std::string& kind);

// Decoding for clients.
SampleRecord sample_from_json(const nlohmann::json& j);
std::string base64_encode(const void* data, size_t bytes);
std::vector<unsigned char> base64_decode(const std::string& text);

// Records of the store with seq > after_seq, as [{topic, payload}] in seq order, at most `limit`.
// `between_queries` (tests) runs after the first of the per-table queries, where a writer's commits race them.
nlohmann::json history_page(const RunStore& store, const std::string& run, int64_t after_seq, int64_t limit,
                            const std::function<void()>& between_queries = {});

}  // namespace grpo::ipc

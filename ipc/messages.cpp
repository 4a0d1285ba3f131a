// Protocol payloads (see messages.h).
#include "ipc/messages.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ipc/names.h"
#include "ipc/protocol.h"

namespace grpo::ipc {

using nlohmann::json;
namespace proto = protocol;

namespace {

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

template <typename T>
std::string pack(const std::vector<T>& v) {
  return base64_encode(v.data(), v.size() * sizeof(T));
}

template <typename T>
std::vector<T> unpack(const json& j, const char* key) {
  if (!j.contains(key)) return {};
  const auto bytes = base64_decode(j.at(key).get<std::string>());
  std::vector<T> out(bytes.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

json header(const std::string& run, int64_t seq, double time) {
  return {{"v", proto::kVersion}, {"run", run}, {"seq", seq}, {"time", time}};
}

}  // namespace

std::string base64_encode(const void* data, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out;
  out.reserve((bytes + 2) / 3 * 4);
  for (size_t i = 0; i < bytes; i += 3) {
    const uint32_t n = (uint32_t{p[i]} << 16) | (i + 1 < bytes ? uint32_t{p[i + 1]} << 8 : 0) |
                       (i + 2 < bytes ? uint32_t{p[i + 2]} : 0);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += i + 1 < bytes ? kB64[(n >> 6) & 63] : '=';
    out += i + 2 < bytes ? kB64[n & 63] : '=';
  }
  return out;
}

std::vector<unsigned char> base64_decode(const std::string& text) {
  std::vector<unsigned char> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const char* pos = std::strchr(kB64, c);
    if (c == '=' || c == '\0' || !pos) {
      if (c == '=') break;
      throw std::invalid_argument("invalid base64 character");
    }
    acc = (acc << 6) | static_cast<uint32_t>(pos - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

Request parse_request(const std::string& frame, json* id_out) {
  if (frame.size() > proto::kMaxRequestBytes)
    throw CommandError(proto::kErrTooLarge, "request of " + std::to_string(frame.size()) + " bytes exceeds the limit of " +
                                                std::to_string(proto::kMaxRequestBytes));
  json j = json::parse(frame, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw CommandError(proto::kErrBadRequest, "request is not valid JSON");
  if (!j.is_object()) throw CommandError(proto::kErrBadRequest, "request must be a JSON object");
  Request r;
  if (j.contains("id")) {
    if (!j["id"].is_primitive()) throw CommandError(proto::kErrBadRequest, "'id' must be a string or a number");
    r.id = j["id"];
    if (id_out) *id_out = r.id;
  }
  if (!j.contains("v") || !j["v"].is_number_integer())
    throw CommandError(proto::kErrBadRequest, "'v' (protocol version) is missing or not an integer");
  if (j["v"].get<int64_t>() != proto::kVersion)
    throw CommandError(proto::kErrVersion, "protocol version " + j["v"].dump() + " is not supported; this trainer speaks " +
                                               std::to_string(proto::kVersion));
  if (!j.contains("cmd") || !j["cmd"].is_string()) throw CommandError(proto::kErrBadRequest, "'cmd' is missing or not a string");
  r.cmd = j["cmd"].get<std::string>();
  r.args = j.value("args", json::object());
  if (!r.args.is_object()) throw CommandError(proto::kErrInvalidArgs, "'args' must be a JSON object");
  return r;
}

std::string reply_ok(const json& id, const json& result) {
  return json{{"v", proto::kVersion}, {"id", id}, {"ok", true}, {"result", result}}.dump();
}

std::string reply_error(const json& id, const std::string& code, const std::string& message) {
  return json{{"v", proto::kVersion}, {"id", id}, {"ok", false}, {"error", {{"code", code}, {"message", message}}}}.dump();
}

json metrics_payload(const std::string& run, int64_t seq, int64_t step, double time,
                     const std::map<std::string, double>& values) {
  json j = header(run, seq, time);
  j["step"] = step;
  json v = json::object();
  for (const auto& [k, x] : values) v[k] = number(x);
  j["values"] = std::move(v);
  return j;
}

json samples_payload(const std::string& run, int64_t seq, int64_t step, double time,
                     const std::vector<SampleRecord>& samples, SampleSplit split) {
  json j = header(run, seq, time);
  j["step"] = step;
  j["split"] = split == SampleSplit::kEval ? protocol::kSplitEval : protocol::kSplitTrain;
  json arr = json::array();
  for (const auto& s : samples)
    arr.push_back({{"group", s.group},       {"index", s.index},          {"prompt", s.prompt},
                   {"completion", s.completion}, {"answer", s.answer},   {"reward", number(s.reward)},
                   {"rewards", json::parse(rewards_to_text(s.rewards))}, {"advantage", number(s.advantage)}, {"length", s.length},
                   {"correct", s.correct},   {"verified", s.verified},   {"truncated", s.truncated},
                   {"tokens", pack(s.tokens)}, {"offsets", pack(s.offsets)}, {"logp_old", pack(s.logp_old)},
                   {"logp", pack(s.logp)},   {"entropy", pack(s.entropy)}, {"kl", pack(s.kl)},
                   {"columns", s.columns}});
  j["samples"] = std::move(arr);
  return j;
}

json event_payload(const std::string& run, const EventRecord& e) {
  json j = header(run, e.seq, e.time);
  j["step"] = e.step;
  j["kind"] = e.kind;
  j["data"] = e.data;
  // status and log messages also carry their fields at the top level (docs/protocol.md)
  if (e.kind == event::kStatus || e.kind == event::kLog)
    for (const auto& [k, v] : e.data.items())
      if (!j.contains(k)) j[k] = v;
  return j;
}

json heartbeat_payload(const std::string& run, int64_t last_seq, double time, const std::string& state, int64_t step) {
  json j = header(run, last_seq, time);
  j["state"] = state;
  j["step"] = step;
  return j;
}

std::string topic_of_event(const std::string& kind) {
  if (kind == event::kStatus) return proto::kTopicStatus;
  if (kind == event::kLog) return proto::kTopicLog;
  return proto::kTopicEvent;
}

SampleRecord sample_from_json(const json& j) {
  SampleRecord s;
  s.group = j.value("group", int64_t{0});
  s.index = j.value("index", int64_t{0});
  s.prompt = j.value("prompt", "");
  s.completion = j.value("completion", "");
  s.answer = j.value("answer", "");
  s.reward = j.value("reward", json(0.0)).is_number() ? j["reward"].get<double>() : std::nan("");
  s.rewards = rewards_from_json(j.value("rewards", json::object()));
  s.columns = j.value("columns", json());
  s.advantage = j.value("advantage", json(0.0)).is_number() ? j["advantage"].get<double>() : std::nan("");
  s.length = j.value("length", int64_t{0});
  s.correct = j.value("correct", false);
  s.verified = j.value("verified", false);
  s.truncated = j.value("truncated", false);
  s.tokens = unpack<int32_t>(j, "tokens");
  s.offsets = unpack<int32_t>(j, "offsets");
  s.logp_old = unpack<float>(j, "logp_old");
  s.logp = unpack<float>(j, "logp");
  s.entropy = unpack<float>(j, "entropy");
  s.kl = unpack<float>(j, "kl");
  return s;
}

json history_page(const RunStore& store, const std::string& run, int64_t after_seq, int64_t limit,
                  const std::function<void()>& between_queries) {
  // Records are numbered in three tables; collect the next `limit` seqs from each, merge, cut.
  struct Item {
    int64_t seq;
    std::string topic;
    json payload;
  };
  // The newest seq first. Each append commits its record and last_seq in one transaction, so every record up
  // to `last` is visible to the three queries below, although each reads its own snapshot; a record committed
  // between them (seq > last) is left for the next page. Without this cut a sample committed after the
  // metrics query could be sent while the metrics record before it was not, and `through_seq` would skip it.
  const int64_t last = store.last_seq();
  std::vector<Item> items;
  for (const auto& [seq, step, time] : store.metric_seqs(after_seq, limit))
    items.push_back({seq, protocol::kTopicMetrics, metrics_payload(run, seq, step, time, store.metrics_with_seq(seq))});
  if (between_queries) between_queries();
  for (const auto& [seq, step, time] : store.sample_seqs(after_seq, limit))
    items.push_back({seq, protocol::kTopicSamples, samples_payload(run, seq, step, time, store.samples_at(step))});
  for (const auto& [seq, step, time] : store.sample_seqs(after_seq, limit, SampleSplit::kEval))
    items.push_back({seq, protocol::kTopicSamples,
                     samples_payload(run, seq, step, time, store.samples_at(step, SampleSplit::kEval), SampleSplit::kEval)});
  for (const auto& e : store.events(after_seq, limit)) items.push_back({e.seq, topic_of_event(e.kind), event_payload(run, e)});
  items.erase(std::remove_if(items.begin(), items.end(), [&](const Item& it) { return it.seq > last; }), items.end());
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.seq < b.seq; });
  if (static_cast<int64_t>(items.size()) > limit) items.resize(static_cast<size_t>(limit));
  json messages = json::array();
  for (auto& it : items) messages.push_back({{"topic", it.topic}, {"payload", std::move(it.payload)}});
  const int64_t through = items.empty() ? last : items.back().seq;
  return {{"messages", std::move(messages)}, {"last_seq", last}, {"through_seq", through}, {"more", through < last}};
}

}  // namespace grpo::ipc

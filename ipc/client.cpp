// Protocol client (see client.h).
#include "ipc/client.h"

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <fstream>
#include <optional>
#include <thread>

#include "ipc/protocol.h"

namespace grpo::ipc {

using nlohmann::json;
namespace proto = protocol;
using Clock = std::chrono::steady_clock;

struct Client::Impl {
  zmq::context_t ctx{1};
  std::optional<zmq::socket_t> sub;
  std::optional<zmq::socket_t> dealer;
};

namespace {
void apply_curve_client(zmq::socket_t& s, const ClientOptions& o) {
  if (o.server_public_key.empty()) return;
  s.set(zmq::sockopt::curve_serverkey, o.server_public_key);
  s.set(zmq::sockopt::curve_publickey, o.client_public_key);
  s.set(zmq::sockopt::curve_secretkey, o.client_secret_key);
}

bool is_stored_topic(const std::string& t) { return t != proto::kTopicHeartbeat; }
}  // namespace

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>()), opt_(std::move(options)), heard_(Clock::now()) {}
Client::~Client() = default;

Endpoints Client::read_endpoints(const std::string& run_dir) {
  const std::string path = run_dir + "/endpoints.json";
  std::ifstream in(path);
  if (!in) throw ClientError("no_endpoints", "no " + path + ": is the trainer running (it writes this file at start)?");
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("events") || !j.contains("control"))
    throw ClientError("no_endpoints", path + " lacks 'events' or 'control'");
  return {j["events"].get<std::string>(), j["control"].get<std::string>()};
}

void Client::open_control() {
  impl_->dealer.emplace(impl_->ctx, zmq::socket_type::dealer);
  impl_->dealer->set(zmq::sockopt::linger, 0);
  apply_curve_client(*impl_->dealer, opt_);
  impl_->dealer->connect(endpoints_.control);
}

void Client::connect(const Endpoints& endpoints) {
  endpoints_ = endpoints;
  impl_->sub.emplace(impl_->ctx, zmq::socket_type::sub);
  impl_->sub->set(zmq::sockopt::linger, 0);
  impl_->sub->set(zmq::sockopt::rcvhwm, 100000);
  apply_curve_client(*impl_->sub, opt_);
  impl_->sub->set(zmq::sockopt::subscribe, "");
  impl_->sub->connect(endpoints.events);
  open_control();
  heard_ = Clock::now();
}

json Client::request(const std::string& cmd, const json& args) {
  if (!impl_->dealer) throw ClientError("not_connected", "connect() first");
  const int64_t id = next_id_++;
  const std::string body = json{{"v", proto::kVersion}, {"id", id}, {"cmd", cmd}, {"args", args}}.dump();
  for (int attempt = 0; attempt <= opt_.retries; ++attempt) {
    impl_->dealer->send(zmq::buffer(body), zmq::send_flags::dontwait);
    const auto deadline = Clock::now() + std::chrono::milliseconds(opt_.request_timeout_ms);
    while (Clock::now() < deadline) {
      zmq::pollitem_t item{impl_->dealer->handle(), 0, ZMQ_POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      zmq::poll(&item, 1, std::max(left, std::chrono::milliseconds(0)));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      zmq::message_t msg;
      if (!impl_->dealer->recv(msg, zmq::recv_flags::dontwait)) continue;
      json reply = json::parse(msg.to_string(), nullptr, false);
      if (reply.is_discarded() || reply.value("id", json()) != json(id)) continue;  // a late reply to an older try
      if (reply.value("ok", false)) {
        heard_ = Clock::now();
        if (cmd == proto::kCmdHello) hello_ = reply["result"];
        return reply["result"];
      }
      const json err = reply.value("error", json::object());
      throw ClientError(err.value("code", "unknown"), err.value("message", "request failed"));
    }
    open_control();  // Lazy Pirate: the old socket may hold a lost request; start clean and resend
  }
  throw ClientError("timeout", "no reply to '" + cmd + "' from " + endpoints_.control + " after " +
                                   std::to_string(opt_.retries + 1) + " tries of " +
                                   std::to_string(opt_.request_timeout_ms) + " ms");
}

void Client::deliver(Event e, std::vector<Event>& out) {
  const int64_t seq = e.payload.value("seq", int64_t{0});
  if (seq <= last_seq_) return;  // already delivered
  last_seq_ = seq;
  out.push_back(std::move(e));
}

// Fetches every record after last_seq_ up to `seq` (inclusive) through history.
void Client::fill_to(int64_t seq, std::vector<Event>& out) {
  int short_pages = 0;
  while (last_seq_ < seq) {
    const json page = request(proto::kCmdHistory, {{"after_seq", last_seq_}, {"limit", 1000}});
    for (const auto& m : page["messages"]) {
      ++backfilled_;
      deliver({m["topic"].get<std::string>(), m["payload"]}, out);
    }
    const int64_t through = page.value("through_seq", last_seq_);
    // Records the store no longer holds (superseded by a resume) leave holes: skip past them.
    if (through > last_seq_) last_seq_ = through;
    if (!page.value("more", false)) {
      // Short of `seq`: the records may not be visible to the store's reader yet (a write still
      // committing), so ask again a few times before taking the rest as holes.
      if (last_seq_ < seq && ++short_pages <= 10) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      last_seq_ = std::max(last_seq_, std::min(seq, page.value("last_seq", seq)));
      break;
    }
  }
}

std::vector<Event> Client::poll(int timeout_ms) {
  std::vector<Event> out;
  if (!impl_->sub) return out;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  bool first = true;
  while (first || Clock::now() < deadline) {
    first = false;
    zmq::pollitem_t item{impl_->sub->handle(), 0, ZMQ_POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    zmq::poll(&item, 1, std::max(left, std::chrono::milliseconds(0)));
    if (!(item.revents & ZMQ_POLLIN)) break;
    // Drain everything that is waiting.
    for (;;) {
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(*impl_->sub, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      if (frames.size() != 2) continue;
      json payload = json::parse(frames[1].to_string(), nullptr, false);
      if (payload.is_discarded() || !payload.is_object()) continue;
      heard_ = Clock::now();
      std::string topic = frames[0].to_string();
      const int64_t seq = payload.value("seq", int64_t{0});
      if (!is_stored_topic(topic)) {
        if (seq > last_seq_) fill_to(seq, out);  // the trainer stored records we never received
        out.push_back({std::move(topic), std::move(payload)});
        continue;
      }
      if (seq > last_seq_ + 1) fill_to(seq - 1, out);
      deliver({std::move(topic), std::move(payload)}, out);
    }
    if (!out.empty()) break;
  }
  return out;
}

bool Client::silent() const { return seconds_since_heard() * 1000.0 > proto::kSilentAfterMs; }

double Client::seconds_since_heard() const { return std::chrono::duration<double>(Clock::now() - heard_).count(); }

}  // namespace grpo::ipc

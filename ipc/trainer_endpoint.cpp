// Trainer endpoint (see trainer_endpoint.h).
#include "ipc/trainer_endpoint.h"

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <optional>

#include "ipc/messages.h"
#include "ipc/protocol.h"
#include "ipc/run_store.h"

namespace grpo::ipc {

using nlohmann::json;
namespace proto = protocol;
using Clock = std::chrono::steady_clock;

namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void apply_curve_server(zmq::socket_t& s, const EndpointOptions& o) {
  s.set(zmq::sockopt::curve_server, 1);
  s.set(zmq::sockopt::curve_secretkey, o.curve_secret_key);
  s.set(zmq::sockopt::zap_domain, std::string("grpo"));
}

std::string bind_any(zmq::socket_t& s, const std::string& host, int port) {
  s.bind("tcp://" + host + ":" + (port > 0 ? std::to_string(port) : std::string("*")));
  return s.get(zmq::sockopt::last_endpoint);
}

}  // namespace

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

std::pair<std::string, std::string> make_curve_keypair() {
  char pub[41] = {0}, sec[41] = {0};
  if (zmq_curve_keypair(pub, sec) != 0) throw std::runtime_error("this libzmq has no CURVE support");
  return {pub, sec};
}

struct TrainerEndpoint::Impl {
  zmq::context_t ctx{1};
  zmq::socket_t pub{ctx, zmq::socket_type::pub};
  zmq::socket_t router{ctx, zmq::socket_type::router};
  std::optional<zmq::socket_t> zap;  // ZeroMQ's authentication handler, for the CURVE allow-list
  std::optional<RunStore> store;     // read-only, opened on first use by the endpoint's thread
};

TrainerEndpoint::TrainerEndpoint(EndpointOptions options, CommandHandler& handler)
    : opt_(std::move(options)), handler_(handler), impl_(std::make_unique<Impl>()) {
  const bool curve = !opt_.curve_secret_key.empty();
  if (!is_loopback(opt_.host) && !curve && !opt_.insecure)
    throw std::runtime_error("binding '" + opt_.host + "' (not loopback) needs CURVE keys (--curve-keys) or --insecure");
  if (curve && opt_.allowed_clients.empty())
    throw std::runtime_error("CURVE is on but no client key is allowed: pass at least one client public key");
  auto& s = *impl_;
  for (zmq::socket_t* sock : {&s.pub, &s.router}) sock->set(zmq::sockopt::linger, 0);
  s.pub.set(zmq::sockopt::sndhwm, 10000);
  s.router.set(zmq::sockopt::maxmsgsize, int64_t{8} << 20);  // larger frames drop the connection outright
  s.router.set(zmq::sockopt::router_mandatory, 0);
  if (curve) {
    s.zap.emplace(s.ctx, zmq::socket_type::rep);
    s.zap->bind("inproc://zeromq.zap.01");  // must exist before the curve sockets bind
    apply_curve_server(s.pub, opt_);
    apply_curve_server(s.router, opt_);
  }
  events_endpoint_ = bind_any(s.pub, opt_.host, opt_.events_port);
  control_endpoint_ = bind_any(s.router, opt_.host, opt_.control_port);
  thread_ = std::thread([this] { loop(); });
}

TrainerEndpoint::~TrainerEndpoint() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void TrainerEndpoint::publish(const std::string& topic, const json& payload) {
  const int64_t seq = payload.value("seq", int64_t{0});
  std::string text = payload.dump();
  std::lock_guard<std::mutex> lock(mutex_);
  // Under the queue's lock: a heartbeat never names a seq whose message is not yet queued ahead of it (a
  // client that sees a newer seq backfills it through history). A dropped message still counts.
  if (seq > last_seq_) last_seq_ = seq;
  if (queue_.size() >= opt_.queue_limit) {
    ++dropped_;
    return;
  }
  queue_.emplace_back(topic, std::move(text));
}

void TrainerEndpoint::loop() {
  auto& s = *impl_;
  auto next_heartbeat = Clock::now();
  std::deque<std::pair<std::string, std::string>> batch;
  while (!stop_) {
    // 1. Publish what the trainer queued, and the heartbeat when due.
    int64_t queued_through = 0;  // the newest seq in `batch` or sent before it
    {
      std::lock_guard<std::mutex> lock(mutex_);
      batch.swap(queue_);
      queued_through = last_seq_;
    }
    const auto now = Clock::now();
    if (now >= next_heartbeat) {
      const auto [state, step] = handler_.heartbeat_state();
      batch.emplace_back(proto::kTopicHeartbeat,
                         heartbeat_payload(opt_.run_id, queued_through, unix_now(), state, step).dump());
      next_heartbeat = now + std::chrono::milliseconds(proto::kHeartbeatMs);
    }
    for (auto& [topic, text] : batch) {
      // PUB never blocks: past the high-water mark ZeroMQ drops the message for that subscriber.
      s.pub.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      s.pub.send(zmq::buffer(text), zmq::send_flags::dontwait);
    }
    batch.clear();

    // 2. Serve authentication and control requests, waiting at most until the next heartbeat.
    std::vector<zmq::pollitem_t> items = {{s.router.handle(), 0, ZMQ_POLLIN, 0}};
    if (s.zap) items.push_back({s.zap->handle(), 0, ZMQ_POLLIN, 0});
    zmq::poll(items, std::chrono::milliseconds(20));

    if (s.zap && (items[1].revents & ZMQ_POLLIN)) {
      // ZAP request: version, request id, domain, address, identity, mechanism, credentials...
      std::vector<zmq::message_t> req;
      (void)zmq::recv_multipart(*s.zap, std::back_inserter(req));
      bool allowed = false;
      if (req.size() >= 7 && req[5].to_string() == "CURVE" && req[6].size() == 32) {
        char z85[41] = {0};
        zmq_z85_encode(z85, static_cast<const uint8_t*>(req[6].data()), 32);
        for (const auto& k : opt_.allowed_clients) allowed |= k == z85;
      }
      std::array<zmq::const_buffer, 6> reply = {zmq::str_buffer("1.0"),
                                                zmq::buffer(req.size() > 1 ? req[1].to_string_view() : std::string_view()),
                                                allowed ? zmq::str_buffer("200") : zmq::str_buffer("400"),
                                                allowed ? zmq::str_buffer("OK") : zmq::str_buffer("client key not allowed"),
                                                zmq::str_buffer(""), zmq::str_buffer("")};
      (void)zmq::send_multipart(*s.zap, reply);
    }

    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    for (int burst = 0; burst < 256; ++burst) {  // drain, but let heartbeats through under a flood
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(s.router, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      if (frames.empty()) continue;
      // [identity, payload] from DEALER; [identity, "", payload] from REQ.
      const bool req_style = frames.size() == 3 && frames[1].size() == 0;
      json id = nullptr;
      std::string reply;
      if (frames.size() != 2 && !req_style) {
        reply = reply_error(id, proto::kErrBadRequest,
                            "expected one frame per request, got " + std::to_string(frames.size() - 1));
      } else {
        const std::string body = frames.back().to_string();
        try {
          const Request r = parse_request(body, &id);
          json result;
          if (r.cmd == proto::kCmdHistory) {
            const auto after = r.args.value("after_seq", json(0));
            const auto limit = r.args.value("limit", json(1000));
            if (!after.is_number_integer() || after.get<int64_t>() < 0)
              throw CommandError(proto::kErrInvalidArgs, "history: 'after_seq' must be an integer >= 0");
            if (!limit.is_number_integer() || limit.get<int64_t>() < 1 || limit.get<int64_t>() > proto::kHistoryMaxLimit)
              throw CommandError(proto::kErrInvalidArgs,
                                 "history: 'limit' must be an integer in [1, " + std::to_string(proto::kHistoryMaxLimit) + "]");
            if (!s.store) s.store.emplace(RunStore::open_for_reading(opt_.store_path));
            result = history_page(*s.store, opt_.run_id, after.get<int64_t>(), limit.get<int64_t>());
          } else {
            result = handler_.handle(r.cmd, r.args);
          }
          reply = reply_ok(id, result);
        } catch (const CommandError& e) {
          reply = reply_error(id, e.code(), e.what());
        } catch (const std::exception& e) {
          reply = reply_error(id, proto::kErrInternal, e.what());
        }
      }
      ++served_;
      std::vector<zmq::const_buffer> out = {zmq::buffer(frames[0].data(), frames[0].size())};
      if (req_style) out.push_back(zmq::str_buffer(""));
      out.push_back(zmq::buffer(reply));
      (void)zmq::send_multipart(s.router, out, zmq::send_flags::dontwait);
    }
  }
}

}  // namespace grpo::ipc

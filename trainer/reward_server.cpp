// Lazy Pirate client of a reward server (see reward_server.h).
#include "trainer/reward_server.h"

#include <zmq.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <set>

namespace grpo {

using nlohmann::json;

struct RewardServerClient::Socket {
  zmq::context_t context{1};
  std::unique_ptr<zmq::socket_t> req;
};

RewardServerClient::RewardServerClient(std::string address, double timeout_seconds)
    : address_(std::move(address)), timeout_(timeout_seconds), socket_(std::make_unique<Socket>()) {}

RewardServerClient::~RewardServerClient() = default;

json RewardServerClient::request(const std::vector<ScoreInput>& batch, int64_t id) {
  json prompts = json::array(), completions = json::array();
  std::set<std::string> names;  // TRL passes every column but the prompt; rows may differ, so take the union
  for (const auto& in : batch) {
    prompts.push_back(in.prompt);
    completions.push_back(in.completion);
    if (in.columns.is_object())
      for (auto it = in.columns.begin(); it != in.columns.end(); ++it)
        if (it.key() != "prompt") names.insert(it.key());
  }
  names.insert("answer");
  json columns = json::object();
  for (const auto& name : names) {
    json values = json::array();
    for (const auto& in : batch) {
      if (in.columns.is_object() && in.columns.contains(name))
        values.push_back(in.columns.at(name));
      else if (name == "answer")
        values.push_back(in.reference);  // the reference the rewards compare with, wherever the row keeps it
      else
        values.push_back(nullptr);
    }
    columns[name] = std::move(values);
  }
  return {{"protocol", kRewardProtocol}, {"id", id}, {"prompts", prompts}, {"completions", completions},
          {"columns", columns}};
}

std::vector<double> RewardServerClient::parse_reply(const std::string& reply, size_t rows, int64_t id,
                                                    const std::string& address) {
  auto fail = [&](const std::string& why) { throw RewardServerError("reward server " + address + ": " + why); };
  const json j = json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) fail("the reply is not a JSON object: " + reply.substr(0, 200));
  if (j.contains("error"))
    fail("the reward function failed: " + (j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump()));
  if (!j.contains("id") || j["id"] != id) fail("the reply answers request " + j.value("id", json()).dump() + ", not " + std::to_string(id));
  if (!j.contains("rewards") || !j["rewards"].is_array()) fail("the reply has no 'rewards' list: " + reply.substr(0, 200));
  const json& r = j["rewards"];
  if (r.size() != rows)
    fail("the reply has " + std::to_string(r.size()) + " rewards for " + std::to_string(rows) +
         " completions (one number or null per completion)");
  std::vector<double> out;
  out.reserve(rows);
  for (size_t i = 0; i < rows; ++i) {
    if (r[i].is_null()) {
      out.push_back(std::nan(""));
    } else if (r[i].is_number() && std::isfinite(r[i].get<double>())) {
      out.push_back(r[i].get<double>());
    } else {
      fail("reward " + std::to_string(i) + " is " + r[i].dump() + ", not a finite number or null");
    }
  }
  return out;
}

std::vector<double> RewardServerClient::score(const std::vector<ScoreInput>& batch, const RewardSet::WaitHandler& on_wait) {
  const int64_t id = next_id_++;
  const std::string body = request(batch, id).dump(-1, ' ', false, json::error_handler_t::replace);
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_ * 1000.0));
  const std::string reason = "reward server " + address_ + " not answering";
  bool waiting = false;
  // A stop (a signal interrupts the poll; a protocol stop does not) is looked for every slice of a try.
  auto keep_going = [&] { return !on_wait || on_wait(waiting, waiting ? reason : std::string()); };
  for (;;) {
    if (!socket_->req) {  // a fresh REQ socket per try: a REQ that got no reply cannot send again
      socket_->req = std::make_unique<zmq::socket_t>(socket_->context, zmq::socket_type::req);
      socket_->req->set(zmq::sockopt::linger, 0);
      try {
        socket_->req->connect(address_);
      } catch (const zmq::error_t& e) {
        socket_->req.reset();
        throw RewardServerError("reward server " + address_ + ": cannot connect (" + e.what() + ")");
      }
    }
    for (;;) {  // a REQ socket queues the message; send only fails when a signal interrupts it
      try {
        socket_->req->send(zmq::buffer(body), zmq::send_flags::none);
        break;
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw RewardServerError("reward server " + address_ + ": cannot send (" + e.what() + ")");
        if (!keep_going()) throw RewardWaitAborted(reason + "; the step was abandoned");
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool answered = false;
    while (!answered) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      zmq::pollitem_t item{static_cast<void*>(*socket_->req), 0, ZMQ_POLLIN, 0};
      try {
        zmq::poll(&item, 1, std::min(left, std::chrono::milliseconds(200)));
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw RewardServerError("reward server " + address_ + ": " + e.what());
      }
      answered = (item.revents & ZMQ_POLLIN) != 0;
      if (!answered && !keep_going()) {
        socket_->req.reset();  // the request is dropped with its socket
        throw RewardWaitAborted(reason + "; the step was abandoned");
      }
    }
    if (answered) {
      zmq::message_t reply;
      (void)socket_->req->recv(reply, zmq::recv_flags::none);
      if (waiting && on_wait) on_wait(false, "");
      return parse_reply(reply.to_string(), batch.size(), id, address_);
    }
    socket_->req.reset();  // Lazy Pirate: drop the socket, its queued request with it, and try again
    if (!on_wait)
      throw RewardServerError(reason + " (no reply within rewards.server_timeout = " + json(timeout_).dump() + " s)");
    waiting = true;
    if (!on_wait(true, reason)) throw RewardWaitAborted(reason + "; the step was abandoned");
  }
}

void RewardServerClient::check_address(const std::string& address) {
  const auto fail = [&](const std::string& why) {
    throw ConfigError("config: 'rewards.server_address' = '" + address + "' " + why);
  };
  const size_t scheme = address.find("://");
  if (scheme == std::string::npos) fail("is not a ZeroMQ endpoint (tcp://host:port, ipc://path)");
  if (address.compare(0, scheme, "tcp") == 0) {
    const size_t colon = address.rfind(':');
    const std::string port = colon > scheme ? address.substr(colon + 1) : "";
    const bool digits = !port.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), ::isdigit);
    if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) fail("needs a port from 1 to 65535 (tcp://host:port)");
  }
  zmq::context_t context(1);
  zmq::socket_t s(context, zmq::socket_type::req);
  s.set(zmq::sockopt::linger, 0);
  try {
    s.connect(address);  // checks the transport and the address's form; the server need not be up
  } catch (const zmq::error_t& e) {
    fail(std::string("cannot be connected to (") + e.what() + "; tcp://127.0.0.1:5555, tcp://host.example:5555 or ipc:///tmp/reward.sock)");
  }
}

}  // namespace grpo

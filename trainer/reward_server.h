// The client side of a reward server (docs/reward-server.md): a reward function in any language, behind a
// ZeroMQ REP socket, scores a batch per request. Request {protocol, id, prompts, completions, columns};
// reply {id, rewards: [number | null, ...]} or {id, error}. The client is zguide's Lazy Pirate: a REQ
// socket that, when no reply comes within the timeout, is closed and reopened and the request sent again,
// for as long as the trainer is willing to wait. No LibTorch here.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "trainer/rewards.h"

namespace grpo {

inline constexpr const char* kRewardProtocol = "grpo-reward/1";

// A reply the trainer cannot use (not JSON, an error from the function, wrong length, a non-number): the
// message names the server. The run stops with it rather than scoring anything as 0.
class RewardServerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RewardServerClient {
 public:
  RewardServerClient(std::string address, double timeout_seconds);
  ~RewardServerClient();

  // One value per input, NaN where the server said null. Blocks until the server answers: after each
  // timeout, on_wait(true, "reward server <addr> not answering") is called and the request is sent again on
  // a fresh socket; on_wait(false, "") once it answers after waiting. on_wait is also asked every 200 ms
  // of a try (and when a signal interrupts it) whether to go on, with the current waiting state; when it
  // returns false the wait ends with RewardWaitAborted. Without on_wait, the first timeout is a
  // RewardServerError.
  std::vector<double> score(const std::vector<ScoreInput>& batch, const RewardSet::WaitHandler& on_wait);
  // The request body for a batch: TRL's reward-function arguments (every column but the prompt, as lists).
  static nlohmann::json request(const std::vector<ScoreInput>& batch, int64_t id);
  // Checks a reply against a request of `rows` rows with this id; throws RewardServerError naming `address`.
  static std::vector<double> parse_reply(const std::string& reply, size_t rows, int64_t id, const std::string& address);
  const std::string& address() const { return address_; }
  // Throws ConfigError naming rewards.server_address when ZeroMQ cannot connect to `address` (a bad transport,
  // host or port); the server itself need not be running.
  static void check_address(const std::string& address);

 private:
  struct Socket;
  std::string address_;
  double timeout_;
  int64_t next_id_ = 1;
  std::unique_ptr<Socket> socket_;
};

}  // namespace grpo

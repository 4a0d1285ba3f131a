// Publishing overhead per training step: building the step's metrics and samples payloads (the demo's
// 8 prompts x 8 completions x ~104 tokens, with per-token arrays) and handing them to the endpoint, with
// no subscriber and with a subscriber that never reads. Compare with the step time (--step-ms).
#include <zmq.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ipc/messages.h"
#include "ipc/protocol.h"
#include "ipc/trainer_endpoint.h"

namespace {
struct Idle : grpo::ipc::CommandHandler {
  nlohmann::json handle(const std::string&, const nlohmann::json&) override { return {}; }
  std::pair<std::string, int64_t> heartbeat_state() override { return {"running", 0}; }
};

double per_step_us(grpo::ipc::TrainerEndpoint& ep, int steps) {
  std::map<std::string, double> metrics;
  for (int i = 0; i < 50; ++i) metrics["metric/" + std::to_string(i)] = i * 0.1;
  std::vector<grpo::ipc::SampleRecord> samples(64);
  for (auto& s : samples) {
    s.prompt = "Q:12345+23456=";
    s.completion = std::string(104, 'x');
    s.rewards = {{"accuracy", 1.0}, {"format", 1.0}};
    s.tokens.assign(105, 7);
    s.offsets.assign(105, 3);
    s.logp_old.assign(105, -0.1f);
    s.logp.assign(105, -0.1f);
    s.entropy.assign(105, 0.5f);
    s.kl.assign(105, 0.01f);
  }
  const auto t0 = std::chrono::steady_clock::now();
  int64_t seq = 0;
  for (int step = 1; step <= steps; ++step) {
    ep.publish(grpo::ipc::protocol::kTopicMetrics, grpo::ipc::metrics_payload("bench", ++seq, step, 0.0, metrics));
    ep.publish(grpo::ipc::protocol::kTopicSamples, grpo::ipc::samples_payload("bench", ++seq, step, 0.0, samples));
  }
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / steps;
}
}  // namespace

int main(int argc, char** argv) {
  double step_ms = 1150;  // the demo's measured time per step (docs/performance.md)
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], "--step-ms")) step_ms = std::atof(argv[i + 1]);
  Idle idle;
  grpo::ipc::EndpointOptions eo;
  eo.run_id = "bench";
  eo.store_path = "/nonexistent";
  grpo::ipc::TrainerEndpoint ep(eo, idle);
  per_step_us(ep, 20);  // warm up
  const double alone = per_step_us(ep, 200);

  zmq::context_t ctx;
  zmq::socket_t stalled(ctx, zmq::socket_type::sub);
  stalled.set(zmq::sockopt::rcvhwm, 1);
  stalled.set(zmq::sockopt::subscribe, "");
  stalled.connect(ep.events_endpoint());
  const double with_stalled = per_step_us(ep, 200);
  std::printf("publish per step (metrics + 64 samples): %.0f us with no subscriber, %.0f us with a stalled one\n", alone,
              with_stalled);
  std::printf("overhead vs a %.0f ms step: %.3f%% / %.3f%% (dropped by the bounded queue: %lld)\n", step_ms,
              alone / (step_ms * 10.0), with_stalled / (step_ms * 10.0), static_cast<long long>(ep.dropped()));
  return 0;
}

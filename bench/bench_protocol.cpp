// The protocol's figures on loopback: (1) publishing overhead per training step: building the step's
// metrics and samples payloads (the demo's 8 prompts x 8 completions x ~104 tokens, with per-token arrays)
// and handing them to the endpoint, with no subscriber and with one that never reads, against the step
// time (--step-ms); (2) control round trip (`status` through ipc::Client) p50 / p99; (3) metric messages
// per second a subscriber takes (receive + JSON parse), publishing as fast as the endpoint accepts.
#include <zmq.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "ipc/client.h"
#include "ipc/messages.h"
#include "ipc/protocol.h"
#include "ipc/trainer_endpoint.h"

namespace {
struct Idle : grpo::ipc::CommandHandler {
  nlohmann::json handle(const std::string&, const nlohmann::json&) override { return {{"state", "running"}, {"step", 0}}; }
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
  stalled.close();

  // (2) Control round trip.
  grpo::ipc::Client client;
  client.connect({ep.events_endpoint(), ep.control_endpoint()});
  std::vector<double> rtt;
  for (int i = 0; i < 2200; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    client.request("status");
    if (i >= 200) rtt.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(rtt.begin(), rtt.end());
  std::printf("control round trip (status, %zu requests): p50 %.0f us, p99 %.0f us\n", rtt.size(), rtt[rtt.size() / 2],
              rtt[rtt.size() * 99 / 100]);

  // (3) A subscriber taking metric messages: receive and parse each, while they are published flat out.
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::subscribe, grpo::ipc::protocol::kTopicMetrics);
  sub.set(zmq::sockopt::rcvhwm, 0);
  sub.connect(ep.events_endpoint());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the subscription reach the publisher
  std::map<std::string, double> metrics;
  for (int i = 0; i < 40; ++i) metrics["metric/" + std::to_string(i)] = i * 0.1;
  const int total = 200000;
  const int64_t dropped_before = ep.dropped();
  std::atomic<bool> done{false};
  std::thread publisher([&] {
    for (int i = 1; i <= total; ++i) {
      ep.publish(grpo::ipc::protocol::kTopicMetrics, grpo::ipc::metrics_payload("bench", 1000000 + i, i, 0.0, metrics));
      if (i % 256 == 0) std::this_thread::yield();
    }
    done = true;
  });
  int received = 0;
  double checksum = 0;
  std::chrono::steady_clock::time_point first, last;
  sub.set(zmq::sockopt::rcvtimeo, 1000);
  for (;;) {
    zmq::message_t topic, body;
    if (!sub.recv(topic)) break;  // a second with nothing: the publisher is done
    (void)sub.recv(body);
    const auto j = nlohmann::json::parse(body.to_string_view());
    checksum += j.at("step").get<double>();
    last = std::chrono::steady_clock::now();
    if (received++ == 0) first = last;
  }
  publisher.join();
  const double secs = std::chrono::duration<double>(last - first).count();
  std::printf("subscriber: %d of %d metric messages (%zu metrics each) received and parsed in %.2f s: %.0f messages/s "
              "(%lld dropped by the publisher's bounded queue%s)\n",
              received, total, metrics.size(), secs, secs > 0 ? received / secs : 0.0,
              static_cast<long long>(ep.dropped() - dropped_before), checksum > 0 ? "" : "");
  return 0;
}

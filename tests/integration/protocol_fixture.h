// A real, tiny training run in a background thread with the protocol served on loopback, for the
// protocol's integration tests. Steps take tens of milliseconds; the run waits to be stopped.
#pragma once

#include <QDeadlineTimer>
#include <QTemporaryDir>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "ipc/client.h"
#include "trainer/trainer.h"

struct LiveRun {
  QTemporaryDir dir;
  std::unique_ptr<grpo::Trainer> trainer;
  std::thread thread;
  std::atomic<bool> done{false};
  std::string error;

  static grpo::Config tiny_config(int64_t max_steps = 100000) {
    grpo::Config c;
    c.model.init = "";
    c.model.spec.d_model = 32;
    c.model.spec.n_layers = 1;
    c.model.spec.n_heads = 2;
    c.model.spec.n_kv_heads = 2;
    c.model.spec.mlp_hidden = 32;
    c.model.spec.context = 48;
    c.sampling.max_new_tokens = 24;
    c.grpo.prompts_per_step = 2;
    c.grpo.group_size = 2;
    c.grpo.minibatches = 1;
    c.sample_prompts = 1;
    c.eval_every = 0;
    c.checkpoint_every = 0;
    c.threads = 1;
    c.max_steps = max_steps;
    c.optim.lr = 1e-4;
    return c;
  }

  explicit LiveRun(grpo::Config config = tiny_config(), grpo::ipc::EndpointOptions endpoint = {}) {
    grpo::RunOptions o;
    o.runs_dir = dir.path().toStdString();
    o.name = "live";
    o.progress = false;
    o.endpoint = std::move(endpoint);
    trainer = std::make_unique<grpo::Trainer>(config, o);
    thread = std::thread([this] {
      try {
        trainer->train();
      } catch (const std::exception& e) {
        error = e.what();
      }
      done = true;
    });
  }

  ~LiveRun() {
    trainer->request_stop();
    if (thread.joinable()) thread.join();
  }

  std::string run_dir() const { return dir.path().toStdString() + "/live"; }
  grpo::ipc::Endpoints endpoints() const {
    auto [events, control] = trainer->endpoints();
    return {events, control};
  }
};

// Polls the `status` command until `pred(status)` holds or the deadline passes; returns the last status.
template <typename Pred>
nlohmann::json wait_status(grpo::ipc::Client& c, Pred pred, int timeout_ms = 20000) {
  QDeadlineTimer deadline(timeout_ms);
  nlohmann::json st;
  while (!deadline.hasExpired()) {
    st = c.request("status");
    if (pred(st)) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return st;
}

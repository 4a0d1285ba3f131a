// The GRPO training loop: one Trainer per run directory. Each step samples prompts, rolls out G
// completions per prompt, scores them with the rule-based rewards, and updates the policy with the GRPO
// loss; it records every metric and a subset of samples in the run store, prints a progress line, and
// writes checkpoints. No LibTorch in this header (the state lives behind a pimpl).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "ipc/trainer_endpoint.h"
#include "trainer/config.h"
#include "trainer/distributed.h"

namespace grpo {

struct RunOptions {
  std::string runs_dir = "runs";  // parent of run folders
  std::string name;               // run folder name; "" = "<config.name>-<YYYYmmdd-HHMMSS>"
  bool resume = false;            // continue runs/<name> from its newest checkpoint
  std::string fork;               // a run folder to fork: start a new run from its checkpoint at fork_step
  int64_t fork_step = -1;         // the parent's step (its newest checkpoint at or before it); -1 = its newest
  bool progress = true;           // print a progress line per step
  bool serve = true;              // bind the protocol's sockets (docs/protocol.md) and write endpoints.json
  ipc::EndpointOptions endpoint;  // where and how to bind them (loopback, any free port, by default)
  DistEnv dist;                   // this process's rank in a data-parallel run (a world of one by default)
};

class Trainer {
 public:
  // Creates runs/<name>/ (or, with resume, reopens it); throws ConfigError / CheckpointError on bad input.
  Trainer(Config config, RunOptions options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains until max_steps or until stop is requested; writes a final checkpoint either way. In a
  // data-parallel run every rank calls it; rank 0 alone writes the run folder and serves the protocol.
  void train();
  // One GRPO step; returns its metrics (name -> value).
  std::map<std::string, double> step();
  // Async-signal-safe: sets a flag the loop checks between steps and while paused.
  void request_stop() { stop_requested_ = true; }

  int64_t current_step() const;
  const Config& config() const;
  const std::string& run_dir() const;
  std::string save_checkpoint();  // returns the file written

  // The protocol endpoints, when serving ({events, control}); empty otherwise.
  std::pair<std::string, std::string> endpoints() const;

  struct Impl;
  Impl& impl() { return *impl_; }  // for tests: the model and store

 private:
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stop_requested_{false};
};

// The saved config of runs/<name>/ (what --resume starts from, before --set overrides).
Config load_run_config(const std::string& runs_dir, const std::string& name);

// Where a fork of `parent_dir` at `step` starts: the newest checkpoint at or before it (step -1: the
// newest), and the config in effect there (live changes included), before --set overrides. Throws
// ConfigError naming the folder and the steps that have checkpoints.
struct ForkPoint {
  std::string checkpoint;
  int64_t step = 0;
  Config config;
};
ForkPoint find_fork_point(const std::string& parent_dir, int64_t step);

}  // namespace grpo

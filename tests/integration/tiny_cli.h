// Command lines and waits for end-to-end tests that run the grpo-train binary on a tiny random-init model
// (a step takes tens of milliseconds): `run` with that model, `run --fork`, and polling a run's store.
// Header-only; Qt Core and the run store.
#pragma once

#include <QDeadlineTimer>
#include <QFileInfo>
#include <QStringList>

#include <chrono>
#include <thread>

#include "ipc/run_store.h"

namespace grpo::testing {

// `grpo-train run` on the tiny model of protocol_fixture.h, with a reward that varies at random init (the
// length reward), so every step has advantages and the weights move.
inline QStringList tiny_args(const QString& runs, const QString& name) {
  QStringList a = {"run", "--runs-dir", runs, "--name", name, "--quiet", "--no-serve"};
  for (const char* kv : {"model.init=", "model.d_model=32", "model.n_layers=1", "model.n_heads=2", "model.n_kv_heads=2",
                         "model.mlp_hidden=32", "model.context=48", "sampling.max_new_tokens=24", "grpo.prompts_per_step=4",
                         "grpo.group_size=4", "grpo.minibatches=2", "sample_prompts=1", "eval_every=0", "optim.lr=1e-3",
                         "keep_checkpoints=100", "rewards.length=1", "rewards.length_target=12"})
    a << "--set" << kv;
  return a;
}

inline QStringList fork_args(const QString& runs, const QString& name, const QString& parent, int from_step) {
  QStringList a = {"run", "--runs-dir", runs, "--name", name, "--quiet", "--no-serve", "--fork", parent};
  if (from_step >= 0) a << "--from-step" << QString::number(from_step);
  return a;
}

// The newest step with metrics in <run_dir>/run.sqlite (0 before the first, or before the store exists).
inline int64_t stored_step(const QString& run_dir) {
  const QString db = run_dir + "/run.sqlite";
  if (!QFileInfo::exists(db)) return 0;
  try {
    return ipc::RunStore::open_for_reading(db.toStdString()).last_step();
  } catch (const std::exception&) {
    return 0;  // created but not initialised yet
  }
}

// Waits until the run has stored `step`; false on timeout.
inline bool wait_for_step(const QString& run_dir, int64_t step, int timeout_ms = 120000) {
  QDeadlineTimer deadline(timeout_ms);
  while (stored_step(run_dir) < step) {
    if (deadline.hasExpired()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace grpo::testing

// A tiny seeded random-init GRPO run for the trainer's tests (a step takes a fraction of a second), and
// the options that put its folder under a test's temporary directory. Tests change what they exercise.
#pragma once

#include <QString>

#include <string>

#include "trainer/trainer.h"

namespace grpo::test {

inline Config tiny_run_config() {
  Config c;
  c.model.init = "";  // random init, seeded
  c.model.spec.d_model = 32;
  c.model.spec.n_layers = 2;
  c.model.spec.n_heads = 4;
  c.model.spec.n_kv_heads = 2;
  c.model.spec.mlp_hidden = 48;
  c.model.spec.context = 64;
  c.sampling.max_new_tokens = 40;
  c.grpo.prompts_per_step = 4;
  c.grpo.group_size = 4;
  c.grpo.minibatches = 2;  // π_old is needed: the second minibatch trains after the first's update
  c.grpo.beta = 0.05;      // exercises the reference model
  c.optim.lr = 3e-3;
  c.sample_prompts = 2;
  c.threads = 1;
  return c;
}

inline RunOptions run_options(const QString& runs_dir, const std::string& name, bool resume = false) {
  RunOptions o;
  o.runs_dir = runs_dir.toStdString();
  o.name = name;
  o.resume = resume;
  o.progress = false;
  return o;
}

}  // namespace grpo::test

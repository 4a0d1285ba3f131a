// Is a run folder's trainer alive? A trainer killed with SIGKILL (or by the OOM killer, or a lost node)
// leaves its store saying `running` and its endpoints.json behind. This tells a live run from a dead one
// on the machine that holds the folder: the store's state, endpoints.json's pid, and whether that pid is
// still a grpo-train process. The studio and grpo-train both ask it. Std only.
#pragma once

#include <cstdint>
#include <string>

namespace grpo::ipc {

struct RunLiveness {
  enum class Verdict {
    kNone,   // no run store: not a run (yet)
    kLive,   // the store says running (or nothing final) and its trainer process is alive
    kDead,   // the store says running, but the trainer is gone: it stopped unexpectedly
    kEnded,  // finished, stopped or failed, as the store says
    kRemote,  // not ended, written by a trainer on another machine: not decidable from here
  };
  Verdict verdict = Verdict::kNone;
  std::string state;       // the store's meta state ("" if none)
  int64_t last_step = 0;   // the newest step with metrics
  int64_t pid = 0;         // the trainer's pid (the store's meta `pid`, else endpoints.json's; 0: unknown)
  std::string host;        // the machine it ran on (the store's meta `host`)
  bool endpoints = false;  // endpoints.json is present
  std::string message;     // for people, e.g. "stopped unexpectedly at step 12 (pid 4242 is gone)"
};

// Reads <run_dir>/run.sqlite's state, pid and host and <run_dir>/endpoints.json; never throws.
RunLiveness probe_run(const std::string& run_dir);

// True when `pid` is a running grpo-train process on this machine (not a zombie, not a recycled pid).
bool trainer_process_alive(int64_t pid);

}  // namespace grpo::ipc

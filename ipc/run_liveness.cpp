// Run liveness (see run_liveness.h).
#include "ipc/run_liveness.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ipc/protocol.h"
#include "ipc/run_store.h"

namespace grpo::ipc {

namespace fs = std::filesystem;

bool trainer_process_alive(int64_t pid) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  // /proc/<pid>/stat: "pid (comm) S ..."; a zombie has exited. comm is at most 15 characters of the name.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;  // no /proc: trust kill()
  const auto open = line.find('('), close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 >= line.size()) return true;
  const std::string comm = line.substr(open + 1, close - open - 1);
  const char state = line[close + 2];
  return state != 'Z' && state != 'X' && comm.rfind("grpo-train", 0) == 0;
}

RunLiveness probe_run(const std::string& run_dir) {
  RunLiveness r;
  const fs::path dir(run_dir);
  std::error_code ec;
  if (!fs::exists(dir / "run.sqlite", ec)) return r;
  try {
    const auto store = RunStore::open_for_reading((dir / "run.sqlite").string());
    r.state = store.meta("state").value_or("");
    r.last_step = store.last_step();
    r.pid = std::atoll(store.meta("pid").value_or("0").c_str());
    r.host = store.meta("host").value_or("");
  } catch (const std::exception& e) {
    r.message = e.what();
    return r;
  }
  std::ifstream ep(dir / "endpoints.json");
  if (ep) {
    r.endpoints = true;
    const auto j = nlohmann::json::parse(ep, nullptr, false);
    if (!j.is_discarded() && j.is_object() && r.pid == 0) r.pid = j.value("pid", int64_t{0});
  }
  const bool final_state =
      r.state == protocol::kStateFinished || r.state == protocol::kStateStopped || r.state == protocol::kStateFailed;
  char here[256] = {0};
  ::gethostname(here, sizeof(here) - 1);
  std::ostringstream msg;
  if (!final_state && !r.host.empty() && r.host != here) {
    r.verdict = RunLiveness::Verdict::kRemote;
    msg << "trained on " << r.host << " (state " << (r.state.empty() ? "unknown" : r.state) << ", step " << r.last_step << ")";
  } else if (final_state) {
    r.verdict = RunLiveness::Verdict::kEnded;
    msg << r.state << " at step " << r.last_step;
  } else if (trainer_process_alive(r.pid)) {
    r.verdict = RunLiveness::Verdict::kLive;
    msg << "running (pid " << r.pid << ", step " << r.last_step << ")";
  } else {
    r.verdict = RunLiveness::Verdict::kDead;
    msg << "stopped unexpectedly at step " << r.last_step;
    if (r.pid > 0) msg << " (pid " << r.pid << " is gone)";
    else msg << " (no trainer process recorded)";
  }
  r.message = msg.str();
  return r;
}

}  // namespace grpo::ipc

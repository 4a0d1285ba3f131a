// Wall-clock and elapsed time, as the trainer records them (seconds, double). One definition for every file.
#pragma once

#include <chrono>

namespace grpo {

using Clock = std::chrono::steady_clock;

// Seconds since the Unix epoch: the `time` of stored metrics and events, heartbeats.
inline double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Seconds elapsed since t0 on the monotonic clock: the timings (time/step, ...).
inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace grpo

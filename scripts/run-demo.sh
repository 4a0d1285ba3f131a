#!/usr/bin/env bash
# The run command: installs what is missing, builds, and opens the studio on the built-in demo run (the
# embedded defaults). With --headless, or when there is no display, it trains the demo in the terminal
# instead (one progress line per step); further arguments go to `grpo-train run` then.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
headless=0
if [[ "${1:-}" == "--headless" ]]; then
  headless=1
  shift
elif [[ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  echo "run-demo: no display found; training the demo in the terminal (run it in a desktop session for the studio)"
  headless=1
fi
if ((headless)); then
  exec build/trainer/grpo-train run "$@"
fi
exec build/app/grpo-studio --demo "$@"

#!/usr/bin/env bash
# The run command: installs what is missing, builds, and trains the built-in demo run on the embedded
# defaults, printing one progress line per step. Extra arguments go to `grpo-train run`
# (e.g. --set max_steps=20). The run folder lands in runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec build/trainer/grpo-train run "$@"

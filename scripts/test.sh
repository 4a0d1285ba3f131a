#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs the whole suite (CTest, Qt Test).
# Works headless: Qt runs offscreen. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
bash scripts/build.sh
export QT_QPA_PLATFORM=offscreen
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j 2 --timeout 900

#!/usr/bin/env bash
# Configures and builds GRPO Studio into build/ (Release, Ninja). Extra arguments go to CMake's configure,
# e.g. scripts/build.sh -DCMAKE_PREFIX_PATH=/path/to/cuda/libtorch
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
# Two jobs: a LibTorch translation unit takes ~1 GB and most of a core; more jobs only thrash.
cmake --build "$BUILD_DIR" -j "${GRPO_BUILD_JOBS:-2}"

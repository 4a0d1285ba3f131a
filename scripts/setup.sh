#!/usr/bin/env bash
# Installs the Debian 12 packages GRPO Studio builds and runs with. Idempotent: installs only what is
# missing, and does nothing (not even `apt-get update`) when everything is already there.
#   bash scripts/setup.sh           # what the build, the studio and the tests need
#   bash scripts/setup.sh --bench   # also python3-torch, for bench/run_all's PyTorch comparison
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  qt6-base-dev qt6-svg-dev libqcustomplot-dev   # the studio: widgets, charts, SVG export
  libtorch-dev libgloo-dev                 # the trainer: LibTorch 1.13 (CPU) and c10d's Gloo backend
  libopenblas0-pthread                     # fast BLAS for LibTorch (reference BLAS is ~40x slower)
  libzmq3-dev cppzmq-dev                   # the protocol between trainer and studio
  libsqlite3-dev                           # the run store
  nlohmann-json3-dev libcli11-dev libspdlog-dev   # JSON, command lines, logging
  xvfb xauth                               # headless GUI tests and screenshots
  python3-zmq                              # the third-party client example and its test
)
[[ "${1:-}" == "--bench" ]] && PACKAGES+=(python3-torch)  # bench/grpo_python.py: the Python baseline

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

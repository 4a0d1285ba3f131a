#!/usr/bin/env bash
# Installs the Debian 12 packages GRPO Studio builds and runs with. Idempotent: installs only what is
# missing, and does nothing (not even `apt-get update`) when everything is already there.
#   bash scripts/setup.sh           # what the build and the studio need
#   bash scripts/setup.sh --test    # also the tests' independent peers (PyTorch reference, Node.js)
#   bash scripts/setup.sh --bench   # also python3-torch, for bench/run_all's PyTorch comparison
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  qt6-base-dev qt6-svg-dev libqcustomplot-dev   # the studio: widgets, charts, SVG export
  fonts-noto-cjk fonts-noto-color-emoji   # the trace inspector: CJK text and emoji of BPE models
  libtorch-dev libgloo-dev                 # the trainer: LibTorch 1.13 (CPU) and c10d's Gloo backend
  libopenblas0-pthread                     # fast BLAS for LibTorch (reference BLAS is ~40x slower)
  libzmq3-dev cppzmq-dev                   # the protocol between trainer and studio
  libsqlite3-dev                           # the run store
  nlohmann-json3-dev libcli11-dev libspdlog-dev   # JSON, command lines, logging
  libpcre2-dev libutf8proc-dev             # tokenizer.json: Split regexes as written, NFC normalizer; reward regexes
  zlib1g-dev                               # gzipped JSONL datasets
  python3 python3-jinja2                   # chat templates, rendered by the engine transformers uses
  xvfb xauth                               # headless GUI tests and screenshots
  python3-zmq                              # the third-party client example, the reward server example, their tests
)
for flag in "$@"; do
  case "$flag" in
    --bench) PACKAGES+=(python3-torch nodejs) ;;  # bench/: the Python baseline, the JavaScript tokenizer
    # tests/reference (an independent PyTorch forward of Hugging Face layouts) and tests/peers (Hugging
    # Face's JavaScript tokenizer and Jinja, npm packages installed into tests/peers by the tests)
    --test) PACKAGES+=(python3-torch nodejs) ;;
    *) echo "setup: unknown option '$flag' (--test, --bench)" >&2; exit 2 ;;
  esac
done
if (($# > 0)) && ! command -v npm >/dev/null; then PACKAGES+=(npm); fi

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

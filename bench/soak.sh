#!/usr/bin/env bash
# Soak (docs/performance.md, "Soak"): a tiny grpo-train runs thousands of steps (tens of milliseconds each:
# 5,000 steps stand for ~1.7 hours of the demo's 1.2 s steps) with the real studio attached offscreen, as
# `grpo-studio --attach <run folder>` does. Every --interval seconds (default 10 s: the issue's "every
# minute", scaled to the shorter run) build/bench/bench_soak records the trainer's and the studio's RSS and the
# longest GUI-thread stall; at the end it checks that the studio's charts and the run store agree on every
# step, prints the table and the summary, and exits non-zero when they disagree. Run by hand after the
# README's set-up with -DGRPO_BUILD_BENCH=ON (bench/run_all builds it); never part of the tests.
#   bash bench/soak.sh                         # 5,000 steps (~3-5 minutes on 2 cores); out in bench-results/
#   bash bench/soak.sh --steps 20000 --interval 30 --set eval_every=100    # any of bench_soak's options
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench-results}
mkdir -p "$OUT"
BIN=${BIN:-build/bench/bench_soak}  # another build of it: BIN=/path/to/bench_soak
if [[ ! -x $BIN ]]; then
  echo "soak.sh: $BIN is missing: configure with -DGRPO_BUILD_BENCH=ON and build the bench_soak target" >&2
  exit 2
fi
export OMP_NUM_THREADS=1 QT_QPA_PLATFORM=offscreen
# Qt's offscreen plugin warns about size hints and a missing runtime dir; the per-interval lines stay.
set +e
"$BIN" --json "$OUT/soak.json" "$@" 2> >(grep -v -e propagateSizeHints -e QStandardPaths >&2) | tee "$OUT/soak.txt"
rc=${PIPESTATUS[0]}
set -e
echo "soak.sh: table in $OUT/soak.txt, summary in $OUT/soak.json (exit $rc)" >&2
exit "$rc"

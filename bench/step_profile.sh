#!/usr/bin/env bash
# Where a demo GRPO step's time goes (docs/performance.md, "Profile of one demo step"): the trainer times
# each phase of every step itself (time/generation, time/rewards, time/scoring for the old
# and reference passes, time/training, time/recording, time/step); this runs the demo config (the shipped
# base model, real completion lengths) with two trainer binaries, interleaved, RUNS times each, and prints
# per phase the median over steps 2..N of all runs, with min and max, side by side.
#   bash bench/step_profile.sh BEFORE_BINARY AFTER_BINARY [steps] [runs]
# e.g. the commit before a change, built in a fresh clone:
#   git clone -q . /tmp/before && (cd /tmp/before && git checkout -q COMMIT && bash scripts/build.sh)
#   bash bench/step_profile.sh /tmp/before/build/trainer/grpo-train build/trainer/grpo-train
# SETS adds settings to both sides' runs (key=value, space-separated), e.g. another size at fixed lengths:
#   SETS="model.init= model.d_model=128 model.n_layers=4 model.n_heads=4 model.n_kv_heads=4 model.mlp_hidden=352
#         sampling.min_new_tokens=109" bash bench/step_profile.sh BEFORE AFTER 6
# Run by hand on an idle machine after the README's set-up; never part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=${1:?before binary}
AFTER=${2:?after binary}
STEPS=${3:-20}
RUNS=${4:-3}
EXTRA=()
for kv in ${SETS:-}; do EXTRA+=(--set "$kv"); done
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for i in $(seq 1 "$RUNS"); do
  for side in before after; do
    bin=$BEFORE
    [ "$side" = after ] && bin=$AFTER
    "$bin" run --runs-dir "$OUT/$side" --name "r$i" --no-serve --quiet --set max_steps="$STEPS" \
      --set eval_every=0 --set checkpoint_every=0 --set threads=1 "${EXTRA[@]}" > /dev/null
  done
done
/usr/bin/python3 - "$OUT" <<'PY'
import pathlib, sqlite3, statistics, sys
root = pathlib.Path(sys.argv[1])
phases = [("time/step", "whole step"), ("time/generation", "rollout: sampling"),
          ("time/rewards", "rewards"), ("time/scoring", "old and reference passes"),
          ("time/training", "update (forward, backward, AdamW)"), ("time/recording", "recording samples")]
counts = [("tokens/generated", "completion tokens per step"), ("completions/mean_length", "mean completion length")]
def values(side, name):
    out = []
    for db in sorted((root / side).glob("*/run.sqlite")):
        out += [v for (v,) in sqlite3.connect(db).execute(
            "select value from metrics where name = ? and step > 1", (name,))]
    return out
print("| phase | before, ms | after, ms | saved |")
print("|---|---|---|---|")
for name, label in phases:
    b, a = values("before", name), values("after", name)
    mb, ma = statistics.median(b) * 1e3, statistics.median(a) * 1e3
    print(f"| {label} (`{name}`) | {mb:.0f} ({min(b)*1e3:.0f}–{max(b)*1e3:.0f}) | "
          f"{ma:.0f} ({min(a)*1e3:.0f}–{max(a)*1e3:.0f}) | {mb - ma:+.0f} |")
for name, label in counts:
    b, a = values("before", name), values("after", name)
    print(f"| {label} | {statistics.median(b):.1f} | {statistics.median(a):.1f} | |")
print(f"\nsteps measured per side: {len(values('before', 'time/step'))}")
PY

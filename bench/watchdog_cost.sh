#!/usr/bin/env bash
# The watchdogs' cost inside a real demo step (docs/performance.md, "Watchdogs"): the trainer times its own
# rule evaluation (time/watchdogs) and the whole step (time/step) at every step; this runs the demo config
# with every rule at its default, three times, and prints the median, min and max of both and their ratio
# over steps 2..N of all runs. Run by hand after the README's set-up; never part of the tests.
#   bash bench/watchdog_cost.sh [steps]     # default 20 steps per run
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-20}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for i in 1 2 3; do
  build/trainer/grpo-train run --runs-dir "$OUT" --name "w$i" --no-serve --quiet --set max_steps="$STEPS" \
    --set eval_every=0 --set checkpoint_every=0 --set seed="$i" > /dev/null
done
/usr/bin/python3 - "$OUT" <<'PY'
import sqlite3, statistics, sys, pathlib
watch, step = [], []
for db in sorted(pathlib.Path(sys.argv[1]).glob("*/run.sqlite")):
    c = sqlite3.connect(db)
    rows = dict(c.execute("select step, value from metrics where name='time/watchdogs' and step > 1"))
    for s, v in c.execute("select step, value from metrics where name='time/step' and step > 1"):
        watch.append(rows[s]); step.append(v)
med = lambda xs: statistics.median(xs)
print(f"steps measured: {len(step)} (3 runs)")
print(f"time/watchdogs: median {med(watch)*1e6:.1f} us (min {min(watch)*1e6:.1f}, max {max(watch)*1e6:.1f})")
print(f"time/step:      median {med(step):.3f} s (min {min(step):.3f}, max {max(step):.3f})")
ratios = [w / s for w, s in zip(watch, step)]
print(f"share of a step: median {med(ratios)*100:.5f}% (max {max(ratios)*100:.5f}%)")
PY

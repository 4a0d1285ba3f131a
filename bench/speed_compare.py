#!/usr/bin/python3
"""grpo-train against bench/grpo_python.py, side by side at fixed lengths. Interleaved rounds: in each, for
every size (bench/run_all's: d_model, layers, heads, MLP = 64 3 4 176, 128 4 4 352, 192 4 6 528; as many
key/value heads as heads), the C++ trainer, then the Python port with --fair, then the untuned port, all
from random init on one thread, every completion --max-new tokens long (C++: sampling.min_new_tokens =
sampling.max_new_tokens; Python: --min-new-tokens). The step is the default on both sides (16 prompts x 8,
2 minibatches, beta 0.02). A run's figures are medians over its steps after the first (the C++ ones from
its run.sqlite); the tables give the median of the rounds' figures, min-max in brackets, and each row's
GRPO step time (rollout + scoring + update) over the C++ one, taken round by round.

Every run gets OMP_NUM_THREADS=1, as in bench/run_all (OpenBLAS honours it too), and none of the allocator
and BLAS variables --fair sets for itself (so --fair gets exactly grpo-train's, and the untuned port none).

    /usr/bin/python3 bench/speed_compare.py                     # 3 rounds x 3 sizes x 3 runs of 4 steps
    /usr/bin/python3 bench/speed_compare.py --rounds 1 --steps 2 --sizes 64 --max-new 16   # a smoke run
    /usr/bin/python3 bench/speed_compare.py --impls fair fused  # what storing q/k/v, gate/up fused is worth

--out DIR (default bench-results/speed-compare) gets each run's raw figures (cpp-d64-r1.json: the command
and every metric of every step; fair-d64-r1.json, untuned-d64-r1.json: the command and grpo_python.py's
output), its log (*.log), the C++ runs (runs/) and summary.json (every table's figures, with each round's).
"""
import argparse
import json
import os
import pathlib
import shutil
import sqlite3
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TRAINER = ROOT / "build" / "trainer" / "grpo-train"
PORT = ROOT / "bench" / "grpo_python.py"
PY = "/usr/bin/python3"  # Debian's interpreter, with python3-torch (as bench/run_all)
SIZES = {64: (64, 3, 4, 176), 128: (128, 4, 4, 352), 192: (192, 4, 6, 528)}  # d_model: (d, layers, heads, mlp)
# grpo_python.py's TUNED_ENV: what --fair sets for itself.
TUNED_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "OPENBLAS_NUM_THREADS")
IMPLS = (("cpp", "C++ grpo-train"), ("fair", "Python --fair"), ("fused", "Python --fair --fused"),
         ("untuned", "Python untuned"))
PY_FLAGS = {"fair": ["--fair"], "fused": ["--fair", "--fused"], "untuned": []}
FIGURES = (("grpo_s", "GRPO step s", "{:.3f}"), ("rollout_s", "rollout s", "{:.3f}"), ("score_s", "scoring s", "{:.3f}"),
           ("update_s", "update s", "{:.3f}"), ("decode_step_ms", "decode step ms", "{:.2f}"),
           ("minibatch_ms", "minibatch ms", "{:.1f}"))


def run(cmd, log, env):
    """Runs cmd with its stderr (and stdout, unless captured) in `log`; exits with the log's tail on failure."""
    with open(log, "w") as f:
        p = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=f, text=True)
        f.write(p.stdout)
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} exited with {p.returncode}; the end of {log}:\n" + "".join(open(log).readlines()[-20:]))
    return p.stdout


def run_cpp(a, out, env, d, layers, heads, mlp, r):
    """One grpo-train run; its figures per step after the first, from run.sqlite (ipc/names.h's metrics)."""
    name = f"cpp-d{d}-r{r}"
    runs = out / "runs"
    shutil.rmtree(runs / name, ignore_errors=True)  # a run of that name would be resumed
    cmd = [TRAINER, "run", "--runs-dir", runs, "--name", name, "--no-serve", "--quiet"]
    for key, value in (("model.init", ""), ("model.d_model", d), ("model.n_layers", layers), ("model.n_heads", heads),
                       ("model.n_kv_heads", heads), ("model.mlp_hidden", mlp), ("max_steps", a.steps),
                       ("eval_every", 0), ("checkpoint_every", 0), ("threads", 1),
                       ("sampling.max_new_tokens", a.max_new), ("sampling.min_new_tokens", a.max_new)):
        cmd += ["--set", f"{key}={value}"]
    run(cmd, out / f"{name}.log", env)
    db = sqlite3.connect(runs / name / "run.sqlite")
    steps = {}
    for step, metric, value in db.execute("select step, name, value from metrics order by step"):
        steps.setdefault(step, {})[metric] = value
    grpo = json.loads((runs / name / "config.json").read_text())["grpo"]
    (out / f"{name}.json").write_text(json.dumps({"command": [str(c) for c in cmd], "steps": steps}, indent=1))
    minibatches = min(grpo["minibatches"], grpo["prompts_per_step"])  # as update_policy() splits the batch
    per_step = [{"grpo_s": m["time/generation"] + m["time/rewards"] + m["time/scoring"] + m["time/training"],
                 "step_s": m["time/step"], "rollout_s": m["time/generation"] + m["time/rewards"],
                 "score_s": m["time/scoring"], "update_s": m["time/training"],
                 "decode_step_ms": 1e3 * m["time/generation"] / m["completions/max_length"],  # longest row = steps
                 "minibatch_ms": 1e3 * m["time/training"] / minibatches, "record_s": m["time/recording"]}
                for step, m in steps.items() if step > 1]
    return {k: statistics.median(s[k] for s in per_step) for k in per_step[0]}


def run_python(a, out, env, impl, d, layers, heads, mlp, r):
    """One grpo_python.py run (--fair, --fair --fused or untuned); its medians over the steps after the first."""
    name = f"{impl}-d{d}-r{r}"
    cmd = [PY, PORT] + PY_FLAGS[impl]
    cmd += ["--d-model", d, "--layers", layers, "--heads", heads, "--mlp", mlp, "--steps", a.steps, "--threads", 1,
            "--max-new", a.max_new, "--min-new-tokens", a.max_new]
    py = json.loads(run(cmd, out / f"{name}.log", env).strip().splitlines()[-1])
    (out / f"{name}.json").write_text(json.dumps({"command": [str(c) for c in cmd], "output": py}, indent=1))
    return {"grpo_s": py["step_s_median"], "rollout_s": py["gen_s_median"], "score_s": py["score_s_median"],
            "update_s": py["train_s_median"], "decode_step_ms": py["decode_step_ms"],
            "minibatch_ms": py["minibatch_ms"], "parameters": py["parameters"]}


def spread(values, fmt):
    med = fmt.format(statistics.median(values))
    return med if len(values) == 1 else f"{med} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=4, help="steps per run (the first is not measured)")
    ap.add_argument("--sizes", type=int, nargs="+", choices=sorted(SIZES), default=sorted(SIZES), metavar="D_MODEL",
                    help="a subset of %s" % sorted(SIZES))
    ap.add_argument("--max-new", type=int, default=109, help="every completion's length")
    ap.add_argument("--impls", nargs="+", choices=[i for i, _ in IMPLS if i != "cpp"], default=["fair", "untuned"],
                    help="the Python rows besides C++ (fused: --fair with q/k/v and gate/up as one GEMM each)")
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "bench-results" / "speed-compare")
    a = ap.parse_args()
    impls = [(i, label) for i, label in IMPLS if i == "cpp" or i in a.impls]
    if a.steps < 2:
        ap.error("--steps must be at least 2: the first step is not measured")
    if not TRAINER.exists():
        sys.exit(f"{TRAINER} is missing: build the trainer first")
    a.out.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in TUNED_ENV}
    env["OMP_NUM_THREADS"] = "1"

    rounds = {d: {impl: [] for impl, _ in impls} for d in a.sizes}  # d -> impl -> each round's figures
    for r in range(1, a.rounds + 1):
        for d in a.sizes:
            _, layers, heads, mlp = SIZES[d]
            for impl, label in impls:
                print(f"round {r}/{a.rounds}, d_model {d}: {label}", file=sys.stderr)
                if impl == "cpp":
                    fig = run_cpp(a, a.out, env, d, layers, heads, mlp, r)
                else:
                    fig = run_python(a, a.out, env, impl, d, layers, heads, mlp, r)
                rounds[d][impl].append(fig)

    summary = {"rounds": a.rounds, "steps": a.steps, "max_new_tokens": a.max_new, "sizes": {}}
    print(f"grpo-train vs grpo_python.py: {a.rounds} round(s) of {a.steps} steps, every completion {a.max_new} "
          f"tokens, random init, one thread; medians of the steps after the first, then over the rounds "
          f"(min–max); ratio: the row's GRPO step time / C++'s, round by round (> 1: C++ is faster)")
    for d in a.sizes:
        _, layers, heads, mlp = SIZES[d]
        per = rounds[d]
        summary["sizes"][d] = size = {}
        print(f"\n### d_model {d}, {layers} layers, {heads} heads, MLP {mlp} "
              f"({per[impls[1][0]][0]['parameters'] / 1e6:.2f}M parameters)\n")
        print("| impl | " + " | ".join(title for _, title, _ in FIGURES) + " | ratio |")
        print("|---" * (len(FIGURES) + 2) + "|")
        for impl, label in impls:
            ratio = [row["grpo_s"] / cpp["grpo_s"] for row, cpp in zip(per[impl], per["cpp"])]
            size[impl] = {k: {"median": statistics.median(f[k] for f in per[impl]), "rounds": [f[k] for f in per[impl]]}
                          for k, _, _ in FIGURES}
            size[impl]["ratio"] = {"median": statistics.median(ratio), "rounds": ratio}
            cells = [spread([f[k] for f in per[impl]], fmt) for k, _, fmt in FIGURES]
            print(f"| {label} | " + " | ".join(cells) + f" | {spread(ratio, '{:.2f}x')} |")
        record = [f["record_s"] for f in per["cpp"]]
        whole = [f["step_s"] for f in per["cpp"]]
        size["cpp"]["record_s"] = {"median": statistics.median(record), "rounds": record}
        size["cpp"]["step_s"] = {"median": statistics.median(whole), "rounds": whole}
        print(f"\nGRPO step: rollout + scoring + update (C++: time/generation + time/rewards + time/scoring + "
              f"time/training; Python: its whole step). C++'s whole time/step, {spread(whole, '{:.3f}')} s, also "
              f"stores the step's samples (time/recording, {spread(record, '{:.3f}')} s: a forward pass over the "
              f"recorded groups after the update, and the run store), which the Python port does not do.")
    (a.out / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

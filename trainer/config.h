// The trainer's configuration: plain structs whose fields carry their defaults (the built-in demo run),
// and one schema table (config_fields) that drives JSON loading, `--set key=value`, validation and the
// list of hyperparameters that may change while a run trains. No LibTorch here.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "trainer/model_spec.h"

namespace grpo {

// Bad configuration: the message names the field and what was wrong. The CLI exits with code 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The starting model: `path` (a Hugging Face folder) wins over `init`; with either, the model's own shape
// replaces `spec` and the effective config records it.
struct ModelConfig {
  std::string init = "builtin:demo-base";  // start from: "builtin:demo-base", a checkpoint file, or "" (random init)
  std::string path;  // a Hugging Face model folder (config.json, safetensors, tokenizer files); when set, init is unused
  ModelSpec spec;    // a random init's shape: the model.* keys below (trainer/model_spec.h)
  std::string alphabet = "task";  // a random init's character tokenizer: "task" (the built-in tasks' characters) or "ascii" (printable ASCII)
};

struct TaskConfig {
  std::string kind = "add";      // built-in task: "add" (a+b, 5-digit operands) or "mul" (3-digit × 2-digit)
  int64_t held_out = 500;        // problems never trained on, for `grpo-train eval`
  int64_t held_out_seed = 1234;  // picks the held-out problems (fixed per task, not per run)
};

struct SamplingConfig {
  double temperature = 1.0;      // softmax temperature of rollouts (and of the policy's log-probs)
  double top_p = 1.0;            // nucleus sampling mass; 1 keeps the full distribution
  int64_t max_new_tokens = 109;  // completion budget L; longer completions are cut ("clipped")
  int64_t min_new_tokens =
      0;  // end-of-sequence is not sampled before this many tokens (= max_new_tokens: fixed lengths)
};

struct GrpoConfig {
  int64_t prompts_per_step = 16;             // prompts per step (each gets group_size completions)
  int64_t group_size = 8;                    // G: completions per prompt
  double beta = 0.02;                        // KL coefficient against the frozen reference; 0 loads none
  double epsilon_low = 0.2;                  // clip range below 1 for the ratio
  double epsilon_high = 0.2;                 // clip range above 1 ("clip-higher" raises it, DAPO)
  std::string loss_agg = "sequence_mean";    // "sequence_mean" (GRPO paper) or "token_mean" (DAPO)
  bool scale_rewards = true;                 // divide advantages by the group's std (false: Dr. GRPO)
  double adv_eps = 1e-4;                     // epsilon added to the std
  int64_t mu = 1;                            // policy-update passes over each batch
  int64_t minibatches = 2;                   // optimizer steps per pass (the batch is split by groups)
  std::string old_logp =
      "sampler";  // π_old's log-probs: "sampler" (recorded while sampling) or "forward" (a separate pass)
  bool dynamic_sampling = false;             // drop groups whose rewards all agree, sample more (DAPO)
  int64_t dynamic_sampling_max_batches = 4;  // most prompt batches sampled per step when filtering
};

// Prompt datasets (docs/datasets.md): JSONL files in TRL's or veRL's row shape. Without data.train the run
// trains on the built-in task.
struct DataConfig {
  std::string train;                  // JSONL (or .jsonl.gz) of training prompts; "" = the built-in task
  std::string eval;                   // JSONL for eval/* and `grpo-train eval`; "" = no dataset evaluation
  std::string answer_key = "answer";  // column of the reference answer (dotted for nested); "answer" falls back to reward_model.ground_truth
  std::string chat_template;          // Jinja file for messages prompts; "" = the model's own chat template
};

// Reward functions (docs/rewards.md): each `rewards.<name>` is a weight; 0 turns that reward off. The
// weighted sum is the reward GRPO's advantages come from; every active reward is logged as reward/<name>/mean.
struct RewardConfig {
  double accuracy = 1.0;          // weight of the exact-answer reward (<answer>…</answer> equals the reference)
  double format = 0.1;            // weight of the format reward (format_pattern, or <think>…</think><answer>…</answer>)
  double overlong = 0.0;          // weight of DAPO's soft overlong penalty (0 turns it off)
  int64_t overlong_buffer = 16;   // tokens before max_new_tokens where the overlong penalty ramps in
  double math = 0.0;              // weight of the math answer checker (final answer equals the reference by value)
  std::vector<std::string> math_order = {"boxed", "hashes", "answer_is", "answer_tag", "last_number"};  // where the math reward looks for the final answer, in order
  double math_tolerance = 1e-6;   // relative tolerance of the math reward's numeric comparison
  std::string format_pattern;     // regex the whole completion must match; "" = <think>…</think><answer>…</answer>
  double length = 0.0;            // weight of the length-target reward: −|tokens − length_target| / length_target, at least −1
  int64_t length_target = 0;      // the length reward's target, in completion tokens
  double regex = 0.0;             // weight of the regex reward: the fraction of regex_patterns found in the completion
  std::vector<std::string> regex_patterns;  // the regex reward's patterns (PCRE2 syntax, searched anywhere)
  double exact = 0.0;             // weight of the exact-match reward (final text equals the reference, whitespace normalised)
  double server = 0.0;            // weight of the reward server's reward (docs/reward-server.md)
  std::string server_address;     // the reward server's ZeroMQ endpoint, e.g. tcp://127.0.0.1:5555
  double server_timeout = 30.0;   // seconds to wait for one reply before retrying with a fresh socket
  std::string correct;            // the reward that decides "correct" (accuracy metrics, eval); "" = math if on, else accuracy
  std::vector<std::string> markers;  // self-verification words in the reasoning; empty = the task's default
};

// Watchdogs (docs/watchdogs.md): rules over each step's metrics, checked at the step boundary. Each rule has
// an action (ipc/names.h watchdog::kAction*: off, event, alert, pause, checkpoint_pause), a threshold and a
// step count; every key is live. A rule fires once when its condition starts to hold and again only after
// it has cleared (nonfinite fires at every step that skipped an update).
struct WatchdogRule {
  std::string action;    // off | event | alert | pause | checkpoint_pause
  double threshold = 0;  // the rule's limit (see each rule)
  int64_t steps = 1;     // consecutive steps (floors, ceilings) or the window (reward_drop, length_drift)
};

struct WatchdogConfig {
  WatchdogRule nonfinite{"pause", 0, 1};           // loss, gradient norm or logits not finite: the update is skipped
  WatchdogRule entropy_floor{"pause", 0.02, 3};    // entropy (nats/token) below threshold for `steps` steps
  WatchdogRule kl_ceiling{"pause", 1.0, 2};        // k3 KL to the reference above threshold for `steps` steps
  WatchdogRule clipped_ceiling{"alert", 0.5, 3};   // fraction of completions cut at max_new_tokens above threshold
  WatchdogRule zero_spread{"alert", 0.95, 10};     // fraction of groups with one reward for all above threshold
  WatchdogRule reward_drop{"alert", 0.25, 10};     // mean reward (EMA over `steps`) below its best by more than threshold
  WatchdogRule length_drift{"event", 1.0, 10};     // mean length changed by more than threshold x its value `steps` steps ago
};

struct OptimConfig {
  double lr = 5e-5;               // peak learning rate (AdamW); the demo's checking rise takes ~10 steps
  double beta1 = 0.9;             // AdamW beta1
  double beta2 = 0.99;            // AdamW beta2
  double eps = 1e-8;              // AdamW epsilon
  double weight_decay = 0.0;      // decoupled weight decay
  int64_t warmup_steps = 0;       // linear warm-up from 0 to lr
  std::string schedule = "constant";  // after warm-up: "constant" or "cosine" (to min_lr_ratio · lr)
  double min_lr_ratio = 0.1;      // floor of the cosine schedule, as a fraction of lr
  double grad_clip = 1.0;         // max global gradient norm; 0 turns clipping off
};

// Supervised pretraining of the built-in base model (`grpo-train pretrain`): the corpus mix, its loss
// masks, evaluation and the stopping rule that takes the model from the window in which its check works
// but its one-shot answer has not been learned yet (docs/demo.md).
struct PretrainConfig {
  int64_t batch_size = 64;               // traces per optimizer step
  double direct_fraction = 0.3;          // traces that answer directly; the rest check their first answer
  double wrong_fraction = 0.8;           // checked traces whose first answer is wrong (uniformly random)
  double branch_mask = 0.9;              // checked traces with no loss on the branch character after the guess
  int64_t eval_every = 50;               // steps between held-out evaluations
  int64_t eval_prompts = 300;            // held-out problems per evaluation
  int64_t eval_samples = 2;              // sampled completions per problem (T = 1) per evaluation
  bool stop_in_window = true;            // stop at the first evaluation inside the window below
  double stop_check_accuracy = 0.6;      // window: sampled P(correct | checked) at least this
  double stop_forced_check = 0.95;       // window: greedy accuracy with the check forced at least this
  double stop_greedy_min = 0.0;          // window: one-shot greedy accuracy between these
  double stop_greedy_max = 0.35;         // (the upper end of that window)
};

struct Config {
  std::string name = "demo";      // run name prefix (the run folder adds a timestamp unless --name)
  int64_t seed = 0;               // seeds prompts, sampling and random init
  int64_t max_steps = 100;        // GRPO steps to train
  int64_t threads = 1;            // intra-op CPU threads (0 = all cores); 1 is fastest for the small demo model
  int64_t checkpoint_every = 20;  // steps between checkpoints (one is always written at the end)
  int64_t keep_checkpoints = 2;   // newest checkpoints kept on disk
  int64_t sample_prompts = 8;     // prompts per step whose completions go to the run store
  int64_t eval_every = 5;         // steps between held-out evaluations (eval/* metrics); 0 = never
  int64_t eval_prompts = 200;     // held-out problems (or data.eval rows) per evaluation, greedy and sampled
  int64_t eval_samples = 1;       // sampled completions per prompt in an evaluation (k of pass@k; datasets)
  int64_t eval_store_prompts = 8; // held-out prompts whose greedy completion each evaluation stores (traces compared across steps and runs)
  std::string device = "cpu";     // "cpu" or "cuda" (a CUDA-enabled LibTorch build only)
  bool export_on_finish = false;  // write <run>/export/, a Hugging Face folder of the final model
  std::string export_dtype = "bf16";  // weights of exported folders: "bf16" or "f32"
  int64_t dist_timeout = 30;      // data-parallel runs: seconds a rank waits for the others before naming the lost one
  ModelConfig model;
  TaskConfig task;
  DataConfig data;
  SamplingConfig sampling;
  GrpoConfig grpo;
  RewardConfig rewards;
  OptimConfig optim;
  WatchdogConfig watchdogs;
  PretrainConfig pretrain;
};

// One entry of the schema: a dotted key ("grpo.beta"), a pointer into a Config, its range or choices.
struct ConfigField {
  using Target = std::variant<int64_t*, double*, bool*, std::string*, std::vector<std::string>*>;
  std::string key;
  Target target;
  double min = 0.0;                  // inclusive range for numbers
  double max = 0.0;
  std::vector<std::string> choices;  // allowed values for strings (empty: any)
  bool live = false;                 // may be changed while the run trains
  bool min_exclusive = false;        // the range excludes `min` (e.g. lr > 0)
};

// The schema, bound to one Config instance (the pointers point into `config`).
std::vector<ConfigField> config_fields(Config& config);

// Loads a config: defaults, then every key of `j` (nested objects or dotted keys). Unknown keys, wrong
// types and out-of-range values throw ConfigError naming the key and `source`.
Config config_from_json(const nlohmann::json& j, const std::string& source);
Config load_config_file(const std::string& path);
nlohmann::json config_to_json(const Config& config);

// Applies "key=value" (value parsed by the field's type; lists as JSON arrays or comma-separated). Checks
// type and range; call validate_config() once every override is applied, for the cross-field rules.
void apply_override(Config& config, const std::string& assignment);
// Sets one key from a JSON value, checking type and range; `live_only` refuses keys that are not live.
void set_config_value(Config& config, const std::string& key, const nlohmann::json& value, bool live_only,
                      const std::string& source);

// The keys whose values differ between two configs: {key: {"from": a's, "to": b's}} (a fork's changes).
nlohmann::json config_changes(const Config& a, const Config& b);

// Range checks of every field plus the cross-field rules; throws ConfigError naming the field.
void validate_config(const Config& config);
// The rewards' own rules (rewards.cpp): weights not all zero, patterns that compile, a math_order of known
// extractors, a length target and a server address where those rewards are on. `task` names what is trained.
void validate_reward_config(const RewardConfig& rewards, const std::string& task);

}  // namespace grpo

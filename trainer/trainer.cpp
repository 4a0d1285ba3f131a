// The GRPO training loop (see trainer.h). Reads top to bottom: setup (run folder, model, reference,
// optimizer, store, serving), step boundaries, checkpoints and evaluation, then train(). The step itself
// (rollout -> rewards -> advantages -> policy update -> metrics) is in grpo_step.cpp.
#include "trainer/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "ipc/messages.h"
#include "ipc/names.h"
#include "ipc/protocol.h"
#include "ipc/run_liveness.h"
#include "ipc/run_store.h"
#include "trainer/checkpoint.h"
#include "trainer/control.h"
#include "trainer/dataset_eval.h"
#include "trainer/evaluate.h"
#include "trainer/grpo_loss.h"
#include "trainer/hf_model.h"
#include "trainer/model_source.h"
#include "trainer/optimizer.h"
#include "trainer/rewards.h"
#include "trainer/runtime.h"
#include "trainer/sampler.h"
#include "trainer/task.h"
#include "trainer/tokenizer.h"
#include "trainer/trainer_impl.h"
#include "trainer/watchdog.h"

namespace grpo {

namespace metric = ipc::metric;

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string timestamp() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", std::localtime(&t));
  return buf;
}

std::string human_duration(double s) {
  const auto total = static_cast<int64_t>(std::llround(std::max(s, 0.0)));
  std::ostringstream os;
  if (total >= 3600) os << total / 3600 << "h" << (total % 3600) / 60 << "m";
  else if (total >= 60) os << total / 60 << "m" << total % 60 << "s";
  else os << total << "s";
  return os.str();
}

// A fork's default name: <parent>-fork<step>, numbered when taken (-2, -3, ...).
std::string fork_name(const RunOptions& o) {
  const std::string parent = fs::path(o.fork).lexically_normal().filename().string();
  const std::string base = parent.empty() ? "fork" : parent + "-fork" + (o.fork_step >= 0 ? std::to_string(o.fork_step) : "");
  std::string name = base;
  for (int i = 2; fs::exists(fs::path(o.runs_dir) / name); ++i) name = base + "-" + std::to_string(i);
  return name;
}

void write_text_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp);
    out << text;
    if (!out) throw std::runtime_error("cannot write '" + tmp.string() + "'");
  }
  fs::rename(tmp, path);
}

// Forwards every log line to a callback (the run store's events and the protocol's `log` topic).
class CallbackSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit CallbackSink(std::function<void(const std::string&)> fn) : fn_(std::move(fn)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override { fn_(std::string(msg.payload.begin(), msg.payload.end())); }
  void flush_() override {}

 private:
  std::function<void(const std::string&)> fn_;
};

}  // namespace

Config load_run_config(const std::string& runs_dir, const std::string& name) {
  const fs::path path = fs::path(runs_dir) / name / "config.json";
  if (!fs::exists(path)) throw ConfigError("--resume: no run '" + name + "' under '" + runs_dir + "' (" + path.string() + " is missing)");
  return load_config_file(path.string());
}

ForkPoint find_fork_point(const std::string& parent_dir, int64_t step) {
  const fs::path dir = fs::path(parent_dir) / "checkpoints";
  if (!fs::is_directory(parent_dir) || !fs::exists(fs::path(parent_dir) / "run.sqlite"))
    throw ConfigError("--fork: '" + parent_dir + "' is not a run folder (no run.sqlite)");
  const auto steps = checkpoint_steps(dir.string());
  std::string have;
  for (int64_t s : steps) have += (have.empty() ? "" : ", ") + std::to_string(s);
  const auto path = step < 0 ? latest_checkpoint(dir.string()) : checkpoint_at_or_before(dir.string(), step);
  if (!path)
    throw ConfigError("--fork '" + parent_dir + "'" + (step >= 0 ? " --from-step " + std::to_string(step) : std::string()) +
                      ": no checkpoint " + (step >= 0 ? "at or before that step" : "at all") +
                      (have.empty() ? std::string(" (the run has none)") : " (checkpoints at steps " + have + ")"));
  auto ck = read_checkpoint(*path);
  if (ck.header.kind != "train" || !ck.has_optimizer)
    throw CheckpointError("checkpoint '" + *path + "' holds no optimizer state; a fork cannot start from it");
  ForkPoint fp;
  fp.checkpoint = *path;
  fp.step = ck.header.step;
  fp.config = config_from_json(ck.header.config, "--fork checkpoint '" + *path + "'");
  return fp;
}

// The starting policy: model.path (a Hugging Face folder), the model.init checkpoint, or a seeded random
// init. Also the reference policy. The model's own shape goes into the effective config.
Transformer Trainer::Impl::initial_model() { return load_start_model(cfg.model, static_cast<uint64_t>(cfg.seed)).model; }

Trainer::Trainer(Config config, RunOptions options) : impl_(std::make_unique<Impl>()) {
  auto& s = *impl_;
  s.cfg = std::move(config);
  s.opts = std::move(options);
  s.stop_flag = &stop_requested_;
  validate_config(s.cfg);
  configure_runtime(s.cfg.threads);
  if (s.cfg.device != "cpu")
    throw ConfigError("config: device '" + s.cfg.device + "' needs a CUDA-enabled LibTorch build; this one is CPU-only");

  s.tokenizer = load_start_tokenizer(s.cfg.model);
  s.task = std::make_unique<ArithmeticTask>(s.cfg.task);
  // The effective config names the markers in use, so the studio highlights the same words.
  if (s.cfg.rewards.markers.empty()) s.cfg.rewards.markers = s.cfg.data.train.empty() ? task_markers() : r1_markers();
  s.rewards = std::make_unique<RewardSet>(s.cfg.rewards);
  s.prompts = training_prompts(s.cfg, *s.task, *s.tokenizer);
  if (!s.cfg.data.eval.empty()) s.eval_rows = load_prompt_rows(s.cfg.data.eval, "data.eval", s.cfg, *s.tokenizer);

  check_batch_split(s.cfg, s.opts.dist.world);

  if (s.opts.name.empty()) {
    if (s.opts.resume) throw ConfigError("--resume needs --name NAME: the run folder to continue");
    s.opts.name = s.opts.fork.empty() ? s.cfg.name + "-" + timestamp() : fork_name(s.opts);
  }
  if (s.opts.resume && !s.opts.fork.empty()) throw ConfigError("--fork starts a new run; it cannot be combined with --resume");
  s.dist = std::make_unique<Distributed>(s.opts.dist, std::chrono::seconds(s.cfg.dist_timeout));
  s.main = s.dist->is_main();
  s.opts.name = s.dist->broadcast(s.opts.name);  // rank 0's timestamp names the run on every rank
  s.run_dir = fs::path(s.opts.runs_dir) / s.opts.name;
  s.run_dir_str = s.run_dir.string();

  if (s.opts.resume) {
    s.setup_resumed_run();
  } else if (!s.opts.fork.empty()) {
    s.setup_forked_run();
  } else {
    s.setup_new_run();
  }
  // Every rank starts from rank 0's weights (as DDP does), whatever its own init or file system held.
  s.dist->broadcast_parameters(s.model->parameters());
}

Trainer::~Trainer() = default;

// Prompt plus completion must fit the model's context (known once the model is loaded).
void Trainer::Impl::check_context() const { check_context(cfg); }

void Trainer::Impl::check_context(const Config& c) const {
  const int64_t need = prompts->longest_prompt() + c.sampling.max_new_tokens;
  if (need > model->spec().context)
    throw ConfigError("sampling.max_new_tokens: the longest prompt of " + prompts->describe() + " (" +
                      std::to_string(prompts->longest_prompt()) + " tokens" +
                      (prompts->longest_prompt_line() > 0 ? ", line " + std::to_string(prompts->longest_prompt_line()) : "") +
                      ") + " + std::to_string(c.sampling.max_new_tokens) + " new tokens exceed the model's context of " +
                      std::to_string(model->spec().context));
  // Evaluation shortens its completions to fit (the shortest room of its rows), but each row needs some.
  for (const auto& row : eval_rows)
    if (static_cast<int64_t>(row.ids.size()) >= model->spec().context)
      throw ConfigError("data.eval '" + c.data.eval + "' line " + std::to_string(row.line) + ": the prompt's " +
                        std::to_string(row.ids.size()) + " tokens fill the model's context of " +
                        std::to_string(model->spec().context) + " (no room for a completion)");
}

// Every record goes to the store first (the truth), then to subscribers with the seq the store gave it.
void Trainer::Impl::emit_metrics(int64_t at_step, const std::map<std::string, double>& values) {
  if (!store) return;  // ranks other than 0 record nothing
  const double t = unix_now();
  const int64_t seq = store->append_metrics(at_step, t, {values.begin(), values.end()});
  if (endpoint) endpoint->publish(ipc::protocol::kTopicMetrics, ipc::metrics_payload(opts.name, seq, at_step, t, values));
}

void Trainer::Impl::emit_event(int64_t at_step, const std::string& kind, const json& data) {
  if (!store) return;
  ipc::EventRecord e{0, at_step, unix_now(), kind, data};
  e.seq = store->append_event(at_step, e.time, kind, data);
  if (endpoint) endpoint->publish(ipc::topic_of_event(kind), ipc::event_payload(opts.name, e));
}

// Which process writes the store, so that a reader can tell a live run from one killed mid-way
// (ipc/run_liveness.h).
void Trainer::Impl::record_process() {
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  store->set_meta("pid", std::to_string(::getpid()));
  store->set_meta("host", host);
  store->set_meta("live_schema", live_schema(cfg).dump());
}

void Trainer::Impl::set_state(const std::string& state, const std::string& reason) {
  control->set_state(state);
  json data = {{"state", state}, {"step", step}};
  if (!reason.empty()) data["reason"] = reason;
  emit_event(step, ipc::event::kStatus, data);
  if (store && (state == ipc::protocol::kStateRunning || state == ipc::protocol::kStateFinished || state == ipc::protocol::kStateFailed || state == ipc::protocol::kStateStopped))
    store->set_meta("state", state);
}

// Binds the protocol's sockets (unless told not to), writes endpoints.json, and forwards log lines.
void Trainer::Impl::start_serving() {
  control = std::make_unique<RunControl>(cfg, opts.name, json{{"pid", static_cast<int64_t>(::getpid())}, {"run_dir", run_dir_str}},
                                         stop_flag);
  control->set_run_check([this](const Config& c) { check_context(c); });  // a live max_new_tokens must still fit
  if (opts.serve && main) {
    auto eo = opts.endpoint;
    eo.run_id = opts.name;
    eo.store_path = (run_dir / "run.sqlite").string();
    endpoint = std::make_unique<ipc::TrainerEndpoint>(eo, *control);
    control->add_info({{"events", endpoint->events_endpoint()}, {"control", endpoint->control_endpoint()}});
    json ep = {{"events", endpoint->events_endpoint()}, {"control", endpoint->control_endpoint()},
               {"run", opts.name}, {"pid", static_cast<int64_t>(::getpid())}, {"protocol", ipc::protocol::kVersion},
               {"curve", !eo.curve_public_key.empty()}};
    if (!eo.curve_public_key.empty()) ep["server_public_key"] = eo.curve_public_key;
    write_text_atomically(run_dir / "endpoints.json", ep.dump(2) + "\n");
  }
  log->sinks().push_back(std::make_shared<CallbackSink>([this](const std::string& line) {
    emit_event(step, ipc::event::kLog, {{"level", "info"}, {"message", line}});
  }));
}

// The step boundary, the same on every rank: rank 0 waits out a pause (telling the others every 200 ms
// that it is still there, so their collectives do not time out), then sends what to apply.
RunControl::Boundary Trainer::Impl::sync_boundary() {
  auto on_state = [&](const std::string& state) {
    set_state(state, state == ipc::protocol::kStatePaused ? control->pause_reason() : std::string());
    log->info("{} at step {}", state == ipc::protocol::kStatePaused ? "paused" : "resumed", step);
  };
  if (dist->world() == 1) {
    auto b = control->step_boundary(step, on_state);
    b.stop = b.stop || stop_flag->load();
    return b;
  }
  if (main) {
    auto b = control->step_boundary(step, on_state, [&] { dist->broadcast(R"({"wait":true})"); });
    b.stop = b.stop || stop_flag->load();
    dist->broadcast(json{{"changed", b.changed}, {"config", b.config.has_value()}, {"stop", b.stop}}.dump());
    return b;
  }
  for (;;) {
    const json j = json::parse(dist->broadcast(""));
    if (j.value("wait", false)) continue;
    RunControl::Boundary b;
    b.changed = j.at("changed");
    if (j.at("config").get<bool>()) b.config = cfg;  // apply_boundary reads the changes, not this copy
    b.stop = j.at("stop").get<bool>();
    return b;  // checkpoints are rank 0's to write
  }
}

// Applies what the protocol asked for at this step boundary: live hyperparameters, a checkpoint.
void Trainer::Impl::apply_boundary(const RunControl::Boundary& b) {
  if (b.config) {
    // Only live keys can differ (the control validated them); take exactly those.
    for (const auto& [key, change] : b.changed.items()) set_config_value(cfg, key, change["to"], true, "set");
    validate_config(cfg);
    if (cfg.grpo.beta > 0.0 && !reference) load_reference();  // β switched on: load π_ref now
    emit_event(step, ipc::event::kHparams, {{"changed", b.changed}, {"from_step", step + 1}});
    log->info("set at step {}: {}", step, b.changed.dump());
  }
  if (b.checkpoint) checkpoint();
}

// The frozen reference policy π_ref: the starting model, never the resumed one.
void Trainer::Impl::load_reference() {
  reference = initial_model();
  reference->eval();
  for (auto& p : reference->parameters()) p.set_requires_grad(false);
}

// Progress goes to the terminal and to <run>/trainer.log.
void Trainer::Impl::open_log() {
  log = std::make_shared<spdlog::logger>("grpo-" + opts.name + "-rank" + std::to_string(dist->rank()));
  if (!main) return;  // rank 0 alone prints and writes
  log->sinks().push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>((run_dir / "trainer.log").string()));
  if (opts.progress) log->sinks().push_back(std::make_shared<spdlog::sinks::stdout_sink_mt>());
  log->set_pattern("%v");
  log->flush_on(spdlog::level::info);
}

void Trainer::Impl::setup_new_run() {
  if (main && fs::exists(run_dir))
    throw ConfigError("run folder '" + run_dir_str + "' already exists: pass --resume to continue it, or another --name");
  model = initial_model();  // may update cfg.model from the checkpoint
  check_context();
  if (main) fs::create_directories(run_dir / "checkpoints");
  open_log();
  if (main) {
    write_text_atomically(run_dir / "config.json", config_to_json(cfg).dump(2) + "\n");
    store = std::make_unique<ipc::RunStore>(ipc::RunStore::open_for_writing((run_dir / "run.sqlite").string()));
    record_process();
    store->set_meta("run_id", opts.name);
    store->set_meta("config", config_to_json(cfg).dump());
    store->set_meta("created", std::to_string(unix_now()));
  }

  if (cfg.grpo.beta > 0.0) {
    load_reference();
  }
  policy_is_reference = true;  // both are initial_model()
  optimizer = make_optimizer(model, cfg.optim);
  gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(cfg.seed));

  start_serving();
  emit_event(0, ipc::event::kStart, {{"config", config_to_json(cfg)}, {"parameters", model->num_parameters()},
                          {"world_size", dist->world()}});
  log->info("run {} | {} | {:.3f}M parameters | {} steps of {} prompts x {} completions{}", run_dir_str,
            !cfg.model.path.empty() ? cfg.model.path : cfg.model.init.empty() ? "random init" : cfg.model.init, model->num_parameters() / 1e6, cfg.max_steps,
            cfg.grpo.prompts_per_step, cfg.grpo.group_size,
            dist->world() > 1 ? " | " + std::to_string(dist->world()) + " ranks (Gloo)" : std::string());
}

void Trainer::Impl::setup_resumed_run() {
  if (!fs::is_directory(run_dir)) throw ConfigError("--resume: no run folder '" + run_dir_str + "'");
  // A trainer still writing this folder must not get a second one; one killed mid-way left its
  // endpoints.json behind, which nobody may take for a ready trainer.
  const ipc::RunLiveness before = main ? ipc::probe_run(run_dir_str) : ipc::RunLiveness{};
  if (before.verdict == ipc::RunLiveness::Verdict::kLive)
    throw ConfigError("--resume: run '" + opts.name + "' is still " + before.message + "; stop it first (or attach to it)");
  if (main) {
    std::error_code ec;
    fs::remove(run_dir / "endpoints.json", ec);
  }
  const auto latest = latest_checkpoint((run_dir / "checkpoints").string());
  if (!latest) throw ConfigError("--resume: '" + run_dir_str + "/checkpoints' holds no checkpoint to resume from");
  auto ck = read_checkpoint(*latest);
  if (ck.header.kind != "train" || !ck.has_optimizer)
    throw CheckpointError("checkpoint '" + *latest + "' holds no optimizer state; it cannot resume a run");

  open_log();

  // The checkpoint's tokenizer is the run's; a --set model.path pointing elsewhere would pair these weights
  // with another vocabulary.
  if (ck.header.tokenizer != tokenizer->describe())
    throw ConfigError("--resume: checkpoint '" + *latest + "' was trained with tokenizer '" +
                      ck.header.tokenizer.substr(0, 120) + "', but the config's model gives '" +
                      tokenizer->describe().substr(0, 120) + "' (model.path changed?)");
  restore_training_state(ck);

  int64_t recorded = step;
  if (main) {
    write_text_atomically(run_dir / "config.json", config_to_json(cfg).dump(2) + "\n");
    store = std::make_unique<ipc::RunStore>(ipc::RunStore::open_for_writing((run_dir / "run.sqlite").string()));
    record_process();
    recorded = store->last_step();
    store->truncate_after_step(step);
    store->set_meta("config", config_to_json(cfg).dump());
  }
  start_serving();
  emit_event(step, ipc::event::kResume,
             {{"checkpoint", *latest}, {"from_step", step}, {"discarded_steps", std::max<int64_t>(0, recorded - step)}});
  if (before.verdict == ipc::RunLiveness::Verdict::kDead) log->info("{} {}; resuming", run_dir_str, before.message);
  log->info("resumed {} from {} (step {})", run_dir_str, *latest, step);
}

// The training state a checkpoint holds: weights, optimizer, step, data position, RNG, watchdogs' memory.
void Trainer::Impl::restore_training_state(const LoadedCheckpoint& ck) {
  // The weights are the checkpoint's: a model.* key that differs would describe another model.
  if (!ck.header.config.empty()) {
    const json changed = config_changes(config_from_json(ck.header.config, "checkpoint '" + ck.path + "'"), cfg);
    for (const auto& [key, change] : changed.items())
      if (key.rfind("model.", 0) == 0)
        throw ConfigError("'" + key + "' cannot change from the checkpoint's " + change["from"].dump() + " to " +
                          change["to"].dump() + ": a resumed or forked run continues checkpoint '" + ck.path +
                          "''s model (start a new run to change it)");
  }
  model = ck.model;
  if (ck.header.tokenizer != tokenizer->describe())
    throw ConfigError("checkpoint '" + ck.path + "' was trained with tokenizer '" + ck.header.tokenizer.substr(0, 120) +
                      "', but the config's model gives '" + tokenizer->describe().substr(0, 120) + "' (model.path changed?)");
  check_context();
  step = ck.header.step;
  last_checkpoint_step = step;
  tokens_total = ck.header.state.value("tokens_total", int64_t{0});
  prompts->restore(ck.header.state);
  watchdogs.restore(ck.header.state.value("watchdogs", json()));
  gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(cfg.seed));
  if (ck.torch_rng.defined()) gen.set_state(ck.torch_rng);
  optimizer = make_optimizer(model, cfg.optim);
  read_optimizer_state(ck.path, *optimizer);
  if (cfg.grpo.beta > 0.0) load_reference();
}

// A fork: a new run folder that starts from another run's checkpoint (exact weights, optimizer, data
// position and RNG), with the config in effect there plus the --set changes. Its store names the parent;
// its first checkpoint (at the fork step) is its own copy, so the parent may be pruned, killed or deleted.
void Trainer::Impl::setup_forked_run() {
  if (main && fs::exists(run_dir))
    throw ConfigError("run folder '" + run_dir_str + "' already exists: give the fork another --name");
  const ForkPoint fp = find_fork_point(opts.fork, opts.fork_step);
  auto ck = read_checkpoint(fp.checkpoint);
  restore_training_state(ck);
  if (main) fs::create_directories(run_dir / "checkpoints");
  open_log();
  const std::string parent_dir = fs::absolute(opts.fork).lexically_normal().string();
  const std::string parent_run = fs::path(parent_dir).filename().string();
  if (main) {
    write_text_atomically(run_dir / "config.json", config_to_json(cfg).dump(2) + "\n");
    store = std::make_unique<ipc::RunStore>(ipc::RunStore::open_for_writing((run_dir / "run.sqlite").string()));
    record_process();
    store->set_meta("run_id", opts.name);
    store->set_meta("config", config_to_json(cfg).dump());
    store->set_meta("created", std::to_string(unix_now()));
    store->set_meta(ipc::meta::kParentRun, parent_run);
    store->set_meta(ipc::meta::kParentDir, parent_dir);
    store->set_meta(ipc::meta::kParentStep, std::to_string(step));
  }
  start_serving();
  control->add_info({{"parent", {{"run", parent_run}, {"dir", parent_dir}, {"step", step}}}});  // hello names it
  const json changed = config_changes(fp.config, cfg);
  emit_event(step, ipc::event::kFork,
             {{"parent_run", parent_run}, {"parent_dir", parent_dir}, {"parent_step", step}, {"checkpoint", fp.checkpoint},
              {"changed", changed}, {"config", config_to_json(cfg)}, {"parameters", model->num_parameters()},
              {"world_size", dist->world()}});
  if (main) checkpoint();  // the fork's own starting point
  log->info("fork {} of {} at step {} ({}) | changed: {}", run_dir_str, parent_dir, step, fp.checkpoint,
            changed.empty() ? std::string("nothing") : changed.dump());
}

std::string Trainer::Impl::checkpoint() {
  CheckpointHeader h;
  h.kind = "train";
  h.step = step;
  h.model = model->spec();
  h.tokenizer = tokenizer->describe();
  h.config = config_to_json(cfg);
  h.state = prompts->state();  // the data position (or the built-in task's generator)
  h.state["tokens_total"] = tokens_total;
  h.state["watchdogs"] = watchdogs.state();
  const std::string previous_state = control->state();
  control->set_state(ipc::protocol::kStateCheckpointing);
  const torch::Tensor rng_state = gen.get_state();
  const std::string dir = (run_dir / "checkpoints").string();
  const std::string path = checkpoint_path(dir, step);
  write_checkpoint(path, h, model, optimizer.get(), &rng_state);
  prune_checkpoints(dir, cfg.keep_checkpoints);
  emit_event(step, ipc::event::kCheckpoint, {{"path", path}});
  last_checkpoint_step = step;
  control->set_state(previous_state);
  return path;
}

// Evaluation, recorded as eval/* metrics of the current step (step 0: the starting model): data.eval's rows
// when set, else the built-in task's held-out problems (a dataset run without data.eval has none). Its own
// generator keeps the training RNG, and so resumes, untouched.
void Trainer::Impl::held_out_eval() {
  const uint64_t seed = static_cast<uint64_t>(cfg.seed) * 1000003 + static_cast<uint64_t>(step);
  if (!eval_rows.empty()) {
    DataEvalOptions eo;
    eo.prompts = cfg.eval_prompts;
    eo.samples = cfg.eval_samples;
    eo.temperature = cfg.sampling.temperature;
    eo.max_new_tokens = cfg.sampling.max_new_tokens;
    eo.seed = seed;
    const DataEvalResult e = evaluate_dataset(model, *tokenizer, eval_rows, *rewards, cfg.rewards, eo,
                                              [this](bool w, const std::string& why) { return on_reward_wait(w, why); });
    emit_metrics(step, e.metrics());
    log->info("eval  {:>4} | data.eval greedy acc {:.3f} | sampled acc {:.3f} | pass@{} {:.3f} | len {:.1f} | {:.1f} s",
              step, e.all.greedy_accuracy, e.all.sampled_accuracy, cfg.eval_samples, e.all.pass_at_k,
              e.all.mean_length, e.seconds);
    record_eval_samples();
    return;
  }
  if (!cfg.data.train.empty()) return;  // no data.eval: nothing held out to measure
  EvalOptions eo;
  eo.prompts = cfg.eval_prompts;
  eo.samples_per_prompt = 1;
  eo.temperature = cfg.sampling.temperature;
  eo.max_new_tokens = cfg.sampling.max_new_tokens;
  eo.seed = seed;
  const EvalResult e = evaluate(model, *task, *tokenizer, eo);
  emit_metrics(step, {{metric::kEvalGreedyAccuracy, e.greedy_accuracy},
                         {metric::kEvalSampledAccuracy, e.sampled_accuracy},
                         {metric::kEvalFirstAnswerAccuracy, e.first_answer_accuracy},
                         {metric::kEvalCheckRate, e.check_rate},
                         {metric::kEvalPCorrectChecked, e.p_correct_checked},
                         {metric::kEvalPCorrectUnchecked, e.p_correct_unchecked},
                         {metric::kEvalFormatRate, e.format_rate},
                         {metric::kEvalMeanLength, e.mean_length},
                         {metric::kTimeEval, e.seconds}});
  log->info("eval  {:>4} | held-out greedy acc {:.3f} | sampled acc {:.3f} | check rate {:.3f} | len {:.1f} | {:.1f} s",
            step, e.greedy_accuracy, e.sampled_accuracy, e.check_rate, e.mean_length, e.seconds);
  record_eval_samples();
}

// An evaluation that a stop may cut short while the reward server does not answer: it is skipped, and the
// stop takes effect at the next boundary.
void Trainer::Impl::guarded_eval() {
  try {
    held_out_eval();
  } catch (const RewardWaitAborted& e) {
    log->info("evaluation at step {} skipped: {}", step, e.what());
    if (waiting) set_state(ipc::protocol::kStateRunning);
    waiting = false;
  }
}

// The reward server stopped answering (waiting) or answers again: the run's state says so, and the studio
// shows the reason. A stop asked for meanwhile ends the wait (the step is abandoned).
bool Trainer::Impl::on_reward_wait(bool now_waiting, const std::string& reason) {
  if (now_waiting && !waiting) {
    log->warn("{}: waiting (training continues when it answers; stop ends the run at the last step)", reason);
    set_state(ipc::protocol::kStateWaiting, reason);
  } else if (!now_waiting && waiting) {
    log->info("the reward server answers again; training continues");
    set_state(ipc::protocol::kStateRunning);
  }
  waiting = now_waiting;
  return !control->stop_requested();
}

// A fired watchdog: its `watchdog` event (with the newest checkpoint before it, where a fork would start),
// a log line, and its action: checkpoint_pause writes a checkpoint first; pause and checkpoint_pause make
// the run wait at the next boundary, as a client's pause does, with the rule as the reason.
void Trainer::Impl::act_on_watchdogs(const std::vector<WatchdogFiring>& fired) {
  for (const auto& f : fired) {
    json data = f.to_json();
    if (f.action == ipc::watchdog::kActionCheckpointPause) checkpoint();
    if (last_checkpoint_step >= 0) data["checkpoint_step"] = last_checkpoint_step;
    emit_event(step, ipc::event::kWatchdog, data);
    log->warn("watchdog {} ({}) at step {}: {}", f.rule, f.action, step, f.message);
    if (f.pauses()) control->request_pause("watchdog " + f.rule + ": " + f.message);
  }
}

void Trainer::Impl::print_progress(const std::map<std::string, double>& m, double step_seconds) {
  const double avg = seconds_since(started) / static_cast<double>(std::max<int64_t>(steps_this_session, 1));
  const double eta = avg * static_cast<double>(std::max<int64_t>(cfg.max_steps - step, 0));
  log->info("step {:>4}/{} | reward {:.3f} | acc {:.3f} | verify {:.2f} | len {:5.1f} | kl {:.4f} | "
            "gen {:.1f}k tok/s | train {:.1f}k tok/s | {:.2f} s/step | ETA {}",
            step, cfg.max_steps, m.at(metric::kReward), m.at(metric::kAccuracy), m.at(metric::kVerifyRate),
            m.at(metric::kMeanLength), m.at(metric::kKl), m.at(metric::kTokensPerSecGeneration) / 1000.0,
            m.at(metric::kTokensPerSecTraining) / 1000.0, step_seconds, human_duration(eta));
}

std::map<std::string, double> Trainer::step() {
  auto& s = *impl_;
  const auto t0 = Clock::now();
  auto m = s.grpo_step();
  ++s.steps_this_session;
  if (!s.main) return m;  // rank 0 alone prints, evaluates and checkpoints
  if (s.opts.progress || s.log) s.print_progress(m, seconds_since(t0));
  if (s.cfg.eval_every > 0 && (s.step % s.cfg.eval_every == 0 || s.step == s.cfg.max_steps)) s.guarded_eval();
  if (s.cfg.checkpoint_every > 0 && s.step % s.cfg.checkpoint_every == 0 && s.step < s.cfg.max_steps) s.checkpoint();
  return m;
}

void Trainer::train() {
  auto& s = *impl_;
  s.started = Clock::now();
  s.steps_this_session = 0;
  try {
    s.set_state(ipc::protocol::kStateRunning);
    if (s.main && s.step == 0 && s.cfg.eval_every > 0) s.guarded_eval();  // the start of every eval/* curve
    bool stopped = false;
    while (s.step < s.cfg.max_steps) {
      // Step boundary: wait here while paused; apply live changes, checkpoints and stop requests (rank 0
      // receives them and every rank applies them here, before the same step).
      const auto boundary = s.sync_boundary();
      s.apply_boundary(boundary);
      if (boundary.stop) {
        stopped = true;
        break;
      }
      s.control->begin_step();
      try {
        step();
      } catch (const StepAbandoned& e) {
        s.log->info("{}", e.what());
        s.waiting = false;
        stopped = true;
        break;
      }
    }
    if (!s.main) return;  // rank 0 writes the final checkpoint
    stopped |= stop_requested_.load();
    s.set_state(ipc::protocol::kStateStopping);
    const std::string path = s.checkpoint();
    s.emit_event(s.step, stopped ? "stop" : "finish", {{"checkpoint", path}});
    s.log->info("{} at step {}; checkpoint {}", stopped ? ipc::protocol::kStateStopped : ipc::protocol::kStateFinished, s.step, path);
    if (s.cfg.export_on_finish) {
      // The run itself is done and checkpointed: a failed export is reported, not a failed run (the
      // checkpoint can be exported again with `grpo-train export`).
      ExportOptions eo;
      eo.dtype = s.cfg.export_dtype;
      const std::string dir = (s.run_dir / "export").string();
      try {
        export_hf_model(s.model, *s.tokenizer, dir, eo);
        s.emit_event(s.step, ipc::event::kExport, {{"path", dir}, {"dtype", eo.dtype}});
        s.log->info("exported the model ({}) to {}", eo.dtype, dir);
      } catch (const std::exception& e) {
        s.emit_event(s.step, ipc::event::kExport, {{"path", dir}, {"error", e.what()}});
        s.log->info("export to {} failed: {} (grpo-train export --checkpoint {} --out DIR retries it)", dir, e.what(), path);
      }
    }
    s.set_state(stopped ? ipc::protocol::kStateStopped : ipc::protocol::kStateFinished);
    if (s.endpoint) {
      // Let subscribers see the final state, then stop serving.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      s.endpoint.reset();
      std::error_code ec;
      fs::remove(s.run_dir / "endpoints.json", ec);
    }
  } catch (const std::exception& e) {
    s.set_state(ipc::protocol::kStateFailed, e.what());
    throw;
  }
}

std::pair<std::string, std::string> Trainer::endpoints() const {
  if (!impl_->endpoint) return {};
  return {impl_->endpoint->events_endpoint(), impl_->endpoint->control_endpoint()};
}

int64_t Trainer::current_step() const { return impl_->step; }
const Config& Trainer::config() const { return impl_->cfg; }
const std::string& Trainer::run_dir() const { return impl_->run_dir_str; }
std::string Trainer::save_checkpoint() { return impl_->checkpoint(); }

}  // namespace grpo

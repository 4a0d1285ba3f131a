// The GRPO training loop (see trainer.h). Reads top to bottom: setup (run folder, model, reference,
// optimizer, store), then step(): rollout -> rewards -> advantages -> policy update -> metrics -> store.
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
#include "ipc/protocol.h"
#include "ipc/run_store.h"
#include "trainer/checkpoint.h"
#include "trainer/control.h"
#include "trainer/evaluate.h"
#include "trainer/grpo_loss.h"
#include "trainer/optimizer.h"
#include "trainer/rewards.h"
#include "trainer/runtime.h"
#include "trainer/sampler.h"
#include "trainer/task.h"
#include "trainer/tokenizer.h"

namespace grpo {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

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

std::string rng_to_string(const std::mt19937_64& rng) {
  std::ostringstream os;
  os << rng;
  return os.str();
}

void rng_from_string(std::mt19937_64& rng, const std::string& s) {
  std::istringstream is(s);
  is >> rng;
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

double mean_of(const std::vector<double>& v) {
  if (v.empty()) return std::nan("");
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// Row-wise concatenation of two rollouts, re-padding prompts (left) and completions (right).
Rollout concat(const Rollout& a, const Rollout& b, int64_t pad_id) {
  auto pad_left = [&](const torch::Tensor& t, int64_t width, double value) {
    if (t.size(1) == width) return t;
    return torch::cat({torch::full({t.size(0), width - t.size(1)}, value, t.options()), t}, 1);
  };
  auto pad_right = [&](const torch::Tensor& t, int64_t width, double value) {
    if (t.size(1) == width) return t;
    return torch::cat({t, torch::full({t.size(0), width - t.size(1)}, value, t.options())}, 1);
  };
  const int64_t P = std::max(a.prompt.size(1), b.prompt.size(1));
  const int64_t L = std::max(a.completion.size(1), b.completion.size(1));
  Rollout r;
  r.prompt = torch::cat({pad_left(a.prompt, P, pad_id), pad_left(b.prompt, P, pad_id)});
  r.prompt_valid = torch::cat({pad_left(a.prompt_valid, P, 0), pad_left(b.prompt_valid, P, 0)});
  r.completion = torch::cat({pad_right(a.completion, L, pad_id), pad_right(b.completion, L, pad_id)});
  r.completion_mask = torch::cat({pad_right(a.completion_mask, L, 0), pad_right(b.completion_mask, L, 0)});
  r.lengths = a.lengths;
  r.lengths.insert(r.lengths.end(), b.lengths.begin(), b.lengths.end());
  r.truncated = a.truncated;
  r.truncated.insert(r.truncated.end(), b.truncated.begin(), b.truncated.end());
  return r;
}

Rollout select_rows(const Rollout& r, const std::vector<int64_t>& rows) {
  auto idx = torch::tensor(rows, torch::kLong).to(r.prompt.device());
  Rollout out;
  out.prompt = r.prompt.index_select(0, idx);
  out.prompt_valid = r.prompt_valid.index_select(0, idx);
  out.completion = r.completion.index_select(0, idx);
  out.completion_mask = r.completion_mask.index_select(0, idx);
  for (int64_t i : rows) {
    out.lengths.push_back(r.lengths[static_cast<size_t>(i)]);
    out.truncated.push_back(r.truncated[static_cast<size_t>(i)]);
  }
  return out;
}

template <typename T>
std::vector<T> row_to_vector(const torch::Tensor& t, int64_t row, int64_t n) {
  auto r = t[row].narrow(0, 0, n).contiguous().cpu();
  if constexpr (std::is_same_v<T, float>) r = r.to(torch::kFloat32);
  if constexpr (std::is_same_v<T, int32_t>) r = r.to(torch::kInt32);
  return std::vector<T>(r.data_ptr<T>(), r.data_ptr<T>() + n);
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

std::string resolve_model_path(const std::string& init) {
  const std::string prefix = "builtin:";
  if (init.rfind(prefix, 0) != 0) return init;
  const std::string file = init.substr(prefix.size()) + ".pt";
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("GRPO_RESOURCES_DIR")) dirs.emplace_back(fs::path(env) / "models");
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    dirs.push_back(exe.parent_path() / "../share/grpo-studio/models");
    dirs.push_back(exe.parent_path() / "resources/models");
  }
#ifdef GRPO_SOURCE_RESOURCES_DIR
  dirs.emplace_back(fs::path(GRPO_SOURCE_RESOURCES_DIR) / "models");
#endif
  for (const auto& d : dirs)
    if (fs::exists(d / file)) return fs::canonical(d / file).string();
  throw ConfigError("model.init: built-in model '" + init + "' not found (looked for " + file +
                    " under $GRPO_RESOURCES_DIR/models and the install's resources/models)");
}

// ---------------------------------------------------------------------------------------------------
struct Trainer::Impl {
  Config cfg;
  RunOptions opts;
  fs::path run_dir;
  std::string run_dir_str;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ArithmeticTask> task;
  Transformer model{nullptr};
  Transformer reference{nullptr};  // frozen starting policy; null when beta = 0
  std::unique_ptr<torch::optim::AdamW> optimizer;
  at::Generator gen;
  std::mt19937_64 prompt_rng;
  std::unique_ptr<ipc::RunStore> store;
  std::unique_ptr<RunControl> control;
  std::unique_ptr<ipc::TrainerEndpoint> endpoint;  // null when not serving
  std::unique_ptr<Distributed> dist;               // the data-parallel group (a world of one: no-ops)
  bool main = true;                                // rank 0: the only one that prints, writes and serves
  const std::atomic<bool>* stop_flag = nullptr;
  std::shared_ptr<spdlog::logger> log;
  int64_t step = 0;
  int64_t tokens_total = 0;  // completion tokens generated since the run began
  Clock::time_point started = Clock::now();
  int64_t steps_this_session = 0;

  Transformer initial_model();
  void setup_new_run();
  void start_serving();
  void emit_metrics(int64_t at_step, const std::map<std::string, double>& values);
  void emit_event(int64_t at_step, const std::string& kind, const json& data);
  void set_state(const std::string& state, const std::string& reason = "");
  RunControl::Boundary sync_boundary();
  void apply_boundary(const RunControl::Boundary& b);
  void open_log();
  void load_reference();
  void check_context() const;
  void setup_resumed_run();
  std::map<std::string, double> grpo_step();
  void record_samples(const std::vector<Problem>& problems, const Rollout& rollout, const torch::Tensor& old_logp,
                      const torch::Tensor& ref_logp, const std::vector<RewardBreakdown>& scores,
                      const torch::Tensor& advantages, int64_t groups);
  std::string checkpoint();
  void held_out_eval();
  void print_progress(const std::map<std::string, double>& m, double step_seconds);
};

// The starting policy: the `model.init` checkpoint, or a seeded random init. Also the reference policy.
Transformer Trainer::Impl::initial_model() {
  if (cfg.model.init.empty()) {
    torch::manual_seed(static_cast<uint64_t>(cfg.seed));
    ModelOptions mo;
    mo.vocab_size = tokenizer->vocab_size();
    mo.d_model = cfg.model.d_model;
    mo.n_layers = cfg.model.n_layers;
    mo.n_heads = cfg.model.n_heads;
    mo.n_kv_heads = cfg.model.n_kv_heads;
    mo.mlp_hidden = cfg.model.mlp_hidden;
    mo.context = cfg.model.context;
    mo.rope_base = cfg.model.rope_base;
    mo.norm_eps = cfg.model.norm_eps;
    return Transformer(mo);
  }
  const std::string path = resolve_model_path(cfg.model.init);
  auto ck = read_checkpoint(path);
  if (ck.header.tokenizer != tokenizer->describe())
    throw ConfigError("model.init: '" + path + "' was trained with tokenizer '" + ck.header.tokenizer.substr(0, 60) +
                      "', not the built-in task's");
  // The checkpoint's sizes win; the effective config records them.
  const auto& m = ck.header.model;
  cfg.model.d_model = m.d_model;
  cfg.model.n_layers = m.n_layers;
  cfg.model.n_heads = m.n_heads;
  cfg.model.n_kv_heads = m.n_kv_heads;
  cfg.model.mlp_hidden = m.mlp_hidden;
  cfg.model.context = m.context;
  cfg.model.rope_base = m.rope_base;
  cfg.model.norm_eps = m.norm_eps;
  return ck.model;
}

Trainer::Trainer(Config config, RunOptions options) : impl_(std::make_unique<Impl>()) {
  auto& s = *impl_;
  s.cfg = std::move(config);
  s.opts = std::move(options);
  s.stop_flag = &stop_requested_;
  validate_config(s.cfg);
  configure_runtime(s.cfg.threads);
  if (s.cfg.device != "cpu")
    throw ConfigError("config: device '" + s.cfg.device + "' needs a CUDA-enabled LibTorch build; this one is CPU-only");

  s.tokenizer = std::make_unique<CharTokenizer>(builtin_alphabet());
  s.task = std::make_unique<ArithmeticTask>(s.cfg.task);

  const int world = s.opts.dist.world;
  if (world > 1 && s.cfg.grpo.prompts_per_step % (s.cfg.grpo.minibatches * world) != 0)
    throw ConfigError("grpo.prompts_per_step: " + std::to_string(s.cfg.grpo.prompts_per_step) + " prompts cannot be split into " +
                      std::to_string(s.cfg.grpo.minibatches) + " minibatches x " + std::to_string(world) +
                      " ranks; make it a multiple of " + std::to_string(s.cfg.grpo.minibatches * world));

  if (s.opts.name.empty()) {
    if (s.opts.resume) throw ConfigError("--resume needs --name NAME: the run folder to continue");
    s.opts.name = s.cfg.name + "-" + timestamp();
  }
  s.dist = std::make_unique<Distributed>(s.opts.dist, std::chrono::seconds(s.cfg.dist_timeout));
  s.main = s.dist->is_main();
  s.opts.name = s.dist->broadcast(s.opts.name);  // rank 0's timestamp names the run on every rank
  s.run_dir = fs::path(s.opts.runs_dir) / s.opts.name;
  s.run_dir_str = s.run_dir.string();

  if (s.opts.resume) {
    s.setup_resumed_run();
  } else {
    s.setup_new_run();
  }
  // Every rank starts from rank 0's weights (as DDP does), whatever its own init or file system held.
  s.dist->broadcast_parameters(s.model->parameters());
}

Trainer::~Trainer() = default;

// Prompt plus completion must fit the model's context (known once the model is loaded).
void Trainer::Impl::check_context() const {
  const int64_t need = static_cast<int64_t>(task->prompt_length()) + cfg.sampling.max_new_tokens;
  if (need > model->options().context)
    throw ConfigError("sampling.max_new_tokens: prompt (" + std::to_string(task->prompt_length()) + ") + " +
                      std::to_string(cfg.sampling.max_new_tokens) + " new tokens exceed the model's context of " +
                      std::to_string(model->options().context));
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

void Trainer::Impl::set_state(const std::string& state, const std::string& reason) {
  control->set_state(state);
  json data = {{"state", state}, {"step", step}};
  if (!reason.empty()) data["reason"] = reason;
  emit_event(step, "status", data);
  if (store && (state == "running" || state == "finished" || state == "failed" || state == "stopped"))
    store->set_meta("state", state);
}

// Binds the protocol's sockets (unless told not to), writes endpoints.json, and forwards log lines.
void Trainer::Impl::start_serving() {
  control = std::make_unique<RunControl>(cfg, opts.name, json{{"pid", static_cast<int64_t>(::getpid())}, {"run_dir", run_dir_str}},
                                         stop_flag);
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
    emit_event(step, "log", {{"level", "info"}, {"message", line}});
  }));
}

// The step boundary, the same on every rank: rank 0 waits out a pause (telling the others every 200 ms
// that it is still there, so their collectives do not time out), then sends what to apply.
RunControl::Boundary Trainer::Impl::sync_boundary() {
  auto on_state = [&](const std::string& state) {
    set_state(state);
    log->info("{} at step {}", state == "paused" ? "paused" : "resumed", step);
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
    emit_event(step, "hparams", {{"changed", b.changed}, {"from_step", step + 1}});
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
    store->set_meta("run_id", opts.name);
    store->set_meta("config", config_to_json(cfg).dump());
    store->set_meta("created", std::to_string(unix_now()));
  }

  if (cfg.grpo.beta > 0.0) {
    load_reference();
  }
  optimizer = make_optimizer(model, cfg.optim);
  gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(cfg.seed));
  prompt_rng.seed(static_cast<uint64_t>(cfg.seed));

  start_serving();
  emit_event(0, "start", {{"config", config_to_json(cfg)}, {"parameters", model->num_parameters()},
                          {"world_size", dist->world()}});
  log->info("run {} | {} | {:.3f}M parameters | {} steps of {} prompts x {} completions{}", run_dir_str,
            cfg.model.init.empty() ? "random init" : cfg.model.init, model->num_parameters() / 1e6, cfg.max_steps,
            cfg.grpo.prompts_per_step, cfg.grpo.group_size,
            dist->world() > 1 ? " | " + std::to_string(dist->world()) + " ranks (Gloo)" : std::string());
}

void Trainer::Impl::setup_resumed_run() {
  if (!fs::is_directory(run_dir)) throw ConfigError("--resume: no run folder '" + run_dir_str + "'");
  const auto latest = latest_checkpoint((run_dir / "checkpoints").string());
  if (!latest) throw ConfigError("--resume: '" + run_dir_str + "/checkpoints' holds no checkpoint to resume from");
  auto ck = read_checkpoint(*latest);
  if (ck.header.kind != "train" || !ck.has_optimizer)
    throw CheckpointError("checkpoint '" + *latest + "' holds no optimizer state; it cannot resume a run");

  open_log();

  model = ck.model;
  check_context();
  step = ck.header.step;
  tokens_total = ck.header.state.value("tokens_total", int64_t{0});
  rng_from_string(prompt_rng, ck.header.state.at("prompt_rng").get<std::string>());
  gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(cfg.seed));
  if (ck.torch_rng.defined()) gen.set_state(ck.torch_rng);
  optimizer = make_optimizer(model, cfg.optim);
  read_optimizer_state(*latest, *optimizer);
  if (cfg.grpo.beta > 0.0) {
    load_reference();
  }

  int64_t recorded = step;
  if (main) {
    write_text_atomically(run_dir / "config.json", config_to_json(cfg).dump(2) + "\n");
    store = std::make_unique<ipc::RunStore>(ipc::RunStore::open_for_writing((run_dir / "run.sqlite").string()));
    recorded = store->last_step();
    store->truncate_after_step(step);
    store->set_meta("config", config_to_json(cfg).dump());
  }
  start_serving();
  emit_event(step, "resume",
             {{"checkpoint", *latest}, {"from_step", step}, {"discarded_steps", std::max<int64_t>(0, recorded - step)}});
  log->info("resumed {} from {} (step {})", run_dir_str, *latest, step);
}

std::map<std::string, double> Trainer::Impl::grpo_step() {
  const auto t_step = Clock::now();
  const auto& g = cfg.grpo;
  const int64_t G = g.group_size;
  const int W = dist->world();
  ++step;
  dist->mark_progress(step);
  const double lr = learning_rate_at(cfg.optim, step, cfg.max_steps);
  set_learning_rate(*optimizer, lr);
  model->train();

  SamplingOptions so;
  so.temperature = cfg.sampling.temperature;
  so.top_p = cfg.sampling.top_p;
  so.max_new_tokens = cfg.sampling.max_new_tokens;

  // This rank's share of each batch of P prompts: of each minibatch's groups, the rank-th of W equal parts,
  // so the ranks together train on exactly the minibatches one process would (one process: all of them).
  std::vector<int64_t> mine;
  for (int64_t k = 0; k < g.minibatches; ++k) {
    const int64_t lo = g.prompts_per_step * k / g.minibatches, n = g.prompts_per_step * (k + 1) / g.minibatches - lo;
    for (int64_t j = lo + n * dist->rank() / W; j < lo + n * (dist->rank() + 1) / W; ++j) mine.push_back(j);
  }
  const int64_t quota = static_cast<int64_t>(mine.size());

  // 1. Rollout: G completions for each of this rank's prompts, all rows decoded together. Every rank draws
  //    all P prompts and the whole batch's sampling noise, so prompt stream and generator stay in step.
  //    With dynamic sampling, groups whose rewards all agree are dropped and more prompts are drawn.
  const auto t_gen = Clock::now();
  std::vector<Problem> problems;
  std::vector<RewardBreakdown> scores;
  Rollout rollout;
  int64_t zero_std_first = 0, generated = 0, sampled_groups = 0;
  for (int64_t batch = 0; batch < (g.dynamic_sampling ? g.dynamic_sampling_max_batches : 1); ++batch) {
    std::vector<Problem> all_problems;
    for (int64_t p = 0; p < g.prompts_per_step; ++p) all_problems.push_back(task->sample(prompt_rng));
    std::vector<Problem> batch_problems;
    std::vector<std::vector<int64_t>> rows;
    BatchRows noise;
    if (W > 1) noise.batch_rows = g.prompts_per_step * G;
    for (int64_t j : mine) {
      batch_problems.push_back(all_problems[static_cast<size_t>(j)]);
      const auto ids = tokenizer->encode(batch_problems.back().prompt);
      for (int64_t i = 0; i < G; ++i) rows.push_back(ids), noise.rows.push_back(j * G + i);
    }
    Rollout r = generate(model, rows, so, tokenizer->eos_id(), tokenizer->pad_id(), gen, noise);
    if (W > 1) {  // catch up with the rank whose rows ran longest
      std::vector<double> longest{static_cast<double>(r.decode_steps)};
      dist->all_reduce(longest, Distributed::Reduce::kMax);
      skip_sampling_noise(gen, static_cast<int64_t>(longest[0]) - r.decode_steps, noise.batch_rows,
                          model->options().vocab_size);
    }
    std::vector<RewardBreakdown> batch_scores;
    for (int64_t b = 0; b < r.rows(); ++b) {
      const int64_t n = r.lengths[static_cast<size_t>(b)];
      generated += n;
      const auto toks = row_to_vector<int64_t>(r.completion, b, n - (r.truncated[static_cast<size_t>(b)] ? 0 : 1));
      const std::string text = tokenizer->decode(toks);
      batch_scores.push_back(score_completion(cfg.rewards, text, batch_problems[static_cast<size_t>(b / G)].answer, n,
                                              r.truncated[static_cast<size_t>(b)], so.max_new_tokens,
                                              /*grammar_ok=*/task->parse(text).well_formed));
    }
    sampled_groups += quota;
    // Keep the groups whose rewards differ (all of them without dynamic sampling).
    std::vector<int64_t> keep_rows;
    for (int64_t p = 0; p < quota; ++p) {
      bool spread = false;
      for (int64_t i = 1; i < G; ++i)
        spread |= batch_scores[static_cast<size_t>(p * G + i)].total != batch_scores[static_cast<size_t>(p * G)].total;
      if (batch == 0) zero_std_first += spread ? 0 : 1;
      if (spread || !g.dynamic_sampling) {
        if (static_cast<int64_t>(problems.size()) >= quota) break;
        problems.push_back(batch_problems[static_cast<size_t>(p)]);
        for (int64_t i = 0; i < G; ++i) {
          keep_rows.push_back(p * G + i);
          scores.push_back(batch_scores[static_cast<size_t>(p * G + i)]);
        }
      }
    }
    if (!keep_rows.empty()) {
      Rollout kept = static_cast<int64_t>(keep_rows.size()) == r.rows() ? r : select_rows(r, keep_rows);
      rollout = rollout.prompt.defined() ? concat(rollout, kept, tokenizer->pad_id()) : kept;
    }
    std::vector<double> short_of{static_cast<double>(static_cast<int64_t>(problems.size()) < quota)};
    dist->all_reduce(short_of, Distributed::Reduce::kMax);  // go on while any rank still lacks groups
    if (short_of[0] == 0) break;
  }
  const double gen_seconds = seconds_since(t_gen);
  const int64_t groups = static_cast<int64_t>(problems.size());
  const int64_t B = groups * G;
  std::vector<double> all_groups{static_cast<double>(groups)};
  dist->all_reduce(all_groups, Distributed::Reduce::kSum);
  const bool any_groups = all_groups[0] > 0;

  // 2. Advantages per group: A = (r − mean) / (std + ε), shared by every token of a completion.
  torch::Tensor rewards = torch::zeros({std::max<int64_t>(groups, 1), G}, torch::kFloat32);
  for (int64_t b = 0; b < B; ++b) rewards[b / G][b % G] = scores[static_cast<size_t>(b)].total;
  torch::Tensor advantages = groups > 0 ? group_advantages(rewards, g.scale_rewards, g.adv_eps).view({-1})
                                        : torch::zeros({0});  // (B)

  // 3. Old and reference log-probs. With one pass of one minibatch π_old = π_θ: the first forward pass's
  //    detached log-probs serve (ratio 1, gradients still flow), so no extra pass is spent on it.
  const auto t_score = Clock::now();
  const bool old_is_current = g.mu == 1 && g.minibatches == 1;
  torch::Tensor old_logp, ref_logp;
  if (groups > 0) {
    torch::NoGradGuard no_grad;
    if (!old_is_current) old_logp = score_completions(model, rollout, so.temperature, false).logp;
    if (reference && g.beta > 0.0) ref_logp = score_completions(reference, rollout, so.temperature, false).logp;
  }
  const double score_seconds = seconds_since(t_score);

  // 4. Policy update: mu passes, each split into minibatches of whole groups. Across ranks, each
  //    minibatch's loss is this rank's share of the whole minibatch's mean, and gradients are summed.
  const auto t_train = Clock::now();
  LossOptions lo;
  lo.epsilon_low = g.epsilon_low;
  lo.epsilon_high = g.epsilon_high;
  lo.beta = reference ? g.beta : 0.0;
  lo.agg = g.loss_agg == "token_mean" ? LossAggregation::kTokenMean : LossAggregation::kSequenceMean;
  double loss_sum = 0, kl_sum = 0, clip_low = 0, clip_high = 0, clip_region = 0, grad_norm_sum = 0;
  double entropy_sum = 0, entropy_tokens = 0, token_weight = 0;
  int64_t updates = 0, trained_tokens = 0;
  std::vector<double> update_loss, update_tokens;  // data-parallel: each update's share of the loss, whole tokens
  torch::Tensor logp_before = old_is_current && groups > 0 ? torch::zeros_like(rollout.completion_mask) : old_logp;
  const int64_t minibatches = W > 1 ? g.minibatches : std::min(g.minibatches, std::max<int64_t>(groups, 1));
  for (int64_t pass = 0; pass < g.mu && any_groups; ++pass) {
    for (int64_t mb = 0; mb < minibatches; ++mb) {
      const int64_t g0 = groups * mb / minibatches, g1 = groups * (mb + 1) / minibatches;
      if (g1 == g0 && W == 1) continue;
      const int64_t r0 = g0 * G, rn = (g1 - g0) * G;
      optimizer->zero_grad();
      std::optional<LossResult> res;
      double ntok = 0;
      if (rn > 0) {
        const Rollout sub = rollout.slice(r0, rn);
        const TokenScores ts = score_completions(model, sub, so.temperature, /*with_entropy=*/pass == 0);
        torch::Tensor old = old_is_current ? ts.logp.detach() : old_logp.narrow(0, r0, rn);
        torch::Tensor ref = ref_logp.defined() ? ref_logp.narrow(0, r0, rn) : torch::Tensor();
        res = grpo_loss(ts.logp, old, ref, advantages.narrow(0, r0, rn), sub.completion_mask, lo);
        ntok = sub.completion_mask.sum().item<double>();
        trained_tokens += static_cast<int64_t>(ntok) + sub.prompt_valid.sum().item<int64_t>();
        if (pass == 0) {
          entropy_sum += (ts.entropy * sub.completion_mask).sum().item<double>();
          entropy_tokens += ntok;
          if (old_is_current) logp_before.narrow(0, r0, rn).copy_(ts.logp.detach());
        }
      }
      if (W > 1) {
        // This rank's loss is a mean over its own rows (or tokens); weigh it by its share of the whole.
        std::vector<double> whole{static_cast<double>(rn), ntok};
        dist->all_reduce(whole, Distributed::Reduce::kSum);
        const double share = lo.agg == LossAggregation::kTokenMean ? (whole[1] > 0 ? ntok / whole[1] : 0.0)
                                                                   : (whole[0] > 0 ? rn / whole[0] : 0.0);
        if (res) (res->loss * share).backward();
        dist->all_reduce_gradients(model->parameters());
        update_loss.push_back(res ? res->loss.item<double>() * share : 0.0);  // summed over ranks below
        update_tokens.push_back(whole[1]);
      } else {
        res->loss.backward();
      }
      const double max_norm = cfg.optim.grad_clip > 0 ? cfg.optim.grad_clip : std::numeric_limits<double>::infinity();
      grad_norm_sum += torch::nn::utils::clip_grad_norm_(model->parameters(), max_norm);
      optimizer->step();
      ++updates;
      if (res) {
        token_weight += ntok;
        loss_sum += res->loss.item<double>() * ntok;
        kl_sum += res->kl_mean * ntok;
        clip_low += res->clip_low * ntok;
        clip_high += res->clip_high * ntok;
        clip_region += res->clip_region * ntok;
      }
    }
  }
  const double train_seconds = seconds_since(t_train);

  // 5. Metrics (names follow TRL's GRPOTrainer where one exists): sums and counts over this rank's
  //    completions, summed over the ranks; extremes reduced likewise.
  std::map<std::string, std::pair<double, double>> mean;  // name -> (sum, count)
  const std::vector<std::string> mean_names = {
      "reward", "reward_std", "accuracy", "format_rate", "completions/mean_length", "completions/clipped_ratio",
      "self_verification/rate", "self_verification/rate_correct", "self_verification/rate_wrong", "loss", "kl",
      "entropy", "clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean"};
  for (const auto& n : mean_names) mean[n] = {0.0, 0.0};
  std::vector<std::string> part_names = {"accuracy", "format"};
  if (cfg.rewards.overlong != 0.0) part_names.push_back("overlong");
  for (const auto& k : part_names) mean["reward/" + k + "/mean"] = {0.0, 0.0};
  auto add = [&](const std::string& name, double value, double weight = 1.0) {
    mean[name].first += value * weight;
    mean[name].second += weight;
  };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> lowest = {inf, inf}, highest = {-inf, -inf};  // reward, length
  for (int64_t b = 0; b < B; ++b) {
    const auto& s = scores[static_cast<size_t>(b)];
    const double len = static_cast<double>(rollout.lengths[static_cast<size_t>(b)]);
    add("reward", s.total);
    add("accuracy", s.correct);
    add("format_rate", s.well_formed);
    add("completions/mean_length", len);
    add("completions/clipped_ratio", rollout.truncated[static_cast<size_t>(b)] ? 1.0 : 0.0);
    add("self_verification/rate", s.verified);
    add(s.correct ? "self_verification/rate_correct" : "self_verification/rate_wrong", s.verified);
    for (const auto& k : part_names) add("reward/" + k + "/mean", s.parts.count(k) ? s.parts.at(k) : 0.0);
    lowest[0] = std::min(lowest[0], s.total), highest[0] = std::max(highest[0], s.total);
    lowest[1] = std::min(lowest[1], len), highest[1] = std::max(highest[1], len);
  }
  if (groups > 0) {
    const auto stds = rewards.std(1, /*unbiased=*/true);
    for (int64_t i = 0; i < groups; ++i) add("reward_std", stds[i].item<double>());
  }
  mean["loss"] = {loss_sum, token_weight};
  mean["kl"] = {kl_sum, token_weight};
  mean["clip_ratio/low_mean"] = {clip_low, token_weight};
  mean["clip_ratio/high_mean"] = {clip_high, token_weight};
  mean["clip_ratio/region_mean"] = {clip_region, token_weight};
  mean["entropy"] = {entropy_sum, entropy_tokens};
  // Counts and the slowest rank's times go in the same reductions; so do the values every rank must
  // agree on (a disagreement is a bug, reported rather than averaged away).
  std::vector<double> sums = {static_cast<double>(zero_std_first), static_cast<double>(sampled_groups),
                              static_cast<double>(generated), static_cast<double>(trained_tokens)};
  for (const auto& [name, sc] : mean) sums.push_back(sc.first), sums.push_back(sc.second);
  sums.insert(sums.end(), update_loss.begin(), update_loss.end());
  const std::vector<double> agreed = {static_cast<double>(step), lr, so.temperature, g.beta};
  std::vector<double> mins = lowest, maxs = highest;
  mins.insert(mins.end(), agreed.begin(), agreed.end());
  maxs.insert(maxs.end(), agreed.begin(), agreed.end());
  for (double t : {gen_seconds, score_seconds, train_seconds}) maxs.push_back(t);
  dist->all_reduce(sums, Distributed::Reduce::kSum);
  dist->all_reduce(mins, Distributed::Reduce::kMin);
  dist->all_reduce(maxs, Distributed::Reduce::kMax);
  static const char* kAgreed[] = {"step", "learning rate", "temperature", "beta"};
  for (size_t i = 0; i < agreed.size(); ++i)
    if (mins[2 + i] != maxs[2 + i])
      throw DistError("ranks disagree on the " + std::string(kAgreed[i]) + " at step " + std::to_string(step) + ": " +
                      std::to_string(mins[2 + i]) + " vs " + std::to_string(maxs[2 + i]));

  std::map<std::string, double> m;
  const double nan = std::nan("");
  size_t at = 4;
  for (const auto& [name, sc] : mean) {
    (void)sc;
    m[name] = sums[at + 1] > 0 ? sums[at] / sums[at + 1] : nan;
    at += 2;
  }
  if (W > 1) {  // the loss as one process reports it: each update's whole loss, weighted by its tokens
    double weighted = 0, tokens = 0;
    for (size_t u = 0; u < update_tokens.size(); ++u) weighted += sums[at + u] * update_tokens[u], tokens += update_tokens[u];
    m["loss"] = tokens > 0 ? weighted / tokens : nan;
  }
  const double all_generated = sums[2];
  const double slowest_gen = maxs[6], slowest_score = maxs[7], slowest_train = maxs[8];
  tokens_total += static_cast<int64_t>(all_generated);
  m["reward/min"] = std::isfinite(mins[0]) ? mins[0] : nan;
  m["reward/max"] = std::isfinite(maxs[0]) ? maxs[0] : nan;
  m["completions/min_length"] = std::isfinite(mins[1]) ? mins[1] : nan;
  m["completions/max_length"] = std::isfinite(maxs[1]) ? maxs[1] : nan;
  m["frac_reward_zero_std"] = sums[0] / static_cast<double>(g.prompts_per_step);
  m["groups/trained"] = all_groups[0];
  m["groups/sampled"] = sums[1];
  m["grad_norm"] = updates > 0 ? grad_norm_sum / static_cast<double>(updates) : nan;  // the same on every rank
  m["learning_rate"] = lr;
  m["sampling/temperature"] = so.temperature;
  m["grpo/beta"] = g.beta;
  m["tokens/generated"] = all_generated;
  m["tokens/total"] = static_cast<double>(tokens_total);
  m["time/generation"] = slowest_gen;
  m["time/scoring"] = slowest_score;
  m["time/training"] = slowest_train;
  m["tokens_per_sec/generation"] = slowest_gen > 0 ? all_generated / slowest_gen : nan;
  m["tokens_per_sec/training"] = slowest_train > 0 ? sums[3] / slowest_train : nan;
  if (W > 1) m["dist/world_size"] = W;

  const auto t_rec = Clock::now();
  const int64_t record = std::min(groups, (cfg.sample_prompts + W - 1) / W);  // every rank's first groups
  record_samples(problems, rollout, logp_before, ref_logp, scores, advantages, record);
  m["time/recording"] = seconds_since(t_rec);
  m["time/step"] = seconds_since(t_step);
  emit_metrics(step, m);
  return m;
}

// Stores every completion of the first `groups` groups with per-token arrays. log π_θ and the entropy are
// taken after this step's update, so the trace inspector shows where the policy moved. In a data-parallel
// run every rank sends its first groups to rank 0, which numbers them in rank order and stores them.
void Trainer::Impl::record_samples(const std::vector<Problem>& problems, const Rollout& rollout,
                                   const torch::Tensor& old_logp, const torch::Tensor& ref_logp,
                                   const std::vector<RewardBreakdown>& scores, const torch::Tensor& advantages,
                                   int64_t groups) {
  const int64_t G = cfg.grpo.group_size, rows = std::max<int64_t>(groups, 0) * G;
  torch::NoGradGuard no_grad;
  std::vector<ipc::SampleRecord> out;
  const Rollout sub = rows > 0 ? rollout.slice(0, rows) : Rollout();
  const TokenScores now = rows > 0 ? score_completions(model, sub, cfg.sampling.temperature, /*with_entropy=*/true) : TokenScores();
  const torch::Tensor kl = rows == 0             ? torch::Tensor()
                           : ref_logp.defined() ? k3_kl(now.logp, ref_logp.narrow(0, 0, rows))
                                                : torch::zeros_like(now.logp);
  for (int64_t b = 0; b < rows; ++b) {
    const auto& s = scores[static_cast<size_t>(b)];
    const int64_t n = rollout.lengths[static_cast<size_t>(b)];
    ipc::SampleRecord r;
    r.step = step;
    r.group = b / G;
    r.index = b % G;
    r.prompt = problems[static_cast<size_t>(b / G)].prompt;
    r.answer = problems[static_cast<size_t>(b / G)].answer;
    const auto ids = row_to_vector<int64_t>(sub.completion, b, n);
    int32_t offset = 0;
    for (int64_t id : ids) {
      r.tokens.push_back(static_cast<int32_t>(id));
      r.offsets.push_back(offset);
      if (id != tokenizer->eos_id()) {
        const std::string piece = tokenizer->token_text(id);
        r.completion += piece;
        offset += static_cast<int32_t>(piece.size());
      }
    }
    r.reward = s.total;
    r.rewards = s.parts;
    r.advantage = advantages[b].item<double>();
    r.length = n;
    r.correct = s.correct;
    r.verified = s.verified;
    r.truncated = rollout.truncated[static_cast<size_t>(b)];
    r.logp_old = row_to_vector<float>(old_logp, b, n);
    r.logp = row_to_vector<float>(now.logp, b, n);
    r.entropy = row_to_vector<float>(now.entropy, b, n);
    r.kl = row_to_vector<float>(kl, b, n);
    out.push_back(std::move(r));
  }
  if (dist->world() > 1) {
    const auto parts = dist->all_gather(ipc::samples_payload(opts.name, 0, step, 0, out)["samples"].dump());
    if (!main) return;
    out.clear();
    int64_t group_base = 0;
    for (const auto& part : parts) {
      int64_t part_groups = 0;
      for (const auto& j : json::parse(part)) {
        ipc::SampleRecord r = ipc::sample_from_json(j);
        r.step = step;
        part_groups = std::max(part_groups, r.group + 1);
        r.group += group_base;
        out.push_back(std::move(r));
      }
      group_base += part_groups;
    }
  }
  if (!store || out.empty()) return;
  const double t = unix_now();
  const int64_t seq = store->append_samples(step, out);
  if (endpoint) endpoint->publish(ipc::protocol::kTopicSamples, ipc::samples_payload(opts.name, seq, step, t, out));
}

std::string Trainer::Impl::checkpoint() {
  CheckpointHeader h;
  h.kind = "train";
  h.step = step;
  h.model = model->options();
  h.tokenizer = tokenizer->describe();
  h.config = config_to_json(cfg);
  h.state = {{"prompt_rng", rng_to_string(prompt_rng)}, {"tokens_total", tokens_total}};
  const std::string previous_state = control->state();
  control->set_state("checkpointing");
  const torch::Tensor rng_state = gen.get_state();
  const std::string dir = (run_dir / "checkpoints").string();
  const std::string path = checkpoint_path(dir, step);
  write_checkpoint(path, h, model, optimizer.get(), &rng_state);
  prune_checkpoints(dir, cfg.keep_checkpoints);
  emit_event(step, "checkpoint", {{"path", path}});
  control->set_state(previous_state);
  return path;
}

// Held-out evaluation, recorded as eval/* metrics of the current step (step 0: the starting model). Its own
// generator keeps the training RNG, and so resumes, untouched.
void Trainer::Impl::held_out_eval() {
  EvalOptions eo;
  eo.prompts = cfg.eval_prompts;
  eo.samples_per_prompt = 1;
  eo.temperature = cfg.sampling.temperature;
  eo.max_new_tokens = cfg.sampling.max_new_tokens;
  eo.seed = static_cast<uint64_t>(cfg.seed) * 1000003 + static_cast<uint64_t>(step);
  const EvalResult e = evaluate(model, *task, *tokenizer, eo);
  emit_metrics(step, {{"eval/greedy_accuracy", e.greedy_accuracy},
                         {"eval/sampled_accuracy", e.sampled_accuracy},
                         {"eval/first_answer_accuracy", e.first_answer_accuracy},
                         {"eval/check_rate", e.check_rate},
                         {"eval/p_correct_checked", e.p_correct_checked},
                         {"eval/p_correct_unchecked", e.p_correct_unchecked},
                         {"eval/format_rate", e.format_rate},
                         {"eval/mean_length", e.mean_length},
                         {"time/eval", e.seconds}});
  log->info("eval  {:>4} | held-out greedy acc {:.3f} | sampled acc {:.3f} | check rate {:.3f} | len {:.1f} | {:.1f} s",
            step, e.greedy_accuracy, e.sampled_accuracy, e.check_rate, e.mean_length, e.seconds);
}

void Trainer::Impl::print_progress(const std::map<std::string, double>& m, double step_seconds) {
  const double avg = seconds_since(started) / static_cast<double>(std::max<int64_t>(steps_this_session, 1));
  const double eta = avg * static_cast<double>(std::max<int64_t>(cfg.max_steps - step, 0));
  log->info("step {:>4}/{} | reward {:.3f} | acc {:.3f} | verify {:.2f} | len {:5.1f} | kl {:.4f} | "
            "gen {:.1f}k tok/s | train {:.1f}k tok/s | {:.2f} s/step | ETA {}",
            step, cfg.max_steps, m.at("reward"), m.at("accuracy"), m.at("self_verification/rate"),
            m.at("completions/mean_length"), m.at("kl"), m.at("tokens_per_sec/generation") / 1000.0,
            m.at("tokens_per_sec/training") / 1000.0, step_seconds, human_duration(eta));
}

std::map<std::string, double> Trainer::step() {
  auto& s = *impl_;
  const auto t0 = Clock::now();
  auto m = s.grpo_step();
  ++s.steps_this_session;
  if (!s.main) return m;  // rank 0 alone prints, evaluates and checkpoints
  if (s.opts.progress || s.log) s.print_progress(m, seconds_since(t0));
  if (s.cfg.eval_every > 0 && (s.step % s.cfg.eval_every == 0 || s.step == s.cfg.max_steps)) s.held_out_eval();
  if (s.cfg.checkpoint_every > 0 && s.step % s.cfg.checkpoint_every == 0 && s.step < s.cfg.max_steps) s.checkpoint();
  return m;
}

void Trainer::train() {
  auto& s = *impl_;
  s.started = Clock::now();
  s.steps_this_session = 0;
  try {
    s.set_state("running");
    if (s.main && s.step == 0 && s.cfg.eval_every > 0) s.held_out_eval();  // the start of every eval/* curve
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
      step();
    }
    if (!s.main) return;  // rank 0 writes the final checkpoint
    stopped |= stop_requested_.load();
    s.set_state("stopping");
    const std::string path = s.checkpoint();
    s.emit_event(s.step, stopped ? "stop" : "finish", {{"checkpoint", path}});
    s.log->info("{} at step {}; checkpoint {}", stopped ? "stopped" : "finished", s.step, path);
    s.set_state(stopped ? "stopped" : "finished");
    if (s.endpoint) {
      // Let subscribers see the final state, then stop serving.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      s.endpoint.reset();
      std::error_code ec;
      fs::remove(s.run_dir / "endpoints.json", ec);
    }
  } catch (const std::exception& e) {
    s.set_state("failed", e.what());
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

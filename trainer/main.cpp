// grpo-train: the command line. `run` trains (or resumes) a GRPO run; `pretrain` makes a base model for a
// built-in task; `eval` measures a checkpoint on held-out problems or a dataset; `score`, `make-data`
// (data_commands.h) and `tokenize`, `generate`, `export` (model_commands.h); `config` prints the built-in demo
// config. Exit codes: 0 done, 1 runtime failure, 2 bad input (config, arguments, checkpoint files).
#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "ipc/run_liveness.h"
#include "ipc/trainer_endpoint.h"
#include "trainer/checkpoint.h"
#include "trainer/config.h"
#include "trainer/data_commands.h"
#include "trainer/distributed.h"
#include "trainer/chat_template.h"
#include "trainer/evaluate.h"
#include "trainer/model_commands.h"
#include "trainer/model_source.h"
#include "trainer/pretrain.h"
#include "trainer/runtime.h"
#include "trainer/task.h"
#include "trainer/tokenizer.h"
#include "trainer/trainer.h"

namespace {

grpo::Trainer* g_trainer = nullptr;
volatile std::sig_atomic_t g_signals = 0;
std::vector<std::string> g_argv;  // this command line, for --nproc to start its ranks with

// First Ctrl-C / SIGTERM: finish the step, checkpoint, exit. Second: leave at once.
void on_signal(int sig) {
  if (++g_signals > 1) _exit(128 + sig);
  if (g_trainer) g_trainer->request_stop();
}

// --nproc: the local ranks this launcher started, and the signals it passes on to them.
std::vector<pid_t> g_ranks;
void forward_signal(int sig) {
  for (pid_t p : g_ranks)
    if (p > 0) ::kill(p, sig);
}

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("--nproc: cannot find a free local port for the rendezvous");
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

// Starts `nproc` ranks of this same command on this machine, with the environment torchrun would give
// them (rank 0 names the run for all of them), and waits for them. Ctrl-C and SIGTERM are passed on. When a rank fails, the others are given
// `grace` to notice and stop (rank 0 records why in the run); then they are terminated.
int launch_local_ranks(int nproc, std::chrono::seconds grace) {
  std::vector<std::string> args;
  for (size_t i = 0; i < g_argv.size(); ++i) {
    if (g_argv[i] == "--nproc") {
      ++i;
      continue;
    }
    if (g_argv[i].rfind("--nproc=", 0) == 0) continue;
    args.push_back(g_argv[i]);
  }
  const int port = free_local_port();
  std::signal(SIGINT, forward_signal);
  std::signal(SIGTERM, forward_signal);
  for (int r = 0; r < nproc; ++r) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("--nproc: cannot start rank " + std::to_string(r));
    if (pid == 0) {
      // Its own process group, so that a terminal's Ctrl-C reaches it once (forwarded by this launcher);
      // and it ends if the launcher dies.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      std::vector<char*> cargs;
      for (auto& a : args) cargs.push_back(a.data());
      cargs.push_back(nullptr);
      ::execv("/proc/self/exe", cargs.data());
      std::perror("grpo-train: exec");
      _exit(127);
    }
    g_ranks.push_back(pid);
  }
  std::string pids;
  for (pid_t p : g_ranks) pids += (pids.empty() ? "" : ", ") + std::to_string(p);
  std::fprintf(stderr, "grpo-train: %d ranks on 127.0.0.1:%d (Gloo), pids %s\n", nproc, port, pids.c_str());

  int failed_rank = -1, failed_status = 0, running = nproc;
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, failed_rank >= 0 ? WNOHANG : 0);
    if (pid == 0 || (pid < 0 && errno == EINTR)) {
      if (std::chrono::steady_clock::now() > deadline) {
        for (pid_t p : g_ranks)
          if (p > 0) ::kill(p, std::chrono::steady_clock::now() > deadline + std::chrono::seconds(5) ? SIGKILL : SIGTERM);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (pid < 0) break;
    const auto it = std::find(g_ranks.begin(), g_ranks.end(), pid);
    if (it == g_ranks.end()) continue;
    const int r = static_cast<int>(it - g_ranks.begin());
    *it = -1;
    --running;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok && failed_rank < 0) {
      failed_rank = r;
      failed_status = status;
      std::fprintf(stderr, "grpo-train: rank %d of %d (pid %d) %s\n", r, nproc, pid, describe_exit(status).c_str());
      deadline = std::chrono::steady_clock::now() + grace;
    }
  }
  if (failed_rank < 0) return 0;
  return WIFEXITED(failed_status) && WEXITSTATUS(failed_status) == 2 ? 2 : 1;
}

struct RunArgs {
  std::string config_file;
  std::string runs_dir = "runs";
  std::string name;
  std::vector<std::string> overrides;
  bool resume = false;
  std::string fork;
  int64_t from_step = -1;
  bool quiet = false;
  std::string bind = "127.0.0.1";
  int events_port = 0;
  int control_port = 0;
  std::string curve_keys;
  bool insecure = false;
  bool no_serve = false;
  int nproc = 1;
};

// Reads a CURVE key file: {"server_public": Z85, "server_secret": Z85, "allowed_clients": [Z85, ...]}.
void read_curve_keys(const std::string& path, grpo::ipc::EndpointOptions& eo) {
  std::ifstream in(path);
  if (!in) throw grpo::ConfigError("--curve-keys: cannot read '" + path + "'");
  auto j = nlohmann::json::parse(in, nullptr, false);
  auto z85 = [&](const nlohmann::json& v, const std::string& what) {
    if (!v.is_string() || v.get<std::string>().size() != 40)
      throw grpo::ConfigError("--curve-keys '" + path + "': '" + what + "' must be a 40-character Z85 key");
    return v.get<std::string>();
  };
  if (j.is_discarded() || !j.is_object()) throw grpo::ConfigError("--curve-keys '" + path + "' is not a JSON object");
  eo.curve_public_key = z85(j.value("server_public", nlohmann::json()), "server_public");
  eo.curve_secret_key = z85(j.value("server_secret", nlohmann::json()), "server_secret");
  const auto allowed = j.value("allowed_clients", nlohmann::json::array());
  if (!allowed.is_array() || allowed.empty())
    throw grpo::ConfigError("--curve-keys '" + path + "': 'allowed_clients' must list at least one client public key");
  for (const auto& k : allowed) eo.allowed_clients.push_back(z85(k, "allowed_clients[]"));
}

int cmd_run(const RunArgs& a) {
  grpo::Config cfg;
  if (a.resume && !a.fork.empty()) throw grpo::ConfigError("--fork starts a new run; it cannot be combined with --resume");
  if (a.resume) {
    if (a.name.empty()) throw grpo::ConfigError("--resume needs --name NAME: the run folder to continue");
    if (!a.config_file.empty())
      throw grpo::ConfigError("--resume continues a run with its saved config.json; drop --config (use --set to change "
                              "values such as max_steps)");
    cfg = grpo::load_run_config(a.runs_dir, a.name);
  } else if (!a.fork.empty()) {
    if (!a.config_file.empty())
      throw grpo::ConfigError("--fork starts from the parent's config at the fork step; drop --config (use --set to change "
                              "values)");
    cfg = grpo::find_fork_point(a.fork, a.from_step).config;
  } else if (!a.config_file.empty()) {
    cfg = grpo::load_config_file(a.config_file);
  }
  if (a.from_step >= 0 && a.fork.empty()) throw grpo::ConfigError("--from-step needs --fork RUN_FOLDER");
  for (const auto& o : a.overrides) grpo::apply_override(cfg, o);
  grpo::validate_config(cfg);

  grpo::RunOptions opts;
  opts.dist = grpo::DistEnv::from_environment();
  if (a.nproc > 1) {
    if (opts.dist.world > 1)
      throw grpo::ConfigError("--nproc: WORLD_SIZE is already set (" + std::to_string(opts.dist.world) +
                              "): this process is a rank of a launched run; drop --nproc");
    grpo::check_batch_split(cfg, a.nproc);  // before starting anything
    return launch_local_ranks(a.nproc, std::chrono::seconds(cfg.dist_timeout + 30));
  }
  // Fault injection for the launcher's tests: this rank fails at start-up, before it joins the others.
  if (const char* f = std::getenv("GRPO_FAULT_FAIL_RANK"); f && opts.dist.world > 1 && std::atoi(f) == opts.dist.rank)
    throw std::runtime_error("rank " + std::to_string(opts.dist.rank) + " failed at start-up (GRPO_FAULT_FAIL_RANK)");
  opts.runs_dir = a.runs_dir;
  opts.name = a.name;
  opts.resume = a.resume;
  opts.fork = a.fork;
  opts.fork_step = a.from_step;
  opts.progress = !a.quiet;
  opts.serve = !a.no_serve;
  opts.endpoint.host = a.bind;
  opts.endpoint.events_port = a.events_port;
  opts.endpoint.control_port = a.control_port;
  opts.endpoint.insecure = a.insecure;
  if (!a.curve_keys.empty()) read_curve_keys(a.curve_keys, opts.endpoint);
  if (opts.serve && !grpo::ipc::is_loopback(a.bind) && a.curve_keys.empty() && !a.insecure)
    throw grpo::ConfigError("--bind " + a.bind + " is not loopback: give --curve-keys FILE (grpo-train keygen makes keys), "
                            "or --insecure to accept anyone who can reach the port");
  grpo::Trainer trainer(cfg, opts);
  g_trainer = &trainer;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  trainer.train();
  g_trainer = nullptr;
  return 0;
}

// `status`: one line for people, and exit code 0 when the trainer is alive or the run ended, 3 when it
// stopped unexpectedly (it can be resumed), 2 when the folder is not a run.
int cmd_status(const std::string& dir) {
  namespace fs = std::filesystem;
  const auto r = grpo::ipc::probe_run(dir);
  using V = grpo::ipc::RunLiveness::Verdict;
  if (r.verdict == V::kNone) throw grpo::ConfigError("status: '" + dir + "' is not a run folder (no run.sqlite)" +
                                                     (r.message.empty() ? "" : ": " + r.message));
  std::cout << fs::path(dir).lexically_normal().filename().string() << ": " << r.message << "\n";
  if (r.verdict == V::kDead) {
    const fs::path p = fs::path(dir).lexically_normal();
    std::cout << "resume it with: grpo-train run --runs-dir " << (p.has_parent_path() ? p.parent_path().string() : ".")
              << " --name " << p.filename().string() << " --resume\n";
    return 3;
  }
  return 0;
}

struct PretrainArgs {
  std::string config_file;
  std::vector<std::string> overrides;
  int64_t seed = -1;
  std::string out;
};

int cmd_pretrain(const PretrainArgs& a) {
  grpo::Config cfg = grpo::load_config_file(a.config_file);
  for (const auto& o : a.overrides) grpo::apply_override(cfg, o);
  if (a.seed >= 0) cfg.seed = a.seed;
  grpo::validate_config(cfg);
  const std::string out = a.out.empty() ? cfg.task.kind + "-base-seed" + std::to_string(cfg.seed) + ".pt" : a.out;
  const auto r = grpo::pretrain(cfg, out, /*progress=*/true);
  std::printf("%s after %lld steps (%.0f s)%s\n%s", out.c_str(), static_cast<long long>(r.steps), r.seconds,
              r.in_window ? ", inside the window" : (cfg.pretrain.stop_in_window ? ", never inside the window" : ""),
              r.eval.table().c_str());
  return 0;
}

struct EvalArgs {
  std::string checkpoint;
  int64_t n = 500;
  int64_t samples = 2;
  double temperature = 1.0;
  int64_t seed = 1234;
  int64_t threads = 1;
  bool json = false;
  bool forced_check = false;
  std::string data, config_file;  // a dataset evaluation (data_commands.h)
  std::vector<std::string> overrides;
  int64_t max_new_tokens = 256;
};

int cmd_eval(const EvalArgs& a) {
  if (!a.data.empty() || !a.config_file.empty()) {
    if (a.forced_check) throw grpo::ConfigError("--forced-check measures the built-in task's check; it has no meaning on --data");
    grpo::DataEvalArgs d;
    d.model = a.checkpoint, d.data = a.data, d.config_file = a.config_file, d.overrides = a.overrides;
    d.n = a.n, d.samples = a.samples, d.max_new_tokens = a.max_new_tokens, d.seed = a.seed, d.threads = a.threads;
    d.temperature = a.temperature, d.json = a.json;
    return grpo::cmd_eval_data(d);
  }
  grpo::configure_runtime(a.threads);
  grpo::Config cfg;
  auto loaded = grpo::load_model(a.checkpoint);
  if (!grpo::is_model_folder(a.checkpoint)) {  // a checkpoint records its task
    const auto ck = grpo::read_checkpoint(grpo::resolve_model_path(a.checkpoint));
    if (ck.header.config.contains("task")) {
      nlohmann::json task_only = {{"task", ck.header.config["task"]}};
      cfg.task = grpo::config_from_json(task_only, a.checkpoint).task;
    }
  }
  if (a.n > cfg.task.held_out)
    throw grpo::ConfigError("--n " + std::to_string(a.n) + " is more than the task's " + std::to_string(cfg.task.held_out) +
                            " held-out problems");
  const grpo::ArithmeticTask task(cfg.task);
  grpo::EvalOptions eo;
  eo.prompts = a.n;
  eo.samples_per_prompt = a.samples;
  eo.temperature = a.temperature;
  eo.seed = static_cast<uint64_t>(a.seed);
  eo.forced_check = a.forced_check;
  const auto r = grpo::evaluate(loaded.model, task, *loaded.tokenizer, eo);
  if (a.json) {
    auto j = r.to_json();
    j["checkpoint"] = a.checkpoint;
    j["task"] = cfg.task.kind;
    j["temperature"] = a.temperature;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << a.checkpoint << " on the '" << cfg.task.kind << "' task (T = " << a.temperature << ", "
              << r.seconds << " s)\n" << r.table();
  }
  return 0;
}

// The subcommands beyond run, pretrain and keygen, each registered with its options; the caller checks
// which one was parsed.
CLI::App* add_eval_command(CLI::App& app, EvalArgs& ev) {
  auto* eval_cmd = app.add_subcommand("eval", "Evaluate a model on the built-in task's held-out problems, or on a dataset (--data)");
  eval_cmd->add_option("--checkpoint", ev.checkpoint, "Checkpoint file (a base model or a run's step_N.pt), a Hugging Face model folder, or builtin:demo-base")
      ->required();
  eval_cmd->add_option("--n", ev.n, "Held-out problems")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{100000}));
  eval_cmd->add_option("--samples", ev.samples, "Sampled completions per problem")->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{1000}));
  eval_cmd->add_option("--temperature", ev.temperature, "Sampling temperature")->capture_default_str()->check(CLI::Range(1e-3, 100.0));
  eval_cmd->add_option("--seed", ev.seed, "Sampling seed")->capture_default_str();
  eval_cmd->add_option("--threads", ev.threads, "CPU threads (0 = all cores)")->capture_default_str();
  eval_cmd->add_flag("--forced-check", ev.forced_check, "Also measure accuracy with a check forced after the first answer");
  eval_cmd->add_flag("--json", ev.json, "Print JSON instead of a table");
  eval_cmd->add_option("--data", ev.data, "Evaluate on this JSONL dataset instead (rows as for data.train; docs/datasets.md)")
      ->check(CLI::ExistingFile);
  eval_cmd->add_option("--config", ev.config_file, "With --data: the config whose rewards, data.answer_key and data.chat_template apply "
                       "(its data.eval when there is no --data)")->check(CLI::ExistingFile);
  eval_cmd->add_option("--set", ev.overrides, "With --data: override a config key")->type_name("KEY=VALUE");
  eval_cmd->add_option("--max-new-tokens", ev.max_new_tokens, "With --data: completion budget")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  return eval_cmd;
}

CLI::App* add_score_command(CLI::App& app, grpo::ScoreArgs& sc) {
  auto* score_cmd = app.add_subcommand("score", "Score saved completions with a config's rewards (one row per line: prompt, completion, answer, ...)");
  score_cmd->add_option("--config", sc.config_file, "Config whose rewards.* apply (default: the built-in demo's)")->check(CLI::ExistingFile);
  score_cmd->add_option("--set", sc.overrides, "Override a config key, e.g. --set rewards.math=1")->type_name("KEY=VALUE");
  score_cmd->add_option("--input", sc.input, "JSONL rows {prompt, completion, ...}")->required();
  score_cmd->add_flag("--json", sc.json, "One JSON object per row: each reward by name, total, correct");
  return score_cmd;
}

CLI::App* add_make_data_command(CLI::App& app, grpo::MakeDataArgs& md) {
  auto* make_cmd = app.add_subcommand("make-data", "Write the generated word-problem task (GSM8K's format) as train.jsonl and eval.jsonl");
  make_cmd->add_option("--out", md.out, "Output folder")->required();
  make_cmd->add_option("--train", md.train, "Training rows")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  make_cmd->add_option("--eval", md.eval, "Evaluation rows (none shared with training)")->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{1000000}));
  make_cmd->add_option("--seed", md.seed, "Seed")->capture_default_str();
  make_cmd->add_option("--style", md.style, "Row shape: trl (string prompts), messages, or verl")->capture_default_str()
      ->check(CLI::IsMember({"trl", "messages", "verl"}));
  make_cmd->add_option("--min-steps", md.min_steps, "Fewest computation steps per problem")->capture_default_str();
  make_cmd->add_option("--max-steps", md.max_steps, "Most computation steps per problem")->capture_default_str();
  make_cmd->add_option("--max-value", md.max_value, "Largest number written in a question")->capture_default_str();
  return make_cmd;
}

struct ModelCommands {
  grpo::TokenizeArgs tk;
  grpo::GenerateArgs gn;
  grpo::ExportArgs ex;
  CLI::App *tokenize = nullptr, *generate = nullptr, *export_ = nullptr;
};

void add_model_commands(CLI::App& app, ModelCommands& m) {
  auto& tk = m.tk;
  auto& gn = m.gn;
  auto& ex = m.ex;
  auto* tok_cmd = app.add_subcommand("tokenize", "Print the ids (and with --json each token's text) a model's tokenizer gives a text");
  tok_cmd->add_option("--model", tk.model, "A Hugging Face model folder (only its tokenizer files are read), a checkpoint, or builtin:demo-base")
      ->required();
  tok_cmd->add_option("--text", tk.text, "Text to tokenize");
  tok_cmd->add_option("--file", tk.file, "File whose bytes to tokenize")->check(CLI::ExistingFile);
  tok_cmd->add_flag("--json", tk.json, "Print JSON: ids and each token's text");

  auto* gen_cmd = app.add_subcommand("generate", "Complete a prompt with a model (greedy at temperature 0)");
  gen_cmd->add_option("--model", gn.model, "A Hugging Face model folder, a checkpoint, or builtin:demo-base")->required();
  gen_cmd->add_option("--prompt", gn.prompt, "The prompt (plain text, or the user message with --chat)")->required();
  gen_cmd->add_flag("--chat", gn.chat, "Render the prompt as a user message with the model's chat template");
  gen_cmd->add_option("--system", gn.system, "With --chat: a system message before the prompt");
  gen_cmd->add_flag("!--no-thinking", gn.thinking, "With --chat: enable_thinking=false (Qwen3's non-thinking mode)");
  gen_cmd->add_option("--max-new-tokens", gn.max_new_tokens, "Completion budget")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  gen_cmd->add_option("--temperature", gn.temperature, "Sampling temperature; 0 = greedy")->capture_default_str()->check(CLI::Range(0.0, 100.0));
  gen_cmd->add_option("--top-p", gn.top_p, "Nucleus mass")->capture_default_str()->check(CLI::Range(1e-6, 1.0));
  gen_cmd->add_option("--seed", gn.seed, "Sampling seed")->capture_default_str();
  gen_cmd->add_option("--threads", gn.threads, "CPU threads (0 = all cores)")->capture_default_str();
  gen_cmd->add_flag("--json", gn.json, "Print JSON: prompt, prompt and completion ids, completion text");

  auto* export_cmd = app.add_subcommand("export", "Write a checkpoint (or any model) as a Hugging Face folder (config.json, model.safetensors, tokenizer)");
  export_cmd->add_option("--checkpoint", ex.checkpoint, "A run's checkpoint, a base model, builtin:demo-base, or a model folder")->required();
  export_cmd->add_option("--out", ex.out, "Output folder")->required();
  export_cmd->add_option("--dtype", ex.dtype, "Weights: bf16 or f32")->capture_default_str()->check(CLI::IsMember({"bf16", "f32"}));
  m.tokenize = tok_cmd, m.generate = gen_cmd, m.export_ = export_cmd;
}

}  // namespace

int main(int argc, char** argv) {
  g_argv.assign(argv, argv + argc);
  CLI::App app{"grpo-train: GRPO reinforcement learning for reasoning models (LibTorch).\n"
               "Runs headless and writes everything to runs/<name>/ (config.json, run.sqlite, checkpoints/, trainer.log)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "grpo-train 0.1.0");

  RunArgs run;
  auto* run_cmd = app.add_subcommand("run", "Train a GRPO run (the built-in demo when no --config is given)");
  run_cmd->add_option("--config", run.config_file, "Config JSON (see resources/configs/); default: the built-in demo")
      ->check(CLI::ExistingFile);
  run_cmd->add_option("--runs-dir", run.runs_dir, "Parent folder of run folders")->capture_default_str();
  run_cmd->add_option("--name", run.name, "Run folder name (default: <config name>-<timestamp>)");
  run_cmd->add_option("--set", run.overrides, "Override a config key, e.g. --set max_steps=3 --set optim.lr=3e-4")
      ->type_name("KEY=VALUE");
  run_cmd->add_flag("--resume", run.resume, "Continue runs/<name> from its newest checkpoint");
  run_cmd->add_option("--fork", run.fork,
                      "Start a new run from this run folder's checkpoint (exact state), with --set changes (docs/watchdogs.md)");
  run_cmd->add_option("--from-step", run.from_step,
                      "With --fork: the parent's step (its newest checkpoint at or before it; default: its newest)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  run_cmd->add_flag("--quiet", run.quiet, "No progress lines on the terminal (trainer.log still gets them)");
  run_cmd->add_option("--bind", run.bind, "Address the protocol's sockets bind (docs/protocol.md)")->capture_default_str();
  run_cmd->add_option("--events-port", run.events_port, "PUB port (0: any free port)")->check(CLI::Range(0, 65535));
  run_cmd->add_option("--control-port", run.control_port, "ROUTER port (0: any free port)")->check(CLI::Range(0, 65535));
  run_cmd->add_option("--curve-keys", run.curve_keys, "CURVE key file: server key pair and allowed client keys")
      ->check(CLI::ExistingFile);
  run_cmd->add_flag("--insecure", run.insecure, "Allow a non-loopback --bind without CURVE");
  run_cmd->add_flag("--no-serve", run.no_serve, "Do not open the protocol's sockets");
  run_cmd->add_option("--nproc", run.nproc,
                      "Data-parallel ranks to start on this machine (Gloo); across machines, start one per process "
                      "with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set (docs/distributed.md)")
      ->check(CLI::Range(1, 4096));

  std::string status_dir;
  auto* status_cmd = app.add_subcommand("status", "Say whether a run folder's trainer is alive, ended, or stopped unexpectedly");
  status_cmd->add_option("run_dir", status_dir, "A run folder (runs/<name>)")->required();

  auto* keygen_cmd = app.add_subcommand("keygen", "Print a new CURVE key pair (Z85) as JSON, for --curve-keys and clients");

  PretrainArgs pre;
  auto* pre_cmd = app.add_subcommand("pretrain", "Pretrain a base model for a built-in task (see docs/demo.md)");
  pre_cmd->add_option("--config", pre.config_file, "Pretraining config, e.g. resources/configs/pretrain-add.json")
      ->required()
      ->check(CLI::ExistingFile);
  pre_cmd->add_option("--seed", pre.seed, "Seed (default: the config's)");
  pre_cmd->add_option("--out", pre.out, "Output checkpoint (default: <task>-base-seed<N>.pt)");
  pre_cmd->add_option("--set", pre.overrides, "Override a config key")->type_name("KEY=VALUE");

  EvalArgs ev;
  auto* eval_cmd = add_eval_command(app, ev);
  grpo::ScoreArgs sc;
  auto* score_cmd = add_score_command(app, sc);
  grpo::MakeDataArgs md;
  auto* make_cmd = add_make_data_command(app, md);
  ModelCommands mc;
  add_model_commands(app, mc);

  auto* config_cmd = app.add_subcommand("config", "Print the built-in demo config as JSON (a starting point for your own)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  try {
    if (run_cmd->parsed()) return cmd_run(run);
    if (pre_cmd->parsed()) return cmd_pretrain(pre);
    if (eval_cmd->parsed()) return cmd_eval(ev);
    if (score_cmd->parsed()) return grpo::cmd_score(sc);
    if (make_cmd->parsed()) return grpo::cmd_make_data(md);
    if (mc.tokenize->parsed()) return grpo::cmd_tokenize(mc.tk);
    if (mc.generate->parsed()) return grpo::cmd_generate(mc.gn);
    if (mc.export_->parsed()) return grpo::cmd_export(mc.ex);
    if (status_cmd->parsed()) return cmd_status(status_dir);
    if (keygen_cmd->parsed()) {
      const auto [pub, sec] = grpo::ipc::make_curve_keypair();
      std::cout << nlohmann::json{{"public", pub}, {"secret", sec}}.dump(2) << "\n";
      return 0;
    }
    if (config_cmd->parsed()) {
      std::cout << grpo::config_to_json(grpo::Config{}).dump(2) << "\n";
      return 0;
    }
  } catch (const grpo::ConfigError& e) {
    std::cerr << "grpo-train: error: " << e.what() << "\n";
    return 2;
  } catch (const grpo::CheckpointError& e) {
    std::cerr << "grpo-train: error: " << e.what() << "\n";
    return 2;
  } catch (const grpo::ChatTemplateError& e) {
    std::cerr << "grpo-train: error: " << e.what() << "\n";
    return 2;
  } catch (const grpo::DistError& e) {
    std::cerr << "grpo-train: failed: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "grpo-train: failed: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "grpo-train: failed: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

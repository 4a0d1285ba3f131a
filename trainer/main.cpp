// grpo-train: the command line. `run` trains (or resumes) a GRPO run; `config` prints the built-in demo
// config. Exit codes: 0 done, 1 runtime failure, 2 bad input (config, arguments, checkpoint files).
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <unistd.h>

#include "trainer/checkpoint.h"
#include "trainer/config.h"
#include "trainer/trainer.h"

namespace {

grpo::Trainer* g_trainer = nullptr;
volatile std::sig_atomic_t g_signals = 0;

// First Ctrl-C / SIGTERM: finish the step, checkpoint, exit. Second: leave at once.
void on_signal(int sig) {
  if (++g_signals > 1) _exit(128 + sig);
  if (g_trainer) g_trainer->request_stop();
}

struct RunArgs {
  std::string config_file;
  std::string runs_dir = "runs";
  std::string name;
  std::vector<std::string> overrides;
  bool resume = false;
  bool quiet = false;
};

int cmd_run(const RunArgs& a) {
  grpo::Config cfg;
  if (a.resume) {
    if (a.name.empty()) throw grpo::ConfigError("--resume needs --name NAME: the run folder to continue");
    if (!a.config_file.empty())
      throw grpo::ConfigError("--resume continues a run with its saved config.json; drop --config (use --set to change "
                              "values such as max_steps)");
    cfg = grpo::load_run_config(a.runs_dir, a.name);
  } else if (!a.config_file.empty()) {
    cfg = grpo::load_config_file(a.config_file);
  }
  for (const auto& o : a.overrides) grpo::apply_override(cfg, o);
  grpo::validate_config(cfg);

  grpo::RunOptions opts;
  opts.runs_dir = a.runs_dir;
  opts.name = a.name;
  opts.resume = a.resume;
  opts.progress = !a.quiet;
  grpo::Trainer trainer(cfg, opts);
  g_trainer = &trainer;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  trainer.train();
  g_trainer = nullptr;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
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
  run_cmd->add_flag("--quiet", run.quiet, "No progress lines on the terminal (trainer.log still gets them)");

  auto* config_cmd = app.add_subcommand("config", "Print the built-in demo config as JSON (a starting point for your own)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  try {
    if (run_cmd->parsed()) return cmd_run(run);
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
  } catch (const std::exception& e) {
    std::cerr << "grpo-train: failed: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

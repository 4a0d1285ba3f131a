// make-data, score and eval --data (see data_commands.h).
#include "trainer/data_commands.h"

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>

#include "trainer/config.h"
#include "trainer/dataset.h"
#include "trainer/dataset_eval.h"
#include "trainer/model_source.h"
#include "trainer/prompt_source.h"
#include "trainer/rewards.h"
#include "trainer/runtime.h"
#include "trainer/word_problems.h"

namespace grpo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Config config_of(const std::string& file, const std::vector<std::string>& overrides) {
  Config cfg = file.empty() ? Config{} : load_config_file(file);
  for (const auto& o : overrides) apply_override(cfg, o);
  validate_config(cfg);
  // Rows of a dataset: DeepSeek-R1's reflective words, as a dataset run uses them (docs/datasets.md).
  if (cfg.rewards.markers.empty()) cfg.rewards.markers = r1_markers();
  return cfg;
}

void write_rows(const fs::path& path, const std::vector<WordProblem>& problems, size_t begin, size_t end,
                const std::string& style) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw ConfigError("make-data: cannot write '" + path.string() + "'");
  for (size_t i = begin; i < end; ++i) out << word_problem_row(problems[i], style).dump() << "\n";
  if (!out.flush()) throw ConfigError("make-data: writing '" + path.string() + "' failed");
}

}  // namespace

int cmd_make_data(const MakeDataArgs& a) {
  WordProblemOptions opt;
  opt.count = a.train + a.eval;  // one call: no evaluation question is also a training question
  opt.seed = static_cast<uint64_t>(a.seed);
  opt.min_steps = a.min_steps;
  opt.max_steps = a.max_steps;
  opt.max_value = a.max_value;
  std::vector<WordProblem> problems;
  try {
    problems = make_word_problems(opt);
    (void)word_problem_row(problems.front(), a.style);  // an unknown --style fails before anything is written
  } catch (const std::exception& e) {  // bad options, or too few distinct questions for them
    throw ConfigError(std::string("make-data: ") + e.what());
  }
  std::error_code ec;
  fs::create_directories(a.out, ec);
  if (ec) throw ConfigError("make-data: cannot create '" + a.out + "': " + ec.message());
  const size_t train = static_cast<size_t>(a.train);
  write_rows(fs::path(a.out) / "train.jsonl", problems, 0, train, a.style);
  if (a.eval > 0) write_rows(fs::path(a.out) / "eval.jsonl", problems, train, problems.size(), a.style);
  std::cout << "wrote " << a.train << " training rows to " << (fs::path(a.out) / "train.jsonl").string();
  if (a.eval > 0)
    std::cout << " and " << a.eval << (a.eval == 1 ? " evaluation row to " : " evaluation rows to ")
              << (fs::path(a.out) / "eval.jsonl").string();
  std::cout << " (" << a.style << " shape, " << a.min_steps << "-" << a.max_steps << " steps, seed " << a.seed << ")\n";
  return 0;
}

int cmd_score(const ScoreArgs& a) {
  const Config cfg = config_of(a.config_file, a.overrides);
  std::vector<DataRow> rows;
  try {
    DataOptions opt;
    opt.answer_key = cfg.data.answer_key;
    opt.what = "--input";
    rows = load_dataset(a.input, opt);
  } catch (const DataError& e) {
    throw ConfigError(e.what());
  }
  const auto tok = load_start_tokenizer(cfg.model);  // token lengths, as a run counts them
  std::vector<ScoreInput> inputs;
  for (const auto& row : rows) {
    const json& c = row.columns;
    const std::string where = "--input '" + a.input + "' line " + std::to_string(row.line);
    if (!c.contains("completion") || !c["completion"].is_string())
      throw ConfigError(where + ": 'completion' must be a string (each row: {\"prompt\", \"completion\", ...})");
    ScoreInput in;
    in.prompt = row.prompt.is_string() ? row.prompt.get<std::string>() : row.prompt.dump();
    in.completion = c["completion"].get<std::string>();
    in.reference = row.answer;
    in.columns = c;
    in.columns.erase("completion");
    in.truncated = c.value("truncated", false);
    try {
      in.length = static_cast<int64_t>(tok->encode(in.completion).size()) + (in.truncated ? 0 : 1);  // + end of sequence
    } catch (const std::exception& e) {
      throw ConfigError(where + ": 'completion' cannot be tokenized by the config's model: " + e.what());
    }
    inputs.push_back(std::move(in));
  }
  RewardSet rewards(cfg.rewards);
  const auto scores = rewards.score(cfg.rewards, inputs, cfg.sampling.max_new_tokens);
  const auto names = RewardSet::active(cfg.rewards);
  auto value = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  if (a.json) {
    for (size_t i = 0; i < rows.size(); ++i) {
      json j = {{"line", rows[i].line}};
      for (const auto& n : names) j[n] = value(scores[i].parts.at(n));
      j["total"] = scores[i].total;
      j["correct"] = scores[i].correct;
      std::cout << j.dump() << "\n";
    }
    return 0;
  }
  std::cout << std::left << std::setw(6) << "line";
  for (const auto& n : names) std::cout << std::right << std::setw(10) << n;
  std::cout << std::setw(10) << "total" << "\n" << std::fixed << std::setprecision(3);
  std::vector<double> sums(names.size(), 0.0), counts(names.size(), 0.0);  // a null is left out of its mean
  double total = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::cout << std::left << std::setw(6) << rows[i].line << std::right;
    for (size_t k = 0; k < names.size(); ++k) {
      const double v = scores[i].parts.at(names[k]);
      if (std::isfinite(v)) std::cout << std::setw(10) << v, sums[k] += v, counts[k] += 1;
      else std::cout << std::setw(10) << "-";
    }
    std::cout << std::setw(10) << scores[i].total << "\n";
    total += scores[i].total;
  }
  std::cout << std::left << std::setw(6) << "mean" << std::right;
  for (size_t k = 0; k < sums.size(); ++k) {
    if (counts[k] > 0) std::cout << std::setw(10) << sums[k] / counts[k];
    else std::cout << std::setw(10) << "-";
  }
  std::cout << std::setw(10) << total / static_cast<double>(rows.size()) << "\n";
  return 0;
}

int cmd_eval_data(const DataEvalArgs& a) {
  configure_runtime(a.threads);
  Config cfg = config_of(a.config_file, a.overrides);
  const std::string path = a.data.empty() ? cfg.data.eval : a.data;
  if (path.empty()) throw ConfigError("eval: --data FILE.jsonl (or a --config with data.eval) names the rows to evaluate on");
  auto loaded = load_model(a.model);
  const auto rows = load_prompt_rows(path, a.data.empty() ? "data.eval" : "--data", cfg, *loaded.tokenizer);
  RewardSet rewards(cfg.rewards);
  DataEvalOptions eo;
  eo.prompts = a.n;
  eo.samples = a.samples;
  eo.temperature = a.temperature;
  eo.max_new_tokens = a.max_new_tokens;
  eo.seed = static_cast<uint64_t>(a.seed);
  const DataEvalResult r = evaluate_dataset(loaded.model, *loaded.tokenizer, rows, rewards, cfg.rewards, eo);
  if (a.json) {
    json j = r.to_json();
    j["model"] = a.model;
    j["data"] = path;
    j["temperature"] = a.temperature;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << a.model << " on '" << path << "' (T = " << a.temperature << ", " << r.seconds << " s)\n" << r.table();
  }
  return 0;
}

}  // namespace grpo

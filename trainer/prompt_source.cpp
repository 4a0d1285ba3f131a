// The built-in task's and a dataset's prompt streams (see prompt_source.h).
#include "trainer/prompt_source.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "trainer/chat_template.h"
#include "trainer/dataset.h"

namespace grpo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string rng_to_text(const std::mt19937_64& rng) {
  std::ostringstream os;
  os << rng;
  return os.str();
}

class TaskPrompts final : public PromptSource {
 public:
  TaskPrompts(const ArithmeticTask& task, const Tokenizer& tok, uint64_t seed) : task_(task), tok_(tok), rng_(seed) {}

  PromptItem next() override {
    const Problem p = task_.sample(rng_);
    PromptItem item;
    item.prompt = p.prompt;
    item.ids = tok_.encode(p.prompt);
    item.answer = p.answer;
    return item;
  }
  // The same key as before datasets existed, so older checkpoints resume.
  json state() const override { return {{"prompt_rng", rng_to_text(rng_)}}; }
  void restore(const json& state) override {
    if (!state.contains("prompt_rng") || !state["prompt_rng"].is_string())
      throw ConfigError("--resume: the checkpoint holds no built-in task position (was it trained on data.train?)");
    std::istringstream is(state["prompt_rng"].get<std::string>());
    is >> rng_;
    if (!is) throw ConfigError("--resume: the checkpoint's built-in task position is corrupt");
  }
  std::optional<bool> grammar_ok(const std::string& completion) const override {
    return task_.parse(completion).well_formed;
  }
  int64_t longest_prompt() const override { return static_cast<int64_t>(task_.prompt_length()); }
  std::string describe() const override { return "the built-in '" + task_.kind() + "' task"; }

 private:
  const ArithmeticTask& task_;
  const Tokenizer& tok_;
  std::mt19937_64 rng_;
};

class DatasetPrompts final : public PromptSource {
 public:
  DatasetPrompts(std::vector<PromptItem> rows, std::string describe, uint64_t seed)
      : rows_(std::move(rows)), describe_(std::move(describe)), cursor_(static_cast<int64_t>(rows_.size()), seed) {
    for (const auto& r : rows_)
      if (static_cast<int64_t>(r.ids.size()) > longest_) longest_ = static_cast<int64_t>(r.ids.size()), longest_line_ = r.line;
  }
  PromptItem next() override { return rows_[static_cast<size_t>(cursor_.next())]; }
  json state() const override { return {{"data", cursor_.state()}}; }
  void restore(const json& state) override {
    if (!state.contains("data"))
      throw ConfigError("--resume: the checkpoint holds no data.train position (was it trained on the built-in task?)");
    try {
      cursor_.restore(state["data"]);
    } catch (const DataError& e) {
      throw ConfigError(std::string("--resume: ") + e.what());
    }
  }
  int64_t longest_prompt() const override { return longest_; }
  int64_t longest_prompt_line() const override { return longest_line_; }
  std::string describe() const override { return describe_; }

 private:
  std::vector<PromptItem> rows_;
  std::string describe_;
  DataCursor cursor_;
  int64_t longest_ = 0, longest_line_ = 0;
};

std::string read_text(const std::string& path, const std::string& key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("config: '" + key + "' = '" + path + "' cannot be read (does it exist?)");
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

}  // namespace

std::unique_ptr<PromptSource> task_prompts(const ArithmeticTask& task, const Tokenizer& tok, uint64_t seed) {
  return std::make_unique<TaskPrompts>(task, tok, seed);
}

std::unique_ptr<PromptSource> dataset_prompts(std::vector<PromptItem> rows, std::string describe, uint64_t seed) {
  return std::make_unique<DatasetPrompts>(std::move(rows), std::move(describe), seed);
}

std::optional<ChatTemplate> prompt_chat_template(const Config& cfg, const Tokenizer& tok) {
  if (!cfg.data.chat_template.empty()) {
    ChatTemplate t;
    t.source = read_text(cfg.data.chat_template, "data.chat_template");
    t.folder = cfg.data.chat_template;
    if (const auto own = tok.describe(); own.rfind("hf:", 0) == 0) {  // the model's special tokens still apply
      if (auto folder = ChatTemplate::from_folder(own.substr(3))) t.special_tokens = folder->special_tokens;
    }
    return t;
  }
  const std::string own = tok.describe();
  if (own.rfind("hf:", 0) == 0) return ChatTemplate::from_folder(own.substr(3));
  return std::nullopt;
}

std::vector<PromptItem> load_prompt_rows(const std::string& path, const std::string& what, const Config& cfg,
                                         const Tokenizer& tok) {
  std::vector<DataRow> rows;
  try {
    DataOptions opt;
    opt.answer_key = cfg.data.answer_key;
    opt.what = what;
    rows = load_dataset(path, opt);
  } catch (const DataError& e) {
    throw ConfigError(e.what());
  }
  const std::string where = what + " '" + path + "'";
  if (!cfg.data.chat_template.empty() && !fs::is_regular_file(cfg.data.chat_template))
    throw ConfigError("config: 'data.chat_template' = '" + cfg.data.chat_template + "' is not a file (does it exist?)");
  // Messages prompts are rendered together: one Jinja process for the whole file.
  std::vector<json> conversations;
  std::vector<size_t> conversation_row;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].prompt.is_array()) conversations.push_back(rows[i].prompt), conversation_row.push_back(i);
  std::vector<std::string> rendered;
  if (!conversations.empty()) {
    const auto tmpl = prompt_chat_template(cfg, tok);
    if (!tmpl)
      throw ConfigError(where + " line " + std::to_string(rows[conversation_row[0]].line) +
                        ": 'prompt' is a list of messages, but the model has no chat template (set data.chat_template "
                        "to a Jinja file, or write the prompt as a string)");
    try {
      rendered = tmpl->render(conversations, /*add_generation_prompt=*/true);
    } catch (const ChatTemplateError& e) {
      throw ConfigError(where + ": rendering its messages prompts failed: " + e.what());
    }
  }
  std::vector<PromptItem> out(rows.size());
  for (size_t k = 0; k < conversation_row.size(); ++k) out[conversation_row[k]].prompt = std::move(rendered[k]);
  for (size_t i = 0; i < rows.size(); ++i) {
    PromptItem& item = out[i];
    if (rows[i].prompt.is_string()) item.prompt = rows[i].prompt.get<std::string>();
    try {
      item.ids = tok.encode(item.prompt);
    } catch (const std::exception& e) {
      const bool chars = tok.describe().rfind("char:", 0) == 0;
      throw ConfigError(where + " line " + std::to_string(rows[i].line) + ": 'prompt' cannot be tokenized: " + e.what() +
                        (chars ? " (a built-in character tokenizer knows only its alphabet: a random init with "
                                 "model.alphabet=ascii knows printable ASCII; other text needs a model folder, model.path)"
                               : ""));
    }
    if (item.ids.empty()) throw ConfigError(where + " line " + std::to_string(rows[i].line) + ": 'prompt' has no tokens");
    item.answer = std::move(rows[i].answer);
    item.data_source = std::move(rows[i].data_source);
    item.columns = std::move(rows[i].columns);
    item.line = rows[i].line;
  }
  return out;
}

std::unique_ptr<PromptSource> training_prompts(const Config& cfg, const ArithmeticTask& task, const Tokenizer& tok) {
  if (cfg.data.train.empty()) return task_prompts(task, tok, static_cast<uint64_t>(cfg.seed));
  auto rows = load_prompt_rows(cfg.data.train, "data.train", cfg, tok);
  const std::string describe = "data.train '" + cfg.data.train + "'";
  return dataset_prompts(std::move(rows), describe, static_cast<uint64_t>(cfg.seed));
}

}  // namespace grpo

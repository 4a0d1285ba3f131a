// Model references to models and tokenizers (see model_source.h).
#include "trainer/model_source.h"

#include <torch/torch.h>

#include <filesystem>
#include <vector>

#include "trainer/checkpoint.h"
#include "trainer/hf_model.h"
#include "trainer/hf_tokenizer.h"
#include "trainer/resources.h"

namespace grpo {

namespace fs = std::filesystem;

std::string resolve_model_path(const std::string& ref) {
  const std::string prefix = "builtin:";
  if (ref.rfind(prefix, 0) != 0) return ref;
  const std::string file = "models/" + ref.substr(prefix.size()) + ".pt";
  if (const auto found = find_resource(file)) return *found;
  throw ConfigError("built-in model '" + ref + "' not found (looked for " + file + " under " +
                    resource_roots_description() + ")");
}

bool is_model_folder(const std::string& ref) {
  std::error_code ec;
  return fs::is_directory(ref, ec) && fs::exists(fs::path(ref) / "config.json", ec);
}

namespace {

std::unique_ptr<Tokenizer> folder_tokenizer(const std::string& dir) {
  try {
    return HfTokenizer::from_folder(fs::absolute(dir).lexically_normal().string());
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
}

void check_not_a_bare_folder(const std::string& ref) {
  std::error_code ec;
  if (fs::is_directory(ref, ec))
    throw ConfigError("'" + ref + "' is a folder without config.json: not a Hugging Face model folder");
}

void check_model_path(const std::string& path) {
  if (!is_model_folder(path))
    throw ConfigError("model.path: '" + path + "' is not a Hugging Face model folder (no config.json there)");
}

}  // namespace

LoadedModel load_model(const std::string& ref) {
  LoadedModel out;
  out.source = ref;
  if (is_model_folder(ref)) {
    out.tokenizer = folder_tokenizer(ref);
    out.model = load_hf_model(ref);
    // Every id the tokenizer can produce must have an embedding row (the model may have more: Qwen pads).
    const ModelSpec& spec = out.model->spec();
    if (out.tokenizer->vocab_size() > spec.vocab_size)
      throw ConfigError("model folder '" + ref + "': tokenizer.json has ids up to " +
                        std::to_string(out.tokenizer->vocab_size() - 1) + " but config.json's vocab_size is " +
                        std::to_string(spec.vocab_size) + " (tokenizer and weights do not belong together)");
    return out;
  }
  check_not_a_bare_folder(ref);
  auto ck = read_checkpoint(resolve_model_path(ref));
  out.model = ck.model;
  try {
    out.tokenizer = tokenizer_from_description(ck.header.tokenizer);
  } catch (const std::invalid_argument& e) {
    throw CheckpointError("checkpoint '" + ck.path + "': its tokenizer cannot be loaded (" + e.what() + ")");
  }
  return out;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& ref) {
  if (is_model_folder(ref) || (fs::is_directory(ref) && fs::exists(fs::path(ref) / "tokenizer.json")))
    return folder_tokenizer(ref);
  return load_model(ref).tokenizer;
}

LoadedModel load_start_model(ModelConfig& m, uint64_t seed) {
  LoadedModel out;
  if (!m.path.empty()) {
    check_model_path(m.path);
    m.path = fs::absolute(m.path).lexically_normal().string();  // a resumed run finds it from any folder
    out = load_model(m.path);
  } else if (!m.init.empty()) {
    out = load_model(m.init);
  } else {
    out.source = "random init";
    out.tokenizer = std::make_unique<CharTokenizer>(m.alphabet == "ascii" ? ascii_alphabet() : builtin_alphabet());
    torch::manual_seed(seed);
    ModelSpec spec = m.spec;
    spec.vocab_size = out.tokenizer->vocab_size();
    apply_family_rules(spec);
    out.model = Transformer(spec);
  }
  m.spec = out.model->spec();  // the model's own shape wins
  return out;
}

std::unique_ptr<Tokenizer> load_start_tokenizer(const ModelConfig& m) {
  if (!m.path.empty()) {
    check_model_path(m.path);
    return folder_tokenizer(m.path);
  }
  if (!m.init.empty()) return load_model(m.init).tokenizer;
  return std::make_unique<CharTokenizer>(m.alphabet == "ascii" ? ascii_alphabet() : builtin_alphabet());
}

}  // namespace grpo

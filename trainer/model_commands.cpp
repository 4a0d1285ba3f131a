// The model commands (see model_commands.h).
#include "trainer/model_commands.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "trainer/chat_template.h"
#include "trainer/config.h"
#include "trainer/hf_model.h"
#include "trainer/model_source.h"
#include "trainer/runtime.h"
#include "trainer/sampler.h"

namespace grpo {

using nlohmann::json;

namespace {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("--file: cannot read '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Encodes, turning the tokenizer's complaint (text it cannot encode) into a usage error.
std::vector<int64_t> encode(const Tokenizer& tok, const std::string& text, const std::string& what) {
  try {
    return tok.encode(text);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(what + ": " + e.what());
  }
}

json tokens_json(const Tokenizer& tok, const std::vector<int64_t>& ids) {
  json out = json::array();
  for (int64_t id : ids) out.push_back({{"id", id}, {"text", valid_utf8(tok.token_bytes(id))}});
  return out;
}

}  // namespace

int cmd_tokenize(const TokenizeArgs& a) {
  if (a.text.empty() == a.file.empty()) throw ConfigError("tokenize: give exactly one of --text and --file");
  const auto tok = load_tokenizer(a.model);
  const std::string text = a.file.empty() ? a.text : read_text_file(a.file);
  const auto ids = encode(*tok, text, a.file.empty() ? "--text" : "--file " + a.file);
  if (a.json) {
    std::cout << json{{"model", a.model}, {"ids", ids}, {"tokens", tokens_json(*tok, ids)}}.dump(2) << "\n";
  } else {
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
  }
  return 0;
}

int cmd_generate(const GenerateArgs& a) {
  configure_runtime(a.threads);
  auto loaded = load_model(a.model);
  const Tokenizer& tok = *loaded.tokenizer;
  std::string prompt = a.prompt;
  if (a.chat) {
    const auto tmpl = ChatTemplate::from_folder(a.model);
    if (!tmpl)
      throw ConfigError("--chat: '" + a.model + "' has no chat template (tokenizer_config.json's chat_template); "
                        "drop --chat to pass the prompt as plain text");
    json messages = json::array();
    if (!a.system.empty()) messages.push_back({{"role", "system"}, {"content", a.system}});
    messages.push_back({{"role", "user"}, {"content", a.prompt}});
    prompt = tmpl->render({messages}, /*add_generation_prompt=*/true, {{"enable_thinking", a.thinking}}).front();
  }
  const auto prompt_ids = encode(tok, prompt, "--prompt");
  if (prompt_ids.empty()) throw ConfigError("--prompt: the prompt encodes to no tokens");
  const int64_t context = loaded.model->spec().context;
  if (static_cast<int64_t>(prompt_ids.size()) + a.max_new_tokens > context)
    throw ConfigError("--max-new-tokens: the prompt (" + std::to_string(prompt_ids.size()) + " tokens) + " +
                      std::to_string(a.max_new_tokens) + " new tokens exceed the model's context of " +
                      std::to_string(context));
  torch::InferenceMode inference;
  loaded.model->eval();
  SamplingOptions so;
  so.greedy = a.temperature == 0.0;
  so.temperature = so.greedy ? 1.0 : a.temperature;
  so.top_p = a.top_p;
  so.max_new_tokens = a.max_new_tokens;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(a.seed));
  const Rollout r = generate(loaded.model, {prompt_ids}, so, SpecialTokens::of(tok), gen);
  const int64_t n = r.lengths[0];
  auto row = r.completion[0].narrow(0, 0, n).contiguous();
  const std::vector<int64_t> ids(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + n);
  const CompletionText text = completion_text(tok, ids);
  if (a.json) {
    std::cout << json{{"model", a.model},
                      {"prompt", valid_utf8(prompt)},
                      {"prompt_ids", prompt_ids},
                      {"completion_ids", ids},
                      {"completion", text.text},
                      {"offsets", text.offsets},
                      {"stopped", r.truncated[0] ? "length" : "eos"}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << text.text << "\n";
  }
  return 0;
}

int cmd_export(const ExportArgs& a) {
  auto loaded = load_model(a.checkpoint);
  ExportOptions eo;
  eo.dtype = a.dtype;
  export_hf_model(loaded.model, *loaded.tokenizer, a.out, eo);
  std::cout << "exported " << a.checkpoint << " (" << loaded.model->spec().hf_architecture() << ", "
            << loaded.model->num_parameters() << " parameters, " << a.dtype << ") to " << a.out << "\n";
  return 0;
}

}  // namespace grpo

// Hugging Face chat templates: the `chat_template` of a model folder (tokenizer_config.json, or a
// chat_template.jinja beside it) rendered exactly as transformers' apply_chat_template(..., tokenize=False)
// does. The rendering runs in real Jinja (Debian's python3-jinja2, the engine transformers uses) through
// resources/scripts/render_chat_template.py, one subprocess per render() call however many conversations
// it holds. No LibTorch here.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace grpo {

// A chat template that cannot be loaded or rendered, a malformed conversation, or a missing Python/jinja2.
// The message names the folder and what went wrong.
class ChatTemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws ChatTemplateError unless `messages` is a non-empty list of objects, each with a string "role" and a
// "content" that is a string or a list of parts (objects with a string "type"; "text" parts need a string
// "text"). `index` is the conversation's position, for the message.
void validate_conversation(const nlohmann::json& messages, size_t index);

struct ChatTemplate {
  std::string source;                                     // the Jinja source
  nlohmann::json special_tokens = nlohmann::json::object();  // bos_token, eos_token, ... as strings
  std::string folder;                                     // where it came from (for messages); may be empty

  // The template of a Hugging Face model folder: chat_template.jinja if present (it overrides the config, as
  // in transformers), else tokenizer_config.json's "chat_template" (a string, or a list of {name, template}
  // of which the "default" one is used). Special tokens come from tokenizer_config.json, overridden by
  // special_tokens_map.json. nullopt when the folder has no template; throws ChatTemplateError when the
  // folder is missing or its files are malformed.
  static std::optional<ChatTemplate> from_folder(const std::string& dir);

  // One rendered string per conversation (each a list of {role, content, ...} messages). The template sees
  // messages, add_generation_prompt, tools and documents (null unless given), the special tokens, then
  // `variables` (an object: enable_thinking, date_string, tools, ...), later ones winning.
  std::vector<std::string> render(const std::vector<nlohmann::json>& conversations, bool add_generation_prompt,
                                  const nlohmann::json& variables = {}) const;
};

}  // namespace grpo

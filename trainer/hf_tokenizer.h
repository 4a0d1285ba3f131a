// Hugging Face byte-level BPE tokenizers, read from a model folder's tokenizer.json as Qwen2/Qwen3, Llama 3
// and GPT-2 ship it, encoding exactly as the Rust `tokenizers` crate does: added tokens split out first,
// NFC normalization, Split/ByteLevel pre-tokenization (the Oniguruma regexes run with PCRE2), BPE merges by
// rank. Anything else a tokenizer.json can ask for is refused with an HfTokenizerError naming the file and
// field, never approximated. No post-processor: encode() never adds BOS/EOS (see Tokenizer::encode).
// Checked id for id against Hugging Face's JavaScript tokenizer on a 2 MB corpus (tests/peers, run by
// tests/trainer/test_hf_tokenizer.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "trainer/tokenizer.h"

namespace grpo {

// A tokenizer folder that cannot be read or asks for something this tokenizer does not implement. The
// message names the file and the field, e.g. "tokenizer.json: model.type 'Unigram' is not supported".
class HfTokenizerError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// One entry of tokenizer.json's added_tokens.
struct HfAddedToken {
  int64_t id = 0;
  std::string content;
  bool special = false;
  bool single_word = false;  // only matches where no word character touches it on either side
  bool lstrip = false;       // swallows the whitespace on its left
  bool rstrip = false;       // swallows the whitespace on its right
  bool normalized = false;   // matched in the normalized text rather than the raw text
};

class HfTokenizer final : public Tokenizer {
 public:
  // dir/tokenizer.json (required), dir/tokenizer_config.json and dir/generation_config.json (optional):
  // the special tokens come from the last two. describe() is "hf:" + the folder's absolute path.
  static std::unique_ptr<HfTokenizer> from_folder(const std::string& dir);
  // The same from the files' parsed contents; a null json stands for an absent optional file. Errors name
  // the files by their plain names (tokenizer.json, ...).
  static std::unique_ptr<HfTokenizer> from_json(const nlohmann::json& tokenizer,
                                                const nlohmann::json& tokenizer_config,
                                                const nlohmann::json& generation_config,
                                                std::string description);
  ~HfTokenizer() override;
  HfTokenizer(const HfTokenizer&) = delete;
  HfTokenizer& operator=(const HfTokenizer&) = delete;

  // Safe to call from several threads at once. Throws HfTokenizerError on text that is not valid UTF-8
  // (naming the byte offset).
  std::vector<int64_t> encode(std::string_view text) const override;
  // Appends the ids of `text` to `ids` (encode() without the allocation of a new vector).
  void encode_into(std::string_view text, std::vector<int64_t>& ids) const;
  std::string decode(const std::vector<int64_t>& ids) const override;
  // A vocabulary token's bytes (the ByteLevel mapping undone), an added token's content, "" otherwise.
  std::string token_bytes(int64_t id) const override;
  int64_t vocab_size() const override;  // max id + 1 over model.vocab and added_tokens
  int64_t pad_id() const override;
  const std::vector<int64_t>& eos_ids() const override;
  // Empty, except the pad id when the pad is a special token that does not end a completion (a dedicated
  // "<pad>", or Qwen's "<|endoftext|>" where generation_config.json does not list it as an eos id).
  std::vector<int64_t> never_sampled() const override;
  std::string describe() const override;

  // An added token's content ("<|im_end|>") or a vocabulary token in tokenizer.json's byte-level spelling
  // ("Ġthe" for " the"); nullopt when there is no such token.
  std::optional<int64_t> token_to_id(std::string_view token) const;
  // The inverse: an added token's content, or a vocabulary token's byte-level spelling.
  std::optional<std::string> id_to_token(int64_t id) const;
  // tokenizer_config.json's bos_token, else generation_config.json's bos_token_id (Qwen has none).
  std::optional<int64_t> bos_id() const;
  bool is_special(int64_t id) const;  // an added token marked "special"
  const std::vector<HfAddedToken>& added_tokens() const;

 private:
  struct Impl;
  explicit HfTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace grpo

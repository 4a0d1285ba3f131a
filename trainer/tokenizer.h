// Tokenizers behind one small interface, so the trainer does not care whether it runs the built-in
// character-level tasks or a real model's byte-level BPE vocabulary (trainer/hf_tokenizer.h). Text is
// UTF-8 bytes throughout; a token's bytes may end inside a multi-byte character. No LibTorch here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace grpo {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Text to ids, without any post-processor's added BOS/EOS (prompts come from a chat template or as
  // plain text, as TRL tokenizes them). Throws std::invalid_argument on text it cannot encode.
  virtual std::vector<int64_t> encode(std::string_view text) const = 0;
  // Ids to bytes: the concatenation of token_bytes() of each id. Ids it does not know decode to "".
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  // The raw bytes one token stands for (may be part of a UTF-8 character; "" for PAD or an unknown id).
  virtual std::string token_bytes(int64_t id) const = 0;
  // Ids the tokenizer knows are [0, vocab_size()); a model's embedding may be larger (Qwen pads it).
  virtual int64_t vocab_size() const = 0;
  // The id left-padded prompts and finished rows are filled with (masked out of attention and loss).
  virtual int64_t pad_id() const = 0;
  // Every id that ends a completion (generation_config.json may list several); never empty.
  virtual const std::vector<int64_t>& eos_ids() const = 0;
  // Ids sampling must never produce: the built-in PAD, which is not a token; a real PAD token is fine.
  virtual std::vector<int64_t> never_sampled() const = 0;
  virtual std::string describe() const = 0;  // recorded in checkpoints, e.g. "char:<alphabet>"

  int64_t eos_id() const { return eos_ids().front(); }
  bool is_eos(int64_t id) const;
};

// One token per byte of a fixed alphabet; id 0 is PAD, the end-of-sequence character is '\n'.
class CharTokenizer final : public Tokenizer {
 public:
  explicit CharTokenizer(std::string alphabet);
  std::vector<int64_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  std::string token_bytes(int64_t id) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(alphabet_.size()) + 1; }
  int64_t pad_id() const override { return 0; }
  const std::vector<int64_t>& eos_ids() const override { return eos_; }
  std::vector<int64_t> never_sampled() const override { return {0}; }
  std::string describe() const override { return "char:" + alphabet_; }
  const std::string& alphabet() const { return alphabet_; }

 private:
  std::string alphabet_;
  int64_t index_[256];
  std::vector<int64_t> eos_;
};

// A completion's text as the rewards, the run store and the studio see it: the tokens' bytes with
// end-of-sequence ids dropped, made valid UTF-8 (each maximal invalid byte sequence becomes U+FFFD, as
// Hugging Face's decode does with errors="replace"), and each token's byte offset into that text. A token
// that starts inside a character gets the offset of its first byte within that character.
struct CompletionText {
  std::string text;
  std::vector<int32_t> offsets;  // one per id
};
CompletionText completion_text(const Tokenizer& tokenizer, const std::vector<int64_t>& ids);

// `bytes` as valid UTF-8 (invalid sequences replaced by U+FFFD). With `map`, map[i] is the output offset of
// input byte i (and map[size] the output's size).
std::string valid_utf8(std::string_view bytes, std::vector<int32_t>* map = nullptr);

// The alphabet of the built-in arithmetic tasks: 33 symbols plus PAD.
const std::string& builtin_alphabet();
// "\n" (end of sequence) and the 95 printable ASCII characters: a random init for text datasets.
const std::string& ascii_alphabet();

// Rebuilds a tokenizer from describe() output (as stored in a checkpoint): "char:<alphabet>", or
// "hf:<folder>" for a model folder's tokenizer.json.
std::unique_ptr<Tokenizer> tokenizer_from_description(const std::string& description);

}  // namespace grpo

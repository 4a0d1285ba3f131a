// Tokenizers behind one small interface, so the trainer does not care whether it runs the built-in
// character-level tasks or (later) a real model's BPE vocabulary. No LibTorch here.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace grpo {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::vector<int64_t> encode(std::string_view text) const = 0;  // throws on text it cannot encode
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;  // stops at nothing; PAD decodes to ""
  virtual std::string token_text(int64_t id) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t pad_id() const = 0;
  virtual int64_t eos_id() const = 0;
  virtual std::string describe() const = 0;  // recorded in checkpoints, e.g. "char:<alphabet>"
};

// One token per byte of a fixed alphabet; id 0 is PAD, the end-of-sequence character is '\n'.
class CharTokenizer final : public Tokenizer {
 public:
  explicit CharTokenizer(std::string alphabet);
  std::vector<int64_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  std::string token_text(int64_t id) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(alphabet_.size()) + 1; }
  int64_t pad_id() const override { return 0; }
  int64_t eos_id() const override { return eos_; }
  std::string describe() const override { return "char:" + alphabet_; }
  const std::string& alphabet() const { return alphabet_; }

 private:
  std::string alphabet_;
  int64_t index_[256];
  int64_t eos_ = -1;
};

// The alphabet of the built-in arithmetic tasks: 33 symbols plus PAD.
const std::string& builtin_alphabet();

// Rebuilds a tokenizer from CharTokenizer::describe() output (as stored in a checkpoint).
std::unique_ptr<Tokenizer> tokenizer_from_description(const std::string& description);

}  // namespace grpo

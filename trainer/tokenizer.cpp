// Character-level tokenizer for the built-in tasks (see tokenizer.h).
#include "trainer/tokenizer.h"

#include <algorithm>

namespace grpo {

const std::string& builtin_alphabet() {
  static const std::string kAlphabet = "\n0123456789+*=:,<>/ Qacehiknorstw";
  return kAlphabet;
}

CharTokenizer::CharTokenizer(std::string alphabet) : alphabet_(std::move(alphabet)) {
  std::fill(std::begin(index_), std::end(index_), -1);
  for (size_t i = 0; i < alphabet_.size(); ++i) {
    const auto c = static_cast<unsigned char>(alphabet_[i]);
    if (index_[c] != -1) throw std::invalid_argument("tokenizer alphabet repeats the character '" + std::string(1, alphabet_[i]) + "'");
    index_[c] = static_cast<int64_t>(i) + 1;
  }
  if (index_[static_cast<unsigned char>('\n')] == -1)
    throw std::invalid_argument("tokenizer alphabet needs '\\n' as its end-of-sequence character");
  eos_ = index_[static_cast<unsigned char>('\n')];
}

std::vector<int64_t> CharTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const int64_t id = index_[static_cast<unsigned char>(text[i])];
    if (id < 0)
      throw std::invalid_argument("character " + std::to_string(static_cast<int>(static_cast<unsigned char>(text[i]))) +
                                  " ('" + std::string(1, text[i]) + "') at position " + std::to_string(i) +
                                  " is not in the tokenizer's alphabet");
    ids.push_back(id);
  }
  return ids;
}

std::string CharTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  out.reserve(ids.size());
  for (int64_t id : ids) out += token_text(id);
  return out;
}

std::string CharTokenizer::token_text(int64_t id) const {
  if (id <= 0 || id > static_cast<int64_t>(alphabet_.size())) return {};
  return std::string(1, alphabet_[static_cast<size_t>(id - 1)]);
}

std::unique_ptr<Tokenizer> tokenizer_from_description(const std::string& description) {
  if (description.rfind("char:", 0) == 0) return std::make_unique<CharTokenizer>(description.substr(5));
  throw std::invalid_argument("unknown tokenizer '" + description.substr(0, 40) + "'");
}

}  // namespace grpo

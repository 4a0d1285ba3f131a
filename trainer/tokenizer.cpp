// Character-level tokenizer for the built-in tasks (see tokenizer.h).
#include "trainer/tokenizer.h"

#include <algorithm>
#include <cstdio>

#include "trainer/hf_tokenizer.h"

namespace grpo {

const std::string& builtin_alphabet() {
  static const std::string kAlphabet = "\n0123456789+*=:,<>/ Qacehiknorstw";
  return kAlphabet;
}

const std::string& ascii_alphabet() {
  static const std::string kAlphabet = [] {
    std::string a = "\n";
    for (char c = ' '; c <= '~'; ++c) a += c;
    return a;
  }();
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
  eos_ = {index_[static_cast<unsigned char>('\n')]};
}

std::vector<int64_t> CharTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const int64_t id = index_[static_cast<unsigned char>(text[i])];
    if (id < 0) {
      const auto byte = static_cast<unsigned char>(text[i]);
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", byte);
      throw std::invalid_argument(byte >= 0x80 ? "byte " + std::string(hex) + " at position " + std::to_string(i) +
                                                     " (part of a non-ASCII character) is not in the tokenizer's alphabet"
                                               : "character " + std::to_string(byte) + " ('" + std::string(1, text[i]) +
                                                     "') at position " + std::to_string(i) +
                                                     " is not in the tokenizer's alphabet");
    }
    ids.push_back(id);
  }
  return ids;
}

std::string CharTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  out.reserve(ids.size());
  for (int64_t id : ids) out += token_bytes(id);
  return out;
}

std::string CharTokenizer::token_bytes(int64_t id) const {
  if (id <= 0 || id > static_cast<int64_t>(alphabet_.size())) return {};
  return std::string(1, alphabet_[static_cast<size_t>(id - 1)]);
}

bool Tokenizer::is_eos(int64_t id) const {
  for (int64_t e : eos_ids())
    if (e == id) return true;
  return false;
}

namespace {

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, surrogates or code points past
// U+10FFFF), or 0 with `*bad` set to the length of the maximal invalid subpart (at least 1).
size_t utf8_sequence(std::string_view s, size_t i, size_t* bad) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  if (n == 0) {
    *bad = 1;
    return 0;
  }
  for (size_t k = 1; k < n; ++k) {
    const bool ok = i + k < s.size() && b(i + k) >= (k == 1 ? lo : 0x80) && b(i + k) <= (k == 1 ? hi : 0xBF);
    if (!ok) {
      *bad = k;
      return 0;
    }
  }
  return n;
}

}  // namespace

std::string valid_utf8(std::string_view bytes, std::vector<int32_t>* map) {
  std::string out;
  out.reserve(bytes.size());
  if (map) map->assign(bytes.size() + 1, 0);
  size_t i = 0;
  while (i < bytes.size()) {
    size_t bad = 0;
    const size_t n = utf8_sequence(bytes, i, &bad);
    if (n > 0) {
      for (size_t k = 0; k < n; ++k) {
        if (map) (*map)[i + k] = static_cast<int32_t>(out.size());
        out += bytes[i + k];
      }
      i += n;
    } else {
      for (size_t k = 0; k < bad; ++k)
        if (map) (*map)[i + k] = static_cast<int32_t>(out.size());
      out += "\xEF\xBF\xBD";  // U+FFFD
      i += bad;
    }
  }
  if (map) (*map)[bytes.size()] = static_cast<int32_t>(out.size());
  return out;
}

CompletionText completion_text(const Tokenizer& tok, const std::vector<int64_t>& ids) {
  std::string bytes;
  std::vector<size_t> starts;
  starts.reserve(ids.size());
  for (int64_t id : ids) {
    starts.push_back(bytes.size());
    if (!tok.is_eos(id)) bytes += tok.token_bytes(id);
  }
  CompletionText out;
  std::vector<int32_t> map;
  out.text = valid_utf8(bytes, &map);
  out.offsets.reserve(ids.size());
  for (size_t s : starts) out.offsets.push_back(map[s]);
  return out;
}

std::unique_ptr<Tokenizer> tokenizer_from_description(const std::string& description) {
  if (description.rfind("char:", 0) == 0) return std::make_unique<CharTokenizer>(description.substr(5));
  if (description.rfind("hf:", 0) == 0) return HfTokenizer::from_folder(description.substr(3));
  throw std::invalid_argument("unknown tokenizer '" + description.substr(0, 40) + "'");
}

}  // namespace grpo

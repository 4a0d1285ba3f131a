// UTF-8 scanning, the few Unicode properties the Hugging Face tokenizer needs (Oniguruma's and Rust's idea
// of whitespace and word characters) and NFC normalization (utf8proc). Internal to the tokenizer's files
// (hf_tokenizer.cpp and the parts it is made of); no LibTorch here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace grpo::hf {

constexpr size_t kNpos = std::string_view::npos;

// Offset of the first byte that does not start a well-formed UTF-8 sequence (overlongs, surrogates and
// code points past U+10FFFF are malformed), or kNpos.
size_t invalid_utf8_offset(std::string_view s);

inline size_t utf8_length(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

// The code point at s[i] (s is valid UTF-8).
inline uint32_t code_point_at(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  switch (utf8_length(p[0])) {
    case 1:
      return p[0];
    case 2:
      return ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu);
    case 3:
      return ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    default:
      return ((p[0] & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
  }
}

// Start of the character that ends at s[end) (end > 0).
inline size_t previous_char_start(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

// Unicode White_Space: what `\s` means to Oniguruma and to Rust's regex crate.
inline bool is_white_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

// Rust regex's `\w`: Alphabetic, marks, decimal digits, connector punctuation, joiners.
bool is_word_char(uint32_t cp);

// NFC of `s` (valid UTF-8): `s` itself when it is already NFC by a quick check, else the normalized text,
// stored in `buffer`. Throws HfTokenizerError when utf8proc fails.
std::string_view nfc(std::string_view s, std::string& buffer);

}  // namespace grpo::hf

// GPT-2's bytes_to_unicode (see byte_level.h): the printable bytes stand for themselves, the others, in
// order, for U+0100 onwards.
#include "trainer/byte_level.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "trainer/unicode.h"

namespace grpo {

namespace {

struct ByteLevelAlphabet {
  uint16_t byte_to_char[256];
  int16_t char_to_byte[324];  // every character of the alphabet is below U+0144

  ByteLevelAlphabet() {
    std::fill(std::begin(char_to_byte), std::end(char_to_byte), int16_t{-1});
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      byte_to_char[b] = static_cast<uint16_t>(printable ? b : 256 + extra++);
      char_to_byte[byte_to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelAlphabet& byte_level() {
  static const ByteLevelAlphabet kAlphabet;
  return kAlphabet;
}

}  // namespace

std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const uint16_t cp = byte_level().byte_to_char[static_cast<unsigned char>(c)];
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

bool byte_level_decode(std::string_view spelled, std::string& bytes) {
  bytes.clear();
  if (hf::invalid_utf8_offset(spelled) != hf::kNpos) return false;
  const auto& alphabet = byte_level();
  for (size_t i = 0; i < spelled.size(); i += hf::utf8_length(static_cast<unsigned char>(spelled[i]))) {
    const uint32_t cp = hf::code_point_at(spelled, i);
    if (cp >= 324 || alphabet.char_to_byte[cp] < 0) return false;
    bytes.push_back(static_cast<char>(alphabet.char_to_byte[cp]));
  }
  return true;
}

}  // namespace grpo

// UTF-8 and Unicode for the Hugging Face tokenizer (see unicode.h): validation, word characters and NFC,
// the last two from utf8proc's tables.
#include "trainer/unicode.h"

#include <utf8proc.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "trainer/hf_tokenizer.h"

namespace grpo::hf {

size_t invalid_utf8_offset(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      while (i + 8 <= n) {
        uint64_t v;
        std::memcpy(&v, p + i, 8);
        if (v & 0x8080808080808080ULL) break;
        i += 8;
      }
      while (i < n && p[i] < 0x80) ++i;
      continue;
    }
    const unsigned char c = p[i];
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k)
      if ((p[i + k] & 0xC0) != 0x80) return i;
    if (c == 0xE0 && p[i + 1] < 0xA0) return i;   // overlong
    if (c == 0xED && p[i + 1] >= 0xA0) return i;  // surrogate
    if (c == 0xF0 && p[i + 1] < 0x90) return i;   // overlong
    if (c == 0xF4 && p[i + 1] >= 0x90) return i;  // past U+10FFFF
    i += len;
  }
  return kNpos;
}

// Alphabetic is letters, letter numbers and Other_Alphabetic; the latter's members outside the marks are
// the circled and squared Latin letters listed here.
bool is_word_char(uint32_t cp) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return cp == 0x200C || cp == 0x200D || (cp >= 0x24B6 && cp <= 0x24E9) ||
             (cp >= 0x1F130 && cp <= 0x1F149) || (cp >= 0x1F150 && cp <= 0x1F169) ||
             (cp >= 0x1F170 && cp <= 0x1F189);
  }
}

namespace {

// The code points below U+20000 that NFC leaves as they are wherever they stand: combining class 0, NFC maps
// them to themselves, and no canonical decomposition (Hangul's included) has them after its first character,
// so nothing composes with them. (That covers every second character of a composition pair: none of those
// decomposes.) Text made only of these is NFC. Derived once from utf8proc's own tables (a few ms).
class NfcInert {
 public:
  static constexpr uint32_t kLimit = 0x20000;
  NfcInert() : bits_(kLimit / 64, ~0ULL) {
    for (uint32_t cp = 0; cp < kLimit; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) {  // never in valid UTF-8
        clear(cp);
        continue;
      }
      const auto c = static_cast<utf8proc_int32_t>(cp);
      if (utf8proc_get_property(c)->combining_class != 0) clear(cp);
      utf8proc_int32_t decomposed[32];
      int boundclass = 0;
      const utf8proc_ssize_t n = utf8proc_decompose_char(c, decomposed, 32, UTF8PROC_DECOMPOSE, &boundclass);
      if (n < 1 || n > 32) {
        clear(cp);
        continue;
      }
      for (utf8proc_ssize_t k = 1; k < n; ++k)
        if (static_cast<uint32_t>(decomposed[k]) < kLimit) clear(static_cast<uint32_t>(decomposed[k]));
      if (n > 1 || decomposed[0] != c) {  // NFC(c) == c only if it composes back
        const utf8proc_ssize_t m = utf8proc_normalize_utf32(
            decomposed, n, static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_STABLE));
        if (m != 1 || decomposed[0] != c) clear(cp);
      }
    }
  }
  bool test(uint32_t cp) const { return cp < kLimit && ((bits_[cp >> 6] >> (cp & 63)) & 1); }

 private:
  void clear(uint32_t cp) { bits_[cp >> 6] &= ~(1ULL << (cp & 63)); }
  std::vector<uint64_t> bits_;
};

bool is_nfc_inert(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0xCC) ++i;  // below U+0300: all inert
  if (i == s.size()) return true;
  static const NfcInert kInert;
  for (; i < s.size(); i += utf8_length(static_cast<unsigned char>(s[i])))
    if (static_cast<unsigned char>(s[i]) >= 0xCC && !kInert.test(code_point_at(s, i))) return false;
  return true;
}

}  // namespace

std::string_view nfc(std::string_view s, std::string& buffer) {
  if (is_nfc_inert(s)) return s;
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                          static_cast<utf8proc_ssize_t>(s.size()), &out,
                                          static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) throw HfTokenizerError(std::string("NFC normalization failed: ") + utf8proc_errmsg(n));
  if (out != nullptr) buffer.assign(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return buffer;
}

}  // namespace grpo::hf

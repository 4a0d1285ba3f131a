// Hugging Face byte-level BPE tokenizer (see hf_tokenizer.h). Each step follows the Rust `tokenizers`
// crate (tokenizer/added_vocabulary.rs, pre_tokenizers/{split,byte_level}.rs, models/bpe/): the
// comments name the behaviour they reproduce. BPE runs on raw bytes: the vocabulary is stored under the
// bytes its byte-level spelling stands for, so encoding never builds the "Ġ..." strings.
#include "trainer/hf_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <nlohmann/json.hpp>

namespace grpo {

using nlohmann::json;

namespace {

constexpr size_t kNpos = std::string_view::npos;

[[noreturn]] void fail(const std::string& message) {
  throw HfTokenizerError(message);
}

std::string quote(std::string_view s, size_t max_chars = 60) {
  std::string out = "'";
  out.append(s.substr(0, max_chars));
  if (s.size() > max_chars) out += "...";
  return out + "'";
}

std::string hex_byte(unsigned char b) {
  static const char* kDigits = "0123456789abcdef";
  return std::string("0x") + kDigits[b >> 4] + kDigits[b & 15];
}

// ---------------------------------------------------------------------------------------------------------
// UTF-8 and the few Unicode properties the added-token flags need.

// Offset of the first byte that does not start a well-formed UTF-8 sequence (overlongs, surrogates and
// code points past U+10FFFF are malformed), or kNpos.
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

inline size_t utf8_length(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

// The code point at s[i] (s is valid UTF-8).
uint32_t code_point_at(std::string_view s, size_t i) {
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
size_t previous_char_start(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

// Unicode White_Space: what `\s` means to Oniguruma and to Rust's regex crate.
bool is_white_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

// Rust regex's `\w`: Alphabetic, marks, decimal digits, connector punctuation, joiners. Alphabetic is
// letters, letter numbers and Other_Alphabetic; the latter's members outside the marks are the circled and
// squared Latin letters listed here.
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

// NFC (utf8proc), returning `s` itself when it is already NFC by the check above.
std::string_view nfc(std::string_view s, std::string& buffer) {
  if (is_nfc_inert(s)) return s;
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                          static_cast<utf8proc_ssize_t>(s.size()), &out,
                                          static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) fail(std::string("NFC normalization failed: ") + utf8proc_errmsg(n));
  if (out != nullptr) buffer.assign(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return buffer;
}

// ---------------------------------------------------------------------------------------------------------
// GPT-2's bytes_to_unicode: each byte is spelled as one printable character in the vocabulary.

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

// The bytes a byte-level spelling stands for; false when a character is outside the alphabet (the ByteLevel
// decoder then falls back to the spelling's own UTF-8, as Rust's does).
bool byte_level_decode(std::string_view spelled, std::string& bytes) {
  bytes.clear();
  if (invalid_utf8_offset(spelled) != kNpos) return false;
  const auto& alphabet = byte_level();
  for (size_t i = 0; i < spelled.size(); i += utf8_length(static_cast<unsigned char>(spelled[i]))) {
    const uint32_t cp = code_point_at(spelled, i);
    if (cp >= 324 || alphabet.char_to_byte[cp] < 0) return false;
    bytes.push_back(static_cast<char>(alphabet.char_to_byte[cp]));
  }
  return true;
}

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

// ---------------------------------------------------------------------------------------------------------
// Hash tables that look up by string_view or id pair without allocating.

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

inline uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (s.size() * 0x100000001B3ULL);
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = mix64(h ^ v) * 0x9E3779B97F4A7C15ULL;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  return mix64(h ^ tail ^ (static_cast<uint64_t>(n) << 59));
}

size_t table_capacity_for(size_t entries) {  // a power of two, at most ~60% full
  size_t capacity = 16;
  while (capacity * 3 < entries * 5) capacity *= 2;
  return capacity;
}

// Byte strings to ids; the keys live in one arena.
class BytesToId {
 public:
  void reserve(size_t entries) { rehash(table_capacity_for(entries)); }

  void insert(std::string_view key, int32_t id) {
    if (slots_.empty() || (size_ + 1) * 5 > slots_.size() * 3) rehash(table_capacity_for(size_ + 1) * 2);
    const uint64_t h = hash_bytes(key);
    size_t i = h & (slots_.size() - 1);
    while (slots_[i].id >= 0) {
      if (matches(slots_[i], key, h)) {
        slots_[i].id = id;
        return;
      }
      i = (i + 1) & (slots_.size() - 1);
    }
    slots_[i] = {static_cast<uint32_t>(h), static_cast<uint32_t>(arena_.size()),
                 static_cast<uint32_t>(key.size()), id};
    arena_.append(key);
    ++size_;
  }

  int32_t find(std::string_view key) const { return find(key, hash_bytes(key)); }
  int32_t find(std::string_view key, uint64_t h) const {  // h: hash_bytes(key)
    if (slots_.empty()) return -1;
    for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& slot = slots_[i];
      if (slot.id < 0) return -1;
      if (matches(slot, key, h)) return slot.id;
    }
  }

 private:
  struct Slot {
    uint32_t hash = 0;
    uint32_t offset = 0;
    uint32_t length = 0;
    int32_t id = -1;  // -1: empty
  };

  bool matches(const Slot& slot, std::string_view key, uint64_t h) const {
    return slot.hash == static_cast<uint32_t>(h) && slot.length == key.size() &&
           std::memcmp(arena_.data() + slot.offset, key.data(), key.size()) == 0;
  }

  void rehash(size_t capacity) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{});
    for (const Slot& slot : old) {
      if (slot.id < 0) continue;
      const uint64_t h = hash_bytes(std::string_view(arena_.data() + slot.offset, slot.length));
      size_t i = h & (capacity - 1);
      while (slots_[i].id >= 0) i = (i + 1) & (capacity - 1);
      slots_[i] = slot;
    }
  }

  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
};

// BPE merges: (left id, right id) -> (rank, merged id).
class MergeTable {
 public:
  static constexpr uint32_t kNoMerge = std::numeric_limits<uint32_t>::max();

  void reserve(size_t entries) { slots_.assign(table_capacity_for(entries), Slot{}); }

  // A later merge of the same pair replaces the earlier one (Rust collects them into a HashMap).
  void insert(int32_t left, int32_t right, uint32_t rank, int32_t merged) {
    if (slots_.empty() || (size_ + 1) * 5 > slots_.size() * 3) grow();
    const uint64_t key = pair_key(left, right);
    size_t i = mix64(key) & (slots_.size() - 1);
    while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & (slots_.size() - 1);
    if (slots_[i].key == kEmpty) ++size_;
    slots_[i] = {key, rank, merged};
  }

  // The rank of merging left and right (kNoMerge when they do not merge) and the merged id.
  uint32_t find(int32_t left, int32_t right, int32_t& merged) const {
    if (slots_.empty()) return kNoMerge;
    const uint64_t key = pair_key(left, right);
    for (size_t i = mix64(key) & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& slot = slots_[i];
      if (slot.key == key) {
        merged = slot.merged;
        return slot.rank;
      }
      if (slot.key == kEmpty) return kNoMerge;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~0ULL;
  struct Slot {
    uint64_t key = kEmpty;
    uint32_t rank = 0;
    int32_t merged = 0;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(16, old.size() * 2), Slot{});
    size_ = 0;
    for (const Slot& slot : old)
      if (slot.key != kEmpty)
        insert(static_cast<int32_t>(slot.key >> 32), static_cast<int32_t>(slot.key & 0xFFFFFFFF), slot.rank,
               slot.merged);
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

// Pre-token bytes -> their BPE ids, bounded: when full it starts over (text drifts; the hot words come
// back within a few thousand pre-tokens). A slot is half a cache line and holds short words and their ids
// itself, so that a hit usually costs one cache miss.
class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 256;  // Rust's MAX_LENGTH: longer words are not cached
  static constexpr size_t kMaxEntries = 1 << 15;

  WordCache() : slots_(kMaxEntries * 2) {}

  bool find(std::string_view word, uint64_t h, std::vector<int64_t>& out) const {
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    const uint64_t short_key = word.size() <= 8 ? padded(word) : 0;
    for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& slot = slots_[i];
      if (slot.key_length == 0) return false;
      if (slot.tag != tag || slot.key_length != word.size()) continue;
      if (word.size() <= 8 ? slot.key.inline_word == short_key
                           : std::memcmp(keys_.data() + slot.key.offset, word.data(), word.size()) == 0) {
        const int32_t* ids = ids_of(slot);
        out.insert(out.end(), ids, ids + slot.ids_length);
        return true;
      }
    }
  }

  void insert(std::string_view word, uint64_t h, const int64_t* ids, size_t n) {
    if (word.empty() || word.size() >= kMaxWordBytes || n == 0 || n > 255) return;
    if (size_ >= kMaxEntries) clear();
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    size_t i = h & (slots_.size() - 1);
    for (; slots_[i].key_length != 0; i = (i + 1) & (slots_.size() - 1))
      if (slots_[i].tag == tag && slots_[i].key_length == word.size() &&
          std::memcmp(key_of(slots_[i]), word.data(), word.size()) == 0)
        return;  // another thread got here first
    Slot& slot = slots_[i];
    slot.tag = tag;
    slot.key_length = static_cast<uint8_t>(word.size());
    slot.ids_length = static_cast<uint8_t>(n);
    if (word.size() <= 8) {
      slot.key.inline_word = padded(word);
    } else {
      slot.key.offset = static_cast<uint32_t>(keys_.size());
      keys_.append(word);
    }
    int32_t* dst = slot.ids.inline_ids;
    if (n > kInlineIds) {
      slot.ids.offset = static_cast<uint32_t>(ids_.size());
      ids_.resize(ids_.size() + n);
      dst = ids_.data() + slot.ids.offset;
    }
    for (size_t k = 0; k < n; ++k) dst[k] = static_cast<int32_t>(ids[k]);
    ++size_;
  }

 private:
  static constexpr size_t kInlineIds = 4;
  struct Slot {
    uint32_t tag = 0;        // the hash's high half
    uint8_t key_length = 0;  // 0: empty (empty words are never cached)
    uint8_t ids_length = 0;
    union {
      uint64_t inline_word;  // key_length <= 8: the bytes, zero-padded
      uint32_t offset;       // else: in keys_
    } key{};
    union {
      int32_t inline_ids[kInlineIds];  // ids_length <= 4
      uint32_t offset;                 // else: in ids_
    } ids{};
  };
  static_assert(sizeof(Slot) == 32, "a slot is half a cache line");

  static uint64_t padded(std::string_view word) {
    uint64_t v = 0;
    std::memcpy(&v, word.data(), word.size());
    return v;
  }
  const char* key_of(const Slot& slot) const {
    return slot.key_length <= 8 ? reinterpret_cast<const char*>(&slot.key.inline_word)
                                : keys_.data() + slot.key.offset;
  }
  const int32_t* ids_of(const Slot& slot) const {
    return slot.ids_length <= kInlineIds ? slot.ids.inline_ids : ids_.data() + slot.ids.offset;
  }

  void clear() {
    std::fill(slots_.begin(), slots_.end(), Slot{});
    keys_.clear();
    ids_.clear();
    size_ = 0;
  }

  std::vector<Slot> slots_;
  std::string keys_;
  std::vector<int32_t> ids_;
  size_t size_ = 0;
};

// ---------------------------------------------------------------------------------------------------------
// Regexes: tokenizer.json's patterns are written for Oniguruma; PCRE2 runs them as written, with two
// adjustments for Oniguruma's meaning: `\s`/`\S` become White_Space (PCRE2 10.42's \s also takes U+180E),
// and ^/$ are line anchors (MULTILINE). Escapes whose meaning differs and cannot be mapped this simply
// (\h is a hex digit to Oniguruma; \w and \b use another word set) are refused.

std::string oniguruma_to_pcre2(std::string_view pattern, const std::string& field) {
  std::string out;
  out.reserve(pattern.size() + 32);
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '\\' || i + 1 == pattern.size()) {
      out.push_back(pattern[i]);
      continue;
    }
    const char next = pattern[++i];
    switch (next) {
      case 's':
        out += "\\p{White_Space}";
        break;
      case 'S':
        out += "\\P{White_Space}";
        break;
      case 'h':
      case 'H':
      case 'w':
      case 'W':
      case 'b':
      case 'B':
        fail(field + ": the escape \\" + next +
             " means something else to Oniguruma (which the tokenizer was made with) than to PCRE2; not "
             "supported");
      case 'Q': {  // \Q...\E is literal text: copy it untouched
        const size_t end = pattern.find("\\E", i + 1);
        out.append("\\Q");
        out.append(pattern.substr(i + 1, end == kNpos ? kNpos : end - i - 1));
        if (end == kNpos) return out;
        out.append("\\E");
        i = end + 1;
        break;
      }
      default:
        out.push_back('\\');
        out.push_back(next);
    }
  }
  return out;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

class MatchData {
 public:
  MatchData() : data_(pcre2_match_data_create(1, nullptr)) {
    if (data_ == nullptr) throw std::bad_alloc();
  }
  ~MatchData() { pcre2_match_data_free(data_); }
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
  pcre2_match_data* get() const { return data_; }

 private:
  pcre2_match_data* data_;
};

class Regex {
 public:
  // literal: a Split's {"String": ...} pattern, matched as plain text.
  Regex(std::string_view pattern, bool literal, const std::string& field) {
    const std::string translated = literal ? std::string(pattern) : oniguruma_to_pcre2(pattern, field);
    const uint32_t options =
        literal ? (PCRE2_UTF | PCRE2_LITERAL) : (PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE);
    pcre2_compile_context* context = pcre2_compile_context_create(nullptr);
    pcre2_set_newline(context, PCRE2_NEWLINE_LF);  // Oniguruma's lines end at \n only
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(), options, &error,
                          &error_offset, context);
    pcre2_compile_context_free(context);
    if (code_ == nullptr)
      fail(field + ": the regex " + quote(pattern, 200) + " does not compile: " + pcre2_message(error) +
           " at offset " + std::to_string(error_offset));
    uint32_t have_jit = 0;
    pcre2_config(PCRE2_CONFIG_JIT, &have_jit);
    jit_ = have_jit != 0 && pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
  }
  ~Regex() { pcre2_code_free(code_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls on_match(start, end) for each match in `subject` (valid UTF-8) as Oniguruma's find_iter yields
  // them: left to right, not overlapping; an empty match right where the previous match ended is skipped by
  // moving on one character. Lookarounds see the whole subject.
  template <class OnMatch>
  void for_each_match(std::string_view subject, const MatchData& md, OnMatch&& on_match) const {
    const auto* text = reinterpret_cast<PCRE2_SPTR>(subject.data());
    const size_t n = subject.size();
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(md.get());
    size_t search_from = 0;
    bool matched_before = false;
    size_t last_match_end = 0;
    while (search_from <= n) {
      int rc = jit_ ? pcre2_jit_match(code_, text, n, search_from, 0, md.get(), nullptr)
                    : pcre2_match(code_, text, n, search_from, PCRE2_NO_UTF_CHECK, md.get(), nullptr);
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // a pathological backtrack: the interpreter keeps its stack on
                                             // the heap
        rc = pcre2_match(code_, text, n, search_from, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md.get(), nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) return;
      if (rc < 0) fail("pre-tokenizer regex failed: " + pcre2_message(rc));
      const size_t start = ovector[0];
      const size_t end = std::max<size_t>(ovector[1], start);
      if (start == end && matched_before && last_match_end == end) {
        if (search_from >= n) return;
        search_from += utf8_length(text[search_from]);
        continue;
      }
      search_from = end;
      last_match_end = end;
      matched_before = true;
      on_match(start, end);
    }
  }

 private:
  pcre2_code* code_ = nullptr;
  bool jit_ = false;
};

// ByteLevel's own split when use_regex is true: GPT-2's pattern.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct PreTokenizerStep {
  enum class Kind { kSplit, kPrefixSpace } kind = Kind::kSplit;
  std::unique_ptr<Regex> regex;  // kSplit
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
};

// ---------------------------------------------------------------------------------------------------------
// Added tokens: a byte trie, searched leftmost-longest like the aho-corasick automaton Rust builds.

class AddedTokenMatcher {
 public:
  void add(std::string_view pattern, int32_t token) {
    int32_t node = 0;
    for (const char c : pattern) {
      const auto byte = static_cast<unsigned char>(c);
      int32_t child = -1;
      for (const auto& [b, next] : nodes_[node].children)
        if (b == byte) child = next;
      if (child < 0) {
        child = static_cast<int32_t>(nodes_.size());
        nodes_[node].children.emplace_back(byte, child);
        nodes_.emplace_back();
      }
      node = child;
    }
    nodes_[node].token = token;
    first_byte_[static_cast<unsigned char>(pattern[0])] = true;
    empty_ = false;
  }

  bool empty() const { return empty_; }

  // The leftmost match starting at or after `from`, the longest of those starting there.
  bool find(std::string_view text, size_t from, size_t& start, size_t& end, int32_t& token) const {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    for (size_t i = from; i < text.size(); ++i) {
      if (!first_byte_[p[i]]) continue;
      int32_t node = 0;
      token = -1;
      for (size_t j = i; j < text.size(); ++j) {
        int32_t child = -1;
        for (const auto& [b, next] : nodes_[node].children)
          if (b == p[j]) {
            child = next;
            break;
          }
        if (child < 0) break;
        node = child;
        if (nodes_[node].token >= 0) {
          token = nodes_[node].token;
          end = j + 1;
        }
      }
      if (token >= 0) {
        start = i;
        return true;
      }
    }
    return false;
  }

 private:
  struct Node {
    int32_t token = -1;
    std::vector<std::pair<unsigned char, int32_t>> children;
  };
  std::vector<Node> nodes_{1};
  bool first_byte_[256] = {};
  bool empty_ = true;
};

// ---------------------------------------------------------------------------------------------------------
// Reading the JSON files with messages that name the file and the field.

class JsonReader {
 public:
  explicit JsonReader(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }

  [[noreturn]] void error(const std::string& field, const std::string& what) const {
    fail(file_ + ": " + field + " " + what);
  }

  // The member, or nullptr when it is absent or null.
  static const json* member(const json& object, const char* key) {
    if (!object.is_object()) return nullptr;
    const auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
  }

  bool boolean(const json& object, const char* key, bool fallback, const std::string& field) const {
    const json* value = member(object, key);
    if (value == nullptr) return fallback;
    if (!value->is_boolean()) error(field, "must be true or false, not " + value->dump());
    return value->get<bool>();
  }

  std::optional<std::string> string(const json& object, const char* key, const std::string& field) const {
    const json* value = member(object, key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) error(field, "must be a string, not " + value->dump().substr(0, 80));
    return value->get<std::string>();
  }

  int64_t id(const json& value, const std::string& field) const {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > 0x7FFFFFFF)
      error(field, "must be a token id (an integer from 0 to 2^31-1), not " + value.dump().substr(0, 80));
    return value.get<int64_t>();
  }

  const json& object(const json& parent, const char* key, const std::string& field) const {
    const json* value = member(parent, key);
    if (value == nullptr) error(field, "is missing");
    if (!value->is_object()) error(field, "must be an object");
    return *value;
  }

 private:
  std::string file_;
};

// "field" of an object's member, for messages: pre_tokenizer.pretokenizers[1].behavior
std::string field_of(const std::string& field, const std::string& key) {
  return field + "." + key;
}
std::string field_at(const std::string& field, size_t i) {
  return field + "[" + std::to_string(i) + "]";
}

struct FileLabels {
  std::string tokenizer = "tokenizer.json";
  std::string tokenizer_config = "tokenizer_config.json";
  std::string generation_config = "generation_config.json";
};

}  // namespace

// =========================================================================================================

struct HfTokenizer::Impl {
  std::string description;
  std::string source;  // tokenizer.json's name in messages

  // BPE model
  BytesToId vocab;                                     // byte-level tokens, under the bytes they spell
  std::unordered_map<std::string, int32_t> odd_vocab;  // tokens that are not byte-level spellings
  MergeTable merges;
  int32_t byte_ids[256];  // the token of each single byte, -1 where the vocabulary lacks it
  bool ignore_merges = false;
  int32_t unk_id = -1;
  bool fuse_unk = false;

  bool normalize_nfc = false;           // normalizer: NFC (or a Sequence of NFCs)
  std::vector<PreTokenizerStep> steps;  // flattened; a ByteLevel is a prefix-space step and/or a GPT-2 split

  std::vector<HfAddedToken> added;
  std::unordered_map<std::string, int32_t> added_by_content;  // index into `added`
  std::unordered_set<int64_t> special_ids;
  AddedTokenMatcher raw_matcher;         // tokens with normalized false, matched in the raw text
  AddedTokenMatcher normalized_matcher;  // normalized true, matched (as normalized) in the normalized text

  // id -> bytes: token_bytes(id) is pieces[piece_start[id], piece_start[id + 1])
  std::vector<uint32_t> piece_start;
  std::string pieces;
  enum class IdKind : uint8_t { kNone, kByteLevel, kOdd, kAdded };
  std::vector<IdKind> id_kind;
  int64_t vocab_size = 0;

  std::vector<int64_t> eos;
  int64_t pad = -1;
  std::optional<int64_t> bos;

  mutable std::mutex cache_mutex;
  mutable WordCache cache;

  // Per-call working memory, so that one tokenizer can encode on several threads.
  struct Scratch {
    explicit Scratch(const Impl& impl)
        : spans(impl.steps.size()), folded(impl.steps.size()), buffers(impl.steps.size()) {
      for (const auto& step : impl.steps)
        match_data.emplace_back(step.regex ? std::make_unique<MatchData>() : nullptr);
    }
    struct Span {
      size_t start, end;
      bool flag;  // is a match / is to be removed
    };
    std::vector<std::unique_ptr<MatchData>> match_data;
    std::vector<std::vector<Span>> spans;   // per step: the pattern's matches and the text between them
    std::vector<std::vector<Span>> folded;  // per step: the pieces the split behavior makes of them
    std::vector<std::string> buffers;       // per step: a piece with its prefix space
    std::string normalized;
    struct Symbol {
      int32_t id, prev, next;
    };
    std::vector<Symbol> symbols;
    struct Candidate {
      uint32_t rank;
      int32_t pos, merged;
      bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::vector<Candidate> heap;
  };

  int32_t find_spelled(std::string_view spelled, std::string& tmp) const {
    if (byte_level_decode(spelled, tmp)) return vocab.find(tmp);
    const auto it = odd_vocab.find(std::string(spelled));
    return it == odd_vocab.end() ? -1 : it->second;
  }

  // Everything from the files' contents; `labels` name the files in messages.
  static std::unique_ptr<HfTokenizer> build(const json& tokenizer, const json& tokenizer_config,
                                            const json& generation_config, std::string description,
                                            const FileLabels& labels);

  void encode(std::string_view text, std::vector<int64_t>& out) const;
  void split_added(std::string_view text, const AddedTokenMatcher& matcher, std::vector<int64_t>& out,
                   const std::function<void(std::string_view)>& on_text) const;
  void pre_tokenize(std::string_view piece, size_t step, Scratch& scratch, std::vector<int64_t>& out) const;
  void bpe(std::string_view word, Scratch& scratch, std::vector<int64_t>& out) const;
  void merge_word(std::string_view word, Scratch& scratch, std::vector<int64_t>& out) const;
};

// Rust's AddedVocabulary::find_matches: each match, leftmost-longest; single_word drops matches touching a
// word character; lstrip/rstrip widen a kept match over the whitespace beside it. The search goes on after
// each match as found (before widening). A match beginning inside the previous one's rstrip-ed whitespace
// (possible only for a token that starts with whitespace) is dropped; Rust would emit overlapping pieces.
void HfTokenizer::Impl::split_added(std::string_view text, const AddedTokenMatcher& matcher,
                                    std::vector<int64_t>& out,
                                    const std::function<void(std::string_view)>& on_text) const {
  if (matcher.empty()) {
    if (!text.empty()) on_text(text);
    return;
  }
  size_t done = 0;  // text before this has been emitted
  size_t search_from = 0;
  size_t match_start = 0, match_end = 0;
  int32_t token_index = -1;
  while (matcher.find(text, search_from, match_start, match_end, token_index)) {
    search_from = match_end;
    const HfAddedToken& token = added[static_cast<size_t>(token_index)];
    size_t start = match_start, stop = match_end;
    if (token.single_word) {
      const bool word_before =
          start > 0 && is_word_char(code_point_at(text, previous_char_start(text, start)));
      const bool word_after = stop < text.size() && is_word_char(code_point_at(text, stop));
      if (word_before || word_after) continue;
    }
    if (start < done) continue;
    if (token.lstrip) {
      while (start > done) {
        const size_t prev = previous_char_start(text, start);
        if (!is_white_space(code_point_at(text, prev))) break;
        start = prev;
      }
    }
    if (token.rstrip) {
      while (stop < text.size() && is_white_space(code_point_at(text, stop)))
        stop += utf8_length(static_cast<unsigned char>(text[stop]));
    }
    if (done < start) on_text(text.substr(done, start - done));
    out.push_back(token.id);
    done = stop;
  }
  if (done < text.size()) on_text(text.substr(done));
}

void HfTokenizer::Impl::encode(std::string_view text, std::vector<int64_t>& out) const {
  const size_t bad = invalid_utf8_offset(text);
  if (bad != kNpos)
    fail("HfTokenizer::encode: the text is not valid UTF-8: byte " +
         hex_byte(static_cast<unsigned char>(text[bad])) + " at byte offset " + std::to_string(bad));
  Scratch scratch(*this);
  // 1. added tokens matched in the raw text; 2. the rest normalized, and the normalized added tokens
  // matched in it; 3. the rest pre-tokenized and BPE-encoded.
  const std::function<void(std::string_view)> pre_tokenize_text = [&](std::string_view piece) {
    pre_tokenize(piece, 0, scratch, out);
  };
  split_added(text, raw_matcher, out, [&](std::string_view segment) {
    const std::string_view normalized = normalize_nfc ? nfc(segment, scratch.normalized) : segment;
    split_added(normalized, normalized_matcher, out, pre_tokenize_text);
  });
}

// Steps in order, depth first, so that no list of pre-tokens is ever built for the usual Isolated split.
// Empty pieces are dropped, as PreTokenizedString::split drops them.
void HfTokenizer::Impl::pre_tokenize(std::string_view piece, size_t step, Scratch& scratch,
                                     std::vector<int64_t>& out) const {
  if (piece.empty()) return;
  if (step == steps.size()) {
    bpe(piece, scratch, out);
    return;
  }
  const PreTokenizerStep& s = steps[step];
  if (s.kind == PreTokenizerStep::Kind::kPrefixSpace) {  // ByteLevel's add_prefix_space, on every piece
    if (piece.front() == ' ') {
      pre_tokenize(piece, step + 1, scratch, out);
    } else {
      std::string& buffer = scratch.buffers[step];
      buffer.assign(1, ' ');
      buffer.append(piece);
      pre_tokenize(buffer, step + 1, scratch, out);
    }
    return;
  }
  const MatchData& md = *scratch.match_data[step];
  if (s.behavior == SplitBehavior::kIsolated && !s.invert) {
    size_t prev = 0;
    s.regex->for_each_match(piece, md, [&](size_t start, size_t end) {
      if (prev < start) pre_tokenize(piece.substr(prev, start - prev), step + 1, scratch, out);
      pre_tokenize(piece.substr(start, end - start), step + 1, scratch, out);
      prev = end;
    });
    if (prev < piece.size()) pre_tokenize(piece.substr(prev), step + 1, scratch, out);
    return;
  }
  // Pattern::find_matches (Invert flips which spans are matches), then NormalizedString::split's fold.
  auto& spans = scratch.spans[step];
  spans.clear();
  size_t prev = 0;
  s.regex->for_each_match(piece, md, [&](size_t start, size_t end) {
    if (prev != start) spans.push_back({prev, start, s.invert});
    spans.push_back({start, end, !s.invert});
    prev = end;
  });
  if (prev != piece.size()) spans.push_back({prev, piece.size(), s.invert});
  auto& folded = scratch.folded[step];  // {start, end, remove}
  folded.clear();
  bool previous_match = false;
  switch (s.behavior) {
    case SplitBehavior::kIsolated:
      for (const auto& span : spans) folded.push_back({span.start, span.end, false});
      break;
    case SplitBehavior::kRemoved:
      folded.assign(spans.begin(), spans.end());
      break;
    case SplitBehavior::kContiguous:
      for (const auto& span : spans) {
        if (span.flag == previous_match && !folded.empty())
          folded.back().end = span.end;
        else
          folded.push_back({span.start, span.end, false});
        previous_match = span.flag;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const auto& span : spans) {
        if (span.flag && !previous_match && !folded.empty())
          folded.back().end = span.end;
        else
          folded.push_back({span.start, span.end, false});
        previous_match = span.flag;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->flag && !previous_match && !folded.empty())
          folded.back().start = it->start;
        else
          folded.push_back({it->start, it->end, false});
        previous_match = it->flag;
      }
      std::reverse(folded.begin(), folded.end());
      break;
  }
  for (const auto& span : folded)
    if (!span.flag) pre_tokenize(piece.substr(span.start, span.end - span.start), step + 1, scratch, out);
}

// BPE::tokenize_with_cache: with ignore_merges a word that is a token is that token; else the merges. The
// cache (of either answer) is asked first: it is smaller, so more often in the CPU's cache, than the
// vocabulary. It never blocks: when another thread holds it, this word goes uncached.
void HfTokenizer::Impl::bpe(std::string_view word, Scratch& scratch, std::vector<int64_t>& out) const {
  if (word.size() == 1 && byte_ids[static_cast<unsigned char>(word[0])] >= 0) {
    out.push_back(byte_ids[static_cast<unsigned char>(word[0])]);
    return;
  }
  const bool cacheable = word.size() < WordCache::kMaxWordBytes;
  const uint64_t h = cacheable || ignore_merges ? hash_bytes(word) : 0;
  if (cacheable) {
    std::unique_lock<std::mutex> lock(cache_mutex, std::try_to_lock);
    if (lock.owns_lock() && cache.find(word, h, out)) return;
  }
  const size_t first = out.size();
  const int32_t whole = ignore_merges ? vocab.find(word, h) : -1;
  if (whole >= 0)
    out.push_back(whole);
  else
    merge_word(word, scratch, out);
  if (cacheable) {
    std::unique_lock<std::mutex> lock(cache_mutex, std::try_to_lock);
    if (lock.owns_lock()) cache.insert(word, h, out.data() + first, out.size() - first);
  }
}

// BPE::merge_word + Word::merge_all: one symbol per byte, then the lowest-ranked adjacent pair is merged,
// the leftmost among equals, until no pair merges. Short words scan an array; long ones use Rust's heap.
void HfTokenizer::Impl::merge_word(std::string_view word, Scratch& scratch, std::vector<int64_t>& out) const {
  constexpr size_t kScanLimit = 64;
  int32_t small_ids[kScanLimit];
  std::vector<int32_t> large_ids;
  int32_t* ids = small_ids;
  if (word.size() > kScanLimit) {
    large_ids.resize(word.size());
    ids = large_ids.data();
  }
  size_t n = 0;
  bool previous_unknown = false;
  for (size_t i = 0; i < word.size(); ++i) {
    const int32_t id = byte_ids[static_cast<unsigned char>(word[i])];
    if (id >= 0) {
      ids[n++] = id;
      previous_unknown = false;
      continue;
    }
    if (unk_id < 0)
      fail(source + ": cannot encode the piece " + quote(word) + ": its byte " +
           hex_byte(static_cast<unsigned char>(word[i])) +
           " has no token in model.vocab and model.unk_token is null");
    if (!(fuse_unk && previous_unknown)) ids[n++] = unk_id;
    previous_unknown = true;
  }

  if (n <= kScanLimit) {
    uint32_t ranks[kScanLimit];
    int32_t merged[kScanLimit];
    for (size_t i = 0; i + 1 < n; ++i) ranks[i] = merges.find(ids[i], ids[i + 1], merged[i]);
    while (n > 1) {
      size_t best = 0;
      for (size_t i = 1; i + 1 < n; ++i)
        if (ranks[i] < ranks[best]) best = i;
      if (ranks[best] == MergeTable::kNoMerge) break;
      ids[best] = merged[best];
      // symbols best+2.. and pairs best+2.. move one to the left
      std::memmove(ids + best + 1, ids + best + 2, (n - best - 2) * sizeof(int32_t));
      if (best + 3 <= n) {
        std::memmove(ranks + best + 1, ranks + best + 2, (n - best - 3) * sizeof(uint32_t));
        std::memmove(merged + best + 1, merged + best + 2, (n - best - 3) * sizeof(int32_t));
      }
      --n;
      if (best + 1 < n) ranks[best] = merges.find(ids[best], ids[best + 1], merged[best]);
      if (best > 0) ranks[best - 1] = merges.find(ids[best - 1], ids[best], merged[best - 1]);
    }
    out.insert(out.end(), ids, ids + n);
    return;
  }

  auto& symbols = scratch.symbols;
  auto& heap = scratch.heap;
  symbols.resize(n);
  heap.clear();
  for (size_t i = 0; i < n; ++i)
    symbols[i] = {ids[i], static_cast<int32_t>(i) - 1, i + 1 < n ? static_cast<int32_t>(i + 1) : -1};
  const auto by_rank = std::greater<Scratch::Candidate>();
  auto push = [&](int32_t pos) {
    const int32_t next = symbols[static_cast<size_t>(pos)].next;
    if (next < 0) return;
    int32_t to = 0;
    const uint32_t rank =
        merges.find(symbols[static_cast<size_t>(pos)].id, symbols[static_cast<size_t>(next)].id, to);
    if (rank == MergeTable::kNoMerge) return;
    heap.push_back({rank, pos, to});
    std::push_heap(heap.begin(), heap.end(), by_rank);
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), by_rank);
    const Scratch::Candidate top = heap.back();
    heap.pop_back();
    Scratch::Symbol& left = symbols[static_cast<size_t>(top.pos)];
    if (left.id < 0 || left.next < 0) continue;  // merged away, or now the last symbol
    int32_t to = 0;
    if (merges.find(left.id, symbols[static_cast<size_t>(left.next)].id, to) == MergeTable::kNoMerge ||
        to != top.merged)
      continue;  // stale: a neighbour changed since this pair was queued
    Scratch::Symbol& right = symbols[static_cast<size_t>(left.next)];
    left.id = top.merged;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.pos;
    right.id = -1;
    if (left.prev >= 0) push(left.prev);
    push(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next)
    out.push_back(symbols[static_cast<size_t>(i)].id);
}

// =========================================================================================================
// Loading

namespace {

void parse_normalizer(const JsonReader& reader, const json& node, const std::string& field, bool& nfc) {
  if (node.is_null()) return;
  const auto type = reader.string(node, "type", field_of(field, "type"));
  if (!type) reader.error(field_of(field, "type"), "is missing");
  if (*type == "NFC") {
    nfc = true;
  } else if (*type == "Sequence") {
    const json* list = JsonReader::member(node, "normalizers");
    if (list == nullptr || !list->is_array()) reader.error(field_of(field, "normalizers"), "must be a list");
    for (size_t i = 0; i < list->size(); ++i)
      parse_normalizer(reader, (*list)[i], field_at(field_of(field, "normalizers"), i), nfc);
  } else {
    reader.error(field_of(field, "type"),
                 quote(*type) + " is not supported (only NFC, a Sequence of NFC, or none)");
  }
}

void parse_pre_tokenizer(const JsonReader& reader, const json& node, const std::string& field,
                         std::vector<PreTokenizerStep>& steps, bool& byte_level_seen) {
  const auto type = reader.string(node, "type", field_of(field, "type"));
  if (!type) reader.error(field_of(field, "type"), "is missing");
  if (*type == "Sequence") {
    const json* list = JsonReader::member(node, "pretokenizers");
    if (list == nullptr || !list->is_array())
      reader.error(field_of(field, "pretokenizers"), "must be a list");
    for (size_t i = 0; i < list->size(); ++i)
      parse_pre_tokenizer(reader, (*list)[i], field_at(field_of(field, "pretokenizers"), i), steps,
                          byte_level_seen);
    return;
  }
  if (byte_level_seen)
    reader.error(field,
                 "follows the ByteLevel pre-tokenizer; only Split steps before one ByteLevel are supported");
  if (*type == "ByteLevel") {
    byte_level_seen = true;
    if (reader.boolean(node, "add_prefix_space", true, field_of(field, "add_prefix_space"))) {
      PreTokenizerStep step;
      step.kind = PreTokenizerStep::Kind::kPrefixSpace;
      steps.push_back(std::move(step));
    }
    if (reader.boolean(node, "use_regex", true, field_of(field, "use_regex"))) {
      PreTokenizerStep step;
      step.regex = std::make_unique<Regex>(kGpt2Pattern, false, reader.file() + ": " + field);
      steps.push_back(std::move(step));
    }
    return;
  }
  if (*type != "Split")
    reader.error(field_of(field, "type"),
                 quote(*type) + " is not supported (only Split, ByteLevel, or a Sequence of them)");
  PreTokenizerStep step;
  const json* pattern = JsonReader::member(node, "pattern");
  if (pattern == nullptr || !pattern->is_object())
    reader.error(field_of(field, "pattern"), "must be {\"Regex\": ...} or {\"String\": ...}");
  if (const auto regex = reader.string(*pattern, "Regex", field_of(field, "pattern.Regex"))) {
    step.regex =
        std::make_unique<Regex>(*regex, false, reader.file() + ": " + field_of(field, "pattern.Regex"));
  } else if (const auto literal = reader.string(*pattern, "String", field_of(field, "pattern.String"))) {
    step.regex =
        std::make_unique<Regex>(*literal, true, reader.file() + ": " + field_of(field, "pattern.String"));
  } else {
    reader.error(field_of(field, "pattern"), "must be {\"Regex\": ...} or {\"String\": ...}");
  }
  const auto behavior = reader.string(node, "behavior", field_of(field, "behavior"));
  if (!behavior) reader.error(field_of(field, "behavior"), "is missing");
  static const std::pair<const char*, SplitBehavior> kBehaviors[] = {
      {"Removed", SplitBehavior::kRemoved},
      {"Isolated", SplitBehavior::kIsolated},
      {"MergedWithPrevious", SplitBehavior::kMergedWithPrevious},
      {"MergedWithNext", SplitBehavior::kMergedWithNext},
      {"Contiguous", SplitBehavior::kContiguous}};
  bool known = false;
  for (const auto& [name, value] : kBehaviors)
    if (*behavior == name) {
      step.behavior = value;
      known = true;
    }
  if (!known) reader.error(field_of(field, "behavior"), quote(*behavior) + " is not a split behavior");
  step.invert = reader.boolean(node, "invert", false, field_of(field, "invert"));
  steps.push_back(std::move(step));
}

void check_decoder(const JsonReader& reader, const json& node, const std::string& field) {
  if (node.is_null()) return;
  const auto type = reader.string(node, "type", field_of(field, "type"));
  if (type && *type == "ByteLevel") return;
  if (type && *type == "Sequence") {
    const json* list = JsonReader::member(node, "decoders");
    if (list == nullptr || !list->is_array()) reader.error(field_of(field, "decoders"), "must be a list");
    for (size_t i = 0; i < list->size(); ++i)
      check_decoder(reader, (*list)[i], field_at(field_of(field, "decoders"), i));
    return;
  }
  reader.error(field_of(field, "type"), quote(type.value_or("")) + " is not supported (only ByteLevel)");
}

std::optional<int64_t> config_token(const JsonReader& reader, const json& config, const char* key,
                                    const HfTokenizer& tokenizer) {
  const json* value = JsonReader::member(config, key);
  if (value == nullptr) return std::nullopt;
  std::string content;
  if (value->is_string()) {
    content = value->get<std::string>();
  } else if (value->is_object() && JsonReader::member(*value, "content") != nullptr &&
             (*value)["content"].is_string()) {
    content = (*value)["content"].get<std::string>();
  } else {
    reader.error(key, "must be a token's text or {\"content\": ...}, not " + value->dump().substr(0, 80));
  }
  const auto id = tokenizer.token_to_id(content);
  if (!id) reader.error(key, quote(content) + " is not a token of tokenizer.json");
  return id;
}

std::vector<int64_t> config_ids(const JsonReader& reader, const json& config, const char* key,
                                int64_t vocab_size) {
  const json* value = JsonReader::member(config, key);
  std::vector<int64_t> ids;
  if (value == nullptr) return ids;
  const auto check = [&](const json& v, const std::string& field) {
    const int64_t id = reader.id(v, field);
    if (id >= vocab_size)
      reader.error(field, std::to_string(id) + " is not a token of tokenizer.json (its ids end at " +
                              std::to_string(vocab_size - 1) + ")");
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  };
  if (value->is_array()) {
    for (size_t i = 0; i < value->size(); ++i) check((*value)[i], field_at(key, i));
  } else {
    check(*value, key);
  }
  return ids;
}

}  // namespace

HfTokenizer::HfTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HfTokenizer::~HfTokenizer() = default;

std::unique_ptr<HfTokenizer> HfTokenizer::from_json(const json& tokenizer, const json& tokenizer_config,
                                                    const json& generation_config, std::string description) {
  return Impl::build(tokenizer, tokenizer_config, generation_config, std::move(description), FileLabels{});
}

namespace {

json read_json_file(const std::filesystem::path& path, bool required) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (required) fail(path.string() + ": no such file (a Hugging Face model folder has one)");
    return nullptr;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string() + ": cannot be read");
  std::ostringstream contents;
  contents << in.rdbuf();
  try {
    return json::parse(contents.str());
  } catch (const json::parse_error& e) {
    fail(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

}  // namespace

std::unique_ptr<HfTokenizer> HfTokenizer::from_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path folder = fs::absolute(fs::path(dir)).lexically_normal();
  if (folder.filename().empty()) folder = folder.parent_path();  // "dir/" -> "dir"
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    fail(folder.string() + ": not a folder (expected a model folder with tokenizer.json)");
  FileLabels labels{(folder / "tokenizer.json").string(), (folder / "tokenizer_config.json").string(),
                    (folder / "generation_config.json").string()};
  const json tokenizer = read_json_file(labels.tokenizer, true);
  const json tokenizer_config = read_json_file(labels.tokenizer_config, false);
  const json generation_config = read_json_file(labels.generation_config, false);
  return Impl::build(tokenizer, tokenizer_config, generation_config, "hf:" + folder.string(), labels);
}

std::unique_ptr<HfTokenizer> HfTokenizer::Impl::build(const json& tokenizer_json,
                                                      const json& tokenizer_config,
                                                      const json& generation_config, std::string description,
                                                      const FileLabels& labels) {
  auto impl = std::make_unique<Impl>();
  impl->description = std::move(description);
  impl->source = labels.tokenizer;
  const JsonReader reader(labels.tokenizer);
  try {
    if (!tokenizer_json.is_object()) reader.error("the file", "must hold a JSON object");

    // ---- model
    const json& model = reader.object(tokenizer_json, "model", "model");
    const auto type = reader.string(model, "type", "model.type");
    if (type ? *type != "BPE" : JsonReader::member(model, "merges") == nullptr)
      reader.error("model.type",
                   quote(type.value_or("(missing)")) + " is not supported (byte-level BPE only)");
    if (const json* dropout = JsonReader::member(model, "dropout");
        dropout != nullptr && !(dropout->is_number() && dropout->get<double>() == 0.0))
      reader.error("model.dropout",
                   dropout->dump() + " is not supported (BPE dropout samples tokenizations; only null)");
    if (reader.boolean(model, "byte_fallback", false, "model.byte_fallback"))
      reader.error("model.byte_fallback",
                   "true is not supported (a SentencePiece-style BPE, not byte-level)");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      const auto affix = reader.string(model, key, std::string("model.") + key);
      if (affix && !affix->empty())
        reader.error(std::string("model.") + key,
                     quote(*affix) + " is not supported (byte-level BPE has none)");
    }
    impl->ignore_merges = reader.boolean(model, "ignore_merges", false, "model.ignore_merges");
    impl->fuse_unk = reader.boolean(model, "fuse_unk", false, "model.fuse_unk");

    const json& vocab = reader.object(model, "vocab", "model.vocab");
    impl->vocab.reserve(vocab.size());
    std::vector<std::pair<int64_t, std::string>> id_pieces;  // (id, bytes) of every vocabulary token
    id_pieces.reserve(vocab.size());
    std::string bytes;
    int64_t max_id = -1;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      const json& value = it.value();
      if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > 0x7FFFFFFF)
        reader.id(value, "model.vocab[" + quote(it.key()) + "]");  // throws, naming the entry
      const int64_t id = value.get<int64_t>();
      if (byte_level_decode(it.key(), bytes)) {
        impl->vocab.insert(bytes, static_cast<int32_t>(id));
        id_pieces.emplace_back(id, bytes);
      } else {
        impl->odd_vocab[it.key()] = static_cast<int32_t>(id);
        id_pieces.emplace_back(-id - 1, it.key());  // negative: not a byte-level spelling
      }
      max_id = std::max(max_id, id);
    }
    for (int b = 0; b < 256; ++b) impl->byte_ids[b] = impl->vocab.find(std::string(1, static_cast<char>(b)));
    if (const auto unk = reader.string(model, "unk_token", "model.unk_token")) {
      impl->unk_id = impl->find_spelled(*unk, bytes);
      if (impl->unk_id < 0) reader.error("model.unk_token", quote(*unk) + " is not in model.vocab");
    }

    const json* merges = JsonReader::member(model, "merges");
    if (merges == nullptr || !merges->is_array()) reader.error("model.merges", "must be a list");
    impl->merges.reserve(merges->size());
    uint32_t rank = 0;
    std::string left, right;
    for (size_t i = 0; i < merges->size(); ++i) {
      const json& merge = (*merges)[i];
      const std::string field = field_at("model.merges", i);
      if (merge.is_string()) {  // "a b": exactly one space (convert_merges_to_hashmap)
        const std::string& line = merge.get_ref<const std::string&>();
        if (line.rfind("#version", 0) == 0) continue;
        const size_t space = line.find(' ');
        if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
          reader.error(field, quote(line) + " must be two tokens separated by one space");
        left = line.substr(0, space);
        right = line.substr(space + 1);
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
        left = merge[0].get<std::string>();
        right = merge[1].get<std::string>();
      } else {
        reader.error(field, "must be \"a b\" or [\"a\", \"b\"], not " + merge.dump().substr(0, 80));
      }
      const std::string joined = left + right;
      const int32_t left_id = impl->find_spelled(left, bytes);
      const int32_t right_id = impl->find_spelled(right, bytes);
      const int32_t merged_id = impl->find_spelled(joined, bytes);
      if (left_id < 0 || right_id < 0 || merged_id < 0)
        reader.error(field, "merges " + quote(left) + " and " + quote(right) + ", but " +
                                quote(left_id < 0    ? left
                                      : right_id < 0 ? right
                                                     : joined) +
                                " is not in model.vocab");
      impl->merges.insert(left_id, right_id, rank++, merged_id);
    }

    // ---- added tokens (AddedVocabulary::add_tokens: a content already known keeps its id)
    if (const json* added = JsonReader::member(tokenizer_json, "added_tokens")) {
      if (!added->is_array()) reader.error("added_tokens", "must be a list");
      for (size_t i = 0; i < added->size(); ++i) {
        const json& entry = (*added)[i];
        const std::string field = field_at("added_tokens", i);
        if (!entry.is_object()) reader.error(field, "must be an object");
        HfAddedToken token;
        const json* id = JsonReader::member(entry, "id");
        if (id == nullptr) reader.error(field_of(field, "id"), "is missing");
        token.id = reader.id(*id, field_of(field, "id"));
        const auto content = reader.string(entry, "content", field_of(field, "content"));
        if (!content) reader.error(field_of(field, "content"), "is missing");
        if (content->empty()) continue;  // Rust ignores empty added tokens
        if (invalid_utf8_offset(*content) != kNpos)
          reader.error(field_of(field, "content"), "is not valid UTF-8");
        token.content = *content;
        token.special = reader.boolean(entry, "special", false, field_of(field, "special"));
        token.single_word = reader.boolean(entry, "single_word", false, field_of(field, "single_word"));
        token.lstrip = reader.boolean(entry, "lstrip", false, field_of(field, "lstrip"));
        token.rstrip = reader.boolean(entry, "rstrip", false, field_of(field, "rstrip"));
        token.normalized = reader.boolean(entry, "normalized", !token.special, field_of(field, "normalized"));
        const auto known = impl->added_by_content.find(token.content);
        if (known != impl->added_by_content.end()) {
          token.id = impl->added[static_cast<size_t>(known->second)].id;
          impl->added[static_cast<size_t>(known->second)] = token;  // the later entry's flags win
          continue;
        }
        const int32_t in_vocab = impl->find_spelled(token.content, bytes);
        if (in_vocab >= 0) token.id = in_vocab;
        impl->added_by_content.emplace(token.content, static_cast<int32_t>(impl->added.size()));
        impl->added.push_back(token);
      }
    }

    // ---- normalizer, pre-tokenizer, decoder
    if (const json* normalizer = JsonReader::member(tokenizer_json, "normalizer"))
      parse_normalizer(reader, *normalizer, "normalizer", impl->normalize_nfc);
    const json* pre_tokenizer = JsonReader::member(tokenizer_json, "pre_tokenizer");
    bool byte_level_seen = false;
    if (pre_tokenizer != nullptr)
      parse_pre_tokenizer(reader, *pre_tokenizer, "pre_tokenizer", impl->steps, byte_level_seen);
    if (!byte_level_seen)
      reader.error("pre_tokenizer", "has no ByteLevel step (only byte-level BPE tokenizers are supported)");
    if (const json* decoder = JsonReader::member(tokenizer_json, "decoder"))
      check_decoder(reader, *decoder, "decoder");
    // post_processor: never applied (encode() adds no BOS/EOS), so any is fine.

    for (size_t i = 0; i < impl->added.size(); ++i) {
      HfAddedToken& token = impl->added[i];
      if (token.special) impl->special_ids.insert(token.id);
      max_id = std::max(max_id, token.id);
      if (!token.normalized) {
        impl->raw_matcher.add(token.content, static_cast<int32_t>(i));
      } else {
        std::string buffer;
        const std::string_view pattern =
            impl->normalize_nfc ? nfc(token.content, buffer) : std::string_view(token.content);
        impl->normalized_matcher.add(pattern, static_cast<int32_t>(i));
      }
    }

    // ---- decoding table
    impl->vocab_size = max_id + 1;
    std::vector<std::string> by_id(static_cast<size_t>(impl->vocab_size));
    impl->id_kind.assign(static_cast<size_t>(impl->vocab_size), Impl::IdKind::kNone);
    for (auto& [signed_id, piece] : id_pieces) {
      const bool odd = signed_id < 0;
      const auto id = static_cast<size_t>(odd ? -signed_id - 1 : signed_id);
      by_id[id] = std::move(piece);
      impl->id_kind[id] = odd ? Impl::IdKind::kOdd : Impl::IdKind::kByteLevel;
    }
    for (const HfAddedToken& token : impl->added) {
      by_id[static_cast<size_t>(token.id)] = token.content;
      impl->id_kind[static_cast<size_t>(token.id)] = Impl::IdKind::kAdded;
    }
    impl->piece_start.reserve(by_id.size() + 1);
    for (const std::string& piece : by_id) {
      impl->piece_start.push_back(static_cast<uint32_t>(impl->pieces.size()));
      impl->pieces += piece;
    }
    impl->piece_start.push_back(static_cast<uint32_t>(impl->pieces.size()));
  } catch (const json::exception& e) {
    fail(labels.tokenizer + ": " + e.what());
  }

  // ---- special tokens: generation_config.json's eos ids first, then tokenizer_config.json's eos_token
  Impl& self = *impl;
  std::unique_ptr<HfTokenizer> result(new HfTokenizer(std::move(impl)));
  const JsonReader config_reader(labels.tokenizer_config);
  const JsonReader generation_reader(labels.generation_config);
  try {
    if (!tokenizer_config.is_null() && !tokenizer_config.is_object())
      config_reader.error("the file", "must hold a JSON object");
    if (!generation_config.is_null() && !generation_config.is_object())
      generation_reader.error("the file", "must hold a JSON object");
    self.eos = config_ids(generation_reader, generation_config, "eos_token_id", self.vocab_size);
    if (const auto eos = config_token(config_reader, tokenizer_config, "eos_token", *result))
      if (std::find(self.eos.begin(), self.eos.end(), *eos) == self.eos.end()) self.eos.push_back(*eos);
    if (self.eos.empty())
      fail("no end-of-sequence token: neither " + labels.generation_config + " (eos_token_id) nor " +
           labels.tokenizer_config + " (eos_token) names one");
    if (const auto pad = config_token(config_reader, tokenizer_config, "pad_token", *result)) {
      self.pad = *pad;
    } else if (const auto ids =
                   config_ids(generation_reader, generation_config, "pad_token_id", self.vocab_size);
               !ids.empty()) {
      if (ids.size() > 1) generation_reader.error("pad_token_id", "must be one id");
      self.pad = ids.front();
    } else {
      self.pad = self.eos.front();
    }
    self.bos = config_token(config_reader, tokenizer_config, "bos_token", *result);
    if (!self.bos) {
      const auto ids = config_ids(generation_reader, generation_config, "bos_token_id", self.vocab_size);
      if (!ids.empty()) self.bos = ids.front();
    }
  } catch (const json::exception& e) {
    fail(labels.tokenizer_config + " / " + labels.generation_config + ": " + e.what());
  }
  return result;
}

// =========================================================================================================
// The interface

std::vector<int64_t> HfTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3 + 4);
  impl_->encode(text, ids);
  return ids;
}

void HfTokenizer::encode_into(std::string_view text, std::vector<int64_t>& ids) const {
  impl_->encode(text, ids);
}

std::string HfTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  out.reserve(ids.size() * 4);
  for (const int64_t id : ids) {
    if (id < 0 || id >= impl_->vocab_size) continue;
    const auto i = static_cast<size_t>(id);
    out.append(impl_->pieces, impl_->piece_start[i], impl_->piece_start[i + 1] - impl_->piece_start[i]);
  }
  return out;
}

std::string HfTokenizer::token_bytes(int64_t id) const {
  if (id < 0 || id >= impl_->vocab_size) return {};
  const auto i = static_cast<size_t>(id);
  return impl_->pieces.substr(impl_->piece_start[i], impl_->piece_start[i + 1] - impl_->piece_start[i]);
}

int64_t HfTokenizer::vocab_size() const {
  return impl_->vocab_size;
}
int64_t HfTokenizer::pad_id() const {
  return impl_->pad;
}
const std::vector<int64_t>& HfTokenizer::eos_ids() const {
  return impl_->eos;
}

std::vector<int64_t> HfTokenizer::never_sampled() const {
  const bool pad_ends = std::find(impl_->eos.begin(), impl_->eos.end(), impl_->pad) != impl_->eos.end();
  if (is_special(impl_->pad) && !pad_ends) return {impl_->pad};
  return {};
}

std::string HfTokenizer::describe() const {
  return impl_->description;
}

std::optional<int64_t> HfTokenizer::token_to_id(std::string_view token) const {
  const auto added = impl_->added_by_content.find(std::string(token));
  if (added != impl_->added_by_content.end()) return impl_->added[static_cast<size_t>(added->second)].id;
  std::string bytes;
  const int32_t id = impl_->find_spelled(token, bytes);
  if (id < 0) return std::nullopt;
  return id;
}

std::optional<std::string> HfTokenizer::id_to_token(int64_t id) const {
  if (id < 0 || id >= impl_->vocab_size) return std::nullopt;
  switch (impl_->id_kind[static_cast<size_t>(id)]) {
    case Impl::IdKind::kNone:
      return std::nullopt;
    case Impl::IdKind::kByteLevel:
      return byte_level_encode(token_bytes(id));
    case Impl::IdKind::kOdd:
    case Impl::IdKind::kAdded:
      return token_bytes(id);
  }
  return std::nullopt;
}

std::optional<int64_t> HfTokenizer::bos_id() const {
  return impl_->bos;
}
bool HfTokenizer::is_special(int64_t id) const {
  return impl_->special_ids.count(id) != 0;
}
const std::vector<HfAddedToken>& HfTokenizer::added_tokens() const {
  return impl_->added;
}

}  // namespace grpo

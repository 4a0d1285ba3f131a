// The BPE model's tables (bpe_model.h): hash tables that look up by byte string or id pair without
// allocating, and the bounded cache of words already encoded. Internal to the tokenizer's files; no
// LibTorch here.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grpo::hf {

// MurmurHash3's 64-bit finalizer, and a hash of byte strings built on it.
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

inline size_t table_capacity_for(size_t entries) {  // a power of two, at most ~60% full
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

}  // namespace grpo::hf

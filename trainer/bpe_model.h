// The byte-level BPE model of a tokenizer.json (its "model" object), as the Rust `tokenizers` crate's
// models/bpe runs it: the vocabulary, the merges by rank, ignore_merges, unk_token, and a word cache. It
// works on raw bytes: the vocabulary is stored under the bytes its byte-level spelling stands for, so
// encoding never builds the "Ġ..." strings. Internal to the tokenizer's files; no LibTorch here.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "trainer/bpe_tables.h"
#include "trainer/hf_json_reader.h"

namespace grpo::hf {

// A model.vocab entry, for the tokenizer's id -> bytes table.
struct VocabEntry {
  int64_t id = 0;
  std::string piece;        // the bytes the token stands for, or its spelling when not byte_level
  bool byte_level = false;  // a byte-level spelling (almost all are)
};

class BpeModel {
 public:
  // Reads tokenizer.json's "model" object (reader names tokenizer.json in messages), refusing what byte-level
  // BPE does not have (dropout, byte_fallback, affixes). Appends each vocabulary entry to `entries`. Call
  // once, on a new model.
  void load(const JsonReader& reader, const json& model, std::vector<VocabEntry>& entries);

  // The id of a token in tokenizer.json's spelling ("Ġthe"), or -1; `tmp` is working memory.
  int32_t find_spelled(std::string_view spelled, std::string& tmp) const;

  // Per-call working memory, so that one model can encode on several threads.
  struct Scratch {
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

  // Appends the ids of one pre-token (non-empty). Safe to call from several threads at once.
  void encode_word(std::string_view word, Scratch& scratch, std::vector<int64_t>& out) const;

 private:
  void merge_word(std::string_view word, Scratch& scratch, std::vector<int64_t>& out) const;

  std::string source_;                                  // tokenizer.json's name in messages
  BytesToId vocab_;                                     // byte-level tokens, under the bytes they spell
  std::unordered_map<std::string, int32_t> odd_vocab_;  // tokens that are not byte-level spellings
  MergeTable merges_;
  int32_t byte_ids_[256];  // the token of each single byte, -1 where the vocabulary lacks it
  bool ignore_merges_ = false;
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;

  mutable std::mutex cache_mutex_;
  mutable WordCache cache_;
};

}  // namespace grpo::hf

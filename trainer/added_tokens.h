// tokenizer.json's added tokens ("<|im_end|>", ...), as the Rust `tokenizers` crate's
// tokenizer/added_vocabulary.rs reads them and splits them out of the text before anything else runs.
// Internal to the tokenizer's files; no LibTorch here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "trainer/hf_json_reader.h"
#include "trainer/hf_tokenizer.h"

namespace grpo::hf {

class BpeModel;  // bpe_model.h

// Byte strings in a trie, searched leftmost-longest like the aho-corasick automaton Rust builds.
class AddedTokenMatcher {
 public:
  void add(std::string_view pattern, int32_t token) {  // pattern is not empty
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

class AddedVocabulary {
 public:
  // Reads tokenizer.json's added_tokens `list` (reader names tokenizer.json in messages), as
  // AddedVocabulary::add_tokens does: a content already listed keeps its id (the later entry's flags win),
  // a content that is a vocabulary token takes that token's id.
  void load(const JsonReader& reader, const json& list, const BpeModel& model);
  // Builds the matchers once the normalizer is known: with nfc_normalized, a token with normalized true is
  // matched as its NFC.
  void index(bool nfc_normalized);

  const std::vector<HfAddedToken>& tokens() const { return tokens_; }
  const HfAddedToken* find(std::string_view content) const;  // nullptr when none has that content
  bool is_special(int64_t id) const { return special_ids_.count(id) != 0; }

  using OnText = std::function<void(std::string_view)>;
  // Appends the ids of the tokens with normalized false found in the raw `text`, and calls on_text with the
  // text between them (never empty).
  void split_raw(std::string_view text, std::vector<int64_t>& out, const OnText& on_text) const {
    split(text, raw_matcher_, out, on_text);
  }
  // The same for the tokens with normalized true, in normalized text.
  void split_normalized(std::string_view text, std::vector<int64_t>& out, const OnText& on_text) const {
    split(text, normalized_matcher_, out, on_text);
  }

 private:
  void split(std::string_view text, const AddedTokenMatcher& matcher, std::vector<int64_t>& out,
             const OnText& on_text) const;

  std::vector<HfAddedToken> tokens_;
  std::unordered_map<std::string, int32_t> by_content_;  // index into tokens_
  std::unordered_set<int64_t> special_ids_;
  AddedTokenMatcher raw_matcher_;         // tokens with normalized false, matched in the raw text
  AddedTokenMatcher normalized_matcher_;  // normalized true, matched (as normalized) in the normalized text
};

}  // namespace grpo::hf

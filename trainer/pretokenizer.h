// What tokenizer.json does to text before the BPE model sees it: the normalizer (NFC or none) and the
// pre-tokenizer (Split steps, their Oniguruma regexes run with PCRE2, then one ByteLevel), as the Rust
// `tokenizers` crate's normalizers and pre_tokenizers/{split,byte_level}.rs do. Internal to the tokenizer's
// files; no LibTorch here.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "trainer/hf_json_reader.h"

namespace grpo::hf {

class Regex;      // pretokenizer.cpp
class MatchData;  // a Regex's per-call match memory

// tokenizer.json's normalizer `node` (null, NFC, or a Sequence of them): sets `nfc` when it normalizes to
// NFC (the tokenizer then runs nfc() from unicode.h); anything else is refused.
void parse_normalizer(const JsonReader& reader, const json& node, const std::string& field, bool& nfc);

class PreTokenizer {
 public:
  PreTokenizer();
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Appends the steps of tokenizer.json's pre_tokenizer `node`: a Split, a ByteLevel, or a Sequence of them,
  // with nothing after the ByteLevel.
  void parse(const JsonReader& reader, const json& node, const std::string& field);
  bool has_byte_level() const { return byte_level_seen_; }

  // Per-call working memory, so that one pre-tokenizer can run on several threads at once.
  struct Scratch {
    explicit Scratch(const PreTokenizer& pre_tokenizer);
    ~Scratch();
    struct Span {
      size_t start, end;
      bool flag;  // is a match / is to be removed
    };
    std::vector<std::unique_ptr<MatchData>> match_data;
    std::vector<std::vector<Span>> spans;   // per step: the pattern's matches and the text between them
    std::vector<std::vector<Span>> folded;  // per step: the pieces the split behavior makes of them
    std::vector<std::string> buffers;       // per step: a piece with its prefix space
  };

  // Receives the pre-tokens (hf_tokenizer.cpp's sink BPE-encodes them); a virtual call, as it runs once a
  // word, costs less than a std::function's.
  class Sink {
   public:
    virtual void pre_token(std::string_view pre_token) = 0;

   protected:
    ~Sink() = default;
  };
  // Calls sink.pre_token with each pre-token of `text` (valid UTF-8), left to right; never with an empty one.
  void pre_tokenize(std::string_view text, Scratch& scratch, Sink& sink) const;

 private:
  enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
  struct Step {
    enum class Kind { kSplit, kPrefixSpace } kind = Kind::kSplit;
    std::unique_ptr<Regex> regex;  // kSplit
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;
  };

  void run(std::string_view piece, size_t step, Scratch& scratch, Sink& sink) const;

  std::vector<Step> steps_;  // flattened; a ByteLevel is a prefix-space step and/or a GPT-2 split
  bool byte_level_seen_ = false;
};

}  // namespace grpo::hf

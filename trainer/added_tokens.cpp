// Added tokens (see added_tokens.h), following the Rust `tokenizers` crate's
// tokenizer/added_vocabulary.rs: the comments name the behaviour they reproduce.
#include "trainer/added_tokens.h"

#include "trainer/bpe_model.h"
#include "trainer/unicode.h"

namespace grpo::hf {

void AddedVocabulary::load(const JsonReader& reader, const json& list, const BpeModel& model) {
  if (!list.is_array()) reader.error("added_tokens", "must be a list");
  std::string bytes;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& entry = list[i];
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
    const auto known = by_content_.find(token.content);
    if (known != by_content_.end()) {
      token.id = tokens_[static_cast<size_t>(known->second)].id;
      tokens_[static_cast<size_t>(known->second)] = token;  // the later entry's flags win
      continue;
    }
    const int32_t in_vocab = model.find_spelled(token.content, bytes);
    if (in_vocab >= 0) token.id = in_vocab;
    by_content_.emplace(token.content, static_cast<int32_t>(tokens_.size()));
    tokens_.push_back(token);
  }
}

void AddedVocabulary::index(bool nfc_normalized) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const HfAddedToken& token = tokens_[i];
    if (token.special) special_ids_.insert(token.id);
    if (!token.normalized) {
      raw_matcher_.add(token.content, static_cast<int32_t>(i));
    } else {
      std::string buffer;
      const std::string_view pattern =
          nfc_normalized ? nfc(token.content, buffer) : std::string_view(token.content);
      normalized_matcher_.add(pattern, static_cast<int32_t>(i));
    }
  }
}

const HfAddedToken* AddedVocabulary::find(std::string_view content) const {
  const auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? nullptr : &tokens_[static_cast<size_t>(it->second)];
}

// Rust's AddedVocabulary::find_matches: each match, leftmost-longest; single_word drops matches touching a
// word character; lstrip/rstrip widen a kept match over the whitespace beside it. The search goes on after
// each match as found (before widening). A match beginning inside the previous one's rstrip-ed whitespace
// (possible only for a token that starts with whitespace) is dropped; Rust would emit overlapping pieces.
void AddedVocabulary::split(std::string_view text, const AddedTokenMatcher& matcher,
                            std::vector<int64_t>& out, const OnText& on_text) const {
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
    const HfAddedToken& token = tokens_[static_cast<size_t>(token_index)];
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

}  // namespace grpo::hf

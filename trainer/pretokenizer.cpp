// The normalizer and the pre-tokenizer (see pretokenizer.h). Each step follows the Rust `tokenizers` crate
// (normalizers/, pre_tokenizers/{split,byte_level}.rs, and Oniguruma's find_iter for the regexes): the
// comments name the behaviour they reproduce.
#include "trainer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <utility>

#include "trainer/unicode.h"

namespace grpo::hf {

// ---------------------------------------------------------------------------------------------------------
// Regexes: tokenizer.json's patterns are written for Oniguruma; PCRE2 runs them as written, with two
// adjustments for Oniguruma's meaning: `\s`/`\S` become White_Space (PCRE2 10.42's \s also takes U+180E),
// and ^/$ are line anchors (MULTILINE). Escapes whose meaning differs and cannot be mapped this simply
// (\h is a hex digit to Oniguruma; \w and \b use another word set) are refused.

namespace {

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

}  // namespace

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

namespace {

// ByteLevel's own split when use_regex is true: GPT-2's pattern.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Reading them from tokenizer.json

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

void PreTokenizer::parse(const JsonReader& reader, const json& node, const std::string& field) {
  const auto type = reader.string(node, "type", field_of(field, "type"));
  if (!type) reader.error(field_of(field, "type"), "is missing");
  if (*type == "Sequence") {
    const json* list = JsonReader::member(node, "pretokenizers");
    if (list == nullptr || !list->is_array())
      reader.error(field_of(field, "pretokenizers"), "must be a list");
    for (size_t i = 0; i < list->size(); ++i)
      parse(reader, (*list)[i], field_at(field_of(field, "pretokenizers"), i));
    return;
  }
  if (byte_level_seen_)
    reader.error(field,
                 "follows the ByteLevel pre-tokenizer; only Split steps before one ByteLevel are supported");
  if (*type == "ByteLevel") {
    byte_level_seen_ = true;
    if (reader.boolean(node, "add_prefix_space", true, field_of(field, "add_prefix_space"))) {
      Step step;
      step.kind = Step::Kind::kPrefixSpace;
      steps_.push_back(std::move(step));
    }
    if (reader.boolean(node, "use_regex", true, field_of(field, "use_regex"))) {
      Step step;
      step.regex = std::make_unique<Regex>(kGpt2Pattern, false, reader.file() + ": " + field);
      steps_.push_back(std::move(step));
    }
    return;
  }
  if (*type != "Split")
    reader.error(field_of(field, "type"),
                 quote(*type) + " is not supported (only Split, ByteLevel, or a Sequence of them)");
  Step step;
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
  steps_.push_back(std::move(step));
}

// ---------------------------------------------------------------------------------------------------------
// Running them

PreTokenizer::PreTokenizer() = default;
PreTokenizer::~PreTokenizer() = default;

PreTokenizer::Scratch::Scratch(const PreTokenizer& pre_tokenizer)
    : spans(pre_tokenizer.steps_.size()),
      folded(pre_tokenizer.steps_.size()),
      buffers(pre_tokenizer.steps_.size()) {
  for (const auto& step : pre_tokenizer.steps_)
    match_data.emplace_back(step.regex ? std::make_unique<MatchData>() : nullptr);
}
PreTokenizer::Scratch::~Scratch() = default;

void PreTokenizer::pre_tokenize(std::string_view text, Scratch& scratch, Sink& sink) const {
  run(text, 0, scratch, sink);
}

// Steps in order, depth first, so that no list of pre-tokens is ever built for the usual Isolated split.
// Empty pieces are dropped, as PreTokenizedString::split drops them.
void PreTokenizer::run(std::string_view piece, size_t step, Scratch& scratch, Sink& sink) const {
  if (piece.empty()) return;
  if (step == steps_.size()) {
    sink.pre_token(piece);
    return;
  }
  const Step& s = steps_[step];
  if (s.kind == Step::Kind::kPrefixSpace) {  // ByteLevel's add_prefix_space, on every piece
    if (piece.front() == ' ') {
      run(piece, step + 1, scratch, sink);
    } else {
      std::string& buffer = scratch.buffers[step];
      buffer.assign(1, ' ');
      buffer.append(piece);
      run(buffer, step + 1, scratch, sink);
    }
    return;
  }
  const MatchData& md = *scratch.match_data[step];
  if (s.behavior == SplitBehavior::kIsolated && !s.invert) {
    size_t prev = 0;
    s.regex->for_each_match(piece, md, [&](size_t start, size_t end) {
      if (prev < start) run(piece.substr(prev, start - prev), step + 1, scratch, sink);
      run(piece.substr(start, end - start), step + 1, scratch, sink);
      prev = end;
    });
    if (prev < piece.size()) run(piece.substr(prev), step + 1, scratch, sink);
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
    if (!span.flag) run(piece.substr(span.start, span.end - span.start), step + 1, scratch, sink);
}

}  // namespace grpo::hf

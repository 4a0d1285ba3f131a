// PCRE2-backed patterns for the rewards (see text_pattern.h).
#include "trainer/text_pattern.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>

namespace grpo {

struct TextPattern::Code {
  pcre2_code* search = nullptr;  // as written
  pcre2_code* whole = nullptr;   // anchored at both ends
  ~Code() {
    pcre2_code_free(search);
    pcre2_code_free(whole);
  }
};

namespace {

pcre2_code* compile(const std::string& pattern, uint32_t options, const std::string& what) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error,
                                   &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw std::invalid_argument(what + ": the regex '" + pattern + "' does not compile: " +
                                reinterpret_cast<const char*>(message) + " at offset " + std::to_string(offset));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter where JIT is missing
  return code;
}

bool matches(const pcre2_code* code, std::string_view text) {
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(code, nullptr);
  // PCRE2_NO_UTF_CHECK is not passed: a completion with invalid UTF-8 simply does not match.
  const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, data, nullptr);
  pcre2_match_data_free(data);
  return rc >= 0;
}

}  // namespace

TextPattern::TextPattern(const std::string& pattern, const std::string& what, bool dot_all)
    : pattern_(pattern), code_(std::make_unique<Code>()) {
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | (dot_all ? PCRE2_DOTALL : 0);
  code_->search = compile(pattern, options, what);
  // The whole text, as Python's re.fullmatch: anchored at both ends (the pattern itself is not rewritten,
  // so (?x) comments and a trailing backslash mean what they say).
  code_->whole = compile(pattern, options | PCRE2_ANCHORED | PCRE2_ENDANCHORED, what);
}

TextPattern::~TextPattern() = default;
TextPattern::TextPattern(TextPattern&&) noexcept = default;
TextPattern& TextPattern::operator=(TextPattern&&) noexcept = default;

bool TextPattern::search(std::string_view text) const { return matches(code_->search, text); }
bool TextPattern::full_match(std::string_view text) const { return matches(code_->whole, text); }

}  // namespace grpo

// A user's regular expression (the format and regex rewards): PCRE2 syntax, which is Python's `re` for
// everything reward patterns use, UTF-8 with Unicode classes, JIT-compiled once. No LibTorch here.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace grpo {

class TextPattern {
 public:
  // `what` names the pattern in errors (a config key). Throws std::invalid_argument naming `what`, the
  // pattern and PCRE2's reason when it does not compile. `dot_all`: "." also matches a newline.
  TextPattern(const std::string& pattern, const std::string& what, bool dot_all = false);
  ~TextPattern();
  TextPattern(TextPattern&&) noexcept;
  TextPattern& operator=(TextPattern&&) noexcept;

  bool search(std::string_view text) const;      // found anywhere in `text`
  bool full_match(std::string_view text) const;  // matches the whole of `text`
  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::string pattern_;
  std::unique_ptr<Code> code_;
};

}  // namespace grpo

// Internal to trainer/math_answer.cpp, math_compare.cpp and math_number.cpp, not an interface (everything
// else uses trainer/math_answer.h): the byte-level text helpers the math reward's files share, ASCII
// classes, prefix tests, LaTeX command and brace matching; and the number parser's interface
// (math_number.cpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grpo::math_detail {

inline constexpr size_t kNpos = std::string_view::npos;

inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
inline bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
inline char to_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool starts_with(std::string_view s, size_t pos, std::string_view prefix) {
  return pos <= s.size() && s.size() - pos >= prefix.size() && s.compare(pos, prefix.size(), prefix) == 0;
}

// `lower_prefix` is lowercase ASCII.
inline bool starts_with_ci(std::string_view s, size_t pos, std::string_view lower_prefix) {
  if (pos > s.size() || s.size() - pos < lower_prefix.size()) return false;
  for (size_t k = 0; k < lower_prefix.size(); ++k)
    if (to_lower(s[pos + k]) != lower_prefix[k]) return false;
  return true;
}

// A LaTeX command `name` (without the backslash) at s[pos]: "\frac" matches at "\frac12", not at "\fracx".
inline bool command_at(std::string_view s, size_t pos, std::string_view name) {
  return pos < s.size() && s[pos] == '\\' && starts_with(s, pos + 1, name) &&
         (pos + 1 + name.size() == s.size() || !is_alpha(s[pos + 1 + name.size()]));
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// For each unescaped '{' the index of its '}', kNpos when it is never closed (and for every other byte).
// \{ and \} are literal braces; \\ is a line break, so the brace after it counts.
inline std::vector<size_t> match_braces(std::string_view s) {
  std::vector<size_t> match(s.size(), kNpos);
  std::vector<size_t> open;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\') {
      ++i;
    } else if (c == '{') {
      open.push_back(i);
    } else if (c == '}' && !open.empty()) {
      match[open.back()] = i;
      open.pop_back();
    }
  }
  return match;
}

inline bool is_one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// ---- The number parser (math_number.cpp) ------------------------------------------------------------

// A normalized answer's value.
struct Value {
  double v = 0.0;
  bool percent = false;
  std::string integer;  // canonical digits of a plain integer literal ("-1234"), empty otherwise
};

// The whole normalized answer as one value, [sign] magnitude [%] [units]; nullopt when it is not one.
std::optional<Value> parse_value(std::string_view normalized);

// Equal within rel_tol (integers exactly); a percentage also matches its fraction ("50%" and 0.5).
bool values_match(const Value& a, const Value& b, double rel_tol);

}  // namespace grpo::math_detail

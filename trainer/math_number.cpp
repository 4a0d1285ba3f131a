// The math reward's number parser (math_text.h: parse_value, values_match): a normalized answer read as one
// value, [sign] magnitude [%] [units], with fractions, roots, scientific notation, thousands separators and
// mixed numbers; linear in its input, and nested fractions bounded (answers come from untrusted output).
#include <charconv>
#include <cmath>
#include <optional>
#include <string>

#include "trainer/math_text.h"

namespace grpo::math_detail {

namespace {

// \frac inside \frac inside … deeper than this is not a number.
constexpr int kMaxFracDepth = 8;
// Integers up to 2^53 are exact in a double.
constexpr double kExactIntegerLimit = 9007199254740992.0;

// Words after a number that change what it means, so it is not "a number with a unit".
bool is_value_word(std::string_view lower_word) {
  return is_one_of(lower_word, {"pi",      "sqrt",     "root",     "roots",     "squared", "cubed",
                                "hundred", "hundreds", "thousand", "thousands", "million", "millions",
                                "billion", "billions", "trillion", "trillions", "dozen",   "dozens",
                                "and",     "or",       "plus",     "minus",     "times",   "over",
                                "divided", "to",       "not",      "i",         "e"});
}

// One-letter units (case-sensitive); any other single letter after a number is a variable ("5x").
bool is_single_letter_unit(char c) {
  return std::string_view("mgshlLKCFNJWV").find(c) != kNpos;
}

class ValueParser {
 public:
  ValueParser(std::string_view s, int depth) : s_(s), depth_(depth) {}

  // The whole string as one value: [sign] magnitude [%] [units].
  std::optional<Value> parse_top() {
    if (s_.size() >= 2 && s_.front() == '(' && s_.back() == ')' && depth_ < kMaxFracDepth) {
      ValueParser inner(trim(s_.substr(1, s_.size() - 2)), depth_ + 1);
      if (auto v = inner.parse_top()) return v;
    }
    auto v = signed_magnitude();
    if (!v) return std::nullopt;
    skip_spaces();
    if (peek() == '%') {
      v->percent = true;
      ++pos_;
    } else if (starts_with_ci(s_, pos_, "percent") && !is_alpha(at(pos_ + 7))) {
      v->percent = true;
      pos_ += 7;
    }
    units();
    skip_spaces();
    if (pos_ != s_.size()) return std::nullopt;
    return v;
  }

  // The whole string as a bare value ([sign] magnitude): a \frac argument.
  std::optional<Value> parse_inner() {
    auto v = signed_magnitude();
    skip_spaces();
    if (!v || pos_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  char at(size_t i) const { return i < s_.size() ? s_[i] : '\0'; }
  char peek() const { return at(pos_); }
  void skip_spaces() {
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
  }

  std::optional<Value> signed_magnitude() {
    skip_spaces();
    bool negative = false;
    if (peek() == '-' || peek() == '+') {
      negative = peek() == '-';
      ++pos_;
      skip_spaces();
    }
    Value v;
    if (command_at(s_, pos_, "frac")) {
      auto f = frac();
      if (!f) return std::nullopt;
      v.v = *f;
    } else {
      std::string digits;
      bool integer = false;
      if (!decimal(&digits, &integer)) return std::nullopt;
      auto d = to_double(digits);
      if (!d) return std::nullopt;
      v.v = *d;
      if (integer) v.integer = canonical_integer(digits);
      const size_t after = pos_;
      skip_spaces();
      if (peek() == '/') {  // a/b
        ++pos_;
        skip_spaces();
        std::string den_digits;
        bool den_integer = false;
        if (!decimal(&den_digits, &den_integer)) return std::nullopt;
        auto den = to_double(den_digits);
        if (!den || *den == 0.0) return std::nullopt;
        v.v /= *den;
        v.integer.clear();
      } else if (integer && command_at(s_, pos_, "frac")) {  // 2\frac{1}{2}: a mixed number
        auto f = frac();
        if (!f || *f < 0.0) return std::nullopt;
        v.v += *f;
        v.integer.clear();
      } else if (command_at(s_, pos_, "times") || command_at(s_, pos_, "cdot")) {  // 1.5 \times 10^{3}
        pos_ += s_[pos_ + 1] == 't' ? 6 : 5;
        auto e = power_of_ten();
        if (!e) return std::nullopt;
        v.v *= std::pow(10.0, *e);
        v.integer.clear();
      } else {
        pos_ = after;
      }
    }
    if (!std::isfinite(v.v)) return std::nullopt;
    if (negative) {
      v.v = -v.v;
      if (!v.integer.empty() && v.integer != "0") v.integer.insert(0, "-");
    }
    return v;
  }

  // Unsigned decimal with thousands separators (',' or ' ', one kind, groups of three) and an optional
  // exponent; `digits` gets the plain ASCII form for from_chars.
  bool decimal(std::string* digits, bool* integer) {
    size_t j = pos_;
    while (j < s_.size() && is_digit(s_[j])) ++j;
    const size_t int_len = j - pos_;
    digits->assign(s_.substr(pos_, int_len));
    *integer = int_len > 0;
    if (int_len >= 1 && int_len <= 3 && (at(j) == ',' || at(j) == ' ')) {
      const char sep = at(j);
      while (at(j) == sep && is_digit(at(j + 1)) && is_digit(at(j + 2)) && is_digit(at(j + 3)) &&
             !is_digit(at(j + 4))) {
        digits->append(s_.substr(j + 1, 3));
        j += 4;
      }
    }
    if (at(j) == '.' && is_digit(at(j + 1))) {
      *integer = false;
      *digits += '.';
      ++j;
      while (j < s_.size() && is_digit(s_[j])) *digits += s_[j++];
    } else if (int_len == 0) {
      return false;
    }
    if (at(j) == 'e' || at(j) == 'E') {
      size_t k = j + 1;
      if (at(k) == '-' || at(k) == '+') ++k;
      if (is_digit(at(k))) {
        *integer = false;
        *digits += 'e';
        digits->append(s_.substr(j + 1, k - j - 1));
        while (k < s_.size() && is_digit(s_[k])) *digits += s_[k++];
        j = k;
      }
    }
    pos_ = j;
    return true;
  }

  // "10^3", "10^{-3}" after \times or \cdot.
  std::optional<double> power_of_ten() {
    skip_spaces();
    if (!starts_with(s_, pos_, "10")) return std::nullopt;
    pos_ += 2;
    skip_spaces();
    if (peek() != '^') return std::nullopt;
    ++pos_;
    skip_spaces();
    const bool braced = peek() == '{';
    if (braced) ++pos_;
    skip_spaces();
    bool negative = false;
    if (peek() == '-' || peek() == '+') negative = s_[pos_++] == '-';
    const size_t start = pos_;
    while (pos_ < s_.size() && is_digit(s_[pos_]) && pos_ - start < 4) ++pos_;
    if (pos_ == start) return std::nullopt;
    double e = 0;
    for (size_t k = start; k < pos_; ++k) e = e * 10 + (s_[k] - '0');
    skip_spaces();
    if (braced) {
      if (peek() != '}') return std::nullopt;
      ++pos_;
    }
    return negative ? -e : e;
  }

  // \frac{a}{b} with numeric a and b (after normalization the arguments are braced).
  std::optional<double> frac() {
    if (depth_ >= kMaxFracDepth) return std::nullopt;
    pos_ += 5;
    double parts[2];
    for (double& part : parts) {
      skip_spaces();
      if (peek() != '{') return std::nullopt;
      const size_t close = matching_close(pos_);
      if (close == kNpos) return std::nullopt;
      ValueParser inner(trim(s_.substr(pos_ + 1, close - pos_ - 1)), depth_ + 1);
      auto v = inner.parse_inner();
      if (!v) return std::nullopt;
      part = v->v;
      pos_ = close + 1;
    }
    if (parts[1] == 0.0) return std::nullopt;
    return parts[0] / parts[1];
  }

  size_t matching_close(size_t open) const {
    int depth = 0;
    for (size_t i = open; i < s_.size(); ++i) {
      if (s_[i] == '\\') {
        ++i;
      } else if (s_[i] == '{') {
        ++depth;
      } else if (s_[i] == '}' && --depth == 0) {
        return i;
      }
    }
    return kNpos;
  }

  // Up to three unit words after the number: "cm", "m/s^2", "square feet", "dollars". Consumes them only
  // when the rest of the string is units.
  void units() {
    const size_t save = pos_;
    int words = 0;
    while (words < 3) {
      const size_t word_start = pos_;
      skip_spaces();
      if (words > 0 && pos_ == word_start) break;
      if (!unit_word()) {
        pos_ = word_start;
        break;
      }
      ++words;
    }
    skip_spaces();
    if (pos_ != s_.size()) pos_ = save;
  }

  bool unit_word() {
    for (bool first = true;; first = false) {
      if (!first) {
        if (peek() != '/') return true;
        ++pos_;
      }
      const size_t start = pos_;
      while (pos_ < s_.size() && is_alpha(s_[pos_])) ++pos_;
      const size_t len = pos_ - start;
      if (len == 0) return false;
      if (len == 1 && !is_single_letter_unit(s_[start])) return false;
      std::string lower;
      for (size_t k = start; k < pos_; ++k) lower += to_lower(s_[k]);
      if (len > 1 && is_value_word(lower)) return false;
      if (peek() == '^') {  // m^2, cm^{3}
        if (is_digit(at(pos_ + 1))) {
          pos_ += 2;
        } else if (at(pos_ + 1) == '{' && is_digit(at(pos_ + 2)) && at(pos_ + 3) == '}') {
          pos_ += 4;
        } else {
          return false;
        }
      }
    }
  }

  static std::optional<double> to_double(const std::string& digits) {
    double v = 0.0;
    const char* end = digits.data() + digits.size();
    const auto [ptr, ec] = std::from_chars(digits.data(), end, v);
    if (ec != std::errc() || ptr != end || !std::isfinite(v)) return std::nullopt;
    return v;
  }

  static std::string canonical_integer(const std::string& digits) {
    const size_t nz = digits.find_first_not_of('0');
    return nz == std::string::npos ? "0" : digits.substr(nz);
  }

  std::string_view s_;
  int depth_;
  size_t pos_ = 0;
};

bool same_number(double a, const std::string& a_int, double b, const std::string& b_int, double rel_tol) {
  if (!a_int.empty() && !b_int.empty()) return a_int == b_int;  // exact, any length
  if (std::floor(a) == a && std::floor(b) == b && std::abs(a) < kExactIntegerLimit &&
      std::abs(b) < kExactIntegerLimit)
    return a == b;  // 1000001 is not 1e6, however small the tolerance is relative to them
  return std::abs(a - b) <= std::max(rel_tol, 0.0) * std::max(std::abs(a), std::abs(b));
}

}  // namespace

std::optional<Value> parse_value(std::string_view normalized) {
  if (normalized.empty()) return std::nullopt;
  return ValueParser(normalized, 0).parse_top();
}

bool values_match(const Value& a, const Value& b, double rel_tol) {
  if (same_number(a.v, a.integer, b.v, b.integer, rel_tol)) return true;
  const std::string not_integer;
  if (a.percent && !b.percent && same_number(a.v / 100.0, not_integer, b.v, b.integer, rel_tol)) return true;
  if (b.percent && !a.percent && same_number(a.v, a.integer, b.v / 100.0, not_integer, rel_tol)) return true;
  return false;
}

}  // namespace grpo::math_detail

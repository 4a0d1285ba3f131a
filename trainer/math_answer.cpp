// The math reward's answer extraction (see math_answer.h): the extractors (\boxed, "####", "The answer
// is", <answer>, the last number), their order, the reference's final answer, and math_reward, which hands
// what they find to the comparison in math_compare.cpp. Every scan is linear in its input: completions are
// untrusted model output, up to megabytes of it.
#include "trainer/math_answer.h"

#include <algorithm>
#include <initializer_list>
#include <iterator>
#include <stdexcept>
#include <utility>

#include "trainer/math_text.h"

namespace grpo {

using namespace math_detail;  // the helpers both halves share (math_text.h)

namespace {

// A delimited answer ("The answer is $…$") longer than this is not one; bounds the look-ahead.
constexpr size_t kMaxDelimitedSpan = 4096;

// ---- Extraction -------------------------------------------------------------------------------------

// The last \boxed / \fbox whose argument is complete and not empty.
std::optional<std::string_view> find_boxed(std::string_view s) {
  struct Candidate {
    size_t arg;  // the '{' of "\boxed{…}", or the first byte of "\boxed 5"
    bool braced;
  };
  std::vector<Candidate> candidates;
  for (size_t i = s.find('\\'); i != kNpos; i = s.find('\\', i + 1)) {
    size_t j;
    if (command_at(s, i, "boxed")) {
      j = i + 6;
    } else if (command_at(s, i, "fbox")) {
      j = i + 5;
    } else {
      continue;
    }
    const size_t name_end = j;
    while (j < s.size() && is_space(s[j])) ++j;
    if (j < s.size() && s[j] == '{') {
      candidates.push_back({j, true});
    } else if (j > name_end && j < s.size() && s[j] != '$' && s[j] != '\\') {
      candidates.push_back({j, false});  // "\boxed 5": up to the next space or $ (the MATH convention)
    }
  }
  if (candidates.empty()) return std::nullopt;
  std::vector<size_t> match;
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
    std::string_view content;
    if (it->braced) {
      if (match.empty()) match = match_braces(s);
      const size_t close = match[it->arg];
      if (close == kNpos) continue;  // "\boxed{" never closed
      content = trim(s.substr(it->arg + 1, close - it->arg - 1));
    } else {
      size_t e = it->arg;
      while (e < s.size() && !is_space(s[e]) && s[e] != '$' && s[e] != '<') ++e;
      content = s.substr(it->arg, e - it->arg);
    }
    if (!content.empty()) return content;
  }
  return std::nullopt;
}

// The last line holding "####" followed by an answer (the rest of the line). A "####" line whose text starts
// with a letter is a Markdown heading ("#### Step 2"), not an answer.
std::optional<std::string_view> find_hashes(std::string_view s) {
  std::optional<std::string_view> best;
  size_t line = 0;
  while (line < s.size()) {
    size_t end = s.find('\n', line);
    if (end == kNpos) end = s.size();
    const size_t h = s.substr(line, end - line).find("####");
    if (h != kNpos) {
      size_t j = line + h;
      while (j < end && s[j] == '#') ++j;
      const std::string_view content = trim(s.substr(j, end - j));
      if (!content.empty() && !is_alpha(content.front())) best = content;
    }
    line = end + 1;
  }
  return best;
}

// The last <answer>…</answer> pair with a non-empty content.
std::optional<std::string_view> find_answer_tag(std::string_view s) {
  constexpr std::string_view kOpen = "<answer>", kClose = "</answer>";
  std::optional<std::string_view> best;
  size_t open = kNpos;
  for (size_t i = s.find('<'); i != kNpos; i = s.find('<', i + 1)) {
    if (starts_with(s, i, kOpen)) {
      open = i + kOpen.size();
    } else if (open != kNpos && starts_with(s, i, kClose)) {
      const std::string_view content = trim(s.substr(open, i - open));
      if (!content.empty()) best = content;
      open = kNpos;
    }
  }
  return best;
}

// Whether the "answer" at s[i] opens a statement of the final answer: "the/final/correct/my/our answer is",
// or "answer is" at the start of the text, a line or a sentence. ("this answer is wrong" is not one.)
bool answer_is_context(std::string_view s, size_t i) {
  size_t k = i;
  while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t' || s[k - 1] == '*')) --k;
  if (k == 0) return true;
  const char prev = s[k - 1];
  if (prev == '\n' || prev == '\r' || prev == '.' || prev == '!' || prev == '?' || prev == ':' || prev == '#')
    return true;
  size_t w = k;
  while (w > 0 && k - w < 8 && is_alpha(s[w - 1])) --w;
  if (w == k || (w > 0 && is_alpha(s[w - 1]))) return false;
  std::string word;
  for (size_t p = w; p < k; ++p) word += to_lower(s[p]);
  return word == "the" || word == "final" || word == "correct" || word == "my" || word == "our";
}

// Whether " because" / ", which" / … follows at s[p] (a space, then a connective word): the answer ended.
bool connective_at(std::string_view s, size_t p) {
  if (p >= s.size() || s[p] != ' ') return false;
  size_t w = p + 1, e = w;
  while (e < s.size() && e - w <= 9 && is_alpha(s[e])) ++e;
  if (e == w || e - w > 9 || (e < s.size() && is_alpha(s[e]))) return false;
  std::string word;
  for (size_t k = w; k < e; ++k) word += to_lower(s[k]);
  static constexpr std::string_view kConnectives[] = {"because", "since",     "which",   "so",      "but",
                                                      "as",      "hence",     "thus",    "where",   "when",
                                                      "given",   "therefore", "meaning", "assuming"};
  return std::find(std::begin(kConnectives), std::end(kConnectives), word) != std::end(kConnectives);
}

// The answer stated at s[j]: a math-delimited one ($…$, $$…$$, \(…\), \[…\]) up to its closing delimiter,
// otherwise up to the end of the line, the next tag, the end of the sentence (". ", "!", "?"; a period
// followed by a digit is a decimal point) or a connective ("5, because …", "Paris since …"), whichever
// comes first, outside braces.
std::string_view answer_span(std::string_view s, size_t j) {
  while (j < s.size() && (is_space(s[j]) || s[j] == '*')) ++j;
  const size_t limit = std::min(s.size(), j + kMaxDelimitedSpan);
  const std::string_view window = s.substr(0, limit);
  for (auto [open, close] :
       {std::pair<std::string_view, std::string_view>{"$$", "$$"}, {"\\[", "\\]"}, {"\\(", "\\)"}}) {
    if (!starts_with(s, j, open)) continue;
    const size_t c = window.find(close, j + open.size());
    if (c != kNpos) return s.substr(j, c + close.size() - j);
    break;
  }
  if (j < s.size() && s[j] == '$' && !starts_with(s, j, "$$")) {
    // Inline math, unless the closing $ is on another line or in another sentence ("$50. Then $20").
    for (size_t e = j + 1; e < limit; ++e) {
      const char c = s[e];
      if (c == '\n' || ((c == '.' || c == '!' || c == '?') && e + 1 < s.size() && is_space(s[e + 1]))) break;
      if (c == '$') return s.substr(j, e + 1 - j);
    }
  }
  size_t e = j;
  int depth = 0;
  for (; e < s.size(); ++e) {
    const char c = s[e];
    if (c == '\\') {
      ++e;
      continue;
    }
    if (c == '{') ++depth;
    if (c == '}' && depth > 0) --depth;
    if (c == '\n' || c == '\r') break;
    if (c == '<' && e + 1 < s.size() && (s[e + 1] == '/' || is_alpha(s[e + 1]))) break;
    if (depth == 0 && (c == '.' || c == '!' || c == '?') && (e + 1 == s.size() || is_space(s[e + 1]))) break;
    if (depth == 0 && e > j && (c == ' ' || c == ',') && connective_at(s, c == ',' ? e + 1 : e)) break;
  }
  std::string_view span = trim(s.substr(j, std::min(e, s.size()) - j));
  while (!span.empty() && span.back() == '*') span.remove_suffix(1);
  return trim(span);
}

// The last "… answer is x" / "answer: x" with a non-empty x.
std::optional<std::string_view> find_answer_is(std::string_view s) {
  constexpr std::string_view kAnswer = "answer";
  if (s.size() < kAnswer.size()) return std::nullopt;
  for (size_t i = s.size() - kAnswer.size() + 1; i-- > 0;) {
    if (to_lower(s[i]) != 'a' || !starts_with_ci(s, i, kAnswer)) continue;
    if (i > 0 && is_alpha(s[i - 1])) continue;
    size_t j = i + kAnswer.size();
    while (j < s.size() && s[j] == '*') ++j;
    if (j < s.size() && s[j] == ':') {
      ++j;  // "Answer: x", "Final Answer: x", "**Answer:** x"
    } else {
      size_t k = j;
      while (k < s.size() && (s[k] == ' ' || s[k] == '\t')) ++k;
      if (k == j || !starts_with_ci(s, k, "is") || (k + 2 < s.size() && is_alpha(s[k + 2]))) continue;
      if (!answer_is_context(s, i)) continue;
      j = k + 2;
      while (j < s.size() && (s[j] == ' ' || s[j] == '*')) ++j;
      if (j < s.size() && s[j] == ':') ++j;
    }
    const std::string_view span = answer_span(s, j);
    if (!span.empty()) return span;
  }
  return std::nullopt;
}

size_t sign_length(std::string_view s, size_t i) {
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) return 1;
  if (starts_with(s, i, "\xE2\x88\x92")) return 3;  // U+2212 MINUS SIGN
  return 0;
}

// End of an unsigned decimal at s[i] ("1,234.5e-3", ".5"; comma groups of exactly three digits), or i.
size_t scan_decimal(std::string_view s, size_t i) {
  size_t j = i;
  while (j < s.size() && is_digit(s[j])) ++j;
  const size_t int_digits = j - i;
  if (int_digits >= 1 && int_digits <= 3) {
    while (j + 3 < s.size() && s[j] == ',' && is_digit(s[j + 1]) && is_digit(s[j + 2]) &&
           is_digit(s[j + 3]) && (j + 4 == s.size() || !is_digit(s[j + 4])))
      j += 4;
  }
  if (j + 1 < s.size() && s[j] == '.' && is_digit(s[j + 1])) {
    ++j;
    while (j < s.size() && is_digit(s[j])) ++j;
  } else if (int_digits == 0) {
    return i;
  }
  if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
    size_t k = j + 1;
    if (k < s.size() && (s[k] == '-' || s[k] == '+')) ++k;
    if (k < s.size() && is_digit(s[k])) {
      while (k < s.size() && is_digit(s[k])) ++k;
      j = k;
    }
  }
  return j;
}

// End of a numeric \frac / \dfrac / \tfrac at s[i] ("\frac{1}{2}", "\frac{-3}{4}", "\frac12"), or i.
size_t scan_frac(std::string_view s, size_t i) {
  size_t j;
  if (command_at(s, i, "frac")) {
    j = i + 5;
  } else if (command_at(s, i, "dfrac") || command_at(s, i, "tfrac")) {
    j = i + 6;
  } else {
    return i;
  }
  for (int arg = 0; arg < 2; ++arg) {
    while (j < s.size() && s[j] == ' ') ++j;
    if (j < s.size() && is_digit(s[j])) {
      ++j;  // \frac12: single-digit arguments
      continue;
    }
    if (j >= s.size() || s[j] != '{') return i;
    size_t k = j + 1;
    while (k < s.size() && s[k] == ' ') ++k;
    k += sign_length(s, k);
    const size_t e = scan_decimal(s, k);
    if (e == k) return i;
    k = e;
    while (k < s.size() && s[k] == ' ') ++k;
    if (k >= s.size() || s[k] != '}') return i;
    j = k + 1;
  }
  return j;
}

// A sign counts only after a space, an opening bracket, "=", "$", ":" or "," ("5-3" holds 5 and 3).
bool sign_may_follow(char prev) {
  return is_space(prev) || prev == '(' || prev == '[' || prev == '{' || prev == '=' || prev == '$' ||
         prev == ':' || prev == ',' || prev == ';';
}

// The last number: [sign] decimal [/ decimal] [%] or [sign] \frac{a}{b}, scanning forward once.
std::optional<std::string_view> find_last_number(std::string_view s) {
  std::optional<std::string_view> best;
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    size_t j = i;
    const size_t sign = sign_length(s, j);
    if (sign > 0 && (j == 0 || sign_may_follow(s[j - 1]))) j += sign;
    size_t e = scan_frac(s, j);
    if (e == j) {
      e = scan_decimal(s, j);
      if (e > j && e + 1 < s.size() && s[e] == '/' && is_digit(s[e + 1])) e = scan_decimal(s, e + 1);
      if (e > j) {
        if (e < s.size() && s[e] == '%') {
          ++e;
        } else if (starts_with(s, e, "\\%")) {
          e += 2;
        }
      }
    }
    if (e > j) {
      best = s.substr(start, e - start);
      i = e;
    } else {
      i = start + 1;
    }
  }
  return best;
}

std::optional<std::string_view> extract_with(std::string_view s, AnswerSource source) {
  switch (source) {
    case AnswerSource::kBoxed:
      return find_boxed(s);
    case AnswerSource::kHashes:
      return find_hashes(s);
    case AnswerSource::kAnswerIs:
      return find_answer_is(s);
    case AnswerSource::kAnswerTag:
      return find_answer_tag(s);
    case AnswerSource::kLastNumber:
      return find_last_number(s);
  }
  return std::nullopt;
}

std::optional<ExtractedAnswer> extract_in_order(std::string_view s, const std::vector<AnswerSource>& order) {
  for (AnswerSource source : order) {
    if (auto found = extract_with(s, source)) return ExtractedAnswer{std::string(*found), source};
  }
  return std::nullopt;
}

}  // namespace

const std::vector<AnswerSource>& default_answer_order() {
  static const std::vector<AnswerSource> order = {AnswerSource::kBoxed, AnswerSource::kHashes,
                                                  AnswerSource::kAnswerIs, AnswerSource::kAnswerTag,
                                                  AnswerSource::kLastNumber};
  return order;
}

std::string_view answer_source_name(AnswerSource source) {
  switch (source) {
    case AnswerSource::kBoxed:
      return "boxed";
    case AnswerSource::kHashes:
      return "hashes";
    case AnswerSource::kAnswerIs:
      return "answer_is";
    case AnswerSource::kAnswerTag:
      return "answer_tag";
    case AnswerSource::kLastNumber:
      return "last_number";
  }
  return "unknown";
}

std::vector<AnswerSource> parse_answer_order(const std::vector<std::string>& names) {
  std::string known;
  for (AnswerSource s : default_answer_order()) {
    if (!known.empty()) known += ", ";
    known += answer_source_name(s);
  }
  if (names.empty())
    throw std::invalid_argument("the answer extractor order is empty (known: " + known + ")");
  std::vector<AnswerSource> order;
  for (const std::string& name : names) {
    std::optional<AnswerSource> found;
    for (AnswerSource s : default_answer_order())
      if (answer_source_name(s) == name) found = s;
    if (!found)
      throw std::invalid_argument("unknown answer extractor \"" + name + "\" (known: " + known + ")");
    if (std::find(order.begin(), order.end(), *found) != order.end())
      throw std::invalid_argument("answer extractor \"" + name + "\" is listed twice");
    order.push_back(*found);
  }
  return order;
}

std::optional<ExtractedAnswer> extract_answer(std::string_view completion,
                                              const std::vector<AnswerSource>& order) {
  constexpr std::string_view kEndThink = "</think>";
  const size_t t = completion.rfind(kEndThink);
  if (t != kNpos) completion.remove_prefix(t + kEndThink.size());
  return extract_in_order(completion, order);
}

std::string reference_answer(std::string_view reference) {
  static const std::vector<AnswerSource> reference_order = {AnswerSource::kBoxed, AnswerSource::kHashes,
                                                            AnswerSource::kAnswerTag};
  if (auto found = extract_in_order(reference, reference_order)) return found->text;
  return std::string(trim(reference));
}

double math_reward(std::string_view completion, std::string_view reference,
                   const std::vector<AnswerSource>& order, double rel_tol) {
  const auto answer = extract_answer(completion, order);
  if (!answer) return 0.0;
  return answers_match(answer->text, reference_answer(reference), rel_tol) ? 1.0 : 0.0;
}

}  // namespace grpo

// The math reward's answer comparison (see math_answer.h): normalization (Unicode folding, the LaTeX pass,
// the end cleanup) and answers_match's comparison by value (the number parser: math_number.cpp) or as
// normalized text. Every scan is linear in its input: answers come from untrusted model output.
#include "trainer/math_answer.h"

#include <algorithm>
#include <initializer_list>
#include <unordered_map>

#include "trainer/math_text.h"

namespace grpo {

using namespace math_detail;  // the helpers both halves share (math_text.h)

namespace {

// The index of \sqrt[n]{x} is looked for this far.
constexpr size_t kMaxSqrtIndex = 32;

// ---- Normalization ----------------------------------------------------------------------------------

// Unicode that models write in answers, folded to ASCII or LaTeX.
struct Fold {
  std::string_view from, to;
};
constexpr Fold kFolds[] = {
    {"\xE2\x88\x92", "-"},         // U+2212 minus sign
    {"\xEF\xBC\x8D", "-"},         // U+FF0D full-width hyphen-minus
    {"\xEF\xBC\x8B", "+"},         // U+FF0B full-width plus
    {"\xC2\xA0", " "},             // U+00A0 no-break space
    {"\xE2\x80\x87", " "},         // U+2007 figure space
    {"\xE2\x80\x88", " "},         // U+2008 punctuation space
    {"\xE2\x80\x89", " "},         // U+2009 thin space
    {"\xE2\x80\x8A", " "},         // U+200A hair space
    {"\xE2\x80\xAF", " "},         // U+202F narrow no-break space
    {"\xE3\x80\x80", " "},         // U+3000 ideographic space
    {"\xE2\x80\x8B", ""},          // U+200B zero-width space
    {"\xE2\x81\xA0", ""},          // U+2060 word joiner
    {"\xEF\xBB\xBF", ""},          // U+FEFF byte-order mark
    {"\xC3\x97", "\\times "},      // U+00D7 multiplication sign
    {"\xC2\xB7", "\\cdot "},       // U+00B7 middle dot
    {"\xE2\x8B\x85", "\\cdot "},   // U+22C5 dot operator
    {"\xC3\xB7", "\\div "},        // U+00F7 division sign
    {"\xC2\xB0", ""},              // U+00B0 degree sign
    {"\xCF\x80", "\\pi "},         // U+03C0 pi
    {"\xE2\x88\x9A", "\\sqrt"},    // U+221A square root
    {"\xE2\x88\x9E", "\\infty "},  // U+221E infinity
    {"\xE2\x81\x84", "/"},         // U+2044 fraction slash
    {"\xC2\xBD", "\\frac{1}{2}"},  // U+00BD one half
    {"\xC2\xBC", "\\frac{1}{4}"},  // U+00BC one quarter
    {"\xC2\xBE", "\\frac{3}{4}"},  // U+00BE three quarters
    {"\xEF\xBC\x85", "%"},         // U+FF05 full-width percent
    {"\xEF\xBC\x8E", "."},         // U+FF0E full-width full stop
    {"\xEF\xBC\x8C", ","},         // U+FF0C full-width comma
    {"\xEF\xBC\x8F", "/"},         // U+FF0F full-width solidus
    {"\xEF\xBC\x84", ""},          // U+FF04 full-width dollar
    {"\xE2\x82\xAC", ""},          // U+20AC euro
    {"\xC2\xA3", ""},              // U+00A3 pound
    {"\xC2\xA5", ""},              // U+00A5 yen
    {"\xE2\x82\xB9", ""},          // U+20B9 rupee
    {"\xE2\x80\x9C", "\""},        // U+201C left double quotation mark
    {"\xE2\x80\x9D", "\""},        // U+201D right double quotation mark
    {"\xE2\x80\x98", "'"},         // U+2018 left single quotation mark
    {"\xE2\x80\x99", "'"},         // U+2019 right single quotation mark
};

std::string fold_unicode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += s[i++];
      continue;
    }
    if (c == 0xEF && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xBC) {
      const auto d = static_cast<unsigned char>(s[i + 2]);
      if (d >= 0x90 && d <= 0x99) {  // U+FF10..U+FF19 full-width digits
        out += static_cast<char>('0' + (d - 0x90));
        i += 3;
        continue;
      }
    }
    bool folded = false;
    for (const Fold& f : kFolds) {
      if (starts_with(s, i, f.from)) {
        out += f.to;
        i += f.from.size();
        folded = true;
        break;
      }
    }
    if (!folded) out += s[i++];
  }
  return out;
}

// Commands whose braced argument is kept and the command dropped: \text{5 cm} → "5 cm".
bool is_wrapper(std::string_view name) {
  return is_one_of(name,
                   {"text",       "textbf",     "textit", "textrm", "textsf", "texttt", "textup",
                    "textnormal", "emph",       "mathrm", "mathbf", "mathit", "mathsf", "mathtt",
                    "mathnormal", "boldsymbol", "mbox",   "hbox",   "boxed",  "fbox",   "operatorname"});
}

// Commands dropped together with a following "." (\left. \right.) or nothing else.
bool is_sizing(std::string_view name) {
  return is_one_of(name, {"left", "right", "middle", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl",
                          "Bigr", "biggl", "biggr", "Biggl", "Biggr"});
}

bool is_dropped(std::string_view name) {
  return is_one_of(name, {"displaystyle", "textstyle", "scriptstyle", "limits", "nolimits", "degree",
                          "dollar", "negthinspace", "negmedspace", "negthickspace"});
}

bool is_spacing(std::string_view name) {
  return is_one_of(name, {"quad", "qquad", "enspace", "thinspace", "medspace", "thickspace", "space"});
}

// The LaTeX pass: one scan with a precomputed brace table. Wrapper commands lose their name and braces,
// spacing and sizing commands go, \dfrac / \tfrac / \cfrac become \frac, and the arguments of \frac and
// \sqrt get braces (\frac12 → \frac{1}{2}). $ delimiters and \$ go; \% becomes %; {,} becomes ",".
class LatexPass {
 public:
  explicit LatexPass(std::string_view s) : s_(s), match_(match_braces(s)), drop_close_(s.size(), false) {
    out_.reserve(s.size());
  }

  std::string run() {
    for (size_t i = 0; i < s_.size();) {
      if (auto it = wrap_.find(i); it != wrap_.end()) {
        out_ += '{';
        out_.append(s_.substr(i, it->second));
        out_ += '}';
        i += it->second;
      } else if (s_[i] == '\\' && i + 1 < s_.size() && is_alpha(s_[i + 1])) {
        i = command(i);
      } else if (s_[i] == '\\' && i + 1 < s_.size()) {
        i = escape(i);
      } else {
        i = character(i);
      }
    }
    return std::move(out_);
  }

 private:
  // \name at s[i]: returns where the scan goes on.
  size_t command(size_t i) {
    size_t j = i + 1;
    while (j < s_.size() && is_alpha(s_[j])) ++j;
    const std::string_view name = s_.substr(i + 1, j - i - 1);
    if (is_wrapper(name)) {
      const size_t k = skip_spaces(j);
      if (k < s_.size() && s_[k] == '{' && match_[k] != kNpos) {
        drop_close_[match_[k]] = true;
        return k + 1;
      }
      return j;  // "\boxed 5": the command goes, its argument stays
    }
    if (is_sizing(name)) {
      const size_t k = skip_spaces(j);
      return k < s_.size() && s_[k] == '.' ? k + 1 : k;
    }
    if (is_dropped(name)) return j;
    if (is_spacing(name)) {
      out_ += ' ';
      return j;
    }
    if (name == "hspace" || name == "vspace")
      return j < s_.size() && s_[j] == '{' && match_[j] != kNpos ? match_[j] + 1 : j;
    if (name == "frac" || name == "dfrac" || name == "tfrac" || name == "cfrac") {
      out_ += "\\frac";
      brace_arguments(j, 2);
      return j;
    }
    if (name == "sqrt") {
      out_ += "\\sqrt";
      size_t k = skip_spaces(j);
      if (k < s_.size() && s_[k] == '[') {  // \sqrt[3]{x}: the index (a few bytes) is copied as is
        const size_t close = s_.substr(0, std::min(s_.size(), k + kMaxSqrtIndex)).find(']', k);
        if (close != kNpos) k = close + 1;
      }
      brace_arguments(k, 1);
      return j;
    }
    out_.append(s_.substr(i, j - i));
    return j;
  }

  // A backslash before a non-letter at s[i].
  size_t escape(size_t i) {
    const char d = s_[i + 1];
    if (d == ',' || d == ';' || d == ':' || d == '>' || d == ' ' || d == '\\') {
      out_ += ' ';
    } else if (d == '%') {
      out_ += '%';
    } else if (d == '!' || d == '$' || d == '(' || d == ')' || d == '[' || d == ']') {
      // negative space, an escaped dollar, math delimiters: nothing
    } else {
      out_ += '\\';
      out_ += d;  // \{ \} \# \& \_ …
    }
    return i + 2;
  }

  // Any other character at s[i].
  size_t character(size_t i) {
    const char c = s_[i];
    if (c == '$' || c == '`' || (c == '}' && drop_close_[i])) return i + 1;  // delimiters, a wrapper's "}"
    if (c == '~') {
      out_ += ' ';
      return i + 1;
    }
    if (c == '*' && i + 1 < s_.size() && s_[i + 1] == '*') return i + 2;  // Markdown bold
    if (c == '{' && (starts_with(s_, i, "{,}") || starts_with(s_, i, "{.}"))) {
      out_ += s_[i + 1];
      return i + 3;
    }
    if (c == '^' && (command_at(s_, i + 1, "circ") || command_at(s_, i + 1, "degree")))
      return i + (s_[i + 2] == 'c' ? 6 : 8);
    if (c == '^' && (starts_with(s_, i, "^{\\circ}") || starts_with(s_, i, "^{\\degree}")))
      return i + (s_[i + 3] == 'c' ? 8 : 10);
    out_ += c;
    return i + 1;
  }

  // Marks the next `count` arguments from s[j] for bracing when they are single tokens.
  void brace_arguments(size_t j, int count) {
    for (int a = 0; a < count && j < s_.size(); ++a) {
      j = skip_spaces(j);
      if (j >= s_.size()) return;
      if (s_[j] == '{') {
        if (match_[j] == kNpos) return;
        j = match_[j] + 1;
        continue;
      }
      size_t len = 0;
      if (s_[j] == '\\' && j + 1 < s_.size() && is_alpha(s_[j + 1])) {
        len = 1;
        while (j + len < s_.size() && is_alpha(s_[j + len])) ++len;
      } else if (is_digit(s_[j]) || is_alpha(s_[j])) {
        len = 1;
      } else {
        return;  // "}", "$", an operator: not an argument we understand
      }
      wrap_[j] = len;
      j += len;
    }
  }

  size_t skip_spaces(size_t j) const {
    while (j < s_.size() && s_[j] == ' ') ++j;
    return j;
  }

  std::string_view s_;
  std::vector<size_t> match_;                // the matching brace of each brace (kNpos: unmatched)
  std::vector<bool> drop_close_;             // closing braces of dropped wrappers
  std::unordered_map<size_t, size_t> wrap_;  // single-token argument at pos → its length, to be braced
  std::string out_;
};

std::string latex_pass(std::string_view s) {
  return LatexPass(s).run();
}

// Whitespace runs → one space, trimmed.
std::string collapse_spaces(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending = false;
  for (char c : s) {
    if (is_space(c)) {
      pending = !out.empty();
      continue;
    }
    if (pending) out += ' ';
    pending = false;
    out += c;
  }
  return out;
}

// "x = 5", "x_1 = 5", "\theta = 30" → the right-hand side (when it holds no other "=").
std::string_view strip_variable(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '\\') {
    ++i;
    const size_t start = i;
    while (i < s.size() && is_alpha(s[i])) ++i;
    if (i == start) return s;
  } else if (i < s.size() && is_alpha(s[i])) {
    ++i;
  } else {
    return s;
  }
  if (i < s.size() && s[i] == '_') {
    ++i;
    if (i < s.size() && s[i] == '{') {
      const size_t close = s.find('}', i);
      if (close == kNpos || s.substr(i + 1, close - i - 1).find('{') != kNpos) return s;
      i = close + 1;
    } else if (i < s.size() && (is_alpha(s[i]) || is_digit(s[i]))) {
      ++i;
    } else {
      return s;
    }
  }
  while (i < s.size() && s[i] == ' ') ++i;
  if (i >= s.size() || s[i] != '=') return s;
  const std::string_view rest = trim(s.substr(i + 1));
  if (rest.empty() || rest.find('=') != kNpos) return s;
  return rest;
}

// One round of the end cleanup; returns whether anything changed.
bool cleanup_once(std::string* s) {
  std::string_view v = *s;
  const size_t before = v.size();
  v = trim(v);
  while (!v.empty() &&
         (v.back() == '.' || v.back() == ',' || v.back() == ';' || v.back() == ':' || v.back() == '!')) {
    if (v.size() >= 2 && v[v.size() - 2] == '\\') break;  // "\," "\;" would be spacing, "\!" too
    v.remove_suffix(1);
    v = trim(v);
  }
  // Enclosing braces, any depth: "{{3}}" → "3".
  if (!v.empty() && v.front() == '{') {
    const std::vector<size_t> match = match_braces(v);
    size_t l = 0, r = v.size() - 1;
    while (l < r && v[l] == '{' && match[l] == r) {
      ++l;
      --r;
    }
    v = trim(v.substr(l, r + 1 - l));
  }
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = trim(v.substr(1, v.size() - 2));
  v = strip_variable(v);
  if (v.size() == 3 && v[0] == '(' && is_alpha(v[1]) && v[2] == ')') v = v.substr(1, 1);  // "(B)" → "B"
  if (v.size() == before) return false;
  *s = std::string(v);
  return true;
}

// Comparison key of a non-numeric answer: no whitespace, ASCII letters lowercased outside command names.
std::string text_key(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool in_command = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (is_space(c)) {
      in_command = false;
      continue;
    }
    if (c == '\\') {
      out += c;
      if (i + 1 < s.size()) out += s[++i];
      in_command = i < s.size() && is_alpha(s[i]);
      continue;
    }
    if (in_command && is_alpha(c)) {
      out += c;
      continue;
    }
    in_command = false;
    out += to_lower(c);
  }
  return out;
}

}  // namespace

std::string normalize_answer(std::string_view answer) {
  std::string s = collapse_spaces(latex_pass(fold_unicode(answer)));
  // Peeling can uncover more to remove ("{x = {5}}."); each round shortens the string, a few suffice.
  for (int round = 0; round < 4 && cleanup_once(&s); ++round) {
  }
  return s;
}

std::optional<double> parse_number(std::string_view answer) {
  auto v = parse_value(normalize_answer(answer));
  if (!v) return std::nullopt;
  return v->v;
}

bool answers_match(std::string_view answer, std::string_view reference, double rel_tol) {
  const std::string a = normalize_answer(answer), r = normalize_answer(reference);
  if (a.empty() || r.empty()) return false;
  const auto av = parse_value(a), rv = parse_value(r);
  if (av && rv) return values_match(*av, *rv, rel_tol);
  return text_key(a) == text_key(r);
}

}  // namespace grpo

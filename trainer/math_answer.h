// The `math` reward's answer checking: finding a completion's final answer (the last \boxed{…}, GSM8K's
// "#### x", "The answer is x", the <answer> tag or the last number, in a configurable order) and comparing
// it with the reference by value (integers, decimals, thousands separators, fractions, \frac, percent,
// currency, scientific notation, simple LaTeX wrappers, units) or, when either side is not a number, as a
// normalized string. The rules are spelled out in docs/rewards.md ("The math reward"). No LibTorch here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grpo {

// Where a final answer was found. Each extractor takes the LAST complete, non-empty occurrence of its form.
enum class AnswerSource {
  kBoxed,     // \boxed{…} or \fbox{…} with nested braces ("\boxed 5" too)
  kHashes,    // GSM8K's "#### 72" (the rest of the line; a line "#### Step 2" is a Markdown heading, skipped)
  kAnswerIs,  // "The answer is x", "The final answer is: x", "Final Answer: x", "**Answer:** x"
  kAnswerTag,   // <answer>…</answer>
  kLastNumber,  // the last number in the text ("-1,234.5", "3/4", "50%", "\frac{1}{2}")
};

struct ExtractedAnswer {
  std::string text;  // as written in the completion, trimmed; not normalized
  AnswerSource source = AnswerSource::kLastNumber;
};

constexpr double kDefaultAnswerRelTol = 1e-6;

// boxed, hashes, answer_is, answer_tag, last_number.
const std::vector<AnswerSource>& default_answer_order();

// The config name of an extractor: "boxed", "hashes", "answer_is", "answer_tag", "last_number".
std::string_view answer_source_name(AnswerSource source);

// Config names to extractors. Throws std::invalid_argument for an unknown name (the message names it and
// lists the known ones), a name listed twice, or an empty list.
std::vector<AnswerSource> parse_answer_order(const std::vector<std::string>& names);

// The completion's final answer: the first extractor of `order` that finds one. When the completion has a
// </think>, only the text after the last </think> is searched (an answer inside the reasoning is not the
// final answer). nullopt when nothing is found; never throws. Linear time in the completion's length.
std::optional<ExtractedAnswer> extract_answer(
    std::string_view completion, const std::vector<AnswerSource>& order = default_answer_order());

// The value a reference stands for: a full solution is reduced to its final answer (the last \boxed{…} of
// a MATH solution, the "#### 72" of a GSM8K answer column, an <answer> tag); anything else is the
// reference itself, trimmed.
std::string reference_answer(std::string_view reference);

// The canonical form both sides are compared in: Unicode minus, spaces and full-width digits folded; $,
// \( \), \[ \], \left \right, \, \! \; ~, \displaystyle, ^\circ, \text{…} \textbf{…} \mathrm{…} \mbox{…}
// \boxed{…} wrappers and Markdown ** removed; \dfrac \tfrac \cfrac → \frac with braced arguments
// (\frac12 → \frac{1}{2}, \sqrt2 → \sqrt{2}); whitespace collapsed; trailing . , ; : ! removed; enclosing
// braces, a leading "x =" and the parentheses of "(B)" removed.
std::string normalize_answer(std::string_view answer);

// The number an answer stands for, after normalize_answer: integers, decimals ("2.50", ".5"), thousands
// separators ("1,234,567", "1 234 567" in groups of three), a sign ("-", "+", U+2212), a/b, \frac{a}{b}
// (nested), mixed numbers ("2\frac{1}{2}"), 1e3 and 1.5\times10^{3}, with an optional trailing % (dropped:
// "50%" is 50) and up to three unit words ("5 cm", "18 dollars", "9.8 m/s^2"). nullopt for anything
// else (expressions, intervals, "1/0", overflow).
std::optional<double> parse_number(std::string_view answer);

// Whether two final answers agree. Numbers compare by value: two integers exactly (any length), otherwise
// within `rel_tol` relative to the larger magnitude; a value written with % also matches its hundredth
// ("50%" matches 50 and 0.5). When either side is not a number, the normalized strings must be equal
// without whitespace and, outside LaTeX command names, without case. Both sides are final answers: use
// reference_answer() on a full solution first (math_reward does).
bool answers_match(std::string_view answer, std::string_view reference,
                   double rel_tol = kDefaultAnswerRelTol);

// 1 when the completion's final answer (extract_answer) matches the reference (reference_answer), else 0.
// No answer, an empty reference or unparseable text all give 0; never throws.
double math_reward(std::string_view completion, std::string_view reference,
                   const std::vector<AnswerSource>& order = default_answer_order(),
                   double rel_tol = kDefaultAnswerRelTol);

}  // namespace grpo

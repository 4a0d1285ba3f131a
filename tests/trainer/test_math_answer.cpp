// The math reward's answer checking: a table of hand-written completions and references (extraction,
// order, numbers, fractions, separators, signs, percent, currency, LaTeX, text, Unicode), parse_number and
// normalize_answer tables, the extractor-order config, adversarial megabyte inputs and a fuzz run.
#include <QtTest>

#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

#include "trainer/math_answer.h"

using namespace grpo;

namespace {

// `source` "" leaves the extraction unchecked; "none" expects no answer at all.
void row(const char* name, const QByteArray& completion, const QByteArray& reference, double reward,
         const QByteArray& source = {}, const QByteArray& extracted = {}, const QByteArray& order = {}) {
  QTest::newRow(name) << completion << reference << reward << source << extracted << order;
}

std::vector<AnswerSource> order_from(const QByteArray& names) {
  if (names.isEmpty()) return default_answer_order();
  std::vector<std::string> list;
  for (const QByteArray& n : names.split(',')) list.push_back(n.trimmed().toStdString());
  return parse_answer_order(list);
}

// A row of GSM8K's `answer` column: the worked solution, then "#### " and the final answer.
constexpr char kGsm8kSolution[] =
    "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
    "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n"
    "#### 72";

std::string sv(const QByteArray& b) {
  return std::string(b.constData(), static_cast<size_t>(b.size()));
}

// Runs `f` and returns its wall time in milliseconds.
template <typename F>
qint64 time_ms(F&& f) {
  QElapsedTimer t;
  t.start();
  f();
  return t.elapsed();
}

// `piece` repeated until the text holds at least `total_bytes`.
std::string repeat(std::string_view piece, size_t total_bytes) {
  std::string s;
  s.reserve(total_bytes + piece.size());
  while (s.size() < total_bytes) s.append(piece);
  return s;
}

std::string times(std::string_view piece, size_t count) {
  std::string s;
  s.reserve(piece.size() * count);
  for (size_t i = 0; i < count; ++i) s.append(piece);
  return s;
}

// Where the answer is found: \boxed{…}, "####", "the answer is", <answer> tags, the last number, none.
void extraction_rows() {
  // \boxed{…}: nested braces, \fbox, the last box wins, malformed boxes.
  row("boxed plain", "So the result is \\boxed{42}.", "42", 1, "boxed", "42");
  row("boxed frac", "$\\boxed{\\frac{1}{2}}$", "0.5", 1, "boxed", "\\frac{1}{2}");
  row("boxed double braces", "\\boxed{{3}}", "3", 1, "boxed", "{3}");
  row("boxed nested sqrt", "\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt3}{2}", 1, "boxed",
      "\\frac{\\sqrt{3}}{2}");
  row("fbox", "hence \\fbox{7}", "7", 1, "boxed", "7");
  row("two boxes, last wins", "First \\boxed{3}, then I corrected it: \\boxed{4}", "4", 1, "boxed", "4");
  row("two boxes, first is not it", "First \\boxed{3}, then I corrected it: \\boxed{4}", "3", 0, "boxed",
      "4");
  row("unclosed last box", "\\boxed{5} and then \\boxed{6", "5", 1, "boxed", "5");
  row("only box unclosed", "Let me put 2+3 in \\boxed{5", "5", 1, "last_number", "5");
  row("box space brace", "\\boxed {12}", "12", 1, "boxed", "12");
  row("box without braces", "$\\boxed 5$", "5", 1, "boxed", "5");
  row("boxed text choice", "\\boxed{\\text{(B)}}", "B", 1, "boxed", "\\text{(B)}");
  row("boxed equation", "\\boxed{x = 5}", "5", 1, "boxed", "x = 5");
  row("boxed subscript variable", "\\boxed{x_1 = 3}", "3", 1, "boxed", "x_1 = 3");
  row("boxed dfrac", "\\boxed{\\dfrac{3}{4}}", "3/4", 1, "boxed", "\\dfrac{3}{4}");
  row("boxed tfrac no braces", "\\boxed{\\tfrac34}", "0.75", 1, "boxed", "\\tfrac34");
  row("boxed frac12", "\\boxed{\\frac12}", "\\frac{1}{2}", 1, "boxed", "\\frac12");
  row("boxed left right", "\\boxed{\\left( 1, 2 \\right)}", "(1,2)", 1, "boxed", "\\left( 1, 2 \\right)");
  row("boxed degrees", "\\boxed{10^\\circ}", "10", 1, "boxed", "10^\\circ");
  row("boxed degrees braced", "\\boxed{30^{\\circ}}", "30", 1);
  row("boxed theta degrees", "\\boxed{\\theta = 30^\\circ}", "30", 1);
  row("boxed escaped dollar", "\\boxed{\\$18}", "18", 1, "boxed", "\\$18");
  row("boxed latex thousands", "\\boxed{1{,}000}", "1000", 1);
  row("boxed set braces", "\\boxed{\\{1, 2\\}}", "\\{1,2\\}", 1, "boxed", "\\{1, 2\\}");
  row("boxed in think ignored", "<think>maybe \\boxed{5}</think><answer>6</answer>", "6", 1, "answer_tag",
      "6");
  row("think answer ignored", "<think>The answer is 5</think> The final answer is \\boxed{6}.", "5", 0,
      "boxed", "6");
  row("empty box skipped", "I'll write it as \\boxed{}. The answer is 9.", "9", 1, "answer_is", "9");
  row("box in box", "\\boxed{\\boxed{8}}", "8", 1, "boxed", "8");
  row("boxed mixed number", "\\boxed{2\\frac{1}{2}}", "2.5", 1);
  row("boxed mathrm word", "\\boxed{\\mathrm{Monday}}", "monday", 1);
  row("boxed textbf", "\\boxed{\\textbf{Yes}}", "yes", 1);
  row("boxed sqrt braces", "\\boxed{\\sqrt{2}}", "\\sqrt2", 1);
  row("boxed sqrt is not evaluated", "\\boxed{\\sqrt{2}}", "1.41421356", 0);
  row("boxed pi", "\\boxed{\\pi}", "\\pi", 1);
  row("boxed 2pi is not 2", "\\boxed{2\\pi}", "2", 0);
  row("boxed negative frac", "$\\boxed{-\\frac{1}{3}}$", "-1/3", 1);
  row("boxed frac negative numerator", "\\boxed{\\frac{-1}{2}}", "-0.5", 1);
  row("boxed neg dfrac", "\\boxed{-\\dfrac{1}{2}}", "-1/2", 1);
  row("boxed nested frac", "\\boxed{\\frac{\\frac{1}{2}}{2}}", "0.25", 1);
  row("boxed displaystyle", "\\boxed{\\displaystyle \\frac{1}{4}}", "0.25", 1);
  row("boxed spacing commands", "\\boxed{\\!5\\;}", "5", 1);
  row("boxed parenthesized", "\\boxed{(5)}", "5", 1);
  row("boxed markdown bold", "\\boxed{**12**}", "12", 1);

  // GSM8K's "#### x".
  row("hashes", "48/2 = 24\n24+48 = 72\n#### 72", "72", 1, "hashes", "72");
  row("hashes separators", "#### 1,234", "1234", 1, "hashes", "1,234");
  row("hashes dollar", "#### $18", "18", 1, "hashes", "$18");
  row("hashes trailing period", "#### 72.", "72", 1, "hashes", "72.");
  row("hashes no space", "####72", "72", 1, "hashes", "72");
  row("hashes negative", "#### -3", "-3", 1, "hashes", "-3");
  row("hashes headings skipped", "#### Step 1\nAdd them: 5\n#### Step 2\nthe total is 7", "7", 1,
      "last_number", "7");
  row("hashes empty", "#### \nSo 5", "5", 1, "last_number", "5");
  row("hashes last line wins", "#### 3\nno wait\n#### 4", "4", 1, "hashes", "4");
  row("gsm8k solution reference", "#### 72", kGsm8kSolution, 1, "hashes", "72");
  row("gsm8k solution reference wrong", "The answer is 24.", kGsm8kSolution, 0, "answer_is", "24");
  row("hashes reference", "\\boxed{72}", "#### 72", 1);

  // "The answer is x" and its variants.
  row("answer is", "The answer is 42.", "42", 1, "answer_is", "42");
  row("answer is colon", "The answer is: 42", "42", 1, "answer_is", "42");
  row("minerva final answer", "Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.",
      "0.5", 1, "answer_is", "$\\frac{1}{2}$");
  row("final answer colon", "Final Answer: 17", "17", 1, "answer_is", "17");
  row("markdown answer", "**Answer:** 3.5", "3.5", 1, "answer_is", "3.5");
  row("markdown bold value", "The answer is **42**.", "42", 1, "answer_is", "42");
  row("this answer is not one", "The answer is 5. Let me verify that this answer is correct.", "5", 1,
      "answer_is", "5");
  row("answer with unit", "The answer is 12 apples.", "12", 1, "answer_is", "12 apples");
  row("answer decimal at sentence end", "the answer is 3.14159.", "3.14159", 1, "answer_is", "3.14159");
  row("answer choice", "The answer is B.", "(B)", 1, "answer_is", "B");
  row("answer inline paren math", "The correct answer is \\(x = 2\\)", "2", 1, "answer_is", "\\(x = 2\\)");
  row("answer display math", "The answer is\n$$\n\\frac{3}{4}\n$$", "0.75", 1, "answer_is",
      "$$\n\\frac{3}{4}\n$$");
  row("answer currency not math", "The answer is $50. Then $20 goes to tax.", "50", 1, "answer_is", "$50");
  row("answer text", "I think the answer is Paris.", "paris", 1, "answer_is", "Paris");
  row("answer then because", "The answer is 5, because 2+3=5.", "5", 1, "answer_is", "5");
  row("text answer then since", "So the answer is Paris since it is the capital.", "paris", 1, "answer_is",
      "Paris");
  row("tuple answer then which", "The answer is (1, 2) which satisfies both.", "(1,2)", 1, "answer_is",
      "(1, 2)");
  row("answer before tag", "<answer>The answer is 7</answer>", "7", 1, "answer_is", "7");

  // <answer>…</answer>.
  row("answer tag", "<think>2+2</think><answer>4</answer>", "4", 1, "answer_tag", "4");
  row("answer tag spaces", "<think>x</think><answer> 4 </answer>", "4", 1, "answer_tag", "4");
  row("two answer tags", "<answer>3</answer> <answer>5</answer>", "5", 1, "answer_tag", "5");
  row("answer tag unclosed last", "<answer>5</answer><answer>", "5", 1, "answer_tag", "5");
  row("answer tag empty", "<answer></answer> 7", "7", 1, "last_number", "7");

  // The last number.
  row("last number", "2 + 3 = 5", "5", 1, "last_number", "5");
  row("last number separators", "The total is 1,234,567 dollars", "1234567", 1, "last_number", "1,234,567");
  row("last number negative", "so x = -5", "-5", 1, "last_number", "-5");
  row("last number unicode minus", "so x = \u22125", "-5", 1, "last_number", "\u22125");
  row("last number after minus operator", "10-3", "3", 1, "last_number", "3");
  row("last number not negative", "10-3", "-3", 0, "last_number", "3");
  row("last number fraction", "it is 3/4", "0.75", 1, "last_number", "3/4");
  row("last number percent", "about 50%", "50", 1, "last_number", "50%");
  row("last number latex frac", "we get \\frac{1}{2}", "0.5", 1, "last_number", "\\frac{1}{2}");
  row("last number trailing zero", "we get 2.50", "2.5", 1, "last_number", "2.50");
  row("last number scientific", "value 1e3", "1000", 1, "last_number", "1e3");
  row("last number sentence period", "So she has 18.", "18", 1, "last_number", "18");

  // No answer.
  row("no numbers", "No numbers here at all.", "5", 0, "none");
  row("empty completion", "", "5", 0, "none");
  row("whitespace completion", " \n\t ", "5", 0, "none");
  row("empty reference", "\\boxed{5}", "", 0, "boxed", "5");
  row("whitespace reference", "\\boxed{5}", "  ", 0);
}

// Numbers: prefixes, fractions, separators, signs, percent and currency, precision, units.
void number_rows() {
  // Prefixes are not answers.
  row("prefix of reference", "12", "123", 0, "last_number", "12");
  row("reference is prefix", "123", "12", 0, "last_number", "123");
  row("prefix in sentence", "The result is 12.", "123", 0);
  row("text prefix", "\\boxed{ab}", "abc", 0);
  row("text extension", "\\boxed{abcd}", "abc", 0);
  row("decimal prefix", "\\boxed{3.1}", "3.14", 0);

  // Fractions, all ways round.
  row("decimal vs frac", "\\boxed{0.5}", "\\frac{1}{2}", 1);
  row("slash vs frac12", "\\boxed{1/2}", "\\frac12", 1);
  row("unreduced frac", "\\boxed{\\frac{2}{4}}", "1/2", 1);
  row("frac vs decimal close", "\\boxed{1/3}", "0.3333333", 1);
  row("frac vs decimal far", "\\boxed{0.33}", "1/3", 0);
  row("division by zero", "\\boxed{1/0}", "0", 0);
  row("vulgar half", "\\boxed{\u00BD}", "0.5", 1);
  row("mixed vulgar", "\\boxed{1\u00BD}", "1.5", 1);

  // Thousands separators.
  row("commas", "\\boxed{1,234,567}", "1234567", 1);
  row("spaces", "\\boxed{1 234 567}", "1234567", 1);
  row("thin space command", "\\boxed{1\\,234}", "1234", 1);
  row("narrow nbsp", "\\boxed{1\u202F234}", "1234", 1);
  row("nbsp", "\\boxed{12\u00A0345}", "12345", 1);
  row("bad group of four", "\\boxed{1,2345}", "12345", 0);
  row("bad group of two", "\\boxed{12,34}", "1234", 0);
  row("reference with commas", "\\boxed{1234567}", "1,234,567", 1);
  row("commas and decimals", "\\boxed{1,234.50}", "1234.5", 1);

  // Signs.
  row("minus", "\\boxed{-5}", "\u22125", 1);
  row("unicode minus", "\\boxed{\u22125}", "-5", 1);
  row("full-width minus", "\\boxed{\uFF0D5}", "-5", 1);
  row("plus", "\\boxed{+5}", "5", 1);
  row("sign matters", "\\boxed{-5}", "5", 0);
  row("negative zero", "\\boxed{-0}", "0", 1);

  // Percent and currency.
  row("percent vs plain", "\\boxed{50\\%}", "50", 1);
  row("percent vs fraction", "\\boxed{50\\%}", "0.5", 1);
  row("plain vs percent ref", "\\boxed{0.5}", "50%", 1);
  row("plain vs percent ref same", "\\boxed{50}", "50%", 1);
  row("percent word", "\\boxed{50 percent}", "50", 1);
  row("percent wrong", "\\boxed{5\\%}", "50", 0);
  row("dollar", "\\boxed{\\$50}", "50", 1);
  row("dollars word", "\\boxed{50 dollars}", "$50", 1);
  row("euro", "\\boxed{\u20AC12}", "12", 1);
  row("dollar decimals", "#### $18.00", "18", 1);

  // Trailing zeros, precision, large integers, scientific notation.
  row("trailing zero", "\\boxed{2.50}", "2.5", 1);
  row("many trailing zeros", "\\boxed{2.500000}", "2.5", 1);
  row("leading zeros", "\\boxed{007}", "7", 1);
  row("scientific", "\\boxed{1e3}", "1000", 1);
  row("scientific negative exponent", "\\boxed{1E-3}", "0.001", 1);
  row("times ten", "\\boxed{1.5 \\times 10^{3}}", "1500", 1);
  row("cdot ten unicode", "\\boxed{3\u00B710^2}", "300", 1);
  row("integers exact", "\\boxed{1000001}", "1000000", 0);
  row("integers exact vs scientific", "\\boxed{1000001}", "1e6", 0);
  row("big integers differ", "\\boxed{123456789012345678901}", "123456789012345678902", 0);
  row("big integers equal", "\\boxed{123456789012345678901}", "123,456,789,012,345,678,901", 1);
  row("within tolerance", "\\boxed{0.10000001}", "0.1", 1);
  row("outside tolerance", "\\boxed{0.10001}", "0.1", 0);
  row("overflow is text", "\\boxed{1e999}", "1e999", 1);

  // Units after a number.
  row("unit cm", "\\boxed{5 cm}", "5", 1);
  row("unit text", "\\boxed{5\\text{ cm}}", "5", 1);
  row("unit compound", "\\boxed{9.8 \\mathrm{m/s^2}}", "9.8", 1);
  row("unit square feet", "\\boxed{12 \\text{square feet}}", "12", 1);
  row("unit on reference", "\\boxed{5}", "5 km", 1);
  row("variable is not a unit", "\\boxed{5x}", "5", 0);
  row("two numbers are not units", "\\boxed{5 or 6}", "5", 0);
  row("multiplier word", "\\boxed{3 million}", "3", 0);
}

// Text answers, Unicode, whitespace, a MATH solution as reference, the extractor order.
void text_rows() {
  // Text answers.
  row("text case", "\\boxed{\\text{Yes}}", "yes", 1);
  row("text whitespace", "\\boxed{ New  York }", "new york", 1);
  row("text differs", "\\boxed{Paris}", "London", 0);
  row("text equal", "\\boxed{abc}", "abc", 1);
  row("expression spacing", "\\boxed{x^2 + 2x + 1}", "x^2+2x+1", 1);
  row("no algebra", "\\boxed{(x+1)^2}", "x^2+2x+1", 0);
  row("command case kept", "\\boxed{\\Delta}", "\\delta", 0);
  row("letter case folded", "\\boxed{A}", "a", 1);
  row("interval", "\\boxed{[2, 5)}", "[2,5)", 1);
  row("interval left right", "\\boxed{\\left[ 2, 5 \\right)}", "[2,5)", 1);
  row("interval differs", "\\boxed{(2, 5)}", "[2,5)", 0);
  row("quoted text", "\\boxed{\"blue\"}", "blue", 1);

  // Unicode.
  row("infinity", "\\boxed{\\infty}", "\u221E", 1);
  row("full-width digits", "\\boxed{\uFF14\uFF12}", "42", 1);
  row("pi symbol", "\\boxed{\u03C0}", "\\pi", 1);
  row("degree sign", "\\boxed{30\u00B0}", "30", 1);
  row("sqrt symbol", "\\boxed{\u221A2}", "\\sqrt{2}", 1);
  row("non-ascii text", "\\boxed{\u00E9t\u00E9}", "\u00E9t\u00E9", 1);
  row("zero-width space", "\\boxed{4\u200B2}", "42", 1);

  // Whitespace.
  row("surrounding whitespace", "   \n\t\\boxed{  42  }\n\n", "42", 1, "boxed", "42");
  row("reference whitespace", "\\boxed{42}", "  42\n", 1);
  row("crlf hashes", "work\r\n#### 42\r\n", "42", 1, "hashes", "42");

  // A MATH solution as reference.
  row("math solution reference", "\\boxed{0.5}", "So the probability is $\\boxed{\\frac{1}{2}}$.", 1);

  // Extractor order.
  row("order tag first", "<answer>3</answer> \\boxed{4}", "3", 1, "answer_tag", "3", "answer_tag,boxed");
  row("default order box first", "<answer>3</answer> \\boxed{4}", "3", 0, "boxed", "4");
  row("order last number only", "\\boxed{4} and then 5", "5", 1, "last_number", "5", "last_number");
  row("order hashes only", "The answer is 5", "5", 0, "none", {}, "hashes");
  row("order boxed only", "<answer>5</answer>", "5", 0, "none", {}, "boxed");
  row("order answer_is before hashes", "The answer is 6\n#### 5", "6", 1, "answer_is", "6",
      "answer_is,hashes");
}

}  // namespace

class TestMathAnswer : public QObject {
  Q_OBJECT
 private slots:
  void reward_data() {
    QTest::addColumn<QByteArray>("completion");
    QTest::addColumn<QByteArray>("reference");
    QTest::addColumn<double>("reward");
    QTest::addColumn<QByteArray>("source");
    QTest::addColumn<QByteArray>("extracted");
    QTest::addColumn<QByteArray>("order");
    extraction_rows();
    number_rows();
    text_rows();
  }

  void reward() {
    QFETCH(QByteArray, completion);
    QFETCH(QByteArray, reference);
    QFETCH(double, reward);
    QFETCH(QByteArray, source);
    QFETCH(QByteArray, extracted);
    QFETCH(QByteArray, order);
    const std::vector<AnswerSource> o = order_from(order);
    if (!source.isEmpty()) {
      const auto got = extract_answer(sv(completion), o);
      if (source == "none") {
        QVERIFY2(!got, got ? got->text.c_str() : "");
      } else {
        QVERIFY2(got, "no answer extracted");
        QCOMPARE(QByteArray(answer_source_name(got->source).data()), source);
        QCOMPARE(QByteArray::fromStdString(got->text), extracted);
      }
    }
    QCOMPARE(math_reward(sv(completion), sv(reference), o), reward);
  }

  void parse_number_data() {
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<double>("value");  // NaN: not a number
    constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
    QTest::newRow("int") << QByteArray("42") << 42.0;
    QTest::newRow("negative") << QByteArray("-42") << -42.0;
    QTest::newRow("unicode minus") << QByteArray("\u22123.5") << -3.5;
    QTest::newRow("decimal point only") << QByteArray(".5") << 0.5;
    QTest::newRow("commas") << QByteArray("1,234,567.25") << 1234567.25;
    QTest::newRow("spaces") << QByteArray("1 234") << 1234.0;
    QTest::newRow("slash") << QByteArray("-3/4") << -0.75;
    QTest::newRow("frac") << QByteArray("\\frac{3}{8}") << 0.375;
    QTest::newRow("frac12") << QByteArray("\\frac12") << 0.5;
    QTest::newRow("dfrac") << QByteArray("\\dfrac{1}{4}") << 0.25;
    QTest::newRow("mixed") << QByteArray("3\\frac{1}{4}") << 3.25;
    QTest::newRow("negative mixed") << QByteArray("-3\\frac{1}{4}") << -3.25;
    QTest::newRow("percent kept as is") << QByteArray("50\\%") << 50.0;
    QTest::newRow("scientific") << QByteArray("2.5e-2") << 0.025;
    QTest::newRow("times ten") << QByteArray("2 \\times 10^{-2}") << 0.02;
    QTest::newRow("unit") << QByteArray("7 km/h") << 7.0;
    QTest::newRow("dollar") << QByteArray("$\\$7.25$") << 7.25;
    QTest::newRow("variable") << QByteArray("y = 3") << 3.0;
    QTest::newRow("empty") << QByteArray("") << kNone;
    QTest::newRow("text") << QByteArray("abc") << kNone;
    QTest::newRow("expression") << QByteArray("2+3") << kNone;
    QTest::newRow("product") << QByteArray("2 \\times 3") << kNone;
    QTest::newRow("zero denominator") << QByteArray("\\frac{1}{0}") << kNone;
    QTest::newRow("overflow") << QByteArray("1e400") << kNone;
    QTest::newRow("symbolic frac") << QByteArray("\\frac{\\pi}{2}") << kNone;
    QTest::newRow("two numbers") << QByteArray("1 2") << kNone;
    QTest::newRow("tuple") << QByteArray("(1, 2)") << kNone;
    QTest::newRow("deep frac")
        << QByteArray(
               "\\frac{\\frac{\\frac{\\frac{\\frac{\\frac{\\frac{\\frac{\\frac{1}{1}}{1}}{1}}"
               "{1}}{1}}{1}}{1}}{1}}{1}")
        << kNone;
  }

  void parse_number() {
    QFETCH(QByteArray, text);
    QFETCH(double, value);
    const auto got = grpo::parse_number(sv(text));
    if (std::isnan(value)) {
      QVERIFY2(!got, got ? std::to_string(*got).c_str() : "");
    } else {
      QVERIFY2(got, "not a number");
      QCOMPARE(*got, value);
    }
  }

  void normalize_data() {
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QByteArray>("normalized");
    QTest::newRow("dollars") << QByteArray("$\\frac{1}{2}$") << QByteArray("\\frac{1}{2}");
    QTest::newRow("dfrac args") << QByteArray("\\dfrac\\pi2") << QByteArray("\\frac{\\pi}{2}");
    QTest::newRow("sqrt arg") << QByteArray("2\\sqrt3") << QByteArray("2\\sqrt{3}");
    QTest::newRow("sqrt index") << QByteArray("\\sqrt[3]{x}") << QByteArray("\\sqrt[3]{x}");
    QTest::newRow("text wrapper") << QByteArray("\\text{5 cm}") << QByteArray("5 cm");
    QTest::newRow("left right") << QByteArray("\\left(a, b\\right)") << QByteArray("(a, b)");
    QTest::newRow("right dot") << QByteArray("\\left. x \\right|") << QByteArray("x |");
    QTest::newRow("spacing") << QByteArray("1\\,000\\!") << QByteArray("1 000");
    QTest::newRow("outer braces") << QByteArray("{{x}}") << QByteArray("x");
    QTest::newRow("trailing punctuation") << QByteArray("42. ") << QByteArray("42");
    QTest::newRow("variable") << QByteArray("k = 12") << QByteArray("12");
    QTest::newRow("two equals kept") << QByteArray("x = y = 2") << QByteArray("x = y = 2");
    QTest::newRow("choice") << QByteArray("(C)") << QByteArray("C");
    QTest::newRow("percent") << QByteArray("50\\%") << QByteArray("50%");
    QTest::newRow("degrees") << QByteArray("90^\\circ") << QByteArray("90");
    QTest::newRow("composition kept") << QByteArray("f \\circ g") << QByteArray("f \\circ g");
    QTest::newRow("boxed") << QByteArray("\\boxed{7}") << QByteArray("7");
    QTest::newRow("markdown") << QByteArray("**7**") << QByteArray("7");
    QTest::newRow("whitespace") << QByteArray(" a \n\t b ") << QByteArray("a b");
    QTest::newRow("unclosed brace") << QByteArray("\\text{abc") << QByteArray("{abc");
  }

  void normalize() {
    QFETCH(QByteArray, text);
    QFETCH(QByteArray, normalized);
    QCOMPARE(QByteArray::fromStdString(normalize_answer(sv(text))), normalized);
  }

  void answers_match_directly() {
    QVERIFY(answers_match("0.5", "\\frac{1}{2}"));
    QVERIFY(answers_match("\\frac{1}{2}", "0.5"));  // symmetric
    QVERIFY(!answers_match("", ""));                // nothing is never a match
    QVERIFY(!answers_match("5", ""));
    QVERIFY(answers_match("1.001", "1", 1e-2));  // a looser tolerance
    QVERIFY(!answers_match("1.001", "1"));
    QVERIFY(!answers_match("1.0000001", "1", 0.0));
    QVERIFY(answers_match("1.0000001", "1"));
    QVERIFY(!answers_match("#### 72", "72"));  // no extraction here: reference_answer() does that
  }

  void reference_forms() {
    QCOMPARE(reference_answer("  42 "), std::string("42"));
    QCOMPARE(reference_answer("\\frac{1}{2}"), std::string("\\frac{1}{2}"));
    QCOMPARE(reference_answer("steps <<2*3=6>>6\n#### 6"), std::string("6"));
    QCOMPARE(reference_answer("so $\\boxed{\\dfrac{1}{3}}$."), std::string("\\dfrac{1}{3}"));
    QCOMPARE(reference_answer("<answer>9</answer>"), std::string("9"));
    QCOMPARE(reference_answer("The answer is 5"), std::string("The answer is 5"));  // not a solution form
  }

  void answer_order_names() {
    QCOMPARE(default_answer_order().size(), size_t{5});
    std::vector<std::string> names;
    for (AnswerSource s : default_answer_order()) names.emplace_back(answer_source_name(s));
    QCOMPARE(names, (std::vector<std::string>{"boxed", "hashes", "answer_is", "answer_tag", "last_number"}));
    QCOMPARE(parse_answer_order(names), default_answer_order());
    QCOMPARE(parse_answer_order({"last_number", "boxed"}),
             (std::vector<AnswerSource>{AnswerSource::kLastNumber, AnswerSource::kBoxed}));
  }

  void answer_order_errors_data() {
    QTest::addColumn<QStringList>("names");
    QTest::addColumn<QString>("message");
    QTest::newRow("unknown") << QStringList{"boxed", "latex"} << "unknown answer extractor \"latex\"";
    QTest::newRow("case matters") << QStringList{"Boxed"} << "unknown answer extractor \"Boxed\"";
    QTest::newRow("empty name") << QStringList{""} << "unknown answer extractor \"\"";
    QTest::newRow("duplicate") << QStringList{"boxed", "hashes", "boxed"} << "\"boxed\" is listed twice";
    QTest::newRow("empty list") << QStringList{} << "order is empty";
  }

  void answer_order_errors() {
    QFETCH(QStringList, names);
    QFETCH(QString, message);
    std::vector<std::string> list;
    for (const QString& n : names) list.push_back(n.toStdString());
    try {
      parse_answer_order(list);
      QFAIL("no exception");
    } catch (const std::invalid_argument& e) {
      const QString what = QString::fromUtf8(e.what());
      QVERIFY2(what.contains(message), qPrintable(what));
      if (message.startsWith("unknown") || message.contains("empty"))  // the known names are listed
        QVERIFY2(what.contains("boxed, hashes, answer_is, answer_tag, last_number"), qPrintable(what));
    }
  }

  // Megabytes of adversarial text: every scan is linear, so each takes milliseconds. The bound is loose
  // (a loaded machine, sanitizers); quadratic behaviour would take minutes.
  void long_inputs_are_fast() {
    constexpr size_t kMB = 1 << 20;
    constexpr qint64 kBudgetMs = 3000;
    struct Case {
      const char* name;
      std::string completion;
      std::string reference;
      double reward;
    };
    const std::string deep_frac = "\\boxed{" + times("\\frac{", 40000) + "1" + times("}{2}", 40000) + "}";
    const std::vector<Case> cases = {
        {"prose without an answer", repeat("All work and no play makes Jack a dull boy. ", kMB), "5", 0},
        {"prose then an answer", repeat("Lorem ipsum dolor sit amet. ", kMB) + "\\boxed{5}", "5", 1},
        {"unclosed boxes", repeat("\\boxed{", kMB), "5", 0},
        {"one unclosed box, deep", "\\boxed{" + repeat("{", kMB), "5", 0},
        {"boxes without braces", repeat("\\boxed a", kMB), "a", 1},
        {"answer is $", repeat("The answer is $", kMB), "5", 0},
        {"answer is \\[", repeat("The answer is \\[", kMB), "5", 0},
        {"answer without is", repeat("answer ", kMB), "5", 0},
        {"empty answer is", repeat("the answer is\n", kMB), "5", 0},
        {"answer closes only", repeat("</answer>", kMB), "5", 0},
        {"answer opens only", repeat("<answer>", kMB), "5", 0},
        {"hash headings", repeat("#### Heading\n", kMB), "5", 0},
        {"hashes on one line", repeat("#### a ", kMB), "5", 0},
        {"digit groups", repeat("1,", kMB), "1", 1},
        {"frac commands", repeat("\\frac{1", kMB), "1", 1},
        {"one long number", std::string(kMB, '7'), "7", 0},
        {"long boxed expression", "\\boxed{" + repeat("x + ", kMB) + "1}", "x", 0},
        {"long boxed text equal", "\\boxed{" + times("aB ", 300000) + "}", times("Ab", 300000), 1},
        {"deep frac", deep_frac, "0.5", 0},
        {"parentheses", "\\boxed{" + repeat("(", kMB) + "5" + repeat(")", kMB) + "}", "5", 0},
        {"wrappers", "\\boxed{" + times("\\text{", 100000) + "5" + times("}", 100000) + "}", "5", 1},
        {"signs", repeat("-", kMB), "5", 0},
        {"backslashes", repeat("\\", kMB), "5", 0},
        {"sqrt indices never closed", "\\boxed{" + repeat("\\sqrt[", kMB) + "}", "5", 0},
        {"non-ascii text", "\\boxed{" + repeat("\u00E9\u00E8\u2212", kMB) + "}", "5", 0},
        {"frac without arguments", "\\boxed{" + repeat("\\frac", kMB) + "}", "5", 0},
    };
    for (const Case& c : cases) {
      double got = -1;
      const qint64 ms = time_ms([&] { got = math_reward(c.completion, c.reference); });
      QVERIFY2(ms < kBudgetMs, qPrintable(QString("%1: %2 ms").arg(c.name).arg(ms)));
      QVERIFY2(got == c.reward, qPrintable(QString("%1: reward %2").arg(c.name).arg(got)));
    }
  }

  // Random soup of the tokens the parsers care about: never throws, always 0 or 1, agrees with itself.
  void fuzz_never_throws() {
    const std::vector<std::string> pieces = {
        "\\boxed{", "\\fbox",   "{",         "}",       "\\{",      "\\}",
        "\\",       "####",     "#",         "\n",      " ",        "The answer is",
        "answer:",  "<answer>", "</answer>", "<think>", "</think>", "$",
        "$$",       "\\(",      "\\)",       "\\[",     "\\]",      "\\frac",
        "\\dfrac",  "\\sqrt",   "\\text{",   "\\left(", "\\right)", "^\\circ",
        "^{",       "1",        "23",        "456",     ",",        ".",
        "/",        "-",        "+",         "\u2212",  "%",        "\\%",
        "e",        "E",        "\\times",   "10^",     "x",        "=",
        "cm",       "(",        ")",         "\u00BD",  "\xFF",     "\xE2",
        "*",        "**",       "~",         "\\,",     "\\!",      "0"};
    std::mt19937 rng(20240517);
    std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1), len(0, 40);
    for (int n = 0; n < 20000; ++n) {
      std::string completion, reference;
      for (size_t k = len(rng); k > 0; --k) completion += pieces[pick(rng)];
      for (size_t k = len(rng) / 4; k > 0; --k) reference += pieces[pick(rng)];
      double r = -1;
      try {
        r = math_reward(completion, reference);
        (void)grpo::parse_number(completion);
        (void)normalize_answer(completion);
      } catch (...) {
        QFAIL(qPrintable(QString("threw on: ") + QString::fromStdString(completion)));
      }
      QVERIFY2(r == 0.0 || r == 1.0, completion.c_str());
      QCOMPARE(math_reward(completion, reference), r);
      // An answer always matches itself when it is not empty after normalization.
      if (const auto a = extract_answer(completion); a && !normalize_answer(a->text).empty())
        QVERIFY2(answers_match(a->text, a->text), a->text.c_str());
    }
  }
};

QTEST_APPLESS_MAIN(TestMathAnswer)
#include "test_math_answer.moc"

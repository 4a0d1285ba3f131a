// The word-problem generator: determinism, each solution line's arithmetic recomputed here, the chain of
// running values from the question's first number to the answer, the question's numbers against the
// solution's operands, bounds, unique ASCII questions, the three row shapes, option errors, and seed 0's
// first problem worked by hand.
#include <QtTest>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include "trainer/word_problems.h"

using namespace grpo;

namespace {

struct Step {
  int64_t a = 0, b = 0, c = 0;
  char op = 0;
};

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(text.substr(start, nl - start));
  lines.push_back(text.substr(start));
  return lines;
}

std::vector<int64_t> numbers_in(const std::string& text) {
  static const std::regex number("[0-9]+");
  std::vector<int64_t> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), number); it != std::sregex_iterator(); ++it)
    out.push_back(std::stoll(it->str()));
  return out;
}

// The line's one "a op b = c"; nullopt when it has none or more than one.
std::optional<Step> parse_step(const std::string& line) {
  static const std::regex computation("([0-9]+) ([-+*/]) ([0-9]+) = ([0-9]+)");
  auto it = std::sregex_iterator(line.begin(), line.end(), computation);
  if (it == std::sregex_iterator()) return std::nullopt;
  Step s;
  s.a = std::stoll((*it)[1].str());
  s.op = (*it)[2].str()[0];
  s.b = std::stoll((*it)[3].str());
  s.c = std::stoll((*it)[4].str());
  if (++it != std::sregex_iterator()) return std::nullopt;
  return s;
}

// What the line's result should be, computed here; nullopt for an inexact division.
std::optional<int64_t> evaluate(const Step& s) {
  switch (s.op) {
    case '+':
      return s.a + s.b;
    case '-':
      return s.a - s.b;
    case '*':
      return s.a * s.b;
    case '/':
      if (s.b == 0 || s.a % s.b != 0) return std::nullopt;
      return s.a / s.b;
    default:
      return std::nullopt;
  }
}

bool printable_ascii(const std::string& s, bool newlines) {
  return std::all_of(s.begin(), s.end(), [&](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return (u >= 0x20 && u <= 0x7e) || (newlines && ch == '\n');
  });
}

// Every property one problem must have; "" when it has them all, else what is wrong.
std::string check_problem(const WordProblem& p, const WordProblemOptions& opt) {
  const std::string where = " in: " + p.question + "\n" + p.solution;
  if (p.question.empty() || p.question.back() != '?') return "question does not end with '?'" + where;
  if (!printable_ascii(p.question, false) || !printable_ascii(p.solution, true) ||
      !printable_ascii(p.answer, false))
    return "not printable ASCII" + where;
  if (p.steps < opt.min_steps || p.steps > opt.max_steps) return "steps out of range" + where;
  const auto& kinds = word_problem_kinds();
  if (std::find(kinds.begin(), kinds.end(), p.kind) == kinds.end()) return "unknown kind " + p.kind + where;

  const std::vector<std::string> lines = split_lines(p.solution);
  if (static_cast<int64_t>(lines.size()) != p.steps + 1) return "not one line per step plus ####" + where;
  if (lines.back() != "#### " + p.answer) return "last line is not \"#### \" + answer" + where;
  if (p.solution.size() < p.answer.size() + 5 ||
      p.solution.compare(p.solution.size() - p.answer.size() - 5, std::string::npos, "#### " + p.answer) != 0)
    return "solution does not end with \"#### \" + answer" + where;

  std::vector<Step> steps;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    const auto s = parse_step(lines[i]);
    if (!s) return "line without exactly one computation: " + lines[i] + where;
    const auto value = evaluate(*s);
    if (!value) return "inexact division: " + lines[i] + where;
    if (*value != s->c) return "wrong arithmetic: " + lines[i] + where;
    for (int64_t x : {s->a, s->b, s->c})
      if (x < 0 || x > kWordProblemValueLimit) return "value out of [0, limit]: " + lines[i] + where;
    steps.push_back(*s);
  }
  if (std::to_string(steps.back().c) != p.answer) return "answer is not the last step's result" + where;

  // The chain: the question's first number is the start; each line either carries the running value on
  // (a == running) or is a "k * m" product that the next line adds or subtracts. The question's numbers
  // are then exactly the start and the operands the solution took from it.
  const std::vector<int64_t> question_numbers = numbers_in(p.question);
  if (question_numbers.empty()) return "question without numbers" + where;
  for (int64_t x : question_numbers)
    if (x > opt.max_value) return "question number above max_value" + where;
  int64_t running = question_numbers.front();
  std::vector<int64_t> operands = {running};
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    const bool product = s.op == '*' && i + 1 < steps.size() && steps[i + 1].a == running &&
                         steps[i + 1].b == s.c && (steps[i + 1].op == '+' || steps[i + 1].op == '-');
    if (product) {
      operands.push_back(s.a);
      operands.push_back(s.b);
      ++i;  // the line that adds or subtracts the product
      running = steps[i].c;
      continue;
    }
    if (s.a != running) return "line does not continue from the running value: " + lines[i] + where;
    operands.push_back(s.b);
    running = s.c;
  }
  if (std::to_string(running) != p.answer) return "the chain does not end at the answer" + where;
  std::multiset<int64_t> asked(question_numbers.begin(), question_numbers.end());
  std::multiset<int64_t> used(operands.begin(), operands.end());
  if (asked != used) return "the question's numbers are not the solution's operands" + where;
  return "";
}

bool same(const std::vector<WordProblem>& x, const std::vector<WordProblem>& y) {
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (x[i].question != y[i].question || x[i].solution != y[i].solution || x[i].answer != y[i].answer ||
        x[i].steps != y[i].steps || x[i].kind != y[i].kind)
      return false;
  return true;
}

std::set<std::string> keys(const nlohmann::json& j) {
  std::set<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) out.insert(it.key());
  return out;
}

// The message of the std::invalid_argument that `opt` makes make_word_problems throw, "" if none.
std::string invalid_message(const WordProblemOptions& opt) {
  try {
    make_word_problems(opt);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

class TestWordProblems : public QObject {
  Q_OBJECT
 private slots:
  void deterministic_for_a_seed() {
    WordProblemOptions opt;
    opt.count = 300;
    const auto a = make_word_problems(opt);
    const auto b = make_word_problems(opt);
    QCOMPARE(a.size(), size_t(300));
    QVERIFY(same(a, b));
    // a shorter run is a prefix of a longer one
    opt.count = 10;
    const auto prefix = make_word_problems(opt);
    QVERIFY(same(prefix, std::vector<WordProblem>(a.begin(), a.begin() + 10)));
    opt.count = 300;
    opt.seed = 1;
    const auto c = make_word_problems(opt);
    QVERIFY(!same(a, c));
    int equal = 0;
    for (size_t i = 0; i < a.size(); ++i) equal += a[i].question == c[i].question;
    QVERIFY(equal < 5);
  }

  void every_problem_checks_out() {
    // defaults, and options at their edges
    std::vector<WordProblemOptions> options(5);
    options[1].seed = 7;
    options[1].min_steps = options[1].max_steps = 1;
    options[2].seed = 8;
    options[2].min_steps = 1, options[2].max_steps = 8, options[2].max_value = 5;
    options[3].seed = 9;
    options[3].min_steps = options[3].max_steps = 8, options[3].max_value = kWordProblemValueLimit;
    options[4].seed = 10;
    options[4].count = 3000, options[4].min_steps = 3, options[4].max_steps = 6, options[4].max_value = 20;
    for (const auto& opt : options) {
      const auto problems = make_word_problems(opt);
      QCOMPARE(static_cast<int64_t>(problems.size()), opt.count);
      std::unordered_set<std::string> questions;
      std::set<int64_t> step_counts;
      for (const auto& p : problems) {
        const std::string wrong = check_problem(p, opt);
        QVERIFY2(wrong.empty(), wrong.c_str());
        QVERIFY2(questions.insert(p.question).second, ("duplicate question: " + p.question).c_str());
        step_counts.insert(p.steps);
      }
      // both ends of the steps range are drawn
      QCOMPARE(*step_counts.begin(), opt.min_steps);
      QCOMPARE(*step_counts.rbegin(), opt.max_steps);
    }
  }

  void every_family_and_operation_appears() {
    const auto problems = make_word_problems(WordProblemOptions{});
    std::set<std::string> kinds;
    std::set<char> ops;
    for (const auto& p : problems) {
      kinds.insert(p.kind);
      for (const auto& line : split_lines(p.solution))
        if (auto s = parse_step(line)) ops.insert(s->op);
    }
    const auto& all = word_problem_kinds();
    QVERIFY(all.size() >= 5);
    QCOMPARE(kinds, std::set<std::string>(all.begin(), all.end()));
    QCOMPARE(ops, (std::set<char>{'+', '-', '*', '/'}));
  }

  void seed_zero_first_problem_by_hand() {
    // Worked by hand: 8 pencils, 5 given away leaves 3; 2 packs of 78 are 156 more; 3 + 156 = 159.
    WordProblemOptions opt;
    opt.count = 1;
    const auto problems = make_word_problems(opt);
    QCOMPARE(problems.size(), size_t(1));
    const WordProblem& p = problems[0];
    QCOMPARE(p.question,
             std::string("Diego has 8 pencils. He gives away 5 pencils. Then he buys 2 packs of 78 "
                         "pencils. How many pencils does Diego have now?"));
    QCOMPARE(p.answer, std::string("159"));
    QCOMPARE(p.steps, int64_t(3));
    QCOMPARE(p.kind, std::string("shopping"));
    QCOMPARE(p.solution, std::string("After giving away 5 Diego has 8 - 5 = 3 pencils.\n"
                                     "He buys 2 * 78 = 156 pencils.\n"
                                     "He has 3 + 156 = 159 pencils.\n"
                                     "#### 159"));
  }

  void row_shapes() {
    WordProblemOptions opt;
    opt.count = 1;
    const WordProblem p = make_word_problems(opt)[0];
    const std::string prompt = p.question + kWordProblemInstruction;
    QCOMPARE(std::string(kWordProblemInstruction),
             std::string(" Think step by step inside <think> </think>, then give the final number inside "
                         "<answer> </answer>."));

    const auto trl = word_problem_row(p, "trl");
    QCOMPARE(keys(trl),
             (std::set<std::string>{"prompt", "answer", "solution", "data_source", "kind", "steps"}));
    QCOMPARE(trl["prompt"].get<std::string>(), prompt);
    QCOMPARE(trl["answer"].get<std::string>(), p.answer);
    QCOMPARE(trl["solution"].get<std::string>(), p.solution);
    QCOMPARE(trl["data_source"].get<std::string>(), std::string("grpo-studio/word-problems"));
    QCOMPARE(trl["kind"].get<std::string>(), p.kind);
    QCOMPARE(trl["steps"].get<int64_t>(), p.steps);

    const auto messages = word_problem_row(p, "messages");
    QCOMPARE(keys(messages), keys(trl));
    const nlohmann::json user = nlohmann::json::array({{{"role", "user"}, {"content", prompt}}});
    QCOMPARE(messages["prompt"], user);
    QCOMPARE(keys(messages["prompt"][0]), (std::set<std::string>{"role", "content"}));
    for (const char* column : {"answer", "solution", "data_source", "kind", "steps"})
      QCOMPARE(messages[column], trl[column]);

    const auto verl = word_problem_row(p, "verl");
    QCOMPARE(keys(verl),
             (std::set<std::string>{"data_source", "prompt", "ability", "reward_model", "extra_info"}));
    QCOMPARE(verl["data_source"].get<std::string>(), std::string("grpo-studio/word-problems"));
    QCOMPARE(verl["prompt"], user);
    QCOMPARE(verl["ability"].get<std::string>(), std::string("math"));
    QCOMPARE(verl["reward_model"], (nlohmann::json{{"style", "rule"}, {"ground_truth", p.answer}}));
    QCOMPARE(verl["extra_info"],
             (nlohmann::json{{"solution", p.solution}, {"kind", p.kind}, {"steps", p.steps}}));

    // one JSONL line each: no raw newline in the dump
    for (const auto& row : {trl, messages, verl}) QVERIFY(row.dump().find('\n') == std::string::npos);

    try {
      word_problem_row(p, "chatml");
      QFAIL("an unknown prompt style did not throw");
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      QVERIFY2(what.find("chatml") != std::string::npos, e.what());
      for (const char* style : {"trl", "messages", "verl"})
        QVERIFY2(what.find(style) != std::string::npos, e.what());
    }
  }

  void bad_options_name_the_field() {
    struct Case {
      WordProblemOptions opt;
      const char* field;
    };
    std::vector<Case> cases;
    WordProblemOptions o;
    o.count = 0;
    cases.push_back({o, "count"});
    o = {};
    o.count = -3;
    cases.push_back({o, "count"});
    o = {};
    o.min_steps = 0, o.max_steps = 2;
    cases.push_back({o, "min_steps"});
    o = {};
    o.min_steps = 2, o.max_steps = 9;
    cases.push_back({o, "max_steps"});
    o = {};
    o.min_steps = 3, o.max_steps = 2;
    cases.push_back({o, "max_steps must be at least min_steps"});
    o = {};
    o.max_value = 4;
    cases.push_back({o, "max_value"});
    o = {};
    o.max_value = kWordProblemValueLimit + 1;
    cases.push_back({o, "max_value"});
    for (const auto& c : cases) {
      const std::string what = invalid_message(c.opt);
      QVERIFY2(what.find(c.field) != std::string::npos,
               ("expected '" + std::string(c.field) + "' in: " + what).c_str());
    }
    // the edges themselves are fine
    o = {};
    o.count = 1, o.min_steps = 1, o.max_steps = 8, o.max_value = 5;
    QCOMPARE(make_word_problems(o).size(), size_t(1));
  }

  void too_many_for_the_options() {
    // one step and numbers up to 5 give about 110 thousand distinct questions
    WordProblemOptions opt;
    opt.count = 200000;
    opt.min_steps = opt.max_steps = 1;
    opt.max_value = 5;
    try {
      make_word_problems(opt);
      QFAIL("an impossible count did not throw");
    } catch (const std::runtime_error& e) {
      QVERIFY2(std::string(e.what()).find("count 200000 is too large") != std::string::npos, e.what());
    }
  }
};

QTEST_APPLESS_MAIN(TestWordProblems)
#include "test_word_problems.moc"

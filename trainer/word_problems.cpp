// The word-problem generator (see word_problems.h): six template families, each a start sentence, a
// question and phrasings of six step kinds (add, subtract, multiply, exact divide, and "k groups of m"
// added or subtracted, which take two computation lines). Each step is drawn among the kinds whose
// operands fit the options and keep the running value in [2, kWordProblemValueLimit], so every plural
// stays plural and every division is exact.
#include "trainer/word_problems.h"

#include <algorithm>
#include <array>
#include <random>
#include <stdexcept>
#include <string_view>
#include <unordered_set>

namespace grpo {

namespace {

// The smallest value a problem holds or writes ("2 apples", never "1 apples" or "0 apples").
constexpr int64_t kMinValue = 2;
// Operand bounds beyond max_value: "k times as many" and "k groups" stay small, as in GSM8K.
constexpr int64_t kMaxFactor = 5;
constexpr int64_t kMaxGroups = 10;
constexpr int64_t kMaxDivisor = 12;
// Duplicate questions drawn in a row before giving up on `count` distinct ones.
constexpr int kMaxDuplicateDraws = 1000;

enum Op { kAdd, kSub, kMul, kDiv, kGroupAdd, kGroupSub, kOpCount };

// A step's sentence in the question and its computation line(s) in the solution. Placeholders: {N} the
// name; {P} {p} subject pronoun (capitalized or not), {O} object, {S} {s} possessive, {r} reflexive; {W}
// {w} in a solution: the name the first time, the pronoun after; {T} the thing; {v} the running value,
// {b} the operand, {k} {m} {km} the groups, their size and product, {c} the result.
struct Phrase {
  const char* question;
  const char* solution;
};

struct Family {
  const char* kind;
  std::vector<const char*> things;
  std::vector<const char*> starts;
  const char* ask;
  std::array<std::vector<Phrase>, kOpCount> ops;
};

// The families, one function each: things, start sentences, the question, and per operation its phrasings.
Family shopping() {
  return {
      "shopping",
      {"apples", "pencils", "stickers", "marbles", "oranges", "stamps", "crayons", "notebooks"},
      {"{N} has {v} {T}.", "{N} starts the day with {v} {T}."},
      "How many {T} does {N} have now?",
      {{
          {{"{P} buys {b} more {T}.", "{W} has {v} + {b} = {c} {T}."},
           {"{S} friend gives {O} {b} {T}.", "With the gift {w} has {v} + {b} = {c} {T}."},
           {"{P} finds {b} {T} in a drawer.", "{W} has {v} + {b} = {c} {T}."}},
          {{"{P} gives away {b} {T}.", "After giving away {b} {w} has {v} - {b} = {c} {T}."},
           {"{P} loses {b} {T} on the way home.", "{W} has {v} - {b} = {c} {T} left."}},
          {{"A trade at the market leaves {O} with {k} times as many {T} as before.",
            "{W} now has {v} * {k} = {c} {T}."},
           {"{S} aunt gives {O} enough {T} to have {k} times as many.", "{W} now has {v} * {k} = {c} {T}."}},
          {{"{P} shares the {T} equally among {k} people, including {r}, and keeps {s} share.",
            "Each share is {v} / {k} = {c} {T}."},
           {"{P} sorts the {T} into {k} equal piles and keeps one pile.",
            "One pile has {v} / {k} = {c} {T}."}},
          {{"{P} buys {k} bags with {m} {T} in each bag.",
            "{W} buys {k} * {m} = {km} {T}.\n{W} has {v} + {km} = {c} {T}."},
           {"{P} buys {k} packs of {m} {T}.",
            "{W} buys {k} * {m} = {km} {T}.\n{W} has {v} + {km} = {c} {T}."}},
          {{"{P} gives {k} friends {m} {T} each.",
            "{W} gives away {k} * {m} = {km} {T}.\n{W} has {v} - {km} = {c} {T} left."}},
      }}};
}

Family travel() {
  return {
      "travel",
      {"car", "van", "truck", "camper", "motorbike"},
      {"{N} has {v} miles left to drive in {s} {T}.", "{N} plans a trip of {v} miles in {s} {T}."},
      "How many miles does {N} still have to drive?",
      {{
          {{"A detour adds {b} miles to the trip.", "{W} has {v} + {b} = {c} miles to go."},
           {"{P} decides to visit a lake, which adds {b} miles.", "{W} has {v} + {b} = {c} miles to go."}},
          {{"{P} drives {b} miles before lunch.", "{W} has {v} - {b} = {c} miles to go."},
           {"{P} drives {b} miles and stops for fuel.", "{W} has {v} - {b} = {c} miles to go."}},
          {{"{P} decides to visit more towns, making the rest of the trip {k} times as long.",
            "{W} now has {v} * {k} = {c} miles to go."}},
          {{"{P} and {s} friends, {k} drivers in all, split the remaining miles equally.",
            "Each driver takes {v} / {k} = {c} miles."}},
          {{"Road works force {O} to take {k} detours of {m} miles each.",
            "The detours add {k} * {m} = {km} miles.\n{W} has {v} + {km} = {c} miles to go."}},
          {{"{P} drives for {k} hours at {m} miles per hour.",
            "{W} drives {k} * {m} = {km} miles.\n{W} has {v} - {km} = {c} miles to go."}},
      }}};
}

Family baking() {
  return {"baking",
          {"cookies", "muffins", "cupcakes", "rolls", "brownies", "scones", "pretzels", "tarts"},
          {"{N} bakes {v} {T}.", "{N} has {v} {T} cooling on the counter."},
          "How many {T} does {N} have now?",
          {{
              {{"{P} bakes {b} more {T}.", "{W} has {v} + {b} = {c} {T}."},
               {"A neighbor brings over {b} {T}.", "{W} has {v} + {b} = {c} {T}."}},
              {{"{S} family eats {b} of the {T}.", "After the family eats {b}, {w} has {v} - {b} = {c} {T}."},
               {"{P} sells {b} {T} at the bake sale.", "{W} has {v} - {b} = {c} {T} left."}},
              {{"{P} scales up the recipe and ends up with {k} times as many {T}.",
                "{W} now has {v} * {k} = {c} {T}."}},
              {{"{P} packs the {T} equally into {k} boxes and keeps one box.",
                "One box holds {v} / {k} = {c} {T}."},
               {"{P} splits the {T} equally among {k} classmates, {r} included, and keeps {s} share.",
                "Each share is {v} / {k} = {c} {T}."}},
              {{"{P} bakes {k} more trays with {m} {T} on each tray.",
                "{W} bakes {k} * {m} = {km} more {T}.\n{W} has {v} + {km} = {c} {T}."}},
              {{"{P} fills {k} boxes with {m} {T} each and gives the boxes away.",
                "{W} gives away {k} * {m} = {km} {T}.\n{W} has {v} - {km} = {c} {T} left."}},
          }}};
}

Family savings() {
  return {
      "savings",
      {"piggy bank", "savings jar", "bank account", "coin box"},
      {"{N} has ${v} in {s} {T}.", "{N} keeps ${v} in {s} {T}."},
      "How many dollars does {N} have now?",
      {{
          {{"{P} earns ${b} mowing lawns and puts it in the {T}.", "{W} has {v} + {b} = {c} dollars."},
           {"{S} grandmother sends {O} ${b}.", "{W} has {v} + {b} = {c} dollars."}},
          {{"{P} spends ${b} on a book.", "{W} has {v} - {b} = {c} dollars left."},
           {"{P} takes ${b} out of the {T} for a concert ticket.", "{W} has {v} - {b} = {c} dollars left."}},
          {{"{S} parents match the savings so that {p} ends up with {k} times as much.",
            "{W} now has {v} * {k} = {c} dollars."}},
          {{"{P} and {s} siblings, {k} children in all, share the money equally.",
            "Each child gets {v} / {k} = {c} dollars."}},
          {{"{P} saves ${m} a week for {k} weeks.",
            "{W} saves {k} * {m} = {km} dollars.\n{W} has {v} + {km} = {c} dollars."}},
          {{"{P} buys {k} games that cost ${m} each.",
            "{W} spends {k} * {m} = {km} dollars.\n{W} has {v} - {km} = {c} dollars left."}},
      }}};
}

Family garden() {
  return {"garden",
          {"tomato plants", "rose bushes", "sunflowers", "tulips", "pepper plants", "strawberry plants",
           "daisies"},
          {"{N} has {v} {T} in {s} garden.", "{N} grows {v} {T} in {s} garden."},
          "How many {T} are in {N}'s garden now?",
          {{
              {{"{P} plants {b} more {T}.", "{W} has {v} + {b} = {c} {T}."},
               {"A neighbor gives {O} {b} {T} to plant.", "{W} has {v} + {b} = {c} {T}."}},
              {{"Rabbits eat {b} of the {T}.", "After the rabbits, {w} has {v} - {b} = {c} {T}."},
               {"{P} digs up {b} {T} and gives them away.", "{W} has {v} - {b} = {c} {T} left."}},
              {{"By the end of summer the garden has {k} times as many {T} as before.",
                "{W} now has {v} * {k} = {c} {T}."}},
              {{"{P} moves the {T} into {k} equal beds and gives every bed but one to friends.",
                "Each bed has {v} / {k} = {c} {T}, and {w} keeps one bed."}},
              {{"{P} plants {k} new rows with {m} {T} in each row.",
                "{W} plants {k} * {m} = {km} {T}.\n{W} has {v} + {km} = {c} {T}."}},
              {{"{P} gives {k} neighbors {m} {T} each.",
                "{W} gives away {k} * {m} = {km} {T}.\n{W} has {v} - {km} = {c} {T} left."}},
          }}};
}

Family farm() {
  return {"farm",
          {"sheep", "goats", "chickens", "ducks", "cows", "rabbits"},
          {"{N} has {v} {T} on {s} farm.", "{N} keeps {v} {T} on {s} farm."},
          "How many {T} does {N} have now?",
          {{
              {{"{P} buys {b} more {T} at the market.", "{W} has {v} + {b} = {c} {T}."},
               {"{b} baby {T} are born in the spring.", "{W} has {v} + {b} = {c} {T}."}},
              {{"{P} sells {b} {T} to a neighbor.", "{W} has {v} - {b} = {c} {T} left."},
               {"{b} {T} wander off and are never found.", "{W} has {v} - {b} = {c} {T} left."}},
              {{"Over the years the herd grows to {k} times its size.", "{W} now has {v} * {k} = {c} {T}."}},
              {{"{P} divides the {T} into {k} equal groups and keeps one group, selling the rest.",
                "One group has {v} / {k} = {c} {T}."}},
              {{"{P} buys {k} groups of {m} {T}.",
                "{W} gets {k} * {m} = {km} {T}.\n{W} has {v} + {km} = {c} {T}."},
               {"{k} neighbors each give {O} {m} {T}.",
                "{W} gets {k} * {m} = {km} {T}.\n{W} has {v} + {km} = {c} {T}."}},
              {{"{P} sells {k} groups of {m} {T}.",
                "{W} sells {k} * {m} = {km} {T}.\n{W} has {v} - {km} = {c} {T} left."}},
          }}};
}

const std::vector<Family>& families() {
  static const std::vector<Family> kFamilies = {shopping(), travel(), baking(), savings(), garden(), farm()};
  return kFamilies;
}

struct Person {
  const char* name;
  bool she;
};

constexpr Person kPeople[] = {
    {"Mia", true},   {"Leo", false},   {"Ava", true},   {"Noah", false},  {"Sofia", true}, {"Ethan", false},
    {"Zoe", true},   {"Omar", false},  {"Lily", true},  {"Ravi", false},  {"Grace", true}, {"Diego", false},
    {"Hana", true},  {"Jamal", false}, {"Nora", true},  {"Felix", false}, {"Priya", true}, {"Mateo", false},
    {"Chloe", true}, {"Kenji", false}, {"Amara", true}, {"Lucas", false}, {"Elena", true}, {"Samir", false},
};

// rng() % range: fully specified by the standard, unlike std::uniform_int_distribution (the bias is below
// 2^-50 for these ranges).
int64_t uniform(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

template <typename T>
const T& pick(std::mt19937_64& rng, const std::vector<T>& items) {
  return items[static_cast<size_t>(uniform(rng, 0, static_cast<int64_t>(items.size()) - 1))];
}

struct Vars {
  const Person* person = nullptr;
  const char* thing = "";
  int64_t v = 0, b = 0, k = 0, m = 0, km = 0, c = 0;
};

std::string capitalized(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// One placeholder's text; `named` tracks {W}/{w} across a solution.
std::string placeholder(std::string_view key, const Vars& x, bool& named, const char* tmpl) {
  const bool she = x.person->she;
  if (key == "N") return x.person->name;
  if (key == "p") return she ? "she" : "he";
  if (key == "P") return she ? "She" : "He";
  if (key == "O") return she ? "her" : "him";
  if (key == "s") return she ? "her" : "his";
  if (key == "S") return she ? "Her" : "His";
  if (key == "r") return she ? "herself" : "himself";
  if (key == "W" || key == "w") {
    const bool first = !named;
    named = true;
    if (first) return x.person->name;
    return key == "W" ? (she ? "She" : "He") : (she ? "she" : "he");
  }
  if (key == "T") return x.thing;
  if (key == "v") return std::to_string(x.v);
  if (key == "b") return std::to_string(x.b);
  if (key == "k") return std::to_string(x.k);
  if (key == "m") return std::to_string(x.m);
  if (key == "km") return std::to_string(x.km);
  if (key == "c") return std::to_string(x.c);
  throw std::logic_error("word problem template with an unknown placeholder {" + std::string(key) +
                         "}: " + tmpl);
}

// The template with its placeholders replaced.
std::string fill(const char* tmpl, const Vars& x, bool& named) {
  std::string out;
  for (const char* p = tmpl; *p;) {
    if (*p != '{') {
      out += *p++;
      continue;
    }
    const char* end = p + 1;
    while (*end && *end != '}') ++end;
    if (!*end) throw std::logic_error(std::string("word problem template without '}': ") + tmpl);
    out += placeholder(std::string_view(p + 1, static_cast<size_t>(end - p - 1)), x, named, tmpl);
    p = end + 1;
  }
  return out;
}

int64_t op_lines(int op) {
  return op == kGroupAdd || op == kGroupSub ? 2 : 1;
}

// Draws the operands of `op` for the running value x.v into x (x.c the result); false when `op` cannot
// keep every value in [kMinValue, kWordProblemValueLimit] with operands up to max_value.
bool draw_operands(int op, int64_t max_value, std::mt19937_64& rng, Vars& x, bool dry_run) {
  const int64_t v = x.v, limit = kWordProblemValueLimit;
  switch (op) {
    case kAdd: {
      const int64_t hi = std::min(max_value, limit - v);
      if (hi < kMinValue) return false;
      if (dry_run) return true;
      x.b = uniform(rng, kMinValue, hi);
      x.c = v + x.b;
      return true;
    }
    case kSub: {
      const int64_t hi = std::min(max_value, v - kMinValue);
      if (hi < kMinValue) return false;
      if (dry_run) return true;
      x.b = uniform(rng, kMinValue, hi);
      x.c = v - x.b;
      return true;
    }
    case kMul: {
      const int64_t hi = std::min({kMaxFactor, max_value, limit / v});
      if (hi < 2) return false;
      if (dry_run) return true;
      x.k = uniform(rng, 2, hi);
      x.c = v * x.k;
      return true;
    }
    case kDiv: {
      std::vector<int64_t> divisors;
      for (int64_t k = 2; k <= std::min(kMaxDivisor, max_value); ++k)
        if (v % k == 0 && v / k >= kMinValue) divisors.push_back(k);
      if (divisors.empty()) return false;
      if (dry_run) return true;
      x.k = pick(rng, divisors);
      x.c = v / x.k;
      return true;
    }
    case kGroupAdd: {
      const int64_t k_hi = std::min({kMaxGroups, max_value, (limit - v) / kMinValue});
      if (k_hi < 2) return false;
      if (dry_run) return true;
      x.k = uniform(rng, 2, k_hi);
      x.m = uniform(rng, kMinValue, std::min(max_value, (limit - v) / x.k));
      x.km = x.k * x.m;
      x.c = v + x.km;
      return true;
    }
    case kGroupSub: {
      const int64_t k_hi = std::min({kMaxGroups, max_value, (v - kMinValue) / kMinValue});
      if (k_hi < 2) return false;
      if (dry_run) return true;
      x.k = uniform(rng, 2, k_hi);
      x.m = uniform(rng, kMinValue, std::min(max_value, (v - kMinValue) / x.k));
      x.km = x.k * x.m;
      x.c = v - x.km;
      return true;
    }
    default:
      return false;
  }
}

const std::vector<std::string> kConnectors = {"", "", "Then ", "Later, ", "Next, ", "After that, "};

WordProblem draw_problem(const WordProblemOptions& opt, std::mt19937_64& rng) {
  const Family& family = pick(rng, families());
  Vars x;
  x.person = &kPeople[uniform(rng, 0, static_cast<int64_t>(std::size(kPeople)) - 1)];
  x.thing = pick(rng, family.things);
  x.v = uniform(rng, kMinValue, opt.max_value);
  const int64_t steps = uniform(rng, opt.min_steps, opt.max_steps);

  bool unused = false, named = false;
  std::string question = fill(pick(rng, family.starts), x, unused);
  std::string solution;
  for (int64_t left = steps, i = 0; left > 0; ++i) {
    std::vector<int> ops;
    for (int op = 0; op < kOpCount; ++op)
      if (op_lines(op) <= left && !family.ops[op].empty() && draw_operands(op, opt.max_value, rng, x, true))
        ops.push_back(op);
    // A running value in [2, limit] always allows an add (v <= limit - 2), a subtraction (v >= 4) or a
    // multiplication (v <= limit / 2): never empty.
    if (ops.empty()) throw std::logic_error("word problem: no step fits the value " + std::to_string(x.v));
    const int op = pick(rng, ops);
    const Phrase& phrase = pick(rng, family.ops[op]);
    draw_operands(op, opt.max_value, rng, x, false);

    std::string sentence = fill(phrase.question, x, unused);
    if (i > 0) {
      const std::string& connector = pick(rng, kConnectors);
      // "Then by the end of summer ..." reads badly: a sentence that opens with its own time takes none.
      const std::string_view tmpl(phrase.question);
      const bool timed = tmpl.rfind("By ", 0) == 0 || tmpl.rfind("Over ", 0) == 0;
      if (!connector.empty() && !timed) {
        if (sentence[0] >= 'A' && sentence[0] <= 'Z')
          sentence[0] = static_cast<char>(sentence[0] - 'A' + 'a');
        sentence = connector + sentence;
      }
    }
    question += " " + capitalized(sentence);
    solution += fill(phrase.solution, x, named) + "\n";
    left -= op_lines(op);
    x.v = x.c;
    x.b = x.k = x.m = x.km = 0;
  }
  question += " " + fill(family.ask, x, unused);

  WordProblem p;
  p.question = std::move(question);
  p.answer = std::to_string(x.v);
  p.solution = solution + "#### " + p.answer;
  p.steps = steps;
  p.kind = family.kind;
  return p;
}

void validate(const WordProblemOptions& opt) {
  if (opt.count < 1)
    throw std::invalid_argument("count must be at least 1 (got " + std::to_string(opt.count) + ")");
  if (opt.min_steps < 1)
    throw std::invalid_argument("min_steps must be at least 1 (got " + std::to_string(opt.min_steps) + ")");
  if (opt.max_steps > 8)
    throw std::invalid_argument("max_steps must be at most 8 (got " + std::to_string(opt.max_steps) + ")");
  if (opt.max_steps < opt.min_steps)
    throw std::invalid_argument("max_steps must be at least min_steps (got max_steps " +
                                std::to_string(opt.max_steps) + ", min_steps " +
                                std::to_string(opt.min_steps) + ")");
  if (opt.max_value < 5)
    throw std::invalid_argument("max_value must be at least 5 (got " + std::to_string(opt.max_value) + ")");
  if (opt.max_value > kWordProblemValueLimit)
    throw std::invalid_argument("max_value must be at most " + std::to_string(kWordProblemValueLimit) +
                                " (got " + std::to_string(opt.max_value) + ")");
}

nlohmann::json user_message(const WordProblem& p) {
  return nlohmann::json::array({{{"role", "user"}, {"content", p.question + kWordProblemInstruction}}});
}

}  // namespace

std::vector<WordProblem> make_word_problems(const WordProblemOptions& opt) {
  validate(opt);
  std::mt19937_64 rng(opt.seed);
  std::vector<WordProblem> out;
  out.reserve(static_cast<size_t>(std::min<int64_t>(opt.count, 1 << 20)));
  std::unordered_set<std::string> seen;
  int duplicates = 0;
  while (static_cast<int64_t>(out.size()) < opt.count) {
    WordProblem p = draw_problem(opt, rng);
    if (!seen.insert(p.question).second) {
      if (++duplicates >= kMaxDuplicateDraws)
        throw std::runtime_error(
            "make_word_problems: only " + std::to_string(out.size()) + " distinct problems found (" +
            std::to_string(kMaxDuplicateDraws) + " duplicates drawn in a row); count " +
            std::to_string(opt.count) + " is too large for min_steps " + std::to_string(opt.min_steps) +
            ", max_steps " + std::to_string(opt.max_steps) + " and max_value " +
            std::to_string(opt.max_value) + " (lower count, or raise max_steps or max_value)");
      continue;
    }
    duplicates = 0;
    out.push_back(std::move(p));
  }
  return out;
}

const std::vector<std::string>& word_problem_kinds() {
  static const std::vector<std::string> kKinds = [] {
    std::vector<std::string> kinds;
    for (const Family& f : families()) kinds.emplace_back(f.kind);
    return kinds;
  }();
  return kKinds;
}

nlohmann::json word_problem_row(const WordProblem& p, const std::string& prompt_style) {
  if (prompt_style == "trl" || prompt_style == "messages") {
    nlohmann::json row;
    row["prompt"] =
        prompt_style == "trl" ? nlohmann::json(p.question + kWordProblemInstruction) : user_message(p);
    row["answer"] = p.answer;
    row["solution"] = p.solution;
    row["data_source"] = kWordProblemDataSource;
    row["kind"] = p.kind;
    row["steps"] = p.steps;
    return row;
  }
  if (prompt_style == "verl") {
    nlohmann::json row;
    row["data_source"] = kWordProblemDataSource;
    row["prompt"] = user_message(p);
    row["ability"] = "math";
    row["reward_model"] = {{"style", "rule"}, {"ground_truth", p.answer}};
    row["extra_info"] = {{"solution", p.solution}, {"kind", p.kind}, {"steps", p.steps}};
    return row;
  }
  throw std::invalid_argument("unknown prompt style '" + prompt_style + "' (valid: trl, messages, verl)");
}

}  // namespace grpo

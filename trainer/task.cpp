// Built-in arithmetic tasks and their traces (see task.h).
#include "trainer/task.h"

#include <cctype>
#include <stdexcept>

namespace grpo {

namespace {

std::string five_digits(int64_t v) {
  std::string s = std::to_string(v);
  return std::string(s.size() < 5 ? 5 - s.size() : 0, '0') + s;
}

std::string two_digits(int64_t v) { return std::string(v < 10 ? "0" : "") + std::to_string(v); }

int64_t digit(int64_t v, int i) {  // i-th decimal digit from the units up
  for (int k = 0; k < i; ++k) v /= 10;
  return v % 10;
}

bool all_digits(const std::string& s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// Column addition of two numbers over 5 columns, units first: "x+y+c=dd,…".
std::string column_addition(int64_t x, int64_t y) {
  std::string out;
  int64_t carry = 0;
  for (int i = 0; i < 5; ++i) {
    const int64_t dx = digit(x, i), dy = digit(y, i), s = dx + dy + carry;
    out += (i ? "," : "") + std::to_string(dx) + "+" + std::to_string(dy) + "+" + std::to_string(carry) + "=" + two_digits(s);
    carry = s / 10;
  }
  return out;
}

// a (3 digits) times one digit d, units first: "7*6+0=42,4*6+4=28,3*6+2=20".
std::string digit_product(int64_t a, int64_t d) {
  std::string out;
  int64_t carry = 0;
  for (int i = 0; i < 3; ++i) {
    const int64_t p = digit(a, i) * d + carry;
    out += (i ? "," : "") + std::to_string(digit(a, i)) + "*" + std::to_string(d) + "+" + std::to_string(carry) + "=" + two_digits(p);
    carry = p / 10;
  }
  return out;
}

}  // namespace

ArithmeticTask::ArithmeticTask(const TaskConfig& cfg) : kind_(cfg.kind) {
  if (kind_ != "add" && kind_ != "mul") throw std::invalid_argument("task.kind '" + kind_ + "' is not add or mul");
  std::mt19937_64 rng(static_cast<uint64_t>(cfg.held_out_seed));
  while (static_cast<int64_t>(held_out_.size()) < cfg.held_out) {
    auto [a, b] = draw(rng);
    if (held_out_keys_.insert(key(a, b)).second) held_out_.push_back(make(a, b));
  }
}

std::pair<int64_t, int64_t> ArithmeticTask::draw(std::mt19937_64& rng) const {
  if (kind_ == "add") {
    std::uniform_int_distribution<int64_t> d(10000, 49999);
    const int64_t a = d(rng);
    return {a, d(rng)};
  }
  std::uniform_int_distribution<int64_t> da(100, 999), db(10, 99);
  const int64_t a = da(rng);
  return {a, db(rng)};
}

Problem ArithmeticTask::make(int64_t a, int64_t b) const {
  const bool add = kind_ == "add";
  return {a, b, "Q:" + std::to_string(a) + (add ? "+" : "*") + std::to_string(b) + "=", five_digits(add ? a + b : a * b)};
}

Problem ArithmeticTask::sample(std::mt19937_64& rng) const {
  for (;;) {
    auto [a, b] = draw(rng);
    if (!is_held_out(a, b)) return make(a, b);
  }
}

size_t ArithmeticTask::prompt_length() const { return kind_ == "add" ? 14 : 9; }

int64_t ArithmeticTask::max_completion_length() const {
  // "<think>" guess " check " procedure " wait</think><answer>" 5 digits "</answer>\n"
  const int64_t a = kind_ == "add" ? 10000 : 100, b = kind_ == "add" ? 10000 : 10;
  return static_cast<int64_t>(check_trace(make(a, b), "00000", false).completion.size());
}

std::string ArithmeticTask::check_procedure(int64_t a, int64_t b) const {
  if (kind_ == "add") return column_addition(a, b) + ":" + five_digits(a + b);
  const int64_t p1 = a * digit(b, 0), p2 = a * digit(b, 1) * 10;
  return digit_product(a, digit(b, 0)) + " " + digit_product(a, digit(b, 1)) + " " + column_addition(p1, p2) + ":" +
         five_digits(a * b);
}

std::string ArithmeticTask::random_answer(std::mt19937_64& rng) const {
  return five_digits(std::uniform_int_distribution<int64_t>(0, 99999)(rng));
}

Trace ArithmeticTask::direct_trace(const Problem& p) const {
  Trace t;
  t.completion = "<think>" + p.answer + "</think><answer>" + p.answer + "</answer>\n";
  t.loss.assign(t.completion.size(), 1);
  return t;
}

Trace ArithmeticTask::check_trace(const Problem& p, const std::string& guess, bool mask_branch) const {
  const bool right = guess == p.answer;
  Trace t;
  t.completion = "<think>" + guess + " check " + check_procedure(p.a, p.b) + (right ? " ok" : " wait") +
                 "</think><answer>" + p.answer + "</answer>\n";
  t.loss.assign(t.completion.size(), 1);
  const size_t guess_at = 7;  // after "<think>"
  if (!right)
    for (size_t i = 0; i < guess.size(); ++i) t.loss[guess_at + i] = 0;  // never learn to write wrong answers
  if (mask_branch) t.loss[guess_at + guess.size()] = 0;  // the ' ' of " check" vs '<' of "</think>"
  return t;
}

TraceParse ArithmeticTask::parse(const std::string& completion) const {
  TraceParse r;
  std::string s = completion;
  if (!s.empty() && s.back() == '\n') s.pop_back();
  const std::string open = "<think>", close = "</think><answer>", end = "</answer>";
  if (s.rfind(open, 0) != 0) return r;
  const size_t c = s.find(close);
  if (c == std::string::npos || s.size() < c + close.size() + end.size() ||
      s.compare(s.size() - end.size(), end.size(), end) != 0)
    return r;
  const std::string think = s.substr(open.size(), c - open.size());
  r.answer = s.substr(c + close.size(), s.size() - end.size() - c - close.size());
  r.guess = think.substr(0, std::min<size_t>(5, think.size()));
  if (!all_digits(r.guess, 5) || !all_digits(r.answer, 5)) return r;
  if (think.size() == 5) {
    r.well_formed = true;
    return r;
  }
  const std::string check = " check ";
  if (think.compare(5, check.size(), check) != 0) return r;
  r.checked = true;
  const size_t colon = think.rfind(':');
  const size_t space = think.rfind(' ');
  if (colon == std::string::npos || space == std::string::npos || space < colon) return r;
  r.check_result = think.substr(colon + 1, space - colon - 1);
  r.label = think.substr(space + 1);
  r.well_formed = all_digits(r.check_result, 5) && (r.label == "ok" || r.label == "wait");
  return r;
}

}  // namespace grpo

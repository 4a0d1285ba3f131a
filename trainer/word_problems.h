// Seeded multi-step arithmetic word problems in GSM8K's format, for `grpo-train make-data`: a training set
// that needs no download. Each problem is a short story of a few steps (+, -, * and exact division) about
// one person and one kind of thing, a question, and a solution of one "a op b = c" line per step ending
// "#### answer". Every value along the way is an integer from 2 to kWordProblemValueLimit. The same
// options give the same problems on every platform (std::mt19937_64 only, no library distributions).
// No LibTorch here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace grpo {

// Appended to each question in a prompt row.
inline constexpr char kWordProblemInstruction[] =
    " Think step by step inside <think> </think>, then give the final number inside <answer> </answer>.";
// The data_source column of every row.
inline constexpr char kWordProblemDataSource[] = "grpo-studio/word-problems";
// No value of a problem (start, operand, intermediate or final) exceeds this.
inline constexpr int64_t kWordProblemValueLimit = 10000;

struct WordProblemOptions {
  int64_t count = 1000;
  uint64_t seed = 0;
  int64_t min_steps = 2;  // computation lines per solution, drawn uniformly in [min_steps, max_steps]
  int64_t max_steps = 4;
  int64_t max_value = 100;  // every number written in a question is at most this
};

struct WordProblem {
  // "Mia has 12 apples. She buys 3 bags with 4 apples in each bag. Then she gives away 5 apples. How many
  // apples does Mia have now?"
  std::string question;
  // One line per step, each with exactly one "a op b = c" (op one of + - * /), then "#### answer":
  // "Mia buys 3 * 4 = 12 apples.\nShe has 12 + 12 = 24 apples.\nAfter giving away 5 she has 24 - 5 = 19
  // apples.\n#### 19"
  std::string solution;
  std::string answer;  // the final number as text: "19"
  int64_t steps = 0;   // the solution's computation lines
  std::string kind;    // the template family: "shopping", "travel", "baking", "savings", "garden", "farm"
};

// `opt.count` distinct problems (no two share a question), deterministic for the options. Throws
// std::invalid_argument naming the field for bad options (count >= 1, 1 <= min_steps <= max_steps <= 8,
// 5 <= max_value <= kWordProblemValueLimit), and std::runtime_error when the options cannot give
// `count` distinct questions.
std::vector<WordProblem> make_word_problems(const WordProblemOptions& opt);

// The template families, in a fixed order.
const std::vector<std::string>& word_problem_kinds();

// One JSONL row. prompt_style "trl": {"prompt": question + kWordProblemInstruction, "answer", "solution",
// "data_source", "kind", "steps"}; "messages": the same with "prompt": [{"role": "user", "content": ...}];
// "verl": {"data_source", "prompt": [{"role": "user", "content": ...}], "ability": "math", "reward_model":
// {"style": "rule", "ground_truth": answer}, "extra_info": {"solution", "kind", "steps"}}. Throws
// std::invalid_argument for another style, listing the valid ones.
nlohmann::json word_problem_row(const WordProblem& p, const std::string& prompt_style);

}  // namespace grpo

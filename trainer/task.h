// The built-in verifiable tasks: 5-digit addition ("add") and 3-digit × 2-digit multiplication ("mul").
// Prompts look like "Q:39647+46685="; answers are 5 digits (leading zeros for "mul"). A fixed, seeded
// random set of problems is held out from pretraining and GRPO for evaluation. The task also writes the
// pretraining corpus's traces: a direct answer, or a first answer followed by a column-arithmetic check
// that ends "ok" or "wait" (see docs/demo.md and ../shared/research/self-verification.md).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "trainer/config.h"

namespace grpo {

struct Problem {
  int64_t a = 0, b = 0;
  std::string prompt;  // "Q:a+b="
  std::string answer;  // 5 digits
};

// One pretraining trace, with per-character loss weights (0 = no loss on that character).
struct Trace {
  std::string completion;    // "<think>…</think><answer>…</answer>\n"
  std::vector<uint8_t> loss;  // same length as completion
};

// What a completion of this task says, as `grpo-train eval` reads it.
struct TraceParse {
  bool well_formed = false;  // the task's exact trace grammar
  std::string guess;         // the first answer inside <think>
  bool checked = false;      // a " check …" follows the guess
  std::string check_result;  // the 5 digits read back by the check
  std::string label;         // "ok", "wait" or "" (no check)
  std::string answer;        // inside <answer>
};

class ArithmeticTask {
 public:
  explicit ArithmeticTask(const TaskConfig& cfg);

  Problem make(int64_t a, int64_t b) const;
  Problem sample(std::mt19937_64& rng) const;  // uniform over the task, never a held-out problem
  const std::vector<Problem>& held_out() const { return held_out_; }
  bool is_held_out(int64_t a, int64_t b) const { return held_out_keys_.count(key(a, b)) > 0; }
  const std::string& kind() const { return kind_; }
  size_t prompt_length() const;  // every prompt has the same length
  int64_t max_completion_length() const;  // the longest trace of the corpus, end-of-sequence included

  // The check procedure's text for a problem: "4+3+0=07,…,4+3+0=07:71787" (add) or the partial
  // products then their column addition (mul), always ending ":" + the 5-digit result.
  std::string check_procedure(int64_t a, int64_t b) const;
  Trace direct_trace(const Problem& p) const;
  // A checked trace: `guess` is the first answer (right, or uniformly random when wrong); the final
  // answer is always the check's result. The guess gets no loss when wrong; the branch character right
  // after the guess gets no loss when `mask_branch`.
  Trace check_trace(const Problem& p, const std::string& guess, bool mask_branch) const;
  std::string random_answer(std::mt19937_64& rng) const;  // uniform 5 digits
  TraceParse parse(const std::string& completion) const;

 private:
  static int64_t key(int64_t a, int64_t b) { return a * 1000000 + b; }
  std::pair<int64_t, int64_t> draw(std::mt19937_64& rng) const;

  std::string kind_;
  std::vector<Problem> held_out_;
  std::unordered_set<int64_t> held_out_keys_;
};

}  // namespace grpo

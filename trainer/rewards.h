// Reward functions (docs/rewards.md), each named and weighted by `rewards.<name>`:
//   accuracy  the <answer>…</answer> content equals the reference (the built-in tasks' reward)
//   format    the whole completion matches rewards.format_pattern, by default DeepSeek-R1's
//             <think>…</think><answer>…</answer> (a built-in task also requires its exact trace grammar)
//   overlong  DAPO's soft overlong penalty; length: a plain length target
//   math      the final answer (\boxed{}, ####, "the answer is", <answer>, last number) equals the
//             reference by value (math_answer.h)
//   regex     the fraction of rewards.regex_patterns found; exact: the final text equals the reference
//   server    a reward function in any language behind a ZeroMQ reward server (reward_server.h)
// The weighted sum is the reward the advantages come from. A reward that is not applicable to a row (a
// server's null) is NaN in `parts` and left out of the sum, as TRL's nansum does. No LibTorch here.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "trainer/config.h"

namespace grpo {

namespace reward {  // the reward names: config keys rewards.<name>, metrics reward/<name>/mean
inline constexpr const char* kAccuracy = "accuracy";
inline constexpr const char* kFormat = "format";
inline constexpr const char* kOverlong = "overlong";
inline constexpr const char* kLength = "length";
inline constexpr const char* kMath = "math";
inline constexpr const char* kRegex = "regex";
inline constexpr const char* kExact = "exact";
inline constexpr const char* kServer = "server";
}  // namespace reward

struct ParsedCompletion {
  bool well_formed = false;  // exactly <think>…</think><answer>…</answer> (whitespace around tags allowed)
  bool has_answer = false;   // an <answer>…</answer> pair exists somewhere
  std::string think;         // the reasoning (the whole text when there is no <think> block)
  std::string answer;        // the last <answer> block's content, trimmed
};

ParsedCompletion parse_completion(std::string_view text);

double accuracy_reward(const ParsedCompletion& c, std::string_view reference);  // 1 or 0
double format_reward(const ParsedCompletion& c);                                 // 1 or 0
// DAPO eq. 13: 0 up to max_len − buffer, then a linear ramp to −1 at max_len; −1 when cut off.
double overlong_reward(int64_t length, bool truncated, int64_t max_len, int64_t buffer);
// −|length − target| / target, at least −1 (0 at the target).
double length_reward(int64_t length, int64_t target);
// 1 when the completion's final text (after the last </think>; the <answer> content when there is one)
// equals the reference with runs of whitespace collapsed and the ends trimmed.
double exact_reward(std::string_view completion, std::string_view reference);
// True when a marker starts a word of `reasoning` (case-insensitive: "check" matches "Checking").
bool has_verification_marker(std::string_view reasoning, const std::vector<std::string>& markers);

// Self-verification words when rewards.markers is empty: the built-in tasks' trace words, and for
// datasets DeepSeek-R1's reflective words ("Wait, wait. Wait. That's an aha moment", R1 paper Table 3).
const std::vector<std::string>& task_markers();
const std::vector<std::string>& r1_markers();

// The reward that decides "correct" (accuracy metrics, eval): rewards.correct, or math when it is on, else
// accuracy.
std::string correct_reward_name(const RewardConfig& cfg);

struct RewardBreakdown {
  double total = 0.0;                   // Σ weight_k · reward_k over the applicable rewards
  std::map<std::string, double> parts;  // each reward function's unweighted value (NaN: not applicable)
  bool correct = false;
  bool verified = false;
  bool well_formed = false;
};

// One completion to score, and what the rewards may look at.
struct ScoreInput {
  std::string prompt;
  std::string completion;                // text without the end-of-sequence token
  std::string reference;                 // the reference answer ("" when the row has none)
  nlohmann::json columns;                // the dataset row (null for the built-in tasks)
  int64_t length = 0;                    // completion tokens, end-of-sequence included
  bool truncated = false;                // cut at max_len before end-of-sequence
  std::optional<bool> grammar_ok;        // a built-in task's exact trace grammar
};

class RewardServerClient;  // reward_server.h

// The configured rewards: patterns compiled and the server connected once; weights read on every call, so
// a live `set rewards.math=…` applies at the next step.
class RewardSet {
 public:
  // Called while the reward server does not answer: waiting = true with the reason, then false once it
  // answers. Return false to give up (a stop was asked for): score() then throws RewardWaitAborted.
  using WaitHandler = std::function<bool(bool waiting, const std::string& reason)>;

  // Throws ConfigError naming the key for a pattern that does not compile or a bad math_order.
  explicit RewardSet(const RewardConfig& cfg);
  ~RewardSet();

  // The rewards computed with these weights: accuracy and format always, the others when their weight ≠ 0.
  static std::vector<std::string> active(const RewardConfig& weights);
  // Scores a batch (one request to the reward server for the whole batch). `max_len` is the completion
  // budget the overlong penalty ramps to.
  std::vector<RewardBreakdown> score(const RewardConfig& weights, const std::vector<ScoreInput>& batch,
                                     int64_t max_len, const WaitHandler& on_wait = {});
  // The markers in use: rewards.markers, else the default for built-in tasks or datasets.
  void set_default_markers(std::vector<std::string> markers) { default_markers_ = std::move(markers); }

 private:
  RewardConfig compiled_for_;  // the non-live settings the patterns were compiled from
  struct Patterns;
  std::unique_ptr<Patterns> patterns_;
  std::unique_ptr<RewardServerClient> server_;
  std::vector<std::string> default_markers_;
};

class RewardWaitAborted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One completion scored by the rule rewards alone (no server): for tests and tools.
RewardBreakdown score_completion(const RewardConfig& cfg, std::string_view text, std::string_view reference,
                                 int64_t length, bool truncated, int64_t max_len,
                                 std::optional<bool> grammar_ok = std::nullopt);

}  // namespace grpo

// Rule-based rewards (DeepSeek-R1 style): `accuracy` (the answer in <answer>…</answer> matches the
// reference), `format` (<think>…</think><answer>…</answer>, nothing else), DAPO's soft `overlong`
// penalty, and the self-verification test (a marker word inside the reasoning). No LibTorch here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "trainer/config.h"

namespace grpo {

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
// True when a marker starts a word of `reasoning` (case-insensitive: "check" matches "Checking").
bool has_verification_marker(std::string_view reasoning, const std::vector<std::string>& markers);

struct RewardBreakdown {
  double total = 0.0;                   // Σ weight_k · reward_k
  std::map<std::string, double> parts;  // each reward function's unweighted value
  bool correct = false;
  bool verified = false;
  bool well_formed = false;
};

// Scores one completion (text without the end-of-sequence token). A task with an exact trace grammar
// (the built-in ones) passes `grammar_ok`: the format reward then requires the whole trace to follow it,
// not only the tags.
RewardBreakdown score_completion(const RewardConfig& cfg, std::string_view text, std::string_view reference,
                                 int64_t length, bool truncated, int64_t max_len,
                                 std::optional<bool> grammar_ok = std::nullopt);

}  // namespace grpo

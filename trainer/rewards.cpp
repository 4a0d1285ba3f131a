// Rule-based rewards (see rewards.h).
#include "trainer/rewards.h"

#include <algorithm>
#include <cctype>

namespace grpo {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_number(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

ParsedCompletion parse_completion(std::string_view text) {
  ParsedCompletion r;
  const std::string_view kOpenT = "<think>", kCloseT = "</think>", kOpenA = "<answer>", kCloseA = "</answer>";

  const size_t a_open = text.rfind(kOpenA);
  if (a_open != std::string_view::npos) {
    const size_t a_close = text.find(kCloseA, a_open + kOpenA.size());
    if (a_close != std::string_view::npos) {
      r.has_answer = true;
      r.answer = std::string(trim(text.substr(a_open + kOpenA.size(), a_close - a_open - kOpenA.size())));
    }
  }

  const size_t t_open = text.find(kOpenT);
  const size_t t_close = text.find(kCloseT);
  if (t_open != std::string_view::npos && t_close != std::string_view::npos && t_close > t_open)
    r.think = std::string(text.substr(t_open + kOpenT.size(), t_close - t_open - kOpenT.size()));
  else
    r.think = std::string(text);

  // Well-formed: ws <think> T </think> ws <answer> A </answer> ws, with no tag inside T or A.
  std::string_view s = trim(text);
  if (s.substr(0, kOpenT.size()) != kOpenT) return r;
  s.remove_prefix(kOpenT.size());
  const size_t tc = s.find(kCloseT);
  if (tc == std::string_view::npos) return r;
  const std::string_view think = s.substr(0, tc);
  s = trim(s.substr(tc + kCloseT.size()));
  if (s.substr(0, kOpenA.size()) != kOpenA) return r;
  s.remove_prefix(kOpenA.size());
  const size_t ac = s.find(kCloseA);
  if (ac == std::string_view::npos || !trim(s.substr(ac + kCloseA.size())).empty()) return r;
  const std::string_view answer = s.substr(0, ac);
  for (std::string_view tag : {kOpenT, kCloseT, kOpenA, kCloseA})
    if (think.find(tag) != std::string_view::npos || answer.find(tag) != std::string_view::npos) return r;
  r.well_formed = true;
  return r;
}

double accuracy_reward(const ParsedCompletion& c, std::string_view reference) {
  if (!c.has_answer) return 0.0;
  std::string_view got = c.answer, want = trim(reference);
  if (is_number(got) && is_number(want)) {  // numbers compare by value: "09022" == "9022"
    auto strip = [](std::string_view s) {
      while (s.size() > 1 && s.front() == '0') s.remove_prefix(1);
      return s;
    };
    return strip(got) == strip(want) ? 1.0 : 0.0;
  }
  return got == want ? 1.0 : 0.0;
}

double format_reward(const ParsedCompletion& c) { return c.well_formed ? 1.0 : 0.0; }

double overlong_reward(int64_t length, bool truncated, int64_t max_len, int64_t buffer) {
  if (truncated || length > max_len) return -1.0;
  const int64_t safe = max_len - buffer;
  if (length <= safe) return 0.0;
  return static_cast<double>(safe - length) / static_cast<double>(buffer);
}

bool has_verification_marker(std::string_view reasoning, const std::vector<std::string>& markers) {
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  for (size_t i = 0; i < reasoning.size(); ++i) {
    if (i > 0 && std::isalpha(static_cast<unsigned char>(reasoning[i - 1]))) continue;  // not a word start
    for (const auto& m : markers) {
      if (m.empty() || i + m.size() > reasoning.size()) continue;
      bool match = true;
      for (size_t k = 0; k < m.size() && match; ++k) match = lower(reasoning[i + k]) == lower(m[k]);
      if (match) return true;
    }
  }
  return false;
}

RewardBreakdown score_completion(const RewardConfig& cfg, std::string_view text, std::string_view reference,
                                 int64_t length, bool truncated, int64_t max_len, std::optional<bool> grammar_ok) {
  const ParsedCompletion c = parse_completion(text);
  RewardBreakdown r;
  r.parts["accuracy"] = accuracy_reward(c, reference);
  r.parts["format"] = format_reward(c) > 0 && grammar_ok.value_or(true) ? 1.0 : 0.0;
  if (cfg.overlong != 0.0) r.parts["overlong"] = overlong_reward(length, truncated, max_len, cfg.overlong_buffer);
  r.total = cfg.accuracy * r.parts["accuracy"] + cfg.format * r.parts["format"] +
            (cfg.overlong != 0.0 ? cfg.overlong * r.parts["overlong"] : 0.0);
  r.correct = r.parts["accuracy"] > 0.5;
  r.verified = has_verification_marker(c.think, cfg.markers);
  r.well_formed = r.parts["format"] > 0.5;
  return r;
}

}  // namespace grpo

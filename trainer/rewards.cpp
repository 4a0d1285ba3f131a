// Rule-based rewards, the reward set and its weighted sum (see rewards.h).
#include "trainer/rewards.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "trainer/math_answer.h"
#include "trainer/reward_server.h"
#include "trainer/text_pattern.h"

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

std::string collapse_whitespace(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : trim(s)) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
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

double length_reward(int64_t length, int64_t target) {
  if (target <= 0) return 0.0;
  const double off = std::abs(static_cast<double>(length - target)) / static_cast<double>(target);
  return -std::min(off, 1.0);
}

double exact_reward(std::string_view completion, std::string_view reference) {
  std::string_view tail = completion;
  const size_t think_end = tail.rfind("</think>");
  if (think_end != std::string_view::npos) tail.remove_prefix(think_end + 8);
  const ParsedCompletion c = parse_completion(tail);
  const std::string got = collapse_whitespace(c.has_answer ? std::string_view(c.answer) : tail);
  const std::string want = collapse_whitespace(reference);
  return !want.empty() && got == want ? 1.0 : 0.0;
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

const std::vector<std::string>& task_markers() {
  static const std::vector<std::string> kMarkers = {"check", "wait"};
  return kMarkers;
}

const std::vector<std::string>& r1_markers() {
  static const std::vector<std::string> kMarkers = {"wait",         "verify",      "check",     "recheck",
                                                    "double-check", "re-evaluate", "reconsider", "re-examine"};
  return kMarkers;
}

std::string correct_reward_name(const RewardConfig& cfg) {
  if (!cfg.correct.empty()) return cfg.correct;
  return cfg.math != 0.0 ? reward::kMath : reward::kAccuracy;
}

void validate_reward_config(const RewardConfig& r, const std::string& task) {
  auto fail = [](const std::string& key, const std::string& why) { throw ConfigError("config: '" + key + "' " + why); };
  if (r.accuracy == 0 && r.format == 0 && r.overlong == 0 && r.math == 0 && r.length == 0 && r.regex == 0 &&
      r.exact == 0 && r.server == 0)
    fail("rewards", "weights are all zero: nothing would be learned on " + task);
  try {
    parse_answer_order(r.math_order);
  } catch (const std::invalid_argument& e) {
    fail("rewards.math_order", e.what());
  }
  if (r.length != 0 && r.length_target <= 0) fail("rewards.length_target", "must be set (> 0) when rewards.length is on");
  if (r.regex != 0 && r.regex_patterns.empty()) fail("rewards.regex_patterns", "is empty but rewards.regex is on");
  if (r.server != 0 && r.server_address.empty())
    fail("rewards.server_address", "must name the reward server (e.g. tcp://127.0.0.1:5555) when rewards.server is on");
  if (!r.server_address.empty()) RewardServerClient::check_address(r.server_address);
  const std::string correct = correct_reward_name(r);
  RewardConfig weights = r;
  const auto on = RewardSet::active(weights);
  if (std::find(on.begin(), on.end(), correct) == on.end())
    fail("rewards.correct", "names '" + correct + "', whose weight rewards." + correct + " is 0 (turn it on, or pick another)");
  try {  // compile every pattern once, so a bad one is refused before the run starts
    if (!r.format_pattern.empty()) TextPattern(r.format_pattern, "rewards.format_pattern", /*dot_all=*/true);
    for (size_t i = 0; i < r.regex_patterns.size(); ++i)
      TextPattern(r.regex_patterns[i], "rewards.regex_patterns[" + std::to_string(i) + "]");
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("config: ") + e.what());
  }
}

struct RewardSet::Patterns {
  std::optional<TextPattern> format;
  std::vector<TextPattern> regex;
  std::vector<AnswerSource> math_order;
};

RewardSet::RewardSet(const RewardConfig& cfg) : compiled_for_(cfg), patterns_(std::make_unique<Patterns>()) {
  validate_reward_config(cfg, "this config");
  if (!cfg.format_pattern.empty()) patterns_->format.emplace(cfg.format_pattern, "rewards.format_pattern", true);
  for (size_t i = 0; i < cfg.regex_patterns.size(); ++i)
    patterns_->regex.emplace_back(cfg.regex_patterns[i], "rewards.regex_patterns[" + std::to_string(i) + "]");
  patterns_->math_order = parse_answer_order(cfg.math_order);
  default_markers_ = task_markers();
}

RewardSet::~RewardSet() = default;

std::vector<std::string> RewardSet::active(const RewardConfig& w) {
  std::vector<std::string> out = {reward::kAccuracy, reward::kFormat};
  const std::pair<const char*, double> optional[] = {{reward::kOverlong, w.overlong}, {reward::kLength, w.length},
                                                      {reward::kMath, w.math},         {reward::kRegex, w.regex},
                                                      {reward::kExact, w.exact},       {reward::kServer, w.server}};
  for (const auto& [name, weight] : optional)
    if (weight != 0.0) out.push_back(name);
  return out;
}

std::vector<RewardBreakdown> RewardSet::score(const RewardConfig& w, const std::vector<ScoreInput>& batch,
                                              int64_t max_len, const WaitHandler& on_wait) {
  std::vector<RewardBreakdown> out(batch.size());
  const auto& markers = w.markers.empty() ? default_markers_ : w.markers;
  const double nan = std::nan("");
  for (size_t i = 0; i < batch.size(); ++i) {
    const ScoreInput& in = batch[i];
    const ParsedCompletion c = parse_completion(in.completion);
    auto& p = out[i].parts;
    p[reward::kAccuracy] = accuracy_reward(c, in.reference);
    const bool formed = patterns_->format ? patterns_->format->full_match(in.completion) : c.well_formed;
    p[reward::kFormat] = formed && in.grammar_ok.value_or(true) ? 1.0 : 0.0;
    if (w.overlong != 0.0) p[reward::kOverlong] = overlong_reward(in.length, in.truncated, max_len, w.overlong_buffer);
    if (w.length != 0.0) p[reward::kLength] = length_reward(in.length, w.length_target);
    if (w.math != 0.0) p[reward::kMath] = math_reward(in.completion, in.reference, patterns_->math_order, w.math_tolerance);
    if (w.regex != 0.0) {
      double found = 0;
      for (const auto& re : patterns_->regex) found += re.search(in.completion) ? 1.0 : 0.0;
      p[reward::kRegex] = patterns_->regex.empty() ? nan : found / static_cast<double>(patterns_->regex.size());
    }
    if (w.exact != 0.0) p[reward::kExact] = exact_reward(in.completion, in.reference);
    out[i].verified = has_verification_marker(c.think, markers);
    out[i].well_formed = p[reward::kFormat] > 0.5;
  }
  if (w.server != 0.0 && !batch.empty()) {
    if (!server_ || server_->address() != w.server_address)
      server_ = std::make_unique<RewardServerClient>(w.server_address, w.server_timeout);
    const std::vector<double> values = server_->score(batch, on_wait);
    for (size_t i = 0; i < batch.size(); ++i) out[i].parts[reward::kServer] = values[i];
  }
  const std::string correct = correct_reward_name(w);
  const std::map<std::string, double> weight = {{reward::kAccuracy, w.accuracy}, {reward::kFormat, w.format},
                                                {reward::kOverlong, w.overlong}, {reward::kLength, w.length},
                                                {reward::kMath, w.math},         {reward::kRegex, w.regex},
                                                {reward::kExact, w.exact},       {reward::kServer, w.server}};
  for (auto& r : out) {
    r.total = 0.0;
    for (const auto& [name, value] : r.parts)
      if (std::isfinite(value) && weight.at(name) != 0.0) r.total += weight.at(name) * value;
    const auto it = r.parts.find(correct);
    r.correct = it != r.parts.end() && it->second > 0.5;
  }
  return out;
}

RewardBreakdown score_completion(const RewardConfig& cfg, std::string_view text, std::string_view reference,
                                 int64_t length, bool truncated, int64_t max_len, std::optional<bool> grammar_ok) {
  RewardConfig rules = cfg;
  rules.server = 0.0;
  RewardSet set(rules);
  ScoreInput in;
  in.completion = std::string(text);
  in.reference = std::string(reference);
  in.length = length;
  in.truncated = truncated;
  in.grammar_ok = grammar_ok;
  return set.score(rules, {in}, max_len).front();
}

}  // namespace grpo

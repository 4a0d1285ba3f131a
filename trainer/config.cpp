// Config schema, JSON round trip, overrides and validation (see config.h).
#include "trainer/config.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

namespace grpo {

namespace {

using nlohmann::json;
constexpr double kInf = std::numeric_limits<double>::infinity();

ConfigField num(std::string key, int64_t* p, double lo, double hi, bool live = false) {
  return {std::move(key), p, lo, hi, {}, live};
}
ConfigField num(std::string key, double* p, double lo, double hi, bool live = false, bool lo_open = false) {
  ConfigField f{std::move(key), p, lo, hi, {}, live};
  f.min_exclusive = lo_open;
  return f;
}
ConfigField flag(std::string key, bool* p) { return {std::move(key), p, 0, 0, {}, false}; }
ConfigField text(std::string key, std::string* p, std::vector<std::string> choices = {}) {
  return {std::move(key), p, 0, 0, std::move(choices), false};
}
ConfigField live_text(std::string key, std::string* p, std::vector<std::string> choices) {
  return {std::move(key), p, 0, 0, std::move(choices), true};
}
ConfigField list(std::string key, std::vector<std::string>* p) { return {std::move(key), p, 0, 0, {}, false}; }

std::string type_name(const ConfigField::Target& t) {
  switch (t.index()) {
    case 0: return "an integer";
    case 1: return "a number";
    case 2: return "true or false";
    case 3: return "a string";
    default: return "a list of strings";
  }
}

// Edit distance, for "did you mean" on unknown keys.
size_t distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cur = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
      prev = cur;
    }
  }
  return row[b.size()];
}

ConfigField* find_field(std::vector<ConfigField>& fields, const std::string& key, const std::string& source) {
  for (auto& f : fields)
    if (f.key == key) return &f;
  std::string best;
  size_t best_d = 4;
  for (const auto& f : fields) {
    const size_t d = distance(key, f.key);
    if (d < best_d) best_d = d, best = f.key;
    // a bare leaf name ("beta" for "grpo.beta") is a likely slip too
    if (best.empty() && f.key.size() > key.size() && f.key.compare(f.key.size() - key.size(), key.size(), key) == 0 &&
        f.key[f.key.size() - key.size() - 1] == '.')
      best = f.key, best_d = 1;
  }
  throw ConfigError(source + ": unknown config key '" + key + "'" +
                    (best.empty() ? std::string(" (grpo-train config prints every key)")
                                  : " (did you mean '" + best + "'?)"));
}

std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

void check_range(const ConfigField& f, double v, const std::string& source) {
  const bool low_ok = f.min_exclusive ? v > f.min : v >= f.min;
  if (!std::isfinite(v) || !low_ok || v > f.max) {
    std::string range = (f.min_exclusive ? "(" : "[") + fmt(f.min) + ", " + (f.max == kInf ? "inf)" : fmt(f.max) + "]");
    throw ConfigError(source + ": '" + f.key + "' = " + fmt(v) + " is out of range " + range);
  }
}

void assign(const ConfigField& f, const json& v, const std::string& source) {
  auto wrong = [&] {
    return ConfigError(source + ": '" + f.key + "' must be " + type_name(f.target) + ", got " + v.dump());
  };
  std::visit(
      [&](auto* p) {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          if (!v.is_number_integer()) throw wrong();
          check_range(f, static_cast<double>(v.get<int64_t>()), source);
          *p = v.get<int64_t>();
        } else if constexpr (std::is_same_v<T, double>) {
          if (!v.is_number()) throw wrong();
          check_range(f, v.get<double>(), source);
          *p = v.get<double>();
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!v.is_boolean()) throw wrong();
          *p = v.get<bool>();
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (!v.is_string()) throw wrong();
          const auto s = v.get<std::string>();
          if (!f.choices.empty() && std::find(f.choices.begin(), f.choices.end(), s) == f.choices.end()) {
            std::string all;
            for (const auto& c : f.choices) all += (all.empty() ? "" : ", ") + c;
            throw ConfigError(source + ": '" + f.key + "' = '" + s + "' is not one of: " + all);
          }
          *p = s;
        } else {
          if (!v.is_array()) throw wrong();
          std::vector<std::string> out;
          for (const auto& e : v) {
            if (!e.is_string() || e.get<std::string>().empty()) throw wrong();
            out.push_back(e.get<std::string>());
          }
          *p = std::move(out);
        }
      },
      f.target);
}

void flatten(const json& j, const std::string& prefix, std::vector<std::pair<std::string, const json*>>& out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object())
      flatten(*it, key, out);
    else
      out.emplace_back(key, &*it);
  }
}

}  // namespace

// The watchdog rules' keys: watchdogs.<rule>.action / .threshold / .steps, all live.
static void add_watchdog_fields(std::vector<ConfigField>& out, WatchdogConfig& w) {
  const std::vector<std::string> actions = {"off", "event", "alert", "pause", "checkpoint_pause"};
  const std::pair<const char*, WatchdogRule*> rules[] = {
      {"nonfinite", &w.nonfinite},     {"entropy_floor", &w.entropy_floor}, {"kl_ceiling", &w.kl_ceiling},
      {"clipped_ceiling", &w.clipped_ceiling}, {"zero_spread", &w.zero_spread}, {"reward_drop", &w.reward_drop},
      {"length_drift", &w.length_drift}};
  for (const auto& [name, rule] : rules) {
    const std::string k = std::string("watchdogs.") + name;
    out.push_back(live_text(k + ".action", &rule->action, actions));
    if (rule == &w.nonfinite) continue;  // nothing to tune: not finite is not finite
    out.push_back(num(k + ".threshold", &rule->threshold, 0.0, 1e9, /*live=*/true));
    out.push_back(num(k + ".steps", &rule->steps, 1, 100000, /*live=*/true));
  }
}

std::vector<ConfigField> config_fields(Config& c) {
  std::vector<ConfigField> f = {
      text("name", &c.name),
      num("seed", &c.seed, 0, 9e15),
      num("max_steps", &c.max_steps, 0, 1e9),
      num("threads", &c.threads, 0, 1024),
      num("checkpoint_every", &c.checkpoint_every, 0, 1e9),
      num("keep_checkpoints", &c.keep_checkpoints, 1, 1000),
      num("sample_prompts", &c.sample_prompts, 0, 1e6),
      num("eval_every", &c.eval_every, 0, 1e9),
      num("eval_prompts", &c.eval_prompts, 1, 100000),
      num("eval_samples", &c.eval_samples, 0, 1000),
      num("eval_store_prompts", &c.eval_store_prompts, 0, 10000),
      text("device", &c.device, {"cpu", "cuda"}),
      num("dist_timeout", &c.dist_timeout, 1, 86400),
      flag("export_on_finish", &c.export_on_finish),
      text("export_dtype", &c.export_dtype, {"bf16", "f32"}),
      text("model.init", &c.model.init),
      text("model.path", &c.model.path),
      text("model.arch", &c.model.spec.arch, {"llama", "qwen2", "qwen3"}),
      num("model.d_model", &c.model.spec.d_model, 8, 65536),
      num("model.n_layers", &c.model.spec.n_layers, 1, 1024),
      num("model.n_heads", &c.model.spec.n_heads, 1, 1024),
      num("model.n_kv_heads", &c.model.spec.n_kv_heads, 1, 1024),
      num("model.head_dim", &c.model.spec.head_dim, 0, 4096),
      num("model.mlp_hidden", &c.model.spec.mlp_hidden, 1, 1 << 20),
      num("model.context", &c.model.spec.context, 8, 1 << 24),
      num("model.rope_base", &c.model.spec.rope_base, 1.0, kInf),
      num("model.norm_eps", &c.model.spec.norm_eps, 0.0, 1.0, false, /*lo_open=*/true),
      flag("model.tie_embeddings", &c.model.spec.tie_embeddings),
      text("model.alphabet", &c.model.alphabet, {"task", "ascii"}),
      text("task.kind", &c.task.kind, {"add", "mul"}),
      num("task.held_out", &c.task.held_out, 0, 100000),
      num("task.held_out_seed", &c.task.held_out_seed, 0, 9e15),
      text("data.train", &c.data.train),
      text("data.eval", &c.data.eval),
      text("data.answer_key", &c.data.answer_key),
      text("data.chat_template", &c.data.chat_template),
      num("sampling.temperature", &c.sampling.temperature, 0.0, 100.0, /*live=*/true, /*lo_open=*/true),
      num("sampling.top_p", &c.sampling.top_p, 0.0, 1.0, /*live=*/true, /*lo_open=*/true),
      num("sampling.max_new_tokens", &c.sampling.max_new_tokens, 1, 1 << 20, /*live=*/true),
      num("sampling.min_new_tokens", &c.sampling.min_new_tokens, 0, 1 << 20, /*live=*/true),
      num("grpo.prompts_per_step", &c.grpo.prompts_per_step, 1, 1 << 20),
      num("grpo.group_size", &c.grpo.group_size, 2, 4096, /*live=*/true),
      num("grpo.beta", &c.grpo.beta, 0.0, 100.0, /*live=*/true),
      num("grpo.epsilon_low", &c.grpo.epsilon_low, 0.0, 1.0, /*live=*/true),
      num("grpo.epsilon_high", &c.grpo.epsilon_high, 0.0, 100.0, /*live=*/true),
      text("grpo.loss_agg", &c.grpo.loss_agg, {"sequence_mean", "token_mean"}),
      flag("grpo.scale_rewards", &c.grpo.scale_rewards),
      num("grpo.adv_eps", &c.grpo.adv_eps, 0.0, 1.0),
      num("grpo.mu", &c.grpo.mu, 1, 64),
      num("grpo.minibatches", &c.grpo.minibatches, 1, 4096),
      text("grpo.old_logp", &c.grpo.old_logp, {"sampler", "forward"}),
      flag("grpo.dynamic_sampling", &c.grpo.dynamic_sampling),
      num("grpo.dynamic_sampling_max_batches", &c.grpo.dynamic_sampling_max_batches, 1, 1000),
      num("rewards.accuracy", &c.rewards.accuracy, -1000.0, 1000.0, /*live=*/true),
      num("rewards.format", &c.rewards.format, -1000.0, 1000.0, /*live=*/true),
      num("rewards.overlong", &c.rewards.overlong, -1000.0, 1000.0, /*live=*/true),
      num("rewards.overlong_buffer", &c.rewards.overlong_buffer, 1, 1 << 20),
      num("rewards.math", &c.rewards.math, -1000.0, 1000.0, /*live=*/true),
      list("rewards.math_order", &c.rewards.math_order),
      num("rewards.math_tolerance", &c.rewards.math_tolerance, 0.0, 1.0),
      text("rewards.format_pattern", &c.rewards.format_pattern),
      num("rewards.length", &c.rewards.length, -1000.0, 1000.0, /*live=*/true),
      num("rewards.length_target", &c.rewards.length_target, 0, 1 << 20),
      num("rewards.regex", &c.rewards.regex, -1000.0, 1000.0, /*live=*/true),
      list("rewards.regex_patterns", &c.rewards.regex_patterns),
      num("rewards.exact", &c.rewards.exact, -1000.0, 1000.0, /*live=*/true),
      num("rewards.server", &c.rewards.server, -1000.0, 1000.0, /*live=*/true),
      text("rewards.server_address", &c.rewards.server_address),
      num("rewards.server_timeout", &c.rewards.server_timeout, 0.0, 86400.0, false, /*lo_open=*/true),
      text("rewards.correct", &c.rewards.correct,
           {"", "accuracy", "math", "exact", "regex", "server", "format"}),
      list("rewards.markers", &c.rewards.markers),
      num("optim.lr", &c.optim.lr, 0.0, 10.0, /*live=*/true, /*lo_open=*/true),
      num("optim.beta1", &c.optim.beta1, 0.0, 1.0),
      num("optim.beta2", &c.optim.beta2, 0.0, 1.0),
      num("optim.eps", &c.optim.eps, 0.0, 1.0, false, /*lo_open=*/true),
      num("optim.weight_decay", &c.optim.weight_decay, 0.0, 10.0),
      num("optim.warmup_steps", &c.optim.warmup_steps, 0, 1e9),
      text("optim.schedule", &c.optim.schedule, {"constant", "cosine"}),
      num("optim.min_lr_ratio", &c.optim.min_lr_ratio, 0.0, 1.0),
      num("optim.grad_clip", &c.optim.grad_clip, 0.0, 1e9),
      num("pretrain.batch_size", &c.pretrain.batch_size, 1, 1 << 20),
      num("pretrain.direct_fraction", &c.pretrain.direct_fraction, 0.0, 1.0),
      num("pretrain.wrong_fraction", &c.pretrain.wrong_fraction, 0.0, 1.0),
      num("pretrain.branch_mask", &c.pretrain.branch_mask, 0.0, 1.0),
      num("pretrain.eval_every", &c.pretrain.eval_every, 1, 1e9),
      num("pretrain.eval_prompts", &c.pretrain.eval_prompts, 1, 100000),
      num("pretrain.eval_samples", &c.pretrain.eval_samples, 0, 1000),
      flag("pretrain.stop_in_window", &c.pretrain.stop_in_window),
      num("pretrain.stop_check_accuracy", &c.pretrain.stop_check_accuracy, 0.0, 1.0),
      num("pretrain.stop_forced_check", &c.pretrain.stop_forced_check, 0.0, 1.0),
      num("pretrain.stop_greedy_min", &c.pretrain.stop_greedy_min, 0.0, 1.0),
      num("pretrain.stop_greedy_max", &c.pretrain.stop_greedy_max, 0.0, 1.0),
  };
  add_watchdog_fields(f, c.watchdogs);
  return f;
}

Config config_from_json(const json& j, const std::string& source) {
  if (!j.is_object()) throw ConfigError(source + ": a config must be a JSON object");
  Config c;
  auto fields = config_fields(c);
  std::vector<std::pair<std::string, const json*>> flat;
  flatten(j, "", flat);
  for (const auto& [key, value] : flat) assign(*find_field(fields, key, source), *value, source);
  validate_config(c);
  return c;
}

Config load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read config file '" + path + "' (does it exist?)");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw ConfigError("config file '" + path + "' is not valid JSON: " + e.what());
  }
  return config_from_json(j, path);
}

json config_to_json(const Config& config) {
  Config copy = config;
  json out = json::object();
  for (const auto& f : config_fields(copy)) {
    json v;
    std::visit([&](auto* p) { v = *p; }, f.target);
    out[json::json_pointer("/" + [&] {
      std::string k = f.key;
      std::replace(k.begin(), k.end(), '.', '/');
      return k;
    }())] = v;
  }
  return out;
}

json config_changes(const Config& a, const Config& b) {
  Config ca = a, cb = b;
  const auto fa = config_fields(ca), fb = config_fields(cb);
  json out = json::object();
  for (size_t i = 0; i < fa.size(); ++i) {
    json va, vb;
    std::visit([&](auto* p) { va = *p; }, fa[i].target);
    std::visit([&](auto* p) { vb = *p; }, fb[i].target);
    if (va != vb) out[fa[i].key] = {{"from", va}, {"to", vb}};
  }
  return out;
}

void set_config_value(Config& config, const std::string& key, const json& value, bool live_only,
                      const std::string& source) {
  auto fields = config_fields(config);
  ConfigField* f = find_field(fields, key, source);
  if (live_only && !f->live)
    throw ConfigError(source + ": '" + key + "' cannot change while a run trains (restart the run to change it)");
  assign(*f, value, source);
}

void apply_override(Config& config, const std::string& assignment) {
  const auto eq = assignment.find('=');
  const std::string source = "--set " + assignment;
  if (eq == std::string::npos || eq == 0) throw ConfigError(source + ": expected key=value");
  const std::string key = assignment.substr(0, eq);
  const std::string raw = assignment.substr(eq + 1);
  auto fields = config_fields(config);
  const ConfigField* f = find_field(fields, key, source);
  json value;
  switch (f->target.index()) {
    case 3: value = raw; break;  // strings are taken as written
    case 4:
      if (!raw.empty() && raw.front() == '[') {
        value = json::parse(raw, nullptr, /*allow_exceptions=*/false);
      } else {
        value = json::array();
        std::stringstream ss(raw);
        for (std::string item; std::getline(ss, item, ',');) value.push_back(item);
      }
      break;
    default:
      value = json::parse(raw, nullptr, /*allow_exceptions=*/false);
      if (value.is_discarded()) throw ConfigError(source + ": '" + key + "' must be " + type_name(f->target) + ", got '" + raw + "'");
  }
  // Type and range are checked here; cross-field rules once all overrides are in (validate_config).
  set_config_value(config, key, value, /*live_only=*/false, source);
}

void validate_config(const Config& c) {
  // Per-field ranges (a Config built in code bypasses assign(), so check again here).
  Config copy = c;
  for (const auto& f : config_fields(copy)) {
    if (const auto* p = std::get_if<int64_t*>(&f.target)) check_range(f, static_cast<double>(**p), "config");
    if (const auto* p = std::get_if<double*>(&f.target)) check_range(f, **p, "config");
  }
  auto fail = [](const std::string& key, const std::string& why) { throw ConfigError("config: '" + key + "' " + why); };
  // model.* describe a random init (and are overwritten by a checkpoint's or a folder's own shape, which
  // is checked when loaded); a folder's context is its own, checked once it is read.
  validate_model_spec(c.model.spec, "config");
  if (c.model.path.empty() && c.sampling.max_new_tokens >= c.model.spec.context)
    fail("sampling.max_new_tokens", "must be smaller than model.context");
  if (c.sampling.min_new_tokens > c.sampling.max_new_tokens)
    fail("sampling.min_new_tokens", "is above sampling.max_new_tokens");
  if (c.optim.warmup_steps > 0 && c.max_steps > 0 && c.optim.warmup_steps > c.max_steps)
    fail("optim.warmup_steps", "is longer than max_steps");
  if (c.sample_prompts > c.grpo.prompts_per_step) fail("sample_prompts", "cannot exceed grpo.prompts_per_step");
  if (c.grpo.minibatches > c.grpo.prompts_per_step)
    fail("grpo.minibatches", "cannot exceed grpo.prompts_per_step (minibatches split the batch by groups)");
  if (c.pretrain.stop_greedy_min > c.pretrain.stop_greedy_max)
    fail("pretrain.stop_greedy_min", "is above pretrain.stop_greedy_max");
  if (c.data.train.empty() && c.data.eval.empty() && c.eval_every > 0 && c.eval_prompts > c.task.held_out)
    fail("eval_prompts", "cannot exceed task.held_out");
  if (c.pretrain.eval_prompts > c.task.held_out) fail("pretrain.eval_prompts", "cannot exceed task.held_out");
  validate_reward_config(c.rewards, c.data.train.empty() ? "the built-in task" : "data.train");
}

}  // namespace grpo

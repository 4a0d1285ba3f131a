// Config loading: defaults equal the shipped demo config, unknown keys / wrong types / out-of-range values
// are refused with the key named, overrides parse by type, and cross-field rules hold.
#include <QtTest>

#include <fstream>

#include "trainer/config.h"

using namespace grpo;
using nlohmann::json;

namespace {
// Runs `fn`, expects a ConfigError whose message contains every one of `needles`.
template <typename Fn>
bool fails_with(Fn fn, std::initializer_list<const char*> needles) {
  try {
    fn();
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    for (const char* n : needles)
      if (msg.find(n) == std::string::npos) {
        qWarning("message '%s' lacks '%s'", msg.c_str(), n);
        return false;
      }
    return true;
  }
  return false;
}
}  // namespace

class TestConfig : public QObject {
  Q_OBJECT
 private slots:
  void shipped_demo_config_equals_the_embedded_defaults() {
    const Config c = load_config_file(GRPO_RESOURCES_DIR "/configs/demo.json");
    QCOMPARE(config_to_json(c).dump(), config_to_json(Config{}).dump());
  }

  void json_round_trip() {
    Config c;
    c.grpo.beta = 0.5;
    c.rewards.markers = {"verify"};
    c.optim.schedule = "cosine";
    const Config back = config_from_json(config_to_json(c), "test");
    QCOMPARE(config_to_json(back).dump(), config_to_json(c).dump());
  }

  void nested_and_dotted_keys() {
    auto c = config_from_json(json::parse(R"({"grpo": {"beta": 0.1}, "optim.lr": 0.001, "max_steps": 7})"), "t");
    QCOMPARE(c.grpo.beta, 0.1);
    QCOMPARE(c.optim.lr, 0.001);
    QCOMPARE(c.max_steps, int64_t{7});
  }

  void unknown_key_is_named_with_a_suggestion() {
    QVERIFY(fails_with([] { config_from_json(json::parse(R"({"grpo": {"betta": 0.1}})"), "x.json"); },
                       {"x.json", "unknown config key 'grpo.betta'", "grpo.beta"}));
    QVERIFY(fails_with([] { config_from_json(json::parse(R"({"lr": 0.1})"), "x.json"); }, {"'lr'", "optim.lr"}));
  }

  void wrong_type_is_named() {
    QVERIFY(fails_with([] { config_from_json(json::parse(R"({"max_steps": "ten"})"), "x"); }, {"'max_steps'", "integer"}));
    QVERIFY(fails_with([] { config_from_json(json::parse(R"({"max_steps": 2.5})"), "x"); }, {"'max_steps'", "integer"}));
    QVERIFY(fails_with([] { config_from_json(json::parse(R"({"grpo": {"scale_rewards": 1}})"), "x"); },
                       {"'grpo.scale_rewards'", "true or false"}));
    QVERIFY(fails_with([] { config_from_json(json::parse(R"({"grpo": 3})"), "x"); }, {"'grpo'"}));
  }

  void out_of_range_is_named() {
    QVERIFY(fails_with([] { config_from_json(json::parse(R"({"optim": {"lr": -1}})"), "x"); }, {"'optim.lr'", "out of range"}));
    QVERIFY(fails_with([] { config_from_json(json::parse(R"({"optim": {"lr": 0}})"), "x"); }, {"'optim.lr'"}));
    QVERIFY(fails_with([] { config_from_json(json::parse(R"({"grpo": {"epsilon_low": 1.5}})"), "x"); }, {"'grpo.epsilon_low'"}));
    QVERIFY(fails_with([] { config_from_json(json::parse(R"({"grpo": {"group_size": 1}})"), "x"); }, {"'grpo.group_size'"}));
    QVERIFY(fails_with([] { config_from_json(json::parse(R"({"grpo": {"loss_agg": "max"}})"), "x"); },
                       {"'grpo.loss_agg'", "sequence_mean"}));
  }

  void cross_field_rules() {
    QVERIFY(fails_with([] { config_from_json(json::parse(R"({"model": {"n_heads": 4, "n_kv_heads": 3}})"), "x"); },
                       {"model.n_kv_heads"}));
    QVERIFY(fails_with([] { config_from_json(json::parse(R"({"sampling": {"max_new_tokens": 500}})"), "x"); },
                       {"sampling.max_new_tokens"}));
    QVERIFY(fails_with([] { config_from_json(json::parse(R"({"rewards": {"accuracy": 0, "format": 0}})"), "x"); },
                       {"rewards"}));
  }

  void overrides_parse_by_type() {
    Config c;
    apply_override(c, "max_steps=3");
    apply_override(c, "optim.lr=3e-4");
    apply_override(c, "grpo.scale_rewards=false");
    apply_override(c, "grpo.loss_agg=token_mean");
    apply_override(c, "rewards.markers=wait,verify");
    QCOMPARE(c.max_steps, int64_t{3});
    QCOMPARE(c.optim.lr, 3e-4);
    QCOMPARE(c.grpo.scale_rewards, false);
    QCOMPARE(c.grpo.loss_agg, std::string("token_mean"));
    QCOMPARE(c.rewards.markers, (std::vector<std::string>{"wait", "verify"}));
    QVERIFY(fails_with([&] { apply_override(c, "max_steps=abc"); }, {"max_steps", "integer"}));
    QVERIFY(fails_with([&] { apply_override(c, "optim.lr=nan"); }, {"optim.lr"}));
    QVERIFY(fails_with([&] { apply_override(c, "novalue"); }, {"key=value"}));
    QCOMPARE(c.max_steps, int64_t{3});  // a refused override changes nothing
  }

  void live_keys_are_marked() {
    Config c;
    int live = 0;
    for (const auto& f : config_fields(c)) live += f.live;
    QVERIFY(live >= 10);  // lr, beta, ε_low, ε_high, temperature, top-p, max new tokens, G, reward weights
    QVERIFY(fails_with([&] { set_config_value(c, "model.d_model", 128, /*live_only=*/true, "set"); },
                       {"model.d_model", "cannot change"}));
    set_config_value(c, "optim.lr", 0.01, /*live_only=*/true, "set");
    QCOMPARE(c.optim.lr, 0.01);
  }

  void missing_file_is_named() {
    QVERIFY(fails_with([] { load_config_file("/nonexistent/cfg.json"); }, {"/nonexistent/cfg.json"}));
    const std::string bad = QDir::tempPath().toStdString() + "/grpo_bad_config.json";
    std::ofstream(bad) << "{ not json";
    QVERIFY(fails_with([&] { load_config_file(bad); }, {"grpo_bad_config.json", "not valid JSON"}));
  }
};

QTEST_APPLESS_MAIN(TestConfig)
#include "test_config.moc"

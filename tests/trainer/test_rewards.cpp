// Rule-based rewards on well-formed, malformed and wrong completions; markers; overlong shaping; the
// dataset rewards (math, format patterns, length target, regex, exact) and their weighted sum; the reward
// server's request and reply checks; reward config errors.
#include <QtTest>

#include "trainer/config.h"
#include "trainer/reward_server.h"
#include "trainer/rewards.h"

#include <zmq.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

using namespace grpo;

class TestRewards : public QObject {
  Q_OBJECT
 private slots:
  void well_formed_and_correct() {
    RewardConfig cfg;  // accuracy 1, format 0.1
    auto r = score_completion(cfg, "<think>86332</think><answer>86332</answer>", "86332", 43, false, 109);
    QCOMPARE(r.parts.at("accuracy"), 1.0);
    QCOMPARE(r.parts.at("format"), 1.0);
    QVERIFY(std::abs(r.total - 1.1) < 1e-12);
    QVERIFY(r.correct && r.well_formed && !r.verified);
  }

  void well_formed_but_wrong() {
    RewardConfig cfg;
    auto r = score_completion(cfg, "<think>86331</think><answer>86331</answer>", "86332", 43, false, 109);
    QCOMPARE(r.parts.at("accuracy"), 0.0);
    QCOMPARE(r.parts.at("format"), 1.0);
    QVERIFY(std::abs(r.total - 0.1) < 1e-12);
    QVERIFY(!r.correct);
  }

  void malformed() {
    RewardConfig cfg;
    // right answer, but the think block is never closed: accuracy still reads <answer>, format fails
    auto a = score_completion(cfg, "<think>86332<answer>86332</answer>", "86332", 40, false, 109);
    QCOMPARE(a.parts.at("accuracy"), 1.0);
    QCOMPARE(a.parts.at("format"), 0.0);
    // text after </answer>
    QCOMPARE(format_reward(parse_completion("<think>x</think><answer>1</answer>tail")), 0.0);
    // no answer at all
    auto b = score_completion(cfg, "<think>86332</think>", "86332", 20, true, 109);
    QCOMPARE(b.total, 0.0);
    // nested tag inside the reasoning
    QCOMPARE(format_reward(parse_completion("<think>a<think>b</think><answer>1</answer>")), 0.0);
    // whitespace between tags is allowed
    QCOMPARE(format_reward(parse_completion(" <think>a b</think>\n<answer> 7 </answer>\n")), 1.0);
    QCOMPARE(parse_completion("<think>a</think><answer> 7 </answer>").answer, std::string("7"));
  }

  void a_task_grammar_tightens_the_format_reward() {
    RewardConfig cfg;
    // tags fine, but the task's grammar is broken ("waitt"): no format reward, accuracy unaffected
    const char* text = "<think>25489 check 8+7+0=15:55435 waitt</think><answer>55435</answer>";
    auto loose = score_completion(cfg, text, "55435", 60, false, 109);
    auto strict = score_completion(cfg, text, "55435", 60, false, 109, /*grammar_ok=*/false);
    QCOMPARE(loose.parts.at("format"), 1.0);
    QCOMPARE(strict.parts.at("format"), 0.0);
    QCOMPARE(strict.parts.at("accuracy"), 1.0);
    QVERIFY(!strict.well_formed);
    QVERIFY(std::abs(strict.total - 1.0) < 1e-12);
  }

  void numbers_compare_by_value() {
    auto c = parse_completion("<think>x</think><answer>09022</answer>");
    QCOMPARE(accuracy_reward(c, "9022"), 1.0);
    QCOMPARE(accuracy_reward(c, "09023"), 0.0);
    QCOMPARE(accuracy_reward(parse_completion("<think>x</think><answer>abc</answer>"), "abc"), 1.0);
  }

  void verification_markers() {
    const std::vector<std::string> demo = {"check", "wait"};
    QVERIFY(has_verification_marker("71787 check 4+3+0=07", demo));
    QVERIFY(has_verification_marker("Wait, let me redo it", demo));
    QVERIFY(has_verification_marker("checking again", demo));  // word start, any suffix
    QVERIFY(!has_verification_marker("recheck", demo));        // not at a word start
    QVERIFY(!has_verification_marker("86332", demo));
    RewardConfig cfg;
    auto r = score_completion(cfg, "<think>25489 check 8+7+0=15:55435 wait</think><answer>55435</answer>", "55435", 80, false, 109);
    QVERIFY(r.verified && r.correct);
    // a marker outside <think> does not count
    auto s = score_completion(cfg, "<think>1</think><answer>check</answer>", "1", 30, false, 109);
    QVERIFY(!s.verified);
  }

  void overlong_shaping() {
    // L = 100, buffer 20: no penalty up to 80, linear to −1 at 100, −1 when cut off.
    QCOMPARE(overlong_reward(80, false, 100, 20), 0.0);
    QCOMPARE(overlong_reward(90, false, 100, 20), -0.5);
    QCOMPARE(overlong_reward(100, false, 100, 20), -1.0);
    QCOMPARE(overlong_reward(100, true, 100, 20), -1.0);
    RewardConfig cfg;
    cfg.overlong = 1.0;
    auto r = score_completion(cfg, "<think>1</think><answer>1</answer>", "1", 90, false, 100);
    // default buffer 16: (84 − 90) / 16
    QCOMPARE(r.parts.at("overlong"), -0.375);
    QCOMPARE(r.total, 1.0 + 0.1 - 0.375);
  }

  void dataset_rewards_and_their_weighted_sum() {
    RewardConfig cfg;
    cfg.accuracy = 0.0;
    cfg.format = 0.5;
    cfg.math = 1.0;
    cfg.length = 0.1;
    cfg.length_target = 40;
    cfg.regex = 0.25;
    cfg.regex_patterns = {"\\bso\\b", "[0-9]+ \\* [0-9]+"};
    cfg.exact = 2.0;
    // Worked by hand: math 1 (\boxed{42} = 42), format 1, length −|50 − 40| / 40 = −0.25, regex 1 of 2
    // patterns = 0.5, exact 0 (the final text is "\boxed{42}", not "42").
    const std::string text = "<think>6 * 7 = 42, so</think><answer>\\boxed{42}</answer>";
    auto r = score_completion(cfg, text, "42", 50, false, 109);
    QCOMPARE(r.parts.at("math"), 1.0);
    QCOMPARE(r.parts.at("format"), 1.0);
    QCOMPARE(r.parts.at("length"), -0.25);
    QCOMPARE(r.parts.at("regex"), 1.0);  // "so" and "6 * 7"
    QCOMPARE(r.parts.at("exact"), 0.0);
    QVERIFY(std::abs(r.total - (1.0 + 0.5 - 0.025 + 0.25)) < 1e-12);
    QVERIFY(r.correct);  // math is on, so math decides
    QCOMPARE(RewardSet::active(cfg), (std::vector<std::string>{"accuracy", "format", "length", "math", "regex", "exact"}));
    auto half = score_completion(cfg, "<think>so</think><answer>1</answer>", "42", 40, false, 109);
    QCOMPARE(half.parts.at("regex"), 0.5);
    QCOMPARE(half.parts.at("length"), 0.0);
    QVERIFY(!half.correct);
  }

  void format_pattern_is_a_full_match() {
    RewardConfig cfg;
    cfg.format_pattern = "Answer: [0-9]+";
    QCOMPARE(score_completion(cfg, "Answer: 12", "12", 5, false, 109).parts.at("format"), 1.0);
    QCOMPARE(score_completion(cfg, "Answer: 12 because", "12", 5, false, 109).parts.at("format"), 0.0);
    QCOMPARE(score_completion(cfg, "So. Answer: 12", "12", 5, false, 109).parts.at("format"), 0.0);
    cfg.format_pattern = "(?x) Answer: \\s [0-9]+  # a comment runs to the end of the pattern";
    QCOMPARE(score_completion(cfg, "Answer: 12", "12", 5, false, 109).parts.at("format"), 1.0);
    QCOMPARE(score_completion(cfg, "Answer: 12!", "12", 5, false, 109).parts.at("format"), 0.0);
    cfg.format_pattern = "<think>.*</think>\\s*<answer>.*</answer>";  // "." crosses lines (DOTALL)
    QCOMPARE(score_completion(cfg, "<think>a\nb</think>\n<answer>1</answer>", "1", 5, false, 109).parts.at("format"), 1.0);
  }

  void length_and_exact_by_hand() {
    QCOMPARE(length_reward(40, 40), 0.0);
    QCOMPARE(length_reward(30, 40), -0.25);
    QCOMPARE(length_reward(200, 40), -1.0);  // at least −1
    QCOMPARE(exact_reward("<think>x</think>  Paris \n", "Paris"), 1.0);
    QCOMPARE(exact_reward("<think>x</think><answer> New   York </answer>", "New York"), 1.0);
    QCOMPARE(exact_reward("paris", "Paris"), 0.0);  // exact: case counts
    QCOMPARE(exact_reward("anything", ""), 0.0);    // no reference, no reward
  }

  void default_markers_for_datasets_are_r1s() {
    QVERIFY(has_verification_marker("Wait, wait. Wait. That's an aha moment", r1_markers()));
    QVERIFY(has_verification_marker("Let me verify: 3 * 4 = 12", r1_markers()));
    QVERIFY(has_verification_marker("let me double-check the sum", r1_markers()));
    QVERIFY(!has_verification_marker("The answer is 12.", r1_markers()));
  }

  void reward_server_request_and_reply_checks() {
    ScoreInput a, b;
    a.prompt = "p1", a.completion = "c1", a.reference = "1";
    a.columns = {{"prompt", "p1"}, {"answer", "1"}, {"level", 3}};
    b.prompt = "p2", b.completion = "c2", b.reference = "2";
    b.columns = {{"prompt", "p2"}, {"reward_model", {{"ground_truth", "2"}}}};
    const auto req = RewardServerClient::request({a, b}, 7);
    QCOMPARE(req["protocol"].get<std::string>(), std::string(kRewardProtocol));
    QCOMPARE(req["id"].get<int>(), 7);
    QCOMPARE(req["completions"], (nlohmann::json{"c1", "c2"}));
    QVERIFY(!req["columns"].contains("prompt"));  // TRL passes every column but the prompt
    QCOMPARE(req["columns"]["answer"], (nlohmann::json{"1", "2"}));  // the reference where the row has no answer column
    QCOMPARE(req["columns"]["level"], (nlohmann::json{3, nullptr}));
    QCOMPARE(req["columns"]["reward_model"][1]["ground_truth"].get<std::string>(), std::string("2"));

    const auto ok = RewardServerClient::parse_reply(R"({"id": 7, "rewards": [0.5, null]})", 2, 7, "tcp://x:1");
    QCOMPARE(ok[0], 0.5);
    QVERIFY(std::isnan(ok[1]));
    auto refused = [](const std::string& reply, const char* why) {
      try {
        RewardServerClient::parse_reply(reply, 2, 7, "tcp://x:1");
      } catch (const RewardServerError& e) {
        const std::string m = e.what();
        return m.find("reward server tcp://x:1") != std::string::npos && m.find(why) != std::string::npos;
      }
      return false;
    };
    QVERIFY(refused(R"({"id": 7, "rewards": [1]})", "1 rewards for 2 completions"));
    QVERIFY(refused(R"({"id": 7, "rewards": [1, "high"]})", "reward 1 is \"high\""));
    QVERIFY(refused(R"({"id": 7, "error": "ValueError: bad row"})", "ValueError: bad row"));
    QVERIFY(refused("not json", "not a JSON object"));
    QVERIFY(refused(R"({"id": 6, "rewards": [1, 2]})", "not 7"));
  }

  // A REP server in this process that answers its first request too late (the client has given up on it
  // and resent the request on a fresh socket, Lazy Pirate), then the resend at once.
  void server_nulls_are_left_out_and_a_silent_server_is_waited_for() {
    zmq::context_t ctx(1);
    zmq::socket_t rep(ctx, zmq::socket_type::rep);
    rep.bind("tcp://127.0.0.1:*");
    const std::string address = rep.get(zmq::sockopt::last_endpoint);
    std::atomic<bool> done{false};
    std::thread server([&] {
      for (int served = 0; !done;) {
        zmq::pollitem_t item{static_cast<void*>(rep), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, std::chrono::milliseconds(50));
        if (!(item.revents & ZMQ_POLLIN)) continue;
        zmq::message_t m;
        (void)rep.recv(m);
        const auto req = nlohmann::json::parse(m.to_string());
        if (served++ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(450));  // past the timeout
        const nlohmann::json reply = {{"id", req["id"]}, {"rewards", {0.5, nullptr}}};
        rep.send(zmq::buffer(reply.dump()));
      }
    });
    RewardConfig cfg;
    cfg.accuracy = 1.0;
    cfg.format = 0.0;
    cfg.server = 2.0;
    cfg.server_address = address;
    cfg.server_timeout = 0.3;
    RewardSet set(cfg);
    ScoreInput a, b;
    a.completion = "<answer>1</answer>", a.reference = "1";
    b.completion = "<answer>2</answer>", b.reference = "1";
    std::vector<bool> waits;
    std::string reason;
    const auto r = set.score(cfg, {a, b}, 100, [&](bool waiting, const std::string& why) {
      if (waits.empty() ? waiting : waits.back() != waiting) waits.push_back(waiting);  // the changes of state
      if (waiting) reason = why;
      return true;
    });
    done = true;
    server.join();
    QCOMPARE(waits, (std::vector<bool>{true, false}));  // waited, then answered
    QCOMPARE(QString::fromStdString(reason), QString::fromStdString("reward server " + address + " not answering"));
    QCOMPARE(r[0].parts.at("server"), 0.5);
    QCOMPARE(r[0].total, 1.0 + 2.0 * 0.5);
    QVERIFY(std::isnan(r[1].parts.at("server")));  // null: not applicable
    QCOMPARE(r[1].total, 0.0);                       // left out of the sum, not scored as 0 · 2 by accident
  }

  void a_stop_while_waiting_abandons_the_wait() {
    zmq::context_t ctx(1);
    zmq::socket_t rep(ctx, zmq::socket_type::rep);  // bound, never answers
    rep.bind("tcp://127.0.0.1:*");
    RewardConfig cfg;
    cfg.server = 1.0;
    cfg.server_address = rep.get(zmq::sockopt::last_endpoint);
    cfg.server_timeout = 0.2;
    RewardSet set(cfg);
    ScoreInput a;
    a.completion = "x";
    int calls = 0;
    QVERIFY_THROWS_EXCEPTION(RewardWaitAborted, set.score(cfg, {a}, 100, [&](bool, const std::string&) { return ++calls < 3; }));
    QCOMPARE(calls, 3);
    QVERIFY_THROWS_EXCEPTION(RewardServerError, set.score(cfg, {a}, 100));  // no one to wait: an error at once
  }

  void server_reward_needs_an_endpoint() {
    RewardConfig cfg;
    cfg.server = 1.0;
    cfg.server_address = "tcp://127.0.0.1:1";
    QVERIFY_THROWS_EXCEPTION(ConfigError, [] {
      RewardConfig bad;
      bad.server = 1.0;  // no address
      validate_reward_config(bad, "x");
    }());
    validate_reward_config(cfg, "x");  // an address is enough to validate
    cfg.server_address = "localhost:5555";  // not a ZeroMQ endpoint
    QVERIFY_THROWS_EXCEPTION(ConfigError, validate_reward_config(cfg, "x"));
  }

  void reward_config_errors_name_the_key() {
    auto message = [](const std::function<void()>& f) -> std::string {
      try {
        f();
      } catch (const ConfigError& e) {
        return e.what();
      }
      return "";
    };
    Config c;
    QVERIFY(message([&] { apply_override(c, "rewards.bogus=1"); }).find("'rewards.bogus'") != std::string::npos);
    QVERIFY(message([&] { apply_override(c, "rewards.maths=1"); }).find("did you mean 'rewards.math'") != std::string::npos);
    QVERIFY(message([&] { apply_override(c, "rewards.math=lots"); }).find("must be a number") != std::string::npos);
    RewardConfig r;
    r.regex = 1.0;
    r.regex_patterns = {"ok", "(unclosed"};
    QVERIFY(message([&] { validate_reward_config(r, "x"); }).find("rewards.regex_patterns[1]") != std::string::npos);
    r = RewardConfig{};
    r.math_order = {"boxed", "boxed"};
    QVERIFY(message([&] { validate_reward_config(r, "x"); }).find("rewards.math_order") != std::string::npos);
    r = RewardConfig{};
    r.length = 1.0;
    QVERIFY(message([&] { validate_reward_config(r, "x"); }).find("rewards.length_target") != std::string::npos);
    r = RewardConfig{};
    r.correct = "math";  // math is off
    QVERIFY(message([&] { validate_reward_config(r, "x"); }).find("rewards.correct") != std::string::npos);
    r = RewardConfig{};
    r.accuracy = r.format = 0.0;
    QVERIFY(message([&] { validate_reward_config(r, "x"); }).find("all zero") != std::string::npos);
  }
};

QTEST_APPLESS_MAIN(TestRewards)
#include "test_rewards.moc"

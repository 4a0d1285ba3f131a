// Rule-based rewards on well-formed, malformed and wrong completions; markers; overlong shaping.
#include <QtTest>

#include "trainer/rewards.h"

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
};

QTEST_APPLESS_MAIN(TestRewards)
#include "test_rewards.moc"

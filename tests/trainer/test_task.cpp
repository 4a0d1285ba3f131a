// The built-in tasks: problems, the held-out set, the check procedures (against the research note's
// worked examples), the pretraining traces with their loss masks, and the trace parser.
#include <QtTest>

#include "trainer/task.h"

using namespace grpo;

class TestTask : public QObject {
  Q_OBJECT
 private slots:
  void addition_check_matches_the_worked_examples() {
    TaskConfig cfg;
    ArithmeticTask task(cfg);
    QCOMPARE(task.check_procedure(40404, 31383), std::string("4+3+0=07,0+8+0=08,4+3+0=07,0+1+0=01,4+3+0=07:71787"));
    QCOMPARE(task.check_procedure(16168, 39267), std::string("8+7+0=15,6+6+1=13,1+2+1=04,6+9+0=15,1+3+1=05:55435"));
    auto p = task.make(39647, 46685);
    QCOMPARE(p.prompt, std::string("Q:39647+46685="));
    QCOMPARE(p.answer, std::string("86332"));
    QCOMPARE(task.prompt_length(), p.prompt.size());
  }

  void multiplication_check_matches_the_worked_example() {
    TaskConfig cfg;
    cfg.kind = "mul";
    ArithmeticTask task(cfg);
    QCOMPARE(task.check_procedure(347, 26),
             std::string("7*6+0=42,4*6+4=28,3*6+2=20 7*2+0=14,4*2+1=09,3*2+0=06 "
                         "2+0+0=02,8+4+0=12,0+9+1=10,2+6+1=09,0+0+0=00:09022"));
    QCOMPARE(task.make(347, 26).answer, std::string("09022"));
    QCOMPARE(task.prompt_length(), task.make(347, 26).prompt.size());
  }

  void every_check_computes_the_answer() {
    for (const char* kind : {"add", "mul"}) {
      TaskConfig cfg;
      cfg.kind = kind;
      ArithmeticTask task(cfg);
      std::mt19937_64 rng(1);
      for (int i = 0; i < 2000; ++i) {
        auto p = task.sample(rng);
        const auto proc = task.check_procedure(p.a, p.b);
        QCOMPARE(proc.substr(proc.size() - 5), p.answer);
      }
    }
  }

  void held_out_problems_are_never_sampled() {
    TaskConfig cfg;
    cfg.held_out = 500;
    ArithmeticTask task(cfg);
    QCOMPARE(task.held_out().size(), size_t{500});
    std::mt19937_64 rng(2);
    for (int i = 0; i < 20000; ++i) {
      auto p = task.sample(rng);
      QVERIFY(!task.is_held_out(p.a, p.b));
    }
    // the held-out set is fixed by the task's seed, not by the run
    ArithmeticTask again(cfg);
    QCOMPARE(again.held_out()[17].prompt, task.held_out()[17].prompt);
  }

  void traces_and_loss_masks() {
    TaskConfig cfg;
    ArithmeticTask task(cfg);
    auto p = task.make(16168, 39267);
    auto direct = task.direct_trace(p);
    QCOMPARE(direct.completion, std::string("<think>55435</think><answer>55435</answer>\n"));
    QCOMPARE(std::count(direct.loss.begin(), direct.loss.end(), 0), 0L);

    auto wrong = task.check_trace(p, "25489", /*mask_branch=*/true);
    QCOMPARE(wrong.completion, std::string("<think>25489 check 8+7+0=15,6+6+1=13,1+2+1=04,6+9+0=15,1+3+1=05:55435 "
                                           "wait</think><answer>55435</answer>\n"));
    for (int i = 7; i < 12; ++i) QCOMPARE(int(wrong.loss[static_cast<size_t>(i)]), 0);  // wrong guess: no loss
    QCOMPARE(int(wrong.loss[12]), 0);                                                 // branch character
    QCOMPARE(std::count(wrong.loss.begin(), wrong.loss.end(), 0), 6L);

    auto right = task.check_trace(p, "55435", /*mask_branch=*/false);
    QVERIFY(right.completion.find(":55435 ok</think>") != std::string::npos);
    QCOMPARE(std::count(right.loss.begin(), right.loss.end(), 0), 0L);
  }

  void parser_reads_every_trace_kind() {
    TaskConfig cfg;
    ArithmeticTask task(cfg);
    auto p = task.make(16168, 39267);
    auto d = task.parse(task.direct_trace(p).completion);
    QVERIFY(d.well_formed && !d.checked);
    QCOMPARE(d.guess, std::string("55435"));
    auto w = task.parse(task.check_trace(p, "25489", false).completion);
    QVERIFY(w.well_formed && w.checked);
    QCOMPARE(w.guess, std::string("25489"));
    QCOMPARE(w.check_result, std::string("55435"));
    QCOMPARE(w.label, std::string("wait"));
    QCOMPARE(w.answer, std::string("55435"));
    QVERIFY(!task.parse("<think>5543</think><answer>55435</answer>").well_formed);
    QVERIFY(!task.parse("<think>55435 check 1+1+0=02:00002 maybe</think><answer>00002</answer>").well_formed);
    QVERIFY(!task.parse("garbage").well_formed);
  }
};

QTEST_APPLESS_MAIN(TestTask)
#include "test_task.moc"

// The run store: appends number records with a monotonic seq, samples keep their per-token arrays,
// NaN metrics survive, a reader sees a live writer's data, and truncation on resume never reuses a seq;
// evaluation samples are kept apart from training samples (also in history), and older stores upgrade.
#include <QtTest>

#include <cmath>

#include "ipc/messages.h"
#include "ipc/protocol.h"
#include "ipc/run_store.h"
#include "ipc/sqlite_db.h"

using namespace grpo::ipc;

class TestRunStore : public QObject {
  Q_OBJECT
 private slots:
  void metrics_samples_events_round_trip() {
    QTemporaryDir dir;
    const std::string path = dir.path().toStdString() + "/run.sqlite";
    auto w = RunStore::open_for_writing(path);
    w.set_meta("run_id", "r1");
    const int64_t s1 = w.append_event(0, 1.0, "start", {{"x", 1}});
    const int64_t s2 = w.append_metrics(1, 2.0, {{"reward", 0.5}, {"kl", std::nan("")}});
    SampleRecord s;
    s.step = 1;
    s.group = 0;
    s.index = 1;
    s.prompt = "Q:1+2=";
    s.completion = "<think>3</think><answer>3</answer>";
    s.answer = "3";
    s.reward = 1.1;
    s.rewards = {{"accuracy", 1.0}, {"format", 1.0}};
    s.advantage = 0.7;
    s.length = 3;
    s.correct = s.verified = true;
    s.tokens = {5, 6, 1};
    s.offsets = {0, 1, 2};
    s.logp_old = {-0.1f, -0.2f, -0.3f};
    s.logp = {-0.05f, -0.2f, -0.35f};
    s.entropy = {1.0f, 0.5f, 0.25f};
    s.kl = {0.0f, 0.01f, 0.02f};
    const int64_t s3 = w.append_samples(1, {s});
    QVERIFY(s1 < s2 && s2 < s3);

    auto r = RunStore::open_for_reading(path);  // while the writer is open
    QCOMPARE(*r.meta("run_id"), std::string("r1"));
    QCOMPARE(r.last_seq(), s3);
    QCOMPARE(r.last_step(), int64_t{1});
    QCOMPARE(r.metric_names(), (std::vector<std::string>{"kl", "reward"}));
    QCOMPARE(r.metric_series("reward").at(0).value, 0.5);
    QVERIFY(std::isnan(r.metrics_at(1).at("kl")));
    const auto back = r.samples_at(1);
    QCOMPARE(back.size(), size_t{1});
    QCOMPARE(back[0].completion, s.completion);
    QCOMPARE(back[0].rewards, s.rewards);
    QCOMPARE(back[0].tokens, s.tokens);
    QCOMPARE(back[0].logp, s.logp);
    QCOMPARE(back[0].kl, s.kl);
    QVERIFY(back[0].correct && back[0].verified && !back[0].truncated);
    QCOMPARE(r.events().at(0).kind, std::string("start"));
    QCOMPARE(r.events().at(0).data["x"].get<int>(), 1);
  }

  void truncation_keeps_seq_monotonic() {
    QTemporaryDir dir;
    const std::string path = dir.path().toStdString() + "/run.sqlite";
    int64_t last = 0;
    {
      auto w = RunStore::open_for_writing(path);
      for (int step = 1; step <= 4; ++step) last = w.append_metrics(step, step, {{"reward", step * 0.1}});
    }
    auto w = RunStore::open_for_writing(path);  // reopened, as a resumed run does
    w.truncate_after_step(2);
    QCOMPARE(w.last_step(), int64_t{2});
    const int64_t next = w.append_metrics(3, 9.0, {{"reward", 0.9}});
    QVERIFY(next > last);
    QCOMPARE(w.metric_series("reward").size(), size_t{3});
  }

  void eval_samples_are_kept_apart() {
    QTemporaryDir dir;
    const std::string path = dir.path().toStdString() + "/run.sqlite";
    auto w = RunStore::open_for_writing(path);
    SampleRecord train, eval;
    train.completion = "trained";
    train.tokens = {1, 2};
    eval.completion = "held out";
    eval.group = 3;  // the held-out prompt's index
    eval.logp = {-0.5f};
    w.append_metrics(2, 1.0, {{"reward", 1.0}});
    const int64_t a = w.append_samples(2, {train});
    const int64_t b = w.append_samples(2, {eval}, SampleSplit::kEval);  // same step, group and index: no clash
    w.append_samples(4, {eval}, SampleSplit::kEval);
    auto r = RunStore::open_for_reading(path);
    QCOMPARE(r.samples_at(2).size(), size_t{1});
    QCOMPARE(r.samples_at(2)[0].completion, std::string("trained"));
    QCOMPARE(r.samples_at(2, SampleSplit::kEval)[0].completion, std::string("held out"));
    QCOMPARE(r.samples_at(2, SampleSplit::kEval)[0].group, int64_t{3});
    QCOMPARE(r.samples_at(2, SampleSplit::kEval)[0].logp, eval.logp);
    QCOMPARE(r.sample_steps(), (std::vector<int64_t>{2}));
    QCOMPARE(r.sample_steps(SampleSplit::kEval), (std::vector<int64_t>{2, 4}));
    // History pages both, each marked with its split, in seq order.
    const auto page = history_page(r, "r", a - 1, 100);
    std::vector<std::string> splits;
    for (const auto& m : page["messages"])
      if (m["topic"] == protocol::kTopicSamples) splits.push_back(m["payload"]["split"].get<std::string>());
    QCOMPARE(splits, (std::vector<std::string>{protocol::kSplitTrain, protocol::kSplitEval, protocol::kSplitEval}));
    QVERIFY(b > a);
    // A resume drops the evaluation samples of replayed steps too.
    w.truncate_after_step(2);
    QCOMPARE(w.sample_steps(SampleSplit::kEval), (std::vector<int64_t>{2}));
  }

  void a_version_2_store_is_read_and_upgraded() {
    QTemporaryDir dir;
    const std::string path = dir.path().toStdString() + "/run.sqlite";
    {
      auto w = RunStore::open_for_writing(path);
      w.append_metrics(1, 1.0, {{"reward", 0.5}});
    }
    {  // make it what a version 2 build wrote: no eval_samples
      Database db(path, false);
      db.exec("DROP TABLE eval_samples; UPDATE meta SET value='2' WHERE key='schema_version';");
    }
    auto old = RunStore::open_for_reading(path);
    QVERIFY(old.sample_steps(SampleSplit::kEval).empty());
    QVERIFY(old.samples_at(1, SampleSplit::kEval).empty());
    QCOMPARE(history_page(old, "r", 0, 10)["messages"].size(), size_t{1});
    auto w = RunStore::open_for_writing(path);  // a resumed run upgrades it
    QCOMPARE(*w.meta("schema_version"), std::to_string(kRunStoreSchemaVersion));
    w.append_samples(2, {SampleRecord{}}, SampleSplit::kEval);
    QCOMPARE(w.sample_steps(SampleSplit::kEval), (std::vector<int64_t>{2}));
    QCOMPARE(w.metric_series("reward").size(), size_t{1});
  }

  void refuses_what_is_not_a_run_store() {
    QTemporaryDir dir;
    QFile f(dir.path() + "/x.sqlite");
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("not sqlite at all, just text that is long enough to be looked at by sqlite's header check....");
    f.close();
    QVERIFY_THROWS_EXCEPTION(StoreError, RunStore::open_for_reading((dir.path() + "/x.sqlite").toStdString()));
    QVERIFY_THROWS_EXCEPTION(StoreError, RunStore::open_for_reading((dir.path() + "/missing.sqlite").toStdString()));
  }
};

QTEST_APPLESS_MAIN(TestRunStore)
#include "test_run_store.moc"

// Datasets and reward functions end to end, as a user runs them: `make-data` in TRL's, messages and veRL's
// shapes trains on the built-in model size with the math and format rewards and eval/* from data.eval;
// stored samples carry the rows' columns; a run killed mid-epoch resumes at the same data position (the
// steps after resume equal an uninterrupted run's); the reward server of docs/examples runs against a live
// run, killing it puts the run in "waiting" and restarting it lets training go on, and a malformed reply
// fails the run naming the server; `score` and `eval --data`; bad data and reward configs exit 2 naming
// the file, line or key.
#include <QtTest>

#include <nlohmann/json.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>

#include "ipc/run_store.h"
#include "tests/integration/process_run.h"

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using grpo::testing::Result;

Result train(const QStringList& args, const QString& cwd, int timeout_ms = 300000) {
  return grpo::testing::run_program(GRPO_TRAIN_EXE, args, cwd, timeout_ms);
}

// A random init of a small built-in-style model with an ASCII alphabet, quick settings.
const QStringList kSmall = {"--set", "model.init=", "--set", "model.alphabet=ascii", "--set", "model.d_model=32",
                            "--set", "model.n_layers=1", "--set", "model.n_heads=2", "--set", "model.n_kv_heads=2",
                            "--set", "model.mlp_hidden=64", "--set", "model.context=640",
                            "--set", "sampling.max_new_tokens=24", "--set", "grpo.prompts_per_step=4",
                            "--set", "grpo.group_size=4", "--set", "grpo.minibatches=1", "--set", "sample_prompts=2",
                            "--set", "grpo.beta=0", "--no-serve", "--quiet"};

bool is_timing(const std::string& name) { return name.rfind("time/", 0) == 0 || name.rfind("tokens_per_sec/", 0) == 0; }

void write_file(const QString& path, const std::string& text) {
  std::ofstream(path.toStdString(), std::ios::binary) << text;
}

grpo::ipc::RunStore store_of(const QString& dir, const QString& run) {
  return grpo::ipc::RunStore::open_for_reading((dir + "/runs/" + run + "/run.sqlite").toStdString());
}

// Short arithmetic rows (quick to roll out) in TRL's string shape.
std::string short_rows(int n) {
  std::string out;
  for (int i = 0; i < n; ++i)
    out += json{{"prompt", "Q: " + std::to_string(i) + "+" + std::to_string(i + 1) + "="}, {"answer", std::to_string(2 * i + 1)},
                {"row_id", i}, {"data_source", i % 2 ? "odd" : "even"}}.dump() + "\n";
  return out;
}

}  // namespace

class TestDatasets : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private slots:
  void make_data_in_every_shape_trains_with_math_format_and_eval() {
    for (const QString style : {"trl", "messages", "verl"}) {
      const QString out = dir_.path() + "/wp-" + style;
      const Result m = train({"make-data", "--out", out, "--train", "40", "--eval", "6", "--style", style}, dir_.path());
      QVERIFY2(m.code == 0, qPrintable(m.err));
      QVERIFY(QFile::exists(out + "/train.jsonl") && QFile::exists(out + "/eval.jsonl"));
      QStringList args = {"run", "--config", QString(GRPO_SOURCE_DIR) + "/resources/configs/word-problems.json",
                          "--name", "wp-" + style, "--set", "data.train=" + out + "/train.jsonl",
                          "--set", "data.eval=" + out + "/eval.jsonl", "--set", "max_steps=2", "--set", "eval_every=2",
                          "--set", "eval_prompts=6", "--set", "eval_samples=2", "--set", "checkpoint_every=0"};
      if (style != "trl")  // messages prompts need a chat template; the built-in model has none of its own
        args << "--set" << "data.chat_template=" + QString(GRPO_SOURCE_DIR) + "/tests/integration/data/plain_chat.jinja";
      const Result r = train(args + kSmall, dir_.path());
      QVERIFY2(r.code == 0, qPrintable(style + ": " + r.err));
      const auto store = store_of(dir_.path(), "wp-" + style);
      const auto m2 = store.metrics_at(2);
      for (const char* k : {"reward/math/mean", "reward/format/mean", "reward", "eval/greedy_accuracy",
                            "eval/sampled_accuracy", "eval/pass@k", "eval/reward/math/mean",
                            "eval/source/grpo-studio_word-problems/greedy_accuracy"})
        QVERIFY2(m2.count(k) == 1, qPrintable(style + ": no metric " + k));
      QVERIFY(std::isfinite(m2.at("reward/math/mean")) && std::isfinite(m2.at("eval/greedy_accuracy")));
      QVERIFY(store.metrics_at(0).count("eval/greedy_accuracy") == 1);  // the start of the eval curve
      const auto samples = store.samples_at(1);
      QVERIFY(!samples.empty());
      for (const auto& s : samples) {  // the rows' columns travel with the samples
        QCOMPARE(s.columns.value("data_source", ""), std::string("grpo-studio/word-problems"));
        QVERIFY(!s.answer.empty());
        if (style == "verl") {
          QCOMPARE(s.columns["reward_model"]["ground_truth"].get<std::string>(), s.answer);
        } else {
          QCOMPARE(s.columns["answer"].get<std::string>(), s.answer);
          QVERIFY(s.columns["solution"].get<std::string>().find("#### " + s.answer) != std::string::npos);
        }
        if (style != "trl") QVERIFY(s.prompt.rfind("user: ", 0) == 0);  // rendered by the chat template
      }
    }
  }

  void resume_after_a_kill_mid_epoch_continues_at_the_same_row() {
    write_file(dir_.path() + "/ten.jsonl", short_rows(10));
    const QStringList common = QStringList{"--set", "data.train=" + dir_.path() + "/ten.jsonl", "--set", "max_steps=6",
                                           "--set", "checkpoint_every=3", "--set", "eval_every=0", "--set",
                                           "rewards.format=0.5"} + kSmall;
    const Result whole = train(QStringList{"run", "--name", "whole"} + common, dir_.path());
    QVERIFY2(whole.code == 0, qPrintable(whole.err));

    // Kill -9 once step 3's checkpoint is on disk (4 prompts a step over 10 rows: step 3 ends mid-epoch 2).
    QProcess p;
    p.setWorkingDirectory(dir_.path());
    p.start(GRPO_TRAIN_EXE, QStringList{"run", "--name", "killed"} + common);
    const QString ck = dir_.path() + "/runs/killed/checkpoints/step_000003.pt";
    QDeadlineTimer deadline(120000);
    while (!QFile::exists(ck) && !deadline.hasExpired()) QTest::qWait(20);
    QVERIFY2(QFile::exists(ck), "step 3's checkpoint never appeared");
    ::kill(static_cast<pid_t>(p.processId()), SIGKILL);
    QVERIFY(p.waitForFinished(10000));
    const Result resumed = train({"run", "--name", "killed", "--resume", "--no-serve", "--quiet"}, dir_.path());
    QVERIFY2(resumed.code == 0, qPrintable(resumed.err));

    const auto a = store_of(dir_.path(), "whole"), b = store_of(dir_.path(), "killed");
    for (int64_t step = 4; step <= 6; ++step) {
      const auto ma = a.metrics_at(step), mb = b.metrics_at(step);
      QVERIFY(!ma.empty());
      for (const auto& [name, v] : ma) {
        if (is_timing(name)) continue;
        QVERIFY2(mb.count(name), qPrintable(QString("step %1: %2 missing after resume").arg(step).arg(name.c_str())));
        QVERIFY2(v == mb.at(name) || (std::isnan(v) && std::isnan(mb.at(name))),
                 qPrintable(QString("step %1: %2 = %3 uninterrupted, %4 resumed").arg(step).arg(name.c_str()).arg(v).arg(mb.at(name))));
      }
      const auto sa = a.samples_at(step), sb = b.samples_at(step);
      QCOMPARE(sa.size(), sb.size());
      for (size_t i = 0; i < sa.size(); ++i) {
        QCOMPARE(sa[i].columns["row_id"], sb[i].columns["row_id"]);  // the same rows, in the same order
        QCOMPARE(sa[i].completion, sb[i].completion);
      }
    }
  }

  void reward_server_pauses_the_run_when_killed_and_resumes_when_back() {
    write_file(dir_.path() + "/rows.jsonl", short_rows(8));
    const QString server = QString(GRPO_SOURCE_DIR) + "/docs/examples/reward_server.py";
    auto start_server = [&](QProcess& s, const QString& bind, const QString& fn) -> QString {
      s.setWorkingDirectory(QString(GRPO_SOURCE_DIR) + "/docs/examples");
      s.start(GRPO_PYTHON3, {server, "--bind", bind, fn});
      if (!s.waitForReadyRead(20000)) return {};
      const QString line = QString::fromUtf8(s.readLine()).trimmed();
      return line.startsWith("listening on ") ? line.mid(13) : QString();
    };
    QProcess s1;
    const QString address = start_server(s1, "tcp://127.0.0.1:*", "my_reward:accuracy");
    QVERIFY2(!address.isEmpty(), qPrintable("the reward server did not start: " + QString::fromUtf8(s1.readAllStandardError())));

    QProcess run;
    run.setWorkingDirectory(dir_.path());
    run.start(GRPO_TRAIN_EXE, QStringList{"run", "--name", "served", "--set", "data.train=" + dir_.path() + "/rows.jsonl",
                                          "--set", "max_steps=1000", "--set", "eval_every=0", "--set", "checkpoint_every=0",
                                          "--set", "rewards.server=1", "--set", "rewards.server_address=" + address,
                                          "--set", "rewards.server_timeout=0.5"} + kSmall);
    const QString db = dir_.path() + "/runs/served/run.sqlite";
    auto last_step = [&] {
      if (!QFile::exists(db)) return int64_t{0};
      try {
        return grpo::ipc::RunStore::open_for_reading(db.toStdString()).last_step();
      } catch (const std::exception&) {
        return int64_t{0};
      }
    };
    auto last_status = [&] {
      json out;
      try {
        for (const auto& e : grpo::ipc::RunStore::open_for_reading(db.toStdString()).events())
          if (e.kind == "status") out = e.data;
      } catch (const std::exception&) {
      }
      return out;
    };
    QVERIFY2(QTest::qWaitFor([&] { return last_step() >= 2; }, 120000), "no steps with the reward server");
    QVERIFY(grpo::ipc::RunStore::open_for_reading(db.toStdString()).metrics_at(2).count("reward/server/mean") == 1);

    s1.kill();  // the server dies: the run waits, saying why
    QVERIFY(s1.waitForFinished(5000));
    QVERIFY2(QTest::qWaitFor([&] { return last_status().value("state", "") == "waiting"; }, 30000), "never went to waiting");
    const json waiting = last_status();
    QVERIFY2(waiting.value("reason", "").find("reward server " + address.toStdString() + " not answering") != std::string::npos,
             waiting.dump().c_str());
    const int64_t stuck_at = last_step();
    QTest::qWait(1500);
    QCOMPARE(last_step(), stuck_at);  // nothing scored meanwhile

    QProcess s2;  // back at the same address: training goes on
    QCOMPARE(start_server(s2, address, "my_reward:accuracy"), address);
    QVERIFY2(QTest::qWaitFor([&] { return last_step() >= stuck_at + 2; }, 60000), "training did not continue");
    QCOMPARE(QString::fromStdString(last_status().value("state", "")), QString("running"));

    // It dies again, and a SIGTERM while the run waits stops it cleanly at the last completed step.
    s2.kill();
    QVERIFY(s2.waitForFinished(5000));
    QVERIFY2(QTest::qWaitFor([&] { return last_status().value("state", "") == "waiting"; }, 30000), "never waited again");
    const int64_t last = last_step();
    ::kill(static_cast<pid_t>(run.processId()), SIGTERM);
    QVERIFY(run.waitForFinished(60000));
    QVERIFY2(run.exitStatus() == QProcess::NormalExit && run.exitCode() == 0, run.readAllStandardError().constData());
    QCOMPARE(last_step(), last);  // the abandoned step left no metrics
    QVERIFY(QFile::exists(dir_.path() + QString("/runs/served/checkpoints/step_%1.pt").arg(last, 6, 10, QChar('0'))));
    QCOMPARE(QString::fromStdString(grpo::ipc::RunStore::open_for_reading(db.toStdString()).meta("state").value_or("")),
             QString("stopped"));

    // A reply with one reward too few is refused, naming the server.
    QProcess s3;
    const QString bad = start_server(s3, "tcp://127.0.0.1:*", "my_reward:wrong_length");
    QVERIFY(!bad.isEmpty());
    const Result r = train(QStringList{"run", "--name", "malformed", "--set", "data.train=" + dir_.path() + "/rows.jsonl",
                                       "--set", "max_steps=2", "--set", "eval_every=0", "--set", "rewards.server=1",
                                       "--set", "rewards.server_address=" + bad} + kSmall, dir_.path());
    s3.kill();
    s3.waitForFinished(5000);
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("reward server " + bad) && r.err.contains("completions"), qPrintable(r.err));
  }

  void score_prints_every_reward_per_row() {
    write_file(dir_.path() + "/scored.jsonl",
               R"({"prompt": "What is 6*7?", "completion": "<think>6*7 = 42</think><answer>42</answer>", "answer": "42"})" "\n"
               R"({"prompt": "Half of 3?", "completion": "It is \\boxed{\\frac{3}{2}}", "answer": "1.5"})" "\n"
               R"({"prompt": "x", "completion": "no idea", "answer": "7"})" "\n");
    const Result r = train({"score", "--input", dir_.path() + "/scored.jsonl", "--json", "--set", "rewards.math=1",
                            "--set", "rewards.accuracy=0", "--set", "rewards.format=0.5", "--set", "model.init=",
                            "--set", "model.alphabet=ascii"}, dir_.path());
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const QStringList lines = r.out.trimmed().split('\n');
    QCOMPARE(lines.size(), 3);
    const json a = json::parse(lines[0].toStdString()), b = json::parse(lines[1].toStdString()),
               c = json::parse(lines[2].toStdString());
    // Worked by hand: row 1 is well formed and right (1 + 0.5 · 1), row 2 right by value but unformatted,
    // row 3 has no answer at all.
    QCOMPARE(a["math"].get<double>(), 1.0);
    QCOMPARE(a["format"].get<double>(), 1.0);
    QCOMPARE(a["total"].get<double>(), 1.5);
    QCOMPARE(b["math"].get<double>(), 1.0);
    QCOMPARE(b["format"].get<double>(), 0.0);
    QCOMPARE(b["total"].get<double>(), 1.0);
    QCOMPARE(c["math"].get<double>(), 0.0);
    QCOMPARE(c["total"].get<double>(), 0.0);
    QCOMPARE(a["line"].get<int>(), 1);
    QCOMPARE(c["correct"].get<bool>(), false);
  }

  void eval_on_a_dataset_reports_per_data_source() {
    write_file(dir_.path() + "/evalrows.jsonl", short_rows(6));
    const Result r = train({"eval", "--checkpoint", "builtin:demo-base", "--data", dir_.path() + "/evalrows.jsonl",
                            "--samples", "2", "--max-new-tokens", "40", "--json"}, dir_.path());
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const json j = json::parse(r.out.toStdString());
    QCOMPARE(j["prompts"].get<int>(), 6);
    QCOMPARE(j["samples_per_prompt"].get<int>(), 2);
    QCOMPARE(j["correct_reward"].get<std::string>(), std::string("accuracy"));
    QVERIFY(j["by_source"].contains("odd") && j["by_source"].contains("even"));
    QCOMPARE(j["by_source"]["odd"]["prompts"].get<int>(), 3);
    const double acc = j["greedy_accuracy"].get<double>();
    QVERIFY(acc >= 0.0 && acc <= 1.0);
  }

  void bad_data_and_reward_configs_exit_2_naming_what() {
    struct Case {
      std::string file;  // written to bad.jsonl ("" = none)
      QStringList sets;
      QStringList expect;
    };
    const QString bad = dir_.path() + "/bad.jsonl";
    const std::vector<Case> cases = {
        {"{\"prompt\": \"a\"}\n{not json\n", {}, {"bad.jsonl", "line 2"}},
        {"{\"prompt\": \"a\"}\n{\"question\": \"b\"}\n", {}, {"bad.jsonl", "line 2", "prompt"}},
        {"{\"prompt\": 42}\n", {}, {"line 1", "'prompt'"}},
        {"{\"prompt\": [{\"role\": \"user\", \"content\": 5}]}\n", {}, {"line 1", "prompt[0].content"}},
        {"", {}, {"bad.jsonl", "no rows"}},
        {"{\"prompt\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n", {}, {"line 1", "chat template", "data.chat_template"}},
        {"{\"prompt\": \"a\"}\n", {"--set", "rewards.bogus=1"}, {"rewards.bogus"}},
        {"{\"prompt\": \"a\"}\n", {"--set", "rewards.math=lots"}, {"rewards.math", "a number"}},
        {"{\"prompt\": \"a\"}\n", {"--set", "rewards.regex=1", "--set", "rewards.regex_patterns=[\"(unclosed\"]"},
         {"rewards.regex_patterns[0]", "does not compile"}},
        {"{\"prompt\": \"a\"}\n", {"--set", "rewards.format_pattern=<think>[", "--set", "rewards.format=1"},
         {"rewards.format_pattern", "does not compile"}},
        {"{\"prompt\": \"a\"}\n", {"--set", "rewards.math_order=boxed,last_word"}, {"rewards.math_order", "last_word"}},
        {"{\"prompt\": \"a\"}\n", {"--set", "rewards.server=1"}, {"rewards.server_address"}},
        {"{\"prompt\": \"a\"}\n", {"--set", "rewards.server=1", "--set", "rewards.server_address=tcp://127.0.0.1:99999"},
         {"rewards.server_address", "port"}},
        {"{\"prompt\": \"a\"}\n", {"--set", "rewards.server=1", "--set", "rewards.server_address=tcp://nohost"},
         {"rewards.server_address"}},
        {"{\"prompt\": \"a\"}\n", {"--set", "rewards.server=1", "--set", "rewards.server_address=foo://bar"},
         {"rewards.server_address"}},
    };
    for (const auto& c : cases) {
      write_file(bad, c.file);
      const Result r = train(QStringList{"run", "--set", "data.train=" + bad} + c.sets + kSmall, dir_.path(), 120000);
      QVERIFY2(r.code == 2, qPrintable(QString("exit %1 for %2: %3").arg(r.code).arg(c.sets.join(' ')).arg(r.err)));
      for (const auto& e : c.expect)
        QVERIFY2(r.err.contains(e), qPrintable("'" + e + "' not in: " + r.err));
    }
    const Result missing = train(QStringList{"run", "--set", "data.train=" + dir_.path() + "/nope.jsonl"} + kSmall, dir_.path());
    QCOMPARE(missing.code, 2);
    QVERIFY2(missing.err.contains("nope.jsonl"), qPrintable(missing.err));
    QVERIFY(!QDir(dir_.path() + "/runs").entryList(QDir::Dirs | QDir::NoDotAndDotDot).contains("bad"));
  }
};

QTEST_GUILESS_MAIN(TestDatasets)
#include "test_datasets.moc"

// Steering a run through its failures, end to end: watchdogs fired by a real run driven into trouble
// through the protocol (a temperature so small that the logits overflow float32: non-finite; one that collapses the
// entropy), pausing within one step with intact checkpoints; rules listed in hello and set live; forks made
// with `grpo-train run --fork` that reproduce the parent exactly, differ when changed, name their parent,
// survive the parent's kill -9; and the fork command's bad input.
#include <QtTest>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "ipc/names.h"
#include "ipc/protocol.h"
#include "ipc/run_store.h"
#include "process_run.h"
#include "protocol_fixture.h"
#include "tiny_cli.h"
#include "trainer/checkpoint.h"

using namespace grpo;
using nlohmann::json;
namespace fs = std::filesystem;
namespace wd = ipc::watchdog;

namespace {

std::vector<ipc::EventRecord> events_of(const std::string& run_dir, const std::string& kind) {
  std::vector<ipc::EventRecord> out;
  for (auto& e : ipc::RunStore::open_for_reading(run_dir + "/run.sqlite").events())
    if (e.kind == kind) out.push_back(e);
  return out;
}

bool all_finite(Transformer& m) {
  for (const auto& p : m->parameters())
    if (!torch::isfinite(p).all().item<bool>()) return false;
  return true;
}

bool same_parameters(Transformer& a, Transformer& b) {
  auto pa = a->named_parameters(), pb = b->named_parameters();
  if (pa.size() != pb.size()) return false;
  for (const auto& item : pa)
    if (!torch::equal(item.value(), pb[item.key()])) return false;
  return true;
}

bool is_timing(const std::string& name) { return name.rfind("time/", 0) == 0 || name.rfind("tokens_per_sec/", 0) == 0; }

const QString kExe = GRPO_TRAIN_EXE;

}  // namespace

class TestSteering : public QObject {
  Q_OBJECT
 private slots:
  // A temperature of 1e-300 makes the logits overflow: the loss is NaN. The update is skipped, the nonfinite
  // rule pauses the run at that very step, and every checkpoint holds finite weights.
  void nonfinite_loss_pauses_before_the_update() {
    auto cfg = LiveRun::tiny_config();
    cfg.checkpoint_every = 1;
    cfg.keep_checkpoints = 100;
    LiveRun run(cfg);
    ipc::Client c;
    c.connect(run.endpoints());
    wait_status(c, [](const json& s) { return s["step"].get<int64_t>() >= 2; }, 60000);
    const int64_t from = c.request("set", {{"sampling.temperature", 1e-300}})["from_step"].get<int64_t>();
    const json st = wait_status(c, [](const json& s) { return s["state"] == ipc::protocol::kStatePaused; }, 60000);
    QCOMPARE(st["state"].get<std::string>(), std::string(ipc::protocol::kStatePaused));
    QCOMPARE(st["step"].get<int64_t>(), from);  // paused after the first step that saw the change

    const auto fired = events_of(run.run_dir(), ipc::event::kWatchdog);
    QVERIFY(!fired.empty());
    QCOMPARE(fired.front().data["rule"].get<std::string>(), std::string(wd::kNonFinite));
    QCOMPARE(fired.front().step, from);
    QCOMPARE(fired.front().data["action"].get<std::string>(), std::string(wd::kActionPause));
    QVERIFY(fired.front().data["message"].get<std::string>().find("skipped") != std::string::npos);
    const auto m = ipc::RunStore::open_for_reading(run.run_dir() + "/run.sqlite").metrics_at(from);
    QVERIFY(m.at(ipc::metric::kSkippedUpdates) >= 1);
    QVERIFY(!std::isfinite(m.at(ipc::metric::kLoss)));
    // The paused state says why.
    bool reason = false;
    for (const auto& e : events_of(run.run_dir(), ipc::event::kStatus))
      reason |= e.data.value("state", "") == ipc::protocol::kStatePaused &&
                e.data.value("reason", "").find("nonfinite") != std::string::npos;
    QVERIFY(reason);

    // The last checkpoint before the alarm, and the one written at it, load with finite weights.
    const std::string ck_dir = run.run_dir() + "/checkpoints";
    auto before = read_checkpoint(*checkpoint_at_or_before(ck_dir, from - 1));
    QCOMPARE(before.header.step, from - 1);
    QVERIFY(all_finite(before.model));
    auto at = read_checkpoint(*checkpoint_at_or_before(ck_dir, from));
    QCOMPARE(at.header.step, from);
    QVERIFY(all_finite(at.model));
    QVERIFY(same_parameters(before.model, at.model));  // the skipped updates left the weights as they were
    QVERIFY(run.error.empty());
  }

  // Entropy collapse (temperature 0.001) with the entropy floor set live to checkpoint_pause after one step:
  // a checkpoint at the alarm step, then the pause; resuming goes on without pausing again at once.
  void entropy_collapse_checkpoints_then_pauses() {
    LiveRun run;
    ipc::Client c;
    c.connect(run.endpoints());
    const json h = c.request("hello");
    QCOMPARE(h["watchdogs"].size(), size_t{7});
    QCOMPARE(h["live"]["watchdogs.entropy_floor.action"]["choices"].size(), size_t{5});
    wait_status(c, [](const json& s) { return s["step"].get<int64_t>() >= 1; }, 60000);
    const int64_t from = c.request("set", {{"watchdogs.entropy_floor.action", "checkpoint_pause"},
                                           {"watchdogs.entropy_floor.threshold", 0.05},
                                           {"watchdogs.entropy_floor.steps", 1},
                                           {"sampling.temperature", 1e-3}})["from_step"]
                             .get<int64_t>();
    const json st = wait_status(c, [](const json& s) { return s["state"] == ipc::protocol::kStatePaused; }, 60000);
    QCOMPARE(st["state"].get<std::string>(), std::string(ipc::protocol::kStatePaused));
    QCOMPARE(st["step"].get<int64_t>(), from);
    const auto fired = events_of(run.run_dir(), ipc::event::kWatchdog);
    QVERIFY(!fired.empty());
    QCOMPARE(fired[0].data["rule"].get<std::string>(), std::string(wd::kEntropyFloor));
    QCOMPARE(fired[0].data["metric"].get<std::string>(), std::string(ipc::metric::kEntropy));
    QVERIFY(fired[0].data["value"].get<double>() < 0.05);
    QCOMPARE(fired[0].data["checkpoint_step"].get<int64_t>(), from);
    auto ck = read_checkpoint(checkpoint_path(run.run_dir() + "/checkpoints", from));
    QVERIFY(all_finite(ck.model));

    c.request("resume");
    const json later = wait_status(c, [&](const json& s) { return s["step"].get<int64_t>() >= from + 3; }, 60000);
    QCOMPARE(later["state"].get<std::string>(), std::string(ipc::protocol::kStateRunning));
    int entropy_alarms = 0;  // latched while it holds (other rules, e.g. clipped_ceiling, may fire meanwhile)
    for (const auto& e : events_of(run.run_dir(), ipc::event::kWatchdog)) entropy_alarms += e.data["rule"] == wd::kEntropyFloor;
    QCOMPARE(entropy_alarms, 1);

    // Bad rule settings are refused, naming the key and the choices.
    try {
      c.request("set", {{"watchdogs.kl_ceiling.action", "explode"}});
      QFAIL("a bad action was accepted");
    } catch (const ipc::ClientError& e) {
      QCOMPARE(e.code(), std::string(ipc::protocol::kErrInvalidArgs));
      QVERIFY(std::string(e.what()).find("checkpoint_pause") != std::string::npos);
    }
  }

  // A fork with nothing changed reproduces the parent's next steps exactly; a fork with another lr does
  // not; both name their parent; --from-step takes the newest checkpoint at or before it.
  void forks_reproduce_or_differ() {
    QTemporaryDir tmp;
    const QString runs = tmp.path();
    QStringList parent = testing::tiny_args(runs, "parent");
    parent << "--set" << "max_steps=6" << "--set" << "checkpoint_every=2" << "--set" << "eval_every=2" << "--set"
           << "eval_prompts=4" << "--set" << "eval_store_prompts=3";
    auto r = testing::run_program(kExe, parent, runs, 300000);
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const std::string pdir = (runs + "/parent").toStdString();

    // Step 3 has no checkpoint: the fork starts from step 2's and replays 3..6.
    r = testing::run_program(kExe, testing::fork_args(runs, "same", runs + "/parent", 3), runs, 300000);
    QVERIFY2(r.code == 0, qPrintable(r.err));
    r = testing::run_program(kExe, testing::fork_args(runs, "faster", runs + "/parent", 3) << "--set" << "optim.lr=0.01", runs, 300000);
    QVERIFY2(r.code == 0, qPrintable(r.err));

    auto parent_store = ipc::RunStore::open_for_reading(pdir + "/run.sqlite");
    auto same = ipc::RunStore::open_for_reading((runs + "/same/run.sqlite").toStdString());
    auto faster = ipc::RunStore::open_for_reading((runs + "/faster/run.sqlite").toStdString());
    QCOMPARE(*same.meta(ipc::meta::kParentRun), std::string("parent"));
    QCOMPARE(*same.meta(ipc::meta::kParentStep), std::string("2"));
    QCOMPARE(*same.meta(ipc::meta::kParentDir), fs::absolute(pdir).lexically_normal().string());
    QCOMPARE(*faster.meta(ipc::meta::kParentStep), std::string("2"));
    QVERIFY(same.metrics_at(2).empty());  // the fork's own records start after the fork step
    for (int64_t step = 3; step <= 6; ++step) {
      const auto want = parent_store.metrics_at(step), got = same.metrics_at(step);
      QVERIFY(!want.empty());
      for (const auto& [name, v] : want) {
        if (is_timing(name)) continue;
        QVERIFY2(got.count(name) && (got.at(name) == v || (std::isnan(v) && std::isnan(got.at(name)))),
                 qPrintable(QString("step %1 %2: parent %3, fork %4").arg(step).arg(name.c_str()).arg(v).arg(got.count(name) ? got.at(name) : -1)));
      }
      QVERIFY(faster.metrics_at(step).at(ipc::metric::kLearningRate) == 0.01);
    }
    // The changed lr shows from the first step: step 3's second minibatch is scored after its first one's
    // update (another loss), and step 4's policy (its entropy, its KL to the reference) is another one.
    QVERIFY(faster.metrics_at(3).at(ipc::metric::kLoss) != parent_store.metrics_at(3).at(ipc::metric::kLoss));
    for (const char* name : {ipc::metric::kEntropy, ipc::metric::kKl})
      QVERIFY2(faster.metrics_at(4).at(name) != parent_store.metrics_at(4).at(name), name);
    auto p6 = read_checkpoint(checkpoint_path(pdir + "/checkpoints", 6));
    auto s6 = read_checkpoint(checkpoint_path((runs + "/same/checkpoints").toStdString(), 6));
    auto f6 = read_checkpoint(checkpoint_path((runs + "/faster/checkpoints").toStdString(), 6));
    QVERIFY(same_parameters(p6.model, s6.model));
    QVERIFY(!same_parameters(p6.model, f6.model));
    // Each fork checkpointed its starting point in its own folder, and says what it changed.
    QVERIFY(fs::exists(checkpoint_path((runs + "/same/checkpoints").toStdString(), 2)));
    const auto fork_ev = events_of((runs + "/faster").toStdString(), ipc::event::kFork);
    QCOMPARE(fork_ev.size(), size_t{1});
    QCOMPARE(fork_ev[0].data["changed"]["optim.lr"]["to"].get<double>(), 0.01);
    QCOMPARE(fork_ev[0].data["changed"].size(), size_t{1});
    QVERIFY(events_of((runs + "/same").toStdString(), ipc::event::kFork)[0].data["changed"].empty());

    // Every evaluation stores the same held-out prompts' greedy traces: one problem can be followed across
    // steps, and into the forks (the unchanged fork's are the parent's, token for token).
    QCOMPARE(parent_store.sample_steps(ipc::SampleSplit::kEval), (std::vector<int64_t>{0, 2, 4, 6}));
    QCOMPARE(same.sample_steps(ipc::SampleSplit::kEval), (std::vector<int64_t>{4, 6}));
    const auto first = parent_store.samples_at(0, ipc::SampleSplit::kEval);
    QCOMPARE(first.size(), size_t{3});
    for (int64_t step : {2, 4, 6}) {
      const auto later = parent_store.samples_at(step, ipc::SampleSplit::kEval);
      QCOMPARE(later.size(), first.size());
      for (size_t i = 0; i < first.size(); ++i) {
        QCOMPARE(later[i].prompt, first[i].prompt);
        QCOMPARE(later[i].group, static_cast<int64_t>(i));
        QCOMPARE(later[i].logp.size(), later[i].tokens.size());
        QCOMPARE(later[i].entropy.size(), later[i].tokens.size());
      }
    }
    for (int64_t step : {4, 6}) {
      const auto p = parent_store.samples_at(step, ipc::SampleSplit::kEval), f = same.samples_at(step, ipc::SampleSplit::kEval);
      QCOMPARE(f.size(), p.size());
      for (size_t i = 0; i < p.size(); ++i) {
        QCOMPARE(f[i].tokens, p[i].tokens);
        QCOMPARE(f[i].logp, p[i].logp);
      }
    }
    QVERIFY(parent_store.samples_at(2).size() > 0);  // training samples are apart
    QCOMPARE(parent_store.samples_at(2)[0].step, int64_t{2});
  }

  // The fork reads what it needs at start and keeps its own copy: kill -9 of a live parent changes nothing.
  void killing_the_parent_leaves_the_fork_alone() {
    QTemporaryDir tmp;
    const QString runs = tmp.path();
    QProcess parent;
    parent.start(kExe, testing::tiny_args(runs, "parent") << "--set" << "max_steps=100000" << "--set" << "checkpoint_every=1");
    QVERIFY(parent.waitForStarted());
    const std::string ck = checkpoint_path((runs + "/parent/checkpoints").toStdString(), 2);
    QDeadlineTimer deadline(120000);
    while (!fs::exists(ck) && !deadline.hasExpired()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    QVERIFY(fs::exists(ck));
    QProcess fork;
    fork.start(kExe, testing::fork_args(runs, "child", runs + "/parent", 2) << "--set" << "max_steps=6");
    QVERIFY(fork.waitForStarted());
    const std::string own = checkpoint_path((runs + "/child/checkpoints").toStdString(), 2);
    while (!fs::exists(own) && !deadline.hasExpired()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    QVERIFY(fs::exists(own));
    ::kill(static_cast<pid_t>(parent.processId()), SIGKILL);
    parent.waitForFinished();
    QVERIFY(fork.waitForFinished(300000));
    QVERIFY2(fork.exitCode() == 0, fork.readAllStandardError().constData());
    auto store = ipc::RunStore::open_for_reading((runs + "/child/run.sqlite").toStdString());
    QCOMPARE(store.last_step(), int64_t{6});
    QCOMPARE(*store.meta("state"), std::string(ipc::protocol::kStateFinished));
  }

  // Bad fork requests exit 2 with a message naming what was wrong, and leave nothing behind.
  void bad_fork_requests() {
    QTemporaryDir tmp;
    const QString runs = tmp.path();
    auto r = testing::run_program(kExe, testing::tiny_args(runs, "p") << "--set" << "max_steps=4" << "--set" << "checkpoint_every=2",
                                  runs, 300000);
    QVERIFY2(r.code == 0, qPrintable(r.err));
    struct Case {
      QStringList args;
      QString expect;
    };
    const QString p = runs + "/p";
    const Case cases[] = {
        {testing::fork_args(runs, "x", runs + "/nowhere", -1), "is not a run folder"},
        {testing::fork_args(runs, "x", p, 1), "checkpoints at steps 2, 4"},
        {testing::fork_args(runs, "x", p, 2) << "--resume", "cannot be combined with --resume"},
        {testing::fork_args(runs, "x", p, 2) << "--config" << QString(GRPO_SOURCE_DIR "/resources/configs/demo.json"), "drop --config"},
        {{"run", "--runs-dir", runs, "--name", "x", "--from-step", "2"}, "--from-step needs --fork"},
        {testing::fork_args(runs, "p", p, 2), "already exists"},
        {testing::fork_args(runs, "x", p, 2) << "--set" << "model.d_model=64", "d_model"},
    };
    for (const auto& c : cases) {
      r = testing::run_program(kExe, c.args, runs, 60000);
      QVERIFY2(r.code == 2, qPrintable(c.args.join(' ') + " -> " + QString::number(r.code) + ": " + r.err));
      QVERIFY2(r.err.contains(c.expect), qPrintable(c.args.join(' ') + ": " + r.err));
      QVERIFY2(!fs::exists((runs + "/x").toStdString()), qPrintable(c.args.join(' ') + " left a folder"));
    }
  }
};

QTEST_GUILESS_MAIN(TestSteering)
#include "test_steering.moc"

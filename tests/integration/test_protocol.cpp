// The protocol against a real tiny training run over real sockets: pause (no new step, heartbeats go on),
// live lr and temperature changes (the reply names the step; the store's events and the next steps'
// metrics show them), resume, checkpoint, stop; a late joiner backfills every seq; bad `set` values are
// refused as a whole; a stalled subscriber never blocks training; endpoints.json; unknown commands.
#include <QtTest>

#include <chrono>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "ipc/names.h"
#include "ipc/protocol.h"
#include "ipc/run_store.h"
#include "protocol_fixture.h"
#include "trainer/checkpoint.h"

using namespace grpo;
using nlohmann::json;

class TestProtocol : public QObject {
  Q_OBJECT
 private slots:
  void endpoints_file_and_hello() {
    LiveRun run;
    const auto ep = ipc::Client::read_endpoints(run.run_dir());
    QVERIFY(QString::fromStdString(ep.events).startsWith("tcp://127.0.0.1:"));
    ipc::Client c;
    c.connect(ep);
    const json h = c.request("hello");
    QCOMPARE(h["version"].get<int>(), ipc::protocol::kVersion);
    QCOMPARE(h["run"].get<std::string>(), std::string("live"));
    QVERIFY(h["live"].contains("optim.lr") && h["live"].contains("sampling.temperature"));
    QVERIFY(h["config"]["grpo"]["group_size"] == 2);
    try {
      c.request("dance");
      QFAIL("unknown command accepted");
    } catch (const ipc::ClientError& e) {
      QCOMPARE(e.code(), std::string(ipc::protocol::kErrUnknownCommand));
    }
  }

  void pause_set_resume_checkpoint_stop() {
    LiveRun run;
    ipc::Client c;
    c.connect(run.endpoints());
    wait_status(c, [](const json& s) { return s["step"].get<int64_t>() >= 2; });

    // Pause: the status says so, no new step starts, heartbeats continue.
    c.request("pause");
    json st = wait_status(c, [](const json& s) { return s["state"] == "paused"; });
    QCOMPARE(st["state"].get<std::string>(), std::string("paused"));
    const int64_t paused_at = st["step"].get<int64_t>();
    c.set_last_seq(1 << 30);  // only heartbeats matter here
    int heartbeats = 0;
    QDeadlineTimer window(2500);
    while (!window.hasExpired())
      for (const auto& e : c.poll(100)) heartbeats += e.topic == ipc::protocol::kTopicHeartbeat;
    QVERIFY2(heartbeats >= 2, qPrintable(QString("%1 heartbeats while paused").arg(heartbeats)));
    QCOMPARE(c.request("status")["step"].get<int64_t>(), paused_at);

    // Live changes while paused: answered with the effective values and the step they hold from.
    const json r = c.request("set", {{"optim.lr", 0.0123}, {"sampling.temperature", 0.7}});
    QCOMPARE(r["effective"]["optim.lr"].get<double>(), 0.0123);
    QCOMPARE(r["effective"]["sampling.temperature"].get<double>(), 0.7);
    QCOMPARE(r["from_step"].get<int64_t>(), paused_at + 1);

    c.request("resume");
    wait_status(c, [&](const json& s) { return s["step"].get<int64_t>() >= paused_at + 2; });
    const json ck = c.request("checkpoint");
    const int64_t ck_step = ck["after_step"].get<int64_t>();
    // Past the checkpoint's step before stopping (the steps are fast: on a loaded machine the trainer may
    // already be further than paused_at + 4 when the checkpoint is asked for), so that `stop`'s own
    // checkpoint comes at a later step.
    const int64_t stop_after = std::max(paused_at + 4, ck_step + 1);
    wait_status(c, [&](const json& s) { return s["step"].get<int64_t>() >= stop_after; });
    const json stop = c.request("stop");
    QCOMPARE(stop["state"].get<std::string>(), std::string("stopping"));
    QDeadlineTimer end(30000);
    while (!run.done && !end.hasExpired()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    QVERIFY2(run.done, "the run did not stop");
    QVERIFY2(run.error.empty(), run.error.c_str());

    auto store = ipc::RunStore::open_for_reading(run.run_dir() + "/run.sqlite");
    // The event in the store, at the step it took effect from.
    bool saw_set = false, saw_checkpoint = false, saw_pause = false;
    for (const auto& e : store.events()) {
      if (e.kind == "hparams") {
        saw_set = true;
        QCOMPARE(e.data["from_step"].get<int64_t>(), paused_at + 1);
        QCOMPARE(e.data["changed"]["optim.lr"]["to"].get<double>(), 0.0123);
      }
      saw_checkpoint |= e.kind == "checkpoint";
      saw_pause |= e.kind == "status" && e.data["state"] == "paused";
    }
    QVERIFY(saw_set && saw_checkpoint && saw_pause);
    // The checkpoint command's own checkpoint, apart from the one `stop` writes at the last step: at the
    // step its reply named, on disk and loadable there.
    int64_t stop_step = -1;
    std::vector<int64_t> ck_steps;
    for (const auto& e : store.events()) {
      if (e.kind == ipc::event::kCheckpoint) ck_steps.push_back(e.step);
      if (e.kind == ipc::event::kStop) stop_step = e.step;
    }
    QVERIFY(std::find(ck_steps.begin(), ck_steps.end(), ck_step) != ck_steps.end());
    QVERIFY2(ck_step < stop_step, qPrintable(QString("checkpoint at %1, stop at %2").arg(ck_step).arg(stop_step)));
    const auto loaded = read_checkpoint(checkpoint_path(run.run_dir() + "/checkpoints", ck_step));
    QCOMPARE(loaded.header.step, ck_step);
    // The metrics of the steps before and after show the optimizer and sampler really used the values.
    const auto before = store.metrics_at(paused_at), after = store.metrics_at(paused_at + 1);
    QCOMPARE(before.at("learning_rate"), 1e-4);
    QCOMPARE(after.at("learning_rate"), 0.0123);
    QCOMPARE(before.at("sampling/temperature"), 1.0);
    QCOMPARE(after.at("sampling/temperature"), 0.7);
    QCOMPARE(*store.meta("state"), std::string("stopped"));
    QVERIFY(!QFile::exists(QString::fromStdString(run.run_dir() + "/endpoints.json")));
  }

  void late_joiner_holds_every_seq() {
    LiveRun run;
    ipc::Client first;
    first.connect(run.endpoints());
    wait_status(first, [](const json& s) { return s["step"].get<int64_t>() >= 5; });

    ipc::Client late;  // attaches at step >= 5 and starts from seq 0
    late.connect(run.endpoints());
    std::vector<int64_t> seqs;
    int64_t live_after_backfill = 0;
    QDeadlineTimer deadline(20000);
    while (!deadline.hasExpired() && live_after_backfill < 5) {
      for (const auto& e : late.poll(200)) {
        if (e.topic == ipc::protocol::kTopicHeartbeat) continue;
        seqs.push_back(e.payload["seq"].get<int64_t>());
        if (late.backfilled() > 0 && e.topic == ipc::protocol::kTopicMetrics) ++live_after_backfill;
      }
    }
    QVERIFY(late.backfilled() > 0);
    QVERIFY(seqs.size() > 10);
    QCOMPARE(seqs.front(), int64_t{1});
    for (size_t i = 1; i < seqs.size(); ++i)
      QVERIFY2(seqs[i] == seqs[i - 1] + 1, qPrintable(QString("gap: %1 then %2").arg(seqs[i - 1]).arg(seqs[i])));
  }

  void bad_set_is_refused_as_a_whole() {
    LiveRun run;
    ipc::Client c;
    c.connect(run.endpoints());
    auto refused = [&](const json& args, const char* field) {
      try {
        c.request("set", args);
      } catch (const ipc::ClientError& e) {
        const std::string msg = e.what();
        if (e.code() != ipc::protocol::kErrInvalidArgs || msg.find(field) == std::string::npos) {
          qWarning("code %s, message %s", e.code().c_str(), msg.c_str());
          return false;
        }
        return true;
      }
      return false;
    };
    QVERIFY(refused({{"optim.lr", -1.0}}, "optim.lr"));
    QVERIFY(refused({{"optim.lr", "fast"}}, "optim.lr"));
    QVERIFY(refused({{"grpo.epsilon_low", 1.5}}, "grpo.epsilon_low"));
    QVERIFY(refused({{"grpo.bogus", 1}}, "grpo.bogus"));
    QVERIFY(refused({{"model.d_model", 64}}, "model.d_model"));  // not live
    // A good key next to a bad one changes nothing.
    QVERIFY(refused({{"sampling.temperature", 0.5}, {"optim.lr", std::nan("")}}, "optim.lr"));
    const json h = c.request("hello");
    QCOMPARE(h["config"]["sampling"]["temperature"].get<double>(), 1.0);
    QCOMPARE(h["config"]["optim"]["lr"].get<double>(), 1e-4);
    QVERIFY(c.request("status")["pending"].empty());
  }

  void stalled_subscriber_never_blocks_training() {
    LiveRun run;
    // A subscriber that connects and never reads, with a tiny receive buffer.
    zmq::context_t ctx;
    zmq::socket_t stalled(ctx, zmq::socket_type::sub);
    stalled.set(zmq::sockopt::rcvhwm, 1);
    stalled.set(zmq::sockopt::rcvbuf, 1024);
    stalled.set(zmq::sockopt::subscribe, "");
    stalled.connect(run.endpoints().events);
    ipc::Client c;
    c.connect(run.endpoints());
    const int64_t start = c.request("status")["step"].get<int64_t>();
    const json st = wait_status(c, [&](const json& s) { return s["step"].get<int64_t>() >= start + 30; }, 60000);
    QVERIFY2(st["step"].get<int64_t>() >= start + 30, "training stalled behind a subscriber that never reads");
  }
};

QTEST_GUILESS_MAIN(TestProtocol)
#include "test_protocol.moc"

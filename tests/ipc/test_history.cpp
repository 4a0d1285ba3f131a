// `history` beyond one page, over real sockets: a late client backfilling 2,500 records (three pages of
// 1,000) receives every seq once and in order; `limit` 0 and 10,001 are refused; and the paging race
// mended in 5ccd701 (records committed between history's per-table queries were skipped) stays mended.
#include <QtTest>

#include <set>

#include "ipc/client.h"
#include "ipc/messages.h"
#include "ipc/protocol.h"
#include "ipc/run_store.h"
#include "ipc/trainer_endpoint.h"

using namespace grpo::ipc;
using nlohmann::json;

namespace {

// A trainer's endpoint with nothing behind it but a store: what `history` reads.
struct IdleHandler : CommandHandler {
  json handle(const std::string& cmd, const json&) override {
    if (cmd == protocol::kCmdHello) return {{"version", protocol::kVersion}, {"run", "r"}};
    throw CommandError(protocol::kErrUnknownCommand, cmd);
  }
  std::pair<std::string, int64_t> heartbeat_state() override { return {protocol::kStateRunning, 0}; }
};

SampleRecord sample(int64_t step) {
  SampleRecord s;
  s.step = step;
  s.completion = "c" + std::to_string(step);
  s.tokens = {1, 2, 3};
  return s;
}

}  // namespace

class TestHistory : public QObject {
  Q_OBJECT
 private slots:
  void a_late_client_backfills_several_pages_once() {
    QTemporaryDir dir;
    const std::string path = dir.path().toStdString() + "/run.sqlite";
    auto w = RunStore::open_for_writing(path);
    int64_t last = 0;
    for (int64_t step = 1; step <= 2500; ++step)
      last = step % 5 == 0 ? w.append_samples(step, {sample(step)}) : w.append_metrics(step, step, {{"reward", step * 1e-3}});
    QCOMPARE(last, int64_t{2500});

    IdleHandler handler;
    EndpointOptions eo;
    eo.run_id = "r";
    eo.store_path = path;
    TrainerEndpoint endpoint(eo, handler);
    Client c;
    c.connect({endpoint.events_endpoint(), endpoint.control_endpoint()});
    // The client joins late: the records before the newest come through history.
    std::vector<int64_t> seqs;
    QDeadlineTimer deadline(20000);
    while (c.last_seq() < last && !deadline.hasExpired()) {
      endpoint.publish(protocol::kTopicMetrics, metrics_payload("r", last, 2500, 2500.0, {{"reward", 2.5}}));
      for (const auto& e : c.poll(200))
        if (e.topic != protocol::kTopicHeartbeat) seqs.push_back(e.payload["seq"].get<int64_t>());
    }
    QCOMPARE(c.last_seq(), last);
    // Three history pages (1000 + 1000 + 499 or 500: the newest comes live, or through history when a
    // heartbeat announced it first and the live copy is then dropped as already seen).
    QVERIFY2(c.backfilled() >= 2499 && c.backfilled() <= 2500, qPrintable(QString::number(c.backfilled())));
    std::vector<int64_t> want(static_cast<size_t>(last));
    for (int64_t i = 0; i < last; ++i) want[static_cast<size_t>(i)] = i + 1;
    QCOMPARE(seqs, want);  // every seq once, in order

    for (int limit : {0, protocol::kHistoryMaxLimit + 1}) {
      try {
        c.request(protocol::kCmdHistory, {{"after_seq", 0}, {"limit", limit}});
        QFAIL(qPrintable(QString("limit %1 accepted").arg(limit)));
      } catch (const ClientError& e) {
        QCOMPARE(e.code(), std::string(protocol::kErrInvalidArgs));
        QVERIFY(std::string(e.what()).find("limit") != std::string::npos);
      }
    }
    QCOMPARE(c.request(protocol::kCmdHistory, {{"after_seq", 0}, {"limit", protocol::kHistoryMaxLimit}})["messages"].size(),
             size_t{2500});
  }

  // Regression test of 5ccd701: a metrics record and a sample committed between history's metrics query
  // and its samples query. The page must not hand out the sample (seq N+2) while it lacks the metrics record
  // before it (N+1), or `through_seq` would jump past N+1 and no page would ever send it.
  void records_committed_between_the_queries_are_not_skipped() {
    QTemporaryDir dir;
    const std::string path = dir.path().toStdString() + "/run.sqlite";
    auto w = RunStore::open_for_writing(path);
    for (int64_t step = 1; step <= 3; ++step) w.append_metrics(step, step, {{"reward", 0.1}});
    const auto r = RunStore::open_for_reading(path);
    std::set<int64_t> seen;
    int duplicates = 0;
    auto take = [&](const json& page) {
      for (const auto& m : page["messages"]) duplicates += !seen.insert(m["payload"]["seq"].get<int64_t>()).second;
      return page["through_seq"].get<int64_t>();
    };
    const json first = history_page(r, "r", 0, 1000, [&] {
      w.append_metrics(4, 4, {{"reward", 0.4}});  // seq 4: after the metrics query
      w.append_samples(4, {sample(4)});           // seq 5: visible to the samples query
    });
    int64_t after = take(first);
    QVERIFY2(after < 5 || seen.count(4), "the page covered seq 5 without seq 4");
    while (after < r.last_seq()) after = take(history_page(r, "r", after, 1000));
    QCOMPARE(seen, (std::set<int64_t>{1, 2, 3, 4, 5}));
    QCOMPARE(duplicates, 0);
  }
};

QTEST_GUILESS_MAIN(TestHistory)
#include "test_history.moc"

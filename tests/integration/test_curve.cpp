// CURVE: with keys on, an allowed client commands the run and receives its events; a client with an
// unknown key, or without CURVE, can do neither. A non-loopback bind without keys is refused.
#include <QtTest>

#include "ipc/protocol.h"
#include "protocol_fixture.h"

using nlohmann::json;
using grpo::ipc::Client;
using grpo::ipc::ClientOptions;

class TestCurve : public QObject {
  Q_OBJECT
 private slots:
  void only_allowed_keys_get_in() {
    const auto [server_pub, server_sec] = grpo::ipc::make_curve_keypair();
    const auto [good_pub, good_sec] = grpo::ipc::make_curve_keypair();
    const auto [bad_pub, bad_sec] = grpo::ipc::make_curve_keypair();
    grpo::ipc::EndpointOptions eo;
    eo.curve_public_key = server_pub;
    eo.curve_secret_key = server_sec;
    eo.allowed_clients = {good_pub};
    LiveRun run(LiveRun::tiny_config(), eo);

    ClientOptions good;
    good.server_public_key = server_pub;
    good.client_public_key = good_pub;
    good.client_secret_key = good_sec;
    Client allowed(good);
    allowed.connect(run.endpoints());
    QCOMPARE(allowed.request("status")["state"].is_string(), true);
    allowed.set_last_seq(1 << 30);
    int heard = 0;
    QDeadlineTimer t(4000);
    while (!t.hasExpired() && heard == 0) heard += static_cast<int>(allowed.poll(200).size());
    QVERIFY2(heard > 0, "the allowed client received no events");

    auto shut_out = [&](ClientOptions o, const char* who) {
      o.request_timeout_ms = 600;
      o.retries = 1;
      Client c(o);
      c.connect(run.endpoints());
      try {
        c.request("pause");
        qWarning("%s could command the run", who);
        return false;
      } catch (const grpo::ipc::ClientError& e) {
        if (e.code() != "timeout") return false;
      }
      c.set_last_seq(1 << 30);
      QDeadlineTimer window(2500);
      while (!window.hasExpired())
        if (!c.poll(200).empty()) {
          qWarning("%s received events", who);
          return false;
        }
      return true;
    };
    ClientOptions bad = good;
    bad.client_public_key = bad_pub;
    bad.client_secret_key = bad_sec;
    QVERIFY(shut_out(bad, "a client with an unknown key"));
    QVERIFY(shut_out(ClientOptions{}, "a client without CURVE"));
    // The run was never paused by them.
    QCOMPARE(allowed.request("status")["paused"].get<bool>(), false);
  }

  void non_loopback_bind_needs_keys() {
    grpo::ipc::EndpointOptions eo;
    eo.host = "0.0.0.0";
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, LiveRun(LiveRun::tiny_config(), eo));
    QVERIFY(grpo::ipc::is_loopback("127.0.0.1") && grpo::ipc::is_loopback("localhost"));
    QVERIFY(!grpo::ipc::is_loopback("0.0.0.0") && !grpo::ipc::is_loopback("10.0.0.1"));
  }
};

QTEST_GUILESS_MAIN(TestCurve)
#include "test_curve.moc"

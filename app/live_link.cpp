// Live link (see live_link.h).
#include "app/live_link.h"

#include <nlohmann/json.hpp>

#include "ipc/protocol.h"

namespace grpo::app {

namespace {
constexpr int kPollMs = 10;      // socket poll period
constexpr int kFlushMs = 33;     // GUI updates at most ~30 Hz
constexpr int kSilentReportMs = 1000;  // silent_changed repeated this often while the trainer is silent
constexpr int kHelloRetryMs = 1000;    // an unanswered hello is asked again at most this often
}  // namespace

LiveLink::LiveLink(ipc::Endpoints endpoints, int64_t start_after_seq, ipc::ClientOptions options)
    : endpoints_(std::move(endpoints)), start_after_seq_(start_after_seq), options_(std::move(options)) {
  qRegisterMetaType<grpo::app::EventBatch>();
}

LiveLink::~LiveLink() = default;

void LiveLink::start() {
  try {
    client_ = std::make_unique<ipc::Client>(options_);
    client_->connect(endpoints_);
    client_->set_last_seq(start_after_seq_);
  } catch (const std::exception& e) {  // e.g. a malformed endpoint: nothing to retry
    emit failed(QString::fromUtf8(e.what()));
    return;
  }
  timer_ = new QTimer(this);
  connect(timer_, &QTimer::timeout, this, &LiveLink::poll);
  timer_->start(kPollMs);
  since_flush_.start();
  since_silent_report_.start();
  say_hello();
}

// The hello brings the run's config, state and live schema. A trainer that does not answer it (hung, or
// stopped with SIGSTOP, while the studio attaches) is asked again once it is heard from; meanwhile the link
// polls, so that its silence is reported and a death noticed.
void LiveLink::say_hello() {
  since_hello_.start();
  try {
    const auto hello = client_->request(ipc::protocol::kCmdHello);
    hello_done_ = true;
    emit connected(QByteArray::fromStdString(hello.dump()));
  } catch (const ipc::ClientError& e) {
    emit failed(QString::fromUtf8(e.what()) + "; asking again when it is heard from");
  }
}

void LiveLink::poll() {
  if (!client_) return;
  try {
    for (auto& e : client_->poll(0)) pending_.push_back(std::move(e));
  } catch (const std::exception& e) {
    emit failed(QString::fromUtf8(e.what()));
  }
  // On the change, and once a second while silent: the controller then asks again whether the trainer is
  // gone (one that hung, then was killed, is silent from before it died), and the panel's count goes on.
  const bool silent = client_->silent();
  if (silent != silent_ || (silent && since_silent_report_.elapsed() >= kSilentReportMs)) {
    emit silent_changed(silent, client_->seconds_since_heard());
    since_silent_report_.restart();
    silent_ = silent;
  }
  if (since_flush_.elapsed() >= kFlushMs) flush();
  if (!hello_done_ && !silent && since_hello_.elapsed() >= kHelloRetryMs) say_hello();
}

void LiveLink::flush() {
  since_flush_.restart();
  if (pending_.empty()) return;
  auto batch = std::make_shared<std::vector<ipc::Event>>(std::move(pending_));
  pending_.clear();
  emit events(batch);
}

void LiveLink::send(const QString& cmd, const QByteArray& args_json, int tag) {
  if (!client_) return emit reply(tag, false, cmd, R"({"code":"not_connected","message":"not connected"})");
  try {
    const auto args = nlohmann::json::parse(args_json.toStdString(), nullptr, false);
    const auto result = client_->request(cmd.toStdString(), args.is_discarded() ? nlohmann::json::object() : args);
    emit reply(tag, true, cmd, QByteArray::fromStdString(result.dump()));
  } catch (const ipc::ClientError& e) {
    emit reply(tag, false, cmd, QByteArray::fromStdString(nlohmann::json{{"code", e.code()}, {"message", e.what()}}.dump()));
  }
}

void LiveLink::stop() {
  if (timer_) timer_->stop();
  flush();
  client_.reset();
}

}  // namespace grpo::app

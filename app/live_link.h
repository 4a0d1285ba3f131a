// The studio's connection to one live trainer. Lives on its own QThread: it owns the ipc::Client (so
// no socket is ever touched from the GUI thread), polls events, and hands them to the GUI in batches at
// most ~30 times a second through queued signals. Commands are queued to it and answered by signal.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

#include <memory>
#include <vector>

#include "ipc/client.h"

namespace grpo::app {

using EventBatch = std::shared_ptr<const std::vector<ipc::Event>>;

class LiveLink : public QObject {
  Q_OBJECT
 public:
  // start_after_seq: records up to it are already held (e.g. read from the local store).
  LiveLink(ipc::Endpoints endpoints, int64_t start_after_seq, ipc::ClientOptions options = {});
  ~LiveLink() override;

 public slots:
  void start();
  void send(const QString& cmd, const QByteArray& args_json, int tag);
  void stop();

 signals:
  void connected(const QByteArray& hello_json);  // the hello's result (after retries, if it went unanswered)
  void events(const grpo::app::EventBatch& batch);
  void reply(int tag, bool ok, const QString& cmd, const QByteArray& json);  // result, or {code, message}
  void silent_changed(bool silent, double seconds);  // on each change, and every second while silent
  void failed(const QString& message);

 private:
  void poll();
  void flush();
  void say_hello();

  ipc::Endpoints endpoints_;
  int64_t start_after_seq_;
  ipc::ClientOptions options_;
  std::unique_ptr<ipc::Client> client_;
  QTimer* timer_ = nullptr;
  QElapsedTimer since_flush_, since_silent_report_, since_hello_;
  std::vector<ipc::Event> pending_;
  bool silent_ = false;
  bool hello_done_ = false;
};

}  // namespace grpo::app

Q_DECLARE_METATYPE(grpo::app::EventBatch)

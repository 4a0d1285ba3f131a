// Run controller (see run_controller.h).
#include "app/run_controller.h"

#include <QDir>
#include <QFileInfo>
#include <QThread>

#include "app/trainer_process.h"
#include "ipc/protocol.h"

namespace grpo::app {

using nlohmann::json;
namespace protocol = ipc::protocol;

QStringList resume_arguments(const QString& run_dir, const QStringList& extra) {
  const QFileInfo dir(run_dir);
  QStringList a = {"run", "--resume", "--runs-dir", dir.absolutePath(), "--name", dir.fileName(), "--quiet"};
  for (const QString& kv : extra) a << "--set" << kv;
  return a;
}

QVector<ui::LiveParam> live_params(const json& live) {
  QVector<ui::LiveParam> params;
  if (!live.is_object()) return params;
  const auto number = [](const json& spec, const char* key) {
    const auto it = spec.find(key);
    return it != spec.end() && it->is_number() ? it->get<double>() : 0.0;
  };
  for (const auto& [key, spec] : live.items()) {
    const std::string type = spec.is_object() ? spec.value("type", "") : "";
    ui::LiveParam p;
    p.key = QString::fromStdString(key);
    if (type == "choice") {  // a string out of a list, e.g. watchdogs.<rule>.action
      for (const auto& c : spec.value("choices", json::array()))
        if (c.is_string()) p.choices << QString::fromStdString(c.get<std::string>());
      const auto value = spec.find("value");
      p.text =
          value != spec.end() && value->is_string() ? QString::fromStdString(value->get<std::string>()) : "";
      if (!p.choices.isEmpty()) params.push_back(p);
      continue;
    }
    if (type != "integer" && type != "number") continue;  // no editor for other kinds
    const auto exclusive = spec.find("min_exclusive");
    p.integer = type == "integer";
    p.min = number(spec, "min");
    p.max = number(spec, "max");
    p.min_exclusive = exclusive != spec.end() && exclusive->is_boolean() && exclusive->get<bool>();
    p.value = number(spec, "value");
    params.push_back(p);
  }
  return params;
}

RunController::RunController(RunData& run, QObject* parent) : QObject(parent), run_(run) {}

RunController::~RunController() {
  detach();
  if (process_) process_->disconnect(this);  // its destructor stops a trainer still running
}

bool RunController::trainer_running() const {
  return process_ && process_->running();
}

qint64 RunController::trainer_pid() const {
  return process_ ? process_->pid() : 0;
}

QString RunController::trainer_output_file() const {
  return process_ ? process_->output_file() : QString();
}

void RunController::attach(const ipc::Endpoints& endpoints) {
  if (link_) return;
  attached_ << QString::fromStdString(endpoints.control);
  thread_ = new QThread(this);
  link_ = new LiveLink(endpoints, run_.last_seq);
  link_->moveToThread(thread_);
  connect(thread_, &QThread::started, link_, &LiveLink::start);
  connect(thread_, &QThread::finished, link_, &QObject::deleteLater);
  connect(link_, &LiveLink::connected, this, &RunController::on_hello);
  connect(link_, &LiveLink::events, this, &RunController::on_events);
  connect(link_, &LiveLink::reply, this, &RunController::on_reply);
  connect(link_, &LiveLink::silent_changed, this, &RunController::on_silent);
  connect(link_, &LiveLink::failed, this, [this](const QString& m) {
    link_failed_ = true;
    emit banner(tr("Connection: %1").arg(m), true);
  });
  thread_->start();
}

void RunController::detach() {
  if (!link_) return;
  QMetaObject::invokeMethod(link_, &LiveLink::stop, Qt::BlockingQueuedConnection);  // flushes what it holds
  thread_->quit();
  thread_->wait();  // the link is deleted as its thread finishes
  delete thread_;
  thread_ = nullptr;
  link_ = nullptr;
}

bool RunController::launch(const QString& program, const QStringList& args, const QString& run_dir) {
  if (trainer_running()) {
    emit banner(tr("A run started here is still going; stop it first."), true);
    return false;
  }
  process_ = std::make_unique<TrainerProcess>(program);
  emit log_line(QString("$ %1 %2").arg(program, args.join(' ')));
  connect(process_.get(), &TrainerProcess::output, this, &RunController::log_line);
  connect(process_.get(), &TrainerProcess::endpoints_ready, this, &RunController::endpoints_ready);
  connect(process_.get(), &TrainerProcess::finished, this,
          [this](int code, bool crashed, const QString& last) {
            if (process_->failed_to_start()) {
              emit banner(tr("grpo-train could not be started: %1").arg(last), true);
            } else if (crashed || code != 0) {
              emit banner(tr("grpo-train %1 (exit code %2). Its data is kept in %3. Last lines:\n%4")
                              .arg(crashed ? tr("crashed") : tr("failed"))
                              .arg(code)
                              .arg(QDir(process_->run_dir()).absolutePath(), last),
                          true);
              run_.state = protocol::kStateFailed;
            }
            detach();
            emit process_finished(code, crashed, last);
          });
  process_->start(args, QDir::currentPath(), run_dir);
  emit banner(tr("Starting %1 …").arg(QDir(run_dir).dirName()), false);
  return true;
}

void RunController::send(const QString& cmd, const json& args) {
  if (!link_) return emit banner(tr("%1 is not live: nothing to %2.").arg(run_.name, cmd), true);
  const QByteArray a = QByteArray::fromStdString(args.dump());
  const int tag = next_tag_++;
  QMetaObject::invokeMethod(
      link_, [link = link_, cmd, a, tag] { link->send(cmd, a, tag); }, Qt::QueuedConnection);
}

void RunController::pause() {
  send(protocol::kCmdPause);
}
void RunController::resume() {
  send(protocol::kCmdResume);
}
void RunController::stop() {
  send(protocol::kCmdStop);
}
void RunController::checkpoint() {
  send(protocol::kCmdCheckpoint);
}

void RunController::set(const QMap<QString, QVariant>& values) {
  json args = json::object();
  for (auto it = values.begin(); it != values.end(); ++it) {
    const int type = it.value().typeId();
    args[it.key().toStdString()] = type == QMetaType::LongLong  ? json(it.value().toLongLong())
                                   : type == QMetaType::QString ? json(it.value().toString().toStdString())
                                                                : json(it.value().toDouble());
  }
  send(protocol::kCmdSet, args);
}

void RunController::keep_in_background() {
  if (!trainer_running()) return;
  const qint64 pid = process_->pid();
  const QString output = process_->output_file();
  const QString dir = QDir(process_->run_dir()).absolutePath();
  detach();
  process_->disconnect(this);
  process_->detach();
  process_.reset();
  emit log_line(tr("grpo-train (pid %1) goes on in the background, writing to %2 (its output: %3); open that "
                   "folder to follow it again")
                    .arg(pid)
                    .arg(dir, output));
}

bool RunController::stop_and_wait(int timeout_ms) {
  if (!trainer_running()) return true;
  stopping_ = true;
  if (link_)
    stop();
  else
    process_->terminate();  // not attached yet: SIGTERM does the same (checkpoint, then exit)
  const bool ended = process_->wait_for_exit(timeout_ms);
  stopping_ = false;
  if (!ended) {
    emit log_line(
        tr("grpo-train is still stopping after %1 s; it finishes by itself").arg(timeout_ms / 1000));
    keep_in_background();
  }
  return ended;
}

void RunController::on_hello(const QByteArray& hello_json) {
  const json h = json::parse(hello_json.toStdString(), nullptr, false);
  if (!h.is_object()) return;
  if (h.contains("config")) run_.config = h["config"];
  run_.state = QString::fromStdString(h.value("state", std::string(protocol::kStateRunning)));
  run_.state_reason.clear();  // e.g. a dead run's message, now that it trains again
  const auto pid = h.find("pid");
  hello_pid_ = pid != h.end() && pid->is_number_integer() ? pid->get<qint64>() : 0;
  const json live = h.value("live", json::object());
  run_.live_schema = live;  // the editor's schema, kept with the run (refresh on selecting it)
  if (const auto parent = h.find("parent"); parent != h.end() && parent->is_object())  // a fork
    run_.set_parent(QString::fromStdString(parent->value("run", "")),
                    QString::fromStdString(parent->value("dir", "")),
                    static_cast<int>(parent->value("step", int64_t{-1})));
  emit hello_received(live_params(live));
  if (link_failed_)
    emit banner(tr("Connected to %1's trainer (pid %2).").arg(run_.name).arg(hello_pid_), false);
  link_failed_ = false;
}

void RunController::on_events(const EventBatch& batch) {
  RunData::Delta d;
  for (const auto& e : *batch) {
    run_.apply(e, d);
    if (e.topic == protocol::kTopicLog) emit log_line(QString::fromStdString(e.payload.value("message", "")));
  }
  if (d.state) emit state_changed(run_.state, run_.step, run_.state_reason);
  emit data_changed(d);
}

void RunController::on_silent(bool silent, double seconds) {
  emit silent_changed(silent, seconds);
  // A trainer that went quiet may be gone (SIGKILL, out of memory): its run folder says so. One this
  // controller started is followed through its process instead.
  if (!silent || run_.dir.isEmpty() || trainer_running() || !run_.check_liveness()) return;
  detach();
  emit died(run_.state_reason);
}

void RunController::on_reply(int, bool ok, const QString& cmd, const QByteArray& j) {
  json r = json::parse(j.toStdString(), nullptr, false);
  if (!r.is_object()) r = json::object();
  if (!ok) {
    const QString msg = QString::fromStdString(r.value("message", "request failed"));
    emit reply_received(cmd, false, msg);
    emit banner(tr("%1: %2").arg(cmd, msg), true);
    if (stopping_ && cmd == protocol::kCmdStop && trainer_running()) process_->terminate();  // stop it anyway
    return;
  }
  emit reply_received(cmd, true, {});
  if (cmd == protocol::kCmdSet) {
    QMap<QString, QVariant> values;
    const json effective = r.value("effective", json::object());
    for (const auto& [k, v] : effective.items()) {
      if (v.is_number()) values[QString::fromStdString(k)] = v.get<double>();
      if (v.is_string()) values[QString::fromStdString(k)] = QString::fromStdString(v.get<std::string>());
    }
    emit set_accepted(values, static_cast<int>(r.value("from_step", int64_t{0})));
  } else if (r.contains("state") && r["state"].is_string()) {
    emit state_changed(QString::fromStdString(r["state"].get<std::string>()),
                       static_cast<int>(r.value("step", int64_t{0})), {});
  }
}

}  // namespace grpo::app

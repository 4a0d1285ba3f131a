// One run the studio follows live or started itself: its LiveLink (on a QThread of its own), the
// grpo-train process it launched (if any), the hello and the replies, and the protocol events it applies
// to the run's RunData. MainWindow keeps one per live or launched run and wires these typed signals to the
// ui/ widgets; this class knows no widgets and decides nothing about which run is shown.
#pragma once

#include <QMap>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QVariant>
#include <QVector>
#include <nlohmann/json.hpp>

#include <memory>

#include "app/live_link.h"
#include "app/run_data.h"
#include "ui/control_panel.h"

class QThread;

namespace grpo::app {

class TrainerProcess;

// grpo-train's arguments that resume the run in `run_dir` from its newest checkpoint (its saved config, plus
// --set for each of `extra`).
QStringList resume_arguments(const QString& run_dir, const QStringList& extra = {});

// The live hyperparameters of a hello reply ({"key": {type, min, max, min_exclusive, value}, ...}).
QVector<ui::LiveParam> live_params(const nlohmann::json& live);

class RunController : public QObject {
  Q_OBJECT
 public:
  // `run` must outlive this controller (MainWindow keeps every RunData for the session).
  explicit RunController(RunData& run, QObject* parent = nullptr);
  // Closes the link. A trainer it launched that still runs is stopped (SIGTERM: checkpoint, then exit)
  // unless keep_in_background() let it go.
  ~RunController() override;

  RunData& run() const { return run_; }
  QString id() const { return run_.id; }
  bool live() const { return link_ != nullptr; }         // attached (connected, or connecting)
  bool launched() const { return process_ != nullptr; }  // the studio started its trainer and still holds it
  bool trainer_running() const;                          // that trainer has not exited
  qint64 trainer_pid() const;                            // 0 when none
  QString trainer_output_file() const;                   // where its stdout and stderr go ("" when none)
  QStringList attached() const { return attached_; }     // the control endpoint of every attach(), in order
  qint64 hello_pid() const { return hello_pid_; }        // the pid the newest hello reported (0: none yet)

  // Follows the trainer at `endpoints` from the newest record the RunData holds (no-op when live).
  void attach(const ipc::Endpoints& endpoints);
  void detach();  // closes the link; the trainer goes on
  // Starts `program args` (grpo-train) whose run folder will be `run_dir`; the owner attach()es once
  // endpoints_ready.
  // False (and a banner) when a trainer this controller launched still runs.
  bool launch(const QString& program, const QStringList& args, const QString& run_dir);

  // Protocol commands (answered by reply_received; not live: a banner).
  void send(const QString& cmd, const nlohmann::json& args = nlohmann::json::object());
  void pause();
  void resume();
  void stop();  // the trainer checkpoints, then exits
  void checkpoint();
  void set(const QMap<QString, QVariant>& values);  // integers as qlonglong, the rest as double

  // When the studio closes with a trainer it launched:
  // the trainer goes on by itself (its run folder's endpoints.json lets any studio attach again);
  void keep_in_background();
  // or it is stopped (the protocol's stop, SIGTERM when not attached) and awaited, running the event loop.
  // False when it still runs after `timeout_ms`: it is then left to finish stopping by itself.
  bool stop_and_wait(int timeout_ms);

 signals:
  void hello_received(const QVector<grpo::ui::LiveParam>& params);  // the run's config and state are updated
  void state_changed(const QString& state, int step, const QString& reason);
  void data_changed(const grpo::app::RunData::Delta& delta);  // a batch of events was applied to run()
  void reply_received(const QString& cmd, bool ok, const QString& message);  // message: the error, if any
  void set_accepted(const QMap<QString, QVariant>& effective, int from_step);
  void silent_changed(bool silent, double seconds);  // no heartbeat for `seconds`
  void log_line(const QString& line);                // the trainer's output and log events
  void banner(const QString& text, bool error);
  void endpoints_ready(const QString& run_dir);  // a launched trainer wrote its endpoints.json
  void process_finished(int code, bool crashed, const QString& last_output);
  // The trainer fell silent and ipc::probe_run says it is gone (run().dead()): the link is closed.
  void died(const QString& message);

 private:
  void on_hello(const QByteArray& hello_json);
  void on_events(const EventBatch& batch);
  void on_reply(int tag, bool ok, const QString& cmd, const QByteArray& json);
  void on_silent(bool silent, double seconds);

  RunData& run_;
  QThread* thread_ = nullptr;
  LiveLink* link_ = nullptr;  // lives on thread_
  std::unique_ptr<TrainerProcess> process_;
  int next_tag_ = 1;
  QStringList attached_;
  qint64 hello_pid_ = 0;
  bool link_failed_ = false;  // the link reported a failure (e.g. an unanswered hello) since its last hello
  bool stopping_ = false;  // stop_and_wait() is waiting
};

}  // namespace grpo::app

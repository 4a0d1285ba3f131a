// A grpo-train process the studio started: its output (shown in the log view), the moment its
// endpoints.json appears (so the studio can attach), and how it ended: exit code or crash, with the last
// lines it printed, so a failure is explained and the run's data stays on disk.
//
// The trainer is started so that it can outlive the studio: in a session of its own (a terminal's Ctrl-C
// or hang-up reaches the studio, not it) and writing its stdout and stderr to a file rather than a pipe
// (which would break when the studio exits); this class follows that file. detach() lets it go on after
// this object and the studio are gone (the user chose "keep training in the background"); otherwise the
// destructor stops it (SIGTERM: the trainer checkpoints and exits).
#pragma once

#include <QDateTime>
#include <QFile>
#include <QObject>
#include <QProcess>
#include <QStringList>
#include <QTimer>

namespace grpo::app {

class TrainerProcess : public QObject {
  Q_OBJECT
 public:
  TrainerProcess(QString program, QObject* parent = nullptr);
  ~TrainerProcess() override;
  // Starts `program args` in `working_dir`; `run_dir` is where its endpoints.json will appear.
  void start(const QStringList& args, const QString& working_dir, const QString& run_dir);
  QString run_dir() const { return run_dir_; }
  bool running() const { return process_ && process_->state() != QProcess::NotRunning; }
  qint64 pid() const { return process_ ? process_->processId() : 0; }
  QStringList last_lines() const { return tail_; }
  QString output_file() const { return output_.fileName(); }  // where its stdout and stderr go
  bool failed_to_start() const { return failed_to_start_; }   // the program could not be run at all
  // Lets the process go on by itself: no more signals, and neither this object nor the studio's exit
  // stops it. Its output keeps going to output_file().
  void detach();
  void terminate() {
    if (process_) process_->terminate();
  }  // SIGTERM: the trainer checkpoints and exits
  // Waits up to `ms` for the process to end, running the event loop meanwhile; true when it ended.
  bool wait_for_exit(int ms);

 signals:
  void output(const QString& line);
  // The run folder's endpoints.json was written by this process: its pid is the one started, or (a
  // launcher whose rank 0 serves) it was written after the start. A stale one, left by a trainer that was
  // killed, is never taken for a ready trainer.
  void endpoints_ready(const QString& run_dir);
  void finished(int exit_code, bool crashed, const QString& last_lines);

 private:
  void read_output();
  bool endpoints_fresh() const;

  QString program_;
  QString run_dir_;
  QProcess* process_ = nullptr;  // owned unless detached (then deliberately left alive with the child)
  QFile output_;
  QTimer watch_;
  QStringList tail_;
  QByteArray partial_;
  bool endpoints_seen_ = false;
  bool failed_to_start_ = false;
  QDateTime started_;  // just before the process started
};

// Finds grpo-train: $GRPO_TRAIN, next to this executable's build folder, or on PATH.
QString find_trainer(const QString& hint);
// Where find_trainer looks, in order, for people ("$GRPO_TRAIN (unset)", the two build paths, PATH).
QStringList trainer_search_places();

}  // namespace grpo::app

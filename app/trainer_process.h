// A grpo-train process the studio started: its output (shown in the log view), the moment its
// endpoints.json appears (so the studio can attach), and how it ended: exit code or crash, with the last
// lines it printed, so a failure is explained and the run's data stays on disk.
#pragma once

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
  bool running() const { return process_.state() != QProcess::NotRunning; }
  qint64 pid() const { return process_.processId(); }
  QStringList last_lines() const { return tail_; }

 signals:
  void output(const QString& line);
  void endpoints_ready(const QString& run_dir);
  void finished(int exit_code, bool crashed, const QString& last_lines);

 private:
  QString program_;
  QString run_dir_;
  QProcess process_;
  QTimer watch_;
  QStringList tail_;
  QByteArray partial_;
};

// Finds grpo-train: $GRPO_TRAIN, next to this executable's build folder, or on PATH.
QString find_trainer(const QString& hint);

}  // namespace grpo::app

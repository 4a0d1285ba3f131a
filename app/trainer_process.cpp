// Trainer process (see trainer_process.h).
#include "app/trainer_process.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>

namespace grpo::app {

QString find_trainer(const QString& hint) {
  if (!hint.isEmpty()) return hint;
  if (const QByteArray env = qgetenv("GRPO_TRAIN"); !env.isEmpty()) return QString::fromLocal8Bit(env);
  const QString app = QCoreApplication::applicationDirPath();
  for (const QString& p : {app + "/../trainer/grpo-train", app + "/grpo-train"})
    if (QFileInfo(p).isExecutable()) return QFileInfo(p).canonicalFilePath();
  return QStandardPaths::findExecutable("grpo-train");
}

TrainerProcess::TrainerProcess(QString program, QObject* parent) : QObject(parent), program_(std::move(program)) {
  process_.setProcessChannelMode(QProcess::MergedChannels);
  connect(&process_, &QProcess::readyRead, this, [this] {
    partial_ += process_.readAll();
    int nl;
    while ((nl = partial_.indexOf('\n')) >= 0) {
      const QString line = QString::fromUtf8(partial_.left(nl));
      partial_.remove(0, nl + 1);
      tail_ << line;
      if (tail_.size() > 20) tail_.removeFirst();
      emit output(line);
    }
  });
  connect(&watch_, &QTimer::timeout, this, [this] {
    if (QFileInfo::exists(QDir(run_dir_).filePath("endpoints.json"))) {
      watch_.stop();
      emit endpoints_ready(run_dir_);
    }
  });
  connect(&process_, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
    watch_.stop();
    if (!partial_.isEmpty()) tail_ << QString::fromUtf8(partial_), partial_.clear();
    emit finished(code, status == QProcess::CrashExit, tail_.join('\n'));
  });
  connect(&process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
    if (e == QProcess::FailedToStart) {
      tail_ << tr("could not start %1: %2").arg(program_, process_.errorString());
      emit finished(-1, true, tail_.join('\n'));
    }
  });
}

TrainerProcess::~TrainerProcess() {
  if (process_.state() != QProcess::NotRunning) {
    process_.terminate();  // the trainer checkpoints and exits on SIGTERM
    if (!process_.waitForFinished(15000)) process_.kill();
  }
}

void TrainerProcess::start(const QStringList& args, const QString& working_dir, const QString& run_dir) {
  run_dir_ = run_dir;
  process_.setWorkingDirectory(working_dir);
  process_.start(program_, args);
  watch_.start(100);
}

}  // namespace grpo::app

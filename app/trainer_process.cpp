// Trainer process (see trainer_process.h).
#include "app/trainer_process.h"

#include <unistd.h>
#include <QCoreApplication>
#include <QDir>
#include <QEventLoop>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStandardPaths>
#include <QTemporaryFile>

namespace grpo::app {

namespace {
constexpr int kWatchMs = 100;  // how often the output file and endpoints.json are looked at
constexpr int kTailLines = 20;
}  // namespace

QString find_trainer(const QString& hint) {
  if (!hint.isEmpty()) return hint;
  if (const QByteArray env = qgetenv("GRPO_TRAIN"); !env.isEmpty()) return QString::fromLocal8Bit(env);
  const QString app = QCoreApplication::applicationDirPath();
  for (const QString& p : {app + "/../trainer/grpo-train", app + "/grpo-train"})
    if (QFileInfo(p).isExecutable()) return QFileInfo(p).canonicalFilePath();
  return QStandardPaths::findExecutable("grpo-train");
}

QStringList trainer_search_places() {
  const QByteArray env = qgetenv("GRPO_TRAIN");
  const QString app = QCoreApplication::applicationDirPath();
  return {
      env.isEmpty() ? QStringLiteral("$GRPO_TRAIN (unset)") : "$GRPO_TRAIN=" + QString::fromLocal8Bit(env),
      QDir::cleanPath(app + "/../trainer/grpo-train"), QDir::cleanPath(app + "/grpo-train"),
      "grpo-train on PATH (" + qEnvironmentVariable("PATH") + ")"};
}

TrainerProcess::TrainerProcess(QString program, QObject* parent)
    : QObject(parent), program_(std::move(program)) {
  connect(&watch_, &QTimer::timeout, this, [this] {
    read_output();
    if (!endpoints_seen_ && endpoints_fresh()) {
      endpoints_seen_ = true;
      emit endpoints_ready(run_dir_);
    }
  });
}

TrainerProcess::~TrainerProcess() {
  if (process_) {
    process_->disconnect(this);  // no signals from a half-destroyed owner
    if (process_->state() != QProcess::NotRunning) {
      process_->terminate();  // the trainer checkpoints and exits on SIGTERM
      if (!process_->waitForFinished(15000)) {
        process_->kill();
        process_->waitForFinished(2000);
      }
    }
    delete process_;
    if (output_.isOpen()) output_.close();
    if (!output_.fileName().isEmpty()) QFile::remove(output_.fileName());
  }
}

void TrainerProcess::start(const QStringList& args, const QString& working_dir, const QString& run_dir) {
  run_dir_ = run_dir;
  // The output file: unique, and outside the run folder (grpo-train refuses a run folder that exists).
  QTemporaryFile file(QDir::temp().filePath("grpo-train-XXXXXX.out"));
  file.setAutoRemove(false);
  if (file.open()) {
    file.close();
    output_.setFileName(file.fileName());
    output_.open(QIODevice::ReadOnly | QIODevice::Unbuffered);  // read as it grows
  }

  process_ = new QProcess;  // no parent: detach() must be able to let it live
  process_->setProcessChannelMode(QProcess::MergedChannels);
  // Never a pipe: nobody would read it once the studio is gone (no temporary file: its output is lost,
  // trainer.log in the run folder still has its log).
  process_->setStandardOutputFile(output_.isOpen() ? output_.fileName() : QProcess::nullDevice(),
                                  QIODevice::Truncate);
  process_->setWorkingDirectory(working_dir);
  // Its own session: a terminal's Ctrl-C or hang-up reaches the studio, not it.
  process_->setChildProcessModifier([] { ::setsid(); });
  connect(process_, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
    watch_.stop();
    read_output();
    if (!partial_.isEmpty()) {  // a last line without its newline
      tail_ << QString::fromUtf8(partial_);
      partial_.clear();
      emit output(tail_.last());
    }
    emit finished(code, status == QProcess::CrashExit, tail_.join('\n'));
  });
  connect(process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
    if (e == QProcess::FailedToStart) {
      watch_.stop();
      failed_to_start_ = true;
      tail_ << tr("could not start %1: %2").arg(program_, process_->errorString());
      emit finished(-1, true, tail_.join('\n'));
    }
  });
  started_ = QDateTime::currentDateTimeUtc();
  process_->start(program_, args);
  watch_.start(kWatchMs);
}

bool TrainerProcess::endpoints_fresh() const {
  const QString path = QDir(run_dir_).filePath("endpoints.json");
  const QFileInfo info(path);
  QFile f(path);
  if (!process_ || !info.exists() || !f.open(QIODevice::ReadOnly)) return false;
  const QJsonDocument doc = QJsonDocument::fromJson(f.readAll());
  if (!doc.isObject()) return false;  // not a whole one (the trainer writes it atomically)
  const qint64 pid = doc.object().value("pid").toInteger();
  if (pid > 0 && pid == process_->processId()) return true;
  return info.lastModified().toUTC() > started_;  // e.g. --nproc: rank 0 (another pid) serves
}

void TrainerProcess::read_output() {
  if (!output_.isOpen()) return;
  partial_ += output_.readAll();
  qsizetype nl;
  while ((nl = partial_.indexOf('\n')) >= 0) {
    const QString line = QString::fromUtf8(partial_.left(nl));
    partial_.remove(0, nl + 1);
    tail_ << line;
    if (tail_.size() > kTailLines) tail_.removeFirst();
    emit output(line);
  }
}

void TrainerProcess::detach() {
  if (!process_) return;
  watch_.stop();
  read_output();
  process_->disconnect(this);
  // Deliberately not deleted: ~QProcess kills its child. While the studio lives it still reaps the
  // child when that ends; after the studio exits the trainer is an orphan and goes on.
  process_ = nullptr;
  output_.close();
}

bool TrainerProcess::wait_for_exit(int ms) {
  if (!running()) return true;
  QEventLoop loop;
  connect(process_, &QProcess::finished, &loop, &QEventLoop::quit);
  connect(process_, &QProcess::errorOccurred, &loop, &QEventLoop::quit);
  QTimer::singleShot(ms, &loop, &QEventLoop::quit);
  loop.exec();
  return !running();
}

}  // namespace grpo::app

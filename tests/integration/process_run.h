// Runs a program as a user would (the grpo-train binary, a Python script) and collects its exit code and
// output, for the end-to-end tests. Header-only; Qt Core.
#pragma once

#include <QProcess>
#include <QString>
#include <QStringList>

namespace grpo::testing {

struct Result {
  int code;  // the exit code; -1 timed out (killed), -2 crashed
  QString out, err;
};

inline Result run_program(const QString& program, const QStringList& args, const QString& cwd, int timeout_ms) {
  QProcess p;
  p.setWorkingDirectory(cwd);
  p.start(program, args);
  if (!p.waitForFinished(timeout_ms)) {
    p.kill();
    p.waitForFinished();
    return {-1, "", "timed out"};
  }
  return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2, QString::fromUtf8(p.readAllStandardOutput()),
          QString::fromUtf8(p.readAllStandardError())};
}

}  // namespace grpo::testing

// A QApplication that times every top-level event dispatch on the GUI thread, to name what the longest GUI
// stall was spent on (bench_ingest, bench_soak). The caller resets worst_ns when it starts a new interval.
#pragma once

#include <QApplication>
#include <QElapsedTimer>
#include <QString>
#include <QThread>

class TimedApplication : public QApplication {
 public:
  using QApplication::QApplication;
  bool notify(QObject* receiver, QEvent* event) override {
    if (depth_ > 0 || QThread::currentThread() != thread()) return QApplication::notify(receiver, event);
    // Read what names the event before dispatching it: the receiver may not survive it (deleteLater).
    const char* cls = receiver->metaObject()->className();
    const char* owner = receiver->parent() ? receiver->parent()->metaObject()->className() : nullptr;
    const QString name = receiver->objectName();  // the benchmarks' own timers are named
    const int type = event->type();
    ++depth_;
    QElapsedTimer t;
    t.start();
    const bool r = QApplication::notify(receiver, event);
    const qint64 ns = t.nsecsElapsed();
    --depth_;
    if (ns > worst_ns) {
      worst_ns = ns;
      worst = QString(cls) + (name.isEmpty() ? QString() : " \"" + name + "\"") +
              (owner ? QString(" in ") + owner : QString()) + QString(" (event %1)").arg(type);
    }
    return r;
  }
  qint64 worst_ns = 0;  // the slowest dispatch so far, and what it was
  QString worst;

 private:
  int depth_ = 0;
};

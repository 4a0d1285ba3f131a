// Watchdog alerts in the studio: the alert banner over the charts speaks for the active run's newest alert
// that came in live and was not acted on yet ("Resume as is", "Fork from step N…", or dismissed), and an
// alert raises a desktop notification when the studio's window is not in front (the taskbar entry flashes;
// a tray message where the desktop has a system tray; nothing offscreen). Chart markers are the dashboard's
// (RunData::chart_alerts); this class knows no sockets and decides nothing about which run is active.
#pragma once

#include <QObject>
#include <QString>

#include "app/run_data.h"
#include "ui/alert_banner.h"

class QSystemTrayIcon;
class QWidget;

namespace grpo::app {

// What the banner shows for an alert: rule, metric, step, message; a pausing action is an error (the run
// waits), an alert a warning; the fork step is the alert's checkpoint step.
ui::AlertInfo alert_info(const WatchdogAlert& alert);

class AlertCenter : public QObject {
  Q_OBJECT
 public:
  AlertCenter(ui::AlertBanner* banner, QWidget* window);

  // Alerts came in live for run r (indices into r.alerts): the banner when r is the active run, and a
  // desktop notification when the window is not in front.
  void fired(RunData& r, const QVector<int>& alerts, bool active);
  void show_for(RunData* r);  // the active run changed: its pending alert on the banner, or no banner
  // A run's state changed: a run paused by the banner's alert that runs again (resumed from the control
  // panel, say) takes the banner away.
  void state_changed(RunData& r, const QString& state);
  QString run() const { return run_ ? run_->id : QString(); }  // the run the banner speaks for
  int notifications() const { return notifications_; }         // desktop notifications raised

 signals:
  void resume_requested(const QString& run);
  void fork_requested(const QString& run, int step);

 private:
  void notify(const QString& title, const QString& text);
  void acted();  // the banner's alert was acted on: not pending any more

  ui::AlertBanner* banner_;
  QWidget* window_;
  QSystemTrayIcon* tray_ = nullptr;
  RunData* run_ = nullptr;    // MainWindow keeps every RunData for the session
  bool seen_paused_ = false;  // the banner's run was paused since its alert came
  int notifications_ = 0;
};

}  // namespace grpo::app

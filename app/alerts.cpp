// Watchdog alerts (see alerts.h).
#include "app/alerts.h"

#include <QApplication>
#include <QGuiApplication>
#include <QStyle>
#include <QSystemTrayIcon>
#include <QWidget>

#include "ipc/protocol.h"

namespace grpo::app {

namespace protocol = ipc::protocol;

ui::AlertInfo alert_info(const WatchdogAlert& a) {
  ui::AlertInfo info;
  info.rule = a.rule;
  info.metric = a.metric;
  info.step = a.step;
  info.message = a.message;
  info.paused = a.pauses();
  info.severity = a.pauses() ? ui::AlertSeverity::kError : ui::AlertSeverity::kWarning;
  info.fork_step = a.checkpoint_step;
  return info;
}

AlertCenter::AlertCenter(ui::AlertBanner* banner, QWidget* window)
    : QObject(window), banner_(banner), window_(window) {
  connect(banner_, &ui::AlertBanner::resume_requested, this, [this] {
    const QString id = run();
    acted();
    if (!id.isEmpty()) emit resume_requested(id);
  });
  connect(banner_, &ui::AlertBanner::fork_requested, this, [this](int step) {
    const QString id = run();
    acted();
    if (!id.isEmpty()) emit fork_requested(id, step);
  });
  connect(banner_, &ui::AlertBanner::dismissed, this, &AlertCenter::acted);
}

void AlertCenter::acted() {
  if (run_) run_->pending_alert = -1;
}

void AlertCenter::fired(RunData& r, const QVector<int>& alerts, bool active) {
  if (alerts.isEmpty()) return;
  const WatchdogAlert& a = r.alerts.value(alerts.last());
  if (active) {
    run_ = &r;
    seen_paused_ = false;
    banner_->show_alert(alert_info(a));
  }
  notify(tr("%1: watchdog %2").arg(r.name, a.rule),
         tr("%1 at step %2%3").arg(a.message).arg(a.step).arg(a.pauses() ? tr(" (paused)") : QString()));
}

void AlertCenter::show_for(RunData* r) {
  if (r && r->pending_alert >= 0 && r->pending_alert < r->alerts.size()) {
    run_ = r;
    seen_paused_ = r->state == protocol::kStatePaused;
    banner_->show_alert(alert_info(r->alerts[r->pending_alert]));
    return;
  }
  run_ = r;
  banner_->hide();
}

void AlertCenter::state_changed(RunData& r, const QString& state) {
  if (&r != run_ || !banner_->isVisible() || !banner_->alert().paused) return;
  if (state == protocol::kStatePaused) seen_paused_ = true;
  if (state == protocol::kStateRunning && seen_paused_) {
    acted();
    banner_->hide();
  }
}

void AlertCenter::notify(const QString& title, const QString& text) {
  const QString platform = QGuiApplication::platformName();
  if (platform == "offscreen" || platform == "minimal") return;  // no desktop to tell
  if (window_->isActiveWindow()) return;                         // the banner is in front of the user
  ++notifications_;
  QApplication::alert(window_);  // the taskbar entry asks for attention
  if (!QSystemTrayIcon::isSystemTrayAvailable()) return;
  if (!tray_) {
    QIcon icon = window_->windowIcon();
    if (icon.isNull()) icon = window_->style()->standardIcon(QStyle::SP_MessageBoxWarning);
    tray_ = new QSystemTrayIcon(icon, this);
    tray_->setToolTip(tr("GRPO Studio"));
    connect(tray_, &QSystemTrayIcon::messageClicked, window_, [w = window_] {
      w->showNormal();
      w->raise();
      w->activateWindow();
    });
  }
  tray_->show();
  tray_->showMessage(title, text, QSystemTrayIcon::Warning, 10000);
}

}  // namespace grpo::app

// Alert banner (see alert_banner.h).
#include "ui/alert_banner.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>

namespace grpo::ui {

AlertBanner::AlertBanner(QWidget* parent)
    : QFrame(parent),
      icon_(new QLabel),
      text_(new QLabel),
      resume_(new QPushButton(tr("Resume as is"))),
      fork_(new QPushButton),
      close_(new QPushButton(QStringLiteral("×"))) {
  setObjectName("alert_banner");
  setFrameShape(QFrame::StyledPanel);
  text_->setWordWrap(true);
  text_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  resume_->setToolTip(tr("Let the paused run go on with its settings unchanged"));
  fork_->setToolTip(tr("Start a new run from the last checkpoint before the alarm (change settings first)"));
  close_->setToolTip(tr("Dismiss"));
  close_->setFlat(true);
  close_->setFixedWidth(close_->fontMetrics().horizontalAdvance("×") + 16);
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(8, 4, 4, 4);
  layout->addWidget(icon_);
  layout->addWidget(text_, 1);
  layout->addWidget(resume_);
  layout->addWidget(fork_);
  layout->addWidget(close_);
  connect(resume_, &QPushButton::clicked, this, &AlertBanner::resume);
  connect(fork_, &QPushButton::clicked, this, &AlertBanner::fork);
  connect(close_, &QPushButton::clicked, this, &AlertBanner::dismiss);
  setVisible(false);
}

QColor AlertBanner::accent() const {
  return alert_.severity == AlertSeverity::kError ? QColor(217, 48, 37) : QColor(230, 160, 0);
}

QString AlertBanner::text() const {
  return text_->text();
}
bool AlertBanner::resume_offered() const {
  return !resume_->isHidden();
}
bool AlertBanner::fork_offered() const {
  return !fork_->isHidden();
}
QString AlertBanner::fork_button_text() const {
  return fork_->text();
}

void AlertBanner::show_alert(const AlertInfo& alert) {
  alert_ = alert;
  QString line = alert.metric.isEmpty()
                     ? tr("%1 at step %2").arg(alert.rule).arg(alert.step)
                     : tr("%1: %2 at step %3").arg(alert.rule, alert.metric).arg(alert.step);
  if (!alert.message.isEmpty()) line += " — " + alert.message;
  if (alert.paused) line += tr(" (paused)");
  text_->setText(line);
  const QColor a = accent();
  const QColor bg = alert.severity == AlertSeverity::kError ? QColor(253, 226, 225) : QColor(255, 244, 206);
  // Light tint, dark text: readable on light and dark palettes alike.
  setStyleSheet(QString("QFrame#alert_banner { background:%1; border:1px solid %2; border-radius:4px; }"
                        "QFrame#alert_banner QLabel { color:#202020; }")
                    .arg(bg.name(), a.name()));
  icon_->setText(QString("<b style='color:%1'>%2</b>")
                     .arg(a.name(), alert.severity == AlertSeverity::kError ? QStringLiteral("⛔")
                                                                            : QStringLiteral("⚠")));
  resume_->setVisible(alert.paused);
  fork_->setText(tr("Fork from step %1…").arg(alert.fork_step));
  fork_->setVisible(alert.fork_step >= 0);
  show();
}

void AlertBanner::resume() {
  hide();
  emit resume_requested();
}

void AlertBanner::fork() {
  hide();
  emit fork_requested(alert_.fork_step);
}

void AlertBanner::dismiss() {
  hide();
  emit dismissed();
}

}  // namespace grpo::ui

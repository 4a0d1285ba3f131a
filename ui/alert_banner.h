// A banner over the charts when a watchdog fires: what fired (rule, metric, step, a message), its severity
// (error red, warning amber), and what to do next: resume the paused run as it is, fork it from the last
// checkpoint before the alarm, or dismiss the banner. Plain strings and numbers; app/ acts on the signals.
#pragma once

#include <QFrame>

class QLabel;
class QPushButton;

namespace grpo::ui {

enum class AlertSeverity { kWarning, kError };

struct AlertInfo {
  QString rule;     // e.g. "entropy_floor"
  QString metric;   // e.g. "entropy"
  int step = 0;     // the step the rule fired at
  QString message;  // e.g. "entropy 0.02 below 0.05 for 3 steps"
  AlertSeverity severity = AlertSeverity::kError;
  int fork_step = -1;  // the last checkpoint before the alarm (-1: none, no fork offered)
  bool paused = true;  // the run waits (a pause action): offer "Resume as is" (false: it goes on)
};

class AlertBanner : public QFrame {
  Q_OBJECT
 public:
  explicit AlertBanner(QWidget* parent = nullptr);  // hidden until show_alert

  void show_alert(const AlertInfo& alert);  // replaces the one shown, and shows the banner
  AlertInfo alert() const { return alert_; }
  QString text() const;  // the line shown
  int fork_step() const { return alert_.fork_step; }
  AlertSeverity severity() const { return alert_.severity; }
  QColor accent() const;        // the severity's colour (border and icon)
  bool resume_offered() const;  // "Resume as is" is there (the run is paused)
  bool fork_offered() const;    // "Fork from step N…" is there (a checkpoint precedes the alarm)
  QString fork_button_text() const;

  // What the buttons do (tests call them; each hides the banner first).
  void resume();
  void fork();
  void dismiss();

 signals:
  void resume_requested();
  void fork_requested(int step);
  void dismissed();

 private:
  AlertInfo alert_;
  QLabel* icon_;
  QLabel* text_;
  QPushButton* resume_;
  QPushButton* fork_;
  QPushButton* close_;
};

}  // namespace grpo::ui

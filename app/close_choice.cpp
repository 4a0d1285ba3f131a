// Close choice (see close_choice.h), and MainWindow's closing with trainers it launched (main_window.h).
#include "app/close_choice.h"

#include <QCheckBox>
#include <QCloseEvent>
#include <QGuiApplication>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>

#include "app/main_window.h"

namespace grpo::app {

CloseChoice saved_close_choice() {
  const QString v = QSettings().value(kCloseChoiceKey).toString();
  return v == "keep" ? CloseChoice::kKeep : v == "stop" ? CloseChoice::kStop : CloseChoice::kAsk;
}

void save_close_choice(CloseChoice choice) {
  QSettings s;
  if (choice == CloseChoice::kAsk)
    s.remove(kCloseChoiceKey);
  else
    s.setValue(kCloseChoiceKey, choice == CloseChoice::kKeep ? "keep" : "stop");
}

CloseChoice ask_close_choice(QWidget* parent, const QStringList& runs) {
  QMessageBox box(QMessageBox::Question, QObject::tr("Close GRPO Studio"),
                  QObject::tr("%1 is still training. Keep it training after the studio closes, or stop it?")
                      .arg(runs.join(", ")),
                  QMessageBox::NoButton, parent);
  box.setInformativeText(
      QObject::tr("Kept, it goes on writing everything to its run folder; open that folder "
                  "later to follow and steer it again. Stopped, it writes a checkpoint first."));
  QPushButton* keep = box.addButton(QObject::tr("Keep training in the background"), QMessageBox::AcceptRole);
  QPushButton* stop = box.addButton(QObject::tr("Stop it (checkpoint first)"), QMessageBox::DestructiveRole);
  box.setEscapeButton(box.addButton(QMessageBox::Cancel));
  box.setDefaultButton(keep);
  auto* remember = new QCheckBox(QObject::tr("Remember my choice"));
  box.setCheckBox(remember);  // owned by the box
  box.exec();
  const CloseChoice choice = box.clickedButton() == keep   ? CloseChoice::kKeep
                             : box.clickedButton() == stop ? CloseChoice::kStop
                                                           : CloseChoice::kAsk;
  if (choice != CloseChoice::kAsk && remember->isChecked()) save_close_choice(choice);
  return choice;
}

bool MainWindow::close_trainers() {
  QVector<RunController*> going;
  QStringList names;
  for (const auto& [id, c] : controllers_)
    if (c->trainer_running()) going << c.get(), names << c->run().name;
  if (going.isEmpty()) return true;
  if (closing_) return false;  // already stopping them
  CloseChoice choice = saved_close_choice();
  if (choice == CloseChoice::kAsk) {  // offscreen nobody can answer: stop them, as before this question
    const QString platform = QGuiApplication::platformName();
    choice =
        platform == "offscreen" || platform == "minimal" ? CloseChoice::kStop : ask_close_choice(this, names);
  }
  if (choice == CloseChoice::kAsk) return false;  // cancelled
  if (choice == CloseChoice::kKeep) {
    for (RunController* c : going) c->keep_in_background();
    return true;
  }
  closing_ = true;
  setEnabled(false);
  show_banner(tr("Stopping %1: a checkpoint first …").arg(names.join(", ")), false);
  for (RunController* c : going) c->stop_and_wait(kStopOnCloseMs);
  setEnabled(true);
  closing_ = false;
  return true;
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (!close_trainers()) return event->ignore();
  QSettings s;
  s.setValue("window/geometry", saveGeometry());
  s.setValue("window/state", saveState());
  QMainWindow::closeEvent(event);
}

}  // namespace grpo::app

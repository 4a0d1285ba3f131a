// Close choice (see close_choice.h).
#include "app/close_choice.h"

#include <QCheckBox>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>

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

}  // namespace grpo::app

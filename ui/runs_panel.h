// The runs list: every run the studio knows (a runs folder, attached runs, opened folders), with a
// checkbox to overlay it on the charts, its stable colour, state, step, tags and notes (editable).
#pragma once

#include <QColor>
#include <QWidget>

class QTreeWidget;
class QTreeWidgetItem;

namespace grpo::ui {

struct RunEntry {
  QString id;      // unique key (the run folder's path, or the endpoint for a remote run)
  QString name;    // shown
  QString state;   // running, finished, ...
  int step = 0;
  QColor color;
  QString tags, notes;
};

class RunsPanel : public QWidget {
  Q_OBJECT
 public:
  explicit RunsPanel(QWidget* parent = nullptr);
  void upsert(const RunEntry& entry);  // adds or updates (keeps the check state)
  void set_checked(const QString& id, bool checked);
  QStringList checked() const;
  QString current() const;             // the selected run
  void set_current(const QString& id);
  int count() const;

 signals:
  void checked_changed(const QString& id, bool checked);
  void current_changed(const QString& id);
  void annotation_changed(const QString& id, const QString& tags, const QString& notes);

 private:
  QTreeWidgetItem* item(const QString& id) const;
  QTreeWidget* tree_;
};

}  // namespace grpo::ui

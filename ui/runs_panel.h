// The runs list: every run the studio knows (a runs folder, attached runs, opened folders), with a
// checkbox to overlay it on the charts, its stable colour, state, step, tags and notes (editable). Forks
// are shown under their parent run (a tree: a fork of a fork under that fork). A run that can be resumed (its
// trainer stopped unexpectedly) has "Resume run" in its context menu.
#pragma once

#include <QColor>
#include <QHash>
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
  QString parent;  // the parent run's id for a fork (empty: a run of its own, at the top level)
  bool resumable = false;  // offer "Resume run" (from its newest checkpoint)
};

class RunsPanel : public QWidget {
  Q_OBJECT
 public:
  explicit RunsPanel(QWidget* parent = nullptr);
  // Adds or updates (keeps the check state). A fork goes under its parent's item once the parent is
  // listed (until then, or with an unknown parent, at the top level); its own forks move with it.
  void upsert(const RunEntry& entry);
  void remove(const QString& id);  // its forks move to the top level (and back under it if it returns)
  void set_checked(const QString& id, bool checked);
  QStringList checked() const;  // every ticked run, forks included, in tree order
  QString current() const;      // the selected run
  void set_current(const QString& id);
  int count() const;                              // every run listed, forks included
  QString shown_parent(const QString& id) const;  // the run it is shown under ("" at the top level)
  QString state_text(const QString& id) const;    // its state column
  bool resume_offered(const QString& id) const;   // its context menu has "Resume run"
  // What "Resume run" does (tests call it: offscreen there is no popup to click): emits resume_requested
  // when it is offered; returns whether it did.
  bool request_resume(const QString& id);

 signals:
  void checked_changed(const QString& id, bool checked);
  void current_changed(const QString& id);
  void annotation_changed(const QString& id, const QString& tags, const QString& notes);
  void resume_requested(const QString& id);

 private:
  QTreeWidgetItem* item(const QString& id) const { return items_.value(id); }
  void place(QTreeWidgetItem* it);  // under its wanted parent's item, or at the top level
  void decorate();
  QTreeWidget* tree_;
  QHash<QString, QTreeWidgetItem*> items_;  // id -> item
  QHash<QString, QString> parents_;         // id -> the parent's id it asked for
  QHash<QString, bool> resumable_;          // id -> "Resume run" offered
};

}  // namespace grpo::ui

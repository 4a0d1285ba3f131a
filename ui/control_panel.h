// The control panel: the run's state, pause / resume / stop / checkpoint, an editor for every live
// hyperparameter the trainer accepts (built from the `live` schema of its hello reply, validated before
// sending), what is pending and what was applied from which step, and the history of changes.
#pragma once

#include <QMap>
#include <QVariant>
#include <QWidget>

#include "ui/param_editor.h"

class QLabel;
class QListWidget;
class QPushButton;

namespace grpo::ui {

class ControlPanel : public QWidget {
  Q_OBJECT
 public:
  explicit ControlPanel(QWidget* parent = nullptr);

  void set_params(const QVector<LiveParam>& params);  // rebuilds the editors
  // "running", "paused", "waiting", ...; `reason` (the trainer's why, e.g. "reward server … not answering") is shown beside it.
  void set_state(const QString& state, int step, const QString& reason = {});
  QString state_text() const;  // what the state line shows
  void set_connected(bool connected, const QString& why = {});
  // The trainer accepted a change: pending until `step`, then applied.
  void set_pending(const QMap<QString, QVariant>& values, int from_step);
  void mark_applied(const QMap<QString, QVariant>& values, int from_step);
  void set_error(const QString& message);
  QString state() const { return state_; }
  QStringList history() const;

  // Validates the edited values against the schema; returns {} and an error message when one is out of range.
  // Numbers as double, integers as qlonglong, choices (e.g. watchdogs.*.action) as QString.
  QMap<QString, QVariant> edited_values(QString* error) const;
  void set_edit_value(const QString& key, double value);        // as if typed
  void set_edit_text(const QString& key, const QString& text);  // a choice, as if picked
  ParamEditor* editor() const { return editor_; }

 signals:
  void pause_requested();
  void resume_requested();
  void stop_requested();
  void checkpoint_requested();
  void set_requested(const QMap<QString, QVariant>& values);

 private:
  void refresh_buttons();

  QLabel* state_label_;
  QLabel* message_;
  QPushButton *pause_, *resume_, *stop_, *checkpoint_, *apply_, *revert_;
  ParamEditor* editor_;  // per key, beside its editor: "applied since step N" / "pending from step N"
  QListWidget* history_;
  QString state_ = "disconnected";
  bool connected_ = false;
};

}  // namespace grpo::ui

// The control panel: the run's state, pause / resume / stop / checkpoint, an editor for every live
// hyperparameter the trainer accepts (built from the `live` schema of its hello reply, validated before
// sending), what is pending and what was applied from which step, and the history of changes.
#pragma once

#include <QMap>
#include <QVariant>
#include <QWidget>

class QAbstractSpinBox;
class QFormLayout;
class QLabel;
class QListWidget;
class QPushButton;

namespace grpo::ui {

// One live hyperparameter, as the trainer describes it.
struct LiveParam {
  QString key;
  bool integer = false;
  double min = 0, max = 0;
  bool min_exclusive = false;
  double value = 0;
};

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
  QMap<QString, QVariant> edited_values(QString* error) const;
  void set_edit_value(const QString& key, double value);  // as if typed

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
  QFormLayout* form_;
  QWidget* form_host_;
  QListWidget* history_;
  QVector<LiveParam> params_;
  QMap<QString, QAbstractSpinBox*> editors_;
  QMap<QString, QLabel*> status_;  // per key: "applied since step N" / "pending from step N"
  QString state_ = "disconnected";
  bool connected_ = false;
};

}  // namespace grpo::ui

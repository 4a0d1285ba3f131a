// What closing the studio does with a trainer it launched that still runs: ask, keep it training in the
// background (it outlives the studio; its run folder's endpoints.json lets a studio attach again), or
// stop it (the protocol's stop: a checkpoint, then it exits). A remembered choice is kept in QSettings
// under kCloseChoiceKey: "keep" or "stop"; absent (or anything else): ask.
#pragma once

#include <QStringList>

class QWidget;

namespace grpo::app {

enum class CloseChoice { kAsk, kKeep, kStop };

inline constexpr const char* kCloseChoiceKey = "studio/on_close_with_trainer";

CloseChoice saved_close_choice();
void save_close_choice(CloseChoice choice);  // kAsk forgets a remembered choice

// The question, for the runs named: three buttons and "Remember my choice" (which saves the answer).
// kAsk when cancelled.
CloseChoice ask_close_choice(QWidget* parent, const QStringList& runs);

}  // namespace grpo::app

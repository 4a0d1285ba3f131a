// Lineage: how forks and their parents meet in the studio. A fork's run store names its parent's folder
// (meta parent_dir, parent_step); the studio's id of a local run is its folder's canonical path, so both are
// canonicalised the same way. A fork's charts draw its ancestors' history before its own first step (its
// parent up to the fork step; a parent that is a fork itself adds its own parent up to where it started,
// and so on), read from their run stores; a parent's charts mark where each of its forks starts.
#pragma once

#include <QString>
#include <QVector>

#include "app/run_data.h"

namespace grpo::app {

// The studio's id of a local run folder: its canonical path (symbolic links, "." and ".." resolved). A
// folder not made yet (a run being launched): its nearest existing parent's canonical path plus the rest.
QString run_id_of_dir(const QString& dir);

// The id of a fork's parent ("" for a run of its own).
QString parent_id(const RunData& r);

// Fills r.ancestry from the ancestors' run stores (every metric, each point before r's first step, in step
// order). A store that cannot be read, or a loop of parents, ends the chain there.
void load_ancestry(RunData& r);

// The run folder whose own history holds `step` on r's charts: r's own (not a fork, or a step after the
// fork's start), else the ancestor's that recorded it.
QString owner_of_step(const RunData& r, int step);

// The steps of the checkpoints in <run_dir>/checkpoints (step_NNNNNN.pt), ascending.
QVector<int> checkpoint_steps(const QString& run_dir);

// The newest of `steps` at or before `step`; -1 when none is.
int newest_at_or_before(const QVector<int>& steps, int step);

}  // namespace grpo::app

// Lineage (see lineage.h).
#include "app/lineage.h"

#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSet>
#include <algorithm>
#include <map>

#include "ipc/names.h"
#include "ipc/run_store.h"

namespace grpo::app {

namespace {
constexpr int kMaxGenerations = 64;  // a longer chain is surely a loop the id check missed

struct StoreParent {
  QString dir;
  int step = -1;
};

// A run store's own parent (none: dir empty).
StoreParent parent_in_store(const ipc::RunStore& store) {
  StoreParent p;
  if (auto d = store.meta(ipc::meta::kParentDir)) p.dir = QString::fromStdString(*d);
  if (auto s = store.meta(ipc::meta::kParentStep)) p.step = QString::fromStdString(*s).toInt();
  return p;
}

std::string store_path(const QString& dir) {
  return QDir(dir).filePath("run.sqlite").toStdString();
}
}  // namespace

QString run_id_of_dir(const QString& dir) {
  if (dir.isEmpty()) return {};
  QString path = QDir::cleanPath(QDir(dir).absolutePath());
  QStringList rest;  // the parts below the nearest folder that exists
  while (!QFileInfo::exists(path)) {
    const QFileInfo fi(path);
    const QString up = fi.path();
    if (up == path) break;
    rest.prepend(fi.fileName());
    path = up;
  }
  const QString canonical = QFileInfo(path).canonicalFilePath();
  QString out = canonical.isEmpty() ? path : canonical;
  for (const QString& part : rest) out = QDir(out).filePath(part);
  return QDir::cleanPath(out);
}

QString parent_id(const RunData& r) {
  return r.is_fork() ? run_id_of_dir(r.parent_dir) : QString();
}

void load_ancestry(RunData& r) {
  r.ancestry.clear();
  r.ancestry_loaded = true;
  if (!r.is_fork()) return;
  std::map<QString, std::vector<std::pair<int, double>>> points;
  QSet<QString> seen = {run_id_of_dir(r.dir)};
  QString dir = r.parent_dir;
  int up_to = r.parent_step;  // this ancestor's points up to here are drawn
  for (int generation = 0; generation < kMaxGenerations && !dir.isEmpty() && up_to >= 0; ++generation) {
    const QString id = run_id_of_dir(dir);
    if (seen.contains(id)) break;  // a loop of parents
    seen.insert(id);
    StoreParent next;
    try {
      const auto store = ipc::RunStore::open_for_reading(store_path(dir));
      next = parent_in_store(store);
      for (const auto& name : store.metric_names()) {
        auto& out = points[QString::fromStdString(name)];
        for (const auto& p : store.metric_series(name))
          if (p.step <= up_to && p.step > next.step) out.emplace_back(static_cast<int>(p.step), p.value);
      }
    } catch (const std::exception&) {
      break;  // the parent was moved or deleted: draw what was read
    }
    dir = next.dir;
    up_to = next.step;
  }
  for (auto& [name, list] : points) {
    if (list.empty()) continue;
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    MetricSeries& s = r.ancestry[name];
    for (const auto& [step, value] : list) {
      s.steps << step;
      s.values << value;
    }
  }
}

QString owner_of_step(const RunData& r, int step) {
  if (!r.is_fork() || step > r.parent_step) return r.dir;
  QString dir = r.parent_dir;
  QSet<QString> seen = {run_id_of_dir(r.dir)};
  for (int generation = 0; generation < kMaxGenerations; ++generation) {
    seen.insert(run_id_of_dir(dir));
    StoreParent next;
    try {
      next = parent_in_store(ipc::RunStore::open_for_reading(store_path(dir)));
    } catch (const std::exception&) {
      return dir;
    }
    if (next.dir.isEmpty() || step > next.step || seen.contains(run_id_of_dir(next.dir))) return dir;
    dir = next.dir;
  }
  return dir;
}

QVector<int> checkpoint_steps(const QString& run_dir) {
  static const QRegularExpression name(R"(^step_(\d+)\.pt$)");
  QVector<int> out;
  for (const QString& f : QDir(QDir(run_dir).filePath("checkpoints")).entryList(QDir::Files))
    if (const auto m = name.match(f); m.hasMatch()) out << m.captured(1).toInt();
  std::sort(out.begin(), out.end());
  return out;
}

int newest_at_or_before(const QVector<int>& steps, int step) {
  int best = -1;
  for (int s : steps)
    if (s <= step) best = std::max(best, s);
  return best;
}

}  // namespace grpo::app

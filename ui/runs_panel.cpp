// Runs list (see runs_panel.h).
#include "ui/runs_panel.h"

#include <QHeaderView>
#include <QMenu>
#include <QPainter>
#include <QPixmap>
#include <QTreeWidget>
#include <QTreeWidgetItemIterator>
#include <QVBoxLayout>
#include <utility>

namespace grpo::ui {

namespace {
enum Col { kName, kState, kStep, kTags, kNotes };
QIcon swatch(const QColor& c) {
  QPixmap p(12, 12);
  p.fill(Qt::transparent);
  QPainter painter(&p);
  painter.setBrush(c);
  painter.setPen(Qt::NoPen);
  painter.drawRoundedRect(0, 0, 12, 12, 3, 3);
  return QIcon(p);
}
// Expands an item and every fork below it (a re-added item's view state starts collapsed).
void expand_all(QTreeWidgetItem* it) {
  it->setExpanded(true);
  for (int i = 0; i < it->childCount(); ++i) expand_all(it->child(i));
}
}  // namespace

RunsPanel::RunsPanel(QWidget* parent) : QWidget(parent), tree_(new QTreeWidget) {
  tree_->setColumnCount(5);
  tree_->setHeaderLabels({tr("run"), tr("state"), tr("step"), tr("tags"), tr("notes")});
  tree_->setRootIsDecorated(false);
  tree_->setToolTip(tr("Tick runs to overlay them on the charts; double-click tags or notes to edit"));
  tree_->header()->setSectionResizeMode(kName, QHeaderView::ResizeToContents);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(tree_);
  connect(tree_, &QTreeWidget::itemChanged, this, [this](QTreeWidgetItem* it, int column) {
    const QString id = it->data(kName, Qt::UserRole).toString();
    if (column == kName) emit checked_changed(id, it->checkState(kName) == Qt::Checked);
    if (column == kTags || column == kNotes) emit annotation_changed(id, it->text(kTags), it->text(kNotes));
  });
  connect(tree_, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem* it) {
    if (it) emit current_changed(it->data(kName, Qt::UserRole).toString());
  });
  connect(tree_, &QTreeWidget::itemDoubleClicked, this, [this](QTreeWidgetItem* it, int column) {
    if (column == kTags || column == kNotes) tree_->editItem(it, column);
  });
  tree_->setContextMenuPolicy(Qt::CustomContextMenu);
  connect(tree_, &QTreeWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
    QTreeWidgetItem* it = tree_->itemAt(pos);
    const QString id = it ? it->data(kName, Qt::UserRole).toString() : QString();
    if (!resume_offered(id)) return;
    QMenu menu;
    QAction* resume = menu.addAction(tr("Resume run"));
    resume->setToolTip(tr("Continue it from its newest checkpoint (grpo-train run --resume)"));
    if (menu.exec(tree_->viewport()->mapToGlobal(pos)) == resume) request_resume(id);
  });
}

QString RunsPanel::state_text(const QString& id) const {
  const QTreeWidgetItem* it = item(id);
  return it ? it->text(kState) : QString();
}

bool RunsPanel::resume_offered(const QString& id) const {
  return item(id) && resumable_.value(id);
}

bool RunsPanel::request_resume(const QString& id) {
  if (!resume_offered(id)) return false;
  emit resume_requested(id);
  return true;
}

void RunsPanel::place(QTreeWidgetItem* it) {
  const QString id = it->data(kName, Qt::UserRole).toString();
  QTreeWidgetItem* want = item(parents_.value(id));
  for (QTreeWidgetItem* up = want; up; up = up->parent())  // a parent may not sit below its own fork
    if (up == it) want = nullptr;
  if (it->parent() == want && (want || tree_->indexOfTopLevelItem(it) >= 0)) return;
  // Taking an item out loses the tree's current item if it is this one (or one of its forks); put it back.
  QTreeWidgetItem* current = tree_->currentItem();
  if (QTreeWidgetItem* p = it->parent())
    p->removeChild(it);
  else if (const int i = tree_->indexOfTopLevelItem(it); i >= 0)
    tree_->takeTopLevelItem(i);
  if (want) {
    want->addChild(it);
    want->setExpanded(true);
  } else {
    tree_->addTopLevelItem(it);
  }
  expand_all(it);  // a moved item shows its own forks
  if (current && tree_->currentItem() != current) tree_->setCurrentItem(current);
  decorate();
}

void RunsPanel::decorate() {
  bool nested = false;  // expand arrows only once there is a fork to show under its parent
  for (auto* i : std::as_const(items_)) nested |= i->parent() != nullptr;
  tree_->setRootIsDecorated(nested);
}

void RunsPanel::upsert(const RunEntry& e) {
  const QSignalBlocker block(tree_);
  QTreeWidgetItem* it = item(e.id);
  const bool added = !it;
  if (!it) {
    it = new QTreeWidgetItem;
    it->setData(kName, Qt::UserRole, e.id);
    it->setFlags(it->flags() | Qt::ItemIsUserCheckable | Qt::ItemIsEditable);
    it->setCheckState(kName, Qt::Unchecked);
    it->setText(kTags, e.tags);
    it->setText(kNotes, e.notes);
    items_.insert(e.id, it);
  }
  it->setText(kName, e.name);
  it->setToolTip(kName, e.id);
  it->setIcon(kName, swatch(e.color));
  it->setText(kState, e.state);
  it->setToolTip(kState, e.resumable ? tr("%1 — right-click: Resume run").arg(e.state) : e.state);
  resumable_.insert(e.id, e.resumable);
  it->setText(kStep, QString::number(e.step));
  parents_.insert(e.id, e.parent);
  place(it);
  if (added)  // forks listed before it move under it
    for (auto p = parents_.begin(); p != parents_.end(); ++p)
      if (p.value() == e.id && p.key() != e.id) place(item(p.key()));
}

void RunsPanel::remove(const QString& id) {
  QTreeWidgetItem* it = item(id);
  if (!it) return;
  const QSignalBlocker block(tree_);
  QTreeWidgetItem* keep = tree_->currentItem();  // a fork below it stays current once moved
  const bool was_current = keep == it;
  const QList<QTreeWidgetItem*> children = it->takeChildren();
  for (QTreeWidgetItem* c : children) tree_->addTopLevelItem(c), expand_all(c);
  items_.remove(id);
  parents_.remove(id);
  resumable_.remove(id);
  delete it;
  if (!was_current && keep) tree_->setCurrentItem(keep);
  decorate();
  if (was_current) emit current_changed(current());
}

void RunsPanel::set_checked(const QString& id, bool checked) {
  if (QTreeWidgetItem* it = item(id)) it->setCheckState(kName, checked ? Qt::Checked : Qt::Unchecked);
}

QStringList RunsPanel::checked() const {
  QStringList out;
  for (QTreeWidgetItemIterator it(tree_, QTreeWidgetItemIterator::Checked); *it; ++it)
    out << (*it)->data(kName, Qt::UserRole).toString();
  return out;
}

QString RunsPanel::current() const {
  return tree_->currentItem() ? tree_->currentItem()->data(kName, Qt::UserRole).toString() : QString();
}

void RunsPanel::set_current(const QString& id) {
  if (QTreeWidgetItem* it = item(id)) tree_->setCurrentItem(it);
}

int RunsPanel::count() const {
  return static_cast<int>(items_.size());
}

QString RunsPanel::shown_parent(const QString& id) const {
  const QTreeWidgetItem* it = item(id);
  return it && it->parent() ? it->parent()->data(kName, Qt::UserRole).toString() : QString();
}

}  // namespace grpo::ui

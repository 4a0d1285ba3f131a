// Runs list (see runs_panel.h).
#include "ui/runs_panel.h"

#include <QHeaderView>
#include <QPainter>
#include <QPixmap>
#include <QTreeWidget>
#include <QVBoxLayout>

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
}

QTreeWidgetItem* RunsPanel::item(const QString& id) const {
  for (int i = 0; i < tree_->topLevelItemCount(); ++i)
    if (tree_->topLevelItem(i)->data(kName, Qt::UserRole).toString() == id) return tree_->topLevelItem(i);
  return nullptr;
}

void RunsPanel::upsert(const RunEntry& e) {
  const QSignalBlocker block(tree_);
  QTreeWidgetItem* it = item(e.id);
  if (!it) {
    it = new QTreeWidgetItem(tree_);
    it->setData(kName, Qt::UserRole, e.id);
    it->setFlags(it->flags() | Qt::ItemIsUserCheckable | Qt::ItemIsEditable);
    it->setCheckState(kName, Qt::Unchecked);
    it->setText(kTags, e.tags);
    it->setText(kNotes, e.notes);
  }
  it->setText(kName, e.name);
  it->setToolTip(kName, e.id);
  it->setIcon(kName, swatch(e.color));
  it->setText(kState, e.state);
  it->setText(kStep, QString::number(e.step));
}

void RunsPanel::set_checked(const QString& id, bool checked) {
  if (QTreeWidgetItem* it = item(id)) it->setCheckState(kName, checked ? Qt::Checked : Qt::Unchecked);
}

QStringList RunsPanel::checked() const {
  QStringList out;
  for (int i = 0; i < tree_->topLevelItemCount(); ++i)
    if (tree_->topLevelItem(i)->checkState(kName) == Qt::Checked)
      out << tree_->topLevelItem(i)->data(kName, Qt::UserRole).toString();
  return out;
}

QString RunsPanel::current() const {
  return tree_->currentItem() ? tree_->currentItem()->data(kName, Qt::UserRole).toString() : QString();
}

void RunsPanel::set_current(const QString& id) {
  if (QTreeWidgetItem* it = item(id)) tree_->setCurrentItem(it);
}

int RunsPanel::count() const { return tree_->topLevelItemCount(); }

}  // namespace grpo::ui

// The widgets of watchdogs, forks and lineage (issue 15) on their own: a chart's fork step and its menu,
// marker kinds and faint series; the dashboard's alerts, fork points and a parent's history; forks under
// their parent in the runs list (QAbstractItemModelTester); the alert banner; the compared traces.
#include <QAbstractItemModelTester>
#include <QtTest>

#include <qcustomplot.h>
#include <QApplication>
#include <QMenu>
#include <QPushButton>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QTextBlock>
#include <QTextBrowser>
#include <QTextDocument>
#include <QTimer>
#include <QTreeWidget>

#include <cmath>

#include "ui/alert_banner.h"
#include "ui/chart_widget.h"
#include "ui/dashboard.h"
#include "ui/runs_panel.h"
#include "ui/sample_model.h"
#include "ui/token_heat.h"
#include "ui/trace_compare.h"

using namespace grpo::ui;

namespace {
QVector<ChartMarker> markers_of(const ChartWidget* c, MarkerKind kind) {
  QVector<ChartMarker> out;
  for (const auto& m : c->markers())
    if (m.kind == kind) out << m;
  return out;
}

// The straight line item drawn at x (a marker's line).
QCPItemStraightLine* line_at(ChartWidget& c, double x) {
  for (int i = 0; i < c.plot()->itemCount(); ++i)
    if (auto* l = qobject_cast<QCPItemStraightLine*>(c.plot()->item(i)); l && l->point1->coords().x() == x)
      return l;
  return nullptr;
}

// A completion cut into the given tokens: the text and each token's byte offset.
CompareColumn column(const QString& title, const QStringList& tokens, float logp) {
  CompareColumn c;
  c.title = title;
  for (const QString& t : tokens) {
    c.offsets << static_cast<int>(c.completion.toUtf8().size());
    c.completion += t;
    c.logp << logp;
    c.logp_old << logp;
  }
  c.markers = {"check", "wait"};
  return c;
}

double first_alpha(const QString& html) {  // the alpha of the first token's background
  static const QRegularExpression re("background-color:rgba\\(\\d+,\\d+,\\d+,([0-9.]+)\\)");
  const auto m = re.match(html);
  return m.hasMatch() ? m.captured(1).toDouble() : -1;
}
}  // namespace

class TestWidgetsForks : public QObject {
  Q_OBJECT
 private slots:
  void chart_finds_the_fork_step_nearest_a_point() {
    ChartWidget chart("t");
    QCOMPARE(chart.step_at(3), -1);  // no data
    QVERIFY(!chart.nearest_point(3));
    chart.set_series("r1|m", "m", Qt::blue, {0, 10, 20, 30}, {0, 0, 0, 0});
    chart.set_series("r2|m", "m", Qt::red, {0, 10, 20, 25}, {1, 1, 1, 1});
    chart.rescale();
    QCOMPARE(chart.step_at(14), 10);  // by x alone: the nearest data point of any series
    QCOMPARE(chart.step_at(16), 20);
    QCOMPARE(chart.step_at(24), 25);  // r2 has a point at 25, r1 none nearer
    QCOMPARE(chart.nearest_point(24)->key, QString("r2|m"));
    QCOMPARE(chart.nearest_point(11, 0.9)->key, QString("r2|m"));  // by x and y: the line under the cursor
    QCOMPARE(chart.nearest_point(11, 0.1)->key, QString("r1|m"));
    QCOMPARE(chart.nearest_point(11, 0.1)->x, 10.0);
    ChartWidget fractional("t");  // the x of a point is rounded to a step
    fractional.set_series("k", "k", Qt::blue, {1.4, 2.6}, {0, 0});
    QCOMPARE(fractional.step_at(1.0), 1);
    QCOMPARE(fractional.step_at(3.0), 3);

    QSignalSpy spy(&chart, &ChartWidget::fork_requested);
    QVERIFY(!chart.fork_enabled());
    QVERIFY(!chart.request_fork_at(11, 0.1));  // off by default (e.g. the x axis is wall time)
    QCOMPARE(spy.count(), 0);
    chart.set_fork_enabled(true);
    QVERIFY(chart.request_fork_at(19, 0.95));
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy[0][0].toInt(), 20);
    QCOMPARE(spy[0][1].toString(), QString("r2|m"));
  }

  void chart_context_menu_offers_the_fork_on_the_step_axis() {
    ChartWidget chart("t");
    chart.resize(500, 350);
    chart.set_series("r|m", "m", Qt::blue, {1, 2, 3, 4, 5, 6}, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6});
    chart.show();
    QVERIFY(QTest::qWaitForWindowExposed(&chart));
    chart.rescale();
    chart.plot()->replot(QCustomPlot::rpImmediateRefresh);
    const QPoint at(qRound(chart.plot()->xAxis->coordToPixel(4.2)),
                    qRound(chart.plot()->yAxis->coordToPixel(0.4)));
    QVERIFY(chart.plot()->axisRect()->rect().contains(at));
    QStringList entries;
    bool fork_chosen = false;
    auto open_menu = [&](bool choose_fork) {
      entries.clear();
      QTimer::singleShot(0, &chart, [&, choose_fork] {
        auto* menu = qobject_cast<QMenu*>(QApplication::activePopupWidget());
        if (!menu) return;
        QAction* fork = nullptr;
        for (QAction* a : menu->actions()) {
          if (!a->isSeparator()) entries << a->text();
          if (a->text().startsWith("Fork from here")) fork = a;
        }
        if (choose_fork && fork) {
          menu->setActiveAction(fork);
          QTest::keyClick(menu, Qt::Key_Return);
          fork_chosen = true;
        } else {
          menu->close();
        }
      });
      QContextMenuEvent event(QContextMenuEvent::Mouse, at, chart.plot()->mapToGlobal(at));
      QApplication::sendEvent(chart.plot(), &event);
    };
    open_menu(false);
    QVERIFY2(entries.contains("Export chart…"), qPrintable(entries.join(", ")));
    QVERIFY2(!entries.join(", ").contains("Fork"), qPrintable(entries.join(", ")));  // not enabled
    chart.set_fork_enabled(true);
    QSignalSpy spy(&chart, &ChartWidget::fork_requested);
    open_menu(true);
    QVERIFY2(entries.contains("Fork from here (step 4)…"), qPrintable(entries.join(", ")));
    QVERIFY(entries.contains("Export chart…"));
    QVERIFY(fork_chosen);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy[0][0].toInt(), 4);
    QCOMPARE(spy[0][1].toString(), QString("r|m"));
  }

  void chart_markers_have_kinds_and_series_can_be_faint() {
    ChartWidget chart("t");
    chart.set_series("s", "s", Qt::blue, {1, 2, 3}, {1, 2, 3});
    chart.set_series("p", "parent", Qt::blue, {0, 1}, {0, 1});
    chart.add_marker(3, "lr", QColor(230, 120, 0));
    chart.add_marker(5, "entropy_floor", MarkerKind::kAlert);
    chart.add_marker(7, "fork: b", MarkerKind::kFork);
    const auto all = chart.markers();
    QCOMPARE(all.size(), 3);
    QCOMPARE(all[0].kind, MarkerKind::kEvent);
    QCOMPARE(all[0].label, QString("lr"));
    const auto alerts = markers_of(&chart, MarkerKind::kAlert);
    QCOMPARE(alerts.size(), 1);
    QCOMPARE(alerts[0].x, 5.0);
    QCOMPARE(alerts[0].label, QString("entropy_floor"));
    QCOMPARE(alerts[0].color, QColor(214, 39, 40));  // red
    QCOMPARE(ChartWidget::marker_color(MarkerKind::kAlert), QColor(214, 39, 40));
    QVERIFY(line_at(chart, 5) && line_at(chart, 7) && line_at(chart, 3));
    QCOMPARE(line_at(chart, 5)->pen().style(), Qt::SolidLine);  // alerts: solid, thicker
    QCOMPARE(line_at(chart, 5)->pen().widthF(), 2.0);
    QCOMPARE(line_at(chart, 7)->pen().style(), Qt::DashLine);  // forks: purple, dashed
    QCOMPARE(line_at(chart, 7)->pen().color(), ChartWidget::marker_color(MarkerKind::kFork));
    QCOMPARE(line_at(chart, 3)->pen().widthF(), 1.0);
    chart.clear_markers();
    QVERIFY(chart.markers().isEmpty());
    QCOMPARE(chart.plot()->itemCount(), 0);

    // Graphs in creation order: s raw, s smooth, p raw, p smooth.
    QCOMPARE(chart.plot()->graph(2)->pen().color(), QColor(Qt::blue));
    QVERIFY(!chart.faint("p"));
    chart.set_faint("p", true);
    QVERIFY(chart.faint("p"));
    QVERIFY(!chart.faint("s") && !chart.faint("missing"));
    const QColor pale = chart.plot()->graph(2)->pen().color();
    QVERIFY(pale != QColor(Qt::blue));
    const QColor bg = chart.palette().color(QPalette::Base);  // paler: nearer the background than blue is
    auto dist = [](const QColor& a, const QColor& b) {
      return std::abs(a.red() - b.red()) + std::abs(a.green() - b.green()) + std::abs(a.blue() - b.blue());
    };
    QVERIFY(dist(pale, bg) < dist(QColor(Qt::blue), bg));
    chart.set_smoothing(0.6);  // a redraw keeps it; its smoothed line is pale too, the others' not
    QVERIFY(chart.faint("p"));
    QVERIFY(chart.plot()->graph(3)->pen().color() != QColor(Qt::blue));
    QCOMPARE(chart.plot()->graph(1)->pen().color(), QColor(Qt::blue));
    QVERIFY(dist(chart.plot()->graph(2)->pen().color(), bg) <
            dist(chart.plot()->graph(0)->pen().color(), bg));
    chart.set_faint("p", false);
    QCOMPARE(chart.plot()->graph(3)->pen().color(), QColor(Qt::blue));
  }

  void dashboard_draws_alerts_forks_and_a_parents_history() {
    // The default charts spell the trainer's names (ipc/names.h), the same names as ever.
    const auto specs = default_charts();
    QVERIFY(specs[0].metrics.contains("reward") && specs[0].metrics.contains("reward/math/mean"));
    QCOMPARE(specs[0].band_std, QString("reward_std"));
    QVERIFY(specs[3].metrics.contains("completions/mean_length"));

    Dashboard d;
    d.add_run("runs/b", Qt::red);
    d.set_metric("runs/b", "entropy", {5, 6, 7}, {0.5, 0.4, 0.1});
    d.set_metric("runs/b", "reward", {5, 6, 7}, {0.2, 0.3, 0.4});
    d.set_parent_history("runs/b", "a", "entropy", {1, 2, 3, 4, 5}, {0.9, 0.8, 0.7, 0.6, 0.5});
    auto* entropy = d.chart("Entropy");
    auto* reward = d.chart("Reward");
    const QString pk = Dashboard::parent_key("runs/b", "entropy");
    QVERIFY(entropy->series_keys().contains(pk));
    QVERIFY(!reward->series_keys().contains(Dashboard::parent_key("runs/b", "reward")));
    QVERIFY(entropy->faint(pk));
    QVERIFY(!entropy->faint("runs/b|entropy"));
    QCOMPARE(entropy->legend_name(pk), QString("a · entropy (nats)"));
    QCOMPARE(entropy->point_count(pk), 5);
    QCOMPARE(d.run_of(pk), QString("runs/b"));
    QCOMPARE(d.point_count("runs/b", "entropy"), 3);  // the run's own points

    d.set_alerts("runs/b", {{6, "entropy", "entropy_floor"}, {7, {}, "nonfinite"}});
    const auto on_entropy = markers_of(entropy, MarkerKind::kAlert);
    QCOMPARE(on_entropy.size(), 2);
    QCOMPARE(on_entropy[0].x, 6.0);
    QCOMPARE(on_entropy[0].label, QString("entropy_floor"));
    QCOMPARE(on_entropy[0].color, QColor(214, 39, 40));
    const auto on_reward = markers_of(reward, MarkerKind::kAlert);  // only the alert of no one metric
    QCOMPARE(on_reward.size(), 1);
    QCOMPARE(on_reward[0].label, QString("nonfinite"));
    d.set_alerts("runs/b", {{6, "reward_std", "zero_spread"}});  // a band's metric: the chart of its band
    QCOMPARE(markers_of(reward, MarkerKind::kAlert).size(), 1);
    QCOMPARE(markers_of(entropy, MarkerKind::kAlert).size(), 0);

    d.set_fork_points("runs/b", {{5, "from a"}});
    d.set_markers("runs/b", {{6, "lr 1e-4", false}, {5, "ckpt", true}});  // the old markers still work
    for (auto* c : d.charts()) {
      const auto forks = markers_of(c, MarkerKind::kFork);
      QCOMPARE(forks.size(), 1);
      QCOMPARE(forks[0].x, 5.0);
      QCOMPARE(forks[0].label, QString("fork: from a"));
      QCOMPARE(markers_of(c, MarkerKind::kEvent).size(), 2);
    }
    QCOMPARE(markers_of(reward, MarkerKind::kAlert).size(), 1);  // alerts survive a redraw of markers

    // "Fork from here…": the run of the nearest series, also on its parent's faint history.
    QSignalSpy spy(&d, &Dashboard::fork_requested);
    QVERIFY(!entropy->fork_enabled());
    d.set_fork_enabled(true);
    QVERIFY(entropy->fork_enabled() && reward->fork_enabled());
    QVERIFY(entropy->request_fork_at(6.2));
    QVERIFY(entropy->request_fork_at(2.1));
    d.add_run("runs/a", Qt::blue);
    d.set_metric("runs/a", "entropy", {1, 2, 3, 4, 5, 6, 7}, {2, 2, 2, 2, 2, 2, 2});
    entropy->rescale();
    QVERIFY(entropy->request_fork_at(3.4, 1.9));
    QCOMPARE(spy.count(), 3);
    QCOMPARE(spy[0], (QList<QVariant>{"runs/b", 6}));
    QCOMPARE(spy[1], (QList<QVariant>{"runs/b", 2}));
    QCOMPARE(spy[2], (QList<QVariant>{"runs/a", 3}));
    QCOMPARE(entropy->legend_name(pk), QString("a · entropy (nats)"));  // two runs: still parent · series

    d.set_x_axis(Dashboard::kTime);  // no forks from a time; the parent's times are not this run's
    QVERIFY(!entropy->fork_enabled());
    QVERIFY(!entropy->series_keys().contains(pk));
    d.set_x_axis(Dashboard::kStep);
    QVERIFY(entropy->fork_enabled());
    QVERIFY(entropy->series_keys().contains(pk) && entropy->faint(pk));
    d.set_parent_history("runs/b", "a", "entropy", {}, {});  // no steps: gone
    QVERIFY(!entropy->series_keys().contains(pk));
    d.set_parent_history("runs/b", "a", "entropy", {1, 2}, {0.9, 0.8});
    d.remove_run("runs/b");
    QVERIFY(!entropy->series_keys().contains(pk));
    QVERIFY(markers_of(entropy, MarkerKind::kFork).isEmpty());
  }

  void runs_panel_shows_forks_under_their_parent() {
    RunsPanel panel;
    auto* tree = panel.findChild<QTreeWidget*>();
    QVERIFY(tree);
    // The tree's model is Qt's own QTreeModel, which gives an index in any column the children of column
    // 0 (while their parent() is in column 0): the tester's two checks of that fail for every QTreeWidget
    // with children. Those are let through; any other complaint fails this test.
    static QStringList complaints;
    static QtMessageHandler previous = nullptr;
    complaints.clear();
    previous = qInstallMessageHandler([](QtMsgType type, const QMessageLogContext& ctx, const QString& msg) {
      if (QByteArray(ctx.category) != "qt.modeltest") return previous(type, ctx, msg);
      static const QRegularExpression column_parent(R"(Expected \(parent\) QModelIndex\(\d+,[1-9]\d*,)");
      if (!msg.startsWith("FAIL!") || msg.contains("childIndex != childIndex1") ||
          column_parent.match(msg).hasMatch())
        return;
      complaints << msg;
    });
    const auto restore = qScopeGuard([] { qInstallMessageHandler(previous); });
    QAbstractItemModelTester tester(tree->model(), QAbstractItemModelTester::FailureReportingMode::Warning);
    QSignalSpy checked_spy(&panel, &RunsPanel::checked_changed);
    auto entry = [](const QString& id, const QString& parent) {
      RunEntry e;
      e.id = id;
      e.name = id.section('/', -1);
      e.state = "running";
      e.color = Qt::blue;
      e.parent = parent;
      return e;
    };
    panel.upsert(entry("runs/f1", "runs/p"));  // a fork listed before its parent: top level until then
    QCOMPARE(tree->topLevelItemCount(), 1);
    QCOMPARE(panel.shown_parent("runs/f1"), QString());
    panel.set_checked("runs/f1", true);
    panel.set_current("runs/f1");
    panel.upsert(entry("runs/p", {}));
    QCOMPARE(tree->topLevelItemCount(), 1);
    QTreeWidgetItem* p = tree->topLevelItem(0);
    QCOMPARE(p->text(0), QString("p"));
    QCOMPARE(p->childCount(), 1);
    QVERIFY(p->isExpanded());
    QCOMPARE(panel.shown_parent("runs/f1"), QString("runs/p"));
    QCOMPARE(panel.checked(), QStringList{"runs/f1"});  // check state and selection kept across the move
    QCOMPARE(panel.current(), QString("runs/f1"));
    panel.upsert(entry("runs/f2", "runs/p"));
    panel.upsert(entry("runs/f3", "runs/f1"));      // a fork of a fork
    panel.upsert(entry("runs/x", "runs/unknown"));  // an unknown parent: top level
    QCOMPARE(tree->topLevelItemCount(), 2);
    QCOMPARE(p->childCount(), 2);
    QCOMPARE(p->child(0)->childCount(), 1);
    QCOMPARE(panel.shown_parent("runs/f3"), QString("runs/f1"));
    QCOMPARE(panel.count(), 5);
    panel.set_checked("runs/f3", true);
    QCOMPARE(panel.checked(), (QStringList{"runs/f1", "runs/f3"}));
    RunEntry update = entry("runs/f1", "runs/p");
    update.step = 12;
    panel.upsert(update);  // an update leaves it where it is
    QCOMPARE(p->child(0)->text(2), QString("12"));
    QCOMPARE(p->childCount(), 2);

    panel.remove("runs/p");  // its forks move to the top level, their own forks with them
    QCOMPARE(panel.count(), 4);
    QCOMPARE(tree->topLevelItemCount(), 3);
    QCOMPARE(panel.shown_parent("runs/f1"), QString());
    QCOMPARE(panel.shown_parent("runs/f3"), QString("runs/f1"));
    QCOMPARE(panel.checked().size(), 2);
    QCOMPARE(panel.current(), QString("runs/f1"));
    panel.upsert(entry("runs/p", {}));  // back: so are they under it
    QCOMPARE(tree->topLevelItemCount(), 2);
    QCOMPARE(panel.shown_parent("runs/f2"), QString("runs/p"));
    QCOMPARE(panel.current(), QString("runs/f1"));
    panel.upsert(entry("runs/f2", {}));  // no parent any more
    QCOMPARE(tree->topLevelItemCount(), 3);
    QCOMPARE(panel.shown_parent("runs/f2"), QString());
    panel.upsert(entry("runs/p", "runs/f3"));  // a cycle (p under its own fork's fork) stays at the top
    QCOMPARE(panel.shown_parent("runs/p"), QString());
    QCOMPARE(checked_spy.count(), 2);  // set_checked twice; moving items ticks nothing
    QCOMPARE(checked_spy[0], (QList<QVariant>{"runs/f1", true}));
    QCOMPARE(checked_spy[1], (QList<QVariant>{"runs/f3", true}));
    QVERIFY2(complaints.isEmpty(), qPrintable(complaints.join('\n')));
  }

  void alert_banner_offers_resume_fork_and_dismiss() {
    QWidget host;
    auto* banner = new AlertBanner(&host);
    host.show();
    QVERIFY(QTest::qWaitForWindowExposed(&host));
    QVERIFY(!banner->isVisible());  // hidden until an alert
    QSignalSpy resume(banner, &AlertBanner::resume_requested);
    QSignalSpy fork(banner, &AlertBanner::fork_requested);
    QSignalSpy dismissed(banner, &AlertBanner::dismissed);
    banner->show_alert({"entropy_floor", "entropy", 42, "0.01 below 0.05", AlertSeverity::kError, 40, true});
    QVERIFY(banner->isVisible());
    QVERIFY2(banner->text().contains("entropy_floor") && banner->text().contains("entropy") &&
                 banner->text().contains("step 42") && banner->text().contains("0.01 below 0.05"),
             qPrintable(banner->text()));
    QCOMPARE(banner->fork_step(), 40);
    QCOMPARE(banner->severity(), AlertSeverity::kError);
    QCOMPARE(banner->accent(), QColor(217, 48, 37));
    QVERIFY(banner->resume_offered() && banner->fork_offered());
    QCOMPARE(banner->fork_button_text(), QString("Fork from step 40…"));
    QPushButton* fork_button = nullptr;
    QPushButton* resume_button = nullptr;
    QPushButton* close_button = nullptr;
    for (auto* b : banner->findChildren<QPushButton*>()) {
      if (b->text() == "Fork from step 40…") fork_button = b;
      if (b->text() == "Resume as is") resume_button = b;
      if (b->text() == QString("×")) close_button = b;
    }
    QVERIFY(fork_button && resume_button && close_button);
    QVERIFY(fork_button->isVisible() && resume_button->isVisible());
    QTest::mouseClick(fork_button, Qt::LeftButton);
    QCOMPARE(fork.count(), 1);
    QCOMPARE(fork[0][0].toInt(), 40);
    QVERIFY(!banner->isVisible());

    // A warning that did not pause, with no checkpoint before it: nothing to resume, nothing to fork from.
    banner->show_alert(
        {"length_drift", "completions/mean_length", 9, {}, AlertSeverity::kWarning, -1, false});
    QVERIFY(banner->isVisible());
    QCOMPARE(banner->accent(), QColor(230, 160, 0));
    QVERIFY(!banner->resume_offered() && !banner->fork_offered());
    QVERIFY(!fork_button->isVisible() && !resume_button->isVisible());
    QTest::mouseClick(close_button, Qt::LeftButton);
    QCOMPARE(dismissed.count(), 1);
    QVERIFY(!banner->isVisible());

    banner->show_alert({"kl_ceiling", "kl", 7, {}, AlertSeverity::kError, 5, true});
    QTest::mouseClick(resume_button, Qt::LeftButton);
    QCOMPARE(resume.count(), 1);
    QVERIFY(!banner->isVisible());
    QCOMPARE(fork.count(), 1);
    QCOMPARE(dismissed.count(), 1);
  }

  void heat_colours_by_hand() {
    QCOMPARE(heat_mode_labels().size(), 5);
    QCOMPARE(heat_color(0.5, HeatScale::kSequential), QString("rgba(240,140,20,0.353)"));  // 90/255
    QCOMPARE(heat_color(-1.0, HeatScale::kDiverging), QString("rgba(220,50,40,0.667)"));   // 170/255
    QCOMPARE(heat_color(2.0, HeatScale::kDiverging), QString("rgba(40,170,70,0.667)"));    // clamped
    QCOMPARE(heat_color(0.006, HeatScale::kSequential),
             QString("rgba(240,140,20,0.004)"));  // not "…,1)": opaque
    QVERIFY(heat_color(0.5, HeatScale::kNone).isEmpty());
    const TokenHeat h = token_heat(HeatMode::kEntropy, {-0.1f}, {-0.1f}, {1.0f, 3.0f}, {});
    QCOMPARE(h.scale, HeatScale::kSequential);
    QCOMPARE(h.values, (QVector<double>{0.5, 1.5}));  // entropy / 2, as long as the longest array
    QCOMPARE(h.tips.size(), 1);                       // tips for the tokens with a log-prob
  }

  void trace_compare_sets_traces_side_by_side() {
    TraceCompare compare;
    QSignalSpy prompt(&compare, &TraceCompare::prompt_changed);
    compare.set_prompts({"What is 2+2?", "What is 3+3?"});
    QCOMPARE(compare.current_prompt(), 0);
    QCOMPARE(prompt.count(), 0);  // setting the list is not the user choosing
    compare.set_current_prompt(1);
    QCOMPARE(prompt.count(), 1);
    QCOMPARE(prompt[0][0].toInt(), 1);
    compare.set_prompts({"What is 2+2?", "What is 3+3?", "What is 4+4?"});
    QCOMPARE(compare.current_prompt(), 1);  // kept
    QCOMPARE(compare.column_count(), 0);

    const QStringList a_tokens = {"<think>",  "wait",     ", ", "check",    " 2+2",
                                  "</think>", "<answer>", "4",  "</answer>"};
    const QStringList b_tokens = {"<think>", "4", "</think>", "<answer>", "5", "</answer>"};
    CompareColumn a = column("run A · step 20", a_tokens, -0.01f);  // sure of every token
    a.reward = 1.1;
    a.correct = a.verified = true;
    CompareColumn b = column("run B · step 20", b_tokens, -3.0f);  // unsure of every token
    compare.set_columns({a, b});
    QCOMPARE(compare.column_count(), 2);
    QCOMPARE(compare.column_text(0), a_tokens.join(""));
    QCOMPARE(compare.column_text(1), b_tokens.join(""));
    QVERIFY2(compare.column_title(0).contains("run A · step 20") &&
                 compare.column_title(0).contains("reward 1.100") &&
                 compare.column_title(0).contains("correct"),
             qPrintable(compare.column_title(0)));
    QVERIFY(compare.column_title(1).contains("wrong"));
    QCOMPARE(compare.heat_mode(), HeatMode::kImprobability);  // 1 − p: 0.01 · 180 and 0.95 · 180
    QCOMPARE(first_alpha(compare.column_html(0)), 0.004);     // 1/255
    QCOMPARE(first_alpha(compare.column_html(1)), 0.671);     // 171/255
    static const QRegularExpression marked("color:#b4009e[^>]*>check</span>");
    QVERIFY2(marked.match(compare.column_html(0)).hasMatch(), qPrintable(compare.column_html(0)));
    QVERIFY(!compare.column_html(1).contains("#b4009e"));  // no marker word in B
    // The views draw what the HTML says: "check" in the marker colour, B's tokens on a stronger background.
    QVector<QTextBrowser*> views = compare.findChildren<QTextBrowser*>();
    QCOMPARE(views.size(), 2);
    if (views[0]->toPlainText() != a_tokens.join("")) std::swap(views[0], views[1]);
    auto format_of = [](QTextBrowser* v, const QString& text) {
      for (QTextBlock block = v->document()->begin(); block.isValid(); block = block.next())
        for (auto it = block.begin(); !it.atEnd(); ++it)
          if (it.fragment().text() == text) return it.fragment().charFormat();
      return QTextCharFormat();
    };
    QCOMPARE(format_of(views[0], "check").foreground().color(), QColor("#b4009e"));
    // (A's alpha 1/255 once drew opaque: Qt reads an integer alpha of 1 as 100 %.)
    QCOMPARE(format_of(views[0], "4").background().color().alpha(), 1);
    QCOMPARE(format_of(views[1], "5").background().color().alpha(), 171);

    compare.set_heat_mode(HeatMode::kNone);
    QVERIFY(!compare.column_html(0).contains("background-color"));
    QVERIFY(marked.match(compare.column_html(0)).hasMatch());  // markers stay
    compare.set_columns({b});
    QCOMPARE(compare.column_count(), 1);
    QCOMPARE(compare.findChildren<QTextBrowser*>().size(), 1);
    QCOMPARE(compare.column_text(0), b_tokens.join(""));

    SampleView s;
    s.completion = "<think>wait</think>";
    s.offsets = {0, 7, 11};
    s.logp = {-0.5f, -0.5f, -0.5f};
    s.reward = 0.25;
    s.correct = true;
    const CompareColumn from = CompareColumn::from_sample("run C · step 3", s, {"wait"});
    QCOMPARE(from.completion, s.completion);
    QCOMPARE(from.offsets, s.offsets);
    QCOMPARE(from.logp, s.logp);
    QCOMPARE(from.reward, 0.25);
    QVERIFY(from.correct && !from.verified);
    QCOMPARE(from.markers, QStringList{"wait"});
  }
};

QTEST_MAIN(TestWidgetsForks)
#include "test_widgets_forks.moc"

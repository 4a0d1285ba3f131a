// The studio's widgets on their own: the debiased EMA and min/max decimation against hand-worked values, the sample model under
// QAbstractItemModelTester, filters, the heat-map rendering, the control panel's validation, the
// hyperparameter diff, and the chart's hover read-out and export.
#include <QAbstractItemModelTester>
#include <QtTest>

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLineEdit>
#include <QPushButton>
#include <qcustomplot.h>

#include <cmath>

#include "ui/chart_widget.h"
#include "ui/control_panel.h"
#include "ui/dashboard.h"
#include "ui/decimate.h"
#include "ui/hparam_diff.h"
#include "ui/launch_dialog.h"
#include "ui/sample_model.h"
#include "ui/smoothing.h"
#include "ui/trace_inspector.h"

using namespace grpo::ui;

namespace {
QVector<SampleView> samples() {
  QVector<SampleView> out;
  for (int i = 0; i < 4; ++i) {
    SampleView s;
    s.group = i / 2;
    s.index = i % 2;
    s.prompt = QString("Q:%1+1=").arg(i);
    s.completion = i % 2 ? "<think>5 check 2+3+0=05:5 ok</think><answer>5</answer>" : "<think>4</think><answer>4</answer>";
    s.answer = "5";
    s.correct = i % 2 == 1;
    s.verified = i % 2 == 1;
    s.reward = s.correct ? 1.1 : 0.1;
    s.advantage = s.correct ? 0.7 : -0.7;
    s.rewards = {{"accuracy", s.correct ? 1.0 : 0.0}, {"format", 1.0}};
    s.length = static_cast<int>(s.completion.size()) + 1;
    for (int t = 0; t < s.completion.size(); ++t) {
      s.offsets << t;
      s.logp << -0.1f * static_cast<float>(t % 3);
      s.logp_old << -0.2f;
      s.entropy << 0.5f;
      s.kl << 0.01f;
    }
    out << s;
  }
  return out;
}
}  // namespace

class TestWidgets : public QObject {
  Q_OBJECT
 private slots:
  void debiased_ema_by_hand() {
    // w = 0.5: ema 0.5, 1.25, 1.125 (with 0 start); debias by 1 − 0.5^n: 0.5/0.5, 1.25/0.75, 1.125/0.875
    const auto s = debiased_ema({1.0, 2.0, 1.0}, 0.5);
    QCOMPARE(s[0], 1.0);
    QVERIFY(std::abs(s[1] - 1.25 / 0.75) < 1e-12);
    QVERIFY(std::abs(s[2] - 1.125 / 0.875) < 1e-12);
    QCOMPARE(debiased_ema({3.0, 4.0}, 0.0), (QVector<double>{3.0, 4.0}));
    const auto n = debiased_ema({1.0, std::nan(""), 3.0}, 0.5);  // NaN passes through, skipped by the average
    QVERIFY(std::isnan(n[1]));
    QVERIFY(std::abs(n[2] - (0.5 * 0.5 + 0.5 * 3.0) / 0.75) < 1e-12);
  }

  void decimation_by_hand() {
    const QVector<double> x{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    const double nan = std::nan("");
    QVector<double> ox, oy;
    // 10 points > 4 x 2 columns over [0, 9]: column 0 holds x 0..4, column 1 x 5..8, and x = 9 sits on the
    // right edge (its own column). Each keeps its min and max in index order; NaN is skipped.
    decimate_min_max(x, {0, 5, 1, 4, 2, 3, nan, nan, 7, 6}, 0, 9, /*columns=*/2, ox, oy);
    QCOMPARE(ox, (QVector<double>{0, 1, 5, 8, 9}));
    QCOMPARE(oy, (QVector<double>{0, 5, 3, 7, 6}));
    // A column with no finite value keeps one NaN, so the gap is still drawn as a gap.
    decimate_min_max(x, {1, nan, nan, nan, nan, nan, nan, nan, nan, 2}, 0, 9, /*columns=*/2, ox, oy);
    QCOMPARE(ox, (QVector<double>{0, 5, 9}));
    QCOMPARE(oy[0], 1.0);
    QVERIFY(std::isnan(oy[1]));
    QCOMPARE(oy[2], 2.0);
    // Few points in view: the visible ones plus one neighbour on each side, untouched.
    decimate_min_max(x, x, 3.5, 5.5, /*columns=*/10, ox, oy);
    QCOMPARE(ox, (QVector<double>{3, 4, 5, 6}));
    QCOMPARE(oy, ox);
    // A chart cuts a long series to the columns but its hover still reads the raw values.
    ChartWidget chart("t");
    QVector<double> big_x(100000), big_y(100000);
    for (int i = 0; i < big_x.size(); ++i) big_x[i] = i, big_y[i] = i % 2;
    chart.set_series("s", "s", Qt::blue, big_x, big_y);
    chart.rescale();
    QVERIFY(chart.plot()->graph(0)->dataCount() <= 2 * 4000 + 2);
    QCOMPARE(chart.point_count("s"), 100000);
    QVERIFY(chart.values_at(12345).join("").endsWith(": 1"));
    chart.plot()->xAxis->setRange(100, 200);  // zoomed in: every point in view
    QCOMPARE(chart.plot()->graph(0)->dataCount(), 103);
  }

  void launch_spec_makes_grpo_train_arguments() {
    LaunchSpec spec;
    spec.runs_dir = "r";
    spec.name = "n";
    spec.overrides = {"max_steps=3"};
    QCOMPARE(spec.arguments(), (QStringList{"run", "--runs-dir", "r", "--name", "n", "--set", "max_steps=3"}));
    spec.processes = 2;
    spec.config_file = "c.json";
    QCOMPARE(spec.arguments(), (QStringList{"run", "--config", "c.json", "--runs-dir", "r", "--name", "n", "--set",
                                            "max_steps=3", "--nproc", "2"}));
    const LaunchDialog dialog({}, "runs");
    const LaunchSpec d = dialog.spec();
    QCOMPARE(d.processes, 1);
    QVERIFY(d.config_file.isEmpty());  // the built-in demo
    QVERIFY(d.overrides.contains("max_steps=100") && d.overrides.contains("optim.lr=5e-05"));
    QVERIFY(!d.overrides.join(' ').contains("model.path"));
    LaunchDialog with_folder({}, "runs");
    auto* folder = with_folder.findChild<QLineEdit*>("model_path");
    QVERIFY(folder);
    folder->setText(" /models/Qwen3-0.6B ");
    QVERIFY(with_folder.spec().overrides.contains("model.path=/models/Qwen3-0.6B"));
    QVERIFY(!d.overrides.join(' ').contains("data."));  // no dataset: the config's (the built-in task)
    auto* train = with_folder.findChild<QLineEdit*>("data_train");
    auto* eval = with_folder.findChild<QLineEdit*>("data_eval");
    QVERIFY(train && eval);
    train->setText("data/word-problems/train.jsonl");
    eval->setText(" data/word-problems/eval.jsonl");
    const QStringList o = with_folder.spec().overrides;
    QVERIFY(o.contains("data.train=data/word-problems/train.jsonl"));
    QVERIFY(o.contains("data.eval=data/word-problems/eval.jsonl"));
  }

  void sample_model_passes_the_model_tester() {
    SampleTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    SampleFilter filter;
    filter.setSourceModel(&model);
    QAbstractItemModelTester filter_tester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.set_samples(3, samples());
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.columnCount(), int(SampleTableModel::kFixedColumns) + 2);  // + accuracy, format
    QCOMPARE(model.headerData(SampleTableModel::kFixedColumns, Qt::Horizontal, Qt::DisplayRole).toString(), QString("accuracy"));
    filter.set_kind(SampleFilter::kCorrect);
    QCOMPARE(filter.rowCount(), 2);
    filter.set_kind(SampleFilter::kWrong);
    QCOMPARE(filter.rowCount(), 2);
    filter.set_kind(SampleFilter::kAll);
    filter.set_text("check");
    QCOMPARE(filter.rowCount(), 2);
    model.set_samples(4, {});
    QCOMPARE(filter.rowCount(), 0);
  }

  void render_highlights_tags_markers_and_heat() {
    const auto s = samples()[1];
    const QString plain = TraceInspector::render(s, TraceInspector::kNone, {"check", "wait"});
    QVERIFY(plain.contains("color:#2a6fdb"));  // tags
    QVERIFY(plain.contains("color:#b4009e"));  // the marker "check"
    QVERIFY(!plain.contains("background-color"));
    const QString heat = TraceInspector::render(s, TraceInspector::kDeltaLogp, {"check"});
    QVERIFY(heat.contains("background-color:rgba(40,170,70"));  // logp rose since sampling: green
    QVERIFY(heat.contains("title='token 0: log p"));
  }

  // BPE tokens may end inside a character: "世" (3 bytes) as two tokens, "😀" (4 bytes) as two, then "a".
  // Each character is drawn whole with the token it starts in; nothing becomes U+FFFD.
  void render_keeps_characters_split_across_tokens_whole() {
    SampleView s;
    s.completion = QString::fromUtf8("世😀a");
    s.offsets = {0, 2, 3, 5, 7};  // 世 = [0, 3), 😀 = [3, 7), a = [7, 8)
    s.logp = {-0.1f, -0.2f, -3.0f, -0.4f, -0.5f};
    s.logp_old = s.logp;
    s.entropy = {0.f, 0.f, 0.f, 0.f, 0.f};
    s.kl = s.entropy;
    const QString html = TraceInspector::render(s, TraceInspector::kLogp, {});
    QVERIFY(!html.contains(QChar(0xFFFD)));
    QVERIFY2(html.contains(QString::fromUtf8("世")), qPrintable(html));
    QVERIFY2(html.contains(QString::fromUtf8("😀")), qPrintable(html));
    QVERIFY(html.contains("title='token 0:"));  // 世 is drawn with token 0
    QVERIFY(html.contains("title='token 2:"));  // 😀 with token 2 (its first byte)
    QVERIFY(!html.contains("title='token 1:"));  // token 1 lies inside 世: nothing of its own
    QVERIFY(!html.contains("title='token 3:"));
    QVERIFY(html.contains("title='token 4:"));
  }

  void inspector_filters_and_group_view() {
    TraceInspector inspector;
    inspector.set_available_steps({1, 3});
    inspector.set_samples(3, samples());
    QCOMPARE(inspector.current_step(), 3);
    QCOMPARE(inspector.visible_rows(), 4);
    inspector.select_row(1);
    QVERIFY(inspector.detail_html().contains("check"));
  }

  void inspector_shows_a_dataset_rows_columns_and_na_rewards() {
    auto rows = samples();
    for (auto& s : rows) {
      s.columns = R"({"answer":"72","data_source":"openai/gsm8k","level":3})";
      s.rewards["server"] = std::nan("");  // the reward server said null for these rows
    }
    TraceInspector inspector;
    inspector.set_available_steps({3});
    inspector.set_samples(3, rows);
    inspector.select_row(0);
    const QString html = inspector.detail_html();
    QVERIFY2(html.contains("openai/gsm8k") && html.contains("level"), qPrintable(html));
    QVERIFY2(html.contains("server n/a"), qPrintable(html));
  }

  void control_panel_validates_before_sending() {
    ControlPanel panel;
    panel.set_params({{"optim.lr", false, 0.0, 10.0, true, 1e-4}, {"grpo.group_size", true, 2, 4096, false, 8}});
    panel.set_connected(true);
    panel.set_state("running", 3);
    QSignalSpy sent(&panel, &ControlPanel::set_requested);
    panel.set_edit_value("optim.lr", 0.0);  // the editor clamps at its minimum; min is exclusive
    QString error;
    QVERIFY(panel.edited_values(&error).isEmpty());
    QVERIFY(error.contains("optim.lr"));
    panel.set_edit_value("optim.lr", 0.002);
    const auto values = panel.edited_values(&error);
    QCOMPARE(values.value("optim.lr").toDouble(), 0.002);
    QVERIFY(!values.contains("grpo.group_size"));  // unchanged keys are not sent
    panel.set_pending(values, 5);
    panel.mark_applied(values, 5);
    QVERIFY(panel.history().first().contains("step 5"));
  }

  void control_panel_takes_learning_rates_of_any_magnitude() {
    ControlPanel panel;
    panel.set_params({{"optim.lr", false, 0.0, 10.0, true, 5e-5}});
    panel.set_connected(true);
    panel.set_state("running", 1);
    auto* box = panel.findChild<QDoubleSpinBox*>();
    QVERIFY(box);
    QCOMPARE(box->text(), QString("5e-05"));  // not 0.000050
    box->findChild<QLineEdit*>()->selectAll();
    QTest::keyClicks(box, "3e-7");  // typed as a user would
    QString error;
    const auto values = panel.edited_values(&error);
    QVERIFY2(values.contains("optim.lr"), qPrintable(error));
    QCOMPARE(values.value("optim.lr").toDouble(), 3e-7);  // exactly, not rounded to 6 decimals
    box->stepBy(1);
    QCOMPARE(box->value(), 4e-7);  // steps in the value's own magnitude
  }

  void control_panel_edits_choices_with_a_combo_box() {
    ControlPanel panel;
    LiveParam action;
    action.key = "watchdogs.kl_ceiling.action";
    action.choices = {"off", "event", "alert", "pause", "checkpoint_pause"};
    action.text = "pause";
    panel.set_params({{"optim.lr", false, 0.0, 10.0, true, 1e-4}, action});
    panel.set_connected(true);
    panel.set_state("running", 2);
    auto* box = panel.findChild<QComboBox*>("watchdogs.kl_ceiling.action");
    QVERIFY(box);
    QCOMPARE(box->count(), 5);
    QCOMPARE(box->currentText(), QString("pause"));
    QString error;
    QVERIFY(panel.edited_values(&error).isEmpty());  // unchanged
    box->setCurrentText("alert");  // as picked
    QSignalSpy sent(&panel, &ControlPanel::set_requested);
    for (auto* b : panel.findChildren<QPushButton*>())
      if (b->text() == "Apply") b->click();
    QCOMPARE(sent.size(), 1);
    const auto values = sent[0][0].value<QMap<QString, QVariant>>();
    QCOMPARE(values.size(), 1);
    QCOMPARE(values.value("watchdogs.kl_ceiling.action").typeId(), QMetaType::QString);  // sent as a string
    QCOMPARE(values.value("watchdogs.kl_ceiling.action").toString(), QString("alert"));
    panel.set_pending(values, 3);
    panel.mark_applied(values, 3);
    QVERIFY(panel.edited_values(&error).isEmpty());  // applied: the new value is where it starts from
    QVERIFY(panel.history().first().contains("alert"));
    QPushButton* revert = nullptr;
    for (auto* b : panel.findChildren<QPushButton*>())
      if (b->text() == "Revert") revert = b;
    box->setCurrentText("off");
    revert->click();
    QCOMPARE(box->currentText(), QString("alert"));
  }

  void control_panel_shows_why_a_run_waits() {
    ControlPanel panel;
    panel.set_connected(true);
    panel.set_state("waiting", 7, "reward server tcp://127.0.0.1:5555 not answering");
    QVERIFY(panel.state_text().contains("waiting: reward server tcp://127.0.0.1:5555 not answering"));
    QVERIFY(panel.state_text().contains("step 7"));
    panel.set_state("running", 8);
    QCOMPARE(panel.state_text(), QString("running · step 8"));
  }

  void diff_table_shows_only_differences() {
    HparamDiffTable t;
    t.set_configs({{"a", {{"optim.lr", "0.0001"}, {"seed", "0"}}}, {"b", {{"optim.lr", "0.0003"}, {"seed", "0"}}}});
    QCOMPARE(t.differing_keys(), QStringList{"optim.lr"});
    QCOMPARE(t.columnCount(), 2);
    QVERIFY(t.placeholder().isEmpty());  // rows to show
    HparamDiffTable lone;  // one run (or none): the table says what it is for
    QVERIFY(lone.placeholder().contains("two or more"));
    lone.set_configs({{"a", {{"optim.lr", "1e-4"}}}});
    QCOMPARE(lone.rowCount(), 0);
    QVERIFY(lone.placeholder().contains("two or more"));  // a single run has nothing to compare with either
    lone.set_configs({{"a", {{"optim.lr", "1e-4"}}}, {"b", {{"optim.lr", "1e-4"}}}});
    QVERIFY(lone.placeholder().contains("share every hyperparameter"));
  }

  void overlaid_runs_tell_their_series_apart() {
    Dashboard d;
    d.add_run("runs/a", Qt::blue);
    d.set_metric("runs/a", "accuracy", {1, 2, 3}, {0.1, 0.2, 0.3});
    d.set_metric("runs/a", "eval/greedy_accuracy", {1, 3}, {0.0, 0.4});
    auto* chart = d.chart("Accuracy");
    QCOMPARE(chart->legend_name("runs/a|accuracy"), QString("training samples"));  // one run: plain names
    d.add_run("runs/b", Qt::red);
    d.set_metric("runs/b", "accuracy", {1, 2}, {0.2, 0.3});
    d.set_metric("runs/b", "eval/greedy_accuracy", {2}, {0.5});
    QCOMPARE(chart->legend_name("runs/a|accuracy"), QString("a · training samples"));
    QCOMPARE(chart->legend_name("runs/b|eval/greedy_accuracy"), QString("b · held-out, greedy"));
    QVERIFY(chart->style("runs/a|accuracy") != chart->style("runs/a|eval/greedy_accuracy"));
    QCOMPARE(chart->style("runs/a|accuracy"), chart->style("runs/b|accuracy"));
    d.set_smoothing(0.5);  // a redraw keeps each series' pattern
    QVERIFY(chart->style("runs/a|accuracy") != chart->style("runs/a|eval/greedy_accuracy"));
    d.remove_run("runs/b");
    QCOMPARE(chart->legend_name("runs/a|accuracy"), QString("training samples"));
    QCOMPARE(chart->style("runs/a|eval/greedy_accuracy"), Qt::SolidLine);
  }

  void step_axis_ticks_are_whole_steps() {
    ChartWidget chart("t");
    chart.resize(400, 300);
    QVector<double> x, y;
    for (int i = 1; i <= 12; ++i) x << i, y << i * 0.1;
    chart.set_series("s", "s", Qt::blue, x, y);
    chart.rescale();
    chart.plot()->replot();
    const QVector<double> ticks = chart.plot()->xAxis->tickVector();
    QVERIFY(ticks.size() >= 2);
    for (double t : ticks) QVERIFY2(t == std::round(t), qPrintable(QString("tick at %1").arg(t)));
    chart.set_integer_x(false);  // wall time: any tick
    chart.plot()->xAxis->setRange(0, 1);
    chart.plot()->replot();
    bool fractional = false;
    for (double t : chart.plot()->xAxis->tickVector()) fractional |= t != std::round(t);
    QVERIFY(fractional);
  }

  void chart_hover_and_export() {
    ChartWidget chart("t");
    chart.resize(400, 300);
    chart.set_series("r|reward", "reward", Qt::blue, {1, 2, 3}, {0.1, 0.5, 0.9});
    chart.set_series("r|acc", "accuracy", Qt::red, {1, 2, 3}, {0.2, 0.4, 0.6});
    const auto at2 = chart.values_at(2.2);
    QCOMPARE(at2.size(), 2);
    QVERIFY(at2.join(";").contains("reward @ 2: 0.5") && at2.join(";").contains("accuracy @ 2: 0.4"));
    QTemporaryDir dir;
    for (const char* ext : {"png", "svg", "pdf"}) {
      const QString f = dir.path() + "/c." + ext;
      QVERIFY2(chart.save(f, 400, 300), ext);
      QVERIFY(QFileInfo(f).size() > 100);
    }
    chart.set_log_scale(true);
    QVERIFY(chart.log_scale());
  }
};

QTEST_MAIN(TestWidgets)
#include "test_widgets.moc"

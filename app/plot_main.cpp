// grpo-plot: draws metrics of one or more runs into a PNG or PDF with the studio's chart widget, e.g.
//   grpo-plot --run runs/demo --panel "Accuracy=accuracy,eval/greedy_accuracy" --panel "Length=completions/mean_length" --out chart.png
// Runs headless (QT_QPA_PLATFORM=offscreen). Exit code 2 on bad input (missing run, unknown metric).
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QGridLayout>
#include <QPixmap>
#include <cmath>
#include <cstdio>
#include <qcustomplot.h>

#include "ipc/run_store.h"
#include "ui/chart_widget.h"

namespace {

const QColor kColors[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44), QColor(214, 39, 40),
                          QColor(148, 103, 189), QColor(140, 86, 75), QColor(227, 119, 194), QColor(127, 127, 127)};

int fail(const QString& msg) {
  std::fprintf(stderr, "grpo-plot: error: %s\n", qPrintable(msg));
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QCommandLineParser cli;
  cli.setApplicationDescription("Draws run metrics with GRPO Studio's chart widget.");
  cli.addHelpOption();
  QCommandLineOption run_opt("run", "Run folder (repeat to overlay runs).", "DIR");
  QCommandLineOption panel_opt("panel", "A chart: 'Title=metric,metric,...' (repeatable).", "SPEC");
  QCommandLineOption out_opt("out", "Output file (.png or .pdf).", "FILE");
  QCommandLineOption cols_opt("columns", "Charts per row.", "N", "3");
  QCommandLineOption size_opt("size", "Size of one chart in pixels, WxH.", "WxH", "420x300");
  QCommandLineOption smooth_opt("smoothing", "Debiased EMA weight, 0 = raw.", "W", "0");
  QCommandLineOption label_opt("label", "Legend name of each run (repeat, in --run order).", "NAME");
  cli.addOptions({run_opt, panel_opt, out_opt, cols_opt, size_opt, smooth_opt, label_opt});
  cli.process(app);

  const QStringList runs = cli.values(run_opt), panels = cli.values(panel_opt), labels = cli.values(label_opt);
  if (runs.isEmpty()) return fail("give at least one --run DIR");
  if (panels.isEmpty()) return fail("give at least one --panel 'Title=metric,...'");
  if (!cli.isSet(out_opt)) return fail("give --out FILE");
  const QStringList wh = cli.value(size_opt).split('x');
  if (wh.size() != 2 || wh[0].toInt() < 100 || wh[1].toInt() < 100) return fail("--size must be WxH, each at least 100");
  const int w = wh[0].toInt(), h = wh[1].toInt(), cols = std::max(1, cli.value(cols_opt).toInt());

  std::vector<grpo::ipc::RunStore> stores;
  for (const auto& r : runs) {
    const QString path = QDir(r).filePath("run.sqlite");
    if (!QFileInfo::exists(path)) return fail("no run store at " + path);
    try {
      stores.push_back(grpo::ipc::RunStore::open_for_reading(path.toStdString()));
    } catch (const std::exception& e) {
      return fail(e.what());
    }
  }

  QWidget sheet;
  auto* grid = new QGridLayout(&sheet);
  int index = 0;
  for (const auto& spec : panels) {
    const int eq = spec.indexOf('=');
    if (eq <= 0) return fail("--panel '" + spec + "' is not 'Title=metric,...'");
    auto* chart = new grpo::ui::ChartWidget(spec.left(eq));
    chart->setMinimumSize(w, h);
    chart->set_smoothing(cli.value(smooth_opt).toDouble());
    int color = 0;
    const QStringList metrics = spec.mid(eq + 1).split(',', Qt::SkipEmptyParts);
    for (size_t r = 0; r < stores.size(); ++r) {
      const auto names = stores[r].metric_names();
      for (const auto& m : metrics) {
        if (std::find(names.begin(), names.end(), m.toStdString()) == names.end())
          return fail("run " + runs[static_cast<int>(r)] + " has no metric '" + m + "'");
        QVector<double> x, y;
        for (const auto& p : stores[r].metric_series(m.toStdString())) {
          x.push_back(static_cast<double>(p.step));
          y.push_back(p.value);
        }
        const QString run_name = r < static_cast<size_t>(labels.size()) ? labels[static_cast<int>(r)] : QFileInfo(runs[static_cast<int>(r)]).fileName();
        const QString label = stores.size() > 1 ? run_name + ": " + m : m;
        chart->set_series(QString::number(r) + "|" + m, label, kColors[color++ % 8], x, y);
      }
    }
    chart->plot()->legend->setVisible(true);
    chart->plot()->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
    chart->rescale();
    grid->addWidget(chart, index / cols, index % cols);
    ++index;
  }
  sheet.adjustSize();
  sheet.resize(sheet.sizeHint());
  const QString out = cli.value(out_opt);
  if (out.endsWith(".pdf", Qt::CaseInsensitive)) {
    if (panels.size() != 1) return fail("PDF output takes one --panel; use .png for several");
    auto* chart = sheet.findChild<grpo::ui::ChartWidget*>();
    if (!chart->save(out, w, h)) return fail("cannot write " + out);
    return 0;
  }
  sheet.show();  // lay out and polish offscreen, then render
  app.processEvents();
  for (auto* c : sheet.findChildren<grpo::ui::ChartWidget*>()) c->plot()->replot(QCustomPlot::rpImmediateRefresh);
  if (!sheet.grab().save(out)) return fail("cannot write " + out);
  std::printf("%s: %d chart(s), %zu run(s)\n", qPrintable(out), index, stores.size());
  return 0;
}

// Token heat maps and completion rendering (see token_heat.h).
#include "ui/token_heat.h"

#include <QCoreApplication>
#include <QRegularExpression>
#include <algorithm>
#include <cmath>

namespace grpo::ui {

QStringList heat_mode_labels() {
  auto tr = [](const char* s) { return QCoreApplication::translate("grpo::ui::TokenHeat", s); };
  return {tr("no heat map"), tr("heat: improbability (1 − p)"), tr("heat: Δ log p since sampling"),
          tr("heat: entropy"), tr("heat: KL to reference")};
}

QString heat_color(double v, HeatScale scale) {
  // The alpha as a fraction: Qt's style sheets read an alpha of 0 or 1 as a fraction and above 1 as
  // 0..255, so an integer alpha of 1 (a token barely warm) would draw fully opaque.
  auto rgba = [](const char* rgb, int alpha) {
    return QString("rgba(%1,%2)").arg(rgb, QString::number(alpha / 255.0, 'f', 3));
  };
  if (scale == HeatScale::kDiverging) {  // red (negative) .. transparent .. green (positive)
    v = std::clamp(v, -1.0, 1.0);
    return rgba(v < 0 ? "220,50,40" : "40,170,70", static_cast<int>(std::abs(v) * 170));
  }
  if (scale == HeatScale::kSequential)  // transparent .. orange
    return rgba("240,140,20", static_cast<int>(std::clamp(v, 0.0, 1.0) * 180));
  return {};
}

TokenHeat token_heat(HeatMode mode, const QVector<float>& logp, const QVector<float>& logp_old,
                     const QVector<float>& entropy, const QVector<float>& kl) {
  TokenHeat h;
  if (mode == HeatMode::kNone) return h;
  h.scale = mode == HeatMode::kDeltaLogp ? HeatScale::kDiverging : HeatScale::kSequential;
  const qsizetype n = std::max({logp.size(), logp_old.size(), entropy.size(), kl.size()});
  h.values.resize(n);
  for (qsizetype t = 0; t < n; ++t) {
    switch (mode) {
      case HeatMode::kImprobability:  // improbable = hot
        h.values[t] = t < logp.size() ? 1.0 - std::exp(static_cast<double>(logp[t])) : 0.0;
        break;
      case HeatMode::kDeltaLogp:
        h.values[t] =
            t < logp.size() && t < logp_old.size() ? static_cast<double>(logp[t] - logp_old[t]) * 5.0 : 0.0;
        break;
      case HeatMode::kEntropy:
        h.values[t] = t < entropy.size() ? static_cast<double>(entropy[t]) / 2.0 : 0.0;
        break;
      case HeatMode::kKl:
        h.values[t] = t < kl.size() ? static_cast<double>(kl[t]) * 20.0 : 0.0;
        break;
      case HeatMode::kNone:
        break;
    }
  }
  for (qsizetype t = 0; t < logp.size(); ++t)
    h.tips << QString("token %1: log p %2, was %3, entropy %4, KL %5")
                  .arg(t)
                  .arg(static_cast<double>(logp.value(t)), 0, 'f', 3)
                  .arg(static_cast<double>(logp_old.value(t)), 0, 'f', 3)
                  .arg(static_cast<double>(entropy.value(t)), 0, 'f', 3)
                  .arg(static_cast<double>(kl.value(t)), 0, 'f', 4);
  return h;
}

QString render_tokens(const QString& completion, const QVector<int>& offsets, const TokenHeat& heat,
                      const QStringList& markers) {
  const QByteArray bytes = completion.toUtf8();
  // Character classes over bytes: 1 = tag, 2 = marker.
  QVector<int> cls(bytes.size(), 0);
  auto mark = [&](const QRegularExpression& re, int value) {
    for (auto it = re.globalMatch(completion); it.hasNext();) {
      const auto m = it.next();
      const int b0 = static_cast<int>(completion.left(m.capturedStart()).toUtf8().size());
      const int b1 = b0 + static_cast<int>(m.captured().toUtf8().size());
      for (int i = b0; i < b1 && i < cls.size(); ++i)
        if (cls[i] == 0) cls[i] = value;
    }
  };
  static const QRegularExpression tags("</?(think|answer)>");
  mark(tags, 1);
  for (const QString& marker : markers)
    if (!marker.isEmpty())
      mark(QRegularExpression("\\b" + QRegularExpression::escape(marker),
                              QRegularExpression::CaseInsensitiveOption),
           2);
  // Token boundaries (byte offsets); without them the whole text is one span.
  QVector<int> starts = offsets;
  if (starts.isEmpty()) starts = {0};
  QString html = "<span style='font-family:monospace; white-space:pre-wrap'>";
  // A BPE token may end inside a UTF-8 character (a CJK character or an emoji spread over two tokens): each
  // character is drawn with the token it starts in, so a boundary inside a character moves past it, and a
  // token lying wholly inside one character draws nothing of its own.
  auto char_start = [&](int b) {
    while (b < bytes.size() && (static_cast<unsigned char>(bytes[b]) & 0xC0) == 0x80) ++b;
    return b;
  };
  for (int t = 0; t < starts.size(); ++t) {
    const int b0 = char_start(starts[t]);
    const int b1 = t + 1 < starts.size() ? char_start(starts[t + 1]) : static_cast<int>(bytes.size());
    if (b0 >= b1 || b0 >= bytes.size()) continue;
    QString style;
    if (heat.scale != HeatScale::kNone)
      style += "background-color:" + heat_color(heat.values.value(t), heat.scale) + ";";
    const QString tip = heat.scale != HeatScale::kNone && !heat.tips.value(t).isEmpty()
                            ? " title='" + heat.tips[t].toHtmlEscaped() + "'"
                            : QString();
    // Split the token where the character class changes, so tags and markers keep their look.
    int i = b0;
    while (i < b1) {
      int j = i;
      while (j < b1 && cls.value(j) == cls.value(i)) ++j;
      const QString piece = QString::fromUtf8(bytes.mid(i, j - i)).toHtmlEscaped();
      QString st = style;
      if (cls.value(i) == 1) st += "color:#2a6fdb; font-weight:bold;";
      if (cls.value(i) == 2) st += "color:#b4009e; font-weight:bold; text-decoration:underline;";
      html += "<span style='" + st + "'" + tip + ">" + piece + "</span>";
      i = j;
    }
  }
  return html + "</span>";
}

}  // namespace grpo::ui

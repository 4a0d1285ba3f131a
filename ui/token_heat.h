// One completion as HTML, shared by the trace inspector and the compared traces: <think>/<answer> tags and
// verification marker words highlighted, and each token's background coloured by a per-token value (a
// heat map: improbability, its change since sampling, entropy, KL). Plain strings and numbers only.
#pragma once

#include <QString>
#include <QStringList>
#include <QVector>

namespace grpo::ui {

// What the heat map shows (the trace inspector's modes, in the order of heat_mode_labels()).
enum class HeatMode { kNone, kImprobability, kDeltaLogp, kEntropy, kKl };
QStringList heat_mode_labels();  // the selectors' entries, one per HeatMode

// How a token's value becomes a colour: sequential [0, 1] transparent .. orange; diverging [-1, 1]
// red .. transparent .. green.
enum class HeatScale { kNone, kSequential, kDiverging };
QString heat_color(double v, HeatScale scale);  // a CSS colour, e.g. "rgba(240,140,20,0.353)"

struct TokenHeat {
  HeatScale scale = HeatScale::kNone;
  QVector<double> values;  // per token, in the scale's range (missing tokens: 0)
  QStringList tips;        // per token hover text (missing or empty: none)
};

// The heat of one completion's tokens from its per-token arrays (any may be empty or short).
TokenHeat token_heat(HeatMode mode, const QVector<float>& logp, const QVector<float>& logp_old,
                     const QVector<float>& entropy, const QVector<float>& kl);

// Renders a completion as HTML. offsets: the byte offset of each token in the UTF-8 completion (empty:
// one span); each character is drawn with the token it starts in (a token may end inside a character).
QString render_tokens(const QString& completion, const QVector<int>& offsets, const TokenHeat& heat,
                      const QStringList& markers);

}  // namespace grpo::ui

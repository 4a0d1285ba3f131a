// Model description: JSON round trip for checkpoint headers, and the shape rules (see model_spec.h).
#include "trainer/model_spec.h"

#include "trainer/config.h"

namespace grpo {

using nlohmann::json;

std::string ModelSpec::hf_architecture() const {
  if (arch == "qwen2") return "Qwen2ForCausalLM";
  if (arch == "qwen3") return "Qwen3ForCausalLM";
  return "LlamaForCausalLM";
}

json model_spec_to_json(const ModelSpec& m) {
  json j = {{"arch", m.arch},
            {"vocab_size", m.vocab_size},
            {"d_model", m.d_model},
            {"n_layers", m.n_layers},
            {"n_heads", m.n_heads},
            {"n_kv_heads", m.n_kv_heads},
            {"head_dim", m.head_dim},
            {"mlp_hidden", m.mlp_hidden},
            {"context", m.context},
            {"rope_base", m.rope_base},
            {"norm_eps", m.norm_eps},
            {"tie_embeddings", m.tie_embeddings},
            {"qkv_bias", m.qkv_bias},
            {"o_bias", m.o_bias},
            {"mlp_bias", m.mlp_bias},
            {"qk_norm", m.qk_norm}};
  if (!m.rope_scaling.type.empty())
    j["rope_scaling"] = {{"type", m.rope_scaling.type},
                         {"factor", m.rope_scaling.factor},
                         {"low_freq_factor", m.rope_scaling.low_freq_factor},
                         {"high_freq_factor", m.rope_scaling.high_freq_factor},
                         {"original_context", m.rope_scaling.original_context}};
  return j;
}

ModelSpec model_spec_from_json(const json& j) {
  ModelSpec m;  // fields a header lacks keep the built-in model's defaults (headers before they existed)
  m.arch = j.value("arch", m.arch);
  m.vocab_size = j.at("vocab_size").get<int64_t>();
  m.d_model = j.at("d_model").get<int64_t>();
  m.n_layers = j.at("n_layers").get<int64_t>();
  m.n_heads = j.at("n_heads").get<int64_t>();
  m.n_kv_heads = j.at("n_kv_heads").get<int64_t>();
  m.head_dim = j.value("head_dim", int64_t{0});
  m.mlp_hidden = j.at("mlp_hidden").get<int64_t>();
  m.context = j.at("context").get<int64_t>();
  m.rope_base = j.at("rope_base").get<double>();
  m.norm_eps = j.at("norm_eps").get<double>();
  m.tie_embeddings = j.value("tie_embeddings", true);
  m.qkv_bias = j.value("qkv_bias", false);
  m.o_bias = j.value("o_bias", false);
  m.mlp_bias = j.value("mlp_bias", false);
  m.qk_norm = j.value("qk_norm", false);
  if (j.contains("rope_scaling")) {
    const auto& r = j["rope_scaling"];
    m.rope_scaling.type = r.at("type").get<std::string>();
    m.rope_scaling.factor = r.at("factor").get<double>();
    m.rope_scaling.low_freq_factor = r.at("low_freq_factor").get<double>();
    m.rope_scaling.high_freq_factor = r.at("high_freq_factor").get<double>();
    m.rope_scaling.original_context = r.at("original_context").get<int64_t>();
  }
  return m;
}

void apply_family_rules(ModelSpec& m) {
  if (m.arch == "qwen2") m.qkv_bias = true, m.o_bias = false;
  if (m.arch == "qwen3") m.qk_norm = true;
}

void validate_model_spec(const ModelSpec& m, const std::string& source) {
  auto fail = [&](const std::string& key, const std::string& why) {
    throw ConfigError(source + ": '" + key + "' " + why);
  };
  if (m.arch != "llama" && m.arch != "qwen2" && m.arch != "qwen3")
    fail("model.arch", "= '" + m.arch + "' is not one of: llama, qwen2, qwen3");
  if (m.vocab_size < 1) fail("model.vocab_size", "must be at least 1");
  if (m.d_model < 1 || m.n_layers < 1 || m.n_heads < 1 || m.n_kv_heads < 1 || m.mlp_hidden < 1)
    fail("model", "sizes must all be at least 1");
  if (m.head_dim == 0 && m.d_model % m.n_heads != 0) fail("model.d_model", "must be a multiple of model.n_heads");
  if (m.head_size() % 2 != 0)
    fail(m.head_dim > 0 ? "model.head_dim" : "model.d_model",
         m.head_dim > 0 ? "must be even for rotary embeddings"
                        : "/ model.n_heads (the head size) must be even for rotary embeddings");
  if (m.n_heads % m.n_kv_heads != 0) fail("model.n_kv_heads", "must divide model.n_heads");
  if (m.context < 2) fail("model.context", "must be at least 2");
  if (!(m.rope_base > 1.0)) fail("model.rope_base", "must be above 1");
  if (!(m.norm_eps > 0.0 && m.norm_eps < 1.0)) fail("model.norm_eps", "must be in (0, 1)");
  if (m.qk_norm && m.arch != "qwen3") fail("model.qk_norm", "is Qwen3's (set model.arch to qwen3)");
  const auto& r = m.rope_scaling;
  if (!r.type.empty()) {
    if (r.type != "llama3") fail("rope_scaling", "type '" + r.type + "' is not supported (only 'llama3')");
    if (!(r.factor >= 1.0)) fail("rope_scaling.factor", "must be at least 1");
    if (!(r.high_freq_factor > r.low_freq_factor) || !(r.low_freq_factor > 0.0))
      fail("rope_scaling.high_freq_factor", "must be above low_freq_factor, both above 0");
    if (r.original_context < 1) fail("rope_scaling.original_max_position_embeddings", "must be at least 1");
  }
}

}  // namespace grpo

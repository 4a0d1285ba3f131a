// Hugging Face model folders (see hf_model.h).
#include "trainer/hf_model.h"

#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "trainer/byte_level.h"
#include "trainer/config.h"
#include "trainer/hf_tokenizer.h"
#include "trainer/safetensors.h"

namespace grpo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Family {
  const char* architecture;
  const char* model_type;
  const char* arch;
  int64_t default_context;  // max_position_embeddings when config.json omits it (transformers' default)
};
constexpr Family kFamilies[] = {
    {"LlamaForCausalLM", "llama", "llama", 2048},
    {"Qwen2ForCausalLM", "qwen2", "qwen2", 32768},
    {"Qwen3ForCausalLM", "qwen3", "qwen3", 32768},
};

// A size field: present (unless it has a default), an integer, within [lo, hi].
int64_t size_field(const json& c, const char* key, const std::string& source, int64_t lo, int64_t hi,
                   const int64_t* fallback = nullptr) {
  if (!c.contains(key) || c[key].is_null()) {
    if (fallback) return *fallback;
    throw ConfigError(source + ": '" + key + "' is missing");
  }
  const json& v = c[key];
  if (!v.is_number_integer())
    throw ConfigError(source + ": '" + key + "' must be an integer, got " + v.dump());
  const int64_t n = v.get<int64_t>();
  if (n < lo || n > hi)
    throw ConfigError(source + ": '" + key + "' = " + std::to_string(n) + " is out of range [" + std::to_string(lo) +
                      ", " + std::to_string(hi) + "]");
  return n;
}

double number_field(const json& c, const char* key, const std::string& source, double fallback, double lo, double hi) {
  if (!c.contains(key) || c[key].is_null()) return fallback;
  if (!c[key].is_number()) throw ConfigError(source + ": '" + std::string(key) + "' must be a number, got " + c[key].dump());
  const double x = c[key].get<double>();
  if (!(x > lo && x <= hi))
    throw ConfigError(source + ": '" + std::string(key) + "' = " + c[key].dump() + " is out of range");
  return x;
}

std::string string_field(const json& c, const char* key, const std::string& source, const std::string& fallback) {
  if (!c.contains(key) || c[key].is_null()) return fallback;
  if (!c[key].is_string()) throw ConfigError(source + ": '" + std::string(key) + "' must be a string, got " + c[key].dump());
  return c[key].get<std::string>();
}

bool bool_field(const json& c, const char* key, const std::string& source, bool fallback) {
  if (!c.contains(key) || c[key].is_null()) return fallback;
  if (!c[key].is_boolean()) throw ConfigError(source + ": '" + std::string(key) + "' must be true or false, got " + c[key].dump());
  return c[key].get<bool>();
}

// rope_scaling / rope_parameters: none, "default", or the llama3 rule ("rope_type" or the older "type").
RopeScaling rope_scaling_from(const json& r, const std::string& source, const std::string& key) {
  RopeScaling out;
  if (r.is_null()) return out;
  if (!r.is_object()) throw ConfigError(source + ": '" + key + "' must be an object or null");
  const std::string type = string_field(r, "rope_type", source, string_field(r, "type", source, "default"));
  if (type == "default") return out;
  if (type != "llama3")
    throw ConfigError(source + ": " + key + " type '" + type + "' is not supported (only 'llama3' and 'default')");
  out.type = "llama3";
  const std::string where = source + " (" + key + ")";
  out.factor = number_field(r, "factor", where, 8.0, 0.0, 1e6);
  out.low_freq_factor = number_field(r, "low_freq_factor", where, 1.0, 0.0, 1e6);
  out.high_freq_factor = number_field(r, "high_freq_factor", where, 4.0, 0.0, 1e6);
  const int64_t def = 8192;
  out.original_context = size_field(r, "original_max_position_embeddings", where, 1, int64_t{1} << 30, &def);
  return out;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read '" + path.string() + "'");
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw ConfigError("'" + path.string() + "' is not a JSON object");
  return j;
}

void write_json_file(const fs::path& path, const json& j) {
  std::ofstream out(path, std::ios::trunc);
  out << j.dump(2) << "\n";
  if (!out) throw ConfigError("cannot write '" + path.string() + "'");
}

}  // namespace

ModelSpec spec_from_hf_config(const json& c, const std::string& source) {
  if (!c.is_object()) throw ConfigError(source + ": not a JSON object");
  const Family* family = nullptr;
  std::string named = "(none)";
  if (c.contains("architectures") && c["architectures"].is_array() && !c["architectures"].empty()) {
    named = c["architectures"][0].is_string() ? c["architectures"][0].get<std::string>() : c["architectures"][0].dump();
    for (const auto& f : kFamilies)
      if (named == f.architecture) family = &f;
  }
  if (!family)
    throw ConfigError(source + ": architecture '" + named +
                      "' is not supported (grpo-train loads LlamaForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM)");
  const std::string act = string_field(c, "hidden_act", source, "silu");
  if (act != "silu") throw ConfigError(source + ": 'hidden_act' = '" + act + "' is not supported (only silu)");
  if (bool_field(c, "use_sliding_window", source, false))
    throw ConfigError(source + ": 'use_sliding_window' is true; sliding-window attention is not supported");

  ModelSpec m;
  m.arch = family->arch;
  constexpr int64_t kBig = int64_t{1} << 31;
  m.d_model = size_field(c, "hidden_size", source, 1, 1 << 20);
  m.n_layers = size_field(c, "num_hidden_layers", source, 1, 4096);
  m.n_heads = size_field(c, "num_attention_heads", source, 1, 4096);
  m.n_kv_heads = size_field(c, "num_key_value_heads", source, 1, 4096, &m.n_heads);
  if (m.n_heads % m.n_kv_heads != 0)
    throw ConfigError(source + ": 'num_key_value_heads' = " + std::to_string(m.n_kv_heads) +
                      " does not divide 'num_attention_heads' = " + std::to_string(m.n_heads));
  // Without head_dim: Qwen3Config's default is 128; Llama and Qwen2 split hidden_size over the heads.
  if (!c.contains("head_dim") && m.arch != "qwen3" && m.d_model % m.n_heads != 0)
    throw ConfigError(source + ": 'hidden_size' is not a multiple of 'num_attention_heads' and there is no 'head_dim'");
  const int64_t split = m.arch == "qwen3" ? 128 : m.d_model / m.n_heads;
  m.head_dim = size_field(c, "head_dim", source, 2, 1 << 16, &split);
  if (m.head_dim % 2 != 0) throw ConfigError(source + ": 'head_dim' = " + std::to_string(m.head_dim) + " must be even (rotary embeddings)");
  m.mlp_hidden = size_field(c, "intermediate_size", source, 1, 1 << 24);
  m.vocab_size = size_field(c, "vocab_size", source, 1, kBig);
  m.context = size_field(c, "max_position_embeddings", source, 2, kBig, &family->default_context);
  m.norm_eps = number_field(c, "rms_norm_eps", source, 1e-6, 0.0, 1.0);
  m.tie_embeddings = bool_field(c, "tie_word_embeddings", source, false);  // these families' default
  // transformers 5 moves rope_theta and the scaling into rope_parameters.
  const json* rope = c.contains("rope_parameters") && c["rope_parameters"].is_object() ? &c["rope_parameters"] : nullptr;
  m.rope_base = number_field(rope ? *rope : c, "rope_theta", source, number_field(c, "rope_theta", source, 10000.0, 1.0, 1e12),
                             1.0, 1e12);
  m.rope_scaling = rope ? rope_scaling_from(*rope, source, "rope_parameters")
                        : rope_scaling_from(c.value("rope_scaling", json()), source, "rope_scaling");
  const bool attention_bias = bool_field(c, "attention_bias", source, false);
  if (m.arch == "qwen2") {
    m.qkv_bias = true;  // Qwen2's q, k, v projections always have biases, its output projection never
  } else {
    m.qkv_bias = m.o_bias = attention_bias;
  }
  m.mlp_bias = m.arch == "llama" && bool_field(c, "mlp_bias", source, false);
  m.qk_norm = m.arch == "qwen3";
  validate_model_spec(m, source);
  return m;
}

json hf_config_from_spec(const ModelSpec& m, const std::string& dtype, const Tokenizer& tok) {
  const Family* family = &kFamilies[0];
  for (const auto& f : kFamilies)
    if (m.arch == f.arch) family = &f;
  json c = {{"architectures", {family->architecture}},
            {"model_type", family->model_type},
            {"hidden_size", m.d_model},
            {"intermediate_size", m.mlp_hidden},
            {"num_hidden_layers", m.n_layers},
            {"num_attention_heads", m.n_heads},
            {"num_key_value_heads", m.n_kv_heads},
            {"head_dim", m.head_size()},
            {"hidden_act", "silu"},
            {"max_position_embeddings", m.context},
            {"rms_norm_eps", m.norm_eps},
            {"rope_theta", m.rope_base},
            {"rope_scaling", nullptr},
            {"tie_word_embeddings", m.tie_embeddings},
            {"vocab_size", m.vocab_size},
            {"attention_dropout", 0.0},
            {"initializer_range", 0.02},
            {"use_cache", true},
            {"torch_dtype", dtype}};
  if (m.arch == "llama") {
    c["attention_bias"] = m.qkv_bias;
    c["mlp_bias"] = m.mlp_bias;
  } else {
    c["use_sliding_window"] = false;
    c["sliding_window"] = nullptr;
    c["max_window_layers"] = m.n_layers;
    if (m.arch == "qwen3") c["attention_bias"] = m.qkv_bias;
  }
  if (m.rope_scaling.type == "llama3")
    c["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", m.rope_scaling.factor},
                         {"low_freq_factor", m.rope_scaling.low_freq_factor},
                         {"high_freq_factor", m.rope_scaling.high_freq_factor},
                         {"original_max_position_embeddings", m.rope_scaling.original_context}};
  const auto& eos = tok.eos_ids();
  c["eos_token_id"] = eos.size() == 1 ? json(eos[0]) : json(eos);
  c["pad_token_id"] = tok.pad_id();
  return c;
}

std::vector<std::pair<std::string, torch::Tensor>> hf_named_parameters(Transformer& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    if (t.defined()) out.emplace_back(name, t);
  };
  auto linear = [&](const std::string& name, const torch::nn::Linear& l) {
    add(name + ".weight", l->weight);
    if (l->options.bias()) add(name + ".bias", l->bias);
  };
  add("model.embed_tokens.weight", model->tok_emb->weight);
  for (size_t i = 0; i < model->blocks->size(); ++i) {
    auto b = model->blocks[i]->as<Block>();
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", b->attn_norm->weight);
    linear(p + "self_attn.q_proj", b->attn->wq);
    linear(p + "self_attn.k_proj", b->attn->wk);
    linear(p + "self_attn.v_proj", b->attn->wv);
    linear(p + "self_attn.o_proj", b->attn->wo);
    if (b->attn->q_norm) {
      add(p + "self_attn.q_norm.weight", b->attn->q_norm->weight);
      add(p + "self_attn.k_norm.weight", b->attn->k_norm->weight);
    }
    add(p + "post_attention_layernorm.weight", b->mlp_norm->weight);
    linear(p + "mlp.gate_proj", b->mlp->w1);
    linear(p + "mlp.up_proj", b->mlp->w3);
    linear(p + "mlp.down_proj", b->mlp->w2);
  }
  add("model.norm.weight", model->final_norm->weight);
  if (model->lm_head) add("lm_head.weight", model->lm_head->weight);
  return out;
}

Transformer load_hf_model(const std::string& dir) {
  if (!fs::is_directory(dir)) throw ConfigError("model folder '" + dir + "' does not exist (or is not a folder)");
  const fs::path config_path = fs::path(dir) / "config.json";
  if (!fs::exists(config_path)) throw ConfigError("model folder '" + dir + "' has no config.json");
  const ModelSpec spec = spec_from_hf_config(read_json_file(config_path), config_path.string());

  std::unique_ptr<SafetensorsSet> weights;
  try {
    weights = std::make_unique<SafetensorsSet>(dir);
  } catch (const SafetensorsError& e) {
    throw ConfigError(e.what());
  }
  Transformer model(spec, /*init_weights=*/false);
  torch::NoGradGuard no_grad;
  const std::string what = std::string(" (config.json: ") + spec.hf_architecture() + ", " + std::to_string(spec.n_layers) +
                           " layers, hidden " + std::to_string(spec.d_model) + ")";
  std::set<std::string> used;
  for (auto& [name, param] : hf_named_parameters(model)) {
    const StTensor* t = weights->find(name);
    if (!t) throw ConfigError("model folder '" + dir + "': tensor '" + name + "' is missing" + what);
    if (t->shape != param.sizes().vec())
      throw ConfigError("model folder '" + dir + "': tensor '" + name + "' has shape " + shape_str(t->shape) + ", " +
                        shape_str(param.sizes().vec()) + " expected" + what);
    const auto dtype = t->dtype == StDtype::kF32 ? torch::kFloat32 : t->dtype == StDtype::kF16 ? torch::kFloat16 : torch::kBFloat16;
    const auto view = torch::from_blob(const_cast<uint8_t*>(t->data), param.sizes(), torch::TensorOptions().dtype(dtype));
    param.copy_(view);  // upcast to float32 straight into the parameter
    weights->release(*t);
    used.insert(name);
  }
  for (const auto& name : weights->names()) {
    if (used.count(name)) continue;
    // A tied checkpoint may still ship lm_head.weight; old exports keep rotary buffers. Both are derived.
    if (name == "lm_head.weight" && spec.tie_embeddings) continue;
    if (name.find("rotary_emb.inv_freq") != std::string::npos) continue;
    throw ConfigError("model folder '" + dir + "': unexpected tensor '" + name + "'" + what);
  }
  return model;
}

json char_tokenizer_json(const CharTokenizer& tok) {
  json vocab = json::object();
  for (size_t i = 0; i < tok.alphabet().size(); ++i) {
    if (tok.alphabet()[i] == '\n') continue;  // an added token (below), so that "\n" names the end of sequence
    vocab[byte_level_encode(tok.alphabet().substr(i, 1))] = static_cast<int64_t>(i) + 1;
  }
  auto added = [](int64_t id, const std::string& content, bool special) {
    return json{{"id", id},           {"content", content}, {"single_word", false}, {"lstrip", false},
                {"rstrip", false},     {"normalized", false}, {"special", special}};
  };
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", {added(0, "<pad>", true), added(tok.eos_id(), "\n", false)}},
          {"normalizer", nullptr},
          {"pre_tokenizer", byte_level},
          {"post_processor", nullptr},
          {"decoder", byte_level},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", false},
            {"vocab", vocab},
            {"merges", json::array()}}}};
}

namespace {
void export_folder(Transformer& model, const Tokenizer& tokenizer, const std::string& out_dir,
                   const ExportOptions& options);
}  // namespace

void export_hf_model(Transformer& model, const Tokenizer& tokenizer, const std::string& out_dir,
                     const ExportOptions& options) {
  try {
    export_folder(model, tokenizer, out_dir, options);
  } catch (const fs::filesystem_error& e) {
    throw ConfigError("export to '" + out_dir + "': " + e.what());
  }
}

namespace {
void export_folder(Transformer& model, const Tokenizer& tokenizer, const std::string& out_dir,
                   const ExportOptions& options) {
  if (options.dtype != "bf16" && options.dtype != "f32")
    throw ConfigError("export: dtype '" + options.dtype + "' is not one of: bf16, f32");
  const bool bf16 = options.dtype == "bf16";
  // The tokenizer's files first: a missing source folder must fail before anything is written.
  std::vector<fs::path> copy;
  const std::string desc = tokenizer.describe();
  if (desc.rfind("hf:", 0) == 0) {
    const fs::path src = desc.substr(3);
    if (!fs::exists(src / "tokenizer.json"))
      throw ConfigError("export: the model's tokenizer folder '" + src.string() + "' no longer holds tokenizer.json");
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json",
                          "chat_template.jinja", "vocab.json", "merges.txt"})
      if (fs::exists(src / f)) copy.push_back(src / f);
  } else if (!dynamic_cast<const CharTokenizer*>(&tokenizer)) {
    throw ConfigError("export: tokenizer '" + desc.substr(0, 40) + "' cannot be exported");
  }
  fs::create_directories(out_dir);
  const fs::path out(out_dir);
  for (const auto& f : copy)
    if (!fs::equivalent(f.parent_path(), out)) fs::copy_file(f, out / f.filename(), fs::copy_options::overwrite_existing);
  if (const auto* ct = dynamic_cast<const CharTokenizer*>(&tokenizer)) {
    write_json_file(out / "tokenizer.json", char_tokenizer_json(*ct));
    write_json_file(out / "tokenizer_config.json",
                    {{"tokenizer_class", "PreTrainedTokenizerFast"}, {"pad_token", "<pad>"}, {"eos_token", "\n"},
                     {"bos_token", nullptr}, {"unk_token", nullptr}, {"clean_up_tokenization_spaces", false},
                     {"model_max_length", model->spec().context}});
    write_json_file(out / "generation_config.json", {{"eos_token_id", tokenizer.eos_id()}, {"pad_token_id", tokenizer.pad_id()}});
  } else if (!fs::exists(out / "generation_config.json")) {
    const auto& eos = tokenizer.eos_ids();
    write_json_file(out / "generation_config.json",
                    {{"eos_token_id", eos.size() == 1 ? json(eos[0]) : json(eos)}, {"pad_token_id", tokenizer.pad_id()}});
  }
  write_json_file(out / "config.json", hf_config_from_spec(model->spec(), bf16 ? "bfloat16" : "float32", tokenizer));

  std::vector<StWriteTensor> tensors;
  for (auto& [name, param] : hf_named_parameters(model)) {
    StWriteTensor t;
    t.name = name;
    t.dtype = bf16 ? StDtype::kBF16 : StDtype::kF32;
    t.shape = param.sizes().vec();
    torch::Tensor p = param;
    t.fill = [p, bf16](uint8_t* dst, size_t nbytes) {
      torch::NoGradGuard no_grad;
      const auto src = p.detach().to(torch::kCPU).to(bf16 ? torch::kBFloat16 : torch::kFloat32).contiguous();
      TORCH_CHECK(static_cast<size_t>(src.nbytes()) == nbytes, "export: size mismatch");
      std::memcpy(dst, src.data_ptr(), nbytes);
    };
    tensors.push_back(std::move(t));
  }
  try {
    write_safetensors((out / "model.safetensors").string(), tensors, {{"format", "pt"}});
  } catch (const SafetensorsError& e) {
    throw ConfigError(std::string("export: ") + e.what());
  }
}

}  // namespace

}  // namespace grpo

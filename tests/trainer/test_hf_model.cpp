// Hugging Face model folders against an independent implementation: tiny random Llama 3 (with llama3 rope
// scaling), Qwen2 and Qwen3 models, written in F32, BF16 and sharded form by tests/reference/hf_reference.py
// (its own safetensors writer, its own float64 forward from the published modeling equations). The C++
// loader's logits of a left-padded batch must equal the reference's within 1e-4 and greedy decoding must
// pick the same 32 tokens; exported folders reload with identical logits and read back in the reference;
// bad folders fail naming the problem.
#include <QtTest>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <fstream>

#include "trainer/config.h"
#include "trainer/hf_model.h"
#include "trainer/hf_tokenizer.h"
#include "trainer/safetensors.h"
#include "trainer/sampler.h"

using namespace grpo;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Runs the reference script; fails the test with its stderr when it exits non-zero.
json reference(const QStringList& args) {
  QProcess p;
  p.start(GRPO_PYTHON3, QStringList{GRPO_SOURCE_DIR "/tests/reference/hf_reference.py"} + args);
  if (!p.waitForFinished(120000)) qFatal("hf_reference.py timed out");
  const QByteArray err = p.readAllStandardError();
  if (p.exitCode() != 0) qFatal("hf_reference.py %s failed: %s", qPrintable(args.join(' ')), err.constData());
  return json::parse(p.readAllStandardOutput().toStdString(), nullptr, false);
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

void write_json(const std::string& path, const json& j) { std::ofstream(path) << j.dump(2); }

// Prompts of different lengths (the C++ side batches them with left padding).
const std::vector<std::vector<int64_t>> kPrompts = {{5, 17, 42, 99, 3, 250, 7},
                                                    {1, 2, 3},
                                                    {200, 13, 13, 13, 64, 128, 31, 77, 150, 9, 11, 255}};

// The reference forward of `dir` on kPrompts, with greedy decoding of `greedy` tokens.
json reference_forward(const std::string& dir, const std::string& work, int greedy) {
  const std::string prompts = work + "/prompts.json", out = work + "/reference.json";
  write_json(prompts, {{"prompts", kPrompts}});
  reference({"forward", "--model", QString::fromStdString(dir), "--prompts", QString::fromStdString(prompts), "--out",
             QString::fromStdString(out), "--greedy", QString::number(greedy)});
  return read_json(out);
}

// Our logits of every prompt position, batched and left-padded: one (T_i, V) tensor per prompt.
std::vector<torch::Tensor> our_logits(Transformer& model) {
  torch::NoGradGuard no_grad;
  int64_t P = 0;
  for (const auto& p : kPrompts) P = std::max<int64_t>(P, static_cast<int64_t>(p.size()));
  const int64_t B = static_cast<int64_t>(kPrompts.size());
  auto tokens = torch::zeros({B, P}, torch::kLong);
  auto valid = torch::zeros({B, P}, torch::kBool);
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = kPrompts[static_cast<size_t>(b)];
    const int64_t off = P - static_cast<int64_t>(p.size());
    tokens[b].narrow(0, off, static_cast<int64_t>(p.size())).copy_(torch::tensor(p, torch::kLong));
    valid[b].narrow(0, off, static_cast<int64_t>(p.size())).fill_(true);
  }
  auto logits = model->forward(tokens, positions_from_valid(valid), valid);  // (B, P, V)
  std::vector<torch::Tensor> out;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = static_cast<int64_t>(kPrompts[static_cast<size_t>(b)].size());
    out.push_back(logits[b].narrow(0, P - n, n).to(torch::kFloat64));
  }
  return out;
}

double max_difference(const std::vector<torch::Tensor>& ours, const json& ref) {
  double worst = 0;
  for (size_t b = 0; b < ours.size(); ++b) {
    const auto& rows = ref.at("logits")[b];
    std::vector<double> flat;
    for (const auto& row : rows)
      for (const auto& v : row) flat.push_back(v.get<double>());
    auto r = torch::tensor(flat, torch::kFloat64).view(ours[b].sizes());
    worst = std::max(worst, (ours[b] - r).abs().max().item<double>());
  }
  return worst;
}

// Greedy decoding of `n` tokens with the sampler (KV cache, batched), no end-of-sequence.
std::vector<std::vector<int64_t>> our_greedy(Transformer& model, int64_t n) {
  SamplingOptions so;
  so.greedy = true;
  so.max_new_tokens = n;
  SpecialTokens special;
  special.eos = {-1};  // no id ends a row
  special.pad = 0;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  const Rollout r = generate(model, kPrompts, so, special, gen);
  std::vector<std::vector<int64_t>> out;
  auto c = r.completion.contiguous();
  for (int64_t b = 0; b < r.rows(); ++b) out.emplace_back(c[b].data_ptr<int64_t>(), c[b].data_ptr<int64_t>() + n);
  return out;
}

bool fails_with(const std::function<void()>& fn, const QStringList& needles) {
  try {
    fn();
  } catch (const std::exception& e) {
    const QString msg = e.what();
    for (const auto& n : needles)
      if (!msg.contains(n)) {
        qWarning("message lacks '%s': %s", qPrintable(n), qPrintable(msg));
        return false;
      }
    return true;
  }
  qWarning("no error");
  return false;
}

// A byte-level tokenizer.json for the fixtures' 256-id vocabulary (one token per byte), so that folders can
// be exported (export copies the tokenizer files).
void write_byte_tokenizer(const std::string& dir) {
  const CharTokenizer dummy(builtin_alphabet());
  json tj = char_tokenizer_json(dummy);
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) {
    // GPT-2's byte-to-unicode map, spelled out independently of the code under test.
    int cp = b;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) {
      int n = 0;
      for (int x = 0; x < b; ++x) n += !((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174);
      cp = 256 + n;
    }
    vocab[QString(QChar(cp)).toStdString()] = b;
  }
  tj["model"]["vocab"] = vocab;
  tj["added_tokens"] = json::array();
  write_json(dir + "/tokenizer.json", tj);
  write_json(dir + "/tokenizer_config.json", {{"eos_token", nullptr}});
  write_json(dir + "/generation_config.json", {{"eos_token_id", 2}});
}

}  // namespace

class TestHfModel : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  std::string path(const std::string& name) const { return tmp_.path().toStdString() + "/" + name; }

  // Makes a fixture folder, loads it, and checks logits and greedy ids against the reference.
  void check_layout(const QString& arch, const QStringList& extra, const std::string& name) {
    const std::string dir = path(name);
    reference(QStringList{"make", "--arch", arch, "--out", QString::fromStdString(dir), "--seed", "7"} + extra);
    Transformer model = load_hf_model(dir);
    const json ref = reference_forward(dir, tmp_.path().toStdString(), 32);
    const double diff = max_difference(our_logits(model), ref);
    qInfo("%s: max |logit - reference| = %.3g", name.c_str(), diff);
    QVERIFY2(diff < 1e-4, qPrintable(QString("%1: logits differ by %2").arg(name.c_str()).arg(diff)));
    const auto greedy = our_greedy(model, 32);
    for (size_t b = 0; b < greedy.size(); ++b)
      QVERIFY2(greedy[b] == ref.at("greedy")[b].get<std::vector<int64_t>>(),
               qPrintable(QString("%1: greedy ids of prompt %2 differ").arg(name.c_str()).arg(b)));
  }

 private slots:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    torch::set_num_threads(1);
  }

  // std 0.1 makes attention far from uniform, so rope (and its llama3 scaling) moves the logits.
  void llama3_f32() { check_layout("llama", {"--std", "0.1", "--rope-scaling", "llama3", "--rope-original-max", "64"}, "llama-f32"); }
  void llama3_bf16_sharded() {
    check_layout("llama", {"--std", "0.1", "--rope-scaling", "llama3", "--rope-original-max", "64", "--rope-key", "type",
                           "--dtype", "BF16", "--shards", "3"},
                 "llama-bf16-sharded");
  }
  void llama_untied_with_biases() {
    check_layout("llama", {"--std", "0.1", "--no-tie", "--attention-bias", "--transformers5"}, "llama-untied");
  }
  void qwen2_f32() { check_layout("qwen2", {"--std", "0.1"}, "qwen2-f32"); }
  void qwen2_bf16() { check_layout("qwen2", {"--std", "0.1", "--dtype", "BF16"}, "qwen2-bf16"); }
  void qwen2_sharded_f16() { check_layout("qwen2", {"--std", "0.1", "--dtype", "F16", "--shards", "2"}, "qwen2-f16-sharded"); }
  void qwen3_f32() { check_layout("qwen3", {"--std", "0.1"}, "qwen3-f32"); }
  void qwen3_bf16_tied_with_lm_head() {
    check_layout("qwen3", {"--std", "0.1", "--dtype", "BF16", "--tie", "--ship-lm-head"}, "qwen3-bf16-tied");
  }
  void qwen3_sharded() { check_layout("qwen3", {"--std", "0.1", "--shards", "2"}, "qwen3-sharded"); }

  void spec_from_config_reads_each_family() {
    const ModelSpec q3 = load_hf_model(path("qwen3-f32"))->spec();
    QCOMPARE(q3.arch, std::string("qwen3"));
    QVERIFY(q3.qk_norm && !q3.qkv_bias);
    QCOMPARE(q3.head_size(), int64_t{32});  // hidden 64 over 4 heads would be 16: Qwen3's own head_dim
    const ModelSpec q2 = load_hf_model(path("qwen2-f32"))->spec();
    QVERIFY(q2.qkv_bias && !q2.o_bias && !q2.qk_norm);
    const ModelSpec l3 = load_hf_model(path("llama-f32"))->spec();
    QCOMPARE(l3.rope_scaling.type, std::string("llama3"));
    QCOMPARE(l3.rope_scaling.original_context, int64_t{64});
    const ModelSpec lu = load_hf_model(path("llama-untied"))->spec();
    QVERIFY(!lu.tie_embeddings && lu.qkv_bias && lu.o_bias);
  }

  // Our export reloads bit-identically (F32) and reads back in the reference's own reader.
  void export_reloads_with_identical_logits() {
    for (const std::string name : {"qwen3-f32", "llama-untied", "qwen2-bf16"}) {
      const std::string src = path(name);
      write_byte_tokenizer(src);
      Transformer model = load_hf_model(src);
      const auto tok = HfTokenizer::from_folder(src);
      ExportOptions eo;
      eo.dtype = "f32";
      const std::string out = path(name + "-export");
      export_hf_model(model, *tok, out, eo);
      const json cfg = read_json(out + "/config.json");
      QCOMPARE(cfg["architectures"][0].get<std::string>(), model->spec().hf_architecture());
      QCOMPARE(cfg["torch_dtype"].get<std::string>(), std::string("float32"));
      for (const char* f : {"tokenizer.json", "tokenizer_config.json", "generation_config.json", "model.safetensors"})
        QVERIFY2(fs::exists(out + "/" + f), f);
      SafetensorsFile st(out + "/model.safetensors");
      QCOMPARE(st.tensors().count("lm_head.weight") > 0, !model->spec().tie_embeddings);
      Transformer back = load_hf_model(out);
      const auto a = our_logits(model), b = our_logits(back);
      for (size_t i = 0; i < a.size(); ++i) QVERIFY(torch::equal(a[i], b[i]));
      const double diff = max_difference(a, reference_forward(out, tmp_.path().toStdString(), 0));
      QVERIFY2(diff < 1e-4, qPrintable(QString("%1 export: reference reads logits %2 away").arg(name.c_str()).arg(diff)));
    }
  }

  void bf16_export_rounds_once() {
    const std::string src = path("qwen2-bf16");  // weights that are already BF16 survive a BF16 export exactly
    Transformer model = load_hf_model(src);
    const auto tok = HfTokenizer::from_folder(src);
    export_hf_model(model, *tok, path("qwen2-bf16-again"), ExportOptions{});
    QCOMPARE(read_json(path("qwen2-bf16-again/config.json"))["torch_dtype"].get<std::string>(), std::string("bfloat16"));
    Transformer back = load_hf_model(path("qwen2-bf16-again"));
    const auto a = our_logits(model), b = our_logits(back);
    for (size_t i = 0; i < a.size(); ++i) QVERIFY(torch::equal(a[i], b[i]));
  }

  void bad_folders_name_the_problem() {
    const std::string good = path("qwen3-f32-export");
    auto variant = [&](const std::string& name) {
      const std::string d = path(name);
      fs::create_directories(d);
      for (const auto& e : fs::directory_iterator(good)) fs::copy_file(e.path(), d + "/" + e.path().filename().string(),
                                                                         fs::copy_options::overwrite_existing);
      return d;
    };
    // unknown architecture
    std::string d = variant("bad-arch");
    json cfg = read_json(d + "/config.json");
    cfg["architectures"] = {"MistralForCausalLM"};
    write_json(d + "/config.json", cfg);
    QVERIFY(fails_with([&] { load_hf_model(d); }, {"MistralForCausalLM", "not supported", "config.json"}));
    // wrong shape: config.json says a wider MLP than the weights hold
    d = variant("bad-shape");
    cfg = read_json(d + "/config.json");
    cfg["intermediate_size"] = 96;
    write_json(d + "/config.json", cfg);
    QVERIFY(fails_with([&] { load_hf_model(d); }, {"mlp.gate_proj.weight", "shape", "expected"}));
    // a field out of range
    d = variant("bad-field");
    cfg = read_json(d + "/config.json");
    cfg["num_key_value_heads"] = 3;
    write_json(d + "/config.json", cfg);
    QVERIFY(fails_with([&] { load_hf_model(d); }, {"num_key_value_heads", "does not divide"}));
    // a missing tensor: rewrite the file without one
    d = variant("bad-missing");
    {
      Transformer m = load_hf_model(good);
      std::vector<StWriteTensor> keep;
      for (auto& [name, p] : hf_named_parameters(m)) {
        if (name == "model.layers.1.self_attn.k_norm.weight") continue;
        torch::Tensor t = p.detach().contiguous();
        keep.push_back({name, StDtype::kF32, t.sizes().vec(),
                        [t](uint8_t* out, size_t n) { std::memcpy(out, t.data_ptr(), n); }});
      }
      write_safetensors(d + "/model.safetensors", keep, {});
    }
    QVERIFY(fails_with([&] { load_hf_model(d); }, {"model.layers.1.self_attn.k_norm.weight", "missing"}));
    // a truncated file
    d = variant("bad-truncated");
    fs::resize_file(d + "/model.safetensors", fs::file_size(d + "/model.safetensors") - 100);
    QVERIFY(fails_with([&] { load_hf_model(d); }, {"model.safetensors", "truncated"}));
    // a header length past the end of the file
    d = variant("bad-header");
    {
      std::fstream f(d + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
      const uint64_t n = uint64_t{1} << 40;
      f.write(reinterpret_cast<const char*>(&n), 8);
    }
    QVERIFY(fails_with([&] { load_hf_model(d); }, {"header length", "past the end of the file"}));
    // no weights at all
    d = variant("bad-noweights");
    fs::remove(d + "/model.safetensors");
    QVERIFY(fails_with([&] { load_hf_model(d); }, {"neither model.safetensors nor model.safetensors.index.json"}));
    // a shape whose element count overflows (or exceeds the file)
    d = variant("bad-huge-shape");
    {
      const std::string head = R"({"model.embed_tokens.weight":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})";
      std::ofstream f(d + "/model.safetensors", std::ios::binary | std::ios::trunc);
      const uint64_t n = head.size();
      f.write(reinterpret_cast<const char*>(&n), 8);
      f << head;
    }
    QVERIFY(fails_with([&] { load_hf_model(d); }, {"model.embed_tokens.weight", "more elements than the file has bytes"}));
    // a shard index naming a file outside the folder
    d = variant("bad-index");
    fs::remove(d + "/model.safetensors");
    write_json(d + "/model.safetensors.index.json", {{"weight_map", {{"model.norm.weight", "../elsewhere.safetensors"}}}});
    QVERIFY(fails_with([&] { load_hf_model(d); }, {"model.safetensors.index.json", "not a file in the model folder"}));
    // not a folder
    QVERIFY(fails_with([&] { load_hf_model(path("nowhere")); }, {"nowhere", "does not exist"}));
  }
};

QTEST_APPLESS_MAIN(TestHfModel)
#include "test_hf_model.moc"

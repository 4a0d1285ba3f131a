// Chat templates: a hand-worked rendering, model folders (tokenizer_config.json, chat_template.jinja, named
// templates), errors (raise_exception, syntax, bad messages, no Python), batching, and the peer check against
// @huggingface/jinja on Qwen3's, Llama 3's and a Qwen2.5 template (GRPO_PEER_OUT, from
// tests/peers/run_chat_peer.sh).
#include <QtTest>

#include "trainer/chat_template.h"
#include "trainer/resources.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

using namespace grpo;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

fs::path source_dir() { return fs::path(__FILE__).parent_path().parent_path().parent_path(); }

fs::path peers_dir() {
  if (const char* env = std::getenv("GRPO_PEERS_DIR"); env && *env) return env;
  return source_dir() / "tests/peers";
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

json msg(const std::string& role, const json& content) { return json{{"role", role}, {"content", content}}; }

// The message of the ChatTemplateError that `f` throws ("" when it does not throw).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ChatTemplateError& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Where to look for a string difference.
std::string first_difference(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return "first difference at byte " + std::to_string(i) + " (lengths " + std::to_string(a.size()) + " and " +
         std::to_string(b.size()) + ")";
}

}  // namespace

class TestChatTemplate : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

 private slots:
  void initTestCase() {
    // Outside CTest (which sets it), find the helper in the source tree.
    if (qEnvironmentVariableIsEmpty("GRPO_RESOURCES_DIR"))
      qputenv("GRPO_RESOURCES_DIR", QByteArray::fromStdString((source_dir() / "resources").string()));
    QVERIFY(tmp_.isValid());
    QVERIFY2(find_resource("scripts/render_chat_template.py").has_value(), "render_chat_template.py not found");
  }

  // trim_blocks/lstrip_blocks, special tokens, variables, tojson without ASCII escapes, content parts passed
  // through, add_generation_prompt, and a template's single trailing newline dropped as Jinja does.
  void hand_written_template_exact_bytes() {
    ChatTemplate t;
    t.source =
        "{{ bos_token }}\n"
        "{% for m in messages %}\n"
        "  {% if m.content is string %}\n"
        "[{{ m.role }}] {{ m.content }}\n"
        "  {% else %}\n"
        "[{{ m.role }}]{% for p in m.content %} {{ p.text }}{% endfor %}\n"
        "\n"
        "  {% endif %}\n"
        "{% endfor %}\n"
        "{% if add_generation_prompt %}[assistant]{% endif %}\n"
        "{{ meta | tojson }}|{{ tools is none }}|{{ extra }}\n";
    t.special_tokens = {{"bos_token", "<s>"}, {"eos_token", "</s>"}};
    const std::vector<json> convs = {
        json::array({msg("system", "Be brief."), msg("user", "héllo 👋")}),
        json::array({msg("user", json::array({json{{"type", "text"}, {"text", "a"}}, json{{"type", "text"}, {"text", "b"}}}))}),
    };
    const json vars = {{"meta", {{"k", "é<>"}}}, {"extra", 3}};
    const auto on = t.render(convs, true, vars);
    QCOMPARE(on.size(), size_t(2));
    // Hand-worked: "{{ bos_token }}\n" gives "<s>\n" (a newline after a variable is kept); each block line
    // ({% for %}, {% if %}, {% else %}, {% endif %}, {% endfor %}) is stripped before the tag (lstrip_blocks)
    // and loses its own newline (trim_blocks). So the parts line loses the newline after its {% endfor %} and
    // the blank line below it gives the one "\n"; "[assistant]"'s {% endif %} eats its newline; tojson is
    // json.dumps(ensure_ascii=False) (no HTML escapes); the template's final newline is dropped.
    QCOMPARE(on[0], std::string("<s>\n[system] Be brief.\n[user] héllo 👋\n[assistant]{\"k\": \"é<>\"}|True|3"));
    QCOMPARE(on[1], std::string("<s>\n[user] a b\n[assistant]{\"k\": \"é<>\"}|True|3"));
    const auto off = t.render({convs[0]}, false, vars);
    QCOMPARE(off.at(0), std::string("<s>\n[system] Be brief.\n[user] héllo 👋\n{\"k\": \"é<>\"}|True|3"));
    // variables override special tokens; tools may be given
    const auto over = t.render({convs[0]}, false, {{"bos_token", "B"}, {"meta", nullptr}, {"extra", "x"}, {"tools", json::array()}});
    QCOMPARE(over.at(0), std::string("B\n[system] Be brief.\n[user] héllo 👋\nnull|False|x"));
    // messages keep their extra fields; {% continue %} (loopcontrols) and strftime_now exist
    ChatTemplate u;
    u.source =
        "{%- for m in messages %}{% if loop.index0 == 1 %}{% continue %}{% endif %}{{ m.role }}:{{ m.reasoning_content "
        "| default('-') }};{% endfor %}{{ strftime_now('%Y') | length }}";
    const auto r = u.render({json::array({json{{"role", "a"}, {"content", ""}, {"reasoning_content", "why"}},
                                          msg("b", ""), msg("c", "")})},
                            false);
    QCOMPARE(r.at(0), std::string("a:why;c:-;4"));
    QVERIFY(t.render({}, true).empty());
  }

  void from_folder() {
    const fs::path root = fs::path(tmp_.path().toStdString());
    // tokenizer_config.json with a string template and special tokens (string, AddedToken object, null)
    const fs::path a = root / "a";
    fs::create_directories(a);
    write_file(a / "tokenizer_config.json",
               json{{"chat_template", "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"},
                    {"bos_token", {{"__type", "AddedToken"}, {"content", "<B>"}, {"lstrip", false}}},
                    {"eos_token", "<E>"},
                    {"unk_token", nullptr}}
                   .dump());
    auto ta = ChatTemplate::from_folder(a.string());
    QVERIFY(ta.has_value());
    QCOMPARE(ta->special_tokens, (json{{"bos_token", "<B>"}, {"eos_token", "<E>"}}));
    QCOMPARE(ta->render({json::array({msg("user", "x")})}, false).at(0), std::string("<B>x<E>"));
    // special_tokens_map.json overrides tokenizer_config.json
    write_file(a / "special_tokens_map.json", json{{"eos_token", {{"content", "<EE>"}}}}.dump());
    QCOMPARE(ChatTemplate::from_folder(a.string())->render({json::array({msg("user", "x")})}, false).at(0),
             std::string("<B>x<EE>"));
    // chat_template.jinja beside it wins over the config's template
    write_file(a / "chat_template.jinja", "J{{ messages|length }}\n");
    QCOMPARE(ChatTemplate::from_folder(a.string())->render({json::array({msg("user", "x")})}, false).at(0),
             std::string("J1"));
    // a list of named templates: the "default" one
    const fs::path b = root / "b";
    fs::create_directories(b);
    write_file(b / "tokenizer_config.json",
               json{{"chat_template", json::array({json{{"name", "tool_use"}, {"template", "T"}},
                                                   json{{"name", "default"}, {"template", "D"}}})}}
                   .dump());
    QCOMPARE(ChatTemplate::from_folder(b.string())->source, std::string("D"));
    write_file(b / "tokenizer_config.json",
               json{{"chat_template", json::array({json{{"name", "tool_use"}, {"template", "T"}},
                                                   json{{"name", "rag"}, {"template", "R"}}})}}
                   .dump());
    const std::string no_default = error_of([&] { ChatTemplate::from_folder(b.string()); });
    QVERIFY2(has(no_default, b.string()) && has(no_default, "tool_use, rag") && has(no_default, "default"),
             no_default.c_str());
    // no template at all
    const fs::path c = root / "c";
    fs::create_directories(c);
    QVERIFY(!ChatTemplate::from_folder(c.string()).has_value());
    write_file(c / "tokenizer_config.json", R"({"eos_token": "</s>"})");
    QVERIFY(!ChatTemplate::from_folder(c.string()).has_value());
    write_file(c / "tokenizer_config.json", "{not json");
    const std::string bad_json = error_of([&] { ChatTemplate::from_folder(c.string()); });
    QVERIFY2(has(bad_json, "tokenizer_config.json") && has(bad_json, c.string()), bad_json.c_str());
    const std::string missing = error_of([&] { ChatTemplate::from_folder((root / "nope").string()); });
    QVERIFY2(has(missing, "nope") && has(missing, "not a folder"), missing.c_str());
  }

  void errors_name_what_went_wrong() {
    ChatTemplate t;
    t.folder = "/models/demo";
    t.source =
        "{% for m in messages %}\n"
        "{% if m.role not in ['user', 'assistant'] %}\n"
        "{{ raise_exception('Only user and assistant roles are supported!') }}\n"
        "{% endif %}\n"
        "{{ m.content }}\n"
        "{% endfor %}";
    QCOMPARE(t.render({json::array({msg("user", "ok")})}, false).at(0), std::string("ok\n"));
    const std::string raised =
        error_of([&] { t.render({json::array({msg("user", "ok")}), json::array({msg("system", "no")})}, false); });
    QVERIFY2(has(raised, "/models/demo") && has(raised, "Only user and assistant roles are supported!") &&
                 has(raised, "conversation 1") && has(raised, "line 3") && has(raised, "give plain text prompts"),
             raised.c_str());

    ChatTemplate s;
    s.folder = "/models/broken";
    s.source = "{% for m in messages %}\n{{ m.content }\n{% endfor %}";
    const std::string syntax = error_of([&] { s.render({json::array({msg("user", "x")})}, true); });
    QVERIFY2(has(syntax, "/models/broken") && has(syntax, "syntax error") && has(syntax, "line 2") &&
                 has(syntax, "give plain text prompts"),
             syntax.c_str());

    ChatTemplate u;
    u.source = "{{ messages[0].content.nope.deeper }}";
    const std::string undef = error_of([&] { u.render({json::array({msg("user", "x")})}, true); });
    QVERIFY2(has(undef, "has no attribute 'nope'") && has(undef, "line 1"), undef.c_str());

    // bad messages: caught before Python runs, naming the conversation, message and field
    const auto one = [&](const json& conv) { return error_of([&] { t.render({json::array({msg("user", "ok")}), conv}, false); }); };
    const std::string no_role = one(json::array({msg("user", "a"), json{{"content", "b"}}}));
    QVERIFY2(has(no_role, "conversation 1") && has(no_role, "message 1") && has(no_role, "\"role\"") &&
                 has(no_role, "/models/demo"),
             no_role.c_str());
    const std::string role_type = one(json::array({json{{"role", 3}, {"content", "b"}}}));
    QVERIFY2(has(role_type, "conversation 1") && has(role_type, "\"role\" must be a string"), role_type.c_str());
    const std::string no_content = one(json::array({json{{"role", "user"}}}));
    QVERIFY2(has(no_content, "\"content\""), no_content.c_str());
    const std::string content_type = one(json::array({json{{"role", "user"}, {"content", 5}}}));
    QVERIFY2(has(content_type, "string or a list of parts"), content_type.c_str());
    const std::string bad_part = one(json::array({msg("user", json::array({json{{"type", "text"}}}))}));
    QVERIFY2(has(bad_part, "content part 0") && has(bad_part, "\"text\""), bad_part.c_str());
    QVERIFY(has(one(json::array()), "no messages"));
    QVERIFY(has(one(json{{"role", "user"}}), "list of messages"));
    QVERIFY(has(one(json::array({"hi"})), "message 0"));
    const std::string bad_utf8 = one(json::array({msg("user", std::string("\xff\xfe"))}));
    QVERIFY2(has(bad_utf8, "conversation 1") && has(bad_utf8, "UTF-8"), bad_utf8.c_str());

    // no interpreter: say which package to install
    const QByteArray saved = qgetenv("GRPO_PYTHON");
    qputenv("GRPO_PYTHON", "/nonexistent/python3");
    const std::string no_python = error_of([&] { t.render({json::array({msg("user", "ok")})}, false); });
    if (saved.isEmpty())
      qunsetenv("GRPO_PYTHON");
    else
      qputenv("GRPO_PYTHON", saved);
    QVERIFY2(has(no_python, "/nonexistent/python3") && has(no_python, "python3-jinja2"), no_python.c_str());

    // an interpreter without jinja2: Python without its site-packages (-S), where Debian puts python3-jinja2
    const fs::path fake = fs::path(tmp_.path().toStdString()) / "python-without-jinja2";
    write_file(fake, "#!/bin/sh\nexec /usr/bin/python3 -S \"$@\"\n");
    fs::permissions(fake, fs::perms::owner_all);
    qputenv("GRPO_PYTHON", QByteArray::fromStdString(fake.string()));
    const std::string no_jinja = error_of([&] { t.render({json::array({msg("user", "ok")})}, false); });
    if (saved.isEmpty())
      qunsetenv("GRPO_PYTHON");
    else
      qputenv("GRPO_PYTHON", saved);
    QVERIFY2(has(no_jinja, "jinja2") && has(no_jinja, "python3-jinja2"), no_jinja.c_str());
  }

  // Thousands of prompts in one process call; a multi-megabyte payload in both directions does not deadlock.
  void batches_and_large_payloads() {
    ChatTemplate t;
    t.source = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<|a|>{% endif %}";
    std::vector<json> convs;
    for (int i = 0; i < 1000; ++i)
      convs.push_back(json::array({msg("system", "You solve sums."), msg("user", "What is " + std::to_string(i) + " + 1?")}));
    QElapsedTimer clock;
    clock.start();
    const auto out = t.render(convs, true);
    qInfo("rendered 1000 conversations in %lld ms", static_cast<long long>(clock.elapsed()));
    QCOMPARE(out.size(), size_t(1000));
    QCOMPARE(out[999], std::string("<|system|>You solve sums.<|user|>What is 999 + 1?<|a|>"));
    const std::string big(6 << 20, 'x');
    const auto huge = t.render({json::array({msg("user", big)})}, false);
    QCOMPARE(huge.at(0).size(), big.size() + 8);
  }

  // Byte-for-byte agreement with @huggingface/jinja on the real templates (tests/peers/conversations.json).
  void peer_huggingface_jinja() {
    const char* out_env = std::getenv("GRPO_PEER_OUT");
    if (!out_env || !*out_env)
      QFAIL("GRPO_PEER_OUT is not set: run tests/peers/run_chat_peer.sh OUT (needs node and npm; it installs "
            "tests/peers/node_modules) and set GRPO_PEER_OUT=OUT, the folder holding chat_js.json (CTest does "
            "both through the chat_peer fixture)");
    const fs::path js_file = fs::path(out_env) / "chat_js.json";
    QVERIFY2(fs::exists(js_file), ("no " + js_file.string() + ": run tests/peers/run_chat_peer.sh " + out_env).c_str());
    const json js = json::parse(slurp(js_file));
    const fs::path peers = peers_dir();
    const json spec = json::parse(slurp(peers / "conversations.json"));

    size_t compared = 0;
    for (auto it = spec["templates"].begin(); it != spec["templates"].end(); ++it) {
      const std::string name = it.key();
      const json& tdef = it.value();
      ChatTemplate tpl;
      if (tdef.contains("file")) {
        tpl.source = slurp(peers / tdef["file"].get<std::string>());
        tpl.special_tokens = tdef["special_tokens"];
        tpl.folder = (peers / tdef["file"].get<std::string>()).string();
      } else {
        const fs::path folder = peers / tdef["folder"].get<std::string>();
        QVERIFY2(fs::exists(folder), (folder.string() + " is missing: run tests/peers/run_chat_peer.sh").c_str());
        auto loaded = ChatTemplate::from_folder(folder.string());
        QVERIFY2(loaded.has_value(), (folder.string() + " has no chat template").c_str());
        tpl = *loaded;
      }
      const bool thinking = tdef.value("thinking", false);
      const json thinkings = thinking ? spec["enable_thinking"] : json::array({"n/a"});
      std::vector<json> convs;
      std::vector<std::string> ids;
      for (const auto& c : spec["conversations"]) {
        convs.push_back(c["messages"]);
        ids.push_back(c["id"].get<std::string>());
      }
      for (const auto& agp_v : spec["add_generation_prompt"]) {
        const bool agp = agp_v.get<bool>();
        for (const auto& th : thinkings) {
          // Conversations with their own variables (tools) render one by one; the rest in one batch.
          json vars = {{"date_string", spec["date_string"]}};
          if (th.is_boolean()) vars["enable_thinking"] = th;
          std::vector<json> batch;
          std::vector<size_t> batch_index;
          std::map<size_t, std::string> rendered;
          for (size_t i = 0; i < convs.size(); ++i) {
            const json& c = spec["conversations"][i];
            if (c.contains("variables")) {
              json v = vars;
              for (auto vi = c["variables"].begin(); vi != c["variables"].end(); ++vi) v[vi.key()] = vi.value();
              rendered[i] = tpl.render({convs[i]}, agp, v).at(0);
            } else {
              batch.push_back(convs[i]);
              batch_index.push_back(i);
            }
          }
          const auto out = tpl.render(batch, agp, vars);
          for (size_t k = 0; k < out.size(); ++k) rendered[batch_index[k]] = out[k];
          for (size_t i = 0; i < convs.size(); ++i) {
            std::string id = name + "|" + ids[i] + "|agp=" + (agp ? "1" : "0");
            if (thinking) id += "|think=" + (th.is_null() ? std::string("unset") : std::string(th.get<bool>() ? "true" : "false"));
            QVERIFY2(js.contains(id), ("chat_js.json has no case " + id + ": rerun tests/peers/run_chat_peer.sh").c_str());
            QVERIFY2(js[id].is_string(), ("@huggingface/jinja failed on " + id + ": " + js[id].dump()).c_str());
            const std::string expect = js[id].get<std::string>();
            const std::string& got = rendered[i];
            if (got != expect)
              QFAIL(("case " + id + " differs, " + first_difference(got, expect) + "\n--- ChatTemplate (jinja2):\n" +
                     json(got).dump() + "\n--- @huggingface/jinja:\n" + json(expect).dump())
                        .c_str());
            ++compared;
          }
        }
      }
    }
    QCOMPARE(compared, js.size());
    qInfo("%zu chat-template cases match @huggingface/jinja byte for byte", compared);
  }
};

QTEST_APPLESS_MAIN(TestChatTemplate)
#include "test_chat_template.moc"

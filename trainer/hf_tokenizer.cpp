// Hugging Face byte-level BPE tokenizer (see hf_tokenizer.h): reading a model folder's JSON files, the
// special tokens, and encoding as the Rust `tokenizers` crate runs its pipeline: added tokens split out
// (added_tokens.h), the rest normalized and pre-tokenized (pretokenizer.h), each pre-token BPE-encoded
// (bpe_model.h). Each part's comments name the behaviour of the Rust crate they reproduce.
#include "trainer/hf_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <utility>

#include "trainer/added_tokens.h"
#include "trainer/bpe_model.h"
#include "trainer/byte_level.h"
#include "trainer/hf_json_reader.h"
#include "trainer/pretokenizer.h"
#include "trainer/unicode.h"

namespace grpo {

using hf::fail;
using hf::field_at;
using hf::field_of;
using hf::json;
using hf::JsonReader;
using hf::quote;

namespace {

struct FileLabels {
  std::string tokenizer = "tokenizer.json";
  std::string tokenizer_config = "tokenizer_config.json";
  std::string generation_config = "generation_config.json";
};

}  // namespace

struct HfTokenizer::Impl {
  std::string description;

  hf::BpeModel model;
  bool normalize_nfc = false;  // normalizer: NFC (or a Sequence of NFCs)
  hf::PreTokenizer pre_tokenizer;
  hf::AddedVocabulary added;

  // id -> bytes: token_bytes(id) is pieces[piece_start[id], piece_start[id + 1])
  std::vector<uint32_t> piece_start;
  std::string pieces;
  enum class IdKind : uint8_t { kNone, kByteLevel, kOdd, kAdded };
  std::vector<IdKind> id_kind;
  int64_t vocab_size = 0;

  std::vector<int64_t> eos;
  int64_t pad = -1;
  std::optional<int64_t> bos;

  // Everything from the files' contents; `labels` name the files in messages.
  static std::unique_ptr<HfTokenizer> build(const json& tokenizer, const json& tokenizer_config,
                                            const json& generation_config, std::string description,
                                            const FileLabels& labels);

  void encode(std::string_view text, std::vector<int64_t>& out) const;
};

namespace {

// The pre-tokenizer's sink: each pre-token BPE-encoded onto `out`.
class WordEncoder final : public hf::PreTokenizer::Sink {
 public:
  WordEncoder(const hf::BpeModel& model, std::vector<int64_t>& out) : model_(model), out_(out) {}
  void pre_token(std::string_view word) override { model_.encode_word(word, scratch_, out_); }

 private:
  const hf::BpeModel& model_;
  hf::BpeModel::Scratch scratch_;
  std::vector<int64_t>& out_;
};

}  // namespace

void HfTokenizer::Impl::encode(std::string_view text, std::vector<int64_t>& out) const {
  const size_t bad = hf::invalid_utf8_offset(text);
  if (bad != hf::kNpos)
    fail("HfTokenizer::encode: the text is not valid UTF-8: byte " +
         hf::hex_byte(static_cast<unsigned char>(text[bad])) + " at byte offset " + std::to_string(bad));
  // Per-call working memory, so that one tokenizer can encode on several threads.
  hf::PreTokenizer::Scratch pre_tokenizer_scratch(pre_tokenizer);
  WordEncoder encode_word(model, out);
  std::string normalized_buffer;
  // 1. added tokens matched in the raw text; 2. the rest normalized, and the normalized added tokens
  // matched in it; 3. the rest pre-tokenized and BPE-encoded.
  const hf::AddedVocabulary::OnText pre_tokenize_text = [&](std::string_view piece) {
    pre_tokenizer.pre_tokenize(piece, pre_tokenizer_scratch, encode_word);
  };
  added.split_raw(text, out, [&](std::string_view segment) {
    const std::string_view normalized = normalize_nfc ? hf::nfc(segment, normalized_buffer) : segment;
    added.split_normalized(normalized, out, pre_tokenize_text);
  });
}

// =========================================================================================================
// Loading

namespace {

void check_decoder(const JsonReader& reader, const json& node, const std::string& field) {
  if (node.is_null()) return;
  const auto type = reader.string(node, "type", field_of(field, "type"));
  if (type && *type == "ByteLevel") return;
  if (type && *type == "Sequence") {
    const json* list = JsonReader::member(node, "decoders");
    if (list == nullptr || !list->is_array()) reader.error(field_of(field, "decoders"), "must be a list");
    for (size_t i = 0; i < list->size(); ++i)
      check_decoder(reader, (*list)[i], field_at(field_of(field, "decoders"), i));
    return;
  }
  reader.error(field_of(field, "type"), quote(type.value_or("")) + " is not supported (only ByteLevel)");
}

std::optional<int64_t> config_token(const JsonReader& reader, const json& config, const char* key,
                                    const HfTokenizer& tokenizer) {
  const json* value = JsonReader::member(config, key);
  if (value == nullptr) return std::nullopt;
  std::string content;
  if (value->is_string()) {
    content = value->get<std::string>();
  } else if (value->is_object() && JsonReader::member(*value, "content") != nullptr &&
             (*value)["content"].is_string()) {
    content = (*value)["content"].get<std::string>();
  } else {
    reader.error(key, "must be a token's text or {\"content\": ...}, not " + value->dump().substr(0, 80));
  }
  const auto id = tokenizer.token_to_id(content);
  if (!id) reader.error(key, quote(content) + " is not a token of tokenizer.json");
  return id;
}

std::vector<int64_t> config_ids(const JsonReader& reader, const json& config, const char* key,
                                int64_t vocab_size) {
  const json* value = JsonReader::member(config, key);
  std::vector<int64_t> ids;
  if (value == nullptr) return ids;
  const auto check = [&](const json& v, const std::string& field) {
    const int64_t id = reader.id(v, field);
    if (id >= vocab_size)
      reader.error(field, std::to_string(id) + " is not a token of tokenizer.json (its ids end at " +
                              std::to_string(vocab_size - 1) + ")");
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  };
  if (value->is_array()) {
    for (size_t i = 0; i < value->size(); ++i) check((*value)[i], field_at(key, i));
  } else {
    check(*value, key);
  }
  return ids;
}

}  // namespace

HfTokenizer::HfTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HfTokenizer::~HfTokenizer() = default;

std::unique_ptr<HfTokenizer> HfTokenizer::from_json(const json& tokenizer, const json& tokenizer_config,
                                                    const json& generation_config, std::string description) {
  return Impl::build(tokenizer, tokenizer_config, generation_config, std::move(description), FileLabels{});
}

namespace {

json read_json_file(const std::filesystem::path& path, bool required) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (required) fail(path.string() + ": no such file (a Hugging Face model folder has one)");
    return nullptr;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string() + ": cannot be read");
  std::ostringstream contents;
  contents << in.rdbuf();
  try {
    return json::parse(contents.str());
  } catch (const json::parse_error& e) {
    fail(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

}  // namespace

std::unique_ptr<HfTokenizer> HfTokenizer::from_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path folder = fs::absolute(fs::path(dir)).lexically_normal();
  if (folder.filename().empty()) folder = folder.parent_path();  // "dir/" -> "dir"
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    fail(folder.string() + ": not a folder (expected a model folder with tokenizer.json)");
  FileLabels labels{(folder / "tokenizer.json").string(), (folder / "tokenizer_config.json").string(),
                    (folder / "generation_config.json").string()};
  const json tokenizer = read_json_file(labels.tokenizer, true);
  const json tokenizer_config = read_json_file(labels.tokenizer_config, false);
  const json generation_config = read_json_file(labels.generation_config, false);
  return Impl::build(tokenizer, tokenizer_config, generation_config, "hf:" + folder.string(), labels);
}

std::unique_ptr<HfTokenizer> HfTokenizer::Impl::build(const json& tokenizer_json,
                                                      const json& tokenizer_config,
                                                      const json& generation_config, std::string description,
                                                      const FileLabels& labels) {
  auto impl = std::make_unique<Impl>();
  impl->description = std::move(description);
  const JsonReader reader(labels.tokenizer);
  try {
    if (!tokenizer_json.is_object()) reader.error("the file", "must hold a JSON object");

    // ---- model
    std::vector<hf::VocabEntry> vocab;  // every vocabulary token, for the decoding table
    impl->model.load(reader, reader.object(tokenizer_json, "model", "model"), vocab);

    // ---- added tokens
    if (const json* added = JsonReader::member(tokenizer_json, "added_tokens"))
      impl->added.load(reader, *added, impl->model);

    // ---- normalizer, pre-tokenizer, decoder
    if (const json* normalizer = JsonReader::member(tokenizer_json, "normalizer"))
      hf::parse_normalizer(reader, *normalizer, "normalizer", impl->normalize_nfc);
    if (const json* pre_tokenizer = JsonReader::member(tokenizer_json, "pre_tokenizer"))
      impl->pre_tokenizer.parse(reader, *pre_tokenizer, "pre_tokenizer");
    if (!impl->pre_tokenizer.has_byte_level())
      reader.error("pre_tokenizer", "has no ByteLevel step (only byte-level BPE tokenizers are supported)");
    if (const json* decoder = JsonReader::member(tokenizer_json, "decoder"))
      check_decoder(reader, *decoder, "decoder");
    // post_processor: never applied (encode() adds no BOS/EOS), so any is fine.

    impl->added.index(impl->normalize_nfc);

    // ---- decoding table
    int64_t max_id = -1;
    for (const hf::VocabEntry& entry : vocab) max_id = std::max(max_id, entry.id);
    for (const HfAddedToken& token : impl->added.tokens()) max_id = std::max(max_id, token.id);
    impl->vocab_size = max_id + 1;
    std::vector<std::string> by_id(static_cast<size_t>(impl->vocab_size));
    impl->id_kind.assign(static_cast<size_t>(impl->vocab_size), Impl::IdKind::kNone);
    for (hf::VocabEntry& entry : vocab) {
      const auto id = static_cast<size_t>(entry.id);
      by_id[id] = std::move(entry.piece);
      impl->id_kind[id] = entry.byte_level ? Impl::IdKind::kByteLevel : Impl::IdKind::kOdd;
    }
    for (const HfAddedToken& token : impl->added.tokens()) {
      by_id[static_cast<size_t>(token.id)] = token.content;
      impl->id_kind[static_cast<size_t>(token.id)] = Impl::IdKind::kAdded;
    }
    impl->piece_start.reserve(by_id.size() + 1);
    for (const std::string& piece : by_id) {
      impl->piece_start.push_back(static_cast<uint32_t>(impl->pieces.size()));
      impl->pieces += piece;
    }
    impl->piece_start.push_back(static_cast<uint32_t>(impl->pieces.size()));
  } catch (const json::exception& e) {
    fail(labels.tokenizer + ": " + e.what());
  }

  // ---- special tokens: generation_config.json's eos ids first, then tokenizer_config.json's eos_token
  Impl& self = *impl;
  std::unique_ptr<HfTokenizer> result(new HfTokenizer(std::move(impl)));
  const JsonReader config_reader(labels.tokenizer_config);
  const JsonReader generation_reader(labels.generation_config);
  try {
    if (!tokenizer_config.is_null() && !tokenizer_config.is_object())
      config_reader.error("the file", "must hold a JSON object");
    if (!generation_config.is_null() && !generation_config.is_object())
      generation_reader.error("the file", "must hold a JSON object");
    self.eos = config_ids(generation_reader, generation_config, "eos_token_id", self.vocab_size);
    if (const auto eos = config_token(config_reader, tokenizer_config, "eos_token", *result))
      if (std::find(self.eos.begin(), self.eos.end(), *eos) == self.eos.end()) self.eos.push_back(*eos);
    if (self.eos.empty())
      fail("no end-of-sequence token: neither " + labels.generation_config + " (eos_token_id) nor " +
           labels.tokenizer_config + " (eos_token) names one");
    if (const auto pad = config_token(config_reader, tokenizer_config, "pad_token", *result)) {
      self.pad = *pad;
    } else if (const auto ids =
                   config_ids(generation_reader, generation_config, "pad_token_id", self.vocab_size);
               !ids.empty()) {
      if (ids.size() > 1) generation_reader.error("pad_token_id", "must be one id");
      self.pad = ids.front();
    } else {
      self.pad = self.eos.front();
    }
    self.bos = config_token(config_reader, tokenizer_config, "bos_token", *result);
    if (!self.bos) {
      const auto ids = config_ids(generation_reader, generation_config, "bos_token_id", self.vocab_size);
      if (!ids.empty()) self.bos = ids.front();
    }
  } catch (const json::exception& e) {
    fail(labels.tokenizer_config + " / " + labels.generation_config + ": " + e.what());
  }
  return result;
}

// =========================================================================================================
// The interface

std::vector<int64_t> HfTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3 + 4);
  impl_->encode(text, ids);
  return ids;
}

void HfTokenizer::encode_into(std::string_view text, std::vector<int64_t>& ids) const {
  impl_->encode(text, ids);
}

std::string HfTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  out.reserve(ids.size() * 4);
  for (const int64_t id : ids) {
    if (id < 0 || id >= impl_->vocab_size) continue;
    const auto i = static_cast<size_t>(id);
    out.append(impl_->pieces, impl_->piece_start[i], impl_->piece_start[i + 1] - impl_->piece_start[i]);
  }
  return out;
}

std::string HfTokenizer::token_bytes(int64_t id) const {
  if (id < 0 || id >= impl_->vocab_size) return {};
  const auto i = static_cast<size_t>(id);
  return impl_->pieces.substr(impl_->piece_start[i], impl_->piece_start[i + 1] - impl_->piece_start[i]);
}

int64_t HfTokenizer::vocab_size() const {
  return impl_->vocab_size;
}
int64_t HfTokenizer::pad_id() const {
  return impl_->pad;
}
const std::vector<int64_t>& HfTokenizer::eos_ids() const {
  return impl_->eos;
}

std::vector<int64_t> HfTokenizer::never_sampled() const {
  const bool pad_ends = std::find(impl_->eos.begin(), impl_->eos.end(), impl_->pad) != impl_->eos.end();
  if (is_special(impl_->pad) && !pad_ends) return {impl_->pad};
  return {};
}

std::string HfTokenizer::describe() const {
  return impl_->description;
}

std::optional<int64_t> HfTokenizer::token_to_id(std::string_view token) const {
  if (const HfAddedToken* added = impl_->added.find(token)) return added->id;
  std::string bytes;
  const int32_t id = impl_->model.find_spelled(token, bytes);
  if (id < 0) return std::nullopt;
  return id;
}

std::optional<std::string> HfTokenizer::id_to_token(int64_t id) const {
  if (id < 0 || id >= impl_->vocab_size) return std::nullopt;
  switch (impl_->id_kind[static_cast<size_t>(id)]) {
    case Impl::IdKind::kNone:
      return std::nullopt;
    case Impl::IdKind::kByteLevel:
      return byte_level_encode(token_bytes(id));
    case Impl::IdKind::kOdd:
    case Impl::IdKind::kAdded:
      return token_bytes(id);
  }
  return std::nullopt;
}

std::optional<int64_t> HfTokenizer::bos_id() const {
  return impl_->bos;
}
bool HfTokenizer::is_special(int64_t id) const {
  return impl_->added.is_special(id);
}
const std::vector<HfAddedToken>& HfTokenizer::added_tokens() const {
  return impl_->added.tokens();
}

}  // namespace grpo

// Reading tokenizer.json and its companion files, shared by the Hugging Face tokenizer's parts
// (hf_tokenizer.cpp, bpe_model.cpp, added_tokens.cpp, pretokenizer.cpp): every error is an
// HfTokenizerError whose message names the file and the field. Internal to those files; no LibTorch here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "trainer/hf_tokenizer.h"

namespace grpo::hf {

using json = nlohmann::json;

[[noreturn]] inline void fail(const std::string& message) {
  throw HfTokenizerError(message);
}

// `s` in quotes for a message, cut after max_chars bytes.
inline std::string quote(std::string_view s, size_t max_chars = 60) {
  std::string out = "'";
  out.append(s.substr(0, max_chars));
  if (s.size() > max_chars) out += "...";
  return out + "'";
}

inline std::string hex_byte(unsigned char b) {
  static const char* kDigits = "0123456789abcdef";
  return std::string("0x") + kDigits[b >> 4] + kDigits[b & 15];
}

class JsonReader {
 public:
  explicit JsonReader(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }

  [[noreturn]] void error(const std::string& field, const std::string& what) const {
    fail(file_ + ": " + field + " " + what);
  }

  // The member, or nullptr when it is absent or null.
  static const json* member(const json& object, const char* key) {
    if (!object.is_object()) return nullptr;
    const auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
  }

  bool boolean(const json& object, const char* key, bool fallback, const std::string& field) const {
    const json* value = member(object, key);
    if (value == nullptr) return fallback;
    if (!value->is_boolean()) error(field, "must be true or false, not " + value->dump());
    return value->get<bool>();
  }

  std::optional<std::string> string(const json& object, const char* key, const std::string& field) const {
    const json* value = member(object, key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) error(field, "must be a string, not " + value->dump().substr(0, 80));
    return value->get<std::string>();
  }

  int64_t id(const json& value, const std::string& field) const {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > 0x7FFFFFFF)
      error(field, "must be a token id (an integer from 0 to 2^31-1), not " + value.dump().substr(0, 80));
    return value.get<int64_t>();
  }

  const json& object(const json& parent, const char* key, const std::string& field) const {
    const json* value = member(parent, key);
    if (value == nullptr) error(field, "is missing");
    if (!value->is_object()) error(field, "must be an object");
    return *value;
  }

 private:
  std::string file_;
};

// "field" of an object's member, for messages: pre_tokenizer.pretokenizers[1].behavior
inline std::string field_of(const std::string& field, const std::string& key) {
  return field + "." + key;
}
inline std::string field_at(const std::string& field, size_t i) {
  return field + "[" + std::to_string(i) + "]";
}

}  // namespace grpo::hf

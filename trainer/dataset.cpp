// Reading the prompt dataset (see dataset.h): the file is streamed in chunks, plain or through zlib, split
// into lines and each non-blank line parsed and checked as one row. Every error is a DataError naming the
// file, the line and the field.
#include "trainer/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string_view>
#include <utility>

namespace grpo {

namespace {

using nlohmann::json;

constexpr size_t kChunk = size_t{1} << 20;  // bytes read at a time
constexpr size_t kMaxShown = 60;            // most bytes of a value quoted in a message
constexpr size_t kMaxParseReason = 240;     // most bytes of nlohmann's parse error kept
constexpr const char* kRoles[] = {"system", "user", "assistant", "tool"};

// `s` cut after about max_bytes bytes, never inside a UTF-8 sequence.
std::string cut(std::string s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s + "...";
}

// A JSON value as a message shows it: 42, "text", null, [1,2], cut when long.
std::string shown(const json& v) {
  return cut(v.dump(-1, ' ', false, json::error_handler_t::replace), kMaxShown);
}

bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool is_blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
  });
}

// The reading of one file: where errors point, and the rows read so far.
struct Reader {
  const std::string& path;
  const DataOptions& opt;
  std::vector<DataRow> rows;
  int64_t line = 0;  // lines seen so far (the current one while it is parsed)

  std::string file() const { return opt.what + " '" + path + "'"; }

  // A whole-file error: `message` continues the sentence "data.train 'x.jsonl' ...".
  [[noreturn]] void fail(const std::string& message) const { throw DataError(file() + " " + message); }

  [[noreturn]] void fail_line(const std::string& message) const {
    throw DataError(file() + " line " + std::to_string(line) + ": " + message);
  }

  void on_line(std::string_view text) {
    ++line;
    if (line == 1 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte-order mark
    if (is_blank(text)) return;
    json row;
    try {
      row = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
      std::string reason = e.what();
      if (size_t at = reason.find("] "); reason.rfind("[json.exception", 0) == 0 && at != std::string::npos)
        reason.erase(0, at + 2);
      if (reason.rfind("parse error at line 1, ", 0) == 0) reason.erase(0, 23);
      std::string hint;
      if (rows.empty() && text.find_first_not_of(" \t") != std::string_view::npos &&
          text[text.find_first_not_of(" \t")] == '[')
        hint = " (the file must be JSON Lines: one row object per line, not one JSON array)";
      fail_line("not valid JSON: " + cut(reason, kMaxParseReason) + hint);
    }
    if (!row.is_object()) {
      fail_line(std::string("a row must be a JSON object, got ") + shown(row) +
                (row.is_array() ? " (the file must be JSON Lines: one row object per line)" : ""));
    }
    rows.push_back(make_row(std::move(row)));
  }

  // Checks a list of chat messages named `field` ("prompt" or "messages").
  void check_messages(const json& list, const std::string& field) const {
    for (size_t i = 0; i < list.size(); ++i) {
      const json& m = list[i];
      const std::string name = field + "[" + std::to_string(i) + "]";
      if (!m.is_object()) fail_line("'" + name + "' must be a {role, content} object, got " + shown(m));
      auto role = m.find("role");
      if (role == m.end()) {
        fail_line("'" + name + ".role' is missing" +
                  (m.contains("from")
                       ? " (ShareGPT's {from, value} messages are not read: use {role, content})"
                       : std::string()));
      }
      if (!role->is_string()) fail_line("'" + name + ".role' must be a string, got " + shown(*role));
      const std::string& r = role->get_ref<const std::string&>();
      if (std::find(std::begin(kRoles), std::end(kRoles), r) == std::end(kRoles)) {
        fail_line("'" + name + ".role' must be one of system, user, assistant, tool, got " + shown(*role));
      }
      auto content = m.find("content");
      if (content == m.end()) fail_line("'" + name + ".content' must be a string, but the message has none");
      if (!content->is_string()) fail_line("'" + name + ".content' must be a string, got " + shown(*content));
    }
  }

  json prompt_of(const json& row) const {
    if (auto p = row.find("prompt"); p != row.end()) {
      if (p->is_string()) {
        if (p->get_ref<const std::string&>().empty()) fail_line("'prompt' is an empty string");
        return *p;
      }
      if (!p->is_array()) {
        fail_line("'prompt' must be a string or a list of {role, content} messages, got " + shown(*p));
      }
      if (p->empty()) fail_line("'prompt' is an empty list of messages");
      check_messages(*p, "prompt");
      return *p;
    }
    if (auto m = row.find("messages"); m != row.end()) {
      if (!m->is_array()) {
        fail_line("'messages' must be a list of {role, content} messages, got " + shown(*m));
      }
      if (m->empty()) fail_line("'messages' is an empty list");
      check_messages(*m, "messages");
      json prompt = *m;
      if (prompt.back().at("role") == "assistant") prompt.erase(prompt.size() - 1);
      if (prompt.empty()) {
        fail_line(
            "'messages' has no messages before its final assistant message (the prompt would be empty)");
      }
      return prompt;
    }
    std::string names;
    size_t n = 0;
    for (auto it = row.begin(); it != row.end(); ++it, ++n) {
      if (n == 8) {
        names += ", ...";
        break;
      }
      names += (n ? ", '" : "'") + it.key() + "'";
    }
    fail_line("the row has no 'prompt' column (nor TRL's 'messages'); its columns are: " +
              (names.empty() ? std::string("none") : names));
  }

  // The value at `key` (a column, or a dotted path into nested objects); nullptr when it is absent or
  // null. Strictly, a non-object on the way is an error; otherwise it counts as absent.
  const json* lookup(const json& row, const std::string& key, bool strict) const {
    if (auto it = row.find(key); it != row.end()) return it->is_null() ? nullptr : &*it;
    if (key.find('.') == std::string::npos) return nullptr;
    const json* cur = &row;
    size_t start = 0;
    for (;;) {
      const size_t dot = key.find('.', start);
      const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      auto it = cur->find(part);
      if (it == cur->end() || it->is_null()) return nullptr;
      if (dot == std::string::npos) return &*it;
      if (!it->is_object()) {
        if (!strict) return nullptr;
        fail_line("'" + key.substr(0, dot) + "' must be an object holding '" + key + "', got " + shown(*it));
      }
      cur = &*it;
      start = dot + 1;
    }
  }

  std::string answer_text(const json& v, const std::string& field) const {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
    if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
        return std::to_string(static_cast<int64_t>(d));  // 72.0 → "72"
      }
      return v.dump();  // the shortest text that reads back as the same double: 2.5 → "2.5"
    }
    fail_line("'" + field + "' must be a string or a number, got " + shown(v));
  }

  DataRow make_row(json row) const {
    DataRow out;
    out.line = line;
    out.prompt = prompt_of(row);
    std::string field = opt.answer_key;
    const json* answer = lookup(row, field, /*strict=*/true);
    if (!answer && opt.answer_key == "answer") {
      field = "reward_model.ground_truth";  // veRL's column
      answer = lookup(row, field, /*strict=*/false);
    }
    if (answer) out.answer = answer_text(*answer, field);
    if (auto ds = row.find("data_source"); ds != row.end() && !ds->is_null()) {
      if (!ds->is_string()) fail_line("'data_source' must be a string, got " + shown(*ds));
      out.data_source = ds->get<std::string>();
    }
    out.columns = std::move(row);
    return out;
  }
};

// Feeds chunks of bytes, calls on_line for each line (without its '\n').
class LineSplitter {
 public:
  explicit LineSplitter(std::function<void(std::string_view)> on_line) : on_line_(std::move(on_line)) {}

  void feed(const char* data, size_t n) {
    size_t start = 0;
    while (start < n) {
      const void* nl = std::memchr(data + start, '\n', n - start);
      if (!nl) break;
      const size_t end = static_cast<size_t>(static_cast<const char*>(nl) - data);
      if (pending_.empty()) {
        on_line_(std::string_view(data + start, end - start));
      } else {
        pending_.append(data + start, end - start);
        on_line_(pending_);
        pending_.clear();
      }
      start = end + 1;
    }
    pending_.append(data + start, n - start);
  }

  void finish() {  // a last line without '\n'
    if (!pending_.empty()) on_line_(pending_);
    pending_.clear();
  }

 private:
  std::function<void(std::string_view)> on_line_;
  std::string pending_;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
struct GzCloser {
  void operator()(gzFile_s* g) const { gzclose(g); }
};

}  // namespace

std::vector<DataRow> load_dataset(const std::string& path, const DataOptions& opt) {
  Reader reader{path, opt, {}, 0};
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw DataError(opt.what + ": '" + path + "' is a folder, not a JSON Lines file");
  }
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    const int err = errno;
    throw DataError(opt.what + ": cannot read '" + path + "' (" +
                    (err == ENOENT ? std::string("does it exist?") : std::string(std::strerror(err))) + ")");
  }
  unsigned char magic[4] = {0, 0, 0, 0};
  const size_t got = std::fread(magic, 1, sizeof magic, file.get());
  if (got == 4 && std::memcmp(magic, "PAR1", 4) == 0) {
    reader.fail(
        "is a Parquet file, and only JSON Lines is read; convert it, e.g. "
        "pandas.read_parquet('train.parquet').to_json('train.jsonl', orient='records', lines=True)");
  }
  const bool gzip = ends_with(path, ".gz") || (got >= 2 && magic[0] == 0x1f && magic[1] == 0x8b);

  LineSplitter lines([&reader](std::string_view text) { reader.on_line(text); });
  std::vector<char> buffer(kChunk);
  if (!gzip) {
    std::rewind(file.get());
    for (;;) {
      const size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
      if (n > 0) lines.feed(buffer.data(), n);
      if (n < buffer.size()) {
        if (std::ferror(file.get())) {
          reader.fail(std::string("could not be read (") + std::strerror(errno) + ")");
        }
        break;
      }
    }
  } else {
    file.reset();
    std::unique_ptr<gzFile_s, GzCloser> gz(gzopen(path.c_str(), "rb"));
    if (!gz) reader.fail(std::string("could not be opened as gzip (") + std::strerror(errno) + ")");
    gzbuffer(gz.get(), 1 << 18);
    auto zlib_error = [&]() {  // zlib's code and message, without the "path: " zlib puts in front
      int errnum = Z_OK;
      const char* msg = gzerror(gz.get(), &errnum);
      std::string text = errnum == Z_ERRNO ? std::strerror(errno) : msg ? msg : "";
      if (text.rfind(path + ": ", 0) == 0) text.erase(0, path.size() + 2);
      return std::make_pair(errnum, text);
    };
    auto after = [&reader]() {
      return reader.line == 0 ? std::string() : ", after line " + std::to_string(reader.line);
    };
    for (;;) {
      const int n = gzread(gz.get(), buffer.data(), static_cast<unsigned>(buffer.size()));
      if (n < 0) {
        reader.fail("is corrupt gzip data (zlib: " + zlib_error().second + ")" + after());
      }
      if (n == 0) break;
      lines.feed(buffer.data(), static_cast<size_t>(n));
    }
    if (auto [errnum, msg] = zlib_error(); errnum == Z_BUF_ERROR) {
      reader.fail("is truncated gzip data: the stream ends early" + after() +
                  " (an incomplete download or copy?)");
    } else if (errnum != Z_OK) {
      reader.fail("is corrupt gzip data (zlib: " + msg + ")" + after());
    }
  }
  lines.finish();
  if (reader.rows.empty()) {
    reader.fail(std::string("has no rows (") + (reader.line == 0 ? "the file is empty" : "only blank lines") +
                ")");
  }
  return std::move(reader.rows);
}

std::vector<int64_t> epoch_order(int64_t rows, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(std::max<int64_t>(rows, 0)));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::mt19937_64 rng(seed ^ (0x9E3779B97F4A7C15ULL * (static_cast<uint64_t>(epoch) + 1)));
  // Fisher-Yates by hand: std::shuffle's algorithm differs between standard libraries.
  for (int64_t i = rows - 1; i > 0; --i) {
    const uint64_t j = rng() % static_cast<uint64_t>(i + 1);  // 0..i
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

DataCursor::DataCursor(int64_t rows, uint64_t seed) : rows_(rows), seed_(seed) {
  if (rows <= 0) throw std::invalid_argument("DataCursor: a dataset needs at least one row");
  order_ = epoch_order(rows_, seed_, epoch_);
}

int64_t DataCursor::next() {
  const int64_t index = order_[static_cast<size_t>(position_++)];
  if (position_ == rows_) {
    ++epoch_;
    position_ = 0;
    order_ = epoch_order(rows_, seed_, epoch_);
  }
  return index;
}

nlohmann::json DataCursor::state() const {
  return {{"epoch", epoch_}, {"position", position_}, {"rows", rows_}};
}

void DataCursor::restore(const nlohmann::json& state) {
  auto field = [&state](const char* key) -> int64_t {
    const auto it = state.is_object() ? state.find(key) : state.end();
    if (!state.is_object() || it == state.end() || !it->is_number_integer()) {
      throw DataError(std::string("the checkpoint's data cursor state is malformed: '") + key +
                      "' must be an integer, got " +
                      (state.is_object() && it != state.end() ? shown(*it) : std::string("nothing")));
    }
    return it->get<int64_t>();
  };
  const int64_t rows = field("rows");
  if (rows != rows_) {
    throw DataError("the checkpoint's dataset had " + std::to_string(rows) + " rows, this one has " +
                    std::to_string(rows_) + " (a different data.train file?)");
  }
  const int64_t epoch = field("epoch");
  const int64_t position = field("position");
  if (epoch < 0 || position < 0 || position > rows_) {
    throw DataError("the checkpoint's data cursor state is malformed: epoch " + std::to_string(epoch) +
                    ", position " + std::to_string(position) + " of " + std::to_string(rows_) + " rows");
  }
  epoch_ = epoch;
  position_ = position;
  if (position_ == rows_) {
    ++epoch_;
    position_ = 0;
  }
  order_ = epoch_order(rows_, seed_, epoch_);
}

}  // namespace grpo

// Run store implementation: schema creation and migration check, appends, truncation and queries.
#include "ipc/run_store.h"

#include <cmath>
#include <cstring>

namespace grpo::ipc {

namespace {

// The columns of a stored completion: a training step's (samples) and an evaluation's (eval_samples).
#define GRPO_SAMPLE_COLUMNS                                                                        \
  "seq INTEGER NOT NULL, step INTEGER NOT NULL, grp INTEGER NOT NULL, idx INTEGER NOT NULL, "     \
  "prompt TEXT NOT NULL, completion TEXT NOT NULL, answer TEXT NOT NULL, "                         \
  "reward REAL NOT NULL, rewards TEXT NOT NULL, advantage REAL NOT NULL, length INTEGER NOT NULL, " \
  "correct INTEGER NOT NULL, verified INTEGER NOT NULL, truncated INTEGER NOT NULL, "              \
  "tokens BLOB, offsets BLOB, logp_old BLOB, logp BLOB, entropy BLOB, kl BLOB, columns TEXT, "      \
  "UNIQUE(step, grp, idx)"

const char* kSchema =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS metrics(\n"
    "  step INTEGER NOT NULL, name TEXT NOT NULL, value REAL, seq INTEGER NOT NULL, time REAL NOT NULL,\n"
    "  PRIMARY KEY(step, name)) WITHOUT ROWID;\n"
    "CREATE INDEX IF NOT EXISTS metrics_by_name ON metrics(name, step);\n"
    "CREATE INDEX IF NOT EXISTS metrics_by_seq ON metrics(seq);\n"
    "CREATE TABLE IF NOT EXISTS samples(" GRPO_SAMPLE_COLUMNS ");\n"
    "CREATE INDEX IF NOT EXISTS samples_by_seq ON samples(seq);\n"
    "CREATE TABLE IF NOT EXISTS eval_samples(" GRPO_SAMPLE_COLUMNS ");\n"
    "CREATE INDEX IF NOT EXISTS eval_samples_by_seq ON eval_samples(seq);\n"
    "CREATE TABLE IF NOT EXISTS events(\n"
    "  seq INTEGER PRIMARY KEY, step INTEGER NOT NULL, time REAL NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);\n";
#undef GRPO_SAMPLE_COLUMNS

template <typename T>
void bind_array(Statement& st, int i, const std::vector<T>& v) {
  st.bind_blob(i, v.data(), v.size() * sizeof(T));
}

template <typename T>
std::vector<T> read_array(const Statement& st, int i) {
  const auto bytes = st.column_blob(i);
  std::vector<T> out(bytes.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

}  // namespace

std::string rewards_to_text(const std::map<std::string, double>& rewards) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : rewards) j[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  return j.dump();
}

std::map<std::string, double> rewards_from_json(const nlohmann::json& j) {
  std::map<std::string, double> out;
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = it->is_number() ? it->get<double>() : std::nan("");
  return out;
}

namespace {

bool samples_have_columns(Database& db) {
  auto st = db.prepare("SELECT 1 FROM pragma_table_info('samples') WHERE name='columns'");
  return st.step();
}

bool has_table(Database& db, const char* name) {
  auto st = db.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1");
  st.bind(1, std::string(name));
  return st.step();
}

const char* table_of(SampleSplit split) { return split == SampleSplit::kEval ? "eval_samples" : "samples"; }

}  // namespace

struct RunStore::Impl {
  Database db;
  bool writable = false;
  int64_t seq = 0;  // last seq handed out
  bool has_columns = true;  // a version 1 store opened for reading has no samples.columns
  bool has_eval = true;     // a version 1 or 2 store opened for reading has no eval_samples
};

RunStore::RunStore(Database db, bool writable) : impl_(std::make_unique<Impl>()) {
  impl_->db = std::move(db);
  impl_->writable = writable;
}
RunStore::RunStore(RunStore&&) noexcept = default;
RunStore& RunStore::operator=(RunStore&&) noexcept = default;
RunStore::~RunStore() = default;

RunStore RunStore::open_for_writing(const std::string& path) {
  RunStore store(Database(path, /*read_only=*/false), /*writable=*/true);
  auto& db = store.impl_->db;
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  db.exec(kSchema);
  // Version 1 lacks samples.columns; versions 1 and 2 lack eval_samples (created by kSchema above).
  if (auto v = store.meta("schema_version"); v && std::stoi(*v) < kRunStoreSchemaVersion && std::stoi(*v) >= 1) {
    with_transaction(db, [&] {
      if (!samples_have_columns(db)) db.exec("ALTER TABLE samples ADD COLUMN columns TEXT;");
      store.set_meta("schema_version", std::to_string(kRunStoreSchemaVersion));
    });
  }
  if (auto v = store.meta("schema_version")) {
    if (std::stoi(*v) != kRunStoreSchemaVersion)
      throw StoreError("run store '" + path + "' has schema version " + *v + "; this build reads version " +
                       std::to_string(kRunStoreSchemaVersion));
  } else {
    store.set_meta("schema_version", std::to_string(kRunStoreSchemaVersion));
  }
  store.impl_->seq = std::stoll(store.meta("last_seq").value_or("0"));
  return store;
}

RunStore RunStore::open_for_reading(const std::string& path) {
  RunStore store(Database(path, /*read_only=*/true), /*writable=*/false);
  auto v = store.meta("schema_version");
  if (!v) throw StoreError("'" + path + "' is not a GRPO Studio run store (no schema_version)");
  if (std::stoi(*v) > kRunStoreSchemaVersion)
    throw StoreError("run store '" + path + "' has schema version " + *v + ", newer than this build's " +
                     std::to_string(kRunStoreSchemaVersion));
  store.impl_->has_columns = samples_have_columns(store.impl_->db);
  store.impl_->has_eval = has_table(store.impl_->db, "eval_samples");
  return store;
}

const std::string& RunStore::path() const { return impl_->db.path(); }

void RunStore::set_meta(const std::string& key, const std::string& value) {
  impl_->db.prepare("INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value=?2")
      .bind(1, key)
      .bind(2, value)
      .run();
}

std::optional<std::string> RunStore::meta(const std::string& key) const {
  auto st = impl_->db.prepare("SELECT value FROM meta WHERE key=?1");
  st.bind(1, key);
  if (st.step()) return st.column_text(0);
  return std::nullopt;
}

// The seq counter lives in meta, inside the same transaction as the record it numbers, so it never goes
// back, not even when a resumed run truncates records.
int64_t RunStore::next_seq() {
  const int64_t seq = ++impl_->seq;
  set_meta("last_seq", std::to_string(seq));
  return seq;
}

int64_t RunStore::append_metrics(int64_t step, double time,
                                 const std::vector<std::pair<std::string, double>>& values) {
  int64_t seq = 0;
  with_transaction(impl_->db, [&] {
    seq = next_seq();
    auto st = impl_->db.prepare(
        "INSERT OR REPLACE INTO metrics(step, name, value, seq, time) VALUES(?1, ?2, ?3, ?4, ?5)");
    for (const auto& [name, value] : values) {
      st.bind(1, step).bind(2, name).bind(4, seq).bind(5, time);
      if (std::isfinite(value))
        st.bind(3, value);
      else
        st.bind_null(3);  // NaN/inf are stored as NULL and read back as NaN
      st.run();
    }
  });
  return seq;
}

int64_t RunStore::append_samples(int64_t step, const std::vector<SampleRecord>& samples, SampleSplit split) {
  int64_t seq = 0;
  with_transaction(impl_->db, [&] {
    seq = next_seq();
    auto st = impl_->db.prepare(
        std::string("INSERT OR REPLACE INTO ") + table_of(split) + "(seq, step, grp, idx, prompt, completion, answer, reward, rewards, "
        "advantage, length, correct, verified, truncated, tokens, offsets, logp_old, logp, entropy, kl, columns) "
        "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21)");
    for (const auto& s : samples) {
      st.bind(1, seq).bind(2, step).bind(3, s.group).bind(4, s.index);
      st.bind(5, s.prompt).bind(6, s.completion).bind(7, s.answer).bind(8, s.reward);
      st.bind(9, rewards_to_text(s.rewards)).bind(10, s.advantage).bind(11, s.length);
      st.bind(12, int64_t{s.correct}).bind(13, int64_t{s.verified}).bind(14, int64_t{s.truncated});
      bind_array(st, 15, s.tokens);
      bind_array(st, 16, s.offsets);
      bind_array(st, 17, s.logp_old);
      bind_array(st, 18, s.logp);
      bind_array(st, 19, s.entropy);
      bind_array(st, 20, s.kl);
      if (s.columns.is_null())
        st.bind_null(21);
      else
        st.bind(21, s.columns.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      st.run();
    }
  });
  return seq;
}

int64_t RunStore::append_event(int64_t step, double time, const std::string& kind, const nlohmann::json& data) {
  int64_t seq = 0;
  with_transaction(impl_->db, [&] {
    seq = next_seq();
    impl_->db.prepare("INSERT INTO events(seq, step, time, kind, data) VALUES(?1, ?2, ?3, ?4, ?5)")
        .bind(1, seq)
        .bind(2, step)
        .bind(3, time)
        .bind(4, kind)
        .bind(5, data.dump())
        .run();
  });
  return seq;
}

void RunStore::truncate_after_step(int64_t step) {
  with_transaction(impl_->db, [&] {
    for (const char* table : {"metrics", "samples", "eval_samples", "events"})
      impl_->db.prepare(std::string("DELETE FROM ") + table + " WHERE step > ?1").bind(1, step).run();
  });
}

int64_t RunStore::last_seq() const { return std::stoll(meta("last_seq").value_or("0")); }

int64_t RunStore::last_step() const {
  auto st = impl_->db.prepare("SELECT COALESCE(MAX(step), 0) FROM metrics");
  return st.step() ? st.column_int(0) : 0;
}

std::vector<std::string> RunStore::metric_names() const {
  std::vector<std::string> out;
  auto st = impl_->db.prepare("SELECT DISTINCT name FROM metrics ORDER BY name");
  while (st.step()) out.push_back(st.column_text(0));
  return out;
}

std::vector<MetricPoint> RunStore::metric_series(const std::string& name, int64_t after_step) const {
  std::vector<MetricPoint> out;
  auto st = impl_->db.prepare("SELECT step, time, value FROM metrics WHERE name=?1 AND step>?2 ORDER BY step");
  st.bind(1, name).bind(2, after_step);
  while (st.step())
    out.push_back({st.column_int(0), st.column_double(1),
                   st.column_is_null(2) ? std::nan("") : st.column_double(2)});
  return out;
}

std::map<std::string, double> RunStore::metrics_at(int64_t step) const {
  std::map<std::string, double> out;
  auto st = impl_->db.prepare("SELECT name, value FROM metrics WHERE step=?1");
  st.bind(1, step);
  while (st.step()) out[st.column_text(0)] = st.column_is_null(1) ? std::nan("") : st.column_double(1);
  return out;
}

std::vector<SampleRecord> RunStore::samples_at(int64_t step, SampleSplit split) const {
  std::vector<SampleRecord> out;
  if (split == SampleSplit::kEval && !impl_->has_eval) return out;
  auto st = impl_->db.prepare(
      "SELECT step, grp, idx, prompt, completion, answer, reward, rewards, advantage, length, correct, "
      "verified, truncated, tokens, offsets, logp_old, logp, entropy, kl, " +
      std::string(impl_->has_columns ? "columns" : "NULL") + " FROM " + table_of(split) + " WHERE step=?1 ORDER BY grp, idx");
  st.bind(1, step);
  while (st.step()) {
    SampleRecord s;
    s.step = st.column_int(0);
    s.group = st.column_int(1);
    s.index = st.column_int(2);
    s.prompt = st.column_text(3);
    s.completion = st.column_text(4);
    s.answer = st.column_text(5);
    s.reward = st.column_double(6);
    s.rewards = rewards_from_json(nlohmann::json::parse(st.column_text(7)));
    s.advantage = st.column_double(8);
    s.length = st.column_int(9);
    s.correct = st.column_int(10) != 0;
    s.verified = st.column_int(11) != 0;
    s.truncated = st.column_int(12) != 0;
    s.tokens = read_array<int32_t>(st, 13);
    s.offsets = read_array<int32_t>(st, 14);
    s.logp_old = read_array<float>(st, 15);
    s.logp = read_array<float>(st, 16);
    s.entropy = read_array<float>(st, 17);
    s.kl = read_array<float>(st, 18);
    if (!st.column_is_null(19)) s.columns = nlohmann::json::parse(st.column_text(19), nullptr, false);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<int64_t> RunStore::sample_steps(SampleSplit split) const {
  std::vector<int64_t> out;
  if (split == SampleSplit::kEval && !impl_->has_eval) return out;
  auto st = impl_->db.prepare(std::string("SELECT DISTINCT step FROM ") + table_of(split) + " ORDER BY step");
  while (st.step()) out.push_back(st.column_int(0));
  return out;
}

std::vector<RunStore::SeqRef> RunStore::metric_seqs(int64_t after_seq, int64_t limit) const {
  std::vector<SeqRef> out;
  auto st = impl_->db.prepare(
      "SELECT seq, MIN(step), MIN(time) FROM metrics WHERE seq>?1 GROUP BY seq ORDER BY seq LIMIT ?2");
  st.bind(1, after_seq).bind(2, limit);
  while (st.step()) out.push_back({st.column_int(0), st.column_int(1), st.column_double(2)});
  return out;
}

std::vector<RunStore::SeqRef> RunStore::sample_seqs(int64_t after_seq, int64_t limit, SampleSplit split) const {
  std::vector<SeqRef> out;
  if (split == SampleSplit::kEval && !impl_->has_eval) return out;
  auto st = impl_->db.prepare(std::string("SELECT DISTINCT seq, step FROM ") + table_of(split) +
                              " WHERE seq>?1 ORDER BY seq LIMIT ?2");
  st.bind(1, after_seq).bind(2, limit);
  while (st.step()) out.push_back({st.column_int(0), st.column_int(1), 0.0});
  // samples carry no time column: take the step's metrics time when there is one
  for (auto& r : out) {
    auto t = impl_->db.prepare("SELECT MIN(time) FROM metrics WHERE step=?1");
    t.bind(1, r.step);
    if (t.step() && !t.column_is_null(0)) r.time = t.column_double(0);
  }
  return out;
}

std::map<std::string, double> RunStore::metrics_with_seq(int64_t seq) const {
  std::map<std::string, double> out;
  auto st = impl_->db.prepare("SELECT name, value FROM metrics WHERE seq=?1");
  st.bind(1, seq);
  while (st.step()) out[st.column_text(0)] = st.column_is_null(1) ? std::nan("") : st.column_double(1);
  return out;
}

std::vector<EventRecord> RunStore::events(int64_t after_seq, int64_t limit) const {
  std::vector<EventRecord> out;
  auto st = impl_->db.prepare("SELECT seq, step, time, kind, data FROM events WHERE seq>?1 ORDER BY seq LIMIT ?2");
  st.bind(1, after_seq).bind(2, limit);
  while (st.step())
    out.push_back({st.column_int(0), st.column_int(1), st.column_double(2), st.column_text(3),
                   nlohmann::json::parse(st.column_text(4))});
  return out;
}

}  // namespace grpo::ipc

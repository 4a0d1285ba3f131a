// The prompt dataset of a GRPO run (data.train): a JSON Lines file, plain or gzip-compressed (".gz", or
// any file starting with gzip's magic bytes), one row object per line; blank lines are skipped. Two shapes
// are read, as the Hugging Face TRL and veRL tools write them:
//   TRL   {"prompt": "text", ...}  or  {"prompt": [{"role": "user", "content": "..."}, ...], ...}, or TRL's
//         conversational {"messages": [...]} when there is no "prompt" column (the prompt is the messages
//         before a final assistant message, which is dropped);
//   veRL  {"data_source": "openai/gsm8k", "prompt": [{role, content}, ...], "ability": "math",
//         "reward_model": {"style": "rule", "ground_truth": "72"}, "extra_info": {...}}.
// The reference answer is the column named by data options' answer_key (a dotted path such as
// "reward_model.ground_truth" reaches into nested objects); the default "answer" falls back to veRL's
// reward_model.ground_truth. Every column of a row is kept as read (DataRow::columns), so rewards and
// stored samples see them all. The epoch order is a seeded shuffle that is the same on every platform
// (mt19937_64 and a hand-written Fisher-Yates), so a resumed run continues the identical sequence.
// No LibTorch, no Qt here.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace grpo {

// A bad dataset: the message names the file and, where it applies, the 1-based line and the field
// ("data.train 'train.jsonl' line 7: 'prompt[2].content' must be a string, got null").
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DataRow {
  int64_t line = 0;         // 1-based line of the file the row was read from
  nlohmann::json prompt;    // a non-empty string, or a non-empty array of {"role", "content"} objects
  std::string answer;       // the reference answer as text; empty when the row has none
  std::string data_source;  // the "data_source" column (veRL); empty when absent
  nlohmann::json columns;   // the whole row object as read (every column kept)
};

struct DataOptions {
  std::string answer_key = "answer";  // column of the reference answer; a dotted path reaches nested objects
  std::string what = "data.train";    // the config key named in error messages
};

// Reads and checks every row of `path` (see the top of this file). An answer column holding a number is
// turned into its text (72 → "72", 72.0 → "72", 2.5 → "2.5"), a string is kept, null or a missing column
// gives "", anything else is a DataError. Throws DataError for a file that cannot be read, is empty,
// is truncated or corrupt gzip, or has a bad row (not JSON, not an object, no or a malformed prompt).
std::vector<DataRow> load_dataset(const std::string& path, const DataOptions& opt = {});

// A permutation of 0..rows-1, determined by (seed, epoch) alone and the same on every platform; each
// epoch gets its own order. Empty for rows <= 0.
std::vector<int64_t> epoch_order(int64_t rows, uint64_t seed, int64_t epoch);

// Walks a dataset of `rows` rows epoch by epoch, each epoch in its epoch_order. Its state() goes into a
// checkpoint; restore() makes a fresh cursor continue the identical sequence.
class DataCursor {
 public:
  DataCursor(int64_t rows, uint64_t seed);  // rows > 0 (std::invalid_argument otherwise)

  int64_t next();  // the next row index; after an epoch's last row the cursor moves on to the next epoch
  int64_t epoch() const { return epoch_; }        // epochs completed (0 during the first)
  int64_t position() const { return position_; }  // rows taken in the current epoch, 0..rows-1
  int64_t rows() const { return rows_; }

  nlohmann::json state() const;  // {"epoch": E, "position": P, "rows": N}
  // Continues from a state(). Throws DataError when the state is malformed or was taken on a dataset with
  // a different number of rows.
  void restore(const nlohmann::json& state);

 private:
  int64_t rows_;
  uint64_t seed_;
  int64_t epoch_ = 0;
  int64_t position_ = 0;
  std::vector<int64_t> order_;
};

}  // namespace grpo

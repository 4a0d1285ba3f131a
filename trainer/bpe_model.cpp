// The byte-level BPE model (see bpe_model.h): loading tokenizer.json's "model", and the merges, following
// the Rust `tokenizers` crate's models/bpe (the comments name the behaviour they reproduce).
#include "trainer/bpe_model.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <utility>

#include "trainer/byte_level.h"

namespace grpo::hf {

int32_t BpeModel::find_spelled(std::string_view spelled, std::string& tmp) const {
  if (byte_level_decode(spelled, tmp)) return vocab_.find(tmp);
  const auto it = odd_vocab_.find(std::string(spelled));
  return it == odd_vocab_.end() ? -1 : it->second;
}

void BpeModel::load(const JsonReader& reader, const json& model, std::vector<VocabEntry>& entries) {
  source_ = reader.file();
  const auto type = reader.string(model, "type", "model.type");
  if (type ? *type != "BPE" : JsonReader::member(model, "merges") == nullptr)
    reader.error("model.type", quote(type.value_or("(missing)")) + " is not supported (byte-level BPE only)");
  if (const json* dropout = JsonReader::member(model, "dropout");
      dropout != nullptr && !(dropout->is_number() && dropout->get<double>() == 0.0))
    reader.error("model.dropout",
                 dropout->dump() + " is not supported (BPE dropout samples tokenizations; only null)");
  if (reader.boolean(model, "byte_fallback", false, "model.byte_fallback"))
    reader.error("model.byte_fallback", "true is not supported (a SentencePiece-style BPE, not byte-level)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const auto affix = reader.string(model, key, std::string("model.") + key);
    if (affix && !affix->empty())
      reader.error(std::string("model.") + key,
                   quote(*affix) + " is not supported (byte-level BPE has none)");
  }
  ignore_merges_ = reader.boolean(model, "ignore_merges", false, "model.ignore_merges");
  fuse_unk_ = reader.boolean(model, "fuse_unk", false, "model.fuse_unk");

  const json& vocab = reader.object(model, "vocab", "model.vocab");
  vocab_.reserve(vocab.size());
  entries.reserve(entries.size() + vocab.size());
  std::string bytes;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const json& value = it.value();
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > 0x7FFFFFFF)
      reader.id(value, "model.vocab[" + quote(it.key()) + "]");  // throws, naming the entry
    const int64_t id = value.get<int64_t>();
    if (byte_level_decode(it.key(), bytes)) {
      vocab_.insert(bytes, static_cast<int32_t>(id));
      entries.push_back({id, bytes, true});
    } else {
      odd_vocab_[it.key()] = static_cast<int32_t>(id);
      entries.push_back({id, it.key(), false});
    }
  }
  for (int b = 0; b < 256; ++b) byte_ids_[b] = vocab_.find(std::string(1, static_cast<char>(b)));
  if (const auto unk = reader.string(model, "unk_token", "model.unk_token")) {
    unk_id_ = find_spelled(*unk, bytes);
    if (unk_id_ < 0) reader.error("model.unk_token", quote(*unk) + " is not in model.vocab");
  }

  const json* merges = JsonReader::member(model, "merges");
  if (merges == nullptr || !merges->is_array()) reader.error("model.merges", "must be a list");
  merges_.reserve(merges->size());
  uint32_t rank = 0;
  std::string left, right;
  for (size_t i = 0; i < merges->size(); ++i) {
    const json& merge = (*merges)[i];
    const std::string field = field_at("model.merges", i);
    if (merge.is_string()) {  // "a b": exactly one space (convert_merges_to_hashmap)
      const std::string& line = merge.get_ref<const std::string&>();
      if (line.rfind("#version", 0) == 0) continue;
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
        reader.error(field, quote(line) + " must be two tokens separated by one space");
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      reader.error(field, "must be \"a b\" or [\"a\", \"b\"], not " + merge.dump().substr(0, 80));
    }
    const std::string joined = left + right;
    const int32_t left_id = find_spelled(left, bytes);
    const int32_t right_id = find_spelled(right, bytes);
    const int32_t merged_id = find_spelled(joined, bytes);
    if (left_id < 0 || right_id < 0 || merged_id < 0)
      reader.error(field, "merges " + quote(left) + " and " + quote(right) + ", but " +
                              quote(left_id < 0    ? left
                                    : right_id < 0 ? right
                                                   : joined) +
                              " is not in model.vocab");
    merges_.insert(left_id, right_id, rank++, merged_id);
  }
}

// BPE::tokenize_with_cache: with ignore_merges a word that is a token is that token; else the merges. The
// cache (of either answer) is asked first: it is smaller, so more often in the CPU's cache, than the
// vocabulary. It never blocks: when another thread holds it, this word goes uncached.
void BpeModel::encode_word(std::string_view word, Scratch& scratch, std::vector<int64_t>& out) const {
  if (word.size() == 1 && byte_ids_[static_cast<unsigned char>(word[0])] >= 0) {
    out.push_back(byte_ids_[static_cast<unsigned char>(word[0])]);
    return;
  }
  const bool cacheable = word.size() < WordCache::kMaxWordBytes;
  const uint64_t h = cacheable || ignore_merges_ ? hash_bytes(word) : 0;
  if (cacheable) {
    std::unique_lock<std::mutex> lock(cache_mutex_, std::try_to_lock);
    if (lock.owns_lock() && cache_.find(word, h, out)) return;
  }
  const size_t first = out.size();
  const int32_t whole = ignore_merges_ ? vocab_.find(word, h) : -1;
  if (whole >= 0)
    out.push_back(whole);
  else
    merge_word(word, scratch, out);
  if (cacheable) {
    std::unique_lock<std::mutex> lock(cache_mutex_, std::try_to_lock);
    if (lock.owns_lock()) cache_.insert(word, h, out.data() + first, out.size() - first);
  }
}

// BPE::merge_word + Word::merge_all: one symbol per byte, then the lowest-ranked adjacent pair is merged,
// the leftmost among equals, until no pair merges. Short words scan an array; long ones use Rust's heap.
void BpeModel::merge_word(std::string_view word, Scratch& scratch, std::vector<int64_t>& out) const {
  constexpr size_t kScanLimit = 64;
  int32_t small_ids[kScanLimit];
  std::vector<int32_t> large_ids;
  int32_t* ids = small_ids;
  if (word.size() > kScanLimit) {
    large_ids.resize(word.size());
    ids = large_ids.data();
  }
  size_t n = 0;
  bool previous_unknown = false;
  for (size_t i = 0; i < word.size(); ++i) {
    const int32_t id = byte_ids_[static_cast<unsigned char>(word[i])];
    if (id >= 0) {
      ids[n++] = id;
      previous_unknown = false;
      continue;
    }
    if (unk_id_ < 0)
      fail(source_ + ": cannot encode the piece " + quote(word) + ": its byte " +
           hex_byte(static_cast<unsigned char>(word[i])) +
           " has no token in model.vocab and model.unk_token is null");
    if (!(fuse_unk_ && previous_unknown)) ids[n++] = unk_id_;
    previous_unknown = true;
  }

  if (n <= kScanLimit) {
    uint32_t ranks[kScanLimit];
    int32_t merged[kScanLimit];
    for (size_t i = 0; i + 1 < n; ++i) ranks[i] = merges_.find(ids[i], ids[i + 1], merged[i]);
    while (n > 1) {
      size_t best = 0;
      for (size_t i = 1; i + 1 < n; ++i)
        if (ranks[i] < ranks[best]) best = i;
      if (ranks[best] == MergeTable::kNoMerge) break;
      ids[best] = merged[best];
      // symbols best+2.. and pairs best+2.. move one to the left
      std::memmove(ids + best + 1, ids + best + 2, (n - best - 2) * sizeof(int32_t));
      if (best + 3 <= n) {
        std::memmove(ranks + best + 1, ranks + best + 2, (n - best - 3) * sizeof(uint32_t));
        std::memmove(merged + best + 1, merged + best + 2, (n - best - 3) * sizeof(int32_t));
      }
      --n;
      if (best + 1 < n) ranks[best] = merges_.find(ids[best], ids[best + 1], merged[best]);
      if (best > 0) ranks[best - 1] = merges_.find(ids[best - 1], ids[best], merged[best - 1]);
    }
    out.insert(out.end(), ids, ids + n);
    return;
  }

  auto& symbols = scratch.symbols;
  auto& heap = scratch.heap;
  symbols.resize(n);
  heap.clear();
  for (size_t i = 0; i < n; ++i)
    symbols[i] = {ids[i], static_cast<int32_t>(i) - 1, i + 1 < n ? static_cast<int32_t>(i + 1) : -1};
  const auto by_rank = std::greater<Scratch::Candidate>();
  auto push = [&](int32_t pos) {
    const int32_t next = symbols[static_cast<size_t>(pos)].next;
    if (next < 0) return;
    int32_t to = 0;
    const uint32_t rank =
        merges_.find(symbols[static_cast<size_t>(pos)].id, symbols[static_cast<size_t>(next)].id, to);
    if (rank == MergeTable::kNoMerge) return;
    heap.push_back({rank, pos, to});
    std::push_heap(heap.begin(), heap.end(), by_rank);
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), by_rank);
    const Scratch::Candidate top = heap.back();
    heap.pop_back();
    Scratch::Symbol& left = symbols[static_cast<size_t>(top.pos)];
    if (left.id < 0 || left.next < 0) continue;  // merged away, or now the last symbol
    int32_t to = 0;
    if (merges_.find(left.id, symbols[static_cast<size_t>(left.next)].id, to) == MergeTable::kNoMerge ||
        to != top.merged)
      continue;  // stale: a neighbour changed since this pair was queued
    Scratch::Symbol& right = symbols[static_cast<size_t>(left.next)];
    left.id = top.merged;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.pos;
    right.id = -1;
    if (left.prev >= 0) push(left.prev);
    push(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next)
    out.push_back(symbols[static_cast<size_t>(i)].id);
}
}  // namespace grpo::hf

// safetensors reader (mmap) and writer (see safetensors.h).
#include "trainer/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace grpo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr uint64_t kMaxHeader = 100'000'000;  // as Hugging Face's reader: a larger header is not a real one

bool parse_dtype(const std::string& s, StDtype* out) {
  if (s == "F32") *out = StDtype::kF32;
  else if (s == "F16") *out = StDtype::kF16;
  else if (s == "BF16") *out = StDtype::kBF16;
  else return false;
  return true;
}

}  // namespace

size_t dtype_size(StDtype d) { return d == StDtype::kF32 ? 4 : 2; }
const char* dtype_name(StDtype d) {
  switch (d) {
    case StDtype::kF32: return "F32";
    case StDtype::kF16: return "F16";
    default: return "BF16";
  }
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw SafetensorsError("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw SafetensorsError("cannot stat '" + path + "': " + std::strerror(errno));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ < 8) {
    ::close(fd);
    throw SafetensorsError("'" + path + "' is " + std::to_string(size_) +
                           " bytes: too short for a safetensors file (it starts with an 8-byte header length)");
  }
  map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw SafetensorsError("cannot map '" + path + "': " + std::strerror(errno));
  }
  const auto* bytes = static_cast<const uint8_t*>(map_);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];  // little-endian u64
  auto fail = [&](const std::string& why) {
    ::munmap(map_, size_);
    map_ = nullptr;
    return SafetensorsError("'" + path + "': " + why);
  };
  if (n > size_ - 8)
    throw fail("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size_) +
               " bytes): truncated or not a safetensors file");
  if (n > kMaxHeader) throw fail("header length " + std::to_string(n) + " is implausibly large");
  json header;
  try {
    header = json::parse(reinterpret_cast<const char*>(bytes + 8), reinterpret_cast<const char*>(bytes + 8 + n));
  } catch (const json::parse_error& e) {
    throw fail(std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) throw fail("header is not a JSON object");
  const uint8_t* data = bytes + 8 + n;
  const size_t data_size = size_ - 8 - n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_object())
        for (auto m = it->begin(); m != it->end(); ++m)
          if (m->is_string()) metadata_[m.key()] = m->get<std::string>();
      continue;
    }
    const std::string& name = it.key();
    const json& e = *it;
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      throw fail("tensor '" + name + "' lacks dtype, shape or data_offsets");
    StTensor t;
    t.name = name;
    t.file = path;
    const std::string dt = e["dtype"].is_string() ? e["dtype"].get<std::string>() : "?";
    if (!parse_dtype(dt, &t.dtype))
      throw fail("tensor '" + name + "' has dtype " + dt + "; model weights must be F32, F16 or BF16");
    if (!e["shape"].is_array()) throw fail("tensor '" + name + "': shape is not a list");
    uint64_t numel = 1;
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 48))
        throw fail("tensor '" + name + "': shape " + e["shape"].dump() + " is not a list of sizes");
      t.shape.push_back(d.get<int64_t>());
      if (__builtin_mul_overflow(numel, d.get<uint64_t>(), &numel) || numel > data_size)
        throw fail("tensor '" + name + "': shape " + e["shape"].dump() + " holds more elements than the file has bytes");
    }
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw fail("tensor '" + name + "': data_offsets must be [begin, end]");
    const uint64_t b = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (b > end) throw fail("tensor '" + name + "': data_offsets " + off.dump() + " end before they begin");
    if (end > data_size)
      throw fail("tensor '" + name + "': data " + off.dump() + " runs past the end of the file (" +
                 std::to_string(data_size) + " data bytes): the file is truncated");
    if (end - b != numel * dtype_size(t.dtype))
      throw fail("tensor '" + name + "': " + std::to_string(end - b) + " bytes for shape " + e["shape"].dump() + " in " +
                 dt + " (" + std::to_string(numel * dtype_size(t.dtype)) + " expected)");
    t.data = data + b;
    t.nbytes = end - b;
    tensors_.emplace(name, std::move(t));
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, size_);
}

void SafetensorsFile::release(const StTensor& t) const {
  if (!map_ || t.nbytes == 0) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(t.data) & ~(page - 1);
  const auto end = reinterpret_cast<uintptr_t>(t.data) + t.nbytes;
  ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

SafetensorsSet::SafetensorsSet(const std::string& dir) {
  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  std::vector<std::string> files;
  if (fs::exists(single)) {
    files.push_back(single.string());
  } else if (fs::exists(index)) {
    std::ifstream in(index);
    json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      throw SafetensorsError("'" + index.string() + "' is not a safetensors index (a JSON object with a weight_map)");
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it->is_string()) throw SafetensorsError("'" + index.string() + "': weight_map['" + it.key() + "'] is not a file name");
      const fs::path shard(it->get<std::string>());
      if (shard.is_absolute() || shard.filename() != shard || shard.filename() == "..")
        throw SafetensorsError("'" + index.string() + "': weight_map['" + it.key() + "'] = '" + shard.string() +
                               "' is not a file in the model folder");
      const std::string f = (fs::path(dir) / it->get<std::string>()).string();
      if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(f);
    }
    if (files.empty()) throw SafetensorsError("'" + index.string() + "' names no shard files");
  } else {
    throw SafetensorsError("model folder '" + dir + "' has neither model.safetensors nor model.safetensors.index.json");
  }
  for (const auto& f : files) {
    if (!fs::exists(f)) throw SafetensorsError("shard '" + f + "' (named by model.safetensors.index.json) does not exist");
    files_.push_back(std::make_unique<SafetensorsFile>(f));
    for (const auto& [name, t] : files_.back()->tensors()) {
      if (index_.count(name)) throw SafetensorsError("tensor '" + name + "' is in both '" + index_[name].first->file + "' and '" + f + "'");
      index_[name] = {&t, files_.back().get()};
    }
  }
}

const StTensor* SafetensorsSet::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second.first;
}

std::vector<std::string> SafetensorsSet::names() const {
  std::vector<std::string> out;
  for (const auto& [name, v] : index_) out.push_back(name);
  return out;
}

void SafetensorsSet::release(const StTensor& t) const {
  const auto it = index_.find(t.name);
  if (it != index_.end()) it->second.second->release(t);
}

void write_safetensors(const std::string& path, const std::vector<StWriteTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::vector<uint64_t> sizes;
  for (const auto& t : tensors) {
    uint64_t numel = 1;
    for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d);
    const uint64_t n = numel * dtype_size(t.dtype);
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    sizes.push_back(n);
    offset += n;
  }
  std::string head = header.dump();
  head.append((8 - head.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw SafetensorsError("cannot create '" + tmp + "'");
    uint8_t len[8];
    uint64_t n = head.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    std::vector<uint8_t> buf;
    for (size_t i = 0; i < tensors.size(); ++i) {
      buf.resize(sizes[i]);
      tensors[i].fill(buf.data(), buf.size());
      out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
    }
    out.flush();
    if (!out) throw SafetensorsError("cannot write '" + tmp + "' (disk full?)");
  }
  const int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  fs::rename(tmp, path);
}

}  // namespace grpo

// The safetensors format (Hugging Face's weight files), read and written by the project: an 8-byte
// little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
// "__metadata__": {...}} (padded with spaces), then the raw little-endian tensor data. Files are
// memory-mapped read-only and each tensor's pages can be released once it has been copied, so loading
// never holds the file and the model in memory at once. Sharded checkpoints name their files in
// model.safetensors.index.json. No LibTorch here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace grpo {

// A malformed or unreadable safetensors file; the message names the file and what is wrong.
class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class StDtype { kF32, kF16, kBF16 };
size_t dtype_size(StDtype d);
const char* dtype_name(StDtype d);  // "F32", "F16", "BF16"

struct StTensor {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // into the mapping
  size_t nbytes = 0;
  std::string file;  // the file it lives in
};

// One mapped file.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // throws SafetensorsError
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::map<std::string, StTensor>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Gives the tensor's pages back to the kernel (they are re-read from disk if touched again).
  void release(const StTensor& t) const;

 private:
  std::string path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  std::map<std::string, StTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Every tensor of a model folder: model.safetensors, or the shards model.safetensors.index.json names.
class SafetensorsSet {
 public:
  explicit SafetensorsSet(const std::string& dir);  // throws SafetensorsError naming the folder and file
  const StTensor* find(const std::string& name) const;  // null when absent
  std::vector<std::string> names() const;
  void release(const StTensor& t) const;

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::pair<const StTensor*, const SafetensorsFile*>> index_;
};

// A tensor to write: bytes come from `fill`, called once with a buffer of nbytes, so a writer never holds
// more than one converted tensor.
struct StWriteTensor {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::vector<int64_t> shape;
  std::function<void(uint8_t* out, size_t nbytes)> fill;
};

// Writes `path` atomically (path.tmp, fsync, rename); the header is padded with spaces to 8 bytes.
void write_safetensors(const std::string& path, const std::vector<StWriteTensor>& tensors,
                       const std::map<std::string, std::string>& metadata);

}  // namespace grpo

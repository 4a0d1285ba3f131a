// Atomic checkpoint files (see checkpoint.h).
#include "trainer/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace grpo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "grpo-studio-checkpoint";
constexpr int kVersion = 1;

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

void write_checkpoint(const std::string& path, const CheckpointHeader& header, Transformer& model,
                      torch::optim::Optimizer* optimizer, const torch::Tensor* torch_rng) {
  torch::serialize::OutputArchive archive;
  const json head = {{"format", kFormat}, {"version", kVersion},          {"kind", header.kind},
                     {"step", header.step}, {"model", model_spec_to_json(header.model)},
                     {"tokenizer", header.tokenizer}, {"config", header.config}, {"state", header.state},
                     {"info", header.info}, {"has_optimizer", optimizer != nullptr}};
  archive.write("header", c10::IValue(head.dump()));
  torch::serialize::OutputArchive model_archive;
  model->save(model_archive);
  archive.write("model", model_archive);
  if (optimizer) {
    torch::serialize::OutputArchive opt_archive;
    optimizer->save(opt_archive);
    archive.write("optimizer", opt_archive);
  }
  if (torch_rng) archive.write("torch_rng", *torch_rng);
  // Streamed straight into the file (no in-memory copy: a 0.5B model's checkpoint is 6 GB with AdamW's state).
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  const std::string tmp = path + ".tmp";
  try {
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    throw CheckpointError("cannot write checkpoint '" + tmp + "': " + std::string(e.what_without_backtrace()).substr(0, 200));
  }
  // Fault injection for the crash test: leave half the file and wait to be killed.
  if (const char* stall = std::getenv("GRPO_FAULT_STALL_CHECKPOINT"); stall && header.step >= std::atoll(stall)) {
    fs::resize_file(tmp, fs::file_size(tmp) / 2);
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  const int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd < 0) throw CheckpointError("cannot reopen '" + tmp + "': " + std::strerror(errno));
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) throw CheckpointError("cannot flush '" + tmp + "': " + std::strerror(errno));
  fs::rename(tmp, target);
  fsync_dir(target.has_parent_path() ? target.parent_path() : fs::path("."));
}

LoadedCheckpoint read_checkpoint(const std::string& path) {
  if (!fs::exists(path)) throw CheckpointError("checkpoint '" + path + "' does not exist");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw CheckpointError("cannot read checkpoint '" + path + "': not a complete GRPO Studio checkpoint (" +
                          std::string(e.what_without_backtrace()).substr(0, 120) + ")");
  }
  LoadedCheckpoint out;
  out.path = path;
  json head;
  try {
    c10::IValue v;
    archive.read("header", v);
    head = json::parse(v.toStringRef());
    if (head.at("format") != kFormat) throw std::runtime_error("unknown format");
    if (head.at("version").get<int>() > kVersion)
      throw CheckpointError("checkpoint '" + path + "' has format version " + head.at("version").dump() +
                            ", newer than this build's " + std::to_string(kVersion));
    auto& h = out.header;
    h.kind = head.at("kind").get<std::string>();
    h.step = head.at("step").get<int64_t>();
    h.model = model_spec_from_json(head.at("model"));
    h.tokenizer = head.at("tokenizer").get<std::string>();
    h.config = head.value("config", json::object());
    h.state = head.value("state", json::object());
    h.info = head.value("info", json::object());
    out.has_optimizer = head.value("has_optimizer", false);
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    throw CheckpointError("checkpoint '" + path + "' has no valid GRPO Studio header (" + std::string(e.what()).substr(0, 120) + ")");
  }
  try {
    out.model = Transformer(out.header.model, /*init_weights=*/false);
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    out.model->load(model_archive);
    if (archive.try_read("torch_rng", out.torch_rng) == false) out.torch_rng = torch::Tensor();
  } catch (const c10::Error& e) {
    throw CheckpointError("checkpoint '" + path + "': the weights do not match the header's model sizes (" +
                          std::string(e.what_without_backtrace()).substr(0, 120) + ")");
  }
  return out;
}

void read_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer) {
  try {
    torch::serialize::InputArchive archive, opt_archive;
    archive.load_from(path);
    archive.read("optimizer", opt_archive);
    optimizer.load(opt_archive);
  } catch (const c10::Error& e) {
    throw CheckpointError("checkpoint '" + path + "': cannot restore the optimizer (" +
                          std::string(e.what_without_backtrace()).substr(0, 120) + ")");
  }
}

std::string checkpoint_path(const std::string& dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "step_%06lld.pt", static_cast<long long>(step));
  return (fs::path(dir) / name).string();
}

namespace {
std::vector<std::pair<int64_t, std::string>> list_checkpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("step_", 0) == 0 && e.path().extension() == ".pt")
      out.emplace_back(std::atoll(name.c_str() + 5), e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

std::optional<std::string> latest_checkpoint(const std::string& dir) {
  auto all = list_checkpoints(dir);
  if (all.empty()) return std::nullopt;
  return all.back().second;
}

std::optional<std::string> checkpoint_at_or_before(const std::string& dir, int64_t step) {
  std::optional<std::string> best;
  for (const auto& [s, path] : list_checkpoints(dir))
    if (s <= step) best = path;
  return best;
}

std::vector<int64_t> checkpoint_steps(const std::string& dir) {
  std::vector<int64_t> out;
  for (const auto& [s, path] : list_checkpoints(dir)) out.push_back(s);
  return out;
}

void prune_checkpoints(const std::string& dir, int64_t keep) {
  auto all = list_checkpoints(dir);
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) fs::remove(all[i].second);
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".tmp") fs::remove(e.path());
}

}  // namespace grpo

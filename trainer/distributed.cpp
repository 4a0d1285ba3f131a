// Data-parallel process group and failure naming (see distributed.h).
#define USE_C10D_GLOO 1  // Debian's LibTorch is built with Gloo; its header hides the class without this
#include "trainer/distributed.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include <atomic>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "ipc/trainer_endpoint.h"
#include "trainer/clock.h"
#include "trainer/config.h"

namespace grpo {

namespace {

// An integer environment variable, or `fallback` when unset; a malformed value is a ConfigError.
int env_int(const char* name, const char* alt, int fallback) {
  const char* v = std::getenv(name);
  const char* used = name;
  if (!v && alt) v = std::getenv(alt), used = alt;
  if (!v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || x < 0 || x > 1000000)
    throw ConfigError(std::string("environment: ") + used + "='" + v + "' is not a non-negative integer");
  return static_cast<int>(x);
}

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

}  // namespace

DistEnv DistEnv::from_environment() {
  DistEnv e;
  e.world = env_int("WORLD_SIZE", "SLURM_NTASKS", 1);
  e.rank = env_int("RANK", "SLURM_PROCID", 0);
  e.local_rank = env_int("LOCAL_RANK", "SLURM_LOCALID", 0);
  if (const char* a = std::getenv("MASTER_ADDR")) e.master_addr = a;
  e.master_port = env_int("MASTER_PORT", nullptr, 29500);
  if (e.world < 1) throw ConfigError("environment: WORLD_SIZE must be at least 1");
  if (e.rank >= e.world)
    throw ConfigError("environment: RANK " + std::to_string(e.rank) + " is not below WORLD_SIZE " + std::to_string(e.world));
  if (e.master_port < 1 || e.master_port > 65535)
    throw ConfigError("environment: MASTER_PORT " + std::to_string(e.master_port) + " is not a TCP port");
  if (e.world > 1 && !std::getenv("MASTER_ADDR") && std::getenv("SLURM_PROCID"))
    throw ConfigError("environment: under SLURM set MASTER_ADDR to the first node's host name (docs/distributed.md)");
  return e;
}

void check_batch_split(const Config& cfg, int world) {
  const int64_t per = cfg.grpo.minibatches * world;
  if (world > 1 && cfg.grpo.prompts_per_step % per != 0)
    throw ConfigError("grpo.prompts_per_step: " + std::to_string(cfg.grpo.prompts_per_step) + " prompts cannot be split into " +
                      std::to_string(cfg.grpo.minibatches) + " minibatches x " + std::to_string(world) +
                      " ranks; make it a multiple of " + std::to_string(per));
}

struct Distributed::Impl {
  DistEnv env;
  std::chrono::seconds timeout{30};
  c10::intrusive_ptr<c10d::TCPStore> store;  // this thread's connection (rank 0: also the server)
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  std::thread heartbeat;
  std::atomic<bool> stopping{false};

  // Runs one collective; on failure names the rank that caused it.
  template <typename F>
  void run(const char* what, F&& start) {
    try {
      auto work = start();
      work->wait();
    } catch (const std::exception& e) {
      throw DistError(diagnose(what, e.what()));
    }
  }

  // Which rank is gone or behind: ranks whose heartbeat stops advancing are dead; if all are alive, the
  // ranks at the lowest step are the ones the others waited for.
  std::string diagnose(const char* what, const std::string& error) {
    std::ostringstream os;
    std::string first_line = error.substr(0, error.find('\n'));
    try {
      store->setTimeout(std::chrono::seconds(5));
      auto read = [&](const std::string& prefix) {
        std::vector<std::string> v;
        for (int r = 0; r < env.world; ++r) {
          const std::string key = prefix + std::to_string(r);
          v.push_back(store->check({key}) ? text(store->get(key)) : "");
        }
        return v;
      };
      const auto before = read("hb/");
      std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // heartbeats come every 0.5 s
      const auto after = read("hb/");
      std::vector<int> dead;
      for (int r = 0; r < env.world; ++r)
        if (r != env.rank && before[static_cast<size_t>(r)] == after[static_cast<size_t>(r)]) dead.push_back(r);
      if (!dead.empty()) {
        os << "rank";
        for (size_t i = 0; i < dead.size(); ++i) os << (i ? ", " : " ") << dead[i];
        os << " of " << env.world << " stopped (no heartbeat for 2.5 s) during " << what << ": " << first_line;
        return os.str();
      }
      const auto at = read("at/");
      int64_t lowest = INT64_MAX;
      for (const auto& s : at) lowest = std::min<int64_t>(lowest, s.empty() ? -1 : std::stoll(s));
      std::vector<int> behind;
      for (int r = 0; r < env.world; ++r)
        if ((at[static_cast<size_t>(r)].empty() ? -1 : std::stoll(at[static_cast<size_t>(r)])) == lowest) behind.push_back(r);
      if (static_cast<int>(behind.size()) < env.world) {
        os << "rank";
        for (size_t i = 0; i < behind.size(); ++i) os << (i ? ", " : " ") << behind[i];
        os << " of " << env.world << " is alive but stuck before step " << lowest + 1 << " (no answer within "
           << timeout.count() << " s, dist_timeout) during " << what << ": " << first_line;
        return os.str();
      }
      os << "rank " << env.rank << " of " << env.world << ": " << what << " failed: " << first_line;
    } catch (const std::exception&) {
      // The store lives in rank 0's process: if it no longer answers, rank 0 is gone.
      os << "rank 0 of " << env.world << " (the rendezvous at " << env.master_addr << ":" << env.master_port
         << ") is gone; " << what << " failed: " << first_line;
    }
    return os.str();
  }
};

Distributed::Distributed(const DistEnv& env, std::chrono::seconds timeout) : impl_(std::make_unique<Impl>()) {
  auto& s = *impl_;
  s.env = env;
  s.timeout = timeout;
  if (env.world == 1) return;
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(env.master_port);
  so.isServer = env.rank == 0;
  so.numWorkers = static_cast<size_t>(env.world);
  so.waitWorkers = true;
  so.timeout = timeout;
  try {
    s.store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    throw DistError("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world) + ": the rendezvous at " +
                    env.master_addr + ":" + std::to_string(env.master_port) + " did not gather every rank within " +
                    std::to_string(timeout.count()) + " s (" + msg.substr(0, msg.find('\n')) + ")");
  }
  s.store->set("hb/" + std::to_string(env.rank), bytes(std::to_string(unix_now())));
  s.store->set("at/" + std::to_string(env.rank), bytes("0"));

  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  if (ipc::is_loopback(env.master_addr)) {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  } else {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  opts->threads = 1;
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("pg/", s.store);
  s.pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, env.rank, env.world, opts);

  // The heartbeat: its own connection to the store, a timestamp every 0.5 s.
  s.heartbeat = std::thread([&s, key = "hb/" + std::to_string(env.rank)] {
    try {
      c10d::TCPStoreOptions co;
      co.port = static_cast<uint16_t>(s.env.master_port);
      co.waitWorkers = false;
      co.timeout = std::chrono::seconds(5);
      c10d::TCPStore client(s.env.master_addr, co);
      while (!s.stopping) {
        client.set(key, bytes(std::to_string(unix_now())));
        for (int i = 0; i < 5 && !s.stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    } catch (const std::exception&) {
      // The store went away (rank 0 ended or died): nothing left to tell.
    }
  });
}

Distributed::~Distributed() {
  impl_->stopping = true;
  if (impl_->heartbeat.joinable()) impl_->heartbeat.join();
}

int Distributed::rank() const { return impl_->env.rank; }
int Distributed::world() const { return impl_->env.world; }

void Distributed::all_reduce(std::vector<double>& values, Reduce op) {
  if (world() == 1 || values.empty()) return;
  auto t = torch::tensor(values, torch::kFloat64);
  std::vector<at::Tensor> ts{t};
  c10d::AllreduceOptions o;
  o.reduceOp = op == Reduce::kSum ? c10d::ReduceOp::SUM : op == Reduce::kMin ? c10d::ReduceOp::MIN : c10d::ReduceOp::MAX;
  impl_->run("all_reduce", [&] { return impl_->pg->allreduce(ts, o); });
  std::copy(t.data_ptr<double>(), t.data_ptr<double>() + t.numel(), values.begin());
}

void Distributed::all_reduce_gradients(const std::vector<at::Tensor>& params, int64_t bucket_mb) {
  if (world() == 1) return;
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (auto p : params) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  const int64_t cap = bucket_mb * (1 << 20);
  for (size_t i = 0; i < grads.size();) {
    // One bucket: consecutive gradients of one dtype up to the size cap, flattened into one tensor.
    size_t j = i;
    int64_t size = 0;
    std::vector<at::Tensor> flat;
    while (j < grads.size() && grads[j].scalar_type() == grads[i].scalar_type() &&
           (flat.empty() || size + grads[j].numel() * grads[j].element_size() <= cap)) {
      size += grads[j].numel() * grads[j].element_size();
      flat.push_back(grads[j].reshape({-1}));
      ++j;
    }
    std::vector<at::Tensor> bucket{torch::cat(flat)};
    impl_->run("gradient all_reduce", [&] { return impl_->pg->allreduce(bucket); });
    int64_t off = 0;
    for (size_t k = i; k < j; ++k) {
      const int64_t n = grads[k].numel();
      grads[k].copy_(bucket[0].narrow(0, off, n).view_as(grads[k]));
      off += n;
    }
    i = j;
  }
}

void Distributed::broadcast_parameters(const std::vector<at::Tensor>& params) {
  if (world() == 1) return;
  torch::NoGradGuard no_grad;
  for (auto p : params) {
    std::vector<at::Tensor> ts{p.detach()};
    impl_->run("parameter broadcast", [&] { return impl_->pg->broadcast(ts); });
  }
}

std::string Distributed::broadcast(const std::string& from_main) {
  if (world() == 1) return from_main;
  std::vector<at::Tensor> len{torch::tensor({static_cast<int64_t>(is_main() ? from_main.size() : 0)}, torch::kLong)};
  impl_->run("broadcast", [&] { return impl_->pg->broadcast(len); });
  const int64_t n = len[0].item<int64_t>();
  std::vector<at::Tensor> data{torch::zeros({std::max<int64_t>(n, 1)}, torch::kUInt8)};
  if (is_main()) std::memcpy(data[0].data_ptr<uint8_t>(), from_main.data(), static_cast<size_t>(n));
  impl_->run("broadcast", [&] { return impl_->pg->broadcast(data); });
  return std::string(reinterpret_cast<const char*>(data[0].data_ptr<uint8_t>()), static_cast<size_t>(n));
}

std::vector<std::string> Distributed::all_gather(const std::string& mine) {
  if (world() == 1) return {mine};
  const auto W = static_cast<size_t>(world());
  std::vector<at::Tensor> in{torch::tensor({static_cast<int64_t>(mine.size())}, torch::kLong)};
  std::vector<std::vector<at::Tensor>> out(1);
  for (size_t r = 0; r < W; ++r) out[0].push_back(torch::zeros({1}, torch::kLong));
  impl_->run("all_gather", [&] { return impl_->pg->allgather(out, in); });
  int64_t longest = 1;
  std::vector<int64_t> sizes;
  for (const auto& t : out[0]) sizes.push_back(t.item<int64_t>()), longest = std::max(longest, sizes.back());
  std::vector<at::Tensor> data_in{torch::zeros({longest}, torch::kUInt8)};
  std::memcpy(data_in[0].data_ptr<uint8_t>(), mine.data(), mine.size());
  std::vector<std::vector<at::Tensor>> data_out(1);
  for (size_t r = 0; r < W; ++r) data_out[0].push_back(torch::zeros({longest}, torch::kUInt8));
  impl_->run("all_gather", [&] { return impl_->pg->allgather(data_out, data_in); });
  std::vector<std::string> result;
  for (size_t r = 0; r < W; ++r)
    result.emplace_back(reinterpret_cast<const char*>(data_out[0][r].data_ptr<uint8_t>()), static_cast<size_t>(sizes[r]));
  return result;
}

void Distributed::mark_progress(int64_t step) {
  if (world() == 1) return;
  try {
    impl_->store->set("at/" + std::to_string(rank()), bytes(std::to_string(step)));
  } catch (const std::exception& e) {
    throw DistError(impl_->diagnose("progress mark", e.what()));
  }
}

}  // namespace grpo

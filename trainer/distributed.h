// Data parallelism over c10d process groups: who this process is (from the environment variables torchrun
// and SLURM set), the few collectives the GRPO step needs, and naming the rank that failed when one dies
// or hangs. Gloo between CPU processes. A world of one opens nothing and every call returns at once.
// Limits: one process group, collectives from the training thread only; every rank holds the whole model.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace at {
class Tensor;  // the header stays free of LibTorch (trainer.h includes it)
}

namespace grpo {

// A rank died, hung or could not join; the message names it.
class DistError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DistEnv {
  int rank = 0;                           // RANK, else SLURM_PROCID
  int world = 1;                          // WORLD_SIZE, else SLURM_NTASKS
  int local_rank = 0;                     // LOCAL_RANK, else SLURM_LOCALID: this machine's GPU index
  std::string master_addr = "127.0.0.1";  // MASTER_ADDR: the host of rank 0, which runs the rendezvous store
  int master_port = 29500;                // MASTER_PORT

  // Reads the variables above; throws ConfigError naming a malformed one. Unset: a world of one.
  static DistEnv from_environment();
};

struct Config;

// Every rank must hold the same number of whole groups in every minibatch: prompts_per_step a multiple of
// minibatches x world. Throws ConfigError naming grpo.prompts_per_step otherwise.
void check_batch_split(const Config& cfg, int world);

class Distributed {
 public:
  enum class Reduce { kSum, kMin, kMax };

  // Joins the process group (rank 0 hosts the store; every rank waits up to `timeout` for the others).
  // `timeout` also bounds every collective: a rank that does not answer within it is declared lost.
  Distributed(const DistEnv& env, std::chrono::seconds timeout);
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int rank() const;
  int world() const;
  bool is_main() const { return rank() == 0; }

  void all_reduce(std::vector<double>& values, Reduce op);
  // Sums every parameter's gradient over the ranks, in flat buckets of at most `bucket_mb` megabytes
  // (a parameter without a gradient contributes zeros).
  void all_reduce_gradients(const std::vector<at::Tensor>& params, int64_t bucket_mb = 25);
  void broadcast_parameters(const std::vector<at::Tensor>& params);  // rank 0's values to all
  std::string broadcast(const std::string& from_main);                 // rank 0's string to all
  std::vector<std::string> all_gather(const std::string& mine);       // every rank's string, by rank
  // Records the step this rank is at, so that a hung rank can be named.
  void mark_progress(int64_t step);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace grpo

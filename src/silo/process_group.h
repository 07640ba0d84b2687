#pragma once
// The trainers of one silo as a process group: c10d's TCPStore at pg_master_address:port for the
// rendezvous (served by silo rank 0) and Gloo's collectives over TCP. All c10d and Gloo code
// lives in process_group.cpp, so another libtorch version only touches that file.
#include <torch/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace fedsilo::silo {

struct GroupOptions {
  std::string master_address = "127.0.0.1";
  int master_port = 29500;
  int64_t rank = 0;
  int64_t world_size = 1;
  std::chrono::milliseconds rendezvous_timeout{60000};  // all trainers must meet by then
  std::chrono::milliseconds op_timeout{600000};         // one collective may wait this long
  // When set, the trainers meet through this file (all on one node) instead of a TCP store:
  // c10d's TCPStore listens on every interface, whatever master_address says.
  std::string store_file;
};

class SiloGroup {
 public:
  // Throws TimeoutError naming the address when the trainers do not all meet in time, and
  // Error when the port is taken.
  static std::unique_ptr<SiloGroup> connect(const GroupOptions& options);
  ~SiloGroup();

  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_; }
  // In-place sum over the group. Throws Error when a trainer is gone.
  void allreduce_sum(std::vector<torch::Tensor>& tensors);
  // In-place, from `root` to every other rank. Throws Error when a trainer is gone.
  void broadcast(std::vector<torch::Tensor>& tensors, int64_t root = 0);

 private:
  struct Impl;
  SiloGroup(std::unique_ptr<Impl> impl, int64_t rank, int64_t world);
  std::unique_ptr<Impl> impl_;
  int64_t rank_, world_;
};

}  // namespace fedsilo::silo

#include "silo/process_group.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "fedsilo/error.h"

namespace fedsilo::silo {

struct SiloGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  std::string where;
};

SiloGroup::SiloGroup(std::unique_ptr<Impl> impl, int64_t rank, int64_t world)
    : impl_(std::move(impl)), rank_(rank), world_(world) {}

SiloGroup::~SiloGroup() = default;

std::unique_ptr<SiloGroup> SiloGroup::connect(const GroupOptions& o) {
  auto impl = std::make_unique<Impl>();
  impl->where = o.master_address + ":" + std::to_string(o.master_port);
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(o.master_port);
  so.isServer = o.rank == 0;
  so.numWorkers = static_cast<size_t>(o.world_size);
  so.waitWorkers = true;
  so.timeout = o.rendezvous_timeout;
  try {
    impl->store = c10::make_intrusive<c10d::TCPStore>(o.master_address, so);
    auto go = c10d::ProcessGroupGloo::Options::create(o.op_timeout);
    go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(o.master_address));
    impl->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, static_cast<int>(o.rank),
                                                           static_cast<int>(o.world_size), go);
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    if (what.find("ddress already in use") != std::string::npos) {
      throw Error("silo process group: port " + impl->where +
                  " (client_silo_args.pg_master_port) is taken: " + what);
    }
    throw TimeoutError(fmt::format(
        "silo process group: trainer {} of {} could not meet the others at {} within {} s "
        "(client_silo_args.pg_master_address / pg_master_port; is every node's launcher "
        "running?): {}",
        o.rank, o.world_size, impl->where, o.rendezvous_timeout.count() / 1000.0, what));
  }
  return std::unique_ptr<SiloGroup>(new SiloGroup(std::move(impl), o.rank, o.world_size));
}

namespace {
[[noreturn]] void collective_failed(const std::string& op, const std::string& where,
                                    const std::exception& e) {
  std::string what = e.what();
  throw Error(
      "silo process group (" + where + "): " + op +
      " failed, a trainer of this silo is gone or stuck: " + what.substr(0, what.find('\n')));
}
}  // namespace

void SiloGroup::allreduce_sum(std::vector<torch::Tensor>& tensors) {
  try {
    impl_->pg->allreduce(tensors)->wait();
  } catch (const std::exception& e) {
    collective_failed("all-reduce", impl_->where, e);
  }
}

void SiloGroup::broadcast(std::vector<torch::Tensor>& tensors, int64_t root) {
  c10d::BroadcastOptions bo;
  bo.rootRank = root;
  try {
    impl_->pg->broadcast(tensors, bo)->wait();
  } catch (const std::exception& e) {
    collective_failed("broadcast", impl_->where, e);
  }
}

}  // namespace fedsilo::silo

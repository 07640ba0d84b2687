#include "silo/process_group.h"

#include <gloo/allreduce_ring.h>
#include <gloo/broadcast_one_to_all.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <arpa/inet.h>

#include <map>

#include "core/subprocess.h"
#include "fedsilo/error.h"

namespace fedsilo::silo {

// The rendezvous is c10d's TCPStore; the collectives are Gloo's ring algorithms on a full mesh of
// TCP pairs in synchronous mode (a blocking read per message). ProcessGroupGloo drives the same
// transport through a worker thread and an event loop, which costs ~0.9 ms per collective on a
// 2-core VM even for 10 floats; blocking reads cost tens of microseconds. Gloo's algorithms bind
// their buffers to the peers once, so each distinct (kind, dtype, size) gets one persistent buffer
// and algorithm, created in the same order on every rank (every rank makes the same calls).
namespace {

class StoreAdapter : public ::gloo::rendezvous::Store {
 public:
  explicit StoreAdapter(c10::intrusive_ptr<c10d::Store> store) : store_(std::move(store)) {}
  void set(const std::string& key, const std::vector<char>& data) override {
    store_->set(key, std::vector<uint8_t>(data.begin(), data.end()));
  }
  std::vector<char> get(const std::string& key) override {
    auto v = store_->get(key);
    return std::vector<char>(v.begin(), v.end());
  }
  void wait(const std::vector<std::string>& keys) override { store_->wait(keys); }
  void wait(const std::vector<std::string>& keys,
            const std::chrono::milliseconds& timeout) override {
    store_->wait(keys, timeout);
  }

 private:
  c10::intrusive_ptr<c10d::Store> store_;
};

struct Persistent {
  torch::Tensor buffer;
  std::unique_ptr<::gloo::Algorithm> algorithm;
};

}  // namespace

struct SiloGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  std::shared_ptr<::gloo::rendezvous::Context> context;
  std::map<std::tuple<int, int, int64_t, int64_t>, Persistent>
      collectives;  // kind, dtype, numel, root
  std::string where;

  Persistent& get(int kind, const torch::Tensor& like, int64_t root) {
    auto key = std::make_tuple(kind, static_cast<int>(like.scalar_type()), like.numel(), root);
    auto it = collectives.find(key);
    if (it != collectives.end()) return it->second;
    Persistent p;
    p.buffer = torch::empty({like.numel()},
                            like.options().device(torch::kCPU));  // Gloo works on host memory
    int count = static_cast<int>(like.numel());
    if (kind == 0) {
      if (like.scalar_type() != torch::kFloat32)
        throw Error("silo process group: all-reduce takes float32");
      p.algorithm = std::make_unique<::gloo::AllreduceRing<float>>(
          context, std::vector<float*>{p.buffer.data_ptr<float>()}, count);
    } else {
      if (like.scalar_type() != torch::kUInt8)
        throw Error("silo process group: broadcast takes uint8");
      p.algorithm = std::make_unique<::gloo::BroadcastOneToAll<uint8_t>>(
          context, std::vector<uint8_t*>{p.buffer.data_ptr<uint8_t>()}, count,
          static_cast<int>(root));
    }
    return collectives.emplace(key, std::move(p)).first->second;
  }
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
  in_addr numeric{};
  if (!o.store_file.empty()) {
    impl->where = "the rendezvous file " + o.store_file;
  } else if (o.rank != 0 && ::inet_pton(AF_INET, o.master_address.c_str(), &numeric) == 1) {
    // c10d's client sleeps a second after a refused connection. Trainers start together, so
    // the master is usually a few milliseconds from listening: wait for it at a finer grain.
    wait_for_port(o.master_address, o.master_port, o.rendezvous_timeout);
  }
  try {
    if (o.store_file.empty()) {
      impl->store = c10::make_intrusive<c10d::TCPStore>(o.master_address, so);
    } else {
      impl->store =
          c10::make_intrusive<c10d::FileStore>(o.store_file, static_cast<int>(o.world_size));
      impl->store->setTimeout(o.rendezvous_timeout);
    }
    ::gloo::transport::tcp::attr attr(o.master_address.c_str());
    auto device = ::gloo::transport::tcp::CreateDevice(attr);
    impl->context = std::make_shared<::gloo::rendezvous::Context>(static_cast<int>(o.rank),
                                                                  static_cast<int>(o.world_size));
    // Each TCP pair keeps the timeout the context had when connectFullMesh made it, and a pair's
    // blocking reads use that, not the context's later value: so the pairs are made with the
    // collectives' timeout. The meeting itself stays bounded by rendezvous_timeout (the store
    // waits for every trainer above, and its reads of the peers' addresses carry that timeout).
    impl->context->setTimeout(o.op_timeout);
    StoreAdapter store(impl->store);
    impl->context->connectFullMesh(store, device);
    for (int i = 0; i < o.world_size; ++i) {
      if (i != o.rank) impl->context->getPair(i)->setSync(true, /*busyPoll=*/false);
    }
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
    for (auto& t : tensors) {
      auto& p = impl_->get(0, t, 0);
      p.buffer.copy_(t.reshape({-1}));
      p.algorithm->run();
      t.copy_(p.buffer.view(t.sizes()));
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    collective_failed("all-reduce", impl_->where, e);
  }
}

void SiloGroup::broadcast(std::vector<torch::Tensor>& tensors, int64_t root) {
  try {
    for (auto& t : tensors) {
      auto& p = impl_->get(1, t, root);
      if (rank_ == root) p.buffer.copy_(t.reshape({-1}));
      p.algorithm->run();
      if (rank_ != root) t.copy_(p.buffer.view(t.sizes()));
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    collective_failed("broadcast", impl_->where, e);
  }
}

}  // namespace fedsilo::silo

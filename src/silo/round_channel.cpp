#include "silo/round_channel.h"

#include <torch/torch.h>

#include <cstring>

#include "fedsilo/error.h"

namespace fedsilo::silo {

// The order is one byte stream: a 4 x int64 header (command, round, data silo, bytes), then for
// kTrain every tensor's bytes in state order (the model's, then SCAFFOLD's correction's), cut
// into chunks of kOrderChunkBytes. The first chunk is min(kOrderChunkBytes, header + model
// bytes) on every rank and for every order, so a small model costs one collective (about a
// millisecond here) and a large one a bounded buffer.
namespace {
constexpr int64_t kHeaderBytes = 4 * sizeof(int64_t);

int64_t model_bytes(const StateDict& state) {
  int64_t n = 0;
  for (const auto& [name, t] : state) n += t.numel() * static_cast<int64_t>(t.element_size());
  return n;
}

// Walks the tensors' bytes in chunk-sized windows. `copy(tensor bytes, chunk bytes, n)` moves n
// bytes between a tensor and the chunk buffer, in the direction the caller chooses.
class ChunkCursor {
 public:
  // `write_back`: the chunks are written into the tensors (a worker receiving).
  ChunkCursor(const StateDict& state, bool write_back) : state_(state), write_back_(write_back) {}
  template <typename Copy>
  void next(char* chunk, int64_t room, Copy copy) {
    while (room > 0 && index_ < state_.size()) {
      const auto& t = state_[index_].second;
      int64_t size = t.numel() * static_cast<int64_t>(t.element_size());
      int64_t take = std::min(room, size - offset_);
      if (take > 0) copy(static_cast<char*>(cpu(index_).data_ptr()) + offset_, chunk, take);
      chunk += take;
      room -= take;
      offset_ += take;
      if (offset_ == size) finish_tensor();
    }
  }

 private:
  // A tensor off the CPU (a GPU model) goes through a CPU copy, one tensor at a time.
  torch::Tensor& cpu(size_t i) {
    const auto& t = state_[i].second;
    if (!staged_.defined() && (!t.is_cpu() || !t.is_contiguous()))
      staged_ = t.detach().to(torch::kCPU).contiguous();
    if (staged_.defined()) return staged_;
    own_ = t;
    return own_;
  }
  void finish_tensor() {
    if (staged_.defined() && write_back_) state_[index_].second.detach().copy_(staged_);
    staged_ = torch::Tensor();
    ++index_;
    offset_ = 0;
  }

  const StateDict& state_;
  bool write_back_;
  size_t index_ = 0;
  int64_t offset_ = 0;
  torch::Tensor staged_, own_;
};

}  // namespace

void send_order(SiloGroup& group, const SiloOrder& order, const StateDict& model,
                const StateDict* correction) {
  bool train = order.command == SiloCommand::kTrain;
  int64_t first = std::min(kOrderChunkBytes, kHeaderBytes + model_bytes(model));
  StateDict state = model;
  if (train && correction) state.insert(state.end(), correction->begin(), correction->end());
  int64_t bytes = model_bytes(state);
  int64_t total = train ? kHeaderBytes + bytes : first;
  auto buf = torch::empty({std::min(kOrderChunkBytes, total)}, torch::kUInt8);
  auto* p = static_cast<char*>(buf.data_ptr());
  int64_t header[4] = {static_cast<int64_t>(order.command), order.round, order.data_silo_index,
                       bytes};
  std::memcpy(p, header, kHeaderBytes);
  ChunkCursor cursor(state, false);
  auto to_chunk = [](char* tensor, char* chunk, int64_t n) { std::memcpy(chunk, tensor, n); };
  if (train) cursor.next(p + kHeaderBytes, first - kHeaderBytes, to_chunk);
  std::vector<torch::Tensor> one = {buf.narrow(0, 0, first)};
  group.broadcast(one, 0);
  for (int64_t sent = first; sent < total;) {
    int64_t n = std::min(kOrderChunkBytes, total - sent);
    cursor.next(p, n, to_chunk);
    std::vector<torch::Tensor> part = {buf.narrow(0, 0, n)};
    group.broadcast(part, 0);
    sent += n;
  }
}

SiloOrder receive_order(SiloGroup& group, torch::nn::Module& module, StateDict* correction) {
  auto state = state_of(module);
  // The first chunk's size depends on the model alone, so it is the same for every order.
  int64_t first = std::min(kOrderChunkBytes, kHeaderBytes + model_bytes(state));
  if (correction) state.insert(state.end(), correction->begin(), correction->end());
  int64_t bytes = model_bytes(state);
  int64_t total = kHeaderBytes + bytes;
  auto buf = torch::empty({std::min(kOrderChunkBytes, total)}, torch::kUInt8);
  std::vector<torch::Tensor> one = {buf.narrow(0, 0, first)};
  group.broadcast(one, 0);
  auto* p = static_cast<char*>(buf.data_ptr());
  int64_t header[4];
  std::memcpy(header, p, kHeaderBytes);
  if (header[0] < 1 || header[0] > 3)
    throw ProtocolError("silo order: unknown command " + std::to_string(header[0]));
  SiloOrder order{static_cast<SiloCommand>(header[0]), header[1], header[2]};
  if (order.command != SiloCommand::kTrain) return order;
  if (header[3] != bytes) {
    throw ProtocolError("silo order: the master sends " + std::to_string(header[3]) +
                        " bytes of model (and correction), this trainer's layout needs " +
                        std::to_string(bytes));
  }
  torch::NoGradGuard no_grad;
  ChunkCursor cursor(state, true);
  auto from_chunk = [](char* tensor, char* chunk, int64_t n) { std::memcpy(tensor, chunk, n); };
  cursor.next(p + kHeaderBytes, first - kHeaderBytes, from_chunk);
  for (int64_t got = first; got < total;) {
    int64_t n = std::min(kOrderChunkBytes, total - got);
    std::vector<torch::Tensor> part = {buf.narrow(0, 0, n)};
    group.broadcast(part, 0);
    cursor.next(p, n, from_chunk);
    got += n;
  }
  return order;
}

}  // namespace fedsilo::silo

#include "silo/round_channel.h"

#include <torch/torch.h>

#include <cstring>

#include "comm/safetensors.h"
#include "fedsilo/error.h"
#include "fedsilo/state_dict.h"

namespace fedsilo::silo {

void send_order(SiloGroup& group, const SiloOrder& order, const torch::nn::Module& module) {
  std::string bytes;
  if (order.command == SiloCommand::kTrain) bytes = comm::safetensors_encode(state_of(module));
  std::vector<torch::Tensor> header = {
      torch::tensor({static_cast<int64_t>(order.command), order.round, order.data_silo_index,
                     static_cast<int64_t>(bytes.size())},
                    torch::kInt64)};
  group.broadcast(header, 0);
  if (bytes.empty()) return;
  std::vector<torch::Tensor> payload = {
      torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8)};
  std::memcpy(payload[0].data_ptr(), bytes.data(), bytes.size());
  group.broadcast(payload, 0);
}

SiloOrder receive_order(SiloGroup& group, torch::nn::Module& module) {
  std::vector<torch::Tensor> header = {torch::zeros({4}, torch::kInt64)};
  group.broadcast(header, 0);
  auto h = header[0];
  SiloOrder order;
  int64_t command = h[0].item<int64_t>();
  if (command < 1 || command > 3)
    throw ProtocolError("silo order: unknown command " + std::to_string(command));
  order.command = static_cast<SiloCommand>(command);
  order.round = h[1].item<int64_t>();
  order.data_silo_index = h[2].item<int64_t>();
  int64_t n = h[3].item<int64_t>();
  if (order.command != SiloCommand::kTrain) return order;
  if (n <= 0 || n > (int64_t(1) << 40))
    throw ProtocolError("silo order: bad model size " + std::to_string(n));
  std::vector<torch::Tensor> payload = {torch::empty({n}, torch::kUInt8)};
  group.broadcast(payload, 0);
  std::string bytes(static_cast<const char*>(payload[0].data_ptr()), static_cast<size_t>(n));
  load_state(module, comm::safetensors_decode(bytes), "model from the silo master");
  return order;
}

}  // namespace fedsilo::silo

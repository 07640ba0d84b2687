#include "silo/round_channel.h"

#include <torch/torch.h>

#include <cstring>

#include "fedsilo/error.h"
#include "fedsilo/state_dict.h"
#include "ml/model_blob.h"

namespace fedsilo::silo {

// One broadcast per order: a 4 x int64 header (command, round, data silo, byte count) followed by
// the model's blob. Every rank knows the length in advance, because a given layout (names,
// dtypes, shapes) always encodes to the same size; a collective costs about a millisecond here,
// so one beats two.
namespace {
constexpr int64_t kHeaderBytes = 4 * sizeof(int64_t);
}

void send_order(SiloGroup& group, const SiloOrder& order, const std::string& model_bytes,
                int64_t layout_bytes) {
  bool train = order.command == SiloCommand::kTrain;
  if (train && static_cast<int64_t>(model_bytes.size()) != layout_bytes) {
    throw ProtocolError("silo order: the model blob has " + std::to_string(model_bytes.size()) +
                        " bytes, the layout encodes to " + std::to_string(layout_bytes));
  }
  std::vector<torch::Tensor> buf = {torch::zeros({kHeaderBytes + layout_bytes}, torch::kUInt8)};
  int64_t header[4] = {static_cast<int64_t>(order.command), order.round, order.data_silo_index,
                       train ? layout_bytes : 0};
  auto* p = static_cast<char*>(buf[0].data_ptr());
  std::memcpy(p, header, kHeaderBytes);
  if (train) std::memcpy(p + kHeaderBytes, model_bytes.data(), model_bytes.size());
  group.broadcast(buf, 0);
}

SiloOrder receive_order(SiloGroup& group, torch::nn::Module& module) {
  auto layout = state_of(module);
  int64_t expected = encoded_model_size(layout);
  std::vector<torch::Tensor> buf = {torch::empty({kHeaderBytes + expected}, torch::kUInt8)};
  group.broadcast(buf, 0);
  const auto* p = static_cast<const char*>(buf[0].data_ptr());
  int64_t header[4];
  std::memcpy(header, p, kHeaderBytes);
  if (header[0] < 1 || header[0] > 3)
    throw ProtocolError("silo order: unknown command " + std::to_string(header[0]));
  SiloOrder order{static_cast<SiloCommand>(header[0]), header[1], header[2]};
  if (order.command != SiloCommand::kTrain) return order;
  if (header[3] != expected) {
    throw ProtocolError("silo order: the master's model has " + std::to_string(header[3]) +
                        " bytes, this trainer's layout needs " + std::to_string(expected));
  }
  std::string bytes(p + kHeaderBytes, static_cast<size_t>(expected));
  load_state(module, decode_model(bytes, layout, "model from the silo master"),
             "model from the silo master");
  return order;
}

}  // namespace fedsilo::silo

#pragma once
// Inside a silo, the master tells its workers what to do next over the process group: train
// round r on data silo d starting from this global model, or finish, or abort. The model goes
// as the very safetensors bytes the master fetched and verified (no re-encoding), and a worker
// checks names, dtypes and shapes exactly as for a blob.
#include <cstdint>
#include <string>

#include "fedsilo/model.h"
#include "silo/process_group.h"

namespace fedsilo::silo {

enum class SiloCommand : int64_t { kTrain = 1, kFinish = 2, kAbort = 3 };

struct SiloOrder {
  SiloCommand command = SiloCommand::kFinish;
  int64_t round = -1;
  int64_t data_silo_index = -1;
};

// Master (rank 0): sends the order, and for kTrain `model_bytes`, the global model as a blob
// (encode_model's bytes; its size must be encoded_model_size of the layout, which every rank
// computes on its own). `layout_bytes` is that size.
void send_order(SiloGroup& group, const SiloOrder& order, const std::string& model_bytes,
                int64_t layout_bytes);

// Worker: waits for the next order (up to the group's op timeout) and for kTrain loads the
// state into `module`.
SiloOrder receive_order(SiloGroup& group, torch::nn::Module& module);

}  // namespace fedsilo::silo

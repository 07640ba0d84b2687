#pragma once
// Inside a silo, the master tells its workers what to do next over the process group: train
// round r on data silo d starting from this global model, or finish, or abort. The model goes as
// its tensors' raw bytes in chunks of at most kOrderChunkBytes, from the master's tensors into
// the workers' (no blob, no copy of the model on either side); every rank knows the byte count
// from its own layout, and a worker whose layout disagrees is told so before any byte lands.
#include <cstdint>
#include <string>

#include "fedsilo/model.h"
#include "fedsilo/state_dict.h"
#include "silo/process_group.h"

namespace fedsilo::silo {

enum class SiloCommand : int64_t { kTrain = 1, kFinish = 2, kAbort = 3 };

struct SiloOrder {
  SiloCommand command = SiloCommand::kFinish;
  int64_t round = -1;
  int64_t data_silo_index = -1;
};

constexpr int64_t kOrderChunkBytes = 16ll << 20;

// Master (rank 0): sends the order, and for kTrain the model `state` (ignored otherwise) and,
// with SCAFFOLD, the round's `correction` after it.
void send_order(SiloGroup& group, const SiloOrder& order, const StateDict& state,
                const StateDict* correction = nullptr);

// Worker: waits for the next order (up to the group's op timeout) and for kTrain writes the
// model into `module`'s own tensors, and the correction into `correction`'s when the master
// sends one (both sides know from the config whether it does).
SiloOrder receive_order(SiloGroup& group, torch::nn::Module& module,
                        StateDict* correction = nullptr);

}  // namespace fedsilo::silo

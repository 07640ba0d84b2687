#pragma once
// A model's state as ordered (name, tensor) pairs: parameters, then buffers, in module order.
#include <torch/nn/module.h>

#include <string>
#include <utility>
#include <vector>

namespace fedsilo {

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

// References to the module's own tensors (no copies): writing into them changes the module.
StateDict state_of(const torch::nn::Module& module);

// Deep copy, detached, contiguous, on the CPU.
StateDict clone_state(const StateDict& state);

// Names, dtypes and shapes without the values (tensors on the meta device, no storage): what a
// receiver checks a blob against, for the price of a few bytes instead of a model.
StateDict layout_of(const StateDict& state);

// Throws ProtocolError naming the first tensor whose name, dtype or shape differs (or that is
// missing or extra); `what` says whose state is checked, e.g. "model from silo 2, round 7".
void check_same_layout(const StateDict& expected, const StateDict& got, const std::string& what);

// Copies `state` into the module after check_same_layout.
void load_state(torch::nn::Module& module, const StateDict& state, const std::string& what);

}  // namespace fedsilo

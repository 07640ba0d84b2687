#pragma once
// FedNova (Wang et al., "Tackling the Objective Inconsistency Problem in Heterogeneous Federated
// Optimization", NeurIPS 2020): each update is normalised by its local steps before the mean.
#include <cstdint>
#include <memory>

#include "fedsilo/aggregation_rule.h"

namespace fedsilo {

// a_k for `tau` local steps of SGD with `momentum` (section 4).
double fednova_a(int64_t tau, double momentum);

// The rule, for train_args.momentum (the silos' SGD momentum).
std::unique_ptr<CombineRule> fednova_rule(double momentum);

}  // namespace fedsilo

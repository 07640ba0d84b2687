#pragma once
// Local differential privacy (dp_args.dp_solution_type: ldp): each silo clips its update
// (trained - global) to dp_args' clipping norm and adds the calibrated noise before upload, so
// the server, the store and the broker see only the noised model (docs/algorithms.md).
#include "fedsilo/args.h"
#include "fedsilo/state_dict.h"
#include "ml/dp_mechanism.h"

namespace fedsilo::dp {

// dp_args asks each silo to privatize its update (ldp).
bool is_local(const Args& args);

// Rewrites `model` (the silo's trained model, floating tensors only) as global + clip(update)
// + noise. Returns the update's norm before clipping.
double privatize_update(const Calibration& c, NoiseSource& noise, const StateDict& global,
                        StateDict& model);

}  // namespace fedsilo::dp

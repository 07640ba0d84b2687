#pragma once
// dp_args at the server (docs/algorithms.md, "Differential privacy"): with cdp, each update is
// clipped before the rule and the combined model noised after it; with either mode, the
// round's release is counted and the RDP accountant reports epsilon so far.
#include <cstdint>
#include <memory>
#include <optional>

#include "fedsilo/aggregation_rule.h"

namespace fedsilo {

// Throws ConfigError when the budget leaves no model (dp::calibrate).
std::unique_ptr<AggregationStage> make_dp_stage(const Args& args,
                                                std::optional<uint64_t> noise_seed);

}  // namespace fedsilo

#pragma once
// defense_args (docs/algorithms.md, "Defenses"): a robust rule (Krum, Multi-Krum, coordinate-wise
// median or trimmed mean, geometric median) replaces whichever rule combines the round, and
// norm_diff_clipping bounds each update before it. The defense names and their keys' checks
// live here and nowhere else.
#include <memory>
#include <vector>

#include "fedsilo/aggregation_rule.h"

namespace fedsilo {

// Wraps `rule` in what defense_args asks for (nothing when enable_defense is false).
void apply_defense(const Args& args, std::unique_ptr<CombineRule>& rule,
                   std::vector<std::unique_ptr<AggregationStage>>& stages);

// Clips the floating-point part of x - global into the ball of radius `bound` (L2, or L1 with
// `l1`), the result rounded to the model's dtypes; true when it clipped.
bool clip_to_ball(std::vector<double>& x, const FlatModel& model, double bound, bool l1);

}  // namespace fedsilo

#pragma once
// DDP semantics for a silo's trainers: after each backward pass every gradient is summed over
// the silo and divided by the silo's sample count of that step, so all replicas take the same
// step and stay identical. Gradients travel flattened into buckets of at most bucket_bytes (one
// all-reduce per bucket, not per tensor); the step's sample count rides in the last bucket
// (exact in float32 up to 2^24 samples per step). Every rank gets the same sums from Gloo, so
// the replicas stay bit-identical.

#include <cstdint>

#include "fedsilo/trainer.h"
#include "silo/process_group.h"

namespace fedsilo::silo {

class DdpGradientSync : public GradientSync {
 public:
  explicit DdpGradientSync(SiloGroup& group, int64_t bucket_bytes = 25 << 20);
  int64_t sync(torch::nn::Module& module, int64_t local_samples) override;
  int64_t rank() const override { return group_.rank(); }
  int64_t world_size() const override { return group_.world_size(); }

  // Time spent in all-reduce, for the benchmark.
  double allreduce_seconds() const { return allreduce_s_; }
  int64_t steps() const { return steps_; }

 private:
  SiloGroup& group_;
  int64_t bucket_bytes_;
  double allreduce_s_ = 0;
  int64_t steps_ = 0;
};

}  // namespace fedsilo::silo

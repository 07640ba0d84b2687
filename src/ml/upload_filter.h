#pragma once
// What a silo does to its trained model before it leaves (FLARE's filters, applied in order):
// the attack simulation (attack_args byzantine), then local DP (dp_args ldp); update
// compression belongs here too. Secure aggregation's masking comes after all of them, once the
// server has delivered the round's key shares (cross_silo/secure_round.h).
#include <cstdint>
#include <memory>
#include <vector>

#include "fedsilo/args.h"
#include "fedsilo/state_dict.h"

namespace fedsilo {

class UploadFilter {
 public:
  virtual ~UploadFilter() = default;
  // `trained` holds the model's own tensors (writes change the model); `global` is the model
  // the round started from.
  virtual void apply(int64_t round, const StateDict& global, StateDict& trained) = 0;
};

// The filters the config asks of silo `silo`, in order; empty when none (the silo then keeps
// no copy of the round's global model). Throws ConfigError for a local DP budget no model
// survives, so the silo stops before round 0.
std::vector<std::unique_ptr<UploadFilter>> make_upload_filters(const Args& args, int64_t silo);

}  // namespace fedsilo

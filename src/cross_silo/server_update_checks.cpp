// What the server checks in a silo's update besides the blob itself: the claims a silo makes
// about its round (sample count, local steps) stay within what its data allows, so a silo cannot
// buy itself weight in the aggregate. Also the DP accounting of secure rounds, whose updates the
// server never sees.
#include "core/log.h"
#include "cross_silo/server_manager.h"
#include "fedsilo/error.h"
#include "ml/dp_mechanism.h"

namespace fedsilo::cross_silo {
using comm::Message;

int64_t ServerManager::checked_local_steps(const Message& m) const {
  auto it = m.metrics.find("local_steps");
  if (it == m.metrics.end() || !it->is_number_integer()) {
    if (args_.federated_optimizer == "FedNova")
      throw ProtocolError("FedNova needs the silo's local_steps, and the update has none");
    return 0;
  }
  int64_t steps = it->get<int64_t>();
  // One step per batch of the silo's samples per epoch; more is impossible, and would let a
  // silo shrink its FedNova update at will.
  int64_t most = args_.epochs * ((m.num_samples + args_.batch_size - 1) / args_.batch_size);
  if (steps < 0 || steps > most) {
    throw ProtocolError(
        fmt::format("local_steps {} is outside [0, {}] (epochs x batches of its {} samples)", steps,
                    most, m.num_samples));
  }
  if (args_.federated_optimizer == "FedNova" && steps == 0 && m.num_samples > 0)
    throw ProtocolError("FedNova: the silo reports samples but no local steps");
  return steps;
}

void ServerManager::check_sample_count(int64_t silo, int64_t num_samples) const {
  if (num_samples < 0) throw ProtocolError(fmt::format("num_samples {} is negative", num_samples));
  if (args_.max_samples_per_silo > 0 && num_samples > args_.max_samples_per_silo) {
    throw ProtocolError(fmt::format("num_samples {} exceeds train_args.max_samples_per_silo ({})",
                                    num_samples, args_.max_samples_per_silo));
  }
  auto it = data_silo_sizes_.find(data_index_.at(silo));
  if (it != data_silo_sizes_.end() && num_samples > it->second) {
    throw ProtocolError(fmt::format("num_samples {} exceeds the {} samples of data silo {}",
                                    num_samples, it->second, it->first));
  }
}

std::map<std::string, double> ServerManager::secure_dp_metrics() const {
  // Secure aggregation bypasses the aggregator, so its accountant: each completed round is one
  // release of every silo's locally noised update (only ldp runs with secure aggregation).
  if (!args_.enable_dp) return {};
  auto c = dp::calibrate(args_);
  std::map<std::string, double> m = {{"dp_noise_scale", c.scale}};
  if (args_.enable_rdp_accountant) {
    m["dp_epsilon"] = dp::rdp_epsilon(c, round_ + 1, c.delta, args_.rdp_alpha);
    m["dp_delta"] = c.delta;
  }
  return m;
}

}  // namespace fedsilo::cross_silo

// A silo's update arriving at the server, and what the server checks in it: the blob (derived
// key, size, sha256, layout, finite values), then the claims a silo makes about its round
// (sample count, local steps), which stay within what its data allows, so a silo cannot buy
// itself weight in the aggregate. Also the DP accounting of secure rounds, whose updates the
// server never sees.
#include "core/log.h"
#include "cross_silo/blob_keys.h"
#include "cross_silo/model_exchange.h"
#include "cross_silo/server_manager.h"
#include "fedsilo/aggregator.h"
#include "fedsilo/error.h"
#include "ml/dp_mechanism.h"
#include "ml/model_blob.h"

namespace fedsilo::cross_silo {
using comm::Message;

void ServerManager::on_model(const Message& m) {
  if (state_ != State::kTraining || m.round != round_) {
    FS_LOG_WARN(log_, "dropping SEND_MODEL {} from silo {} for round {}: the server is {}", m.id,
                m.sender, m.round,
                state_ == State::kTraining ? fmt::format("in round {}", round_) : "not training");
    return;
  }
  if (!pending_.count(m.sender)) {
    FS_LOG_WARN(log_, "dropping SEND_MODEL {} from silo {} for round {}: {}", m.id, m.sender,
                m.round,
                data_index_.count(m.sender) ? "already received (duplicate)"
                                            : "the silo was not selected this round");
    return;
  }
  // The key is derived, never taken from the message: a forged key could name any object.
  auto key = silo_blob_key(args_.run_id, m.sender, m.round);
  if (m.model.key != key) {
    FS_LOG_WARN(log_,
                "dropping SEND_MODEL {} from silo {}: it names blob {}, silo {}'s blob for "
                "round {} is {}",
                m.id, m.sender, m.model.key, m.sender, m.round, key);
    return;
  }
  std::string what = fmt::format("model from silo {} for round {}", m.sender, m.round);
  auto t0 = clock_.now();
  StateDict model;
  std::string nonfinite;
  try {
    if (spool_) {
      nonfinite = spool_->receive(store_, m.model, m.sender, what);
    } else {
      model = get_model(store_, m.model, layout_, what);
    }
  } catch (const OutputError&) {
    throw;  // this server's disk: fatal, the silos are told (run_server)
  } catch (const Error& e) {
    FS_LOG_ERROR(log_, "rejecting SEND_MODEL {}: {}; still waiting for a valid model from silo {}",
                 m.id, e.what(), m.sender);
    return;
  }
  double download_ms = ms_since(t0);
  // The blob is the one silo k announced (size and sha256 match): a bad update is silo k's, so
  // the round goes on without it rather than waiting for a better one.
  UpdateInfo info{m.sender, 0, data_index_[m.sender]};
  try {
    if (!nonfinite.empty())
      throw ProtocolError(what + ": tensor " + nonfinite + " has NaN or infinite values");
    if (!spool_) check_finite(model, what);
    check_sample_count(m.sender, m.num_samples);
    info.local_steps = checked_local_steps(m);
  } catch (const ProtocolError& e) {
    if (spool_) spool_->discard(m.sender);
    reject_update(m, e.what());
    return;
  }
  double notify_ms = m.sent_at_us ? (comm::now_us() - m.sent_at_us) / 1000.0 - download_ms : 0.0;
  t0 = clock_.now();
  if (spool_) {
    spool_->accept(m.sender, static_cast<double>(m.num_samples));
  } else {
    aggregator_->accumulate_update(model, static_cast<double>(m.num_samples), info);
  }
  double fold_ms = ms_since(t0);
  blobs_[round_].push_back(m.model.key);
  // The server is the blob's only reader.
  if (args_.blob_retention_rounds == 0) store_.remove(m.model.key);
  pending_.erase(m.sender);
  stats_.silos.push_back({m.sender, data_index_[m.sender], m.num_samples, download_ms, notify_ms,
                          fold_ms, checked_silo_figures(m.metrics), ""});
  round_bytes_down_ += m.model.size;
  monitoring_->silo_reported(round_, stats_.silos.back(), global_ref_.size + m.model.size);
  FS_LOG_INFO(log_, "round {}: model from silo {} ({} samples), {} of {} in", round_, m.sender,
              m.num_samples, selected_.size() - pending_.size(), selected_.size());
  maybe_close_round();
}

bool ServerManager::counts_steps() const {
  return registry::needs_of(args_.federated_optimizer).local_steps;
}

int64_t ServerManager::checked_local_steps(const Message& m) const {
  auto it = m.metrics.find("local_steps");
  if (it == m.metrics.end() || !it->is_number_integer()) {
    if (counts_steps())
      throw ProtocolError(args_.federated_optimizer +
                          " needs the silo's local_steps, and the update has none");
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
  if (counts_steps() && steps == 0 && m.num_samples > 0)
    throw ProtocolError(args_.federated_optimizer +
                        ": the silo reports samples but no local steps");
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

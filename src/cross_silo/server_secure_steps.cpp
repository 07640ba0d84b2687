// ServerManager's secure-aggregation steps (args.enable_sa; docs/protocol.md, "Secure
// aggregation"): the SA_* messages and masked uploads, kept apart from the plain round.
#include "core/log.h"
#include "cross_silo/blob_keys.h"
#include "cross_silo/model_exchange.h"
#include "cross_silo/server_manager.h"
#include "fedsilo/error.h"

namespace fedsilo::cross_silo {
using comm::Message;
using comm::MsgType;

void ServerManager::send_secure_request(int64_t silo) {
  using Phase = ServerSecureRound::Phase;
  switch (secure_->phase()) {
    case Phase::kAdverts:
      send_round_request(silo);  // the round request is what asks for the keys
      return;
    case Phase::kShares: {
      auto m = make(MsgType::kSaRoster, silo);
      m.sa = secure_->roster();
      transport_.send(m);
      return;
    }
    case Phase::kUploads: {
      auto m = make(MsgType::kSaDeliver, silo);
      m.sa = secure_->deliver_for(silo);
      transport_.send(m);
      return;
    }
    case Phase::kReveal: {
      auto m = make(MsgType::kSaUnmask, silo);
      m.sa = secure_->unmask_request();
      transport_.send(m);
      return;
    }
    default:
      return;
  }
}

void ServerManager::after_secure_step(bool phase_done) {
  if (!phase_done) return;
  using Phase = ServerSecureRound::Phase;
  if (secure_->phase() == Phase::kUnmasked || secure_->phase() == Phase::kFailed) {
    pending_.clear();
    finish_round();
    return;
  }
  FS_LOG_INFO(log_, "round {}: secure aggregation asks silos [{}] for their {}", round_,
              fmt::join(secure_->pending(), ", "), secure_->phase_name());
  for (int64_t silo : secure_->pending()) send_secure_request(silo);
  deadline_ = clock_.now() + seconds_to_duration(args_.round_timeout_s);
}

bool ServerManager::drop_offline_secure_silo(int64_t silo) {
  if (state_ != State::kTraining || !secure_->pending().count(silo)) return false;
  // Secure aggregation recovers a silo that leaves mid-round from the others' key shares
  // (docs/protocol.md); the round goes on without waiting for it.
  FS_LOG_WARN(log_,
              "round {}: silo {} went OFFLINE while the round waited for its {}; going on "
              "without it",
              round_, silo, secure_->phase_name());
  pending_.erase(silo);
  after_secure_step(secure_->drop(silo));
  return true;
}

void ServerManager::on_secure(const Message& m) {
  if (!secure_ || state_ != State::kTraining || m.round != round_ ||
      !secure_->pending().count(m.sender)) {
    FS_LOG_INFO(log_, "dropping {} {} from silo {} for round {}: not expected now",
                to_string(m.type), m.id, m.sender, m.round);
    return;
  }
  bool done = false;
  try {
    if (m.type == MsgType::kSaAdvertise) done = secure_->on_advert(m.sender, m.sa);
    if (m.type == MsgType::kSaShares) done = secure_->on_shares(m.sender, m.sa);
    if (m.type == MsgType::kSaReveal) done = secure_->on_reveal(m.sender, m.sa);
  } catch (const ProtocolError& e) {
    FS_LOG_ERROR(log_, "round {}: silo {}'s {} is malformed ({}); the round goes on without it",
                 round_, m.sender, to_string(m.type), e.what());
    pending_.erase(m.sender);
    done = secure_->drop(m.sender);
  }
  after_secure_step(done);
}

void ServerManager::on_masked_model(const Message& m) {
  if (state_ != State::kTraining || m.round != round_ ||
      secure_->phase() != ServerSecureRound::Phase::kUploads ||
      !secure_->pending().count(m.sender)) {
    FS_LOG_INFO(log_, "dropping SEND_MODEL {} from silo {} for round {}: not expected now", m.id,
                m.sender, m.round);
    return;
  }
  auto key = silo_blob_key(args_.run_id, m.sender, m.round);
  if (m.model.key != key) {
    FS_LOG_WARN(log_, "dropping SEND_MODEL {} from silo {}: it names blob {}, expected {}", m.id,
                m.sender, m.model.key, key);
    return;
  }
  std::string what = fmt::format("masked model from silo {} for round {}", m.sender, m.round);
  auto t0 = clock_.now();
  bool done = false;
  try {
    check_sample_count(m.sender, m.num_samples);
    auto masked = get_model(store_, m.model, masked_layout(layout_), what);
    blobs_[round_].push_back(m.model.key);
    done = secure_->on_upload(m.sender, masked, static_cast<double>(m.num_samples));
  } catch (const Error& e) {
    FS_LOG_ERROR(log_,
                 "round {}: rejecting silo {}'s masked update ({}); the round goes on "
                 "without it",
                 round_, m.sender, e.what());
    done = secure_->drop(m.sender);
  }
  pending_.erase(m.sender);
  stats_.silos.push_back(
      {m.sender, data_index_[m.sender], m.num_samples, ms_since(t0), 0.0, 0.0, m.metrics, ""});
  after_secure_step(done);
}

}  // namespace fedsilo::cross_silo

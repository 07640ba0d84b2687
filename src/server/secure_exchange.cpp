#include "server/secure_exchange.h"

#include "core/log.h"
#include "fedsilo/error.h"
#include "ml/dp_mechanism.h"
#include "protocol/blob_keys.h"
#include "protocol/model_exchange.h"

namespace fedsilo::cross_silo {
using comm::Message;
using comm::MsgType;
using Phase = ServerSecureRound::Phase;

SecureExchange::SecureExchange(const RoundContext& ctx) : ctx_(ctx), args_(ctx.args) {
  secure_params(args_);  // a bad prime stops the run before it starts
}

std::vector<int64_t> SecureExchange::participants(const std::vector<int64_t>& selected,
                                                  RoundStats& stats) const {
  std::vector<int64_t> online;
  for (int64_t silo : selected) {
    if (ctx_.online.count(silo)) {
      online.push_back(silo);
    } else {
      stats.dropped[silo] = "offline when the round started";
    }
  }
  return online;
}

void SecureExchange::begin(const RoundPlan& plan) {
  plan_ = plan;
  state_ = State::kOpen;
  failure_.clear();
  retries_ = 0;
  round_ = std::make_unique<ServerSecureRound>(args_, plan.round, plan.silos, ctx_.layout);
  awaiting_ = std::set<int64_t>(plan.silos.begin(), plan.silos.end());
  deadline_ = ctx_.clock.now() + seconds_to_duration(args_.round_timeout_s);
}

const std::set<int64_t>& SecureExchange::pending() const {
  static const std::set<int64_t> kNone;
  return round_ ? round_->pending() : kNone;
}

std::string SecureExchange::waiting_for() const {
  return fmt::format("silos [{}] to send their {} for round {}", fmt::join(round_->pending(), ", "),
                     round_->phase_name(), plan_.round);
}

void SecureExchange::send_request(int64_t silo) {
  switch (round_->phase()) {
    case Phase::kAdverts:
      ctx_.request(silo);  // the round request is what asks for the keys
      return;
    case Phase::kShares:
      ctx_.send(MsgType::kSaRoster, silo, round_->roster());
      return;
    case Phase::kUploads:
      ctx_.send(MsgType::kSaDeliver, silo, round_->deliver_for(silo));
      return;
    case Phase::kReveal:
      ctx_.send(MsgType::kSaUnmask, silo, round_->unmask_request());
      return;
    default:
      return;
  }
}

void SecureExchange::after_step(bool phase_done) {
  if (!phase_done) return;
  if (round_->phase() == Phase::kUnmasked || round_->phase() == Phase::kFailed) {
    awaiting_.clear();
    state_ = State::kComplete;
    return;
  }
  FS_LOG_INFO(ctx_.log, "round {}: secure aggregation asks silos [{}] for their {}", plan_.round,
              fmt::join(round_->pending(), ", "), round_->phase_name());
  for (int64_t silo : round_->pending()) send_request(silo);
  deadline_ = ctx_.clock.now() + seconds_to_duration(args_.round_timeout_s);
}

void SecureExchange::on_offline(int64_t silo) {
  if (state_ != State::kOpen || !round_->pending().count(silo)) {
    log_offline(*ctx_.log, silo, awaiting_.count(silo) > 0, plan_.round);
    return;
  }
  // Secure aggregation recovers a silo that leaves mid-round from the others' key shares; the
  // round goes on without waiting for it.
  FS_LOG_WARN(ctx_.log,
              "round {}: silo {} went OFFLINE while the round waited for its {}; going on "
              "without it",
              plan_.round, silo, round_->phase_name());
  awaiting_.erase(silo);
  after_step(round_->drop(silo));
}

void SecureExchange::on_message(const Message& m) {
  if (m.type == MsgType::kSendModel) return on_masked_model(m);
  on_phase_message(m);
}

void SecureExchange::on_phase_message(const Message& m) {
  if (state_ != State::kOpen || m.round != plan_.round || !round_->pending().count(m.sender)) {
    FS_LOG_INFO(ctx_.log, "dropping {} {} from silo {} for round {}: not expected now",
                to_string(m.type), m.id, m.sender, m.round);
    return;
  }
  bool done = false;
  try {
    if (m.type == MsgType::kSaAdvertise) done = round_->on_advert(m.sender, m.sa);
    if (m.type == MsgType::kSaShares) done = round_->on_shares(m.sender, m.sa);
    if (m.type == MsgType::kSaReveal) done = round_->on_reveal(m.sender, m.sa);
  } catch (const ProtocolError& e) {
    FS_LOG_ERROR(ctx_.log, "round {}: silo {}'s {} is malformed ({}); the round goes on without it",
                 plan_.round, m.sender, to_string(m.type), e.what());
    awaiting_.erase(m.sender);
    done = round_->drop(m.sender);
  }
  after_step(done);
}

void SecureExchange::on_masked_model(const Message& m) {
  if (state_ != State::kOpen || m.round != plan_.round || round_->phase() != Phase::kUploads ||
      !round_->pending().count(m.sender)) {
    FS_LOG_INFO(ctx_.log, "dropping SEND_MODEL {} from silo {} for round {}: not expected now",
                m.id, m.sender, m.round);
    return;
  }
  auto key = silo_blob_key(args_.run_id, m.sender, m.round);
  if (m.model.key != key) {
    FS_LOG_WARN(ctx_.log, "dropping SEND_MODEL {} from silo {}: it names blob {}, expected {}",
                m.id, m.sender, m.model.key, key);
    return;
  }
  std::string what = fmt::format("masked model from silo {} for round {}", m.sender, m.round);
  auto t0 = ctx_.clock.now();
  bool done = false;
  int64_t data_index = plan_.data_index[m.sender];
  try {
    ctx_.check_sample_count(data_index, m.num_samples);
    auto masked = get_model(ctx_.store, m.model, masked_layout(ctx_.layout), what);
    ctx_.keep_blob(m.model.key);
    done = round_->on_upload(m.sender, masked, static_cast<double>(m.num_samples));
  } catch (const Error& e) {
    FS_LOG_ERROR(ctx_.log,
                 "round {}: rejecting silo {}'s masked update ({}); the round goes on "
                 "without it",
                 plan_.round, m.sender, e.what());
    done = round_->drop(m.sender);
  }
  awaiting_.erase(m.sender);
  plan_.stats->silos.push_back({m.sender, data_index, m.num_samples, ctx_.ms_since(t0), 0.0, 0.0,
                                checked_silo_figures(m.metrics), ""});
  after_step(done);
}

void SecureExchange::on_deadline() {
  if (state_ != State::kOpen) return;
  // The participants are fixed: the round can only ask again for the phase it waits on.
  if (retries_ >= args_.round_retries) {
    failure_ = "deadline passed while waiting for " + waiting_for();
    state_ = State::kFailed;
    return;
  }
  plan_.stats->retries = ++retries_;
  FS_LOG_WARN(ctx_.log, "round {}: deadline passed waiting for {}; asking again (retry {} of {})",
              plan_.round, waiting_for(), retries_, args_.round_retries);
  resend(false);
  ctx_.keep_waiting(round_->pending());
  deadline_ = ctx_.clock.now() + seconds_to_duration(args_.round_timeout_s);
}

void SecureExchange::resend(bool) {
  if (state_ != State::kOpen) return;
  FS_LOG_INFO(ctx_.log, "round {}: asking silos [{}] again for {}", plan_.round,
              fmt::join(round_->pending(), ", "), round_->phase_name());
  for (int64_t silo : round_->pending()) send_request(silo);
}

RoundExchange::Outcome SecureExchange::outcome() {
  Outcome out;
  if (round_->phase() != Phase::kUnmasked) {
    FS_LOG_ERROR(ctx_.log,
                 "round {}: secure aggregation failed ({}); the global model stays as it was",
                 plan_.round, round_->failure());
  } else if (round_->total_weight() > 0) {
    out.model = round_->result();
    out.metrics = dp_metrics();
  } else {
    log_no_update(*ctx_.log, plan_.round);
  }
  return out;
}

std::map<std::string, double> SecureExchange::dp_metrics() const {
  // Each completed round is one release of every silo's locally noised update (only ldp runs
  // with secure aggregation).
  if (!args_.enable_dp) return {};
  auto c = dp::calibrate(args_);
  std::map<std::string, double> m = {{"dp_noise_scale", c.scale}};
  if (args_.enable_rdp_accountant) {
    m["dp_epsilon"] = dp::rdp_epsilon(c, plan_.round + 1, c.delta, args_.rdp_alpha);
    m["dp_delta"] = c.delta;
  }
  return m;
}

}  // namespace fedsilo::cross_silo

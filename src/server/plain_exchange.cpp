#include "server/plain_exchange.h"

#include "core/log.h"
#include "fedsilo/error.h"
#include "protocol/blob_keys.h"

namespace fedsilo::cross_silo {
using comm::Message;
using comm::MsgType;

PlainExchange::PlainExchange(const RoundContext& ctx, RoundStrategy& strategy)
    : ctx_(ctx), args_(ctx.args), strategy_(strategy) {}

void PlainExchange::begin(const RoundPlan& plan) {
  plan_ = plan;
  state_ = State::kOpen;
  failure_.clear();
  retries_ = 0;
  bytes_in_ = 0;
  pending_ = std::set<int64_t>(plan.silos.begin(), plan.silos.end());
}

std::string PlainExchange::waiting_for() const {
  return fmt::format("silos [{}] to send their models for round {}", fmt::join(pending_, ", "),
                     plan_.round);
}

void PlainExchange::on_message(const Message& m) {
  if (m.type == MsgType::kSendModel) return on_model(m);
  FS_LOG_WARN(ctx_.log, "dropping {} {} from silo {}: not part of a plain round", to_string(m.type),
              m.id, m.sender);
}

void PlainExchange::on_model(const Message& m) {
  auto& log = ctx_.log;
  if (m.round != plan_.round || state_ != State::kOpen) {
    FS_LOG_WARN(log, "dropping SEND_MODEL {} from silo {} for round {}: the server is in round {}",
                m.id, m.sender, m.round, plan_.round);
    return;
  }
  if (!pending_.count(m.sender)) {
    FS_LOG_WARN(log, "dropping SEND_MODEL {} from silo {} for round {}: {}", m.id, m.sender,
                m.round,
                plan_.data_index.count(m.sender) ? "already received (duplicate)"
                                                 : "the silo was not selected this round");
    return;
  }
  // The key is derived, never taken from the message: a forged key could name any object.
  auto key = silo_blob_key(args_.run_id, m.sender, m.round);
  if (m.model.key != key) {
    FS_LOG_WARN(log,
                "dropping SEND_MODEL {} from silo {}: it names blob {}, silo {}'s blob for "
                "round {} is {}",
                m.id, m.sender, m.model.key, m.sender, m.round, key);
    return;
  }
  std::string what = fmt::format("model from silo {} for round {}", m.sender, m.round);
  auto t0 = ctx_.clock.now();
  std::string bad_values;
  try {
    bad_values = strategy_.receive(ctx_.store, m.model, m.sender, what);
  } catch (const OutputError&) {
    throw;  // this server's disk: fatal, the silos are told (run_server)
  } catch (const Error& e) {
    FS_LOG_ERROR(log, "rejecting SEND_MODEL {}: {}; still waiting for a valid model from silo {}",
                 m.id, e.what(), m.sender);
    return;
  }
  double download_ms = ctx_.ms_since(t0);
  // The blob is the one silo k announced (size and sha256 match): a bad update is silo k's, so
  // the round goes on without it rather than waiting for a better one.
  UpdateInfo info{m.sender, 0, plan_.data_index[m.sender]};
  try {
    if (!bad_values.empty()) throw ProtocolError(bad_values);
    ctx_.check_sample_count(info.data_silo_index, m.num_samples);
    info.local_steps = checked_local_steps(m);
  } catch (const ProtocolError& e) {
    strategy_.discard(m.sender);
    reject(m, e.what());
    return;
  }
  double notify_ms = m.sent_at_us ? (comm::now_us() - m.sent_at_us) / 1000.0 - download_ms : 0.0;
  t0 = ctx_.clock.now();
  strategy_.accept(m.sender, static_cast<double>(m.num_samples), info);
  double fold_ms = ctx_.ms_since(t0);
  ctx_.keep_blob(m.model.key);
  // The server is the blob's only reader.
  if (args_.blob_retention_rounds == 0) ctx_.store.remove(m.model.key);
  pending_.erase(m.sender);
  auto& stats = *plan_.stats;
  stats.silos.push_back({m.sender, info.data_silo_index, m.num_samples, download_ms, notify_ms,
                         fold_ms, checked_silo_figures(m.metrics), ""});
  bytes_in_ += m.model.size;
  ctx_.events.silo_reported(plan_.round, stats.silos.back(), plan_.global_bytes + m.model.size);
  FS_LOG_INFO(log, "round {}: model from silo {} ({} samples), {} of {} in", plan_.round, m.sender,
              m.num_samples, plan_.silos.size() - pending_.size(), plan_.silos.size());
  maybe_close();
}

int64_t PlainExchange::checked_local_steps(const Message& m) const {
  bool counts_steps = registry::needs_of(args_.federated_optimizer).local_steps;
  auto it = m.metrics.find("local_steps");
  if (it == m.metrics.end() || !it->is_number_integer()) {
    if (counts_steps)
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
  if (counts_steps && steps == 0 && m.num_samples > 0)
    throw ProtocolError(args_.federated_optimizer +
                        ": the silo reports samples but no local steps");
  return steps;
}

void PlainExchange::reject(const Message& m, const std::string& why) {
  FS_LOG_ERROR(ctx_.log, "round {}: rejecting silo {}'s update ({}); the round goes on without it",
               plan_.round, m.sender, why);
  ctx_.keep_blob(m.model.key);
  pending_.erase(m.sender);
  SiloRoundStats s;
  s.silo = m.sender;
  s.data_silo_index = plan_.data_index[m.sender];
  s.num_samples = m.num_samples;
  s.rejected = why;
  plan_.stats->silos.push_back(std::move(s));
  ctx_.events.silo_reported(plan_.round, plan_.stats->silos.back(), 0);
  maybe_close();
}

void PlainExchange::on_offline(int64_t silo) {
  log_offline(*ctx_.log, silo, pending_.count(silo) > 0, plan_.round);
  maybe_close();
}

int64_t PlainExchange::models_in() const {
  int64_t n = 0;
  for (const auto& s : plan_.stats->silos) n += s.rejected.empty() ? 1 : 0;
  return n;
}

void PlainExchange::complete() {
  pending_.clear();
  state_ = State::kComplete;
}

void PlainExchange::maybe_close() {
  if (state_ != State::kOpen) return;
  refresh_deadline();  // the silos still awaited set it
  bool all_offline = std::all_of(pending_.begin(), pending_.end(),
                                 [&](int64_t silo) { return !ctx_.online.count(silo); });
  if (!pending_.empty() && !(all_offline && models_in() >= args_.min_clients_per_round)) return;
  if (!pending_.empty()) {
    FS_LOG_WARN(ctx_.log, "round {}: closing with {} models (quorum {}); silos [{}] are offline",
                plan_.round, models_in(), args_.min_clients_per_round, fmt::join(pending_, ", "));
  }
  for (int64_t silo : pending_) plan_.stats->dropped[silo] = "offline";
  complete();
}

void PlainExchange::on_deadline() {
  if (state_ != State::kOpen) return;
  if (mark_stalled_silos()) return;  // others still progress: the round goes on
  close_at_deadline();
}

void PlainExchange::close_at_deadline() {
  std::vector<int64_t> missing(pending_.begin(), pending_.end());
  int64_t in = models_in();
  if (in >= args_.min_clients_per_round) {
    FS_LOG_WARN(ctx_.log,
                "round {}: deadline passed; closing with {} models (quorum {}), without silos "
                "[{}]; their models for round {} are dropped if they still come",
                plan_.round, in, args_.min_clients_per_round, fmt::join(missing, ", "),
                plan_.round);
    const char* late =
        ctx_.clock.now() >= round_cap_ ? "no model within round_max_s" : "no model by the deadline";
    for (int64_t silo : pending_)
      plan_.stats->dropped[silo] = ctx_.online.count(silo) ? late : "offline";
    complete();
    return;
  }
  if (retries_ >= args_.round_retries) {
    failure_ = fmt::format(
        "deadline passed while waiting for {}: {} models in, the quorum is {}, and the round was "
        "asked again {} times (comm_args.round_retries)",
        waiting_for(), in, args_.min_clients_per_round, retries_);
    state_ = State::kFailed;
    return;
  }
  plan_.stats->retries = ++retries_;
  FS_LOG_WARN(ctx_.log,
              "round {}: deadline passed with {} of the quorum of {} models; missing silos [{}]; "
              "asking them again (retry {} of {})",
              plan_.round, in, args_.min_clients_per_round, fmt::join(missing, ", "), retries_,
              args_.round_retries);
  resend(false);
  ctx_.keep_waiting(pending_);
  restart_round_clock();
}

void PlainExchange::resend(bool only_quiet) {
  if (state_ != State::kOpen) return;
  auto quiet_since = ctx_.clock.now() - seconds_to_duration(args_.resend_interval_s);
  std::vector<int64_t> ask;
  for (int64_t silo : pending_) {
    if (!ctx_.online.count(silo)) {
      // Taken for offline (its will), it may be alive and its ONLINE lost (sent while the
      // broker had no subscriber): ask whether it is there; its answer gets it the request.
      ctx_.ask_status(silo);
      continue;
    }
    if (only_quiet && progress_[silo].heard > quiet_since) continue;  // it has its request
    ask.push_back(silo);
  }
  if (ask.empty()) return;
  FS_LOG_INFO(ctx_.log, "round {}: asking silos [{}] again", plan_.round, fmt::join(ask, ", "));
  for (int64_t silo : ask) ctx_.request(silo);
}

RoundExchange::Outcome PlainExchange::outcome() {
  Outcome out;
  out.bytes_in = bytes_in_;
  if (strategy_.total_weight() > 0) {
    out.model = strategy_.aggregate();
    out.metrics = strategy_.round_metrics();
  } else {
    log_no_update(*ctx_.log, plan_.round);
  }
  return out;
}

// Liveness by progress: how long a round waits for a silo depends on whether the silo is still
// doing something (moving bytes, using CPU), not on the clock alone.

// A model is not progress: a valid one ends the silo's wait, and one the checks refuse must
// not keep the round open (a silo answering every re-ask with a bad model would hold it for
// ever). Progress is work: the silo's phases and heartbeats whose figures go up.
void PlainExchange::heard(const Message& m) {
  if (state_ != State::kOpen || m.round != plan_.round || !pending_.count(m.sender) ||
      m.type == MsgType::kSendModel)
    return;
  auto& p = progress_[m.sender];
  p.heard = ctx_.clock.now();
  if (m.type == MsgType::kClientStatus && m.status == comm::Status::kAlive) {
    // Heartbeats are signed, so only the silo itself can send them; a silo that reports ever
    // growing figures without working keeps the round open until comm_args.round_max_s.
    auto number = [&](const char* k) {
      auto it = m.metrics.find(k);
      return it != m.metrics.end() && it->is_number() ? it->get<double>() : -1.0;
    };
    auto bytes = static_cast<int64_t>(number("bytes_moved"));
    double cpu = number("cpu_s");
    bool advanced = bytes > p.bytes || cpu > p.cpu_s + 0.01;
    p.bytes = std::max(p.bytes, bytes);
    p.cpu_s = std::max(p.cpu_s, cpu);
    if (!advanced) return;  // alive, but stuck
  }
  p.at = ctx_.clock.now();
  // Silos that have answered wait 2 x round_timeout_s for the server's next word; a round that
  // others keep busy can last longer, so they hear that it goes on.
  if (p.at - kept_waiting_at_ >= seconds_to_duration(args_.round_timeout_s)) {
    ctx_.keep_waiting(pending_);
    kept_waiting_at_ = p.at;
  }
  if (stalled_.erase(m.sender))
    FS_LOG_INFO(ctx_.log, "round {}: silo {} makes progress again", plan_.round, m.sender);
  refresh_deadline();
}

void PlainExchange::restart_round_clock() {
  auto now = ctx_.clock.now();
  for (int64_t silo : pending_) progress_[silo].at = progress_[silo].heard = now;
  stalled_.clear();
  kept_waiting_at_ = now;
  round_cap_ = now + seconds_to_duration(round_cap_s());
  deadline_ = std::min(now + seconds_to_duration(args_.round_timeout_s), round_cap_);
}

// comm_args.round_max_s, or by default 10 x round_timeout_s: every round attempt is bounded,
// whatever a silo's heartbeats claim.
double PlainExchange::round_cap_s() const {
  return args_.round_max_s > 0 ? args_.round_max_s : 10 * args_.round_timeout_s;
}

void PlainExchange::refresh_deadline() {
  bool any = false;
  Clock::time_point earliest = Clock::time_point::max();
  for (int64_t silo : pending_) {
    if (stalled_.count(silo)) continue;
    any = true;
    earliest = std::min(earliest, progress_[silo].at);
  }
  deadline_ = any ? std::min(earliest + seconds_to_duration(args_.round_timeout_s), round_cap_)
                  : ctx_.clock.now();
}

bool PlainExchange::mark_stalled_silos() {
  auto now = ctx_.clock.now();
  auto timeout = seconds_to_duration(args_.round_timeout_s);
  if (now >= round_cap_) {
    // Progress or not, the attempt is over: every silo still awaited counts as stalled, and the
    // deadline rules (quorum, retries) decide what comes next.
    for (int64_t silo : pending_) {
      if (!stalled_.insert(silo).second) continue;
      FS_LOG_WARN(ctx_.log, "round {}: silo {} has not sent its model within {} s (round_max_s)",
                  plan_.round, silo, round_cap_s());
    }
    return false;
  }
  bool others = false;
  for (int64_t silo : pending_) {
    if (stalled_.count(silo)) continue;
    if (progress_[silo].at + timeout <= now) {
      stalled_.insert(silo);
      FS_LOG_WARN(ctx_.log, "round {}: silo {} has shown no progress for {} s (round_timeout_s)",
                  plan_.round, silo, args_.round_timeout_s);
    } else {
      others = true;
    }
  }
  if (others) refresh_deadline();
  return others;
}

}  // namespace fedsilo::cross_silo

// Liveness by progress: how long a round waits for a silo depends on whether the silo is still
// doing something (moving bytes, using CPU), not on the clock alone; see server_manager.h.
#include "core/log.h"
#include "cross_silo/server_manager.h"

namespace fedsilo::cross_silo {

// A model is not progress: a valid one ends the silo's wait, and one the checks refuse must
// not keep the round open (a silo answering every re-ask with a bad model would hold it for
// ever). Progress is work: the silo's phases and heartbeats whose figures go up.
void ServerManager::note_progress(const comm::Message& m) {
  if (state_ != State::kTraining || secure_ || m.round != round_ || !pending_.count(m.sender) ||
      m.type == comm::MsgType::kSendModel)
    return;
  auto& p = progress_[m.sender];
  p.heard = clock_.now();
  if (m.type == comm::MsgType::kClientStatus && m.status == comm::Status::kAlive) {
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
  p.at = clock_.now();
  // Silos that have answered wait 2 x round_timeout_s for the server's next word; a round that
  // others keep busy can last longer, so they hear that it goes on.
  if (p.at - kept_waiting_at_ >= seconds_to_duration(args_.round_timeout_s)) {
    keep_answered_silos_waiting();
    kept_waiting_at_ = p.at;
  }
  if (stalled_.erase(m.sender))
    FS_LOG_INFO(log_, "round {}: silo {} makes progress again", round_, m.sender);
  refresh_round_deadline();
}

void ServerManager::restart_round_clock() {
  auto now = clock_.now();
  for (int64_t silo : pending_) progress_[silo].at = progress_[silo].heard = now;
  stalled_.clear();
  kept_waiting_at_ = now;
  round_cap_ = now + seconds_to_duration(round_cap_s());
  deadline_ = std::min(now + seconds_to_duration(args_.round_timeout_s), round_cap_);
}

// comm_args.round_max_s, or by default 10 x round_timeout_s: every round attempt is bounded,
// whatever a silo's heartbeats claim.
double ServerManager::round_cap_s() const {
  return args_.round_max_s > 0 ? args_.round_max_s : 10 * args_.round_timeout_s;
}

void ServerManager::refresh_round_deadline() {
  if (secure_) return;  // a secure round's phases keep their own deadline
  bool any = false;
  Clock::time_point earliest = Clock::time_point::max();
  for (int64_t silo : pending_) {
    if (stalled_.count(silo)) continue;
    any = true;
    earliest = std::min(earliest, progress_[silo].at);
  }
  deadline_ = any ? std::min(earliest + seconds_to_duration(args_.round_timeout_s), round_cap_)
                  : clock_.now();
}

bool ServerManager::mark_stalled_silos() {
  auto now = clock_.now();
  auto timeout = seconds_to_duration(args_.round_timeout_s);
  if (now >= round_cap_) {
    // Progress or not, the attempt is over: every silo still awaited counts as stalled, and the
    // deadline rules (quorum, retries) decide what comes next.
    for (int64_t silo : pending_) {
      if (!stalled_.insert(silo).second) continue;
      FS_LOG_WARN(log_, "round {}: silo {} has not sent its model within {} s (round_max_s)",
                  round_, silo, round_cap_s());
    }
    return false;
  }
  bool others = false;
  for (int64_t silo : pending_) {
    if (stalled_.count(silo)) continue;
    if (progress_[silo].at + timeout <= now) {
      stalled_.insert(silo);
      FS_LOG_WARN(log_, "round {}: silo {} has shown no progress for {} s (round_timeout_s)",
                  round_, silo, args_.round_timeout_s);
    } else {
      others = true;
    }
  }
  if (others) refresh_round_deadline();
  return others;
}

}  // namespace fedsilo::cross_silo

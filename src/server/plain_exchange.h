#pragma once
// Plain uploads (docs/protocol.md "Rounds", "Quorum"): each selected silo sends SEND_MODEL
// naming its blob; the blob is checked and streamed into the round's strategy. The round closes
// when every selected silo reported, or when those still missing are offline or past their
// deadline and the models in are a quorum; else the missing are asked again, up to
// comm_args.round_retries times.
//
// Liveness by progress: a round waits for each silo until round_timeout_s after the last
// progress it showed (any message, or an ALIVE whose bytes or CPU time advanced); a silo past
// that is stalled, and once every silo still awaited is, the deadline rules apply.
// comm_args.round_max_s caps an attempt, progress or not.
#include "server/round_exchange.h"

namespace fedsilo::cross_silo {

class PlainExchange : public RoundExchange {
 public:
  PlainExchange(const RoundContext& ctx, RoundStrategy& strategy);

  std::vector<int64_t> participants(const std::vector<int64_t>& selected,
                                    RoundStats&) const override {
    return selected;
  }
  void begin(const RoundPlan& plan) override;
  void opened() override { restart_round_clock(), maybe_close(); }
  void on_message(const comm::Message& m) override;
  void heard(const comm::Message& m) override;
  void on_offline(int64_t silo) override;
  void on_deadline() override;
  void resend(bool only_quiet) override;

  State state() const override { return state_; }
  const std::string& failure() const override { return failure_; }
  bool awaits(int64_t silo) const override { return pending_.count(silo) > 0; }
  const std::set<int64_t>& pending() const override { return pending_; }
  std::string waiting_for() const override;
  Clock::time_point deadline() const override { return deadline_; }
  Outcome outcome() override;

 private:
  void on_model(const comm::Message& m);
  void reject(const comm::Message& m, const std::string& why);
  // The update's local_steps, within what its sample count allows (FedNova needs it).
  int64_t checked_local_steps(const comm::Message& m) const;
  int64_t models_in() const;
  void maybe_close();
  void close_at_deadline();
  void complete();
  // Liveness.
  void restart_round_clock();
  void refresh_deadline();
  double round_cap_s() const;
  bool mark_stalled_silos();  // true when others still progress and the round goes on

  RoundContext ctx_;
  const Args& args_;
  RoundStrategy& strategy_;
  RoundPlan plan_;
  State state_ = State::kOpen;
  std::string failure_;
  std::set<int64_t> pending_;  // selected silos whose model has not come (online or not)
  int64_t retries_ = 0;        // this round's retries below quorum
  int64_t bytes_in_ = 0;       // silo blobs read this round
  Clock::time_point deadline_;
  struct SiloProgress {
    Clock::time_point at;     // last progress
    Clock::time_point heard;  // last message of any kind: it has its request
    int64_t bytes = -1;
    double cpu_s = -1;
  };
  std::map<int64_t, SiloProgress> progress_;
  std::set<int64_t> stalled_;
  Clock::time_point round_cap_ = Clock::time_point::max();
  Clock::time_point kept_waiting_at_;  // the answered silos last heard the round goes on
};

}  // namespace fedsilo::cross_silo

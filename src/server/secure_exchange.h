#pragma once
// Secure aggregation's exchange (args.enable_sa; docs/protocol.md "Secure aggregation"): the
// round's participants are fixed when it starts (an offline silo sits it out), then each phase
// (adverts, shares, masked uploads, reveal) asks every silo still in for its part; a silo that
// leaves after sharing its keys is recovered from the others' shares. The server learns only
// the weighted sum. Each phase ends round_timeout_s after it began; one that runs out is asked
// again up to comm_args.round_retries times.
#include <memory>

#include "protocol/secure_round.h"
#include "server/round_exchange.h"

namespace fedsilo::cross_silo {

class SecureExchange : public RoundExchange {
 public:
  explicit SecureExchange(const RoundContext& ctx);

  std::vector<int64_t> participants(const std::vector<int64_t>& selected,
                                    RoundStats& stats) const override;
  void begin(const RoundPlan& plan) override;
  void opened() override {}
  void on_message(const comm::Message& m) override;
  void heard(const comm::Message&) override {}  // each phase keeps its own deadline
  void on_offline(int64_t silo) override;
  void on_deadline() override;
  void resend(bool only_quiet) override;

  State state() const override { return state_; }
  const std::string& failure() const override { return failure_; }
  bool awaits(int64_t silo) const override { return awaiting_.count(silo) > 0; }
  const std::set<int64_t>& pending() const override;
  std::string waiting_for() const override;
  Clock::time_point deadline() const override { return deadline_; }
  Outcome outcome() override;

 private:
  void on_phase_message(const comm::Message& m);
  void on_masked_model(const comm::Message& m);
  void after_step(bool phase_done);
  void send_request(int64_t silo);
  // The round's DP figures: the updates are hidden from the aggregator, so the accountant is
  // here.
  std::map<std::string, double> dp_metrics() const;

  RoundContext ctx_;
  const Args& args_;
  RoundPlan plan_;
  std::unique_ptr<ServerSecureRound> round_;
  State state_ = State::kOpen;
  std::string failure_;
  std::set<int64_t> awaiting_;  // participants that have not uploaded nor dropped out
  int64_t retries_ = 0;
  Clock::time_point deadline_;
};

}  // namespace fedsilo::cross_silo

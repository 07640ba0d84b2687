#pragma once
// How a round's updates reach the server, apart from the protocol engine (ServerManager) that
// selects silos, publishes the global model, checkpoints and ends the run. Two exchanges:
// plain uploads (plain_exchange.h: a quorum may close the round, liveness by progress) and
// secure aggregation's phases (secure_exchange.h: fixed participants, the server learns only
// the sum). The engine asks the exchange what it waits for and feeds it what concerns it; it
// never asks which one runs.
#include <spdlog/logger.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "comm/message.h"
#include "comm/object_store.h"
#include "core/clock.h"
#include "fedsilo/args.h"
#include "run/round_stats.h"
#include "run/run_events.h"
#include "server/round_strategy.h"

namespace fedsilo::cross_silo {

// What an exchange uses of the engine, for the whole run.
struct RoundContext {
  const Args& args;
  Clock& clock;
  comm::ObjectStore& store;
  RunObserver& events;  // the run's event stream
  std::shared_ptr<spdlog::logger> log;
  StateDict layout;                              // the model's names, dtypes and shapes
  const std::set<int64_t>& online;               // silos whose last word was not their will
  const std::map<int64_t, int64_t>& data_sizes;  // data silo index -> samples, when known
  std::function<void(int64_t silo)> request;     // the round's request: global model and payload
  std::function<void(comm::MsgType type, int64_t silo, nlohmann::json sa)> send;
  std::function<void(int64_t silo)> ask_status;           // CHECK_CLIENT_STATUS
  std::function<void(const std::string& key)> keep_blob;  // retired with the round's blobs

  double ms_since(Clock::time_point t) const;
  // Silos that have answered wait 2 x round_timeout_s for the server's next word: those online
  // and not in `awaited` hear that the round goes on.
  void keep_waiting(const std::set<int64_t>& awaited) const;
  // A silo's sample count within train_args.max_samples_per_silo and its data silo's size.
  void check_sample_count(int64_t data_silo_index, int64_t num_samples) const;
};

// One round as the engine started it.
struct RoundPlan {
  int64_t round = 0;
  std::vector<int64_t> silos;             // taking part
  std::map<int64_t, int64_t> data_index;  // silo -> data silo index
  int64_t global_bytes = 0;               // the global model's blob
  RoundStats* stats = nullptr;            // filled in as the round goes
};

class RoundExchange {
 public:
  enum class State { kOpen, kComplete, kFailed };
  virtual ~RoundExchange() = default;

  // The silos of the round among those selected (an exchange that fixes its participants at
  // the start leaves out the offline ones, noting why in `stats`).
  virtual std::vector<int64_t> participants(const std::vector<int64_t>& selected,
                                            RoundStats& stats) const = 0;
  // A new round; the engine then sends the online silos their requests.
  virtual void begin(const RoundPlan& plan) = 0;
  // The requests are out: a round with nothing to wait for may complete at once.
  virtual void opened() = 0;

  // What concerns the round: a silo's update and the exchange's own messages, anything else
  // heard from a silo (progress), a silo's will.
  virtual void on_message(const comm::Message& m) = 0;
  virtual void heard(const comm::Message& m) = 0;
  virtual void on_offline(int64_t silo) = 0;
  virtual void on_deadline() = 0;
  // Asks the silos it waits for again (only_quiet: those that reported no progress lately).
  virtual void resend(bool only_quiet) = 0;

  virtual State state() const = 0;
  virtual const std::string& failure() const = 0;  // kFailed: why (the run ends)
  // Silos whose contribution the round still awaits (its request must reach them), and those
  // awaited in the current step.
  virtual bool awaits(int64_t silo) const = 0;
  virtual const std::set<int64_t>& pending() const = 0;
  virtual std::string waiting_for() const = 0;
  virtual Clock::time_point deadline() const = 0;

  // kComplete: the round's aggregate (nullopt when there is none; the exchange logged why) and
  // the figures that go with it.
  struct Outcome {
    std::optional<StateDict> model;
    std::map<std::string, double> metrics;
    int64_t bytes_in = 0;  // silo blobs read this round
  };
  virtual Outcome outcome() = 0;
};

// Secure aggregation's exchange when args.enable_sa, else plain uploads into `strategy`.
std::unique_ptr<RoundExchange> make_round_exchange(const RoundContext& ctx,
                                                   RoundStrategy& strategy);

// The log lines of a round that ends without an update to aggregate, and of a silo's will.
void log_no_update(spdlog::logger& log, int64_t round);
void log_offline(spdlog::logger& log, int64_t silo, bool awaited, int64_t round);

}  // namespace fedsilo::cross_silo

#pragma once
// What a round's algorithm does at the server, apart from how messages move (Flower's Strategy:
// configure, then aggregate): the round starts from the global model, each selected silo may get
// a payload besides it (SCAFFOLD's correction), the silos' updates stream into a sink as they
// arrive, and the round's outcome becomes the next global model and its figures.
//
// Two sinks: plain FedAvg folds from spool files on disk in memory that does not grow with the
// model count (update_spool.h); every other rule (an Aggregator from the registry, or the
// caller's own) takes whole models in memory, one at a time.
#include <map>
#include <memory>
#include <string>

#include "comm/object_store.h"
#include "core/blob_ref.h"
#include "fedsilo/aggregator.h"
#include "fedsilo/args.h"
#include "fedsilo/state_dict.h"

namespace fedsilo::cross_silo {

class RoundStrategy {
 public:
  virtual ~RoundStrategy() = default;

  // configure: a new round whose silos train from `global` (its layout fixes every update's).
  virtual void begin_round(const StateDict& global) = 0;
  // What the silo training `data_silo_index` gets besides the global model; empty for none.
  virtual StateDict payload_for(int64_t data_silo_index) const = 0;

  // The sink. receive() reads silo `silo`'s blob, verified against `ref` and the layout (throws
  // as get_model does, keeping nothing) and returns why its values cannot be taken (NaN or
  // infinity; empty when they can). The caller then accept()s or discard()s it.
  virtual std::string receive(comm::ObjectStore& store, const BlobRef& ref, int64_t silo,
                              const std::string& what) = 0;
  virtual void accept(int64_t silo, double weight, const UpdateInfo& info) = 0;
  virtual void discard(int64_t silo) = 0;
  virtual double total_weight() const = 0;

  // aggregate: the next global model (precondition: total_weight() > 0) and the round's figures.
  virtual StateDict aggregate() = 0;
  virtual std::map<std::string, double> round_metrics() const = 0;

  // What the rule carries between rounds, for the server's checkpoint.
  virtual StateDict saved_state() const = 0;
  virtual void restore_state(const StateDict& state) = 0;
};

// The strategy for a run: `aggregator` (a registry rule or the caller's own) in memory, or the
// disk spool when it is plain FedAvg. Spool files go in <run output>/spool.
std::unique_ptr<RoundStrategy> make_round_strategy(const Args& args,
                                                   std::unique_ptr<Aggregator> aggregator);

}  // namespace fedsilo::cross_silo

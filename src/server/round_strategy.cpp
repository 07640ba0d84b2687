#include "server/round_strategy.h"

#include <typeinfo>

#include "fedsilo/error.h"
#include "ml/model_blob.h"
#include "protocol/model_exchange.h"
#include "server/update_spool.h"

namespace fedsilo::cross_silo {
namespace {

// Plain FedAvg over the disk spool: the same bits as FedAvgAggregator, in bounded memory.
class SpoolStrategy : public RoundStrategy {
 public:
  explicit SpoolStrategy(std::string dir) : spool_(std::move(dir)) {}

  void begin_round(const StateDict& global) override { spool_.reset(layout_of(global)); }
  StateDict payload_for(int64_t) const override { return {}; }
  std::string receive(comm::ObjectStore& store, const BlobRef& ref, int64_t silo,
                      const std::string& what) override {
    auto bad = spool_.receive(store, ref, silo, what);
    return bad.empty() ? "" : what + ": tensor " + bad + " has NaN or infinite values";
  }
  void accept(int64_t silo, double weight, const UpdateInfo&) override {
    spool_.accept(silo, weight);
  }
  void discard(int64_t silo) override { spool_.discard(silo); }
  double total_weight() const override { return spool_.total_weight(); }
  StateDict aggregate() override { return spool_.report(); }
  std::map<std::string, double> round_metrics() const override { return {}; }
  StateDict saved_state() const override { return {}; }
  void restore_state(const StateDict&) override {}

 private:
  UpdateSpool spool_;
};

// Any Aggregator: each update is read whole, then folded when the server accepts it.
class AggregatorStrategy : public RoundStrategy {
 public:
  explicit AggregatorStrategy(std::unique_ptr<Aggregator> aggregator)
      : aggregator_(std::move(aggregator)) {}

  void begin_round(const StateDict& global) override {
    layout_ = layout_of(global);
    received_.clear();
    aggregator_->reset(global);
  }
  StateDict payload_for(int64_t data_silo_index) const override {
    return aggregator_->correction_for(data_silo_index);
  }
  std::string receive(comm::ObjectStore& store, const BlobRef& ref, int64_t silo,
                      const std::string& what) override {
    auto model = get_model(store, ref, layout_, what);
    try {
      check_finite(model, what);
    } catch (const ProtocolError& e) {
      return e.what();
    }
    received_[silo] = std::move(model);
    return "";
  }
  void accept(int64_t silo, double weight, const UpdateInfo& info) override {
    auto it = received_.find(silo);
    if (it == received_.end()) throw Error("accept: no update received from this silo");
    aggregator_->accumulate_update(it->second, weight, info);
    received_.erase(it);
  }
  void discard(int64_t silo) override { received_.erase(silo); }
  double total_weight() const override { return aggregator_->total_weight(); }
  StateDict aggregate() override { return aggregator_->report(); }
  std::map<std::string, double> round_metrics() const override {
    return aggregator_->round_metrics();
  }
  StateDict saved_state() const override { return aggregator_->saved_state(); }
  void restore_state(const StateDict& state) override { aggregator_->restore_state(state); }

 private:
  std::unique_ptr<Aggregator> aggregator_;
  StateDict layout_;
  std::map<int64_t, StateDict> received_;
};

}  // namespace

std::unique_ptr<RoundStrategy> make_round_strategy(const Args& args,
                                                   std::unique_ptr<Aggregator> aggregator) {
  // Only the exact weighted mean folds from disk: a subclass may change what it computes.
  if (typeid(*aggregator) == typeid(FedAvgAggregator))
    return std::make_unique<SpoolStrategy>(args.run_output_dir() + "/spool");
  return std::make_unique<AggregatorStrategy>(std::move(aggregator));
}

}  // namespace fedsilo::cross_silo

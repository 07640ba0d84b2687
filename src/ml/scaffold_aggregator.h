#pragma once
// SCAFFOLD (Karimireddy et al., "SCAFFOLD: Stochastic Controlled Averaging for Federated
// Learning", ICML 2020, Algorithm 1 with option II), server side. The server keeps the global
// control variate c and every data silo's c_i, so silos stay stateless: a silo may train a
// different data silo each round (client_num_in_total > silos), and a restarted silo loses
// nothing. Each request carries c - c_i (correction_for), the silo adds it to every step's
// gradient, and from the silo's model y_i and its local step count K the server computes option
// II's c_i+ = c_i - c + (x - y_i) / (K lr) itself. At the round's end
// x <- x + server_lr (mean_S(y_i) - x) (the weighted mean, FedAvg's, when server_lr is 1) and
// c <- c + (1/N) sum_S (c_i+ - c_i), N = client_num_in_total.
#include <cstdint>
#include <map>

#include "fedsilo/aggregator.h"

namespace fedsilo {

class ScaffoldAggregator : public Aggregator {
 public:
  explicit ScaffoldAggregator(const Args& args);
  void reset(const StateDict& global) override;
  // Without a local step count and a data silo the control variates cannot move: refused.
  void accumulate(const StateDict& model, double weight) override;
  void accumulate_update(const StateDict& model, double weight, const UpdateInfo& info) override;
  void merge(const Aggregator& other) override;
  double total_weight() const override { return mean_.total_weight(); }
  StateDict report() override;
  StateDict correction_for(int64_t data_silo_index) const override;
  // "scaffold.c" and one "scaffold.c_<i>" per data silo trained so far (flat float32).
  StateDict saved_state() const override;
  void restore_state(const StateDict& state) override;
  std::map<std::string, double> round_metrics() const override { return metrics_; }

 private:
  torch::Tensor flat(const StateDict& state) const;  // float64, every coordinate
  torch::Tensor control_of(int64_t data_silo_index) const;

  double lr_;           // the silos' learning rate (option II divides by K lr)
  double server_lr_;    // eta_g
  int64_t n_silos_;     // N: data silos in all
  StateDict layout_;    // the round's global model: names, dtypes, shapes
  torch::Tensor x_;     // the round's global model, flat float64
  torch::Tensor mask_;  // float64 1 on floating-point coordinates, 0 on integer buffers
  torch::Tensor c_;     // flat float32
  std::map<int64_t, torch::Tensor> c_i_;      // flat float32, per data silo
  std::map<int64_t, torch::Tensor> updated_;  // this round's c_i+
  FedAvgAggregator mean_;
  std::map<std::string, double> metrics_;
};

}  // namespace fedsilo

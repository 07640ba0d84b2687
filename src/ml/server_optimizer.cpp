#include "ml/server_optimizer.h"

#include <torch/torch.h>

#include <cmath>

#include "fedsilo/error.h"

namespace fedsilo {
namespace {

torch::Tensor to_tensor(const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); }

std::vector<double> from_tensor(const StateDict& state, const std::string& name) {
  for (const auto& [k, t] : state) {
    if (k != name) continue;
    auto c = t.to(torch::kFloat64).contiguous();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  }
  return {};
}

}  // namespace

ServerOptimizer::ServerOptimizer(const Args& a)
    : kind_(a.server_optimizer),
      lr_(a.server_lr),
      momentum_(a.server_momentum),
      beta1_(a.server_beta1),
      beta2_(a.server_beta2),
      tau_(a.server_epsilon) {}

bool ServerOptimizer::is_identity() const {
  return kind_ == "sgd" && lr_ == 1.0 && momentum_ == 0.0;
}

void ServerOptimizer::step(const std::vector<double>& x, std::vector<double>& avg,
                           const std::vector<bool>& mask) {
  ++steps_;
  // Exactly FedAvg, not x - (x - avg), which can differ from avg in the last bit.
  if (is_identity()) return;
  size_t n = x.size();
  for (const auto* state : {&m_, &v_}) {
    if (!state->empty() && state->size() != n)
      throw ConfigError("the server optimizer's saved state has " + std::to_string(state->size()) +
                        " values, the model " + std::to_string(n) +
                        " (a checkpoint of another model?)");
  }
  if (m_.empty()) m_.assign(n, 0.0);
  if (kind_ == "sgd") {
    // torch.optim.SGD's momentum: the buffer starts as the first gradient.
    for (size_t i = 0; i < n; ++i) {
      if (!mask[i]) continue;
      double d = x[i] - avg[i];
      double g = d;
      if (momentum_ > 0) {
        m_[i] = steps_ == 1 ? d : momentum_ * m_[i] + d;
        g = m_[i];
      }
      avg[i] = x[i] - lr_ * g;
    }
    return;
  }
  if (v_.empty()) v_.assign(n, tau_ * tau_);  // v_{-1} >= tau^2 (Reddi et al.)
  for (size_t i = 0; i < n; ++i) {
    if (!mask[i]) continue;
    double delta = avg[i] - x[i];  // minus the pseudo-gradient
    double d2 = delta * delta;
    m_[i] = beta1_ * m_[i] + (1 - beta1_) * delta;
    if (kind_ == "adagrad") {
      v_[i] += d2;
    } else if (kind_ == "adam") {
      v_[i] = beta2_ * v_[i] + (1 - beta2_) * d2;
    } else {  // yogi
      double s = v_[i] > d2 ? 1.0 : (v_[i] < d2 ? -1.0 : 0.0);
      v_[i] = v_[i] - (1 - beta2_) * d2 * s;
    }
    avg[i] = x[i] + lr_ * m_[i] / (std::sqrt(v_[i]) + tau_);
  }
}

StateDict ServerOptimizer::saved_state() const {
  StateDict s;
  if (!m_.empty()) s.emplace_back("server_optimizer.m", to_tensor(m_));
  if (!v_.empty()) s.emplace_back("server_optimizer.v", to_tensor(v_));
  s.emplace_back("server_optimizer.steps", torch::tensor({steps_}, torch::kInt64));
  return s;
}

void ServerOptimizer::restore_state(const StateDict& state) {
  m_ = from_tensor(state, "server_optimizer.m");
  v_ = from_tensor(state, "server_optimizer.v");
  for (const auto& [k, t] : state) {
    if (k == "server_optimizer.steps") steps_ = t.to(torch::kInt64).item<int64_t>();
  }
}

}  // namespace fedsilo

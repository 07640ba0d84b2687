#include "ml/scaffold_aggregator.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include "fedsilo/error.h"

namespace fedsilo {
namespace {
constexpr const char* kGlobalName = "scaffold.c";
constexpr const char* kSiloPrefix = "scaffold.c_";
}  // namespace

ScaffoldAggregator::ScaffoldAggregator(const Args& args)
    : lr_(args.learning_rate), server_lr_(args.server_lr), n_silos_(args.client_num_in_total) {
  if (!(lr_ > 0)) throw ConfigError("SCAFFOLD needs train_args.learning_rate > 0");
  if (n_silos_ < 1) throw ConfigError("SCAFFOLD needs train_args.client_num_in_total >= 1");
}

torch::Tensor ScaffoldAggregator::flat(const StateDict& state) const {
  std::vector<torch::Tensor> parts;
  for (const auto& [name, t] : state)
    parts.push_back(t.detach().to(torch::kCPU).to(torch::kFloat64).reshape(-1));
  return parts.empty() ? torch::zeros({0}, torch::kFloat64) : torch::cat(parts);
}

void ScaffoldAggregator::reset(const StateDict& global) {
  layout_ = layout_of(global);
  x_ = flat(global);
  std::vector<torch::Tensor> mask;
  for (const auto& [name, t] : global) {
    mask.push_back(torch::full({t.numel()}, c10::isFloatingType(t.scalar_type()) ? 1.0 : 0.0,
                               torch::kFloat64));
  }
  mask_ = mask.empty() ? torch::zeros({0}, torch::kFloat64) : torch::cat(mask);
  if (!c_.defined()) c_ = torch::zeros({x_.numel()}, torch::kFloat32);
  if (c_.numel() != x_.numel()) {
    throw ConfigError(fmt::format(
        "SCAFFOLD: the saved control variate has {} values, the model has {}; the checkpoint "
        "belongs to another model",
        c_.numel(), x_.numel()));
  }
  updated_.clear();
  mean_.reset(global);
  metrics_.clear();
}

void ScaffoldAggregator::accumulate(const StateDict& /*model*/, double /*weight*/) {
  throw Error(
      "SCAFFOLD needs each update's data silo and local step count (accumulate_update), not "
      "just its weight");
}

torch::Tensor ScaffoldAggregator::control_of(int64_t data_silo_index) const {
  auto it = c_i_.find(data_silo_index);
  return it == c_i_.end() ? torch::zeros({x_.numel()}, torch::kFloat32) : it->second;
}

void ScaffoldAggregator::accumulate_update(const StateDict& model, double weight,
                                           const UpdateInfo& info) {
  if (info.data_silo_index < 0)
    throw Error("SCAFFOLD needs the data silo each update was trained on");
  mean_.accumulate(model, weight);
  if (info.local_steps <= 0) return;  // it trained nothing: its control variate stays
  // Option II: c_i+ = c_i - c + (x - y_i) / (K lr), on floating-point coordinates.
  auto y = flat(model);
  auto step = (x_ - y) / (static_cast<double>(info.local_steps) * lr_);
  auto updated =
      control_of(info.data_silo_index).to(torch::kFloat64) - c_.to(torch::kFloat64) + step;
  updated_[info.data_silo_index] = (updated * mask_).to(torch::kFloat32);
}

void ScaffoldAggregator::merge(const Aggregator& other) {
  const auto* o = dynamic_cast<const ScaffoldAggregator*>(&other);
  if (!o) throw Error("SCAFFOLD: can only merge another ScaffoldAggregator");
  mean_.merge(o->mean_);
  for (const auto& [j, c] : o->updated_) updated_[j] = c;
}

StateDict ScaffoldAggregator::report() {
  auto result = mean_.report();
  if (server_lr_ != 1.0) {
    // x + eta_g (mean - x) on floating-point tensors; integer buffers keep the mean.
    int64_t offset = 0;
    for (auto& [name, t] : result) {
      int64_t n = t.numel();
      if (c10::isFloatingType(t.scalar_type())) {
        auto x = x_.narrow(0, offset, n).reshape(t.sizes());
        auto stepped = x + server_lr_ * (t.to(torch::kFloat64) - x);
        t = stepped.to(t.scalar_type());
      }
      offset += n;
    }
  }
  // c <- c + (1/N) sum over this round's data silos of (c_i+ - c_i), in data silo order so the
  // sum does not depend on the order updates arrived in.
  auto delta = torch::zeros({x_.numel()}, torch::kFloat64);
  for (const auto& [j, c] : updated_)
    delta += c.to(torch::kFloat64) - control_of(j).to(torch::kFloat64);
  c_ = (c_.to(torch::kFloat64) + delta / static_cast<double>(n_silos_)).to(torch::kFloat32);
  for (auto& [j, c] : updated_) c_i_[j] = c;
  metrics_ = {{"scaffold_controls_updated", static_cast<double>(updated_.size())},
              {"scaffold_control_norm", c_.norm().item<double>()}};
  updated_.clear();
  return result;
}

StateDict ScaffoldAggregator::correction_for(int64_t data_silo_index) const {
  if (layout_.empty()) throw Error("SCAFFOLD: correction_for before the round's reset");
  auto diff = c_.to(torch::kFloat64) - control_of(data_silo_index).to(torch::kFloat64);
  StateDict out;
  int64_t offset = 0;
  for (const auto& [name, t] : layout_) {
    int64_t n = t.numel();
    auto part = diff.narrow(0, offset, n).reshape(t.sizes());
    if (!c10::isFloatingType(t.scalar_type())) part = torch::zeros_like(part);
    out.emplace_back(name, part.to(t.scalar_type()).contiguous());
    offset += n;
  }
  return out;
}

StateDict ScaffoldAggregator::saved_state() const {
  StateDict s;
  if (c_.defined()) s.emplace_back(kGlobalName, c_);
  for (const auto& [j, c] : c_i_) s.emplace_back(kSiloPrefix + std::to_string(j), c);
  return s;
}

void ScaffoldAggregator::restore_state(const StateDict& state) {
  torch::Tensor c;
  std::map<int64_t, torch::Tensor> c_i;
  for (const auto& [name, t] : state) {
    if (t.scalar_type() != torch::kFloat32 || t.dim() != 1)
      throw ConfigError("SCAFFOLD state: " + name + " is not a flat float32 tensor");
    if (name == kGlobalName) {
      c = t.clone();
      continue;
    }
    std::string prefix = kSiloPrefix;
    size_t used = 0;
    int64_t j = -1;
    try {
      if (name.rfind(prefix, 0) == 0) j = std::stoll(name.substr(prefix.size()), &used);
    } catch (const std::exception&) {
      j = -1;
    }
    if (j < 0 || j >= n_silos_ || used != name.size() - prefix.size())
      throw ConfigError("SCAFFOLD state: unexpected entry " + name);
    c_i[j] = t.clone();
  }
  if (!c.defined() && !c_i.empty())
    throw ConfigError("SCAFFOLD state: data silos' control variates without the global one");
  for (const auto& [j, t] : c_i) {
    if (t.numel() != c.numel())
      throw ConfigError(
          fmt::format("SCAFFOLD state: c_{} has {} values, c has {}", j, t.numel(), c.numel()));
  }
  c_ = c;
  c_i_ = std::move(c_i);
}

}  // namespace fedsilo

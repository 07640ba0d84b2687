// FlatModel (fedsilo/aggregation_rule.h): a round's model as one float64 vector.
#include <torch/torch.h>

#include "fedsilo/aggregation_rule.h"

namespace fedsilo {
namespace {

// A value as the model's dtype holds it: clipped updates are rounded like a silo's own
// float32 model, which keeps float64 sums of weight * value exact and order-independent.
double as_dtype(double v, torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32:
      return static_cast<float>(v);
    case torch::kFloat64:
      return v;
    default:
      return torch::tensor(v, torch::kFloat64).to(t).to(torch::kFloat64).item<double>();
  }
}

}  // namespace

FlatModel::FlatModel(const StateDict& global) {
  offsets_.assign(1, 0);
  for (const auto& [name, t] : global) {
    layout_.emplace_back(name, torch::empty(t.sizes(), t.options().device(torch::kCPU)));
    offsets_.push_back(offsets_.back() + static_cast<size_t>(t.numel()));
  }
  floating_.assign(offsets_.back(), false);
  for (size_t k = 0; k < layout_.size(); ++k) {
    bool f = c10::isFloatingType(layout_[k].second.scalar_type());
    std::fill(floating_.begin() + offsets_[k], floating_.begin() + offsets_[k + 1], f);
  }
  global_ = flatten(global);
}

std::vector<double> FlatModel::flatten(const StateDict& model) const {
  check_same_layout(layout_, model, "aggregator input");
  std::vector<double> x(offsets_.back());
  for (size_t k = 0; k < model.size(); ++k) {
    auto t = model[k].second.detach().to(torch::kCPU).to(torch::kFloat64).contiguous();
    std::copy(t.data_ptr<double>(), t.data_ptr<double>() + t.numel(), x.begin() + offsets_[k]);
  }
  return x;
}

StateDict FlatModel::unflatten(const std::vector<double>& x) const {
  StateDict out;
  for (size_t k = 0; k < layout_.size(); ++k) {
    const auto& like = layout_[k].second;
    auto t =
        torch::from_blob(const_cast<double*>(x.data()) + offsets_[k], like.sizes(), torch::kFloat64)
            .clone();
    if (c10::isIntegralType(like.scalar_type(), /*includeBool=*/true)) t = t.round();
    out.emplace_back(layout_[k].first, t.to(like.scalar_type()));
  }
  return out;
}

void FlatModel::round_to_dtypes(std::vector<double>& x) const {
  for (size_t k = 0; k < layout_.size(); ++k) {
    auto type = layout_[k].second.scalar_type();
    if (!c10::isFloatingType(type)) continue;
    for (size_t i = offsets_[k]; i < offsets_[k + 1]; ++i) x[i] = as_dtype(x[i], type);
  }
}

}  // namespace fedsilo

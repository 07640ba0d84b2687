#include <torch/torch.h>

#include "fedsilo/aggregator.h"
#include "fedsilo/error.h"

namespace fedsilo {
namespace {

template <typename T>
void fold(double* __restrict acc, const T* __restrict src, int64_t n, double w) {
  for (int64_t i = 0; i < n; ++i) acc[i] += w * static_cast<double>(src[i]);
}

}  // namespace

void FedAvgAggregator::reset(const StateDict& like) {
  layout_.clear();
  sums_.resize(like.size());
  for (size_t i = 0; i < like.size(); ++i) {
    const auto& t = like[i].second;
    layout_.emplace_back(like[i].first, torch::empty(t.sizes(), t.options().device(torch::kCPU)));
    sums_[i].assign(t.numel(), 0.0);
  }
  total_ = 0;
}

void FedAvgAggregator::accumulate(const StateDict& model, double weight) {
  if (!(weight >= 0)) throw Error("FedAvg: weight must be >= 0");
  check_same_layout(layout_, model, "FedAvg input");
  for (size_t i = 0; i < model.size(); ++i) {
    auto t = model[i].second.detach().to(torch::kCPU).contiguous();
    double* acc = sums_[i].data();
    int64_t n = t.numel();
    switch (t.scalar_type()) {
      case torch::kFloat32:
        fold(acc, t.data_ptr<float>(), n, weight);
        break;
      case torch::kFloat64:
        fold(acc, t.data_ptr<double>(), n, weight);
        break;
      case torch::kInt64:
        fold(acc, t.data_ptr<int64_t>(), n, weight);
        break;
      default: {
        auto d = t.to(torch::kFloat64);
        fold(acc, d.data_ptr<double>(), n, weight);
      }
    }
  }
  total_ += weight;
}

void FedAvgAggregator::merge(const Aggregator& other) {
  const auto* o = dynamic_cast<const FedAvgAggregator*>(&other);
  if (!o) throw Error("FedAvg: can only merge another FedAvgAggregator");
  check_same_layout(layout_, o->layout_, "FedAvg merge");
  for (size_t i = 0; i < sums_.size(); ++i) {
    for (size_t j = 0; j < sums_[i].size(); ++j) sums_[i][j] += o->sums_[i][j];
  }
  total_ += o->total_;
}

StateDict FedAvgAggregator::report() {
  if (!(total_ > 0)) throw Error("FedAvg: no weight accumulated (every silo reported 0 samples)");
  StateDict out;
  for (size_t i = 0; i < layout_.size(); ++i) {
    const auto& like = layout_[i].second;
    auto mean = torch::empty(like.sizes(), torch::kFloat64);
    double* m = mean.data_ptr<double>();
    const double* s = sums_[i].data();
    for (int64_t j = 0; j < mean.numel(); ++j) m[j] = s[j] / total_;
    if (c10::isIntegralType(like.scalar_type(), /*includeBool=*/true)) mean = mean.round();
    out.emplace_back(layout_[i].first, mean.to(like.scalar_type()));
  }
  return out;
}

}  // namespace fedsilo

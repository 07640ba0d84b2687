#include "fedsilo/dataset.h"
#include "fedsilo/error.h"

namespace fedsilo::data {

std::vector<std::vector<torch::Tensor>> split_for_dist_trainers(const torch::Tensor& order,
                                                                int64_t batch_size, int64_t n) {
  if (batch_size < 1 || n < 1) {
    throw Error("split_for_dist_trainers: batch_size and trainer count must be >= 1");
  }
  int64_t total = order.size(0);
  int64_t step = batch_size * n;
  int64_t steps = (total + step - 1) / step;
  std::vector<std::vector<torch::Tensor>> out(n);
  for (auto& t : out) t.reserve(steps);
  for (int64_t s = 0; s < steps; ++s) {
    int64_t begin = s * step;
    int64_t len = std::min(step, total - begin);
    // A full step gives every trainer batch_size samples; a short last step is spread evenly.
    int64_t base = len / n, extra = len % n, pos = begin;
    for (int64_t t = 0; t < n; ++t) {
      int64_t take = len == step ? batch_size : base + (t < extra ? 1 : 0);
      out[t].push_back(order.slice(0, pos, pos + take));
      pos += take;
    }
  }
  return out;
}

torch::Tensor to_model_input(const torch::Tensor& x) {
  if (x.scalar_type() == torch::kUInt8) return x.to(torch::kFloat32).div_(255.0);
  return x;
}

}  // namespace fedsilo::data

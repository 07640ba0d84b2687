#include "silo/ddp_gradient_sync.h"

#include <torch/torch.h>

#include <chrono>

namespace fedsilo::silo {

DdpGradientSync::DdpGradientSync(SiloGroup& group, int64_t bucket_bytes)
    : group_(group), bucket_bytes_(bucket_bytes) {}

int64_t DdpGradientSync::sync(torch::nn::Module& module, int64_t local_samples) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (auto& p : module.parameters()) {
    if (!p.requires_grad()) continue;
    // A trainer with an empty batch has no gradients yet; it still contributes zeros.
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  // Buckets of consecutive gradients; the sample count goes last, in the gradients' dtype
  // (float32 counts are exact up to 2^24 samples per step, far beyond any batch).
  std::vector<std::vector<size_t>> members(1);
  int64_t bytes = 0;
  for (size_t i = 0; i < grads.size(); ++i) {
    int64_t b = grads[i].numel() * grads[i].element_size();
    if (bytes > 0 && bytes + b > bucket_bytes_) {
      members.emplace_back();
      bytes = 0;
    }
    members.back().push_back(i);
    bytes += b;
  }
  std::vector<torch::Tensor> buckets;
  for (size_t k = 0; k < members.size(); ++k) {
    std::vector<torch::Tensor> parts;
    for (size_t i : members[k]) parts.push_back(grads[i].reshape({-1}));
    if (k + 1 == members.size()) {
      parts.push_back(torch::full({1}, static_cast<double>(local_samples), grads.back().options()));
    }
    buckets.push_back(torch::cat(parts));
  }
  auto t0 = std::chrono::steady_clock::now();
  group_.allreduce_sum(buckets);
  allreduce_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++steps_;
  int64_t total = std::llround(buckets.back()[-1].item<double>());

  if (total == 0) return 0;
  for (size_t k = 0; k < members.size(); ++k) {
    int64_t off = 0;
    for (size_t i : members[k]) {
      int64_t n = grads[i].numel();
      grads[i].copy_(
          buckets[k].slice(0, off, off + n).div(static_cast<double>(total)).view(grads[i].sizes()));
      off += n;
    }
  }
  return total;
}

}  // namespace fedsilo::silo

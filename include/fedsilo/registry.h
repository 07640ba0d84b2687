#pragma once
// Components chosen by a config key, by name (docs/architecture.md, "Extending fedsilo").
// simulate, the distributed mode and the five-line API all look up the same registries, so a
// component registered once is available everywhere:
//
//   fedsilo::registry::models().add("mlp", [](const Args& a, int64_t out, int64_t in) {...});
//
// The registries themselves are declared beside what they hold: registry::models() in model.h,
// registry::aggregators() in aggregator.h, registry::trainers() and client_optimizers() in
// trainer.h. Register before fedsilo::init(), which checks the config's names against them.
// They are process-wide and thread-safe.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fedsilo/error.h"

namespace fedsilo {

template <typename Factory>
class Registry {
 public:
  // `key` is the config key that chooses among the entries, for error messages.
  explicit Registry(std::string key) : key_(std::move(key)) {}

  // Adds or replaces `name`.
  void add(const std::string& name, Factory factory) {
    std::lock_guard<std::mutex> lock(mu_);
    entries_[name] = std::move(factory);
  }
  bool contains(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.count(name) > 0;
  }
  // Throws ConfigError naming the key, the value and the registered names.
  Factory get(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      std::string known;
      for (const auto& [n, f] : entries_) known += (known.empty() ? "" : ", ") + n;
      throw ConfigError("config " + key_ + " = " + name + ": must be one of: " + known);
    }
    return it->second;
  }
  std::vector<std::string> names() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [n, f] : entries_) out.push_back(n);
    return out;
  }
  const std::string& key() const { return key_; }

 private:
  std::string key_;
  mutable std::mutex mu_;
  std::map<std::string, Factory> entries_;
};

}  // namespace fedsilo

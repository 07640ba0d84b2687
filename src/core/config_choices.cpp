#include "core/config_choices.h"

#include <map>
#include <mutex>

namespace fedsilo {
namespace {

std::mutex& mu() {
  static std::mutex m;
  return m;
}
std::map<std::string, std::function<std::vector<std::string>()>>& table() {
  static std::map<std::string, std::function<std::vector<std::string>()>> t;
  return t;
}

}  // namespace

void register_config_choices(const std::string& key,
                             std::function<std::vector<std::string>()> names) {
  std::lock_guard<std::mutex> lock(mu());
  table()[key] = std::move(names);
}

std::optional<std::vector<std::string>> config_choices(const std::string& key) {
  std::function<std::vector<std::string>()> f;
  {
    std::lock_guard<std::mutex> lock(mu());
    auto it = table().find(key);
    if (it == table().end()) return std::nullopt;
    f = it->second;
  }
  return f();
}

}  // namespace fedsilo

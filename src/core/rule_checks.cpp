#include "core/rule_checks.h"

#include <map>
#include <mutex>

namespace fedsilo {
namespace {

struct Checks {
  std::mutex mu;
  std::map<std::string, std::function<void(const Args&)>> by_rule;
  std::map<std::string, std::function<void(const Args&)>> by_owner;
};

Checks& checks() {
  static Checks* c = new Checks;  // registered from static initialisers of other files
  return *c;
}

}  // namespace

void register_rule_check(const std::string& rule, std::function<void(const Args&)> check) {
  auto& c = checks();
  std::lock_guard<std::mutex> lock(c.mu);
  c.by_rule[rule] = std::move(check);
}

RuleCheck run_rule_check(const Args& a) {
  std::function<void(const Args&)> check;
  {
    auto& c = checks();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.by_rule.empty()) return RuleCheck::kNoRegistry;
    auto it = c.by_rule.find(a.federated_optimizer);
    if (it == c.by_rule.end()) return RuleCheck::kNone;
    check = it->second;
  }
  check(a);
  return RuleCheck::kChecked;
}

void register_config_check(const std::string& owner, std::function<void(const Args&)> check) {
  auto& c = checks();
  std::lock_guard<std::mutex> lock(c.mu);
  c.by_owner[owner] = std::move(check);
}

void run_config_checks(const Args& a) {
  std::map<std::string, std::function<void(const Args&)>> all;
  {
    auto& c = checks();
    std::lock_guard<std::mutex> lock(c.mu);
    all = c.by_owner;
  }
  for (const auto& [owner, check] : all) check(a);
}

}  // namespace fedsilo

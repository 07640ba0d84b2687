#pragma once
// Config checks that belong to one train_args.federated_optimizer (which keys it takes, what it
// cannot run with). The layer that owns the rules registers them, next to the rules themselves
// (ml's component registry); the config's cross-key checks run the chosen rule's. So a rule's
// name is compared only where the rule is registered.
#include <functional>
#include <string>

#include "fedsilo/args.h"

namespace fedsilo {

void register_rule_check(const std::string& rule, std::function<void(const Args&)> check);

enum class RuleCheck {
  kNoRegistry,  // no rule registered any check (a program without the ML layer: the lean tool)
  kNone,        // the chosen rule registered none: it takes FedAvg's keys, and no more
  kChecked,     // the chosen rule's check ran (and passed; it throws ConfigError otherwise)
};
RuleCheck run_rule_check(const Args& a);

// Checks a component owns whatever the rule (defense_args' keys, by the defenses): each runs on
// every config, and throws ConfigError naming what is wrong.
void register_config_check(const std::string& owner, std::function<void(const Args&)> check);
void run_config_checks(const Args& a);

}  // namespace fedsilo

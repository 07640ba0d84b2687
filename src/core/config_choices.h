#pragma once
// Config keys whose allowed values are the names in a registry owned by a higher layer
// (model_args.model, train_args.federated_optimizer, train_args.client_optimizer). The owner
// registers a function listing its names; the config schema asks it when it validates, so a
// component a user registers before loading the config is accepted like a built-in one.
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fedsilo {

void register_config_choices(const std::string& key,
                             std::function<std::vector<std::string>()> names);
// The allowed names for `key`, or nullopt when no owner registered any.
std::optional<std::vector<std::string>> config_choices(const std::string& key);

}  // namespace fedsilo

#pragma once
// Cross-key checks of a parsed config (docs/config.md).
#include <string>

#include "fedsilo/args.h"

namespace fedsilo {

// Throws ConfigError ("config: ...") naming the keys that conflict.
void check_consistency(const Args& a);

// For the rules' own checks (core/rule_checks.h): each throws ConfigError("config: ...").
[[noreturn]] void config_fail(const std::string& msg);
// Refuses any train_args.server_* key set to other than its default (with `server_lr_alone_ok`,
// server_lr alone passes: SCAFFOLD's global step size).
void refuse_server_keys(const Args& a, bool server_lr_alone_ok = false);
void refuse_fedprox_mu(const Args& a);          // fedprox_mu belongs to FedProx
void refuse_secure_aggregation(const Args& a);  // enable_sa with a rule SA cannot carry

// A silo's --rank must be one of train_args.client_id_list; throws ConfigError naming both.
void check_silo_rank(const Args& a);

}  // namespace fedsilo
